//! Adaptive concurrency of the one request path (issue 15): an AIMD limit on requests in
//! flight, between 1 and `--concurrency`, shared by every clone of a [`super::Client`].
//!
//! Input: one [`Answer`] per HTTP attempt (its status or none, and how long it took),
//! tagged with the generation it started in. Output: [`Limiter::acquire`] waits for a
//! place under the current limit; [`Limiter::status`] reports it. It never sends, delays
//! or repeats a request itself: it only decides how many may be in flight at once.
//!
//! # Signals
//! - **Throttled**: a 429 (Immuta's rate limit) or a 503 (what its load balancers answer
//!   under load).
//! - **Slow**: an answer that took more than [`LATENCY_FACTOR`] × the smoothed floor of its
//!   endpoint *and* at least [`LATENCY_SLACK`] more than it. The floor is kept per route
//!   template and dry-run flag ([`Endpoint`]): a data-source dry run queries the customer's
//!   warehouse and is legitimately slower than a list page, and a blocking data-source
//!   create (`wait=60`) slower still. A floor follows a faster answer at once and creeps
//!   towards slower ones by 1/[`FLOOR_CREEP`] of the gap, so an endpoint that became slower
//!   for good stops counting as slow after a few dozen answers. It signals nothing before
//!   [`FLOOR_WARMUP`] answers. The slack keeps scheduling noise on a fast endpoint (0.3 ms
//!   → 1 ms on localhost) from counting: a 3× climb that costs less than a tenth of a
//!   second is not what overloads a tenant.
//! - Attempts that got no answer (connection refused, reset, timeout) are neither healthy
//!   nor a signal: they say nothing about load that the retry policy does not handle.
//!
//! # Rules
//! 1. The limit starts at the maximum: a healthy tenant sees exactly today's concurrency.
//! 2. Answers are judged in **windows**: a window closes when `max(limit, MIN_WINDOW)`
//!    answers of attempts that started in the current generation are in. Answers of
//!    attempts sent before the last change are ignored (a burst of 429s from one window
//!    halves the limit once, not down to 1), but still train the latency floors.
//! 3. When at least half of a window's answers were signals (throttled or slow), the limit
//!    is halved (**multiplicative decrease**, never below 1). Otherwise it grows by one
//!    (**additive increase**, never above the maximum). Every window close starts a new
//!    generation.
//!
//! Why a share of the window and not "any 429": a tenant shared with other clients
//! throttles some requests whatever this client does, and the emulator's
//! `--throttle-rate 0.3` does exactly that. With "halve on any counted 429", 30 % random
//! 429s close almost every window with a decrease while an increase needs a whole window
//! of successes, so the limit sinks to 1–3 and throughput falls to about a sixth of what
//! the fixed limit achieves. Real overload shows differently: once the tenant is past
//! its capacity, most answers are 429s or slow, and the limit halves within one window.
//! The measured figures are in the README ("Performance").
//!
//! # Retries keep their place
//! A request waiting out a `Retry-After` keeps its permit: the server asked this client
//! to slow down, so handing the place to another request would send a new one exactly
//! when told not to; the retry also keeps its turn instead of queueing behind newer
//! requests, which keeps it inside its total time budget ([`super::RetryPolicy::max_elapsed`]).
//!
//! # Mechanics
//! A tokio [`Semaphore`] holds the free places; an acquired permit is forgotten and given
//! back by [`Permit`]'s `Drop`. A decrease forgets the free places it can and records the
//! rest as debt, paid by the next permits given back (they are dropped instead of
//! returned), so requests already in flight finish undisturbed and no new one starts
//! until fewer than `limit` are in flight. No polling, no sleeps.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use serde::Serialize;
use tokio::sync::Semaphore;

/// An answer slower than this many times its endpoint's floor may count as slow.
pub const LATENCY_FACTOR: u32 = 3;
/// ... and only when it is at least this much slower than the floor.
pub const LATENCY_SLACK: Duration = Duration::from_millis(100);
/// Answers of an endpoint before its floor is trusted.
pub const FLOOR_WARMUP: u32 = 5;
/// A slower answer moves the floor by 1/`FLOOR_CREEP` of the gap.
pub const FLOOR_CREEP: u32 = 64;
/// The smallest window: with few places, a window of one or two answers would let a
/// single random 429 halve the limit.
pub const MIN_WINDOW: usize = 8;

/// Which latency floor an answer trains: the route template and whether it was a dry run.
pub type Endpoint = (&'static str, bool);

/// How one attempt ended, as the limiter sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Answer {
    /// An HTTP answer with this status, after this long.
    Status(u16, Duration),
    /// No answer (connection failure, timeout).
    Lost,
}

/// Why the limit went down.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reason {
    /// Most signals of the window were 429 or 503 answers.
    Throttled,
    /// Most signals of the window were slow answers.
    Latency,
}

impl Reason {
    /// The log word.
    pub fn as_str(self) -> &'static str {
        match self {
            Reason::Throttled => "429/503",
            Reason::Latency => "latency",
        }
    }
}

/// A change of the limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    /// Halved.
    Decrease {
        /// The limit before.
        from: usize,
        /// The limit now.
        to: usize,
        /// Why.
        reason: Reason,
    },
    /// Grown by one.
    Increase {
        /// The limit before.
        from: usize,
        /// The limit now.
        to: usize,
    },
}

/// The concurrency in use, for `/status` and the metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub struct ConcurrencyStatus {
    /// Requests allowed in flight now.
    pub limit: usize,
    /// `--concurrency`: the limit never goes above it.
    pub max: usize,
    /// Requests in flight now (retries waiting out a `Retry-After` included).
    pub in_flight: usize,
    /// Decreases since start.
    pub decreases: u64,
    /// Increases since start.
    pub increases: u64,
}

/// The smoothed latency floor of one endpoint.
#[derive(Debug, Clone, Copy, Default)]
struct Floor {
    value: Duration,
    samples: u32,
}

impl Floor {
    /// Whether `latency` is slow against this floor (before learning from it).
    fn is_slow(&self, latency: Duration) -> bool {
        self.samples >= FLOOR_WARMUP
            && latency > self.value.saturating_mul(LATENCY_FACTOR)
            && latency.saturating_sub(self.value) >= LATENCY_SLACK
    }

    fn learn(&mut self, latency: Duration) {
        if self.samples == 0 || latency < self.value {
            self.value = latency;
        } else {
            self.value += (latency - self.value) / FLOOR_CREEP;
        }
        self.samples = self.samples.saturating_add(1);
    }
}

/// The AIMD rules, without the semaphore: a pure state machine tested on literal
/// sequences of answers.
#[derive(Debug)]
pub struct Rules {
    limit: usize,
    max: usize,
    generation: u64,
    healthy: usize,
    throttled: usize,
    slow: usize,
    decreases: u64,
    increases: u64,
    floors: HashMap<Endpoint, Floor>,
}

impl Rules {
    /// Rules for at most `max` requests in flight (at least 1), starting at `max`.
    pub fn new(max: usize) -> Rules {
        let max = max.max(1);
        Rules {
            limit: max,
            max,
            generation: 0,
            healthy: 0,
            throttled: 0,
            slow: 0,
            decreases: 0,
            increases: 0,
            floors: HashMap::new(),
        }
    }

    /// The limit now.
    pub fn limit(&self) -> usize {
        self.limit
    }

    /// The generation an attempt sent now belongs to.
    pub fn generation(&self) -> u64 {
        self.generation
    }

    /// Takes in the answer of an attempt sent in `generation`; returns the change of the
    /// limit it caused, if any.
    pub fn observe(
        &mut self,
        generation: u64,
        endpoint: Endpoint,
        answer: Answer,
    ) -> Option<Change> {
        let Answer::Status(status, latency) = answer else {
            return None;
        };
        let throttled = matches!(status, 429 | 503);
        let mut slow = false;
        if !throttled {
            let floor = self.floors.entry(endpoint).or_default();
            slow = floor.is_slow(latency);
            floor.learn(latency);
        }
        if generation != self.generation {
            return None;
        }
        match (throttled, slow) {
            (true, _) => self.throttled += 1,
            (false, true) => self.slow += 1,
            (false, false) => self.healthy += 1,
        }
        let answers = self.healthy + self.throttled + self.slow;
        if answers < self.limit.max(MIN_WINDOW) {
            return None;
        }
        let signals = self.throttled + self.slow;
        let reason = if self.throttled >= self.slow {
            Reason::Throttled
        } else {
            Reason::Latency
        };
        self.generation += 1;
        self.healthy = 0;
        self.throttled = 0;
        self.slow = 0;
        let from = self.limit;
        if signals * 2 >= answers {
            self.limit = (from / 2).max(1);
            if self.limit == from {
                return None;
            }
            self.decreases += 1;
            Some(Change::Decrease {
                from,
                to: self.limit,
                reason,
            })
        } else if from < self.max {
            self.limit = from + 1;
            self.increases += 1;
            Some(Change::Increase {
                from,
                to: self.limit,
            })
        } else {
            None
        }
    }
}

/// The shared limiter. Cheap to clone; clones share the limit and the places.
#[derive(Debug, Clone)]
pub struct Limiter {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    places: Semaphore,
    state: Mutex<State>,
}

#[derive(Debug)]
struct State {
    rules: Rules,
    in_flight: usize,
    /// Places to drop instead of giving back, after a decrease found too few free.
    debt: usize,
}

/// A place in flight; dropping it gives the place back (or pays a decrease's debt).
#[derive(Debug)]
pub struct Permit {
    inner: Arc<Inner>,
}

/// The limiter's semaphore was closed (it never is: an internal invariant).
#[derive(Debug, thiserror::Error)]
#[error("the concurrency limiter is closed")]
pub struct Closed;

impl Limiter {
    /// A limiter for at most `max` requests in flight (at least 1).
    pub fn new(max: usize) -> Limiter {
        let rules = Rules::new(max);
        Limiter {
            inner: Arc::new(Inner {
                places: Semaphore::new(rules.limit()),
                state: Mutex::new(State {
                    rules,
                    in_flight: 0,
                    debt: 0,
                }),
            }),
        }
    }

    fn state(&self) -> MutexGuard<'_, State> {
        lock(&self.inner.state)
    }

    /// Waits for a place under the current limit.
    ///
    /// # Errors
    /// [`Closed`] if the semaphore was closed, which nothing does.
    pub async fn acquire(&self) -> Result<Permit, Closed> {
        let permit = self.inner.places.acquire().await.map_err(|_| Closed)?;
        permit.forget();
        self.state().in_flight += 1;
        Ok(Permit {
            inner: self.inner.clone(),
        })
    }

    /// The generation of an attempt sent now.
    pub fn generation(&self) -> u64 {
        self.state().rules.generation()
    }

    /// Takes in an attempt's answer and applies the change it causes, logging it.
    pub fn observe(&self, generation: u64, endpoint: Endpoint, answer: Answer) {
        let (change, max) = {
            let mut st = self.state();
            let change = st.rules.observe(generation, endpoint, answer);
            match change {
                Some(Change::Decrease { from, to, .. }) => {
                    let cut = from - to;
                    let freed = self.inner.places.forget_permits(cut);
                    st.debt += cut - freed;
                }
                Some(Change::Increase { .. }) => {
                    if st.debt > 0 {
                        st.debt -= 1;
                    } else {
                        self.inner.places.add_permits(1);
                    }
                }
                None => {}
            }
            (change, st.rules.max)
        };
        log(change, max);
    }

    /// The limit, the maximum, the requests in flight and the changes so far.
    pub fn status(&self) -> ConcurrencyStatus {
        let st = self.state();
        ConcurrencyStatus {
            limit: st.rules.limit,
            max: st.rules.max,
            in_flight: st.in_flight,
            decreases: st.rules.decreases,
            increases: st.rules.increases,
        }
    }
}

impl Drop for Permit {
    fn drop(&mut self) {
        let mut st = lock(&self.inner.state);
        st.in_flight = st.in_flight.saturating_sub(1);
        if st.debt > 0 {
            st.debt -= 1;
        } else {
            self.inner.places.add_permits(1);
        }
    }
}

/// The state stays consistent under a poisoned lock: every update is a few integer
/// steps that cannot panic halfway.
fn lock(m: &Mutex<State>) -> MutexGuard<'_, State> {
    match m.lock() {
        Ok(g) => g,
        Err(poisoned) => poisoned.into_inner(),
    }
}

/// Debug on every change; info when the limit leaves the maximum (the first drop of a
/// run, and of every later episode), so an operator sees why a sync slowed down.
fn log(change: Option<Change>, max: usize) {
    match change {
        Some(Change::Decrease { from, to, reason }) if from == max => tracing::info!(
            limit = to,
            max,
            reason = reason.as_str(),
            "Immuta is under load: lowering request concurrency"
        ),
        Some(Change::Decrease { from, to, reason }) => tracing::debug!(
            from,
            limit = to,
            max,
            reason = reason.as_str(),
            "request concurrency lowered"
        ),
        Some(Change::Increase { from, to }) => {
            tracing::debug!(from, limit = to, max, "request concurrency raised");
        }
        None => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIST: Endpoint = ("GET /project", false);
    const DRY: Endpoint = ("POST /api/v2/data", true);

    fn ok(ms: u64) -> Answer {
        Answer::Status(200, Duration::from_millis(ms))
    }

    fn throttled() -> Answer {
        Answer::Status(429, Duration::from_millis(1))
    }

    /// Feeds `answers` all sent in the rules' current generation; returns the changes.
    fn window(r: &mut Rules, endpoint: Endpoint, answers: &[Answer]) -> Vec<Change> {
        let g = r.generation();
        answers
            .iter()
            .filter_map(|a| r.observe(g, endpoint, *a))
            .collect()
    }

    #[test]
    fn a_burst_of_429s_from_one_window_halves_once() {
        let mut r = Rules::new(16);
        let g = r.generation();
        let mut changes = Vec::new();
        for _ in 0..40 {
            changes.extend(r.observe(g, LIST, throttled()));
        }
        assert_eq!(
            changes,
            [Change::Decrease {
                from: 16,
                to: 8,
                reason: Reason::Throttled
            }]
        );
        assert_eq!(
            r.limit(),
            8,
            "answers sent before the decrease do not count"
        );
    }

    #[test]
    fn halving_stops_at_one_and_503_counts_like_429() {
        let mut r = Rules::new(16);
        let mut limits = Vec::new();
        for _ in 0..6 {
            window(&mut r, LIST, &[Answer::Status(503, Duration::ZERO); 16]);
            limits.push(r.limit());
        }
        assert_eq!(limits, [8, 4, 2, 1, 1, 1]);
        assert_eq!(r.decreases, 4);
    }

    #[test]
    fn a_healthy_window_adds_one_up_to_the_maximum() {
        let mut r = Rules::new(4);
        window(&mut r, LIST, &[throttled(); 8]);
        window(&mut r, LIST, &[throttled(); 8]);
        assert_eq!(r.limit(), 1);
        let mut limits = Vec::new();
        for _ in 0..5 {
            // A window is at least MIN_WINDOW answers, even when the limit is lower.
            assert!(window(&mut r, LIST, &[ok(5); MIN_WINDOW - 1]).is_empty());
            window(&mut r, LIST, &[ok(5)]);
            limits.push(r.limit());
        }
        assert_eq!(limits, [2, 3, 4, 4, 4], "never above the maximum");
        assert_eq!(r.increases, 3);
    }

    #[test]
    fn a_minority_of_429s_is_noise_and_a_majority_is_load() {
        let mut r = Rules::new(16);
        // 5 of 16 throttled (31 %): the window still counts as healthy.
        let mut w = vec![ok(5); 11];
        w.extend([throttled(); 5]);
        assert!(
            window(&mut r, LIST, &w).is_empty(),
            "at the maximum already"
        );
        assert_eq!(r.limit(), 16);
        // 8 of 16: half the window, the limit halves.
        let mut w = vec![ok(5); 8];
        w.extend([throttled(); 8]);
        assert_eq!(
            window(&mut r, LIST, &w),
            [Change::Decrease {
                from: 16,
                to: 8,
                reason: Reason::Throttled
            }]
        );
        let mut w = vec![ok(5); 6];
        w.extend([throttled(); 2]);
        assert_eq!(
            window(&mut r, LIST, &w),
            [Change::Increase { from: 8, to: 9 }]
        );
    }

    #[test]
    fn stale_answers_train_floors_but_never_change_the_limit() {
        let mut r = Rules::new(8);
        window(&mut r, LIST, &[throttled(); 8]);
        assert_eq!(r.limit(), 4);
        for _ in 0..100 {
            assert_eq!(r.observe(0, LIST, throttled()), None);
            assert_eq!(r.observe(0, LIST, ok(5)), None);
        }
        assert_eq!(r.limit(), 4);
        assert_eq!(r.floors[&LIST].samples, 100);
        assert_eq!(r.generation(), 1);
    }

    #[test]
    fn lost_answers_are_neither_healthy_nor_signals() {
        let mut r = Rules::new(8);
        for _ in 0..100 {
            assert_eq!(r.observe(0, LIST, Answer::Lost), None);
        }
        assert_eq!((r.limit(), r.generation()), (8, 0));
    }

    #[test]
    fn latency_is_judged_against_the_floor_of_its_own_endpoint() {
        let mut r = Rules::new(16);
        // Lists answer in 20 ms; dry runs in 400 ms: both are their endpoint's normal.
        for _ in 0..FLOOR_WARMUP {
            r.observe(99, LIST, ok(20));
            r.observe(99, DRY, ok(400));
        }
        assert!(window(&mut r, DRY, &[ok(450); 16]).is_empty());
        assert_eq!(r.limit(), 16, "a dry run at 450 ms is not slow");
        // A list at 400 ms is 20× its floor: a window of them halves the limit.
        assert_eq!(
            window(&mut r, LIST, &[ok(400); 16]),
            [Change::Decrease {
                from: 16,
                to: 8,
                reason: Reason::Latency
            }]
        );
        // 3× of a 1 ms floor is noise, not load: below the slack.
        let fast: Endpoint = ("GET /governance/purpose", false);
        for _ in 0..FLOOR_WARMUP {
            r.observe(99, fast, ok(1));
        }
        assert_eq!(
            window(&mut r, fast, &[ok(50); 8]),
            [Change::Increase { from: 8, to: 9 }]
        );
    }

    #[test]
    fn no_latency_signal_before_the_floor_is_warm() {
        let mut r = Rules::new(16);
        r.observe(99, LIST, ok(10));
        let mut w = vec![ok(900); FLOOR_WARMUP as usize - 1];
        w.extend(vec![ok(10); 16 - w.len()]);
        assert!(window(&mut r, LIST, &w).is_empty(), "{:?}", r.limit());
        assert_eq!(r.limit(), 16);
    }

    #[test]
    fn the_floor_follows_faster_answers_at_once_and_slower_ones_slowly() {
        let mut f = Floor::default();
        f.learn(Duration::from_millis(100));
        f.learn(Duration::from_millis(40));
        assert_eq!(f.value, Duration::from_millis(40));
        f.learn(Duration::from_millis(40 + 64));
        assert_eq!(f.value, Duration::from_millis(41));
        for _ in 0..1000 {
            f.learn(Duration::from_secs(1));
        }
        assert!(
            !f.is_slow(Duration::from_secs(1)),
            "a new normal stops being slow"
        );
    }

    #[tokio::test]
    async fn a_decrease_waits_for_requests_in_flight_and_admits_none_above_the_limit() {
        let l = Limiter::new(4);
        let held: Vec<Permit> = futures::future::join_all((0..4).map(|_| l.acquire()))
            .await
            .into_iter()
            .map(Result::unwrap)
            .collect();
        let g = l.generation();
        for _ in 0..MIN_WINDOW {
            l.observe(g, LIST, throttled());
        }
        assert_eq!(
            l.status(),
            ConcurrencyStatus {
                limit: 2,
                max: 4,
                in_flight: 4,
                decreases: 1,
                increases: 0
            }
        );
        let mut held = held.into_iter();
        drop(held.next());
        drop(held.next());
        let waiting = l.acquire();
        tokio::pin!(waiting);
        assert!(
            futures::poll!(waiting.as_mut()).is_pending(),
            "2 in flight at a limit of 2: no place"
        );
        drop(held.next());
        let third = waiting.await.unwrap();
        assert_eq!(l.status().in_flight, 2);
        // A healthy window gives one place back.
        let g = l.generation();
        for _ in 0..MIN_WINDOW {
            l.observe(g, LIST, ok(5));
        }
        assert_eq!(l.status().limit, 3);
        let fourth = l.acquire().await.unwrap();
        assert_eq!(l.status().in_flight, 3);
        let fifth = l.acquire();
        tokio::pin!(fifth);
        assert!(futures::poll!(fifth.as_mut()).is_pending());
        drop((third, fourth, held));
        drop(fifth.await.unwrap());
        assert_eq!(l.status().in_flight, 0);
        // All four places exist again once the limit is back at the maximum.
        let g = l.generation();
        for _ in 0..MIN_WINDOW {
            l.observe(g, LIST, ok(5));
        }
        let all: Vec<_> = futures::future::join_all((0..4).map(|_| l.acquire())).await;
        assert_eq!(l.status().in_flight, 4);
        assert_eq!(l.status().limit, 4);
        drop(all);
    }
}
