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
//! 3. When more than half of a window's answers were signals (throttled or slow), the limit
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
//! Measured at `--concurrency 16` against the emulator (50 ms latency, debug build): 30 %
//! random 429s apply 24.5 objects/s with these rules, the same as a fixed limit (no
//! decrease), against 4.1 objects/s with "halve on any counted 429" (README,
//! "Performance").
//!
//! Caveat: a tenant that throttles fewer than half of the answers leaves the limit where it
//! is. Those requests still wait out their `Retry-After` holding their place (below), so
//! the load this client sends falls with the throttling anyway.
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

use std::sync::{Arc, Mutex, MutexGuard};

use serde::Serialize;
use tokio::sync::Semaphore;

mod rules;

pub use rules::{
    Answer, Change, Endpoint, Reason, Rules, FLOOR_CREEP, FLOOR_WARMUP, LATENCY_FACTOR,
    LATENCY_SLACK, MIN_WINDOW,
};

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
            (change, st.rules.max())
        };
        log(change, max);
    }

    /// The limit, the maximum, the requests in flight and the changes so far.
    pub fn status(&self) -> ConcurrencyStatus {
        let st = self.state();
        ConcurrencyStatus {
            limit: st.rules.limit(),
            max: st.rules.max(),
            in_flight: st.in_flight,
            decreases: st.rules.decreases(),
            increases: st.rules.increases(),
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
    use std::time::Duration;

    const LIST: Endpoint = ("GET /project", false);

    fn ok(ms: u64) -> Answer {
        Answer::Status(200, Duration::from_millis(ms))
    }

    fn throttled() -> Answer {
        Answer::Status(429, Duration::from_millis(1))
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
