//! Why a cycle runs, and the single-flight queue that turns any number of requests into
//! at most one pending run.
//!
//! Input: [`Trigger`]s from the webhook, the file watcher and startup. Output: one
//! [`Trigger`] at a time for the loop. The queue never runs anything itself and never
//! blocks a sender: requests made while a cycle runs coalesce into exactly one follow-up.

use std::sync::{Arc, Mutex};

use strum::{Display, IntoStaticStr, VariantArray};
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

/// The reason a cycle starts. Its name (the `trigger` of logs and `/status`) comes from
/// strum's derives: lowercase variant names.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, IntoStaticStr, Display, VariantArray,
)]
#[strum(serialize_all = "lowercase")]
pub enum Trigger {
    /// The next chunk of a running drift sweep (issue 15): the weakest request, so any
    /// other trigger pending at the same time wins and runs first.
    Sweep,
    /// The interval timer (or the backoff timer after a failure).
    Schedule,
    /// Files of a local `--repo` changed.
    Watch,
    /// The first cycle after start.
    Startup,
    /// A verified `POST /hook` from GitHub or GitLab.
    Hook,
}

impl Trigger {
    /// Whether this trigger plans even when the revision is unchanged and no drift check
    /// is due. A webhook does: it is the operator's "reconcile now".
    pub fn forces_plan(self) -> bool {
        matches!(self, Trigger::Hook)
    }

    /// The label used in logs.
    pub fn as_str(self) -> &'static str {
        self.into()
    }
}

/// A single-slot queue of pending triggers, shared by every producer and the one loop.
///
/// Guarantees: [`TriggerQueue::request`] never blocks; while a request is pending, later
/// ones merge into it (the one that forces a plan wins, so a hook is never downgraded by
/// a timer); once closed (its shutdown token cancelled), requests are refused.
#[derive(Debug, Default)]
pub struct TriggerQueue {
    pending: Mutex<Option<Trigger>>,
    notify: Notify,
    closed: CancellationToken,
}

impl TriggerQueue {
    /// An empty, open queue with a shutdown token of its own.
    pub fn new() -> Arc<Self> {
        Arc::new(TriggerQueue::default())
    }

    /// An empty queue that closes when `shutdown` is cancelled.
    pub fn closing_on(shutdown: CancellationToken) -> Arc<Self> {
        Arc::new(TriggerQueue {
            closed: shutdown,
            ..TriggerQueue::default()
        })
    }

    /// Asks for a cycle. Returns false when the queue is closed (shutting down).
    pub fn request(&self, t: Trigger) -> bool {
        if self.closed.is_cancelled() {
            return false;
        }
        if let Ok(mut p) = self.pending.lock() {
            *p = Some(match *p {
                Some(old) => old.max(t),
                None => t,
            });
        }
        self.notify.notify_one();
        true
    }

    /// Takes the pending trigger, if any, without waiting.
    pub fn take(&self) -> Option<Trigger> {
        self.pending.lock().ok().and_then(|mut p| p.take())
    }

    /// Waits until a trigger is pending and takes it.
    pub async fn next(&self) -> Trigger {
        loop {
            // Register interest before checking, so a request between the check and the
            // wait is not lost.
            let notified = self.notify.notified();
            if let Some(t) = self.take() {
                return t;
            }
            notified.await;
        }
    }

    /// Refuses every later request (pending ones are kept but no longer matter). This
    /// cancels the queue's shutdown token.
    pub fn close(&self) {
        self.closed.cancel();
    }

    /// Whether the queue is closed.
    pub fn is_closed(&self) -> bool {
        self.closed.is_cancelled()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn requests_coalesce_and_the_strongest_wins() {
        let q = TriggerQueue::new();
        assert_eq!(q.take(), None);
        q.request(Trigger::Schedule);
        q.request(Trigger::Hook);
        q.request(Trigger::Watch);
        assert_eq!(q.take(), Some(Trigger::Hook));
        assert_eq!(q.take(), None, "three requests, one pending run");
        // A sweep's next chunk never hides a commit's trigger.
        q.request(Trigger::Sweep);
        q.request(Trigger::Watch);
        q.request(Trigger::Sweep);
        assert_eq!(q.take(), Some(Trigger::Watch));
    }

    #[test]
    fn closed_queue_refuses() {
        let q = TriggerQueue::new();
        q.close();
        assert!(q.is_closed());
        assert!(!q.request(Trigger::Hook));
        assert_eq!(q.take(), None);
        let shutdown = CancellationToken::new();
        let q = TriggerQueue::closing_on(shutdown.clone());
        assert!(q.request(Trigger::Watch));
        shutdown.cancel();
        assert!(q.is_closed());
        assert!(!q.request(Trigger::Hook));
    }

    #[tokio::test]
    async fn next_wakes_on_a_request_made_before_or_after_waiting() {
        let q = TriggerQueue::new();
        q.request(Trigger::Watch);
        assert_eq!(q.next().await, Trigger::Watch);

        let q2 = q.clone();
        let waiter = tokio::spawn(async move { q2.next().await });
        tokio::task::yield_now().await;
        q.request(Trigger::Hook);
        let got = tokio::time::timeout(Duration::from_secs(5), waiter)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(got, Trigger::Hook);
    }

    #[tokio::test(start_paused = true)]
    async fn a_stale_wakeup_does_not_invent_a_trigger() {
        let q = TriggerQueue::new();
        q.request(Trigger::Schedule);
        assert_eq!(q.take(), Some(Trigger::Schedule));
        // The permit stored by the request above is still there; next() must not return
        // (paused clock: an hour of waiting costs no real time).
        let r = tokio::time::timeout(Duration::from_secs(3600), q.next()).await;
        assert!(r.is_err());
    }

    #[test]
    fn trigger_names_are_pinned() {
        let names: Vec<&str> = Trigger::VARIANTS.iter().map(|t| t.as_str()).collect();
        assert_eq!(names, ["sweep", "schedule", "watch", "startup", "hook"]);
        for t in Trigger::VARIANTS {
            assert_eq!(t.to_string(), t.as_str());
        }
    }

    #[test]
    fn only_hooks_force_a_plan() {
        assert!(Trigger::Hook.forces_plan());
        for t in [
            Trigger::Sweep,
            Trigger::Schedule,
            Trigger::Watch,
            Trigger::Startup,
        ] {
            assert!(!t.forces_plan(), "{t}");
        }
    }
}
