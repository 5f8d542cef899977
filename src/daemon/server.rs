//! The daemon's HTTP endpoints (axum): `/healthz`, `/readyz`, `/metrics`, `/status` and,
//! when a webhook secret is configured, `POST /hook`.
//!
//! Input: the [`Shared`] state the loop updates. Output: a [`Router`]. Handlers only read
//! state or enqueue a trigger; no handler runs a cycle or talks to Immuta, so a slow
//! tenant never makes probes time out. No response carries a secret.
//!
//! | route | answer |
//! |---|---|
//! | `GET /healthz` | 200 while the process serves |
//! | `GET /readyz` | 200 while serving; 503 once shutdown began (sync health is in `/status` and `immuta_gitops_sync_healthy`, never here: an unready pod would not receive the webhook that fixes it) |
//! | `GET /metrics` | OpenMetrics text |
//! | `GET /status` | JSON [`Status`] |
//! | `POST /hook` | 202 and a cycle at once for a push to the followed ref; 200 for GitHub's `ping`; 202 "ignored" for other refs and events (no cycle); 400 for an unreadable push body; 401 bad or missing signature; 503 while shutting down; 404 when no secret is configured |

use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};

use super::events::{self, Follow, Route};
use super::metrics::{self, Metrics};
use super::status::Status;
use super::trigger::{Trigger, TriggerQueue};
use super::webhook::{self, Verdict};
use super::window::Gate;
use crate::redact::Secret;

/// State shared by the loop and the handlers.
#[derive(Debug)]
pub struct Shared {
    /// What `/status` shows and `/readyz` decides on.
    pub status: Mutex<Status>,
    /// What `/metrics` shows.
    pub metrics: Metrics,
    /// Where `/hook` puts its trigger.
    pub triggers: Arc<TriggerQueue>,
    /// The webhook secret; `None` disables `/hook`.
    pub webhook_secret: Option<Secret>,
    /// The apply windows, read by `/status` and before every write.
    pub gate: Gate,
    /// Which pushes start a cycle.
    pub follow: Follow,
}

impl Shared {
    /// A copy of the current status.
    pub fn status(&self) -> Status {
        self.status.lock().map(|s| s.clone()).unwrap_or_default()
    }

    /// Runs `f` on the status under its lock.
    pub fn update_status(&self, f: impl FnOnce(&mut Status)) {
        if let Ok(mut s) = self.status.lock() {
            f(&mut s);
        }
    }
}

/// The router. `/hook` exists only when a webhook secret is configured (else 404:
/// an endpoint that cannot authenticate anyone is not offered at all).
pub fn app(shared: Arc<Shared>) -> Router {
    let mut r = Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics_text))
        .route("/status", get(status));
    if shared.webhook_secret.is_some() {
        r = r.route("/hook", post(hook));
    }
    r.with_state(shared)
}

async fn healthz() -> &'static str {
    "ok\n"
}

async fn readyz(State(s): State<Arc<Shared>>) -> Response {
    if s.triggers.is_closed() {
        (StatusCode::SERVICE_UNAVAILABLE, "shutting down\n").into_response()
    } else {
        (StatusCode::OK, "ready\n").into_response()
    }
}

async fn metrics_text(State(s): State<Arc<Shared>>) -> Response {
    match s.metrics.encode() {
        Ok(text) => ([(header::CONTENT_TYPE, metrics::CONTENT_TYPE)], text).into_response(),
        Err(_) => (StatusCode::INTERNAL_SERVER_ERROR, "cannot encode metrics\n").into_response(),
    }
}

async fn status(State(s): State<Arc<Shared>>) -> Json<Status> {
    let mut st = s.status();
    st.window = s.gate.status();
    st.concurrency = s.metrics.concurrency();
    Json(st)
}

async fn hook(State(s): State<Arc<Shared>>, headers: HeaderMap, body: Bytes) -> Response {
    let Some(secret) = &s.webhook_secret else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let github = headers.get(webhook::GITHUB_HEADER).map(|v| v.as_bytes());
    let gitlab = headers.get(webhook::GITLAB_HEADER).map(|v| v.as_bytes());
    let verdict = webhook::verify(secret, github, gitlab, &body);
    if !verdict.is_accepted() {
        let why = if verdict == Verdict::Missing {
            "missing"
        } else {
            "invalid"
        };
        tracing::warn!(signature = why, "webhook refused");
        return (
            StatusCode::UNAUTHORIZED,
            "bad or missing webhook signature\n",
        )
            .into_response();
    }
    let event = |name: &str| headers.get(name).map(|v| v.as_bytes());
    match events::route(
        event(events::GITHUB_EVENT_HEADER),
        event(events::GITLAB_EVENT_HEADER),
        &body,
        &s.follow,
    ) {
        Route::Ping => {
            tracing::info!(provider = ?verdict, "webhook ping");
            (StatusCode::OK, "pong\n").into_response()
        }
        Route::Ignored(why) => {
            tracing::debug!(provider = ?verdict, reason = %why, "webhook ignored");
            (StatusCode::ACCEPTED, format!("ignored: {why}\n")).into_response()
        }
        Route::BadBody(why) => {
            tracing::warn!(provider = ?verdict, reason = why, "webhook refused");
            (StatusCode::BAD_REQUEST, format!("{why}\n")).into_response()
        }
        Route::Cycle => {
            if !s.triggers.request(Trigger::Hook) {
                return (StatusCode::SERVICE_UNAVAILABLE, "shutting down\n").into_response();
            }
            tracing::info!(provider = ?verdict, "webhook accepted, cycle queued");
            (StatusCode::ACCEPTED, "reconcile queued\n").into_response()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn serve(secret: Option<&str>) -> (String, Arc<Shared>) {
        serve_with(secret, Metrics::new(None)).await
    }

    async fn serve_with(secret: Option<&str>, metrics: Metrics) -> (String, Arc<Shared>) {
        let shared = Arc::new(Shared {
            status: Mutex::new(Status::default()),
            metrics,
            triggers: TriggerQueue::new(),
            webhook_secret: secret.map(Secret::new),
            gate: Gate::default(),
            follow: Follow::Ref("main".into()),
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let router = app(shared.clone());
        tokio::spawn(async move { axum::serve(listener, router).await });
        (format!("http://{addr}"), shared)
    }

    #[tokio::test]
    async fn probes_status_and_metrics() {
        let (base, shared) = serve(None).await;
        let http = reqwest::Client::new();
        let get = |p: &str| http.get(format!("{base}{p}")).send();
        assert_eq!(get("/healthz").await.unwrap().status(), 200);
        // Ready means serving: before any sync, and whatever the sync health.
        assert_eq!(get("/readyz").await.unwrap().status(), 200);
        shared.update_status(|s| {
            s.consecutive_failures = 10;
        });
        assert_eq!(get("/readyz").await.unwrap().status(), 200);
        let m = get("/metrics").await.unwrap();
        assert_eq!(m.status(), 200);
        assert!(m.headers()[header::CONTENT_TYPE]
            .to_str()
            .unwrap()
            .starts_with("application/openmetrics-text"));
        assert!(m
            .text()
            .await
            .unwrap()
            .contains("immuta_gitops_reconcile_total"));
        let st: serde_json::Value = get("/status").await.unwrap().json().await.unwrap();
        assert_eq!(st["settings"]["webhook"], false);
        assert_eq!(get("/hook").await.unwrap().status(), 404);
        let post = http
            .post(format!("{base}/hook"))
            .body("{}")
            .send()
            .await
            .unwrap();
        assert_eq!(post.status(), 404, "no secret configured: no hook endpoint");
        shared.triggers.close();
        assert_eq!(
            get("/readyz").await.unwrap().status(),
            503,
            "draining: out of the Service"
        );
        assert_eq!(get("/healthz").await.unwrap().status(), 200);
    }

    #[tokio::test]
    async fn status_shows_the_concurrency_in_use_when_it_is_read() {
        use crate::client::{Client, ClientConfig};
        // A tenant that accepts connections and never answers: a request stays in flight.
        let silent = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let tenant = format!("http://{}", silent.local_addr().unwrap());
        tokio::spawn(async move {
            let mut open = Vec::new();
            while let Ok((sock, _)) = silent.accept().await {
                open.push(sock);
            }
        });
        let mut cfg = ClientConfig::new(tenant, Secret::new("k3y-value"));
        cfg.concurrency = 6;
        let client = Client::new(cfg).unwrap();
        let (base, _shared) = serve_with(None, Metrics::new(Some(client.clone()))).await;
        let http = reqwest::Client::new();
        let concurrency = || async {
            let st: serde_json::Value = http
                .get(format!("{base}/status"))
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            st["concurrency"].clone()
        };
        let idle = concurrency().await;
        assert_eq!(idle["limit"], 6, "{idle}");
        assert_eq!(idle["max"], 6, "{idle}");
        assert_eq!(idle["in_flight"], 0, "{idle}");
        let pending = tokio::spawn(async move { client.list_purposes().await });
        let mut seen = idle;
        for _ in 0..500 {
            seen = concurrency().await;
            if seen["in_flight"] == 1 {
                break;
            }
            tokio::task::yield_now().await;
        }
        assert_eq!(
            seen["in_flight"], 1,
            "read fresh, not from the last cycle: {seen}"
        );
        pending.abort();
        let _ = pending.await;
        assert_eq!(concurrency().await["in_flight"], 0);
    }

    #[tokio::test]
    async fn hook_checks_signatures_and_queues_one_trigger() {
        let secret = "hook-secret-value";
        let (base, shared) = serve(Some(secret)).await;
        let http = reqwest::Client::new();
        let body = br#"{"ref":"refs/heads/main"}"#.to_vec();
        let url = format!("{base}/hook");

        let bad = http
            .post(&url)
            .header("X-Hub-Signature-256", "sha256=00")
            .body(body.clone())
            .send()
            .await
            .unwrap();
        assert_eq!(bad.status(), 401);
        assert!(!bad.text().await.unwrap().contains(secret));
        let none = http.post(&url).body(body.clone()).send().await.unwrap();
        assert_eq!(none.status(), 401);
        assert_eq!(shared.triggers.take(), None, "refused hooks queue nothing");

        let sig = webhook::github_signature(&Secret::new(secret), &body);
        let good = http
            .post(&url)
            .header("X-Hub-Signature-256", sig)
            .body(body.clone())
            .send()
            .await
            .unwrap();
        assert_eq!(good.status(), 202);
        let gl = http
            .post(&url)
            .header("X-Gitlab-Token", secret)
            .header("X-Gitlab-Event", "Push Hook")
            .body(body.clone())
            .send()
            .await
            .unwrap();
        assert_eq!(gl.status(), 202);
        assert_eq!(shared.triggers.take(), Some(Trigger::Hook));
        assert_eq!(shared.triggers.take(), None, "two hooks, one pending run");

        // Pings, other branches and other events are answered and cost nothing.
        let signed = |event: &'static str, body: &'static [u8]| {
            http.post(&url)
                .header("X-GitHub-Event", event)
                .header(
                    "X-Hub-Signature-256",
                    webhook::github_signature(&Secret::new(secret), body),
                )
                .body(body)
                .send()
        };
        let ping = signed("ping", br#"{"zen":"Design for failure."}"#)
            .await
            .unwrap();
        assert_eq!(ping.status(), 200);
        let other = signed("push", br#"{"ref":"refs/heads/feature"}"#)
            .await
            .unwrap();
        assert_eq!(other.status(), 202);
        assert!(other.text().await.unwrap().starts_with("ignored: "));
        let pr = signed("pull_request", br#"{"ref":"refs/heads/main"}"#)
            .await
            .unwrap();
        assert_eq!(pr.status(), 202);
        assert!(pr.text().await.unwrap().starts_with("ignored: "));
        let form = signed("push", b"payload=%7B%7D").await.unwrap();
        assert_eq!(form.status(), 400);
        assert_eq!(shared.triggers.take(), None, "nothing queued by them");
        // An unsigned ping is refused like any other unsigned delivery.
        let unsigned = http
            .post(&url)
            .header("X-GitHub-Event", "ping")
            .body("{}")
            .send()
            .await
            .unwrap();
        assert_eq!(unsigned.status(), 401);

        shared.triggers.close();
        let late = http
            .post(&url)
            .header("X-Gitlab-Token", secret)
            .body(body.clone())
            .send()
            .await
            .unwrap();
        assert_eq!(late.status(), 503);
    }
}
