//! The Immuta API client: the one way any module talks HTTP to Immuta.
//!
//! Input: [`ClientConfig`]. Output: decoded JSON [`Value`]s, or [`Error`]s that name the
//! method, path, status, object and Immuta's message. A single private `send()` (in
//! `send.rs`) sets auth, timeout and the tracing span, bounds in-flight requests by the
//! [`adaptive`] limit, retries spurious failures ([`retry`]) and maps non-2xx answers;
//! endpoint methods are a few lines that call it. The API key never leaves this module except in the `Authorization` header,
//! and every error text passes through the [`Redactor`].

use std::sync::Arc;
use std::time::Duration;

use reqwest::Method;
use serde_json::Value;

use crate::object::{Kind, ObjectKey};
use crate::redact::{Redactor, Secret};

pub mod adaptive;
mod body;
mod data_reads;
pub mod error;
pub mod pace;
pub mod paging;
mod policy;
pub mod retry;
mod send;
mod stats;

pub use adaptive::ConcurrencyStatus;
pub use error::Error;
pub use pace::{Budget, Pacer};
pub use retry::RetryPolicy;
pub use stats::RequestStats;

/// Page size asked of the V1 list endpoints. The server may answer fewer items per page;
/// [`paging`] reads on until everything is in hand.
pub const PAGE_SIZE: usize = 1000;

/// How to reach a tenant.
#[derive(Debug, Clone)]
pub struct ClientConfig {
    /// Base URL, e.g. `https://acme.immuta.com` (no trailing slash needed).
    pub base_url: String,
    /// The API key, sent raw in `Authorization` as Immuta documents.
    pub api_key: Secret,
    /// Timeout of one HTTP attempt.
    pub timeout: Duration,
    /// Requests in flight at once at most, across all callers of this client; the
    /// [`adaptive`] limit stays between 1 and this.
    pub concurrency: usize,
    /// Retry behaviour.
    pub retry: RetryPolicy,
    /// Skip TLS certificate verification (explicit flag only; logged as a warning).
    pub insecure_skip_tls_verify: bool,
    /// Largest page asked of V1 lists.
    pub page_size: usize,
    /// Largest response body accepted; a longer answer fails the request, unretried.
    pub max_response_bytes: u64,
}

impl ClientConfig {
    /// A configuration with the defaults for everything but URL and key.
    pub fn new(base_url: impl Into<String>, api_key: Secret) -> Self {
        ClientConfig {
            base_url: base_url.into(),
            api_key,
            timeout: Duration::from_secs(60),
            concurrency: 8,
            retry: RetryPolicy::default(),
            insecure_skip_tls_verify: false,
            page_size: PAGE_SIZE,
            max_response_bytes: crate::limits::DEFAULT_RESPONSE_BYTES,
        }
    }
}

/// The Immuta client. Cheap to clone; clones share the in-flight limit and the stats.
#[derive(Clone)]
pub struct Client {
    http: reqwest::Client,
    base: String,
    /// `base` without credentials, for messages.
    shown_base: String,
    key: Secret,
    retry: RetryPolicy,
    timeout: Duration,
    /// The adaptive in-flight limit ([`adaptive`]), shared by every clone.
    limiter: adaptive::Limiter,
    redactor: Arc<Redactor>,
    stats: Arc<RequestStats>,
    page_size: usize,
    concurrency: usize,
    max_response_bytes: u64,
    /// Paces data-source dry runs (`--dry-run-budget`); `None`: unpaced.
    pacer: Option<Pacer>,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("base", &self.shown_base)
            .finish_non_exhaustive()
    }
}

/// One request, before it is sent.
struct Request<'a> {
    method: Method,
    /// The route template for metrics, e.g. `GET /project/{id}`.
    endpoint: &'static str,
    path: String,
    query: Vec<(&'static str, String)>,
    body: Option<&'a Value>,
    key: Option<&'a ObjectKey>,
    /// A data-source dry run: each attempt waits for the client's [`Pacer`], if any.
    paced: bool,
}

impl Client {
    /// Builds a client.
    ///
    /// # Errors
    /// [`Error::Config`] when the URL is not a valid http(s) URL, the API key cannot be
    /// sent in a header (control characters such as CR or LF) or TLS cannot be set up:
    /// mistakes no retry would fix, reported before any request.
    pub fn new(cfg: ClientConfig) -> Result<Self, Error> {
        let base = cfg.base_url.trim_end_matches('/').to_string();
        check_base_url(&base)?;
        if reqwest::header::HeaderValue::from_str(cfg.api_key.expose()).is_err() {
            return Err(Error::Config(
                "the API key holds characters an HTTP header cannot carry (control characters such as CR or LF); check the key file or IMMUTA_API_KEY".into(),
            ));
        }
        if cfg.insecure_skip_tls_verify {
            tracing::warn!("TLS certificate verification is OFF for {base}: only use this against a test tenant");
        }
        let http = reqwest::Client::builder()
            .timeout(cfg.timeout)
            .danger_accept_invalid_certs(cfg.insecure_skip_tls_verify)
            .user_agent(concat!("immuta-gitops/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| Error::Config(e.to_string()))?;
        let mut redactor = Redactor::new();
        redactor.add(cfg.api_key.expose());
        for s in crate::redact::url::secrets(&base) {
            redactor.add(&s);
        }
        Ok(Client {
            http,
            shown_base: crate::redact::url::strip_credentials(&base),
            base,
            key: cfg.api_key,
            retry: cfg.retry,
            timeout: cfg.timeout,
            limiter: adaptive::Limiter::new(cfg.concurrency.max(1)),
            redactor: Arc::new(redactor),
            stats: Arc::new(RequestStats::default()),
            page_size: cfg.page_size.max(1),
            concurrency: cfg.concurrency.max(1),
            max_response_bytes: cfg.max_response_bytes,
            pacer: None,
        })
    }

    /// A clone whose data-source dry runs (every attempt) wait for `pacer`; it shares
    /// the in-flight bound and the stats with `self`.
    #[must_use]
    pub fn with_pacer(mut self, pacer: Pacer) -> Self {
        self.pacer = Some(pacer);
        self
    }

    /// The pacer of data-source dry runs, if any.
    pub fn pacer(&self) -> Option<&Pacer> {
        self.pacer.as_ref()
    }

    /// Adds the secret values of a revision so they are masked in error texts too.
    pub fn with_secrets(mut self, secrets: &Redactor) -> Self {
        let mut r = (*self.redactor).clone();
        r.extend(secrets);
        self.redactor = Arc::new(r);
        self
    }

    /// Requests allowed in flight at once at most (`--concurrency`).
    pub fn concurrency(&self) -> usize {
        self.concurrency
    }

    /// The concurrency in use now: the adaptive limit, its maximum and the requests in
    /// flight, read fresh from the limiter every clone shares.
    pub fn concurrency_status(&self) -> ConcurrencyStatus {
        self.limiter.status()
    }

    /// Request counts so far.
    pub fn stats(&self) -> &RequestStats {
        &self.stats
    }

    /// The base URL as it may be shown: without credentials.
    pub fn base_url(&self) -> &str {
        &self.shown_base
    }

    /// `POST /api/v2/{kind}` with `dryRun` in the query string (never in the body).
    ///
    /// # Errors
    /// Any [`Error`]; 4xx answers carry Immuta's message.
    pub async fn upsert(
        &self,
        key: &ObjectKey,
        body: &Value,
        dry_run: bool,
    ) -> Result<Value, Error> {
        let (endpoint, path) = match key.kind {
            Kind::Data => ("POST /api/v2/data", "/api/v2/data"),
            Kind::Policy => ("POST /api/v2/policy", "/api/v2/policy"),
            Kind::Project => ("POST /api/v2/project", "/api/v2/project"),
            Kind::Purpose => ("POST /api/v2/purpose", "/api/v2/purpose"),
        };
        let mut query = vec![("dryRun", dry_run.to_string())];
        if key.kind == Kind::Data && !dry_run {
            // Block until the data sources exist, so projects applied next can name them.
            query.push(("wait", "60".to_string()));
        }
        self.send(Request {
            method: Method::POST,
            endpoint,
            path: path.to_string(),
            query,
            body: Some(body),
            key: Some(key),
            paced: key.kind == Kind::Data && dry_run,
        })
        .await
    }

    /// `GET /policy/global?templates=false`, every page. The docs show the answer both
    /// as a bare array and as `{hits, count}` (002:1517-1590, clients.md §7-§8); both are
    /// read. Templates are left out: they are not policies in force (002:1566-1573).
    ///
    /// # Errors
    /// Any [`Error`].
    pub async fn list_policies(&self) -> Result<Vec<Value>, Error> {
        self.read_list(&paging::List {
            endpoint: "GET /policy/global",
            path: "/policy/global".into(),
            query: &[("templates", "false")],
            envelope: paging::Envelope {
                bare: true,
                fields: &["hits"],
            },
        })
        .await
    }

    /// `GET /project`, every page of `{hits, facets, count}` (004:114-175; also read:
    /// `{projects, count}`, what TPI's `ListProjects` decodes, clients.md §2).
    ///
    /// # Errors
    /// Any [`Error`].
    pub async fn list_projects(&self) -> Result<Vec<Value>, Error> {
        self.read_list(&paging::List {
            endpoint: "GET /project",
            path: "/project".into(),
            query: &[],
            envelope: paging::Envelope {
                bare: false,
                fields: &["hits", "projects"],
            },
        })
        .await
    }

    /// `GET /governance/purpose`, every page of `{purposes, count}` (000:14865-14926;
    /// sub-purposes are listed as purposes of their own).
    ///
    /// # Errors
    /// Any [`Error`].
    pub async fn list_purposes(&self) -> Result<Vec<Value>, Error> {
        self.read_list(&paging::List {
            endpoint: "GET /governance/purpose",
            path: "/governance/purpose".into(),
            query: &[],
            envelope: paging::Envelope {
                bare: false,
                fields: &["purposes"],
            },
        })
        .await
    }

    /// `GET /project/{id}`.
    ///
    /// # Errors
    /// Any [`Error`].
    pub async fn get_project(&self, id: u64) -> Result<Value, Error> {
        self.send(Request {
            method: Method::GET,
            endpoint: "GET /project/{id}",
            path: format!("/project/{id}"),
            query: vec![("checkForSqlAccount", "false".into())],
            body: None,
            key: None,
            paced: false,
        })
        .await
    }

    /// `GET /project/{id}/dataSources`, every page of `{count, dataSources}`
    /// (000:34121-34212).
    ///
    /// # Errors
    /// Any [`Error`].
    pub async fn project_data_sources(&self, id: u64) -> Result<Vec<Value>, Error> {
        self.read_list(&paging::List {
            endpoint: "GET /project/{id}/dataSources",
            path: format!("/project/{id}/dataSources"),
            query: &[],
            envelope: paging::Envelope {
                bare: false,
                fields: &["dataSources"],
            },
        })
        .await
    }

    /// `DELETE /api/v2/data/{connectionKey}` (`dryRun` in the query string).
    ///
    /// # Errors
    /// Any [`Error`]; an unknown key is a 404.
    pub async fn delete_data(&self, key: &ObjectKey, dry_run: bool) -> Result<Value, Error> {
        self.send(Request {
            method: Method::DELETE,
            endpoint: "DELETE /api/v2/data/{connectionKey}",
            path: format!("/api/v2/data/{}", encode_segment(&key.name)),
            query: vec![("dryRun", dry_run.to_string())],
            body: None,
            key: Some(key),
            paced: false,
        })
        .await
    }

    /// `DELETE /api/v2/project/{projectKey}`, without `hardDelete`: Immuta only disables
    /// the project (it stays listed with `deleted: true`; the CLI docs, 000:1497-1500,
    /// 1732-1743), which keeps the change reversible. Readers skip disabled projects, and a
    /// later upsert of the same key enables it again. Evidence: docs/fidelity.md.
    ///
    /// # Errors
    /// Any [`Error`]; an unknown key is a 404.
    pub async fn delete_project(&self, key: &ObjectKey) -> Result<Value, Error> {
        self.delete(
            "DELETE /api/v2/project/{projectKey}",
            format!("/api/v2/project/{}", encode_segment(&key.name)),
            key,
        )
        .await
    }

    /// `DELETE /policy/global/{id}` (V1: policies are deleted by id).
    ///
    /// # Errors
    /// Any [`Error`]; an unknown id is a 404.
    pub async fn delete_policy(&self, key: &ObjectKey, id: u64) -> Result<Value, Error> {
        self.delete(
            "DELETE /policy/global/{id}",
            format!("/policy/global/{id}"),
            key,
        )
        .await
    }

    /// `DELETE /governance/purpose/{id}` (V1; removes the purpose and its sub-purposes).
    ///
    /// # Errors
    /// Any [`Error`]; an unknown id is a 404.
    pub async fn delete_purpose(&self, key: &ObjectKey, id: u64) -> Result<Value, Error> {
        self.delete(
            "DELETE /governance/purpose/{id}",
            format!("/governance/purpose/{id}"),
            key,
        )
        .await
    }

    /// A `DELETE` without query or body, on behalf of `key`.
    async fn delete(
        &self,
        endpoint: &'static str,
        path: String,
        key: &ObjectKey,
    ) -> Result<Value, Error> {
        self.send(Request {
            method: Method::DELETE,
            endpoint,
            path,
            query: Vec::new(),
            body: None,
            key: Some(key),
            paced: false,
        })
        .await
    }
}

/// The base URL must parse as an absolute http(s) URL with a host and a valid port.
fn check_base_url(base: &str) -> Result<(), Error> {
    let url = reqwest::Url::parse(base).map_err(|e| {
        Error::Config(format!(
            "Immuta URL {:?} is not a valid URL: {e}",
            crate::source::git::strip_credentials(base)
        ))
    })?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
        return Err(Error::Config(format!(
            "Immuta URL {:?} must start with http:// or https:// and name a host",
            crate::source::git::strip_credentials(base)
        )));
    }
    Ok(())
}

fn decode(method: &str, path: &str, message: &str) -> Error {
    Error::Decode {
        method: method.to_string(),
        path: path.to_string(),
        message: message.to_string(),
    }
}

/// Percent-encodes one path segment (keys may hold spaces, slashes and dots).
pub fn encode_segment(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn pages_after_the_first_are_read_concurrently_and_joined_in_order() {
        let emu = immuta_emulator::spawn(immuta_emulator::Options {
            api_key: "k123".into(),
            ..Default::default()
        })
        .await
        .unwrap();
        let mut cfg = ClientConfig::new(emu.url(), Secret::new("k123"));
        let big = Client::new(cfg.clone()).unwrap();
        for i in 0..11 {
            let key = ObjectKey::new(Kind::Purpose, format!("Purpose {i:02}"));
            big.upsert(&key, &serde_json::json!({"name": key.name}), false)
                .await
                .unwrap();
        }
        let all = big.list_purposes().await.unwrap();
        cfg.page_size = 3;
        let small = Client::new(cfg).unwrap();
        let paged = small.list_purposes().await.unwrap();
        assert_eq!(paged, all);
        assert!(paged.len() >= 11, "{}", paged.len());
        let pages = paged.len().div_ceil(3);
        assert_eq!(
            small.stats().total(),
            pages as u64,
            "one request per page, none repeated"
        );
        emu.shutdown().await;
    }

    #[test]
    fn segments_are_encoded() {
        assert_eq!(encode_segment("a b/c.d"), "a%20b%2Fc.d");
    }
}
