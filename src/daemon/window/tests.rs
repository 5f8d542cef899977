use super::*;

fn ts(s: &str) -> Timestamp {
    s.parse().unwrap()
}

fn windows(specs: &[&str], tz: &str) -> Windows {
    Windows::parse(specs, tz).unwrap()
}

#[test]
fn specs_parse_and_print_back() {
    let w = Window::parse("allow 0 22 * * 1-5 4h").unwrap();
    assert_eq!(w.kind(), Kind::Allow);
    assert_eq!(w.to_string(), "allow 0 22 * * 1-5 4h");
    let w = Window::parse("  DENY   @daily 90m ").unwrap();
    assert_eq!(w.to_string(), "deny @daily 90m");
}

#[test]
fn bad_specs_say_what_is_wrong() {
    let cases = [
        ("", "empty"),
        ("permit 0 22 * * * 4h", "neither allow nor deny"),
        ("allow 0 22 * * 4h", "has 4 fields"),
        ("allow 0 0 22 * * * 4h", "has 6 fields"),
        ("allow 0 25 * * * 4h", "cron expression"),
        ("allow 0 22 * * * four", "duration"),
        ("allow 0 22 * * * 30s", "between 1m and 31d"),
        ("allow 0 22 * * * 32d", "between 1m and 31d"),
        ("allow 0 0 30 2 * 1h", "never matches"),
    ];
    for (spec, want) in cases {
        let e = Window::parse(spec).unwrap_err().to_string();
        assert!(e.contains(want), "{spec:?}: {e}");
    }
    assert_eq!(
        Windows::parse(&["allow @daily 1h"], "Mars/Olympus").unwrap_err(),
        Error::TimeZone("Mars/Olympus".into())
    );
}

#[test]
fn no_window_never_blocks() {
    let v = Windows::default().at(ts("2026-03-02T12:00:00Z"));
    assert_eq!(
        v,
        Verdict {
            blocked: false,
            reason: None,
            next_change: None
        }
    );
}

#[test]
fn an_allow_window_opens_on_weekday_nights_in_its_time_zone() {
    // Berlin is UTC+1 in early March: 22:00 local is 21:00Z.
    let w = windows(&["allow 0 22 * * 1-5 4h"], "Europe/Berlin");
    // Monday 2 March 2026, noon local: blocked until 22:00 local.
    let v = w.at(ts("2026-03-02T11:00:00Z"));
    assert!(v.blocked);
    assert_eq!(v.reason.as_deref(), Some("outside every allow window"));
    assert_eq!(v.next_change, Some(ts("2026-03-02T21:00:00Z")));
    // The first second of the window, and its last.
    let v = w.at(ts("2026-03-02T21:00:00Z"));
    assert!(!v.blocked);
    assert_eq!(v.next_change, Some(ts("2026-03-03T01:00:00Z")));
    assert!(!w.at(ts("2026-03-03T00:59:59Z")).blocked);
    assert!(w.at(ts("2026-03-03T01:00:00Z")).blocked, "end is exclusive");
    // Friday night's window runs into Saturday; Saturday night has none.
    assert!(!w.at(ts("2026-03-07T00:30:00Z")).blocked);
    let sat = w.at(ts("2026-03-07T22:00:00Z"));
    assert!(sat.blocked);
    assert_eq!(sat.next_change, Some(ts("2026-03-09T21:00:00Z")), "Monday");
}

#[test]
fn deny_wins_over_allow_and_alone_blocks_only_inside() {
    let w = windows(&["allow * * * * * 1h", "deny 0 9 * * * 2h"], "UTC");
    let v = w.at(ts("2026-06-01T10:00:00Z"));
    assert!(v.blocked);
    assert_eq!(
        v.reason.as_deref(),
        Some("inside deny window `deny 0 9 * * * 2h`")
    );
    assert_eq!(v.next_change, Some(ts("2026-06-01T11:00:00Z")));
    let deny_only = windows(&["deny 0 0 1 * * 1d"], "UTC");
    assert!(!deny_only.at(ts("2026-06-02T00:00:00Z")).blocked);
    let v = deny_only.at(ts("2026-06-01T12:00:00Z"));
    assert!(v.blocked);
    assert_eq!(v.next_change, Some(ts("2026-06-02T00:00:00Z")));
    let v = deny_only.at(ts("2026-06-15T00:00:00Z"));
    assert_eq!(v.next_change, Some(ts("2026-07-01T00:00:00Z")));
}

#[test]
fn the_readme_example_freezes_the_year_end() {
    let w = windows(
        &["allow 0 22 * * 1-5 4h", "deny 0 0 24 12 * 9d"],
        "Europe/Berlin",
    );
    // Wednesday 30 December 2026, 23:00 Berlin: a weekday night, but frozen.
    let v = w.at(ts("2026-12-30T22:00:00Z"));
    assert!(v.blocked);
    assert_eq!(
        v.reason.as_deref(),
        Some("inside deny window `deny 0 0 24 12 * 9d`")
    );
    // The freeze ends 2 January 00:00 Berlin, inside Friday night's allow window
    // (22:00 to 02:00): writes resume at once, and stop again at 02:00.
    assert_eq!(v.next_change, Some(ts("2027-01-01T23:00:00Z")));
    let v = w.at(ts("2027-01-01T23:00:00Z"));
    assert!(!v.blocked);
    assert_eq!(v.next_change, Some(ts("2027-01-02T01:00:00Z")));
}

#[test]
fn overlapping_windows_merge_into_one_opening() {
    let w = windows(&["allow 0 22 * * * 4h", "allow 0 1 * * * 4h"], "UTC");
    let v = w.at(ts("2026-06-01T23:00:00Z"));
    assert!(!v.blocked);
    assert_eq!(v.next_change, Some(ts("2026-06-02T05:00:00Z")));
    // One window whose runs chain (every hour for two hours) never closes.
    let always = windows(&["allow 0 * * * * 2h"], "UTC");
    assert_eq!(always.at(ts("2026-06-01T23:00:00Z")).next_change, None);
}

#[test]
fn a_verdict_that_never_changes_costs_a_bounded_search() {
    // Always open, with a second window flipping every half hour without changing the
    // verdict: the search for the next change gives up within its budget.
    let w = windows(&["allow * * * * * 1h", "allow 0,30 * * * * 10m"], "UTC");
    let started = std::time::Instant::now();
    let v = w.at(ts("2026-06-01T00:05:00Z"));
    assert!(!v.blocked);
    assert_eq!(v.next_change, None);
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "{:?}",
        started.elapsed()
    );
}

#[test]
fn a_window_across_the_spring_gap_lasts_its_elapsed_time() {
    // 29 March 2026, Berlin: 02:00 CET jumps to 03:00 CEST (01:00Z).
    let w = windows(&["allow 0 1 * * * 3h"], "Europe/Berlin");
    // Starts 01:00 CET = 00:00Z; three real hours later is 03:00Z = 05:00 CEST.
    assert!(!w.at(ts("2026-03-29T02:59:59Z")).blocked);
    let v = w.at(ts("2026-03-29T00:30:00Z"));
    assert_eq!(v.next_change, Some(ts("2026-03-29T03:00:00Z")));
    // The next day starts at 01:00 CEST = 23:00Z.
    let v = w.at(ts("2026-03-29T12:00:00Z"));
    assert_eq!(v.next_change, Some(ts("2026-03-29T23:00:00Z")));
}

#[test]
fn a_start_the_clock_skips_opens_after_the_gap() {
    // 02:30 does not exist in Berlin on 29 March 2026: the window opens at 03:00 CEST.
    let w = windows(&["allow 30 2 * * * 1h"], "Europe/Berlin");
    let v = w.at(ts("2026-03-28T23:00:00Z"));
    assert!(v.blocked);
    assert_eq!(v.next_change, Some(ts("2026-03-29T01:00:00Z")));
    assert!(!w.at(ts("2026-03-29T01:30:00Z")).blocked);
    assert!(w.at(ts("2026-03-29T02:00:00Z")).blocked);
}

#[test]
fn a_window_across_the_autumn_fold_lasts_its_elapsed_time() {
    // 25 October 2026, Berlin: 03:00 CEST falls back to 02:00 CET (01:00Z).
    let w = windows(&["allow 0 1 * * * 3h"], "Europe/Berlin");
    // Starts 01:00 CEST = 23:00Z (24th), ends three hours later, 02:00Z = 03:00 CET.
    let v = w.at(ts("2026-10-24T23:30:00Z"));
    assert!(!v.blocked);
    assert_eq!(v.next_change, Some(ts("2026-10-25T02:00:00Z")));
    assert!(
        !w.at(ts("2026-10-25T01:30:00Z")).blocked,
        "02:30 CET, second pass"
    );
    assert!(w.at(ts("2026-10-25T02:00:00Z")).blocked);
}

#[test]
fn a_start_the_clock_shows_twice_opens_once() {
    // 02:30 Berlin happens at 00:30Z (CEST) and again at 01:30Z (CET).
    let w = windows(&["deny 30 2 * * * 30m"], "Europe/Berlin");
    assert!(w.at(ts("2026-10-25T00:45:00Z")).blocked);
    let v = w.at(ts("2026-10-25T01:45:00Z"));
    assert!(!v.blocked, "the repeated 02:30 starts no second window");
    assert_eq!(v.next_change, Some(ts("2026-10-26T01:30:00Z")));
}

#[tokio::test(start_paused = true)]
async fn an_anchored_clock_moves_with_tokio_time() {
    let c = Clock::anchored(ts("2026-03-02T21:59:00Z"));
    assert_eq!(timestamp(c.now()), "2026-03-02T21:59:00Z");
    tokio::time::advance(Duration::from_secs(90)).await;
    assert_eq!(timestamp(c.now()), "2026-03-02T22:00:30Z");
}

#[test]
fn the_time_zone_is_named_back() {
    let w = windows(&["allow @daily 1h"], " Europe/Berlin ");
    assert_eq!(w.time_zone(), "Europe/Berlin");
    assert_eq!(w.specs(), ["allow @daily 1h"]);
    assert!(!w.is_empty());
}
