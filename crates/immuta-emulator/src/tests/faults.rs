//! HTTP-level tests of the emulator's fault knobs: throttling and 5xx by seed, connection
//! resets, and lost answers (the write lands, the answer does not).

use serde_json::json;

use super::*;

async fn statuses(rng_seed: u64) -> Vec<u16> {
    let t = T::with(Options {
        api_key: KEY.into(),
        throttle_rate: 0.3,
        fault_rate: 0.3,
        rng_seed,
        ..Default::default()
    })
    .await;
    let mut out = Vec::new();
    for _ in 0..30 {
        let r = t
            .http
            .get(format!("{}/governance/purpose", t.h.url()))
            .header("Authorization", KEY)
            .send()
            .await
            .unwrap();
        if r.status().as_u16() == 429 {
            assert_eq!(r.headers().get("retry-after").unwrap(), "1");
        }
        out.push(r.status().as_u16());
    }
    let r = t
        .http
        .get(format!("{}/_emulator/writes", t.h.url()))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200, "/_emulator is never faulted");
    t.h.shutdown().await;
    out
}

#[tokio::test]
async fn faults_reproduce_by_seed() {
    let a = statuses(7).await;
    assert_eq!(a, statuses(7).await);
    assert!(
        a.contains(&429) && a.contains(&200) && a.iter().any(|s| *s >= 500),
        "{a:?}"
    );
    assert_ne!(a, statuses(8).await);
}

#[tokio::test]
async fn resets_drop_the_connection_and_never_write() {
    let t = T::with(Options {
        api_key: KEY.into(),
        reset_rate: 1.0,
        ..Default::default()
    })
    .await;
    let r = t.post_raw("/api/v2/purpose", "name: X\n").await;
    assert!(r.is_err(), "no answer expected: {r:?}");
    assert!(t.h.emulator.write_log().is_empty());
    assert!(t
        .h
        .emulator
        .with_store(|s| Ok(s.purpose_names.contains_key("X")))
        .map(|b| !b)
        .unwrap());
    t.h.shutdown().await;
    assert!(Emulator::new(Options {
        fault_rate: 0.8,
        throttle_rate: 0.8,
        ..Default::default()
    })
    .is_err());
}

#[tokio::test]
async fn a_lost_answer_lands_the_write_then_drops_the_connection() {
    let t = T::with(Options {
        api_key: KEY.into(),
        lost_answer_rate: 1.0,
        ..Default::default()
    })
    .await;
    let r = t.post_raw("/api/v2/purpose", "name: X\n").await;
    let err = r.expect_err("no answer expected");
    assert!(!err.is_status() && !err.is_timeout(), "{err:?}");
    // The write landed and is logged with its real status, marked as lost.
    let log = t.h.emulator.write_log();
    assert_eq!(log.len(), 1, "{log:?}");
    assert_eq!(
        (
            log[0].method.as_str(),
            log[0].path.as_str(),
            log[0].key.as_str()
        ),
        ("POST", "/api/v2/purpose", "X")
    );
    assert_eq!(
        (log[0].status, log[0].dry_run, log[0].answer_lost),
        (200, false, true)
    );
    assert!(t
        .h
        .emulator
        .with_store(|s| Ok(s.purpose_names.contains_key("X")))
        .unwrap());
    // GETs are never affected; a refused write loses its answer too (real status kept).
    let purposes = t.get("/governance/purpose").await;
    assert!(
        purposes["purposes"]
            .as_array()
            .unwrap()
            .iter()
            .any(|p| p["name"] == "X"),
        "{purposes}"
    );
    let r = t
        .post_raw("/api/v2/purpose", "description: no name\n")
        .await;
    assert!(r.is_err(), "{r:?}");
    let log = t.h.emulator.write_log();
    assert_eq!(log.len(), 2, "{log:?}");
    assert_eq!((log[1].status, log[1].answer_lost), (400, true));
    // The record is served with the flag, and older logs without it still parse.
    let served: Vec<WriteRecord> =
        serde_json::from_value(t.get("/_emulator/writes").await).unwrap();
    assert_eq!(served, log);
    let old: WriteRecord = serde_json::from_value(json!({"seq": 1, "method": "POST",
        "path": "/api/v2/purpose", "key": "X", "status": 200, "dry_run": false}))
    .unwrap();
    assert!(!old.answer_lost);
    t.h.shutdown().await;
    assert!(Emulator::new(Options {
        lost_answer_rate: 1.5,
        ..Default::default()
    })
    .is_err());
}

#[test]
fn lost_answers_draw_per_target_and_reproduce_by_seed() {
    let draws = |seed: u64, target: &str| {
        let mut d = LostDice {
            rate: 0.3,
            seed,
            streams: HashMap::new(),
        };
        (0..64).map(|_| d.lose(target)).collect::<Vec<bool>>()
    };
    let a = draws(1, "POST /api/v2/purpose X false");
    assert_eq!(a, draws(1, "POST /api/v2/purpose X false"));
    assert!(a.contains(&true) && a.contains(&false), "{a:?}");
    assert_ne!(a, draws(2, "POST /api/v2/purpose X false"));
    assert_ne!(a, draws(1, "POST /api/v2/purpose Y false"));
    // Interleaving targets does not change either target's sequence.
    let mut d = LostDice {
        rate: 0.3,
        seed: 1,
        streams: HashMap::new(),
    };
    let mixed: Vec<bool> = (0..64)
        .map(|_| {
            d.lose("POST /api/v2/purpose Y false");
            d.lose("POST /api/v2/purpose X false")
        })
        .collect();
    assert_eq!(mixed, a);
}
