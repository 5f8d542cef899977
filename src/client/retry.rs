//! Retry policy of the one request path: what counts as spurious and how long to wait.
//!
//! Spurious: connection failures, timeouts, 408, 429, 500, 502, 503 and 504. Every call
//! the client makes is idempotent by contract (V2 upserts are full-state documents,
//! reads are reads, deletes of an already-deleted object answer 404 which the caller
//! treats as done), so each may be retried. Delays grow exponentially with *full
//! jitter* (a random wait between zero and the exponential step) so that many objects,
//! replicas or tenants failing together do not retry in lockstep; a `Retry-After` from
//! the server is a floor under the delay.

use std::time::Duration;

use rand::Rng;

/// How the client retries one request.
#[derive(Debug, Clone)]
pub struct RetryPolicy {
    /// Attempts in total, the first included.
    pub max_attempts: u32,
    /// The first backoff step.
    pub base: Duration,
    /// No single wait is longer than this.
    pub cap: Duration,
    /// The total time one request (all attempts and waits) may take.
    pub max_elapsed: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 8,
            base: Duration::from_millis(100),
            cap: Duration::from_secs(10),
            max_elapsed: Duration::from_secs(120),
        }
    }
}

impl RetryPolicy {
    /// The wait before attempt `attempt + 1` (attempt is 1-based), at least `retry_after`.
    pub fn delay(&self, attempt: u32, retry_after: Option<Duration>) -> Duration {
        let exp = self.base.saturating_mul(
            1u32.checked_shl(attempt.saturating_sub(1))
                .unwrap_or(u32::MAX),
        );
        let step = exp.min(self.cap);
        let jittered = Duration::from_millis(
            rand::rng().random_range(0..=step.as_millis().min(u128::from(u64::MAX)) as u64),
        );
        match retry_after {
            Some(floor) => jittered.max(floor.min(self.cap)),
            None => jittered,
        }
    }
}

/// Whether an HTTP status is worth another attempt.
pub fn is_retryable_status(status: u16) -> bool {
    matches!(status, 408 | 429 | 500 | 502 | 503 | 504)
}

/// Parses a `Retry-After` header given in seconds (the HTTP-date form is ignored).
pub fn parse_retry_after(value: &str) -> Option<Duration> {
    value.trim().parse::<u64>().ok().map(Duration::from_secs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_are_capped_and_floored_by_retry_after() {
        let p = RetryPolicy {
            base: Duration::from_millis(100),
            cap: Duration::from_secs(1),
            ..Default::default()
        };
        for attempt in 1..40 {
            assert!(p.delay(attempt, None) <= Duration::from_secs(1));
        }
        assert!(p.delay(1, Some(Duration::from_millis(700))) >= Duration::from_millis(700));
        assert!(p.delay(1, Some(Duration::from_secs(60))) <= Duration::from_secs(1));
    }

    #[test]
    fn only_spurious_statuses_retry() {
        for s in [408, 429, 500, 502, 503, 504] {
            assert!(is_retryable_status(s));
        }
        for s in [200, 400, 401, 403, 404, 409, 422] {
            assert!(!is_retryable_status(s));
        }
        assert_eq!(parse_retry_after(" 3 "), Some(Duration::from_secs(3)));
        assert_eq!(parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT"), None);
    }
}
