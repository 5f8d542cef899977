//! Emulator: the V1 detail reads of one data source, rendered from the documented
//! examples (issue 13), not from what the tool's reader expects:
//!
//! - `GET /{handler}/handler/{id}`: connection metadata, shaped as 000:11220-11252
//!   (`{dataSourceId, metadata: {...}, type, connectionString, id, createdAt, updatedAt,
//!   dbms}`); secrets are never part of it;
//! - `GET /dataSource/{id}/tags`: `{tags: [{name, source, modelType, modelId, addedBy,
//!   deleted}]}` (000:44483-44497);
//! - `GET /dataSource/{id}/access`: `{count, users: [...]}` (001:984-1145), filtered by
//!   `states`, paged by `offset`/`size`;
//! - `GET /dataSource/{id}/contacts`: the owners as profiles, `{type: "profile", id,
//!   state, name, email, profile}` (000:44466-44481, 000:43301-43319);
//! - `GET /dictionary/{id}`: `{createdAt, dataSource, id, metadata: [{name, dataType,
//!   remoteType}], types, updatedAt}` (000:10140-10192), with each column's
//!   `description` and `tags` (the dictionary body "including column names, data types,
//!   description and tags", 000:9208).
//!
//! Choices where the docs are silent are in docs/emulator.md ("Data-source reads").

use std::collections::{BTreeSet, HashMap};

use axum::extract::{Path, Query, State};
use axum::response::Response;
use axum::routing::get;
use axum::Router;
use serde_json::{json, Map, Value};

use super::data::{connection_string, SourceRec};
use super::error::ApiError;
use super::routes::{id_of, page, reply};
use super::store::Store;
use super::Emulator;

/// Connection members never rendered by a read: credentials (000:11223-11243 shows none).
fn secret_member(k: &str) -> bool {
    let l = k.to_ascii_lowercase();
    ["password", "secret", "token"]
        .iter()
        .any(|w| l.contains(w))
        || k == "userFiles"
}

/// The routes of this module.
pub fn routes() -> Router<Emulator> {
    Router::new()
        .route("/{handler}/handler/{id}", get(get_handler))
        .route("/dataSource/{id}/tags", get(get_tags))
        .route("/dataSource/{id}/access", get(get_access))
        .route("/dataSource/{id}/contacts", get(get_contacts))
        .route("/dictionary/{id}", get(get_dictionary))
}

/// The path segment of a handler: `Snowflake` → `snowflake` (000:10296), spaces dropped.
pub fn handler_segment(handler: &str) -> String {
    handler
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect::<String>()
        .to_lowercase()
}

fn not_found() -> ApiError {
    ApiError::not_found("Data source not found.")
}

fn with_source(
    emu: &Emulator,
    raw: &str,
    f: impl FnOnce(&Store, &SourceRec) -> Result<Value, ApiError>,
) -> Result<Value, ApiError> {
    let id = id_of(raw, "Data source")?;
    emu.with_store(|s| {
        let src = s.sources.get(&id).ok_or_else(not_found)?;
        f(s, src)
    })
}

async fn get_handler(
    State(emu): State<Emulator>,
    Path((handler, id)): Path<(String, String)>,
) -> Response {
    reply(with_source(&emu, &id, |s, src| {
        let v = s.handler_v1(src);
        let theirs = v
            .get("dbms")
            .and_then(|d| d.get("name"))
            .and_then(Value::as_str)
            .unwrap_or("");
        if theirs != handler {
            return Err(ApiError::not_found(format!(
                "No {handler} handler found with ID {id}."
            )));
        }
        Ok(v)
    }))
}

async fn get_tags(State(emu): State<Emulator>, Path(id): Path<String>) -> Response {
    reply(with_source(&emu, &id, |s, src| Ok(s.tags_v1(src))))
}

async fn get_contacts(State(emu): State<Emulator>, Path(id): Path<String>) -> Response {
    reply(with_source(&emu, &id, |s, src| Ok(s.contacts_v1(src))))
}

async fn get_dictionary(State(emu): State<Emulator>, Path(id): Path<String>) -> Response {
    reply(with_source(&emu, &id, |s, src| Ok(s.dictionary_v1(src))))
}

async fn get_access(
    State(emu): State<Emulator>,
    Path(id): Path<String>,
    Query(q): Query<Vec<(String, String)>>,
) -> Response {
    let states: BTreeSet<String> = q
        .iter()
        .filter(|(k, _)| k == "states" || k == "states[]")
        .flat_map(|(_, v)| v.split(',').map(str::to_string).collect::<Vec<_>>())
        .collect();
    let flat: HashMap<String, String> = q.iter().cloned().collect();
    let cap = emu.max_page_size();
    reply(page(&flat, 10, cap).and_then(|(offset, size)| {
        with_source(&emu, &id, |s, src| {
            let all: Vec<Value> = s
                .access_v1(src)
                .into_iter()
                .filter(|u| {
                    states.is_empty()
                        || u.get("state")
                            .and_then(Value::as_str)
                            .is_some_and(|st| states.contains(st))
                })
                .collect();
            let users: Vec<Value> = all.iter().skip(offset).take(size).cloned().collect();
            Ok(json!({"count": all.len(), "users": users}))
        })
    }))
}

fn str_of<'a>(v: &'a Value, k: &str) -> Option<&'a str> {
    v.get(k).and_then(Value::as_str)
}

/// One owner entry of a V2 body: `{type, name, iam?}` (000:15485-15495).
fn owners_of(v: Option<&Value>) -> Vec<Value> {
    v.and_then(Value::as_array).cloned().unwrap_or_default()
}

impl Store {
    fn conn_raw(&self, src: &SourceRec) -> Value {
        self.connections
            .get(&src.key)
            .map(|c| c.raw.clone())
            .unwrap_or(Value::Null)
    }

    /// `GET /{handler}/handler/{id}` (000:11220-11252). The handler id is the data
    /// source id, as in the documented example (`id: 30, dataSourceId: 30`).
    pub fn handler_v1(&self, src: &SourceRec) -> Value {
        let raw = self.conn_raw(src);
        let conn = raw.get("connection").cloned().unwrap_or(Value::Null);
        let handler = str_of(&conn, "handler").unwrap_or("");
        let mut meta = Map::new();
        if let Some(c) = conn.as_object() {
            for (k, v) in c {
                if k != "handler" && k != "schema" && !secret_member(k) {
                    meta.insert(k.clone(), v.clone());
                }
            }
        }
        meta.insert(
            "query".into(),
            src.entry.get("query").cloned().unwrap_or(Value::Null),
        );
        meta.insert("table".into(), json!(src.table));
        meta.insert("schema".into(), json!(src.schema));
        meta.insert("userFiles".into(), json!([]));
        meta.insert("dataSourceName".into(), json!(src.name));
        meta.insert("bodataTableName".into(), json!(src.sql_table));
        meta.insert("bodataSchemaName".into(), json!(src.sql_schema));
        meta.insert("columnsNormalized".into(), json!(true));
        if let Some(t) = raw.get("options").and_then(|o| o.get("staleDataTolerance")) {
            meta.insert("staleDataTolerance".into(), t.clone());
        }
        json!({
            "dataSourceId": src.id,
            "metadata": meta,
            "type": "odbcHandler",
            "connectionString": connection_string(&raw),
            "id": src.id,
            "createdAt": src.created_at,
            "updatedAt": src.updated_at,
            "dbms": {"name": handler_segment(handler)},
        })
    }

    /// The data-source-level tags: `options.tableTags` then `sources[].tags.table`.
    fn table_tags(&self, src: &SourceRec) -> Vec<String> {
        let raw = self.conn_raw(src);
        let mut out: Vec<String> = Vec::new();
        let from = |v: Option<&Value>| -> Vec<String> {
            v.and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
                .map(str::to_string)
                .collect()
        };
        for t in from(raw.get("options").and_then(|o| o.get("tableTags")))
            .into_iter()
            .chain(from(src.entry.get("tags").and_then(|t| t.get("table"))))
        {
            if !out.contains(&t) {
                out.push(t);
            }
        }
        out
    }

    /// `GET /dataSource/{id}/tags` (000:44483-44497).
    pub fn tags_v1(&self, src: &SourceRec) -> Value {
        let tags: Vec<Value> = self
            .table_tags(src)
            .into_iter()
            .map(|name| {
                json!({"name": name, "source": "curated", "modelType": "datasource",
                    "modelId": src.id.to_string(), "addedBy": 2, "deleted": false})
            })
            .collect();
        json!({ "tags": tags })
    }

    /// The owners of one data source: its own `owners`, else the connection's.
    fn owners(&self, src: &SourceRec) -> Vec<Value> {
        let raw = self.conn_raw(src);
        let mut out = owners_of(raw.get("owners"));
        for o in owners_of(src.entry.get("owners")) {
            if !out.contains(&o) {
                out.push(o);
            }
        }
        out
    }

    /// The members of `GET /dataSource/{id}/access` for owners (001:1040-1100): users
    /// with `userid` (the login name), groups with `type: "group"` and their name.
    pub fn access_v1(&self, src: &SourceRec) -> Vec<Value> {
        self.owners(src)
            .iter()
            .enumerate()
            .map(|(i, o)| {
                let name = str_of(o, "name").unwrap_or("");
                let iam = str_of(o, "iam").unwrap_or("bim");
                let ty = if str_of(o, "type") == Some("group") {
                    "group"
                } else {
                    "user"
                };
                let mut u = json!({
                    "profile": 100 + i, "name": name, "iamid": iam, "type": ty,
                    "admin": "Immuta System Account", "approved": true, "state": "owner",
                    "systemGenerated": false, "lastExternalRefresh": src.updated_at,
                    "subscriptionId": 1000 + i,
                    "createdAt": src.created_at, "updatedAt": src.updated_at,
                    "approvals": [], "currentUserCanApprove": false,
                });
                if let (Some(u), "user") = (u.as_object_mut(), ty) {
                    u.insert("userid".into(), json!(name));
                    u.insert("email".into(), json!(name));
                }
                u
            })
            .collect()
    }

    /// `GET /dataSource/{id}/contacts` (000:44466-44481): a bare array of profiles.
    pub fn contacts_v1(&self, src: &SourceRec) -> Value {
        Value::Array(
            self.access_v1(src)
                .into_iter()
                .filter(|u| str_of(u, "type") == Some("user"))
                .map(|u| {
                    json!({"type": "profile", "id": src.id, "state": "owner",
                        "name": u.get("name"), "email": u.get("email"), "profile": u.get("profile")})
                })
                .collect(),
        )
    }

    /// `GET /dictionary/{id}` (000:10140-10192): the columns the source declares
    /// (`columns`), else the columns its descriptions and tags name, each with its
    /// `description` and `tags` when it has any.
    pub fn dictionary_v1(&self, src: &SourceRec) -> Value {
        let e = &src.entry;
        let arr = |v: Option<&Value>| v.and_then(Value::as_array).cloned().unwrap_or_default();
        let declared = arr(e.get("columns"));
        let descriptions = arr(e.get("columnDescriptions"));
        let tagged = arr(e.get("tags").and_then(|t| t.get("columns")));
        let mut names: Vec<String> = declared
            .iter()
            .filter_map(|c| str_of(c, "name"))
            .map(str::to_string)
            .collect();
        if declared.is_empty() {
            for c in descriptions.iter().chain(&tagged) {
                if let Some(n) = str_of(c, "columnName") {
                    if !names.iter().any(|x| x == n) {
                        names.push(n.to_string());
                    }
                }
            }
        }
        let mut types: Vec<String> = Vec::new();
        let metadata: Vec<Value> = names
            .iter()
            .map(|n| {
                let col = declared.iter().find(|c| str_of(c, "name") == Some(n));
                let data_type = col.and_then(|c| str_of(c, "dataType")).unwrap_or("text");
                let remote = col
                    .and_then(|c| str_of(c, "remoteType"))
                    .unwrap_or(data_type);
                if !types.iter().any(|t| t == data_type) {
                    types.push(data_type.to_string());
                }
                let mut m = Map::new();
                m.insert("name".into(), json!(n));
                m.insert("dataType".into(), json!(data_type));
                m.insert("remoteType".into(), json!(remote));
                if let Some(c) = col {
                    if let Some(v) = c.get("nullable") {
                        m.insert("nullable".into(), v.clone());
                    }
                    if let Some(v) = c.get("primaryKey") {
                        m.insert("isPrimaryKey".into(), v.clone());
                    }
                }
                let description = descriptions
                    .iter()
                    .find(|d| str_of(d, "columnName") == Some(n))
                    .and_then(|d| d.get("description"))
                    .or_else(|| col.and_then(|c| c.get("description")));
                if let Some(d) = description.filter(|d| !d.is_null()) {
                    m.insert("description".into(), d.clone());
                }
                let tags: Vec<Value> = tagged
                    .iter()
                    .filter(|t| str_of(t, "columnName") == Some(n))
                    .flat_map(|t| arr(t.get("tags")))
                    .filter_map(|t| t.as_str().map(str::to_string))
                    .map(|t| {
                        json!({"name": t, "source": "curated", "modelType": "column",
                            "modelId": format!("{}_{n}", src.id), "deleted": false})
                    })
                    .collect();
                if !tags.is_empty() {
                    m.insert("tags".into(), Value::Array(tags));
                }
                Value::Object(m)
            })
            .collect();
        json!({
            "createdAt": src.created_at, "dataSource": src.id, "id": src.id,
            "metadata": metadata, "types": types, "updatedAt": src.updated_at,
        })
    }
}
