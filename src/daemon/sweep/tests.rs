//! The sweep's rules on literal inputs, and its budget on a paused clock.
use super::*;
use crate::object::Kind;

const S: Duration = Duration::from_secs(1);

fn at(secs: u64) -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000 + secs)
}

fn keys(n: usize) -> Vec<ObjectKey> {
    (0..n)
        .map(|i| ObjectKey::new(Kind::Data, format!("conn-{i:03}")))
        .collect()
}

fn sweep(budget: &str, interval: Duration) -> Sweep {
    let rule = DriftRule {
        interval,
        slack: Duration::ZERO,
    };
    Sweep::new(budget.parse().unwrap(), rule)
}

const UNCHANGED: Facts = Facts {
    new_revision: false,
    forced: false,
};

fn chunk(s: &mut Sweep, now: SystemTime) -> (BTreeSet<ObjectKey>, Option<Start>) {
    match s.step(UNCHANGED, now) {
        Step::Chunk { keys, start } => (keys, start),
        other => panic!("expected a chunk, got {other:?}"),
    }
}

#[test]
fn a_sweep_runs_in_sorted_chunks_of_the_budget_count_and_completes() {
    let mut s = sweep("3/min", 3600 * S);
    s.revision_planned(keys(7).into_iter().rev().collect(), true, at(0));
    assert_eq!(s.step(UNCHANGED, at(10)), Step::Skip, "checked at 0");
    assert!(!s.wants_follow_up(at(10)));
    let (first, start) = chunk(&mut s, at(3600));
    assert_eq!(
        start,
        Some(Start {
            total: 7,
            estimate: 140 * S,
            warn: false
        })
    );
    let names: Vec<&str> = first.iter().map(|k| k.name.as_str()).collect();
    assert_eq!(names, ["conn-000", "conn-001", "conn-002"]);
    assert_eq!(s.status().state, "running");
    assert_eq!(
        s.status().started_at.as_deref(),
        Some("2027-01-15T09:00:00Z")
    );
    // The chunk failed before its plan was complete: the same keys run again.
    let (again, start) = chunk(&mut s, at(3601));
    assert_eq!((again.clone(), start), (first.clone(), None));
    assert_eq!(s.chunk_planned(&first, [], false, at(3660)), None);
    assert_eq!(s.progress(), (3, 7));
    assert!(s.wants_follow_up(at(3660)));
    let (second, _) = chunk(&mut s, at(3660));
    assert_eq!(second.len(), 3);
    assert!(second.iter().all(|k| !first.contains(k)));
    s.note_drift(["policy/P".to_string()]);
    assert_eq!(s.status().drift_found, 1, "shown before the chunk ends");
    s.chunk_planned(&second, ["policy/P".to_string()], false, at(3720));
    let (last, _) = chunk(&mut s, at(3720));
    assert_eq!(last.len(), 1, "at most the rest");
    let done = s.chunk_planned(&last, ["policy/P".to_string()], false, at(3740));
    assert_eq!(
        done,
        Some(Completed {
            checked: 7,
            drift_found: 1,
            duration: 140 * S
        })
    );
    let st = s.status();
    assert_eq!(
        (st.state, st.checked, st.total, st.drift_found),
        ("idle", 7, 7, 1)
    );
    assert_eq!(st.last_duration_seconds, Some(140.0));
    assert_eq!(st.budget, "3/min");
    assert_eq!(st.estimated_seconds, 140.0);
    assert_eq!(s.completed(), 1);
}

#[test]
fn the_next_sweep_starts_one_interval_after_this_one_started() {
    let mut s = sweep("300/min", 600 * S);
    s.revision_planned(keys(2), false, at(0));
    // Never checked: due at once.
    let (k, start) = chunk(&mut s, at(0));
    assert_eq!(start.map(|s| s.total), Some(2));
    assert!(s.chunk_planned(&k, [], false, at(50)).is_some());
    assert_eq!(s.last_check(), Some(at(0)), "its start, not its end");
    assert_eq!(s.step(UNCHANGED, at(599)), Step::Skip);
    assert!(!s.wants_follow_up(at(599)));
    assert!(s.is_due(at(600)));
    assert!(matches!(
        s.step(UNCHANGED, at(600)),
        Step::Chunk { start: Some(_), .. }
    ));
    // A clock that went backwards makes the check due rather than never.
    let mut back = sweep("300/min", 600 * S);
    back.seed(at(100));
    assert!(back.is_due(at(50)));
}

#[test]
fn an_empty_key_list_still_takes_one_chunk_for_policies_and_purposes() {
    let mut s = sweep("300/min", 60 * S);
    s.revision_planned(Vec::new(), false, at(0));
    let (k, start) = chunk(&mut s, at(0));
    assert!(k.is_empty());
    assert_eq!(start.map(|s| s.total), Some(0));
    assert!(s.is_running());
    assert!(s.chunk_planned(&k, [], false, at(1)).is_some());
    assert!(!s.is_running());
}

#[test]
fn a_new_revision_or_a_hook_pre_empts_the_next_chunk_and_keeps_what_is_left() {
    let mut s = sweep("2/min", 3600 * S);
    s.revision_planned(keys(6), false, at(0));
    let (first, _) = chunk(&mut s, at(0));
    s.chunk_planned(&first, [], false, at(60));
    let new = Facts {
        new_revision: true,
        forced: false,
    };
    assert_eq!(s.step(new, at(61)), Step::Revision);
    let hook = Facts {
        new_revision: false,
        forced: true,
    };
    assert_eq!(s.step(hook, at(61)), Step::Revision);
    assert!(s.is_running(), "the sweep waits, it is not dropped");
    // The new revision removed conn-003 and added conn-100: the sweep goes on with
    // the keys it still has (conn-100 was just planned as new).
    let mut next = keys(6);
    next.retain(|k| k.name != "conn-003");
    next.push(ObjectKey::new(Kind::Project, "conn-100"));
    s.revision_planned(next, false, at(62));
    assert_eq!(s.progress(), (2, 5));
    let (second, start) = chunk(&mut s, at(62));
    assert_eq!(start, None);
    let names: Vec<&str> = second.iter().map(|k| k.name.as_str()).collect();
    assert_eq!(names, ["conn-002", "conn-004"]);
}

#[test]
fn a_plan_that_read_everything_completes_the_check() {
    let mut s = sweep("1/min", 3600 * S);
    s.revision_planned(keys(3), false, at(0));
    let (first, _) = chunk(&mut s, at(0));
    assert_eq!(first.len(), 1);
    // The next revision's plan fell back to a full plan: everything was read.
    s.revision_planned(keys(3), true, at(100));
    assert!(!s.is_running());
    assert_eq!(s.last_check(), Some(at(100)));
    assert_eq!(s.step(UNCHANGED, at(200)), Step::Skip);
    // A chunk whose own plan fell back to full completes its sweep.
    let (k, _) = chunk(&mut s, at(3700));
    let done = s.chunk_planned(&k, [], true, at(3710)).unwrap();
    assert_eq!(done.checked, 3);
}

#[test]
fn a_sweep_that_cannot_fit_the_interval_warns_once_with_the_estimate() {
    // 10 keys at 1/min: 10 minutes, against a 5-minute interval.
    let mut s = sweep("1/min", 300 * S);
    s.revision_planned(keys(10), false, at(0));
    let (_, start) = chunk(&mut s, at(0));
    assert_eq!(
        start,
        Some(Start {
            total: 10,
            estimate: 600 * S,
            warn: true
        })
    );
    for i in 0..10 {
        let (k, _) = chunk(&mut s, at(60 * i));
        s.chunk_planned(&k, [], false, at(60 * i + 60));
    }
    assert!(!s.is_running());
    // Back to back: the next one is due at once, and says nothing again.
    assert!(s.wants_follow_up(at(600)));
    let (_, start) = chunk(&mut s, at(600));
    assert_eq!(start.map(|s| s.warn), Some(false));
}

#[test]
fn records_are_trusted_for_one_sweep_period() {
    let mut s = sweep("300/min", 300 * S);
    assert_eq!(s.record_max_age(60 * S), 360 * S, "no keys known yet");
    s.revision_planned(keys(1200), true, at(0));
    // 1,200 keys at 300/min: a four-minute sweep.
    assert_eq!(s.record_max_age(60 * S), 600 * S);
}

#[test]
fn keys_are_learned_from_a_plan_before_the_first_sweep() {
    let mut s = sweep("300/min", 60 * S);
    assert_eq!(s.step(UNCHANGED, at(0)), Step::Revision);
    assert!(!s.wants_follow_up(at(0)), "nothing to sweep yet");
    assert_eq!(
        s.status(),
        SweepStatus {
            state: "idle",
            budget: "300/min".into(),
            ..Default::default()
        }
    );
    s.revision_planned(keys(1), false, at(0));
    assert!(s.wants_follow_up(at(0)));
}

/// A sweep of 25 connections at 5/s, every key of a chunk sent at once (as the live
/// read does, up to `--concurrency`): the shared pacer keeps any one-second window at
/// `count + 1` dry-run starts or fewer, across chunk boundaries too.
#[tokio::test(start_paused = true)]
async fn the_budget_holds_across_chunks_on_a_paused_clock() {
    use crate::client::Pacer;
    use tokio::time::Instant;

    let budget: Budget = "5/s".parse().unwrap();
    let pacer = Pacer::new(budget);
    let mut s = Sweep::new(
        budget,
        DriftRule {
            interval: 3600 * S,
            slack: Duration::ZERO,
        },
    );
    s.revision_planned(keys(25), false, at(0));
    let origin = Instant::now();
    let mut starts = Vec::new();
    let mut chunks = 0;
    while let Step::Chunk { keys, .. } = s.step(UNCHANGED, at(chunks)) {
        chunks += 1;
        let runs: Vec<_> = keys
            .iter()
            .map(|_| {
                let p = pacer.clone();
                tokio::spawn(async move {
                    p.wait().await;
                    Instant::now() - origin
                })
            })
            .collect();
        for r in runs {
            starts.push(r.await.unwrap());
        }
        if s.chunk_planned(&keys, [], false, at(chunks)).is_some() {
            break;
        }
    }
    assert_eq!(chunks, 5, "25 keys in chunks of 5");
    assert_eq!(starts.len(), 25);
    starts.sort();
    for from in &starts {
        let within = starts
            .iter()
            .filter(|t| **t >= *from && **t < *from + budget.per())
            .count();
        assert!(
            within <= budget.count() as usize + 1,
            "{within} dry runs in one window from {from:?}"
        );
    }
    // Paced, not merely bounded: 25 starts take 24 spacings.
    assert_eq!(starts.last().copied(), Some(budget.time_for(24)));
}
