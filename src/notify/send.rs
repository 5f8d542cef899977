//! Delivery: one task and one bounded queue per receiver, retries with jittered backoff.
//!
//! Input: bodies from [`Notifier::notify`]. Output: POSTs, and the
//! `immuta_gitops_notifications_sent_total` / `_failed_total` counters.
//!
//! A receiver is not Immuta, so this module has its own small HTTP client instead of
//! `client::Client` (which carries the API key and Immuta's error mapping): no
//! credentials of ours, no redirects followed (a redirect could carry the body
//! elsewhere), a timeout per attempt. What is retried follows `client::retry`: connection
//! failures, timeouts, 408, 429 and 5xx, with full-jitter exponential backoff and
//! `Retry-After` as a floor, within [`Delivery::retry`]'s attempts and total time; any
//! other answer is final. A message that is not accepted in the end is counted and
//! logged (receiver label and reason only, never the URL) and dropped.

use std::time::Duration;

use prometheus_client::metrics::counter::Counter;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio::time::Instant;

use super::{body, Format, Notice, Receiver, QUEUE};
use crate::client::retry::{is_retryable_status, parse_retry_after, RetryPolicy};
use crate::redact::Redactor;

/// How messages are delivered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivery {
    /// Attempts, backoff and the total time of one message.
    pub retry: RetryPolicy,
    /// The time one attempt may take (connect, send, answer).
    pub timeout: Duration,
}

impl Default for Delivery {
    fn default() -> Self {
        Delivery {
            retry: RetryPolicy {
                max_attempts: 4,
                base: Duration::from_secs(1),
                cap: Duration::from_secs(30),
                max_elapsed: Duration::from_secs(120),
            },
            timeout: Duration::from_secs(10),
        }
    }
}

/// The two counters (shared with the metric registry).
#[derive(Debug, Clone, Default)]
pub struct Counters {
    /// Messages a receiver accepted (2xx).
    pub sent: Counter,
    /// Messages dropped (queue full) or not accepted after their retries.
    pub failed: Counter,
}

#[derive(Debug)]
struct Queue {
    label: String,
    format: Format,
    tx: mpsc::Sender<serde_json::Value>,
}

/// Sends notices to every receiver without ever making the caller wait.
#[derive(Debug, Default)]
pub struct Notifier {
    queues: Vec<Queue>,
    tasks: Vec<JoinHandle<()>>,
    counters: Counters,
}

impl Notifier {
    /// Starts one delivery task per receiver (must be called inside a Tokio runtime).
    ///
    /// # Errors
    /// The HTTP client cannot be built (TLS setup).
    pub fn start(
        receivers: Vec<Receiver>,
        delivery: Delivery,
        counters: Counters,
    ) -> Result<Notifier, reqwest::Error> {
        let mut n = Notifier {
            counters: counters.clone(),
            ..Notifier::default()
        };
        if receivers.is_empty() {
            return Ok(n);
        }
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(delivery.timeout)
            .connect_timeout(delivery.timeout)
            .user_agent(concat!("immuta-gitops/", env!("CARGO_PKG_VERSION")))
            .build()?;
        for r in receivers {
            let (tx, rx) = mpsc::channel(QUEUE);
            n.queues.push(Queue {
                label: r.label().to_string(),
                format: r.format(),
                tx,
            });
            let task = deliver(client.clone(), r, rx, delivery.clone(), counters.clone());
            n.tasks.push(tokio::spawn(task));
        }
        Ok(n)
    }

    /// Whether no receiver is configured.
    pub fn is_empty(&self) -> bool {
        self.queues.is_empty()
    }

    /// Builds the body for every receiver and queues it; never waits. A full queue drops
    /// the message (counted as failed, logged).
    pub fn notify(&self, notice: &Notice, redactor: &Redactor) {
        for q in &self.queues {
            let body = match q.format {
                Format::Generic => body::generic(notice, redactor),
                Format::Slack => body::slack(notice, redactor),
            };
            if q.tx.try_send(body).is_err() {
                self.counters.failed.inc();
                tracing::warn!(
                    receiver = %q.label,
                    event = notice.event.name(),
                    "notification dropped: the receiver's queue is full"
                );
            }
        }
    }

    /// Stops taking messages and lets queued ones go out for at most `wait`; what is
    /// still queued after it is dropped.
    pub async fn close(self, wait: Duration) {
        drop(self.queues);
        let deadline = Instant::now() + wait;
        for mut t in self.tasks {
            if tokio::time::timeout_at(deadline, &mut t).await.is_err() {
                t.abort();
            }
        }
    }
}

async fn deliver(
    client: reqwest::Client,
    receiver: Receiver,
    mut rx: mpsc::Receiver<serde_json::Value>,
    delivery: Delivery,
    counters: Counters,
) {
    while let Some(body) = rx.recv().await {
        match post(&client, &receiver, &body, &delivery).await {
            Ok(attempts) => {
                counters.sent.inc();
                tracing::debug!(receiver = receiver.label(), attempts, "notification sent");
            }
            Err(reason) => {
                counters.failed.inc();
                tracing::warn!(
                    receiver = receiver.label(),
                    reason = %reason,
                    "notification not delivered"
                );
            }
        }
    }
}

/// Why one attempt failed, and whether another may help.
struct Failure {
    reason: String,
    retryable: bool,
    retry_after: Option<Duration>,
}

/// Posts `body` until accepted or the policy gives up. `Ok(attempts)` on a 2xx.
async fn post(
    client: &reqwest::Client,
    receiver: &Receiver,
    body: &serde_json::Value,
    delivery: &Delivery,
) -> Result<u32, String> {
    let started = Instant::now();
    let mut attempt = 0;
    loop {
        attempt += 1;
        let failure = match client.post(receiver.url().clone()).json(body).send().await {
            Ok(resp) if resp.status().is_success() => return Ok(attempt),
            Ok(resp) => {
                let status = resp.status().as_u16();
                let retry_after = resp
                    .headers()
                    .get(reqwest::header::RETRY_AFTER)
                    .and_then(|v| v.to_str().ok())
                    .and_then(parse_retry_after);
                Failure {
                    reason: format!("answered {status}"),
                    retryable: is_retryable_status(status),
                    retry_after,
                }
            }
            Err(e) => Failure {
                // Never `e` itself: reqwest's message names the URL, which may hold a token.
                reason: describe(&e).to_string(),
                retryable: !e.is_builder() && !e.is_redirect(),
                retry_after: None,
            },
        };
        let wait = failure.retryable.then(|| {
            delivery
                .retry
                .next_wait(attempt, started.elapsed(), failure.retry_after)
        });
        match wait.flatten() {
            Some(w) => tokio::time::sleep(w).await,
            None => return Err(format!("{} (after {attempt} attempts)", failure.reason)),
        }
    }
}

fn describe(e: &reqwest::Error) -> &'static str {
    if e.is_timeout() {
        "timed out"
    } else if e.is_connect() {
        "cannot connect"
    } else if e.is_builder() {
        "invalid request"
    } else if e.is_redirect() {
        "redirected"
    } else {
        "connection failed"
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::notify::{Event, Trigger};
    use axum::http::StatusCode;
    use axum::routing::post as route_post;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::{Arc, Mutex};

    /// A receiver on 127.0.0.1 answering `statuses` in turn (then 200), recording bodies.
    async fn receiver(
        statuses: Vec<u16>,
        hang: bool,
    ) -> (String, Arc<Mutex<Vec<serde_json::Value>>>, Arc<AtomicUsize>) {
        let got = Arc::new(Mutex::new(Vec::new()));
        let hits = Arc::new(AtomicUsize::new(0));
        let (g, h) = (got.clone(), hits.clone());
        let app = axum::Router::new().route(
            "/hook/{token}",
            route_post(move |axum::Json(v): axum::Json<serde_json::Value>| {
                let (g, h, statuses) = (g.clone(), h.clone(), statuses.clone());
                async move {
                    let n = h.fetch_add(1, Ordering::SeqCst);
                    if hang {
                        std::future::pending::<()>().await;
                    }
                    g.lock().unwrap().push(v);
                    StatusCode::from_u16(statuses.get(n).copied().unwrap_or(200)).unwrap()
                }
            }),
        );
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = l.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(l, app).await });
        (
            format!("http://{addr}/hook/t0ken-abcdefghijklmnop"),
            got,
            hits,
        )
    }

    fn quick() -> Delivery {
        Delivery {
            retry: RetryPolicy {
                max_attempts: 3,
                base: Duration::from_millis(1),
                cap: Duration::from_millis(5),
                max_elapsed: Duration::from_secs(30),
            },
            timeout: Duration::from_millis(300),
        }
    }

    fn notice() -> Notice {
        Notice {
            event: Event::Recovered {
                cleared: vec!["failed"],
            },
            trigger: Trigger::Webhook,
            origin: "o".into(),
            revision: Some("r".into()),
            subject: None,
            at: "2026-12-01T12:00:00Z".into(),
        }
    }

    #[tokio::test]
    async fn a_retryable_answer_is_retried_until_accepted() {
        let (url, got, hits) = receiver(vec![503, 500], false).await;
        let c = Counters::default();
        let n =
            Notifier::start(vec![Receiver::parse(1, &url).unwrap()], quick(), c.clone()).unwrap();
        n.notify(&notice(), &Redactor::new());
        n.close(Duration::from_secs(10)).await;
        assert_eq!(hits.load(Ordering::SeqCst), 3);
        assert_eq!((c.sent.get(), c.failed.get()), (1, 0));
        assert_eq!(got.lock().unwrap()[0]["event"], "recovered");
    }

    #[tokio::test]
    async fn a_final_answer_is_not_retried_and_counts_as_failed() {
        let (url, _, hits) = receiver(vec![400], false).await;
        let c = Counters::default();
        let n =
            Notifier::start(vec![Receiver::parse(1, &url).unwrap()], quick(), c.clone()).unwrap();
        n.notify(&notice(), &Redactor::new());
        n.close(Duration::from_secs(10)).await;
        assert_eq!(hits.load(Ordering::SeqCst), 1);
        assert_eq!((c.sent.get(), c.failed.get()), (0, 1));
    }

    #[tokio::test]
    async fn a_hanging_receiver_times_out_and_never_delays_the_caller() {
        let (url, _, hits) = receiver(vec![], true).await;
        let (ok_url, ok_got, _) = receiver(vec![], false).await;
        let c = Counters::default();
        let n = Notifier::start(
            vec![
                Receiver::parse(1, &url).unwrap(),
                Receiver::parse(2, &format!("slack:{ok_url}")).unwrap(),
            ],
            quick(),
            c.clone(),
        )
        .unwrap();
        let started = std::time::Instant::now();
        // More messages than the queue holds: the surplus is dropped, never waited for.
        for _ in 0..QUEUE + 5 {
            n.notify(&notice(), &Redactor::new());
        }
        assert!(started.elapsed() < Duration::from_millis(200));
        // Two seconds: the hanging receiver's first message uses its three attempts of
        // 300 ms; the healthy receiver delivers its whole queue meanwhile.
        n.close(Duration::from_secs(2)).await;
        assert!(hits.load(Ordering::SeqCst) >= 3, "each attempt timed out");
        let ok = ok_got.lock().unwrap();
        assert_eq!(ok.len(), QUEUE, "the healthy receiver got its whole queue");
        assert!(ok[0]["text"]
            .as_str()
            .unwrap()
            .starts_with("immuta-gitops: "));
        // 5 dropped per receiver (the tasks had not run yet), and at least the hanging
        // receiver's first message.
        assert!(c.failed.get() > 10, "{}", c.failed.get());
        assert_eq!(c.sent.get(), QUEUE as u64);
    }
}
