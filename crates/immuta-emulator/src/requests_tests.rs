//! The request-time log over real HTTP: what it records, its bound, and that it never
//! changes an answer.

use super::tests::{KEY, T};
use super::*;

const DATA: &str = "connectionKey: conn-1\nconnection:\n  handler: Snowflake\n  hostname: acct.snowflakecomputing.com\n  port: 443\n  database: DB\n  warehouse: WH\n  authenticationMethod: userPassword\n  username: svc\n  password: pw\nsources:\n  - table: orders\n    schema: public\n";

/// The same requests against `t`: (status, body) of each.
async fn exercise(t: &T) -> Vec<(u16, serde_json::Value)> {
    let mut out = vec![
        t.post("/api/v2/data?dryRun=true", DATA).await,
        t.post("/api/v2/data", DATA).await,
        t.call(reqwest::Method::GET, "/project/42", None).await,
        t.call(reqwest::Method::GET, "/no/such/7", None).await,
        t.call(reqwest::Method::GET, "/dataSource?size=5", None)
            .await,
    ];
    let unauth = reqwest::get(format!("{}/project", t.h.url()))
        .await
        .unwrap();
    out.push((unauth.status().as_u16(), unauth.json().await.unwrap()));
    let writes = reqwest::get(format!("{}/_emulator/writes", t.h.url()))
        .await
        .unwrap();
    out.push((writes.status().as_u16(), serde_json::Value::Null));
    out
}

#[tokio::test]
async fn records_every_api_request_on_arrival_with_its_route_template() {
    let t = T::new().await;
    exercise(&t).await;
    let log = t.h.requests();
    let seen: Vec<(&str, &str, bool)> = log
        .iter()
        .map(|r| (r.method.as_str(), r.route.as_str(), r.dry_run))
        .collect();
    assert_eq!(
        seen,
        [
            ("POST", "/api/v2/data", true),
            ("POST", "/api/v2/data", false),
            ("GET", "/project/{id}", false),
            ("GET", "/dataSource", false),
            // Unauthenticated: recorded (it arrived), answered 401 as before.
            ("GET", "/project", false),
        ],
        "/_emulator/* and unknown paths are not recorded"
    );
    assert!(log.windows(2).all(|w| w[0].millis <= w[1].millis));
    t.h.emulator.reset().unwrap();
    assert!(t.h.requests().is_empty(), "reset empties the log");
}

#[tokio::test]
async fn the_log_is_bounded_and_off_the_answer_path() {
    let on = T::with(Options {
        api_key: KEY.into(),
        request_log_capacity: 2,
        ..Default::default()
    })
    .await;
    let off = T::with(Options {
        api_key: KEY.into(),
        request_log_capacity: 0,
        ..Default::default()
    })
    .await;
    let (a, b) = (exercise(&on).await, exercise(&off).await);
    assert_eq!(a, b, "the same answers with the log on and off");
    let (kept, dropped) = on.h.emulator.request_log();
    assert_eq!(kept.len(), 2);
    assert_eq!(dropped, 3);
    assert_eq!(kept[1].route, "/project");
    assert_eq!(off.h.emulator.request_log(), (Vec::new(), 0));
}

#[tokio::test]
async fn requests_are_recorded_on_arrival_before_latency_and_faults() {
    let t = std::sync::Arc::new(
        T::with(Options {
            api_key: KEY.into(),
            throttle_rate: 1.0,
            latency: Duration::from_secs(2),
            ..Default::default()
        })
        .await,
    );
    let t2 = t.clone();
    let answer = tokio::spawn(async move { t2.post("/api/v2/data?dryRun=true", DATA).await.0 });
    // Poll (bounded) until the request is in the log: it is there while the 2 s latency
    // is still being slept, i.e. before any answer.
    let mut seen = Vec::new();
    for _ in 0..200 {
        seen = t.h.requests();
        if !seen.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    assert_eq!(seen.len(), 1, "recorded on arrival");
    assert!(seen[0].dry_run);
    assert!(!answer.is_finished(), "recorded before the answer");
    assert_eq!(answer.await.unwrap(), 429, "then faulted as before");
    assert!(
        t.h.emulator.write_log().is_empty(),
        "a faulted request never writes"
    );
}
