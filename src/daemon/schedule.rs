//! Daemon timing as plain values, kept apart from the loop so each rule is tested alone:
//! the jittered poll interval, when a drift check is due, and the failure [`Backoff`].
//!
//! Input: durations from flags and a random source. Output: [`Duration`]s to wait. This
//! module never sleeps, never reads a clock itself (callers pass elapsed times) and never
//! does I/O.
//!
//! Why jitter: replicas and tenants started together would otherwise poll Git and Immuta
//! in lockstep; spreading each wait by a random fraction breaks the stampede (cargo's
//! `retry.rs` and kube's `DefaultBackoff` jitter for the same reason).

use std::time::Duration;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// Shortest wait after a failed cycle.
pub const BACKOFF_MIN: Duration = Duration::from_secs(10);
/// Longest wait after repeated failures.
pub const BACKOFF_MAX: Duration = Duration::from_secs(600);

/// Scales `base` by `1 + spread × (2u − 1)`: a uniform spread of `±spread` around it.
///
/// `spread` is a fraction (0.1 = ±10 %), clamped to `0..=1`; `u` is a uniform sample
/// in `[0, 1)`, clamped too. The result is never negative.
pub fn spread(base: Duration, spread: f64, u: f64) -> Duration {
    let s = if spread.is_finite() {
        spread.clamp(0.0, 1.0)
    } else {
        0.0
    };
    let u = if u.is_finite() {
        u.clamp(0.0, 1.0)
    } else {
        0.5
    };
    let factor = 1.0 + s * (2.0 * u - 1.0);
    scale(base, factor)
}

/// `d × factor` for a factor ≥ 0, saturating at [`Duration::MAX`] where
/// [`Duration::mul_f64`] would panic (a negative or NaN factor gives zero).
pub fn scale(d: Duration, factor: f64) -> Duration {
    let secs = d.as_secs_f64() * factor;
    if secs.is_nan() || secs <= 0.0 {
        return Duration::ZERO;
    }
    Duration::try_from_secs_f64(secs).unwrap_or(Duration::MAX)
}

/// The poll and drift-check timing of one daemon.
#[derive(Debug)]
pub struct Schedule {
    interval: Duration,
    jitter: f64,
    drift_interval: Duration,
    rng: StdRng,
}

impl Schedule {
    /// `jitter` is a fraction of `interval` (0.1 for `--jitter 10%`).
    pub fn new(interval: Duration, jitter: f64, drift_interval: Duration) -> Self {
        Schedule {
            interval,
            jitter,
            drift_interval,
            rng: StdRng::from_os_rng(),
        }
    }

    /// Same as [`Schedule::new`] with a fixed random seed, so tests reproduce.
    pub fn seeded(interval: Duration, jitter: f64, drift_interval: Duration, seed: u64) -> Self {
        Schedule {
            interval,
            jitter,
            drift_interval,
            rng: StdRng::seed_from_u64(seed),
        }
    }

    /// The poll interval as configured.
    pub fn interval(&self) -> Duration {
        self.interval
    }

    /// The drift-check interval as configured.
    pub fn drift_interval(&self) -> Duration {
        self.drift_interval
    }

    /// The wait before the next poll after a successful cycle: the interval ± jitter.
    pub fn next_poll(&mut self) -> Duration {
        let u = self.rng.random::<f64>();
        spread(self.interval, self.jitter, u)
    }

    /// The drift-check rule of this schedule.
    ///
    /// A jittered tick may arrive up to `interval × jitter` early; that much slack is
    /// allowed so a drift interval equal to the poll interval really checks every poll
    /// instead of every second one.
    pub fn drift_rule(&self) -> DriftRule {
        let jitter = if self.jitter.is_finite() {
            self.jitter.clamp(0.0, 1.0)
        } else {
            0.0
        };
        DriftRule {
            interval: self.drift_interval,
            slack: scale(self.interval, jitter),
        }
    }
}

/// When a full drift check is due.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DriftRule {
    /// The configured drift-check interval.
    pub interval: Duration,
    /// How early a jittered tick may come and still count.
    pub slack: Duration,
}

impl DriftRule {
    /// Whether a check is due `since_check` after the last complete plan (`None`: never
    /// checked, or the clock went backwards).
    pub fn is_due(&self, since_check: Option<Duration>) -> bool {
        let Some(elapsed) = since_check else {
            return true;
        };
        elapsed >= self.interval.saturating_sub(self.slack)
    }
}

/// Exponential backoff after failures: 10 s, 20 s, 40 s … capped at 10 min, each wait
/// jittered by ±20 %, back to the start after [`Backoff::reset`] (called on success).
///
/// An [`Iterator`] that never ends, like kube's `ResetTimerBackoff`.
#[derive(Debug)]
pub struct Backoff {
    min: Duration,
    max: Duration,
    jitter: f64,
    next: Duration,
    rng: StdRng,
}

impl Default for Backoff {
    fn default() -> Self {
        Backoff::new(BACKOFF_MIN, BACKOFF_MAX, 0.2, StdRng::from_os_rng())
    }
}

impl Backoff {
    /// A backoff from `min` doubling to `max`, each step spread by `±jitter` (a fraction).
    pub fn new(min: Duration, max: Duration, jitter: f64, rng: StdRng) -> Self {
        let max = max.max(min);
        Backoff {
            min,
            max,
            jitter,
            next: min,
            rng,
        }
    }

    /// The default steps (10 s → 10 min) with a fixed seed, for tests.
    pub fn seeded(seed: u64) -> Self {
        Backoff::new(BACKOFF_MIN, BACKOFF_MAX, 0.2, StdRng::seed_from_u64(seed))
    }

    /// Starts again from the shortest wait.
    pub fn reset(&mut self) {
        self.next = self.min;
    }

    /// The un-jittered wait the next failure will use.
    pub fn peek(&self) -> Duration {
        self.next
    }
}

impl Iterator for Backoff {
    type Item = Duration;

    fn next(&mut self) -> Option<Duration> {
        let base = self.next;
        self.next = base.saturating_mul(2).min(self.max);
        let u = self.rng.random::<f64>();
        // Jitter never pushes a wait above the cap or below the floor.
        Some(spread(base, self.jitter, u).clamp(self.min, self.max))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: Duration = Duration::from_secs(1);

    #[test]
    fn scaling_saturates_instead_of_panicking() {
        assert_eq!(scale(Duration::from_secs(10), 1.5), Duration::from_secs(15));
        assert_eq!(scale(Duration::MAX, 2.0), Duration::MAX);
        assert_eq!(scale(Duration::from_secs(10), -1.0), Duration::ZERO);
        assert_eq!(scale(Duration::from_secs(10), f64::NAN), Duration::ZERO);
        assert_eq!(spread(Duration::MAX, 1.0, 1.0), Duration::MAX);
    }

    #[test]
    fn spread_covers_plus_minus_fraction() {
        let base = Duration::from_secs(100);
        let cases = [
            (0.1, 0.0, 90.0),
            (0.1, 0.5, 100.0),
            (0.1, 1.0, 110.0),
            (0.0, 0.9, 100.0),
            (2.0, 0.0, 0.0),
            (f64::NAN, 0.0, 100.0),
            (0.5, f64::NAN, 100.0),
        ];
        for (s, u, want) in cases {
            let got = spread(base, s, u).as_secs_f64();
            assert!(
                (got - want).abs() < 1e-6,
                "spread({s}, {u}) = {got}, want {want}"
            );
        }
    }

    #[test]
    fn next_poll_stays_within_the_jitter_band() {
        let mut s = Schedule::seeded(300 * S, 0.1, 300 * S, 7);
        let mut seen = std::collections::BTreeSet::new();
        for _ in 0..200 {
            let d = s.next_poll();
            assert!(d >= 270 * S && d <= 330 * S, "{d:?}");
            seen.insert(d.as_millis());
        }
        assert!(seen.len() > 50, "waits are spread, not constant");
        let mut none = Schedule::seeded(300 * S, 0.0, 300 * S, 7);
        assert_eq!(none.next_poll(), 300 * S);
    }

    #[test]
    fn drift_due_allows_one_early_jittered_tick() {
        let s = Schedule::seeded(100 * S, 0.1, 100 * S, 1);
        let cases = [
            (None, true),
            (Some(Duration::ZERO), false),
            (Some(89 * S), false),
            (Some(90 * S), true),
            (Some(500 * S), true),
        ];
        for (since, want) in cases {
            assert_eq!(s.drift_rule().is_due(since), want, "{since:?}");
        }
        // A drift interval longer than the poll: several polls pass without a check.
        let long = Schedule::seeded(60 * S, 0.1, 3600 * S, 1);
        assert!(!long.drift_rule().is_due(Some(600 * S)));
        assert!(long.drift_rule().is_due(Some(3600 * S)));
    }

    #[test]
    fn backoff_doubles_caps_and_resets() {
        let mut b = Backoff::new(10 * S, 600 * S, 0.0, StdRng::seed_from_u64(0));
        let got: Vec<u64> = b.by_ref().take(8).map(|d| d.as_secs()).collect();
        assert_eq!(got, [10, 20, 40, 80, 160, 320, 600, 600]);
        b.reset();
        assert_eq!(b.next(), Some(10 * S));
        assert_eq!(b.peek(), 20 * S);
    }

    #[test]
    fn backoff_jitter_stays_within_floor_and_cap() {
        let mut b = Backoff::seeded(42);
        for (i, d) in b.by_ref().take(12).enumerate() {
            assert!(d >= BACKOFF_MIN && d <= BACKOFF_MAX, "step {i}: {d:?}");
        }
        let mut first = Backoff::seeded(3);
        let d = first.next().unwrap_or_default();
        assert!(d >= BACKOFF_MIN && d <= Duration::from_secs(12), "{d:?}");
    }
}
