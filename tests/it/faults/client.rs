//! The client's retry policy against scripted answers: a delete or a post retried after
//! a dropped connection, final 4xx answers carrying Immuta's message, `Retry-After` up to
//! the configured cap, and the total time budget of one request.

use std::time::{Duration, Instant};

use immuta_gitops::apply::{self, Outcome};
use immuta_gitops::client::{Client, ClientConfig, RetryPolicy};
use immuta_gitops::manifest::DesiredSet;
use immuta_gitops::object::{Kind, ObjectKey};
use immuta_gitops::plan::{Action, Change, Plan};
use immuta_gitops::redact::Secret;
use serde_json::json;

use crate::common::*;

pub(super) fn client(url: &str, retry: RetryPolicy) -> Client {
    let mut cfg = ClientConfig::new(url, Secret::new(KEY));
    cfg.retry = retry;
    cfg.timeout = Duration::from_secs(5);
    Client::new(cfg).unwrap()
}

pub(super) fn quick() -> RetryPolicy {
    RetryPolicy {
        max_attempts: 5,
        base: Duration::from_millis(5),
        cap: Duration::from_millis(50),
        max_elapsed: Duration::from_secs(10),
    }
}

fn delete_plan(key: ObjectKey) -> Plan {
    Plan {
        origin: "test".into(),
        revision: "r".into(),
        changes: vec![Change {
            key,
            action: Action::Delete,
            fields: vec![],
            data: None,
            id: Some(7),
            note: None,
            moved_from: None,
        }],
        held: Vec::new(),
        scope: Default::default(),
    }
}

#[tokio::test]
async fn a_delete_retried_after_a_reset_that_landed_counts_as_done() {
    // The server performs the delete, then drops the connection; the retry finds nothing.
    let server = ScriptedServer::start(vec![
        Step::Drop,
        Step::Answer(
            404,
            vec![],
            r#"{"statusCode":404,"error":"Not Found","message":"Project not found"}"#.into(),
        ),
    ])
    .await;
    let c = client(&server.url, quick());
    for key in [
        ObjectKey::new(Kind::Project, "p"),
        ObjectKey::new(Kind::Policy, "q"),
    ] {
        let plan = delete_plan(key.clone());
        let report = apply::apply(&c, &plan, &DesiredSet::default(), &Default::default()).await;
        assert_eq!(report.results.len(), 1);
        assert!(
            matches!(report.results[0].outcome, Outcome::Applied { .. }),
            "{key}: {:?}",
            report.results[0]
        );
        assert!(report.is_success());
        assert_eq!(apply::deleted_keys(&report, &plan), [key].into());
    }
    let lines = server.lines();
    assert_eq!(lines.len(), 3, "{lines:?}");
    assert!(
        lines[0].starts_with("DELETE /api/v2/project/p "),
        "{lines:?}"
    );
    assert!(
        lines[1].starts_with("DELETE /api/v2/project/p "),
        "{lines:?}"
    );
    assert!(
        lines[2].starts_with("DELETE /policy/global/7 "),
        "{lines:?}"
    );
}

#[tokio::test]
async fn a_post_is_retried_after_a_dropped_connection() {
    let server = ScriptedServer::start(vec![
        Step::Drop,
        Step::Answer(503, vec![], r#"{"message":"busy"}"#.into()),
        Step::Answer(502, vec![], String::new()),
        Step::Answer(504, vec![], String::new()),
        Step::Answer(200, vec![], r#"{"purposeId":3}"#.into()),
    ])
    .await;
    let c = client(&server.url, quick());
    let key = ObjectKey::new(Kind::Purpose, "Research");
    let answer = c
        .upsert(&key, &json!({"name": "Research"}), false)
        .await
        .unwrap();
    assert_eq!(answer["purposeId"], 3);
    let lines = server.lines();
    assert_eq!(lines.len(), 5, "{lines:?}");
    assert!(lines
        .iter()
        .all(|l| l.starts_with("POST /api/v2/purpose?dryRun=false ")));
}

#[tokio::test]
async fn client_errors_are_final_and_carry_immutas_message() {
    for status in [400u16, 401, 403, 404, 409, 422] {
        let server = ScriptedServer::start(vec![Step::Answer(
            status,
            vec![],
            format!(r#"{{"statusCode":{status},"error":"x","message":"policyKey is invalid ({status})"}}"#),
        )])
        .await;
        let c = client(&server.url, quick());
        let err = c
            .upsert(&ObjectKey::new(Kind::Policy, "p"), &json!({}), false)
            .await
            .unwrap_err();
        assert_eq!(err.status(), Some(status));
        assert!(
            err.to_string().ends_with(&format!(
                "returned {status}: policyKey is invalid ({status})"
            )),
            "{err}"
        );
        assert_eq!(server.lines().len(), 1, "{status} must not be retried");
    }
    // 408 and 429 are the retried 4xx.
    for status in [408u16, 429] {
        let server = ScriptedServer::start(vec![
            Step::Answer(status, vec![], String::new()),
            Step::Answer(200, vec![], "{}".into()),
        ])
        .await;
        let c = client(&server.url, quick());
        c.upsert(&ObjectKey::new(Kind::Policy, "p"), &json!({}), false)
            .await
            .unwrap();
        assert_eq!(server.lines().len(), 2, "{status} must be retried");
    }
}

/// Lists policies from a server answering `script`, with [`quick`] retries capped at
/// `cap`; returns the time between the first request and the second.
async fn retry_gap(script: Vec<Step>, cap: Duration) -> Duration {
    let server = ScriptedServer::start(script).await;
    let mut p = quick();
    p.cap = cap;
    client(&server.url, p).list_policies().await.unwrap();
    let times: Vec<Instant> = server
        .requests
        .lock()
        .unwrap()
        .iter()
        .map(|r| r.1)
        .collect();
    times[1] - times[0]
}

#[tokio::test]
async fn retry_after_is_honoured_up_to_the_configured_cap() {
    let script = |secs: &str| {
        vec![
            Step::Answer(429, vec![("retry-after", secs.to_string())], "{}".into()),
            Step::Answer(200, vec![], "[]".into()),
        ]
    };
    // Retry-After below the cap: waited in full.
    let gap = retry_gap(script("1"), Duration::from_secs(2)).await;
    assert!(gap >= Duration::from_millis(950), "waited {gap:?}");
    // Retry-After above the cap: the cap wins.
    let gap = retry_gap(script("30"), Duration::from_millis(200)).await;
    assert!(
        gap >= Duration::from_millis(190) && gap < Duration::from_secs(5),
        "waited {gap:?}"
    );
}

#[tokio::test]
async fn one_request_stays_within_its_total_time_budget() {
    let server = ScriptedServer::start(vec![Step::Answer(
        503,
        vec![("retry-after", "1".into())],
        r#"{"message":"down for maintenance"}"#.into(),
    )])
    .await;
    let policy = RetryPolicy {
        max_attempts: 100,
        base: Duration::from_millis(10),
        cap: Duration::from_millis(100),
        max_elapsed: Duration::from_millis(600),
    };
    let started = Instant::now();
    let err = client(&server.url, policy)
        .list_purposes()
        .await
        .unwrap_err();
    let took = started.elapsed();
    // Without the budget, 100 attempts with waits up to 100 ms take over 10 s; the bound
    // leaves room for a loaded machine (900 ms failed under a load of 12 on 2 cores).
    assert!(took < Duration::from_secs(3), "took {took:?}");
    assert_eq!(err.status(), Some(503));
    assert!(err.to_string().contains("down for maintenance"), "{err}");
    let n = server.lines().len();
    assert!((2..=10).contains(&n), "{n} attempts");
}
