//! The request-time log: when each API request arrived, for measuring the pace of a
//! client (the benchmark's `drift_sweep_peak_rps`) at the server rather than in the client.
//!
//! Every request that reaches an API route is recorded on arrival, before the latency,
//! the fault dice and auth: [`RequestRecord`] `{method, route, dry_run, millis}`. The log is
//! a ring buffer of [`crate::Options::request_log_capacity`] records (the oldest go first,
//! counted in [`RequestLog::dropped`]); capacity 0 turns it off. It is only ever written by
//! the recording layer and read by [`crate::Emulator::request_log`], never by a handler,
//! so it cannot change an answer. `/_emulator/*` and paths no route knows (the JSON 404 of
//! the fallback) are not recorded.

use std::collections::VecDeque;

use axum::extract::{MatchedPath, Request, State};
use axum::middleware::Next;
use axum::response::Response;
use serde::{Deserialize, Serialize};
use tokio::time::Instant;

use crate::Emulator;

/// Records kept by default: a sweep of 10,000 dry runs, with room for the lists around it.
pub const DEFAULT_CAPACITY: usize = 16_384;

/// One API request, as it arrived.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RequestRecord {
    /// HTTP method.
    pub method: String,
    /// The route template that matched, e.g. `/api/v2/data` or `/project/{id}`.
    pub route: String,
    /// `dryRun=true` (any case) was in the query string.
    pub dry_run: bool,
    /// Milliseconds from the emulator's start (or last reset) to the request's arrival, on
    /// tokio's clock (so a paused-clock test sees its virtual time).
    pub millis: u64,
}

/// The ring buffer behind [`crate::Emulator::request_log`].
#[derive(Debug)]
pub struct RequestLog {
    start: Instant,
    capacity: usize,
    records: VecDeque<RequestRecord>,
    dropped: u64,
}

impl RequestLog {
    /// An empty log of at most `capacity` records, its clock starting now.
    pub fn new(capacity: usize) -> RequestLog {
        RequestLog {
            start: Instant::now(),
            capacity,
            records: VecDeque::new(),
            dropped: 0,
        }
    }

    /// Empties the log and restarts its clock.
    pub fn clear(&mut self) {
        self.start = Instant::now();
        self.records.clear();
        self.dropped = 0;
    }

    /// Appends a record made now, dropping the oldest when full.
    pub fn push(&mut self, method: &str, route: String, dry_run: bool) {
        if self.capacity == 0 {
            return;
        }
        if self.records.len() >= self.capacity {
            self.records.pop_front();
            self.dropped += 1;
        }
        let millis = u64::try_from(self.start.elapsed().as_millis()).unwrap_or(u64::MAX);
        self.records.push_back(RequestRecord {
            method: method.to_string(),
            route,
            dry_run,
            millis,
        });
    }

    /// The records kept, oldest first.
    pub fn records(&self) -> Vec<RequestRecord> {
        self.records.iter().cloned().collect()
    }

    /// Records dropped to keep the log within its capacity.
    pub fn dropped(&self) -> u64 {
        self.dropped
    }
}

/// Whether the query string carries `dryRun=true` (value in any case; a percent-encoded
/// name or value is not decoded, which no client of this tool sends).
fn dry_run(query: Option<&str>) -> bool {
    query.is_some_and(|q| {
        q.split('&').any(|pair| {
            pair.split_once('=')
                .is_some_and(|(k, v)| k == "dryRun" && v.eq_ignore_ascii_case("true"))
        })
    })
}

/// The outermost API layer: records the request, then passes it on untouched.
pub(crate) async fn record(State(emu): State<Emulator>, req: Request, next: Next) -> Response {
    let route = req.extensions().get::<MatchedPath>().map_or_else(
        || crate::route(req.uri().path()),
        |m| m.as_str().to_string(),
    );
    emu.log_request(req.method().as_str(), route, dry_run(req.uri().query()));
    next.run(req).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ring_keeps_the_newest_and_counts_the_dropped() {
        let mut log = RequestLog::new(3);
        for i in 0..5 {
            log.push("GET", format!("/r{i}"), false);
        }
        let routes: Vec<_> = log.records().into_iter().map(|r| r.route).collect();
        assert_eq!(routes, ["/r2", "/r3", "/r4"]);
        assert_eq!(log.dropped(), 2);
        log.clear();
        assert!(log.records().is_empty());
        assert_eq!(log.dropped(), 0);
    }

    #[test]
    fn capacity_zero_records_nothing() {
        let mut log = RequestLog::new(0);
        log.push("GET", "/project".into(), false);
        assert!(log.records().is_empty());
        assert_eq!(log.dropped(), 0);
    }

    #[test]
    fn dry_run_is_read_from_the_query_like_the_handlers() {
        assert!(dry_run(Some("dryRun=true")));
        assert!(dry_run(Some("a=1&dryRun=TRUE")));
        assert!(!dry_run(Some("dryRun=false")));
        assert!(!dry_run(Some("dryrun=true")));
        assert!(!dry_run(Some("xdryRun=true")));
        assert!(!dry_run(None));
    }

    #[tokio::test(start_paused = true)]
    async fn millis_follow_the_tokio_clock() {
        let mut log = RequestLog::new(4);
        log.push("POST", "/api/v2/data".into(), true);
        tokio::time::advance(std::time::Duration::from_millis(1500)).await;
        log.push("POST", "/api/v2/data".into(), true);
        let ms: Vec<_> = log.records().into_iter().map(|r| r.millis).collect();
        assert_eq!(ms, [0, 1500]);
    }
}
