//! The reconcile loop: waits for a trigger (timer, webhook, file change), runs one cycle
//! at a time, schedules the next one, and drains on shutdown.
//!
//! Input: a [`Reconcile`] step, the [`Schedule`], the [`Backoff`] and the
//! [`TriggerQueue`]. Output: the loop's end, after a clean drain. It knows nothing of Git
//! or Immuta (the step does), so its rules are tested with a fake step.
//!
//! Guarantees:
//! 1. Cycles never overlap; triggers that arrive during one coalesce into exactly one
//!    follow-up, started as soon as it ends.
//! 2. After a failure the next timed cycle waits for the backoff (10 s → 10 min); after a
//!    success, for the jittered interval. Webhooks and file changes do not wait, nor does
//!    the next chunk of a drift sweep (the step asks for it with [`Trigger::Sweep`], the
//!    weakest trigger, so any other pending one runs first). After a cycle an apply
//!    window blocked, no longer than until the window opens.
//! 3. On shutdown (the token is cancelled) no new cycle starts, the step sees the same
//!    token cancelled (apply starts no new object), and a running cycle gets up to
//!    `grace` to finish before it is dropped.

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::schedule::{Backoff, Schedule};
use super::server::Shared;
use super::status::{self, CycleResult};
use super::trigger::{Trigger, TriggerQueue};
use crate::limits::later;

/// One cycle, as the loop sees it.
pub trait Reconcile {
    /// Runs one cycle. `cancel` is cancelled on shutdown: the step must then start no
    /// new write, and return once writes in flight finished.
    ///
    /// No `Send` bound: the loop runs on the caller's task, so a step may hold
    /// thread-bound values across awaits.
    fn reconcile(
        &mut self,
        trigger: Trigger,
        cancel: CancellationToken,
    ) -> impl Future<Output = CycleResult>;
}

/// The loop's inputs.
#[derive(Debug)]
pub struct Runner {
    /// When timed cycles run.
    pub schedule: Schedule,
    /// Waits after failures.
    pub backoff: Backoff,
    /// Webhook and watch triggers.
    pub queue: Arc<TriggerQueue>,
    /// Where `next_run_at` is published.
    pub shared: Arc<Shared>,
    /// Cancelled on shutdown; passed to every cycle.
    pub shutdown: CancellationToken,
    /// How long a running cycle may take to finish after shutdown.
    pub grace: Duration,
}

impl Runner {
    /// Runs cycles until shutdown. The first cycle starts at once.
    pub async fn run<R: Reconcile>(mut self, step: &mut R) {
        self.queue.request(Trigger::Startup);
        // No timed cycle before the first one has run and set the real deadline.
        let mut next_at = later(
            Instant::now(),
            Duration::from_secs(365 * 24 * 3600),
            Instant::checked_add,
        );
        loop {
            let trigger = tokio::select! {
                biased;
                () = self.shutdown.cancelled() => break,
                t = self.queue.next() => t,
                () = tokio::time::sleep_until(next_at) => Trigger::Schedule,
            };
            // A timer tick while a request is pending runs once, as the stronger trigger.
            let trigger = self.queue.take().map_or(trigger, |t| t.max(trigger));
            let Some(result) = self.run_one(step, trigger).await else {
                break;
            };
            super::memory::release_free_memory();
            if self.shutdown.is_cancelled() {
                break;
            }
            let mut wait = if result == CycleResult::Failed {
                self.backoff.next().unwrap_or(super::schedule::BACKOFF_MAX)
            } else {
                self.backoff.reset();
                self.schedule.next_poll()
            };
            if result == CycleResult::Blocked {
                // Changes wait for a window: plan again the moment it opens.
                if let Some(open) = self.shared.gate.until_next_change() {
                    wait = wait.min(open);
                }
            }
            next_at = later(Instant::now(), wait, Instant::checked_add);
            let when = status::timestamp(later(SystemTime::now(), wait, SystemTime::checked_add));
            self.shared.update_status(|s| s.next_run_at = Some(when));
            tracing::debug!(wait = %humantime::format_duration(round_ms(wait)), "next scheduled cycle");
        }
        self.queue.close();
        self.shared.update_status(|s| s.next_run_at = None);
    }

    /// One cycle; on shutdown mid-cycle, waits up to the grace period. `None` when the
    /// cycle had to be dropped.
    async fn run_one<R: Reconcile>(
        &mut self,
        step: &mut R,
        trigger: Trigger,
    ) -> Option<CycleResult> {
        let fut = step.reconcile(trigger, self.shutdown.clone());
        tokio::pin!(fut);
        let shutdown = self.shutdown.clone();
        tokio::select! {
            biased;
            r = &mut fut => Some(r),
            () = shutdown.cancelled() => {
                tracing::info!(grace = %humantime::format_duration(self.grace), "shutdown: letting the running cycle finish its writes in flight");
                match tokio::time::timeout(self.grace, &mut fut).await {
                    Ok(r) => Some(r),
                    Err(_) => {
                        tracing::warn!("grace period over: abandoning the running cycle");
                        None
                    }
                }
            }
        }
    }
}

fn round_ms(d: Duration) -> Duration {
    Duration::from_millis(u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::daemon::metrics::Metrics;
    use crate::daemon::schedule::BACKOFF_MIN;
    use crate::daemon::status::Status;
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Mutex;
    use tokio::sync::mpsc;

    /// Records triggers; each cycle waits for a `go` message, then returns a scripted result.
    struct Fake {
        started: mpsc::UnboundedSender<Trigger>,
        go: mpsc::UnboundedReceiver<CycleResult>,
        saw_stop: Arc<AtomicBool>,
    }

    impl Reconcile for Fake {
        fn reconcile(
            &mut self,
            trigger: Trigger,
            cancel: CancellationToken,
        ) -> impl Future<Output = CycleResult> {
            let _ = self.started.send(trigger);
            async move {
                let r = self.go.recv().await.unwrap_or(CycleResult::InSync);
                if cancel.is_cancelled() {
                    self.saw_stop.store(true, Ordering::SeqCst);
                }
                r
            }
        }
    }

    struct Harness {
        started: mpsc::UnboundedReceiver<Trigger>,
        go: mpsc::UnboundedSender<CycleResult>,
        queue: Arc<TriggerQueue>,
        shutdown: CancellationToken,
        saw_stop: Arc<AtomicBool>,
        done: tokio::task::JoinHandle<()>,
    }

    fn start(interval: Duration, grace: Duration) -> Harness {
        let (started_tx, started) = mpsc::unbounded_channel();
        let (go, go_rx) = mpsc::unbounded_channel();
        let shutdown = CancellationToken::new();
        let queue = TriggerQueue::closing_on(shutdown.clone());
        let saw_stop = Arc::new(AtomicBool::new(false));
        let shared = Arc::new(Shared {
            status: Mutex::new(Status::default()),
            metrics: Metrics::new(None),
            triggers: queue.clone(),
            webhook_secret: None,
            gate: Default::default(),
            follow: crate::daemon::events::Follow::AnyPush,
        });
        let runner = Runner {
            schedule: Schedule::seeded(interval, 0.0, interval, 1),
            backoff: Backoff::seeded(1),
            queue: queue.clone(),
            shared,
            shutdown: shutdown.clone(),
            grace,
        };
        let mut fake = Fake {
            started: started_tx,
            go: go_rx,
            saw_stop: saw_stop.clone(),
        };
        let done = tokio::spawn(async move { runner.run(&mut fake).await });
        Harness {
            started,
            go,
            queue,
            shutdown,
            saw_stop,
            done,
        }
    }

    /// The next cycle's trigger. The clock is paused, so the day of patience costs no real
    /// time; a runner that never starts a cycle still fails the test.
    async fn next_start(h: &mut Harness) -> Trigger {
        tokio::time::timeout(Duration::from_secs(24 * 3600), h.started.recv())
            .await
            .expect("a cycle starts")
            .expect("runner alive")
    }

    const LONG: Duration = Duration::from_secs(3600);

    #[tokio::test(start_paused = true)]
    async fn triggers_during_a_cycle_coalesce_into_one_follow_up() {
        let mut h = start(LONG, LONG);
        assert_eq!(next_start(&mut h).await, Trigger::Startup);
        // Cycle 1 is running: three requests arrive.
        h.queue.request(Trigger::Watch);
        h.queue.request(Trigger::Hook);
        h.queue.request(Trigger::Watch);
        h.go.send(CycleResult::Applied).unwrap();
        assert_eq!(next_start(&mut h).await, Trigger::Hook);
        h.go.send(CycleResult::InSync).unwrap();
        // Exactly one follow-up: nothing else starts until a new request (the clock is
        // paused: this waits most of the interval without taking any real time).
        let quiet = tokio::time::timeout(LONG / 2, h.started.recv()).await;
        assert!(quiet.is_err(), "no second follow-up");
        h.queue.request(Trigger::Watch);
        assert_eq!(next_start(&mut h).await, Trigger::Watch);
        h.go.send(CycleResult::InSync).unwrap();
        h.shutdown.cancel();
        tokio::time::timeout(Duration::from_secs(5), h.done)
            .await
            .unwrap()
            .unwrap();
    }

    #[tokio::test(start_paused = true)]
    async fn the_timer_runs_cycles_on_the_interval() {
        let interval = Duration::from_secs(300);
        let mut h = start(interval, LONG);
        assert_eq!(next_start(&mut h).await, Trigger::Startup);
        for _ in 0..2 {
            let finished = Instant::now();
            h.go.send(CycleResult::InSync).unwrap();
            assert_eq!(next_start(&mut h).await, Trigger::Schedule);
            // Paused clock: time moves only when every task waits, so this is exact.
            assert_eq!(finished.elapsed(), interval);
        }
        h.go.send(CycleResult::InSync).unwrap();
        h.shutdown.cancel();
        tokio::time::timeout(Duration::from_secs(5), h.done)
            .await
            .unwrap()
            .unwrap();
    }

    #[tokio::test(start_paused = true)]
    async fn a_failure_waits_for_the_backoff_not_the_interval() {
        let interval = Duration::from_secs(1);
        let mut h = start(interval, LONG);
        assert_eq!(next_start(&mut h).await, Trigger::Startup);
        h.go.send(CycleResult::Failed).unwrap();
        // The first backoff is at least BACKOFF_MIN (10 s), ten intervals: no timed cycle
        // before it.
        let quiet = tokio::time::timeout(BACKOFF_MIN - interval, h.started.recv()).await;
        assert!(quiet.is_err(), "failure backs off");
        // A hook still runs at once.
        h.queue.request(Trigger::Hook);
        assert_eq!(next_start(&mut h).await, Trigger::Hook);
        h.go.send(CycleResult::InSync).unwrap();
        assert_eq!(
            next_start(&mut h).await,
            Trigger::Schedule,
            "success resets to the interval"
        );
        h.go.send(CycleResult::InSync).unwrap();
        h.shutdown.cancel();
        tokio::time::timeout(Duration::from_secs(5), h.done)
            .await
            .unwrap()
            .unwrap();
    }

    #[tokio::test(start_paused = true)]
    async fn shutdown_mid_cycle_lets_it_finish_with_the_token_cancelled() {
        let mut h = start(LONG, LONG);
        assert_eq!(next_start(&mut h).await, Trigger::Startup);
        // The signal handler cancels the token.
        h.shutdown.cancel();
        tokio::task::yield_now().await;
        assert!(!h.done.is_finished(), "waits for the running cycle");
        h.go.send(CycleResult::Interrupted).unwrap();
        tokio::time::timeout(Duration::from_secs(5), &mut h.done)
            .await
            .unwrap()
            .unwrap();
        assert!(
            h.saw_stop.load(Ordering::SeqCst),
            "the cycle saw the token cancelled"
        );
        assert!(h.queue.is_closed());
    }

    #[tokio::test(start_paused = true)]
    async fn a_cycle_that_outlives_the_grace_period_is_dropped() {
        let grace = Duration::from_secs(30);
        let mut h = start(LONG, grace);
        assert_eq!(next_start(&mut h).await, Trigger::Startup);
        let asked = Instant::now();
        h.shutdown.cancel();
        // Never send `go`: the cycle hangs; the loop still ends after the grace period,
        // and not before it.
        tokio::time::timeout(Duration::from_secs(60), h.done)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(asked.elapsed(), grace);
    }
}
