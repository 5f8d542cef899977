//! The daemon shows the client's adaptive concurrency (issue 15): `/status` reads the
//! limiter when it is served and `/metrics` at scrape time, so both show the same value.

use std::time::Duration;

use immuta_gitops::client::RetryPolicy;

use super::harness::*;
use super::metric;
use crate::common::{self, KEY};

#[tokio::test(flavor = "multi_thread")]
async fn issue_15_status_and_metrics_show_the_concurrency_in_use() {
    let emu = common::emulator_with(immuta_emulator::Options {
        api_key: KEY.into(),
        throttle_rate: 0.8,
        rng_seed: 15,
        ..Default::default()
    })
    .await;
    let env = Env::new();
    let repo = Repo::new(env.tmp.path());
    repo.commit(&[("purpose/alpha.yaml", Some(&purpose("Alpha", "first")))]);
    let d = env.start(&repo.url(), &emu.url(), |o| {
        o.interval = Duration::from_secs(3600);
        o.flags.immuta.concurrency = 6;
        // Many quick retries instead of waiting out each `Retry-After: 1`.
        o.flags.immuta.retry = RetryPolicy {
            max_attempts: 40,
            base: Duration::from_millis(1),
            cap: Duration::from_millis(2),
            max_elapsed: Duration::from_secs(30),
        };
    });
    let s = wait_status(&d.base, "first cycle over", |s| s["cycles"] == 1).await;
    let c = &s["concurrency"];
    assert_eq!(c["max"], 6, "{c}");
    assert_eq!(
        c["in_flight"], 0,
        "between cycles nothing is in flight: {c}"
    );
    assert!(c["decreases"].as_u64().unwrap() >= 1, "80 % 429s: {c}");
    let limit = c["limit"].as_u64().unwrap();
    assert!((1..6).contains(&limit), "{c}");
    let text = get(&d.base, "/metrics").await.text().await.unwrap();
    assert_eq!(
        metric(&text, "immuta_gitops_concurrency_limit"),
        Some(limit as f64),
        "{text}"
    );
    assert_eq!(
        metric(&text, "immuta_gitops_concurrency_decreases_total"),
        c["decreases"].as_f64(),
        "{text}"
    );
    d.shutdown().await.0.unwrap();
}
