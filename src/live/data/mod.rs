//! Live data sources (issue 13): the V1 reads of one connection, normalised into the
//! V2 fields a `data/` manifest has.
//!
//! Input: the tenant-wide `GET /dataSource` hits (one bulk list per plan) and, per
//! connection, the names its dry run reported. Output: a V2 body (`connectionKey`,
//! `connection` without secrets, `options`, `owners`, `sources` with tags, columns and
//! column descriptions), or the groups of live data sources that no desired connection
//! names (listed as unmanaged).
//!
//! Requests per connection read: one `GET /{handler}/handler/{id}` (the connection is the
//! same for all its data sources), and per data source `GET /dataSource/{id}/tags`,
//! `GET /dataSource/{id}/access?states=owner` and `GET /dictionary/{id}`, all through
//! the client's concurrency limit. [`normalize_connection`] is a pure function, tested
//! against the documented answers (tests/fixtures/immuta-v1/).

use std::collections::{BTreeMap, BTreeSet};

use futures::stream::{self, StreamExt, TryStreamExt};
use serde_json::{json, Map, Value};

use crate::client::{self, Client};

/// The members of the handler metadata that are V2 `connection` members of the same
/// name (000:11223-11243; `httpPath` chosen). Everything else in it is per table
/// (`table`, `schema`, `query`, names) or not in V2.
pub const CONNECTION_MEMBERS: &[&str] = &[
    "ssl",
    "port",
    "database",
    "hostname",
    "username",
    "warehouse",
    "authenticationMethod",
    "httpPath",
];

/// One data source's V1 answers.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SourceReads {
    /// Its `GET /dataSource` hit (001:312-375).
    pub hit: Value,
    /// `GET /dataSource/{id}/tags` (000:44483-44497).
    pub tags: Value,
    /// The `users` of `GET /dataSource/{id}/access?states=owner` (001:1040-1100).
    pub owners: Vec<Value>,
    /// `GET /dictionary/{id}` (000:10140-10192).
    pub dictionary: Value,
}

fn s<'a>(v: &'a Value, k: &str) -> Option<&'a str> {
    v.get(k).and_then(Value::as_str)
}

/// A hit's id.
pub fn hit_id(hit: &Value) -> Option<u64> {
    hit.get("id").and_then(Value::as_u64)
}

/// A hit's name.
pub fn hit_name(hit: &Value) -> Option<&str> {
    s(hit, "name")
}

/// Whether a hit is a live data source (a disabled one reads back `deleted: true`).
pub fn hit_is_live(hit: &Value) -> bool {
    hit.get("deleted").and_then(Value::as_bool) != Some(true)
}

/// The handler path segment of a hit: `Snowflake` → `snowflake` (000:10296, 15781,
/// 21389), spaces dropped (chosen for handlers the docs give no path for).
pub fn handler_segment(hit: &Value) -> Option<String> {
    s(hit, "blobHandlerType")
        .filter(|h| !h.is_empty())
        .map(|h| {
            h.chars()
                .filter(|c| !c.is_whitespace())
                .collect::<String>()
                .to_lowercase()
        })
}

/// Reads the V1 answers of the data sources `hits` (one connection) and normalises them.
/// The handler metadata is read from the first hit only.
///
/// # Errors
/// The first failed read (a partial read is never normalised).
pub async fn read_connection(
    client: &Client,
    key: &str,
    hits: &[Value],
) -> Result<Value, client::Error> {
    let target = hits
        .first()
        .and_then(|h| Some((handler_segment(h)?, hit_id(h)?)));
    let handler = target
        .as_ref()
        .map(|(seg, id)| client.get_handler(seg, *id));
    let reads = stream::iter(hits.iter().filter_map(|h| Some((h, hit_id(h)?))))
        .map(|(hit, id)| async move {
            let (tags, owners, dictionary) = tokio::try_join!(
                client.data_source_tags(id),
                client.data_source_owners(id),
                client.dictionary(id),
            )?;
            Ok::<_, client::Error>(SourceReads {
                hit: hit.clone(),
                tags,
                owners,
                dictionary,
            })
        })
        .buffer_unordered(client.concurrency().max(1))
        .try_collect::<Vec<_>>();
    let (handler, mut reads) = match handler {
        Some(h) => {
            let (h, r) = tokio::try_join!(h, reads)?;
            (Some(h), r)
        }
        None => (None, reads.await?),
    };
    reads.sort_by(|a, b| hit_name(&a.hit).cmp(&hit_name(&b.hit)));
    Ok(normalize_connection(key, handler.as_ref(), &reads))
}

/// Tag names of a `{tags: [...]}` answer or a bare array: objects `{name, deleted}`
/// (000:44488-44495) or plain strings; deleted tags are left out.
pub fn tag_names(v: &Value) -> Vec<String> {
    let items = v
        .get("tags")
        .and_then(Value::as_array)
        .or_else(|| v.as_array());
    let mut out: Vec<String> = Vec::new();
    for t in items.into_iter().flatten() {
        let name = match t {
            Value::String(n) => Some(n.as_str()),
            Value::Object(_) if t.get("deleted").and_then(Value::as_bool) != Some(true) => {
                s(t, "name")
            }
            _ => None,
        };
        if let Some(n) = name.filter(|n| !out.iter().any(|x| x == n)) {
            out.push(n.to_string());
        }
    }
    out
}

/// An owner of the access list in V2 shape: `{type: group, name}` or `{type: user,
/// name: <userid>}` (the login name V2 asks for, 000:15485-15495). Not an owner: `None`.
pub fn owner(u: &Value) -> Option<Value> {
    if s(u, "state").is_some_and(|st| st != "owner") {
        return None;
    }
    if s(u, "type") == Some("group") {
        return Some(json!({"type": "group", "name": s(u, "name")?}));
    }
    let name = s(u, "userid").or_else(|| s(u, "name"))?;
    Some(json!({"type": "user", "name": name}))
}

/// The V2 body of one connection from its V1 answers (module doc). `handler` is the
/// handler metadata of one of its data sources; without it there is no `connection`
/// (the plan then does not compare it).
pub fn normalize_connection(key: &str, handler: Option<&Value>, reads: &[SourceReads]) -> Value {
    let mut body = Map::new();
    body.insert("connectionKey".into(), json!(key));
    let meta = handler.and_then(|h| h.get("metadata"));
    if let Some(meta) = meta {
        let mut conn = Map::new();
        if let Some(h) = reads.first().and_then(|r| s(&r.hit, "blobHandlerType")) {
            conn.insert("handler".into(), json!(h));
        }
        for m in CONNECTION_MEMBERS {
            if let Some(v) = meta.get(*m).filter(|v| !v.is_null()) {
                conn.insert((*m).to_string(), v.clone());
            }
        }
        body.insert("connection".into(), Value::Object(conn));
    }
    let mut options = Map::new();
    if let Some(t) = meta
        .and_then(|m| m.get("staleDataTolerance"))
        .filter(|v| !v.is_null())
    {
        options.insert("staleDataTolerance".into(), t.clone());
    }
    if let Some(d) = reads.first().and_then(|r| r.hit.get("domainId")) {
        // V2 takes the id as a string (000:15473); V1 may answer a number.
        match d {
            Value::String(_) => {
                options.insert("domainCollectionId".into(), d.clone());
            }
            Value::Number(n) => {
                options.insert("domainCollectionId".into(), json!(n.to_string()));
            }
            _ => {}
        }
    }
    if !options.is_empty() {
        body.insert("options".into(), Value::Object(options));
    }
    let per_source: Vec<Vec<Value>> = reads
        .iter()
        .map(|r| r.owners.iter().filter_map(owner).collect())
        .collect();
    let common: Vec<Value> = per_source
        .first()
        .map(|first| {
            first
                .iter()
                .filter(|o| per_source.iter().all(|l| l.contains(o)))
                .cloned()
                .collect()
        })
        .unwrap_or_default();
    if !common.is_empty() {
        body.insert("owners".into(), Value::Array(common.clone()));
    }
    let sources: Vec<Value> = reads
        .iter()
        .zip(&per_source)
        .map(|(r, owners)| {
            let extra: Vec<Value> = owners
                .iter()
                .filter(|o| !common.contains(o))
                .cloned()
                .collect();
            source(r, extra)
        })
        .collect();
    body.insert("sources".into(), Value::Array(sources));
    Value::Object(body)
}

/// One `sources[]` entry: `{table, schema}` from the hit's `remoteTable`/`remoteSchema`
/// (001:367-368), the name as `naming.datasource`, and what the detail reads show.
fn source(r: &SourceReads, owners: Vec<Value>) -> Value {
    let mut e = Map::new();
    if let Some(t) = s(&r.hit, "remoteTable") {
        e.insert("table".into(), json!(t));
    }
    if let Some(sc) = s(&r.hit, "remoteSchema") {
        e.insert("schema".into(), json!(sc));
    }
    let mut naming = Map::new();
    if let Some(n) = hit_name(&r.hit) {
        naming.insert("datasource".into(), json!(n));
    }
    if let Some(sc) = s(&r.hit, "sqlSchemaName") {
        naming.insert("schema".into(), json!(sc));
    }
    e.insert("naming".into(), Value::Object(naming));
    if let Some(d) = s(&r.hit, "description").filter(|d| !d.is_empty()) {
        e.insert("description".into(), json!(d));
    }
    if !owners.is_empty() {
        e.insert("owners".into(), Value::Array(owners));
    }
    let mut columns = Vec::new();
    let mut descriptions = Vec::new();
    let mut column_tags = Vec::new();
    let empty = Vec::new();
    let meta = r
        .dictionary
        .get("metadata")
        .and_then(Value::as_array)
        .unwrap_or(&empty);
    for c in meta {
        let Some(name) = s(c, "name") else { continue };
        let mut col = Map::new();
        col.insert("name".into(), json!(name));
        for (v1, v2) in [
            ("dataType", "dataType"),
            ("remoteType", "remoteType"),
            ("nullable", "nullable"),
            ("isPrimaryKey", "primaryKey"),
        ] {
            if let Some(v) = c.get(v1).filter(|v| !v.is_null()) {
                col.insert(v2.into(), v.clone());
            }
        }
        columns.push(Value::Object(col));
        if let Some(d) = s(c, "description").filter(|d| !d.is_empty()) {
            descriptions.push(json!({"columnName": name, "description": d}));
        }
        let tags = c.get("tags").map(tag_names).unwrap_or_default();
        if !tags.is_empty() {
            column_tags.push(json!({"columnName": name, "tags": tags}));
        }
    }
    if !columns.is_empty() {
        e.insert("columns".into(), Value::Array(columns));
    }
    if !descriptions.is_empty() {
        e.insert("columnDescriptions".into(), Value::Array(descriptions));
    }
    let mut tags = Map::new();
    let table = tag_names(&r.tags);
    if !table.is_empty() {
        tags.insert("table".into(), json!(table));
    }
    if !column_tags.is_empty() {
        tags.insert("columns".into(), Value::Array(column_tags));
    }
    if !tags.is_empty() {
        e.insert("tags".into(), Value::Object(tags));
    }
    Value::Object(e)
}

/// Live data sources grouped the way V1 groups a connection (issue 13): by
/// `schemaEvolutionId` (001:323), else by `connectionString` (001:329). V1 does not expose
/// connection keys, so each group is named by its connection string (with
/// `#<schemaEvolutionId>` when two groups share one). Disabled data sources are left
/// out. Returns name → hits, each group in name order: what [`read_connection`] reads.
pub fn connection_groups<'a>(
    hits: impl IntoIterator<Item = &'a Value>,
) -> BTreeMap<String, Vec<Value>> {
    let mut groups: BTreeMap<(String, Option<u64>), Vec<Value>> = BTreeMap::new();
    for h in hits.into_iter().filter(|h| hit_is_live(h)) {
        if hit_name(h).is_none() {
            continue;
        }
        let cs = s(h, "connectionString").unwrap_or("").to_string();
        let evo = h.get("schemaEvolutionId").and_then(Value::as_u64);
        groups.entry((cs, evo)).or_default().push(h.clone());
    }
    let mut per_string: BTreeMap<String, usize> = BTreeMap::new();
    for (cs, _) in groups.keys() {
        *per_string.entry(cs.clone()).or_default() += 1;
    }
    let mut out: BTreeMap<String, Vec<Value>> = BTreeMap::new();
    for ((cs, evo), mut members) in groups {
        members.sort_by(|a, b| hit_name(a).cmp(&hit_name(b)));
        let base = if cs.is_empty() {
            "(no connection string)".to_string()
        } else {
            cs.clone()
        };
        let name = match (per_string.get(&cs).copied().unwrap_or(0) > 1, evo) {
            (true, Some(e)) => format!("{base}#{e}"),
            _ => base,
        };
        out.entry(name).or_default().extend(members);
    }
    out
}

/// The [`connection_groups`] of the live data sources that no desired connection
/// claims (`claimed`: data source names): group name → data source names.
pub fn unclaimed_groups(
    hits: &[Value],
    claimed: &BTreeSet<String>,
) -> BTreeMap<String, Vec<String>> {
    let unclaimed = hits
        .iter()
        .filter(|h| hit_name(h).is_some_and(|n| !claimed.contains(n)));
    connection_groups(unclaimed)
        .into_iter()
        .map(|(g, members)| {
            let names = members
                .iter()
                .filter_map(hit_name)
                .map(str::to_string)
                .collect();
            (g, names)
        })
        .collect()
}

#[cfg(test)]
mod tests;
