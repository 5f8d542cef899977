//! Request counts of the one request path, by endpoint template and status: what
//! `immuta_gitops_api_requests_total` and the benchmark report. Every attempt counts.

use std::collections::BTreeMap;
use std::sync::Mutex;

/// Counts of requests by endpoint template and status (`"error"` when no status), for
/// metrics and the benchmark.
#[derive(Debug, Default)]
pub struct RequestStats {
    counts: Mutex<BTreeMap<(String, String), u64>>,
}

impl RequestStats {
    pub(super) fn record(&self, endpoint: &str, status: Option<u16>) {
        let status = status.map_or_else(|| "error".to_string(), |s| s.to_string());
        if let Ok(mut m) = self.counts.lock() {
            *m.entry((endpoint.to_string(), status)).or_insert(0) += 1;
        }
    }

    /// A copy of the counts: `(endpoint, status) → n`.
    pub fn snapshot(&self) -> BTreeMap<(String, String), u64> {
        self.counts.lock().map(|m| m.clone()).unwrap_or_default()
    }

    /// Total requests sent (every attempt counts).
    pub fn total(&self) -> u64 {
        self.snapshot().values().sum()
    }
}
