//! Emulator: the HTTP surface. Parses requests (JSON or YAML bodies, `dryRun` from the
//! query string only), calls the store, records writes (marking each write's response with
//! its record, for the lost-answer fault), and pages V1 lists.
//!
//! Input: authenticated requests (the auth and fault layers run first, see `mod.rs`).
//! Output: documented JSON bodies. Never reads `dryRun` from a body.

use std::collections::HashMap;

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{Method, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{json, Value};

use super::error::ApiError;
use super::store::{PurposeRec, Store};
use super::Emulator;

/// Largest page any V1 list returns unless [`super::Options::max_page_size`] says otherwise.
pub const MAX_PAGE: usize = 1000;

type Q = Query<HashMap<String, String>>;

/// The authenticated API routes.
pub fn api() -> Router<Emulator> {
    Router::new()
        .route(
            "/api/v2/data",
            post(|s, q, u, b| upsert(s, q, u, b, "data")),
        )
        .route(
            "/api/v2/policy",
            post(|s, q, u, b| upsert(s, q, u, b, "policy")),
        )
        .route(
            "/api/v2/project",
            post(|s, q, u, b| upsert(s, q, u, b, "project")),
        )
        .route(
            "/api/v2/purpose",
            post(|s, q, u, b| upsert(s, q, u, b, "purpose")),
        )
        .route("/api/v2/data/{key}", axum::routing::delete(delete_data))
        .route(
            "/api/v2/project/{key}",
            axum::routing::delete(delete_project),
        )
        .route("/policy/global", get(list_policies))
        .route(
            "/policy/global/{id}",
            get(get_policy).delete(delete_policy).put(put_policy),
        )
        .route("/project", get(list_projects))
        .route("/project/{id}", get(get_project))
        .route("/project/{id}/dataSources", get(project_sources))
        .route("/governance/purpose", get(list_purposes))
        .route(
            "/governance/purpose/{id}",
            get(get_purpose).delete(delete_purpose),
        )
        .route("/dataSource", get(list_sources))
        .route("/dataSource/{id}", get(get_source).delete(delete_source))
        .merge(super::source_reads::routes())
}

/// `GET /_emulator/writes`.
pub async fn writes(State(emu): State<Emulator>) -> Response {
    Json(emu.write_log()).into_response()
}

/// JSON 404 for paths no route knows.
pub async fn fallback() -> Response {
    ApiError::not_found("Not Found").into_response()
}

fn dry_run(q: &HashMap<String, String>) -> Result<bool, ApiError> {
    match q.get("dryRun").map(|v| v.to_ascii_lowercase()).as_deref() {
        None | Some("false") => Ok(false),
        Some("true") => Ok(true),
        Some(_) => Err(ApiError::bad_request("dryRun must be true or false")),
    }
}

fn flag(q: &HashMap<String, String>, name: &str) -> bool {
    q.get(name).is_some_and(|v| v.eq_ignore_ascii_case("true"))
}

/// Tries JSON, then YAML. Errors name the position, never the content.
fn parse_body(bytes: &[u8]) -> Result<Value, ApiError> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(ApiError::bad_request("the request body is empty"));
    }
    if let Ok(v) = serde_json::from_slice::<Value>(bytes) {
        return Ok(v);
    }
    let text = std::str::from_utf8(bytes)
        .map_err(|_| ApiError::bad_request("the request body is not UTF-8 text"))?;
    serde_yaml::from_str::<Value>(text).map_err(|e| {
        let at = e
            .location()
            .map(|l| format!(" at line {}, column {}", l.line(), l.column()))
            .unwrap_or_default();
        ApiError::bad_request(format!("the request body is neither JSON nor YAML{at}"))
    })
}

fn key_of(kind: &str, body: &Value) -> String {
    let field = match kind {
        "data" => "connectionKey",
        "policy" => "policyKey",
        "project" => "projectKey",
        _ => "name",
    };
    body.get(field)
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string()
}

/// Records the write and turns the outcome into a response.
fn finish(
    emu: &Emulator,
    method: &Method,
    uri: &Uri,
    key: &str,
    dry: bool,
    r: Result<Value, ApiError>,
) -> Response {
    let status = r.as_ref().map_or_else(|e| e.status.as_u16(), |_| 200);
    let recorded = emu.record(method.as_str(), uri.path(), key, status, dry);
    let mut resp = match r {
        Ok(v) => Json(v).into_response(),
        Err(e) => e.into_response(),
    };
    resp.extensions_mut().insert(recorded);
    resp
}

async fn upsert(
    State(emu): State<Emulator>,
    Query(q): Q,
    uri: Uri,
    body: Bytes,
    kind: &'static str,
) -> Response {
    let dry = dry_run(&q);
    let d = *dry.as_ref().unwrap_or(&false);
    let parsed = parse_body(&body);
    let key = parsed.as_ref().map(|b| key_of(kind, b)).unwrap_or_default();
    let r = dry.and_then(|dry| {
        let body = parsed?;
        emu.with_store(|s| match kind {
            "data" => s.upsert_data(&body, dry),
            "policy" => s.upsert_policy(&body, dry),
            "project" => s.upsert_project(&body, dry),
            _ => s.upsert_purpose(&body, dry),
        })
    });
    finish(&emu, &Method::POST, &uri, &key, d, r)
}

/// A V2 delete by key: `dryRun` from the query, then `delete` on the store, recorded.
fn delete_by_key(
    emu: &Emulator,
    key: &str,
    q: &HashMap<String, String>,
    uri: &Uri,
    delete: impl FnOnce(&mut Store, bool) -> Result<Value, ApiError>,
) -> Response {
    let dry = dry_run(q);
    let d = *dry.as_ref().unwrap_or(&false);
    let r = dry.and_then(|dry| emu.with_store(|s| delete(s, dry)));
    finish(emu, &Method::DELETE, uri, key, d, r)
}

async fn delete_data(
    State(emu): State<Emulator>,
    Path(key): Path<String>,
    Query(q): Q,
    uri: Uri,
) -> Response {
    delete_by_key(&emu, &key, &q, &uri, |s, dry| s.delete_data(&key, dry))
}

async fn delete_project(
    State(emu): State<Emulator>,
    Path(key): Path<String>,
    Query(q): Q,
    uri: Uri,
) -> Response {
    let hard = flag(&q, "hardDelete");
    delete_by_key(&emu, &key, &q, &uri, |s, dry| {
        s.delete_project(&key, hard, dry)
    })
}

pub(crate) fn id_of(raw: &str, what: &str) -> Result<u64, ApiError> {
    raw.parse::<u64>()
        .map_err(|_| ApiError::not_found(format!("{what} was not found")))
}

/// `(offset, size)` from the query; `size` defaults per endpoint and is capped at `cap`
/// (the emulator's `max_page_size`).
pub(crate) fn page(
    q: &HashMap<String, String>,
    default: usize,
    cap: usize,
) -> Result<(usize, usize), ApiError> {
    let num = |k: &str, d: usize| -> Result<usize, ApiError> {
        q.get(k).map_or(Ok(d), |v| {
            v.parse::<usize>()
                .map_err(|_| ApiError::bad_request(format!("{k} must be a non-negative integer")))
        })
    };
    Ok((
        num("offset", 0)?,
        num("size", default)?.clamp(1, cap.max(1)),
    ))
}

/// The total and one page of `items`, keeping those `keep` accepts. Without a search
/// filter the total is `len` and only the first `offset + size` items are visited (no
/// per-item work outside the page); with one, every item is tested once (as Immuta's own
/// search must).
fn page_of<'a, T: 'a>(
    items: impl Iterator<Item = &'a T>,
    len: usize,
    q: &HashMap<String, String>,
    keep: impl Fn(&T) -> bool,
    (offset, size): (usize, usize),
) -> (usize, Vec<&'a T>) {
    if !searching(q) {
        return (len, items.skip(offset).take(size).collect());
    }
    let mut count = 0;
    let mut page = Vec::new();
    for item in items.filter(|i| keep(i)) {
        if count >= offset && page.len() < size {
            page.push(item);
        }
        count += 1;
    }
    (count, page)
}

fn searching(q: &HashMap<String, String>) -> bool {
    q.get("searchText").is_some_and(|s| !s.is_empty())
}

fn matches(q: &HashMap<String, String>, name: Option<&str>) -> bool {
    match q.get("searchText").filter(|s| !s.is_empty()) {
        None => true,
        Some(t) => name.is_some_and(|n| n.to_lowercase().contains(&t.to_lowercase())),
    }
}

/// `GET /policy/global`: a bare array (000:27790-27806; clients.md §7, §8), sorted by
/// `sortField` (`createdAt` or `name`, default `createdAt`) and `sortOrder` (default
/// `desc`), as 002:1530-1545 documents; `templates=true` lists only templates, `false` only
/// non-templates, absent both (002:1566-1570).
async fn list_policies(State(emu): State<Emulator>, Query(q): Q) -> Response {
    let r = page(&q, MAX_PAGE, emu.max_page_size()).and_then(|(offset, size)| {
        let by_name = match q.get("sortField").map(String::as_str) {
            None | Some("createdAt") => false,
            Some("name") => true,
            Some(_) => return Err(ApiError::bad_request("sortField must be name or createdAt")),
        };
        let descending = match q.get("sortOrder").map(String::as_str) {
            None | Some("desc") => true,
            Some("asc") => false,
            Some(_) => return Err(ApiError::bad_request("sortOrder must be asc or desc")),
        };
        let templates = match q
            .get("templates")
            .map(|v| v.to_ascii_lowercase())
            .as_deref()
        {
            None => None,
            Some("true") => Some(true),
            Some("false") => Some(false),
            Some(_) => return Err(ApiError::bad_request("templates must be true or false")),
        };
        emu.with_store(|s| {
            let ty = q.get("type").cloned();
            let str_of = |p: &super::store::PolicyRec, k: &str| {
                p.v1.get(k).and_then(Value::as_str).map(str::to_string)
            };
            let mut items: Vec<&super::store::PolicyRec> = s
                .policies
                .values()
                .filter(|p| {
                    ty.as_deref()
                        .is_none_or(|t| str_of(p, "type").as_deref() == Some(t))
                })
                .filter(|p| {
                    templates.is_none_or(|want| {
                        p.v1.get("template")
                            .and_then(Value::as_bool)
                            .unwrap_or(false)
                            == want
                    })
                })
                .filter(|p| matches(&q, p.v1.get("name").and_then(Value::as_str)))
                .collect();
            // Ids grow with creation time, so they order by `createdAt` and break ties.
            if by_name {
                items.sort_by(|a, b| {
                    str_of(a, "name")
                        .cmp(&str_of(b, "name"))
                        .then(a.id.cmp(&b.id))
                });
            } else {
                items.sort_by_key(|p| p.id);
            }
            if descending {
                items.reverse();
            }
            let page = items
                .into_iter()
                .skip(offset)
                .take(size)
                .map(|p| {
                    if flag(&q, "nameOnly") {
                        json!({"name": p.v1.get("name"), "id": p.id, "type": p.v1.get("type")})
                    } else {
                        p.v1.clone()
                    }
                })
                .collect::<Vec<_>>();
            Ok(Value::Array(page))
        })
    });
    reply(r)
}

pub(crate) fn reply(r: Result<Value, ApiError>) -> Response {
    match r {
        Ok(v) => Json(v).into_response(),
        Err(e) => e.into_response(),
    }
}

async fn get_policy(State(emu): State<Emulator>, Path(id): Path<String>) -> Response {
    reply(id_of(&id, "Policy").and_then(|id| {
        emu.with_store(|s| {
            s.policies
                .get(&id)
                .map(|p| p.v1.clone())
                .ok_or_else(|| ApiError::not_found(format!("Policy {id} was not found")))
        })
    }))
}

async fn put_policy(
    State(emu): State<Emulator>,
    Path(raw): Path<String>,
    uri: Uri,
    body: Bytes,
) -> Response {
    let parsed = parse_body(&body);
    let r = id_of(&raw, "Policy").and_then(|id| {
        let body = parsed?;
        emu.with_store(|s| s.put_policy(id, &body))
    });
    let key = written_key(&r, &raw, |v| v.get("policyKey"));
    finish(&emu, &Method::PUT, &uri, &key, false, r)
}

async fn delete_policy(State(emu): State<Emulator>, Path(raw): Path<String>, uri: Uri) -> Response {
    let r = id_of(&raw, "Policy").and_then(|id| emu.with_store(|s| s.delete_policy(id)));
    let key = written_key(&r, &raw, |v| v.get("policyKey"));
    finish(&emu, &Method::DELETE, &uri, &key, false, r)
}

/// The key a write's record names: what `pick` finds in a successful answer, else the
/// id from the path as the caller sent it.
fn written_key(
    r: &Result<Value, ApiError>,
    raw: &str,
    pick: impl FnOnce(&Value) -> Option<&Value>,
) -> String {
    r.as_ref()
        .ok()
        .and_then(pick)
        .and_then(Value::as_str)
        .unwrap_or(raw)
        .to_string()
}

/// A `{hits, count, facets}` search page, 10 hits by default: what `hits` returns for
/// the store and the `(offset, size)` window (projects and data sources list alike).
fn hits_page(
    emu: &Emulator,
    q: &HashMap<String, String>,
    hits: impl FnOnce(&Store, (usize, usize)) -> (usize, Vec<Value>),
) -> Response {
    reply(page(q, 10, emu.max_page_size()).and_then(|window| {
        emu.with_store(|s| {
            let (count, hits) = hits(s, window);
            Ok(json!({"hits": hits, "count": count, "facets": {}}))
        })
    }))
}

async fn list_projects(State(emu): State<Emulator>, Query(q): Q) -> Response {
    hits_page(&emu, &q, |s, window| {
        let (count, hits) = page_of(
            s.projects.values(),
            s.projects.len(),
            &q,
            |p| matches(&q, p.raw.get("name").and_then(Value::as_str)),
            window,
        );
        (count, hits.into_iter().map(|p| s.project_hit(p)).collect())
    })
}

fn project_not_found(id: u64) -> ApiError {
    ApiError::not_found(format!("Project {id} was not found"))
}

async fn get_project(State(emu): State<Emulator>, Path(id): Path<String>) -> Response {
    reply(id_of(&id, "Project").and_then(|id| {
        emu.with_store(|s| {
            s.projects
                .get(&id)
                .map(|p| s.project_v1(p))
                .ok_or_else(|| project_not_found(id))
        })
    }))
}

async fn project_sources(
    State(emu): State<Emulator>,
    Path(id): Path<String>,
    Query(q): Q,
) -> Response {
    reply(id_of(&id, "Project").and_then(|id| {
        let (offset, size) = page(&q, 10, emu.max_page_size())?;
        emu.with_store(|s| {
            let p = s.projects.get(&id).ok_or_else(|| project_not_found(id))?;
            let all = s.project_sources(p);
            let count = all.len();
            let items: Vec<Value> = all.into_iter().skip(offset).take(size).collect();
            Ok(json!({"count": count, "dataSources": items}))
        })
    }))
}

/// `GET /governance/purpose`: `{purposes, count}` in name order; deleted purposes only
/// with `includeDeleted=true` (000:14069-14115), each after the live one of its name.
async fn list_purposes(State(emu): State<Emulator>, Query(q): Q) -> Response {
    reply(
        page(&q, 50, emu.max_page_size()).and_then(|(offset, size)| {
            emu.with_store(|s| {
                let with_deleted = flag(&q, "includeDeleted");
                let extra = if with_deleted {
                    s.deleted_purposes.len()
                } else {
                    0
                };
                let total = s.purpose_names.len() + extra;
                let size = if flag(&q, "noLimit") {
                    total.max(1)
                } else {
                    size
                };
                let live = || s.purpose_names.values().filter_map(|id| s.purposes.get(id));
                let (count, page): (usize, Vec<Value>) = if with_deleted {
                    let mut all: Vec<(&PurposeRec, bool)> = live()
                        .map(|p| (p, false))
                        .chain(s.deleted_purposes.values().map(|p| (p, true)))
                        .collect();
                    all.sort_by(|a, b| (&a.0.name, a.1, a.0.id).cmp(&(&b.0.name, b.1, b.0.id)));
                    let keep = |(p, _): &(&PurposeRec, bool)| matches(&q, Some(p.name.as_str()));
                    let (c, page) = page_of(all.iter(), all.len(), &q, keep, (offset, size));
                    let items = page
                        .into_iter()
                        .map(|(p, deleted)| {
                            if *deleted {
                                Store::deleted_purpose_v1(p)
                            } else {
                                Store::purpose_v1(p)
                            }
                        })
                        .collect();
                    (c, items)
                } else {
                    let keep = |p: &PurposeRec| matches(&q, Some(p.name.as_str()));
                    let (c, page) = page_of(live(), total, &q, keep, (offset, size));
                    (c, page.into_iter().map(Store::purpose_v1).collect())
                };
                Ok(json!({"purposes": page, "count": count}))
            })
        }),
    )
}

async fn get_purpose(State(emu): State<Emulator>, Path(id): Path<String>, Query(q): Q) -> Response {
    reply(id_of(&id, "Purpose").and_then(|id| {
        emu.with_store(|s| {
            if let Some(p) = s.deleted_purposes.get(&id) {
                return Ok(Store::deleted_purpose_v1(p));
            }
            let p = s
                .purposes
                .get(&id)
                .ok_or_else(|| ApiError::not_found(format!("Purpose {id} was not found")))?;
            let mut v = Store::purpose_v1(p);
            if flag(&q, "includeSubpurposes") {
                let subs: Vec<Value> = s
                    .descendants(&p.name)
                    .into_iter()
                    .map(Store::purpose_v1)
                    .collect();
                if let Some(o) = v.as_object_mut() {
                    o.insert("subpurposes".into(), Value::Array(subs));
                }
            }
            Ok(v)
        })
    }))
}

async fn delete_purpose(
    State(emu): State<Emulator>,
    Path(raw): Path<String>,
    uri: Uri,
) -> Response {
    let r = id_of(&raw, "Purpose").and_then(|id| emu.with_store(|s| s.delete_purpose(id)));
    let key = written_key(&r, &raw, |v| v.get(0).and_then(|p| p.get("name")));
    finish(&emu, &Method::DELETE, &uri, &key, false, r)
}

async fn list_sources(State(emu): State<Emulator>, Query(q): Q) -> Response {
    hits_page(&emu, &q, |s, window| {
        let (count, page) = page_of(
            s.sources.values(),
            s.sources.len(),
            &q,
            |d| matches(&q, Some(&d.name)),
            window,
        );
        (count, page.into_iter().map(|d| s.source_hit(d)).collect())
    })
}

async fn get_source(State(emu): State<Emulator>, Path(id): Path<String>) -> Response {
    reply(id_of(&id, "Data source").and_then(|id| {
        emu.with_store(|s| {
            s.sources
                .get(&id)
                .map(|d| s.source_v1(d))
                .ok_or_else(|| ApiError::not_found("Data source not found."))
        })
    }))
}

async fn delete_source(State(emu): State<Emulator>, Path(raw): Path<String>, uri: Uri) -> Response {
    let r = id_of(&raw, "Data source").and_then(|id| emu.with_store(|s| s.delete_source_v1(id)));
    finish(&emu, &Method::DELETE, &uri, &raw, false, r)
}

#[cfg(test)]
mod tests;
