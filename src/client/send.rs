//! The client's one request path: a place under the [`super::adaptive`] limit, auth,
//! the per-attempt timeout, retries ([`super::retry`]), the answer read within
//! `--max-response-bytes` and non-2xx answers mapped to [`Error`]s whose message is
//! redacted, then cut. Every endpoint method of [`Client`] ends here; nothing else builds
//! a `reqwest` request.

use std::time::{Duration, Instant};

use serde_json::Value;

use super::body::{self, Body};
use super::{adaptive, decode, retry, Client, Error, Request};

/// How one attempt ended.
enum Attempt {
    /// A final answer (success or an error not worth retrying).
    Done(Result<Value, Error>),
    /// A spurious failure: retry after at least `retry_after`, if the policy allows.
    Retryable {
        retry_after: Option<Duration>,
        err: Error,
    },
}

impl Client {
    /// The one request path: permits, auth, retries, error mapping.
    ///
    /// Each attempt gets the per-request timeout, shortened so that the attempt cannot
    /// outlive the request's total time budget ([`super::RetryPolicy::max_elapsed`]).
    pub(super) async fn send(&self, req: Request<'_>) -> Result<Value, Error> {
        let pacer = self.pacer.as_ref().filter(|_| req.paced);
        // The place is kept across retry waits (see [`adaptive`]: a throttled request
        // does not hand its place to a new one). A paced request takes it inside its
        // turn of the pacer, so it is let go only once it can be sent, and paced
        // requests waiting for their turn hold no place.
        let acquire = self.limiter.acquire();
        let permit = match pacer {
            Some(p) => p.admit(acquire).await,
            None => acquire.await,
        };
        let _permit = permit.map_err(|e| Error::Config(e.to_string()))?;
        let floor = (
            req.endpoint,
            req.query.iter().any(|(k, v)| *k == "dryRun" && v == "true"),
        );
        let started = Instant::now();
        let url = format!("{}{}", self.base, req.path);
        let method = req.method.as_str().to_string();
        let mut attempt = 0u32;
        loop {
            attempt += 1;
            if attempt > 1 {
                if let Some(p) = pacer {
                    p.wait().await;
                }
            }
            let remaining = self.retry.max_elapsed.saturating_sub(started.elapsed());
            let mut rb = self
                .http
                .request(req.method.clone(), &url)
                .timeout(self.timeout.min(remaining).max(Duration::from_millis(1)))
                .header("Authorization", self.key.expose())
                .header("Accept", "application/json")
                .query(&req.query);
            if let Some(body) = req.body {
                rb = rb.json(body);
            }
            let generation = self.limiter.generation();
            let sent = Instant::now();
            let (outcome, status) = self.attempt(rb, &req, &method, attempt).await;
            let answer = status.map_or(adaptive::Answer::Lost, |s| {
                adaptive::Answer::Status(s, sent.elapsed())
            });
            self.limiter.observe(generation, floor, answer);
            let (retry_after, err) = match outcome {
                Attempt::Done(result) => return result,
                Attempt::Retryable { retry_after, err } => (retry_after, err),
            };
            let Some(wait) = self
                .retry
                .next_wait(attempt, started.elapsed(), retry_after)
            else {
                tracing::debug!(method = %method, path = %req.path, attempt, error = %err, "giving up");
                return Err(err);
            };
            tracing::debug!(
                method = %method,
                path = %req.path,
                attempt,
                wait_ms = u64::try_from(wait.as_millis()).unwrap_or(u64::MAX),
                error = %err,
                "retrying"
            );
            tokio::time::sleep(wait).await;
        }
    }

    /// One attempt: a final result, or a spurious failure worth another attempt, and
    /// the HTTP status if there was an answer (for the [`adaptive`] limit).
    async fn attempt(
        &self,
        rb: reqwest::RequestBuilder,
        req: &Request<'_>,
        method: &str,
        attempt: u32,
    ) -> (Attempt, Option<u16>) {
        match rb.send().await {
            Ok(resp) => {
                let status = resp.status().as_u16();
                (self.answer(resp, req, method, attempt).await, Some(status))
            }
            Err(e) => {
                self.stats.record(req.endpoint, None);
                let err = self.unreachable(&e);
                if retry::is_final_send_error(&e, &err.to_string()) {
                    return (Attempt::Done(Err(err)), None);
                }
                let retry = Attempt::Retryable {
                    retry_after: None,
                    err,
                };
                (retry, None)
            }
        }
    }

    /// Reads and maps an HTTP answer.
    async fn answer(
        &self,
        resp: reqwest::Response,
        req: &Request<'_>,
        method: &str,
        attempt: u32,
    ) -> Attempt {
        let status = resp.status().as_u16();
        self.stats.record(req.endpoint, Some(status));
        tracing::debug!(method = %method, path = %req.path, attempt, status, "http answer");
        let retry_after = resp
            .headers()
            .get("retry-after")
            .and_then(|v| v.to_str().ok())
            .and_then(retry::parse_retry_after);
        let success = (200..300).contains(&status);
        let text = match body::read_capped(resp, self.max_response_bytes).await {
            Ok(Body::Complete(t)) => t,
            // An error answer is only read for its message: a cut one still says it.
            Ok(Body::Cut(t)) if !success => t,
            Ok(Body::Cut(_)) => {
                return Attempt::Done(Err(Error::TooLarge {
                    method: method.to_string(),
                    path: req.path.clone(),
                    limit: self.max_response_bytes,
                }))
            }
            // The connection dropped while the body was read: no complete answer.
            Err(e) => {
                return Attempt::Retryable {
                    retry_after: None,
                    err: self.unreachable(&e),
                }
            }
        };
        if success {
            if text.trim().is_empty() {
                return Attempt::Done(Ok(Value::Null));
            }
            return Attempt::Done(
                serde_json::from_str(&text).map_err(|e| decode(method, &req.path, &e.to_string())),
            );
        }
        let err = Error::Status {
            method: method.to_string(),
            path: req.path.clone(),
            status,
            // Redact the whole message first, then cut (issue 11).
            message: self
                .redactor
                .redact_cut(&error_message(&text), MESSAGE_CHARS),
            key: req.key.cloned(),
        };
        if retry::is_retryable_status(status) {
            Attempt::Retryable { retry_after, err }
        } else {
            Attempt::Done(Err(err))
        }
    }

    fn unreachable(&self, e: &reqwest::Error) -> Error {
        let mut message = e.to_string();
        let mut src = std::error::Error::source(e);
        while let Some(s) = src {
            message.push_str(": ");
            message.push_str(&s.to_string());
            src = s.source();
        }
        Error::Unreachable {
            url: self.shown_base.clone(),
            message: self.redactor.redact(&message),
        }
    }
}

/// Characters of Immuta's error message kept in an [`Error::Status`], after redaction.
const MESSAGE_CHARS: usize = 512;

/// Immuta's error body is `{statusCode, error, message}`; fall back to the raw body.
/// Not cut here: the caller redacts, then cuts.
fn error_message(body: &str) -> String {
    serde_json::from_str::<Value>(body)
        .ok()
        .and_then(|v| v.get("message").and_then(Value::as_str).map(str::to_string))
        .unwrap_or_else(|| body.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_message_prefers_immuta_message() {
        assert_eq!(
            error_message(r#"{"statusCode":400,"error":"Bad Request","message":"nope"}"#),
            "nope"
        );
        assert_eq!(error_message("plain"), "plain");
    }
}
