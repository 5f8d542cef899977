//! The AIMD rules of [`super`], without the semaphore: a pure state machine from
//! answers to changes of the limit, tested on literal sequences of answers (no clock: each
//! answer carries its latency).

use std::collections::HashMap;
use std::time::Duration;

/// An answer slower than this many times its endpoint's floor may count as slow.
pub const LATENCY_FACTOR: u32 = 3;
/// ... and only when it is at least this much slower than the floor.
pub const LATENCY_SLACK: Duration = Duration::from_millis(100);
/// Answers of an endpoint before its floor is trusted.
pub const FLOOR_WARMUP: u32 = 5;
/// A slower answer moves the floor by 1/`FLOOR_CREEP` of the gap.
pub const FLOOR_CREEP: u32 = 64;
/// The smallest window: with few places, a window of one or two answers would let a
/// single random 429 halve the limit. At 16 answers and a strict majority, a steady 30 %
/// of random 429s (the benchmark's `throttle_rate 0.3`) completes a "throttled" window
/// with a probability of 2.6 % (9 or more of 16); at 8 answers and half it was 19 %
/// (4 or more of 8), enough to halve the limit 31 times in one apply.
pub const MIN_WINDOW: usize = 16;

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

    /// The most the limit can be.
    pub fn max(&self) -> usize {
        self.max
    }

    /// Decreases so far.
    pub fn decreases(&self) -> u64 {
        self.decreases
    }

    /// Increases so far.
    pub fn increases(&self) -> u64 {
        self.increases
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
        if signals * 2 > answers {
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
        window(&mut r, LIST, &[throttled(); MIN_WINDOW]);
        window(&mut r, LIST, &[throttled(); MIN_WINDOW]);
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
        // 8 of 16, half the window, is still noise; 9 of 16, a majority, halves the limit.
        let mut w = vec![ok(5); 8];
        w.extend([throttled(); 8]);
        assert!(window(&mut r, LIST, &w).is_empty(), "{:?}", r.limit());
        let mut w = vec![ok(5); 7];
        w.extend([throttled(); 9]);
        assert_eq!(
            window(&mut r, LIST, &w),
            [Change::Decrease {
                from: 16,
                to: 8,
                reason: Reason::Throttled
            }]
        );
        let mut w = vec![ok(5); 12];
        w.extend([throttled(); 4]);
        assert_eq!(
            window(&mut r, LIST, &w),
            [Change::Increase { from: 8, to: 9 }]
        );
    }

    #[test]
    fn stale_answers_train_floors_but_never_change_the_limit() {
        let mut r = Rules::new(8);
        window(&mut r, LIST, &[throttled(); MIN_WINDOW]);
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
            window(&mut r, fast, &[ok(50); 16]),
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
}
