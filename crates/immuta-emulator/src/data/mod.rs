//! Emulator: data sources (`POST /api/v2/data`, `DELETE /api/v2/data/{key}`, V1 views).
//!
//! Input: a validated V2 data body. Output: the documented summary
//! `{dryRun, creating, updating, deleting, noChange, detectionRunning, tagsUpdated,
//! connectionString}`. Each POST is the full state of its `connectionKey`: tables left out
//! are disabled (or deleted with `options.hardDelete`), a changed location recreates every
//! source, a changed credential or setting updates them. A dry run never mutates.
//! The V1 read views are in `views.rs`.

use std::collections::{BTreeMap, BTreeSet, HashSet};

use serde_json::{json, Map, Value};

use super::error::ApiError;
use super::projects::ProjectRec;
use super::store::Store;
use super::validate;

mod views;

/// The fake remote databases: (hostname, database) → schema → tables.
pub type Catalog = BTreeMap<(String, String), BTreeMap<String, BTreeSet<String>>>;

/// Connection fields that are credentials: a change updates sources in place.
/// Every other connection field is location: a change recreates them (000:14317-14319).
const CREDENTIALS: &[&str] = &[
    "password",
    "token",
    "clientSecret",
    "userFiles",
    "username",
    "authenticationMethod",
    "clientId",
    "audience",
    "scope",
    "useCertificate",
    "certificateThumbprint",
    "role",
    "appID",
    "idpHost",
];

/// One connection key's stored state.
#[derive(Debug, Clone)]
pub struct ConnRec {
    /// The V2 body as last applied (`owners` carried over when a POST left it out).
    pub raw: Value,
    /// Its data sources, creation order.
    pub source_ids: Vec<u64>,
    /// The V1 `schemaEvolutionId` of the group.
    pub evolution_id: u64,
}

/// One data source.
#[derive(Debug, Clone)]
pub struct SourceRec {
    /// Immuta id.
    pub id: u64,
    /// Data source name.
    pub name: String,
    /// Owning connection key.
    pub key: String,
    /// Remote table (`None` for a query source).
    pub table: Option<String>,
    /// Remote schema.
    pub schema: Option<String>,
    /// The `sources[]` entry that declared it (`{table, schema}` for catalog tables).
    pub entry: Value,
    /// Disabled (V1 `deleted: true`).
    pub disabled: bool,
    /// SQL names in Immuta.
    pub sql_table: String,
    /// SQL schema in Immuta.
    pub sql_schema: String,
    /// Creation time.
    pub created_at: String,
    /// Last update.
    pub updated_at: String,
}

/// A source as a POST wants it.
struct Planned {
    name: String,
    table: Option<String>,
    schema: Option<String>,
    entry: Value,
    sql_table: String,
    sql_schema: String,
}

/// `credit_accounts` → `Credit Accounts`.
pub fn title(s: &str) -> String {
    s.to_lowercase()
        .split(['_', ' '])
        .filter(|w| !w.is_empty())
        .map(|w| {
            let mut c = w.chars();
            c.next()
                .map(|f| f.to_uppercase().chain(c).collect::<String>())
                .unwrap_or_default()
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// Fills `<tablename>`/`<schema>`/`<database>` (raw lowercase) and the capitalised forms
/// (title case) of a name template.
pub fn fill(template: &str, table: &str, schema: &str, database: &str) -> String {
    template
        .replace("<Tablename>", &title(table))
        .replace("<tablename>", &table.to_lowercase())
        .replace("<Schema>", &title(schema))
        .replace("<schema>", &schema.to_lowercase())
        .replace("<Database>", &title(database))
        .replace("<database>", &database.to_lowercase())
}

fn str_at<'a>(v: &'a Value, path: &[&str]) -> Option<&'a str> {
    let mut cur = v;
    for p in path {
        cur = cur.get(*p)?;
    }
    cur.as_str()
}

/// The connection's location: every non-credential field.
fn location(doc: &Value) -> Map<String, Value> {
    let mut m = doc
        .get("connection")
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default();
    m.retain(|k, _| !CREDENTIALS.contains(&k.as_str()));
    m
}

/// Everything but `sources` and the location: a change updates every source.
fn settings(doc: &Value) -> Value {
    let mut m = doc.as_object().cloned().unwrap_or_default();
    m.remove("sources");
    if let Some(Value::Object(c)) = m.get_mut("connection") {
        c.retain(|k, _| CREDENTIALS.contains(&k.as_str()));
    }
    Value::Object(m)
}

/// The tags a source ends up with: data-source-level `tableTags` plus its own `tags`.
fn tags_of(doc: &Value, entry: &Value) -> Value {
    json!([
        doc.get("options").and_then(|o| o.get("tableTags")),
        entry.get("tags")
    ])
}

/// `<username>@<host>:<port>/<database>` (port 443 when not given; no `<username>@`
/// without a username), the shape of 000:1661, 000:11245 and 001:340.
pub fn connection_string(doc: &Value) -> String {
    let c = doc.get("connection").cloned().unwrap_or(Value::Null);
    let user = str_at(&c, &["username"]).map_or_else(String::new, |u| format!("{u}@"));
    let host = str_at(&c, &["hostname"])
        .or_else(|| str_at(&c, &["sid"]))
        .unwrap_or("");
    let port = c.get("port").map_or_else(
        || "443".to_string(),
        |p| p.as_str().map_or_else(|| p.to_string(), str::to_string),
    );
    let db = str_at(&c, &["database"]).unwrap_or("");
    format!("{user}{host}:{port}/{db}")
}

fn catalog_key(doc: &Value) -> (String, String) {
    let c = doc.get("connection").cloned().unwrap_or(Value::Null);
    let host = str_at(&c, &["hostname"])
        .or_else(|| str_at(&c, &["sid"]))
        .unwrap_or("")
        .to_lowercase();
    (host, str_at(&c, &["database"]).unwrap_or("").to_lowercase())
}

impl Store {
    /// The sources a body asks for, in order: explicit entries, then remote tables for
    /// `all: true` (or a missing `sources`).
    fn plan_sources(&self, doc: &Value) -> Result<Vec<Planned>, ApiError> {
        let nt = doc.get("nameTemplate").cloned().unwrap_or(Value::Null);
        let ds_fmt = str_at(&nt, &["dataSourceFormat"]).unwrap_or("<Schema> <Tablename>");
        let table_fmt = str_at(&nt, &["tableFormat"]).unwrap_or("<tablename>");
        let schema_fmt = str_at(&nt, &["schemaFormat"]).unwrap_or("<schema>");
        let database = str_at(doc, &["connection", "database"]).unwrap_or("");
        let entries = doc.get("sources").and_then(Value::as_array);
        let all = entries.is_none_or(|e| {
            e.iter()
                .any(|s| s.get("all").and_then(Value::as_bool) == Some(true))
        });
        let mut out: Vec<Planned> = Vec::new();
        let mut explicit: HashSet<(String, String)> = HashSet::new();
        let mut push = |entry: &Value, table: Option<&str>, schema: Option<&str>| {
            let (t, s) = (table.unwrap_or(""), schema.unwrap_or(""));
            let naming = entry.get("naming");
            let name = naming
                .and_then(|n| str_at(n, &["datasource"]))
                .map_or_else(|| fill(ds_fmt, t, s, database), str::to_string);
            let sql_table = naming
                .and_then(|n| str_at(n, &["table"]))
                .map_or_else(|| fill(table_fmt, t, s, database), str::to_string);
            let sql_schema = naming
                .and_then(|n| str_at(n, &["schema"]))
                .map_or_else(|| fill(schema_fmt, t, s, database), str::to_string);
            out.push(Planned {
                name,
                table: table.map(str::to_string),
                schema: schema.map(str::to_string),
                entry: entry.clone(),
                sql_table: sql_table.to_lowercase(),
                sql_schema: sql_schema.to_lowercase(),
            });
        };
        for e in entries.into_iter().flatten() {
            if e.get("all").is_some() {
                continue;
            }
            let (table, schema) = (str_at(e, &["table"]), str_at(e, &["schema"]));
            if let (Some(t), Some(s)) = (table, schema) {
                explicit.insert((s.to_lowercase(), t.to_lowercase()));
            }
            push(e, table, schema);
        }
        if all {
            let only_schema = str_at(doc, &["connection", "schema"]).map(str::to_lowercase);
            for (schema, tables) in self.catalog.get(&catalog_key(doc)).into_iter().flatten() {
                if only_schema.as_ref().is_some_and(|o| o != schema) {
                    continue;
                }
                for t in tables {
                    if !explicit.contains(&(schema.clone(), t.clone())) {
                        push(
                            &json!({"table": t, "schema": schema}),
                            Some(t),
                            Some(schema),
                        );
                    }
                }
            }
        }
        let mut seen = HashSet::new();
        for p in &out {
            if !seen.insert(p.name.as_str()) {
                return Err(ApiError::bad_request(format!(
                    "two sources would both be named \"{}\"",
                    p.name
                )));
            }
        }
        Ok(out)
    }

    /// `POST /api/v2/data`.
    ///
    /// # Errors
    /// 400 bad shape; 409 when a name belongs to another connection key.
    pub fn upsert_data(&mut self, body: &Value, dry: bool) -> Result<Value, ApiError> {
        validate::data(body)?;
        let key = str_at(body, &["connectionKey"])
            .unwrap_or_default()
            .to_string();
        let mut doc = body.clone();
        let old = self.connections.get(&key);
        if let (Some(o), Some(m)) = (old, doc.as_object_mut()) {
            if !m.contains_key("owners") {
                if let Some(owners) = o.raw.get("owners") {
                    m.insert("owners".into(), owners.clone());
                }
            }
        }
        let planned = self.plan_sources(&doc)?;
        for p in &planned {
            let owner = self
                .source_names
                .get(&p.name)
                .and_then(|id| self.sources.get(id));
            if let Some(s) = owner.filter(|s| s.key != key) {
                return Err(ApiError::conflict(format!(
                    "a data source named \"{}\" already exists under another connection key",
                    s.name
                )));
            }
        }
        let old_sources: Vec<&SourceRec> = old
            .map(|o| {
                o.source_ids
                    .iter()
                    .filter_map(|id| self.sources.get(id))
                    .collect()
            })
            .unwrap_or_default();
        let recreate = old.is_some_and(|o| location(&o.raw) != location(&doc));
        let settings_changed = old.is_some_and(|o| settings(&o.raw) != settings(&doc));
        let (mut creating, mut updating, mut deleting, mut no_change) =
            (vec![], vec![], vec![], vec![]);
        let mut tags_updated = false;
        let wanted: HashSet<&str> = planned.iter().map(|p| p.name.as_str()).collect();
        for p in &planned {
            let before = old_sources
                .iter()
                .find(|s| s.name == p.name)
                .filter(|_| !recreate);
            let old_tags = match (before, old) {
                (Some(s), Some(o)) => tags_of(&o.raw, &s.entry),
                _ => json!([null, null]),
            };
            tags_updated |= old_tags != tags_of(&doc, &p.entry);
            match before {
                None => creating.push(p.name.clone()),
                Some(s) if s.disabled || settings_changed || s.entry != p.entry => {
                    updating.push(p.name.clone())
                }
                Some(_) => no_change.push(p.name.clone()),
            }
        }
        for s in &old_sources {
            if !s.disabled && (recreate || !wanted.contains(s.name.as_str())) {
                deleting.push(s.name.clone());
            }
        }
        let conn = if dry {
            Value::Null
        } else {
            json!(connection_string(&doc))
        };
        if !dry {
            self.apply_data(&key, doc, planned, recreate);
        }
        Ok(json!({
            "dryRun": dry, "creating": creating, "updating": updating, "deleting": deleting,
            "noChange": no_change, "detectionRunning": false, "tagsUpdated": tags_updated,
            "connectionString": conn,
        }))
    }

    fn apply_data(&mut self, key: &str, doc: Value, planned: Vec<Planned>, recreate: bool) {
        let now = self.tick();
        let hard = doc
            .get("options")
            .and_then(|o| o.get("hardDelete"))
            .and_then(Value::as_bool)
            == Some(true);
        let (old_ids, evolution_id) = match self.connections.get(key) {
            Some(c) => (c.source_ids.clone(), c.evolution_id),
            None => (Vec::new(), Self::next(&mut self.ids.evolution)),
        };
        let wanted: HashSet<&str> = planned.iter().map(|p| p.name.as_str()).collect();
        let mut kept = Vec::new();
        for id in old_ids {
            let Some(s) = self.sources.get_mut(&id) else {
                continue;
            };
            if recreate || (!wanted.contains(s.name.as_str()) && hard) {
                let name = s.name.clone();
                self.sources.remove(&id);
                self.source_names.remove(&name);
            } else {
                if !wanted.contains(s.name.as_str()) {
                    s.disabled = true;
                    s.updated_at = now.clone();
                }
                kept.push(id);
            }
        }
        let ck = catalog_key(&doc);
        for p in planned {
            if let (Some(t), Some(s)) = (&p.table, &p.schema) {
                self.catalog
                    .entry(ck.clone())
                    .or_default()
                    .entry(s.to_lowercase())
                    .or_default()
                    .insert(t.to_lowercase());
            }
            match self.source_names.get(&p.name).copied() {
                Some(id) if kept.contains(&id) => {
                    if let Some(s) = self.sources.get_mut(&id) {
                        s.disabled = false;
                        s.entry = p.entry;
                        s.sql_table = p.sql_table;
                        s.sql_schema = p.sql_schema;
                        s.updated_at = now.clone();
                    }
                }
                _ => {
                    let id = Self::next(&mut self.ids.source);
                    self.source_names.insert(p.name.clone(), id);
                    self.sources.insert(
                        id,
                        SourceRec {
                            id,
                            name: p.name,
                            key: key.to_string(),
                            table: p.table,
                            schema: p.schema,
                            entry: p.entry,
                            disabled: false,
                            sql_table: p.sql_table,
                            sql_schema: p.sql_schema,
                            created_at: now.clone(),
                            updated_at: now.clone(),
                        },
                    );
                    kept.push(id);
                }
            }
        }
        self.connections.insert(
            key.to_string(),
            ConnRec {
                raw: doc,
                source_ids: kept,
                evolution_id,
            },
        );
        self.sync_schema_projects(key);
    }

    /// `DELETE /api/v2/data/{connectionKey}`: every source of the key, hard.
    ///
    /// # Errors
    /// 404 for an unknown key.
    pub fn delete_data(&mut self, key: &str, dry: bool) -> Result<Value, ApiError> {
        let conn = self.connections.get(key).ok_or_else(|| {
            ApiError::not_found(format!("The connection key \"{key}\" was not found"))
        })?;
        let names: Vec<String> = conn
            .source_ids
            .iter()
            .filter_map(|id| self.sources.get(id))
            .map(|s| s.name.clone())
            .collect();
        if !dry {
            if let Some(c) = self.connections.remove(key) {
                for id in c.source_ids {
                    if let Some(s) = self.sources.remove(&id) {
                        self.source_names.remove(&s.name);
                    }
                }
            }
            self.tick();
            self.sync_schema_projects(key);
        }
        Ok(json!({"dryRun": dry, "deleting": names}))
    }

    /// `DELETE /dataSource/{id}`: disables on the first call, deletes on the second.
    ///
    /// # Errors
    /// 404 for an unknown id.
    pub fn delete_source_v1(&mut self, id: u64) -> Result<Value, ApiError> {
        let now = self.tick();
        let s = self
            .sources
            .get_mut(&id)
            .ok_or_else(|| ApiError::not_found("Data source not found."))?;
        let evolution = self.connections.get(&s.key).map(|c| c.evolution_id);
        let hard = s.disabled;
        let (name, key) = (s.name.clone(), s.key.clone());
        if hard {
            self.sources.remove(&id);
            self.source_names.remove(&name);
            if let Some(c) = self.connections.get_mut(&key) {
                c.source_ids.retain(|x| *x != id);
            }
        } else {
            s.disabled = true;
            s.updated_at = now;
        }
        self.sync_schema_projects(&key);
        Ok(
            json!({"success": true, "id": id, "schemaEvolutionId": evolution, "name": name,
            "disabled": true, "hardDelete": hard, "handlerDeleteErrorMessage": null}),
        )
    }

    /// Keeps one `type: "Schema"` project per schema of a key whose `nameTemplate` has
    /// `schemaProjectNameFormat`, listing that schema's enabled sources.
    fn sync_schema_projects(&mut self, key: &str) {
        let mut want: BTreeMap<String, Vec<String>> = BTreeMap::new();
        if let Some(c) = self.connections.get(key) {
            if let Some(fmt) = str_at(&c.raw, &["nameTemplate", "schemaProjectNameFormat"]) {
                let db = str_at(&c.raw, &["connection", "database"]).unwrap_or("");
                for s in c
                    .source_ids
                    .iter()
                    .filter_map(|id| self.sources.get(id))
                    .filter(|s| !s.disabled)
                {
                    let schema = s.schema.clone().unwrap_or_default();
                    want.entry(fill(fmt, "", &schema, db))
                        .or_default()
                        .push(s.name.clone());
                }
            }
        }
        let known = self.schema_projects.remove(key).unwrap_or_default();
        let mut mine = std::collections::BTreeSet::new();
        for id in known {
            let Some(p) = self.projects.get(&id) else {
                continue;
            };
            if p.schema_of.as_deref() != Some(key) {
                continue;
            }
            if want.contains_key(&p.key) {
                mine.insert(id);
            } else if let Some(p) = self.projects.remove(&id) {
                self.project_keys.remove(&p.key);
            }
        }
        for (name, sources) in want {
            let now = self.tick();
            match self
                .project_keys
                .get(&name)
                .and_then(|id| self.projects.get_mut(id))
            {
                Some(p) if p.schema_of.as_deref() == Some(key) => {
                    if p.datasources != sources {
                        p.datasources = sources;
                        p.updated_at = now;
                    }
                }
                Some(_) => {} // a user project owns the key; it is left alone
                None => {
                    let id = Self::next(&mut self.ids.project);
                    let sub = Self::next(&mut self.ids.subscription);
                    let raw = json!({"projectKey": name, "name": name});
                    self.project_keys.insert(name.clone(), id);
                    mine.insert(id);
                    self.projects.insert(
                        id,
                        ProjectRec {
                            id,
                            key: name,
                            raw,
                            subscription_id: sub,
                            schema_of: Some(key.to_string()),
                            datasources: sources,
                            deleted: false,
                            created_at: now.clone(),
                            updated_at: now,
                        },
                    );
                }
            }
        }
        if !mine.is_empty() {
            self.schema_projects.insert(key.to_string(), mine);
        }
    }

    /// Adds remote tables to the fake catalog.
    pub fn add_remote(&mut self, hostname: &str, database: &str, schema: &str, tables: &[String]) {
        let set = self
            .catalog
            .entry((hostname.to_lowercase(), database.to_lowercase()))
            .or_default()
            .entry(schema.to_lowercase())
            .or_default();
        set.extend(tables.iter().map(|t| t.to_lowercase()));
    }
}

#[cfg(test)]
mod tests;
