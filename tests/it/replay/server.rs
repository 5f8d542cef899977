//! The replay tenant: serves V1 answers copied from the documentation
//! (`tests/fixtures/immuta-v1/`) over real HTTP on 127.0.0.1, as a tenant would.
//!
//! It pages every list with `offset`/`size`, never more than `cap` items a page whatever
//! `size` asks, and wraps pages in the documented envelopes: `GET /project` →
//! `{hits, facets, count}` (000:33780-33885), `GET /project/{id}/dataSources` →
//! `{count, dataSources}` (000:34126-34212), `GET /governance/purpose` →
//! `{purposes, count}` (000:14870-14926), `GET /policy/global` → a bare array
//! (clients.md §7) or `{hits, count}` (002:1585-1590). `templates=false` / `true` filter
//! on `template` as 002:1566-1573 says, unless a test turns that off. It answers the
//! V2 data dry run with the `{dryRun, creating, updating, deleting, noChange}` summary a
//! test gives. Data sources (issue 13): `GET /dataSource` → `{hits, facets, count}`
//! (000:14421-14549) or the bare array 001:312-375 prints; the detail reads
//! (`/{handler}/handler/{id}`, `/dataSource/{id}/tags`, `/dataSource/{id}/access` paged as
//! `{count, users}` and filtered by `states`, `/dictionary/{id}`) answer the documented
//! bodies a test puts in [`Tenant::data_reads`] by path. Every other request is recorded
//! as a write and refused with 405.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{json, Value};

/// The key the replay tenant accepts (raw or `Bearer`).
pub const KEY: &str = "replay-key";

/// One fixture file, parsed.
pub fn fixture(name: &str) -> Value {
    let p = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/immuta-v1")
        .join(name);
    let text = std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

/// What the tenant holds and how it answers.
#[derive(Debug, Clone)]
pub struct Tenant {
    /// `GET /policy/global` items, in server order.
    pub policies: Vec<Value>,
    /// Answer `GET /policy/global` as `{hits, count}` instead of a bare array.
    pub policies_as_hits: bool,
    /// Filter on `template` when `templates` is given (a real tenant does).
    pub honour_templates: bool,
    /// `GET /project` hits.
    pub project_hits: Vec<Value>,
    /// `GET /project/{id}` answers.
    pub projects: BTreeMap<u64, Value>,
    /// `GET /project/{id}/dataSources` items.
    pub project_sources: BTreeMap<u64, Vec<Value>>,
    /// `GET /governance/purpose` items.
    pub purposes: Vec<Value>,
    /// `POST /api/v2/data?dryRun=true` answers by connection key.
    pub data_dry_runs: BTreeMap<String, Value>,
    /// `GET /dataSource` hits.
    pub data_sources: Vec<Value>,
    /// Answer `GET /dataSource` as a bare array (001:312-375) instead of `{hits, count}`.
    pub data_sources_bare: bool,
    /// Detail reads of data sources by path (`/dictionary/4`, ...); an access answer is
    /// `{count, users}` whole, paged and filtered by the replay.
    pub data_reads: BTreeMap<String, Value>,
    /// Most items on one page.
    pub cap: usize,
}

impl Default for Tenant {
    fn default() -> Self {
        Tenant {
            policies: Vec::new(),
            policies_as_hits: false,
            honour_templates: true,
            project_hits: Vec::new(),
            projects: BTreeMap::new(),
            project_sources: BTreeMap::new(),
            purposes: Vec::new(),
            data_dry_runs: BTreeMap::new(),
            data_sources: Vec::new(),
            data_sources_bare: false,
            data_reads: BTreeMap::new(),
            cap: 1000,
        }
    }
}

/// What the tenant saw.
#[derive(Debug, Default)]
pub struct Log {
    /// Every GET, as `path?query`.
    pub reads: Vec<String>,
    /// Every refused request, as `METHOD path?query`.
    pub writes: Vec<String>,
}

#[derive(Clone)]
struct Shared {
    tenant: Arc<Tenant>,
    log: Arc<Mutex<Log>>,
}

/// A running replay tenant.
pub struct Replay {
    /// Base URL.
    pub url: String,
    log: Arc<Mutex<Log>>,
    task: tokio::task::JoinHandle<()>,
}

impl Replay {
    /// Starts serving `tenant` on 127.0.0.1:0.
    pub async fn start(tenant: Tenant) -> Replay {
        let log = Arc::new(Mutex::new(Log::default()));
        let shared = Shared {
            tenant: Arc::new(tenant),
            log: log.clone(),
        };
        let app = Router::new()
            .route("/policy/global", get(policies))
            .route("/project", get(project_list))
            .route("/project/{id}", get(project))
            .route("/project/{id}/dataSources", get(project_sources))
            .route("/governance/purpose", get(purposes))
            .route("/api/v2/data", post(data_dry_run))
            .route("/dataSource", get(data_sources))
            .route("/dataSource/{id}/access", get(data_access))
            .route("/dataSource/{id}/tags", get(data_read))
            .route("/dictionary/{id}", get(data_read))
            .route("/{handler}/handler/{id}", get(data_read))
            .fallback(refuse)
            .with_state(shared);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let task = tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        Replay { url, log, task }
    }

    /// Every GET so far.
    pub fn reads(&self) -> Vec<String> {
        self.log.lock().unwrap().reads.clone()
    }

    /// Every non-read request so far.
    pub fn writes(&self) -> Vec<String> {
        self.log.lock().unwrap().writes.clone()
    }
}

impl Drop for Replay {
    fn drop(&mut self) {
        self.task.abort();
    }
}

type Q = Query<HashMap<String, String>>;

fn error(status: StatusCode, message: &str) -> Response {
    let reason = status.canonical_reason().unwrap_or("");
    let body = json!({"statusCode": status.as_u16(), "error": reason, "message": message});
    (status, Json(body)).into_response()
}

/// Auth as documented (raw key) or as public clients send it (`Bearer`), and the log.
fn refused(s: &Shared, headers: &HeaderMap, uri: &Uri) -> Option<Response> {
    let auth = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if auth != KEY && auth != format!("Bearer {KEY}") {
        return Some(error(
            StatusCode::UNAUTHORIZED,
            "A valid Authorization token must be provided.",
        ));
    }
    s.log.lock().unwrap().reads.push(uri.to_string());
    None
}

/// One page of `items` by `offset`/`size` (default `default_size`), capped.
fn page(
    items: &[Value],
    q: &HashMap<String, String>,
    default_size: usize,
    cap: usize,
) -> Vec<Value> {
    let num = |k: &str, d: usize| q.get(k).and_then(|v| v.parse().ok()).unwrap_or(d);
    let offset = num("offset", 0);
    let size = num("size", default_size).min(cap);
    items.iter().skip(offset).take(size).cloned().collect()
}

/// A search list's `{hits, facets, count}` page of `all` (10 a page by default).
fn hits_page(all: &[Value], q: &HashMap<String, String>, cap: usize) -> Response {
    let items = page(all, q, 10, cap);
    Json(json!({"hits": items, "facets": {}, "count": all.len()})).into_response()
}

async fn policies(State(s): State<Shared>, headers: HeaderMap, uri: Uri, Query(q): Q) -> Response {
    if let Some(r) = refused(&s, &headers, &uri) {
        return r;
    }
    let t = &s.tenant;
    let wanted: Vec<Value> = t
        .policies
        .iter()
        .filter(|p| {
            let is_template = p.get("template").and_then(Value::as_bool) == Some(true);
            match q.get("templates").map(String::as_str) {
                Some("false") if t.honour_templates => !is_template,
                Some("true") if t.honour_templates => is_template,
                _ => true,
            }
        })
        .cloned()
        .collect();
    let items = page(&wanted, &q, 10, t.cap);
    if t.policies_as_hits {
        Json(json!({"hits": items, "count": wanted.len()})).into_response()
    } else {
        Json(Value::Array(items)).into_response()
    }
}

async fn project_list(
    State(s): State<Shared>,
    headers: HeaderMap,
    uri: Uri,
    Query(q): Q,
) -> Response {
    if let Some(r) = refused(&s, &headers, &uri) {
        return r;
    }
    hits_page(&s.tenant.project_hits, &q, s.tenant.cap)
}

async fn project(
    State(s): State<Shared>,
    headers: HeaderMap,
    uri: Uri,
    Path(id): Path<u64>,
) -> Response {
    if let Some(r) = refused(&s, &headers, &uri) {
        return r;
    }
    match s.tenant.projects.get(&id) {
        Some(p) => Json(p.clone()).into_response(),
        None => error(StatusCode::NOT_FOUND, "Project not found"),
    }
}

async fn project_sources(
    State(s): State<Shared>,
    headers: HeaderMap,
    uri: Uri,
    Path(id): Path<u64>,
    Query(q): Q,
) -> Response {
    if let Some(r) = refused(&s, &headers, &uri) {
        return r;
    }
    let t = &s.tenant;
    let all = t.project_sources.get(&id).cloned().unwrap_or_default();
    let items = page(&all, &q, 10, t.cap);
    Json(json!({"count": all.len(), "dataSources": items})).into_response()
}

async fn purposes(State(s): State<Shared>, headers: HeaderMap, uri: Uri, Query(q): Q) -> Response {
    if let Some(r) = refused(&s, &headers, &uri) {
        return r;
    }
    let t = &s.tenant;
    let items = page(&t.purposes, &q, 50, t.cap);
    Json(json!({"purposes": items, "count": t.purposes.len()})).into_response()
}

async fn data_dry_run(
    State(s): State<Shared>,
    headers: HeaderMap,
    uri: Uri,
    Query(q): Q,
    Json(body): Json<Value>,
) -> Response {
    if q.get("dryRun").map(String::as_str) != Some("true") {
        return refuse(State(s), axum::http::Method::POST, uri).await;
    }
    if let Some(r) = refused(&s, &headers, &uri) {
        return r;
    }
    let key = body
        .get("connectionKey")
        .and_then(Value::as_str)
        .unwrap_or("");
    match s.tenant.data_dry_runs.get(key) {
        Some(a) => Json(a.clone()).into_response(),
        None => error(StatusCode::BAD_REQUEST, "unknown connection in this replay"),
    }
}

async fn data_sources(
    State(s): State<Shared>,
    headers: HeaderMap,
    uri: Uri,
    Query(q): Q,
) -> Response {
    if let Some(r) = refused(&s, &headers, &uri) {
        return r;
    }
    let t = &s.tenant;
    if t.data_sources_bare {
        Json(Value::Array(page(&t.data_sources, &q, 10, t.cap))).into_response()
    } else {
        hits_page(&t.data_sources, &q, t.cap)
    }
}

async fn data_read(State(s): State<Shared>, headers: HeaderMap, uri: Uri) -> Response {
    if let Some(r) = refused(&s, &headers, &uri) {
        return r;
    }
    match s.tenant.data_reads.get(uri.path()) {
        Some(v) => Json(v.clone()).into_response(),
        None => error(StatusCode::NOT_FOUND, "Data source not found."),
    }
}

async fn data_access(
    State(s): State<Shared>,
    headers: HeaderMap,
    uri: Uri,
    Query(q): Q,
) -> Response {
    if let Some(r) = refused(&s, &headers, &uri) {
        return r;
    }
    let Some(answer) = s.tenant.data_reads.get(uri.path()) else {
        return error(StatusCode::NOT_FOUND, "Data source not found.");
    };
    let users: Vec<Value> = answer["users"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .into_iter()
        .filter(|u| q.get("states").is_none_or(|st| u["state"] == st.as_str()))
        .collect();
    let items = page(&users, &q, 10, s.tenant.cap);
    Json(json!({"count": users.len(), "users": items})).into_response()
}

async fn refuse(State(s): State<Shared>, method: axum::http::Method, uri: Uri) -> Response {
    s.log.lock().unwrap().writes.push(format!("{method} {uri}"));
    error(
        StatusCode::METHOD_NOT_ALLOWED,
        "the replay tenant is read-only",
    )
}
