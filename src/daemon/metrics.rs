//! Prometheus metrics of the daemon, served as OpenMetrics text on `GET /metrics`.
//!
//! Input: cycle results, object states, the applied revision and the client's request
//! counts. Output: the exposition text. Labels stay low-cardinality — result, kind,
//! state, a route template and a status code — never an object name (Flux's and axum's
//! `MatchedPath` rule).
//!
//! | metric | type | labels |
//! |---|---|---|
//! | `immuta_gitops_reconcile_total` | counter | `result` |
//! | `immuta_gitops_reconcile_duration_seconds` | histogram | |
//! | `immuta_gitops_objects` | gauge | `kind`, `state` |
//! | `immuta_gitops_drift_total` | counter | |
//! | `immuta_gitops_pending_weakening` | gauge | |
//! | `immuta_gitops_last_applied_revision_info` | info | `revision` |
//! | `immuta_gitops_api_requests_total` | counter | `endpoint`, `code` |
//! | `immuta_gitops_concurrency_limit` | gauge | (requests the client lets in flight now) |
//! | `immuta_gitops_concurrency_decreases_total` | counter | |
//! | `immuta_gitops_notifications_sent_total` | counter | |
//! | `immuta_gitops_notifications_failed_total` | counter | |
//! | `immuta_gitops_sync_healthy` | gauge | (1 healthy, 0 not: see [`super::status::Status::is_sync_healthy`]) |
//! | `immuta_gitops_consecutive_failures` | gauge | |
//! | `immuta_gitops_drift_sweep_checked_objects` | gauge | (keys the running sweep re-read) |
//! | `immuta_gitops_drift_sweep_objects` | gauge | (keys the running or last sweep covers) |
//! | `immuta_gitops_drift_sweeps_completed_total` | counter | |

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use prometheus_client::encoding::{DescriptorEncoder, EncodeLabelSet, EncodeMetric};
use prometheus_client::metrics::counter::{ConstCounter, Counter};
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::{ConstGauge, Gauge};
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::metrics::MetricType;
use prometheus_client::registry::Registry;

use super::status::{CycleResult, ObjectState};
use crate::client::Client;
use crate::object::Kind;

/// The `Content-Type` of [`Metrics::encode`]'s output.
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct ResultLabels {
    result: &'static str,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct ObjectLabels {
    kind: &'static str,
    state: &'static str,
}

/// The revision label of the info metric; empty until something was applied.
#[derive(Debug, Default)]
struct RevisionCollector {
    revision: Mutex<Option<String>>,
}

impl prometheus_client::collector::Collector for RevisionCollector {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let rev = self.revision.lock().ok().and_then(|r| r.clone());
        let Some(rev) = rev else {
            return Ok(());
        };
        let mut m = encoder.encode_descriptor(
            "immuta_gitops_last_applied_revision",
            "The source revision last applied completely (or found in sync).",
            None,
            MetricType::Info,
        )?;
        m.encode_info(&[("revision", rev.as_str())])
    }
}

/// Request counts read from the client at scrape time.
#[derive(Debug)]
struct ApiCollector {
    client: Client,
}

impl prometheus_client::collector::Collector for ApiCollector {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let counts = self.client.stats().snapshot();
        let mut m = encoder.encode_descriptor(
            "immuta_gitops_api_requests",
            "Immuta API requests sent (every attempt), by route template and HTTP status.",
            None,
            MetricType::Counter,
        )?;
        for ((endpoint, code), n) in counts {
            let labels = [("endpoint", endpoint.as_str()), ("code", code.as_str())];
            let fam = m.encode_family(&labels)?;
            ConstCounter::new(n).encode(fam)?;
        }
        let c = self.client.concurrency_status();
        let m = encoder.encode_descriptor(
            "immuta_gitops_concurrency_limit",
            "Immuta API requests allowed in flight now (adaptive, at most --concurrency).",
            None,
            MetricType::Gauge,
        )?;
        ConstGauge::new(i64::try_from(c.limit).unwrap_or(i64::MAX)).encode(m)?;
        let m = encoder.encode_descriptor(
            "immuta_gitops_concurrency_decreases",
            "Times the client lowered its concurrency because Immuta throttled or slowed down.",
            None,
            MetricType::Counter,
        )?;
        ConstCounter::new(c.decreases).encode(m)
    }
}

/// The daemon's metric set. Cheap to share behind an `Arc`.
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    reconcile: Family<ResultLabels, Counter>,
    duration: Histogram,
    objects: Family<ObjectLabels, Gauge>,
    drift: Counter,
    pending_weakening: Gauge,
    revision: Arc<RevisionCollector>,
    notifications: crate::notify::send::Counters,
    sync_healthy: Gauge,
    failures: Gauge,
    client: Option<Client>,
    sweep: SweepMetrics,
}

/// The drift sweep's metrics (issue 15).
#[derive(Debug, Default)]
struct SweepMetrics {
    checked: Gauge,
    objects: Gauge,
    completed: Counter,
}

impl SweepMetrics {
    fn register(registry: &mut Registry) -> SweepMetrics {
        let m = SweepMetrics::default();
        registry.register(
            "immuta_gitops_drift_sweep_checked_objects",
            "Objects the running drift sweep has re-read from Immuta (the last sweep's count when idle)",
            m.checked.clone(),
        );
        registry.register(
            "immuta_gitops_drift_sweep_objects",
            "Objects (data sources and projects) a drift sweep re-reads",
            m.objects.clone(),
        );
        registry.register(
            "immuta_gitops_drift_sweeps_completed",
            "Drift sweeps completed",
            m.completed.clone(),
        );
        m
    }
}

impl Metrics {
    /// Registers every metric; `client` (when given) feeds the API request counter.
    pub fn new(client: Option<Client>) -> Self {
        let mut registry = Registry::default();
        let reconcile = Family::<ResultLabels, Counter>::default();
        registry.register(
            "immuta_gitops_reconcile",
            "Reconcile cycles, by how they ended.",
            reconcile.clone(),
        );
        for &r in CycleResult::ALL {
            drop(reconcile.get_or_create(&ResultLabels { result: r.as_str() }));
        }
        // 50 ms … ~410 s.
        let duration = Histogram::new(exponential_buckets(0.05, 2.0, 14));
        registry.register(
            "immuta_gitops_reconcile_duration_seconds",
            "Duration of reconcile cycles.",
            duration.clone(),
        );
        let objects = Family::<ObjectLabels, Gauge>::default();
        registry.register(
            "immuta_gitops_objects",
            "Managed objects after the last plan, by kind and state.",
            objects.clone(),
        );
        let drift = Counter::default();
        registry.register(
            "immuta_gitops_drift",
            "Drift checks that found the tenant changed outside Git.",
            drift.clone(),
        );
        let pending_weakening = Gauge::default();
        registry.register(
            "immuta_gitops_pending_weakening",
            "Changes that weaken data protection, held until a commit approves them.",
            pending_weakening.clone(),
        );
        let notifications = crate::notify::send::Counters::default();
        registry.register(
            "immuta_gitops_notifications_sent",
            "Notifications a receiver accepted.",
            notifications.sent.clone(),
        );
        registry.register(
            "immuta_gitops_notifications_failed",
            "Notifications dropped (queue full) or not accepted after their retries.",
            notifications.failed.clone(),
        );
        let sync_healthy = Gauge::default();
        registry.register(
            "immuta_gitops_sync_healthy",
            "1 when a sync succeeded and fewer than 3 cycles in a row failed since, else 0.",
            sync_healthy.clone(),
        );
        let failures = Gauge::default();
        registry.register(
            "immuta_gitops_consecutive_failures",
            "Cycles in a row that failed (0 after a success).",
            failures.clone(),
        );
        let sweep = SweepMetrics::register(&mut registry);
        let revision = Arc::new(RevisionCollector::default());
        registry.register_collector(Box::new(revision.clone()));
        if let Some(client) = client.clone() {
            registry.register_collector(Box::new(ApiCollector { client }));
        }
        Metrics {
            registry,
            reconcile,
            duration,
            objects,
            drift,
            pending_weakening,
            revision,
            notifications,
            sync_healthy,
            failures,
            client,
            sweep,
        }
    }

    /// The client's concurrency now (`None` without a client).
    pub fn concurrency(&self) -> Option<crate::client::ConcurrencyStatus> {
        self.client.as_ref().map(Client::concurrency_status)
    }

    /// Sets the drift sweep's progress gauges.
    pub fn set_sweep_progress(&self, checked: usize, total: usize) {
        let n = |v: usize| i64::try_from(v).unwrap_or(i64::MAX);
        self.sweep.checked.set(n(checked));
        self.sweep.objects.set(n(total));
    }

    /// Counts one completed drift sweep.
    pub fn inc_sweeps_completed(&self) {
        self.sweep.completed.inc();
    }

    /// Sets how many weakening changes are held for approval.
    pub fn set_pending_weakening(&self, n: usize) {
        self.pending_weakening
            .set(i64::try_from(n).unwrap_or(i64::MAX));
    }

    /// The notification counters, shared with the notifier.
    pub fn notification_counters(&self) -> crate::notify::send::Counters {
        self.notifications.clone()
    }

    /// Sets the sync-health gauges.
    pub fn set_sync(&self, healthy: bool, consecutive_failures: u32) {
        self.sync_healthy.set(i64::from(healthy));
        self.failures.set(i64::from(consecutive_failures));
    }

    /// Counts one cycle and its duration.
    pub fn observe_cycle(&self, result: CycleResult, took: Duration) {
        self.reconcile
            .get_or_create(&ResultLabels {
                result: result.as_str(),
            })
            .inc();
        self.duration.observe(took.as_secs_f64());
    }

    /// Counts one drift detection.
    pub fn inc_drift(&self) {
        self.drift.inc();
    }

    /// Replaces the object gauges.
    pub fn set_objects(&self, states: &BTreeMap<(Kind, ObjectState), i64>) {
        for ((kind, state), n) in states {
            self.objects
                .get_or_create(&ObjectLabels {
                    kind: kind.as_str(),
                    state: state.as_str(),
                })
                .set(*n);
        }
    }

    /// Sets the applied revision shown by the info metric.
    pub fn set_revision(&self, revision: &str) {
        if let Ok(mut r) = self.revision.revision.lock() {
            *r = Some(revision.to_string());
        }
    }

    /// The exposition text, ending with `# EOF`.
    ///
    /// # Errors
    /// Only formatter errors (not expected when writing to a `String`).
    pub fn encode(&self) -> Result<String, std::fmt::Error> {
        let mut out = String::new();
        prometheus_client::encoding::text::encode(&mut out, &self.registry)?;
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::client::ClientConfig;
    use crate::redact::Secret;

    #[test]
    fn exposition_names_types_and_labels() {
        let client = Client::new(ClientConfig::new(
            "http://127.0.0.1:9",
            Secret::new("k3y-value"),
        ))
        .unwrap();
        let m = Metrics::new(Some(client));
        m.observe_cycle(CycleResult::Applied, Duration::from_millis(120));
        m.inc_drift();
        let mut states = BTreeMap::new();
        states.insert((Kind::Data, ObjectState::Drifted), 2);
        m.set_objects(&states);
        let before = m.encode().unwrap();
        assert!(!before.contains("last_applied_revision_info{"), "{before}");
        assert!(
            before.contains("immuta_gitops_sync_healthy 0\n"),
            "{before}"
        );
        m.set_revision("0123abcd");
        m.set_sync(true, 0);
        m.set_sweep_progress(300, 1200);
        m.inc_sweeps_completed();
        let text = m.encode().unwrap();
        for want in [
            "# TYPE immuta_gitops_reconcile counter",
            "immuta_gitops_reconcile_total{result=\"applied\"} 1",
            "immuta_gitops_reconcile_total{result=\"failed\"} 0",
            "# TYPE immuta_gitops_reconcile_duration_seconds histogram",
            "immuta_gitops_reconcile_duration_seconds_count 1",
            "immuta_gitops_objects{kind=\"data\",state=\"drifted\"} 2",
            "immuta_gitops_drift_total 1",
            "# TYPE immuta_gitops_last_applied_revision info",
            "immuta_gitops_last_applied_revision_info{revision=\"0123abcd\"} 1",
            "# TYPE immuta_gitops_api_requests counter",
            "immuta_gitops_notifications_failed_total 0",
            "immuta_gitops_notifications_sent_total 0",
            "# TYPE immuta_gitops_sync_healthy gauge",
            "immuta_gitops_sync_healthy 1\n",
            "immuta_gitops_consecutive_failures 0\n",
            "# TYPE immuta_gitops_concurrency_limit gauge",
            "immuta_gitops_concurrency_limit 8\n",
            "# TYPE immuta_gitops_concurrency_decreases counter",
            "immuta_gitops_concurrency_decreases_total 0\n",
            "# TYPE immuta_gitops_drift_sweep_checked_objects gauge",
            "immuta_gitops_drift_sweep_checked_objects 300\n",
            "immuta_gitops_drift_sweep_objects 1200\n",
            "# TYPE immuta_gitops_drift_sweeps_completed counter",
            "immuta_gitops_drift_sweeps_completed_total 1\n",
        ] {
            assert!(text.contains(want), "missing {want:?} in:\n{text}");
        }
        assert!(text.ends_with("# EOF\n"));
        assert!(!text.contains("k3y-value"));
    }
}
