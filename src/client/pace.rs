//! Pacing of data-source dry runs (`--dry-run-budget`, issue 15).
//!
//! Every `POST /api/v2/data?dryRun=true` makes Immuta query the customer's warehouse, so
//! the daemon's drift sweep spreads them out: a [`Pacer`] lets one request go at a time,
//! each at least `per ÷ count` ([`Budget::spacing`]) after the one before, measured from
//! when that one really went. So in any window of length `per` at most `count + 1` dry
//! runs start (the `+ 1` is the one at the window's edge), even when the process stalls:
//! slots are not reserved ahead, so a stall (no free in-flight place, a busy runtime)
//! delays the next request instead of releasing the slots that passed together. Waiters
//! are served in call order (tokio's mutex is fair). Retries of a paced request are paced
//! too: each attempt reaches the warehouse. The client takes its in-flight place inside
//! the pacer's turn ([`Pacer::admit`]), so a request is let go only when it can be sent.
//!
//! Input: a [`Budget`] (parsed from `300/min`, `5/s`, `1000/h`, `300/90s`). Output:
//! [`Pacer::wait`], which returns when the caller may send. The clock is tokio's, so a
//! test with a paused clock checks the budget without waiting for it.

use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;

/// At most `count` paced requests per `per`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Budget {
    count: u32,
    per: Duration,
}

/// The default `--dry-run-budget`. Five warehouse metadata queries a second: the
/// 1,200-connection reference workload is swept in 4 minutes, inside the default
/// 5-minute interval, and a warehouse never sees more than 5 new dry-run queries a second
/// from this tool, well under the 8 statements an X-Small Snowflake warehouse runs at
/// once before it queues (`MAX_CONCURRENCY_LEVEL`, default 8).
pub const DEFAULT_BUDGET: Budget = Budget {
    count: 300,
    per: Duration::from_secs(60),
};

impl Budget {
    /// `count` requests per `per` (both at least 1).
    pub fn new(count: u32, per: Duration) -> Budget {
        Budget {
            count: count.max(1),
            per: per.max(Duration::from_millis(1)),
        }
    }

    /// Requests allowed per window.
    pub fn count(&self) -> u32 {
        self.count
    }

    /// The window.
    pub fn per(&self) -> Duration {
        self.per
    }

    /// The time between two send slots.
    pub fn spacing(&self) -> Duration {
        self.per / self.count
    }

    /// Requests allowed per second.
    pub fn per_second(&self) -> f64 {
        f64::from(self.count) / self.per.as_secs_f64()
    }

    /// How long `n` paced requests take at least.
    pub fn time_for(&self, n: usize) -> Duration {
        let n = u32::try_from(n).unwrap_or(u32::MAX);
        self.spacing().saturating_mul(n)
    }
}

impl std::fmt::Display for Budget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.per.as_secs() {
            1 if self.per.subsec_nanos() == 0 => write!(f, "{}/s", self.count),
            60 if self.per.subsec_nanos() == 0 => write!(f, "{}/min", self.count),
            3600 if self.per.subsec_nanos() == 0 => write!(f, "{}/h", self.count),
            _ => write!(f, "{}/{}", self.count, humantime::format_duration(self.per)),
        }
    }
}

impl FromStr for Budget {
    type Err = String;

    fn from_str(s: &str) -> Result<Budget, String> {
        let bad = || {
            format!(
                "{s:?} is not a budget: write COUNT/PERIOD, e.g. 300/min, 5/s, 1000/h or 300/90s"
            )
        };
        let (count, per) = s.trim().split_once('/').ok_or_else(bad)?;
        let count: u32 = count.trim().parse().map_err(|_| bad())?;
        if count == 0 {
            return Err(format!("{s:?}: the budget must allow at least one request"));
        }
        let per = match per.trim() {
            "s" | "sec" | "second" => Duration::from_secs(1),
            "m" | "min" | "minute" => Duration::from_secs(60),
            "h" | "hour" => Duration::from_secs(3600),
            other => humantime::parse_duration(other).map_err(|_| bad())?,
        };
        if per < Duration::from_millis(1) || per > Duration::from_secs(86_400) {
            return Err(format!("{s:?}: the period must be between 1ms and 24h"));
        }
        Ok(Budget { count, per })
    }
}

/// Lets paced requests go at a [`Budget`]. Cheap to clone; clones share the pace.
#[derive(Debug, Clone)]
pub struct Pacer {
    budget: Budget,
    /// When the last paced request was let go; held across the wait, so waiters go one
    /// at a time.
    last: Arc<tokio::sync::Mutex<Option<Instant>>>,
}

impl Pacer {
    /// A pacer that lets the first request go at once.
    pub fn new(budget: Budget) -> Pacer {
        Pacer {
            budget,
            last: Arc::new(tokio::sync::Mutex::new(None)),
        }
    }

    /// The budget.
    pub fn budget(&self) -> Budget {
        self.budget
    }

    /// Waits until the caller may send: [`Budget::spacing`] after the previous caller was
    /// let go. A pacer left idle does not save slots up (no burst).
    pub async fn wait(&self) {
        self.admit(async {}).await;
    }

    /// [`Pacer::wait`], then `ready` (the caller's in-flight place), while no other
    /// paced request may go: the request is let go, and the time taken, only once it
    /// can really be sent. Waiting callers hold no place meanwhile.
    pub async fn admit<F: std::future::Future>(&self, ready: F) -> F::Output {
        let mut last = self.last.lock().await;
        if let Some(at) = *last {
            if let Some(next) = at.checked_add(self.budget.spacing()) {
                tokio::time::sleep_until(next).await;
            }
        }
        let out = ready.await;
        *last = Some(Instant::now());
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn budgets_parse_and_print() {
        let b: Budget = "300/min".parse().unwrap();
        assert_eq!((b.count(), b.per()), (300, Duration::from_secs(60)));
        assert_eq!(b.spacing(), Duration::from_millis(200));
        assert_eq!(b.to_string(), "300/min");
        assert_eq!("5/s".parse::<Budget>().unwrap().to_string(), "5/s");
        assert_eq!("1000/h".parse::<Budget>().unwrap().to_string(), "1000/h");
        assert_eq!(
            "300/90s".parse::<Budget>().unwrap().per(),
            Duration::from_secs(90)
        );
        assert_eq!(DEFAULT_BUDGET.to_string(), "300/min");
        for bad in [
            "",
            "300",
            "0/min",
            "x/min",
            "5/fortnight",
            "5/0s",
            "-1/s",
            "5/400days",
        ] {
            let e = bad.parse::<Budget>().unwrap_err();
            assert!(e.contains(&format!("{bad:?}")), "{bad}: {e}");
        }
    }

    #[tokio::test(start_paused = true)]
    async fn slots_are_spaced_by_the_budget_and_idle_time_is_not_saved_up() {
        let pacer = Pacer::new("5/s".parse().unwrap());
        let start = Instant::now();
        let mut starts = Vec::new();
        let tasks: Vec<_> = (0..11)
            .map(|_| {
                let p = pacer.clone();
                tokio::spawn(async move {
                    p.wait().await;
                    Instant::now()
                })
            })
            .collect();
        for t in tasks {
            starts.push(t.await.unwrap() - start);
        }
        starts.sort();
        // 11 requests at 5/s: slots at 0, 200 ms, ..., 2 s.
        assert_eq!(starts.last(), Some(&Duration::from_secs(2)));
        for w in starts.windows(2) {
            assert_eq!(w[1] - w[0], Duration::from_millis(200));
        }
        // In any one-second window at most count + 1 starts.
        for s in &starts {
            let within = starts
                .iter()
                .filter(|t| **t >= *s && **t < *s + Duration::from_secs(1))
                .count();
            assert!(within <= 5, "{within} starts in a second from {s:?}");
        }
        // Ten idle seconds buy no burst: the next two slots are 200 ms apart.
        tokio::time::sleep(Duration::from_secs(10)).await;
        let t0 = Instant::now();
        pacer.wait().await;
        pacer.wait().await;
        assert_eq!(Instant::now() - t0, Duration::from_millis(200));
    }

    #[tokio::test(start_paused = true)]
    async fn a_stall_delays_the_next_request_instead_of_releasing_a_burst() {
        let pacer = Pacer::new("5/s".parse().unwrap());
        pacer.wait().await;
        // Three callers queue, then the runtime does not poll them for two seconds
        // (simulated: a task holds the thread without yielding to the timer).
        let waiters: Vec<_> = (0..3)
            .map(|_| {
                let p = pacer.clone();
                tokio::spawn(async move {
                    p.wait().await;
                    Instant::now()
                })
            })
            .collect();
        tokio::time::advance(Duration::from_secs(2)).await;
        let mut went = Vec::new();
        for w in waiters {
            went.push(w.await.unwrap());
        }
        went.sort();
        for w in went.windows(2) {
            assert!(w[1] - w[0] >= Duration::from_millis(200), "{went:?}");
        }
    }
}
