//! Retry policy of the one request path: what counts as spurious and how long to wait.
//!
//! Spurious: connection failures (refused, reset, dropped mid-answer), timeouts, 408,
//! 429, 500, 502, 503 and 504. Every other 4xx is final: it is Immuta saying no, and
//! asking again would get the same answer. So are the client's own mistakes
//! ([`is_final_send_error`]): a request that cannot be built (invalid URL or port, a
//! header value with CR/LF) and a TLS failure (an untrusted or mismatched certificate,
//! TLS spoken to a plain-HTTP port); retrying them only delays the error by seconds.
//! An answer longer than `--max-response-bytes` is final too (`Error::TooLarge`). Every call the client makes is idempotent by
//! contract (V2 upserts are full-state documents, reads are reads, a delete repeated
//! after one that landed answers 404, which the caller treats as done), so POSTs and
//! DELETEs are retried like GETs.
//!
//! Delays grow exponentially with *full jitter* (a random wait between zero and the
//! exponential step) so that many objects, replicas or tenants failing together do not
//! retry in lockstep. A `Retry-After` from the server is a floor under the delay. No
//! single wait is longer than [`RetryPolicy::cap`] (a `Retry-After` included), and all
//! attempts and waits of one request together stay within [`RetryPolicy::max_elapsed`]:
//! a wait that would cross it is not taken and the last error is returned.

use std::time::Duration;

use rand::Rng;

/// How the client retries one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts in total, the first included (at least 1).
    pub max_attempts: u32,
    /// The first backoff step.
    pub base: Duration,
    /// No single wait is longer than this, a server's `Retry-After` included.
    pub cap: Duration,
    /// The total time one request (all attempts and waits) may take.
    pub max_elapsed: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 8,
            base: Duration::from_millis(100),
            cap: Duration::from_secs(30),
            max_elapsed: Duration::from_secs(120),
        }
    }
}

impl RetryPolicy {
    /// The wait before attempt `attempt + 1` (attempt is 1-based), at least `retry_after`,
    /// at most [`RetryPolicy::cap`].
    pub fn delay(&self, attempt: u32, retry_after: Option<Duration>) -> Duration {
        let exp = self.base.saturating_mul(
            1u32.checked_shl(attempt.saturating_sub(1))
                .unwrap_or(u32::MAX),
        );
        let step = exp.min(self.cap);
        let max_ms = u64::try_from(step.as_millis()).unwrap_or(u64::MAX);
        let jittered = Duration::from_millis(rand::rng().random_range(0..=max_ms));
        match retry_after {
            Some(floor) => jittered.max(floor).min(self.cap),
            None => jittered,
        }
    }

    /// The wait before the next attempt, or `None` when the request must give up: the
    /// attempts are used up, or waiting would cross [`RetryPolicy::max_elapsed`].
    /// `elapsed` is the time since the first attempt started.
    pub fn next_wait(
        &self,
        attempt: u32,
        elapsed: Duration,
        retry_after: Option<Duration>,
    ) -> Option<Duration> {
        if attempt >= self.max_attempts {
            return None;
        }
        let wait = self.delay(attempt, retry_after);
        (elapsed.saturating_add(wait) < self.max_elapsed).then_some(wait)
    }
}

/// Whether an HTTP status is worth another attempt.
pub fn is_retryable_status(status: u16) -> bool {
    matches!(status, 408 | 429 | 500 | 502 | 503 | 504)
}

/// Whether a request that got no answer failed on the client's side, where no retry
/// can help: reqwest could not build it (invalid URL, port or header value), or TLS
/// refused the server (certificate errors, TLS spoken to a plain-HTTP port). `text` is
/// the error with its causes, as shown to the user.
pub fn is_final_send_error(e: &reqwest::Error, text: &str) -> bool {
    if e.is_builder() || e.is_redirect() {
        return true;
    }
    let lower = text.to_ascii_lowercase();
    const TLS_REFUSALS: [&str; 5] = [
        "certificate",
        "wrong version number",
        "unknown protocol",
        "packet length too long",
        "invalid dns name",
    ];
    TLS_REFUSALS.iter().any(|t| lower.contains(t))
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
        assert_eq!(
            p.delay(1, Some(Duration::from_secs(60))),
            Duration::from_secs(1)
        );
    }

    #[test]
    fn full_jitter_spreads_the_waits() {
        let p = RetryPolicy {
            base: Duration::from_secs(1),
            ..Default::default()
        };
        let waits: std::collections::BTreeSet<Duration> =
            (0..50).map(|_| p.delay(3, None)).collect();
        assert!(waits.len() > 10, "{waits:?}");
        assert!(waits.iter().all(|w| *w <= Duration::from_secs(4)));
    }

    #[test]
    fn attempts_and_total_time_are_bounded() {
        let p = RetryPolicy {
            max_attempts: 3,
            base: Duration::from_millis(10),
            cap: Duration::from_secs(5),
            max_elapsed: Duration::from_secs(10),
        };
        assert!(p.next_wait(1, Duration::ZERO, None).is_some());
        assert!(p.next_wait(2, Duration::ZERO, None).is_some());
        assert_eq!(p.next_wait(3, Duration::ZERO, None), None);
        // A Retry-After that would cross the total budget ends the request now.
        assert_eq!(
            p.next_wait(1, Duration::from_secs(7), Some(Duration::from_secs(4))),
            None
        );
        assert_eq!(
            p.next_wait(1, Duration::from_secs(1), Some(Duration::from_secs(2))),
            Some(Duration::from_secs(2))
        );
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

    /// A listener that counts the connections it accepts and closes each at once.
    async fn counting_listener() -> (u16, std::sync::Arc<std::sync::atomic::AtomicUsize>) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let hits = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let counter = hits.clone();
        tokio::spawn(async move {
            while let Ok((mut sock, _)) = listener.accept().await {
                counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                use tokio::io::AsyncWriteExt;
                // Plain HTTP where TLS is expected.
                let _ = sock
                    .write_all(b"HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\n\r\n")
                    .await;
            }
        });
        (port, hits)
    }

    #[tokio::test]
    async fn issue_11_client_side_errors_are_final_and_immediate() {
        use crate::client::{Client, ClientConfig, Error};
        use crate::redact::Secret;
        let cfg = |url: &str, key: &str| {
            let mut c = ClientConfig::new(url, Secret::new(key));
            c.retry = RetryPolicy {
                max_attempts: 8,
                base: Duration::from_millis(200),
                cap: Duration::from_secs(2),
                max_elapsed: Duration::from_secs(60),
            };
            c
        };
        for (url, key, want) in [
            ("http://127.0.0.1:99999", "k123", "not a valid URL"),
            ("http://", "k123", "not a valid URL"),
            ("ftp://host", "k123", "must start with http"),
            ("not a url", "k123", "not a valid URL"),
            ("http://127.0.0.1:1", "k123\r\nX-Evil: 1", "CR or LF"),
            ("http://127.0.0.1:1", "k123\n", "CR or LF"),
            ("http://127.0.0.1:1", "k123\u{0}", "CR or LF"),
        ] {
            let err = Client::new(cfg(url, key)).unwrap_err();
            assert!(matches!(err, Error::Config(_)), "{url}: {err}");
            let text = err.to_string();
            assert!(text.contains(want), "{url} {key:?}: {text}");
            assert!(!text.contains("k123"), "the key is never shown: {text}");
        }
        // TLS spoken to a plain-HTTP port: one connection, no retries, no waiting.
        let (port, hits) = counting_listener().await;
        let client = Client::new(cfg(&format!("https://127.0.0.1:{port}"), "k123")).unwrap();
        let started = std::time::Instant::now();
        let err = client.list_purposes().await.unwrap_err();
        assert!(matches!(err, Error::Unreachable { .. }), "{err}");
        assert_eq!(hits.load(std::sync::atomic::Ordering::SeqCst), 1, "{err}");
        assert_eq!(client.stats().total(), 1, "{err}");
        assert!(started.elapsed() < Duration::from_secs(5), "{err}");
    }
}
