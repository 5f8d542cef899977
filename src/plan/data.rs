//! The field-level diff of a data source (issue 13): the desired document against the
//! connection as the V1 reads show it ([`crate::live::data`]).
//!
//! Both bodies are first brought to the canonical form (observable fields only, defaults
//! dropped), then to one comparison form that depends on both sides:
//! - `options.tableTags` are on every data source (000:15481-15483), so they are merged
//!   into each source's `tags.table`, where V1 shows them (`GET /dataSource/{id}/tags`);
//! - root `owners` are compared only when the document has them (missing means "left
//!   alone", 000:4603-4605); a source's owners are those it has beyond the root ones;
//! - `sources` are matched by identity (`schema`+`table`, case-insensitive; a query by
//!   `naming.datasource`), not by position; the tables an `{all: true}` entry covers are
//!   compared under that entry as `tables["<schema>.<table>"]`; a live data source that no
//!   entry covers is shown as removed (the dry run deletes it);
//! - `columns`, `naming` and the members of `connection` are compared only where both
//!   sides can state them (a member the handler metadata does not show is not compared);
//!   column descriptions from `columns[].description` and `columnDescriptions` are one
//!   list, `columnDescriptions`.
//!
//! Lists whose items have an identity (owners, sources, tags, columns, descriptions) are
//! diffed by it: a desired item keeps its index from the document, a live item no
//! desired item matches gets the next free index, so `+ owners[1]: …` and
//! `- sources[2]: …` mean what they say.

use std::collections::BTreeSet;

use serde_json::{json, Map, Value};

use super::{escape_pointer, field_change, path_key, FieldChange};
use crate::canonical::canonical;
use crate::object::Kind;

/// The field changes between a desired data-source body and its live V2 body.
pub fn diff(want: &Value, have: &Value, sensitive: &BTreeSet<String>) -> Vec<FieldChange> {
    let (want, have) = forms(&canonical(Kind::Data, want), &canonical(Kind::Data, have));
    let mut out = Vec::new();
    let mut ctx = Ctx {
        sensitive,
        out: &mut out,
    };
    ctx.value(
        &mut String::new(),
        &mut String::new(),
        "",
        Some(&have),
        Some(&want),
    );
    out
}

fn obj(v: &Value) -> Map<String, Value> {
    v.as_object().cloned().unwrap_or_default()
}

fn arr(v: Option<&Value>) -> Vec<Value> {
    v.and_then(Value::as_array).cloned().unwrap_or_default()
}

fn strings(v: Option<&Value>) -> Vec<String> {
    arr(v)
        .iter()
        .filter_map(Value::as_str)
        .map(str::to_string)
        .collect()
}

fn push_unique(list: &mut Vec<String>, items: impl IntoIterator<Item = String>) {
    for i in items {
        if !list.contains(&i) {
            list.push(i);
        }
    }
}

/// A source entry's identity.
fn source_id(e: &Value) -> Option<String> {
    if e.get("all").and_then(Value::as_bool) == Some(true) {
        return Some("all".into());
    }
    if let Some(t) = e.get("table").and_then(Value::as_str) {
        let schema = e.get("schema").and_then(Value::as_str).unwrap_or("");
        return Some(format!("t:{}.{}", schema.to_lowercase(), t.to_lowercase()));
    }
    e.get("naming")
        .and_then(|n| n.get("datasource"))
        .and_then(Value::as_str)
        .map(|n| format!("q:{n}"))
}

fn table_label(e: &Value) -> String {
    let t = e.get("table").and_then(Value::as_str).unwrap_or("");
    match e.get("schema").and_then(Value::as_str) {
        Some(s) => format!("{s}.{t}"),
        None => t.to_string(),
    }
}

/// The two comparison forms (module doc).
fn forms(want: &Value, have: &Value) -> (Value, Value) {
    let mut w = obj(want);
    let mut h = obj(have);
    // No `sources`: every table of the connection (000:4607-4609).
    w.entry("sources").or_insert_with(|| json!([{"all": true}]));
    // connection: only members both sides can state; removals in Git still show.
    match (w.get("connection").cloned(), h.get("connection").cloned()) {
        (Some(wc), Some(hc)) => {
            let mut wc = obj(&wc);
            let hc = obj(&hc);
            wc.retain(|k, _| hc.contains_key(k));
            w.insert("connection".into(), Value::Object(wc));
        }
        (_, None) => {
            w.remove("connection");
        }
        _ => {}
    }
    let table_tags = strings(w.get("options").and_then(|o| o.get("tableTags")));
    for side in [&mut w, &mut h] {
        if let Some(Value::Object(o)) = side.get_mut("options") {
            o.remove("tableTags");
            if o.is_empty() {
                side.remove("options");
            }
        }
    }
    let want_root = arr(w.get("owners"));
    let have_root = arr(h.get("owners"));
    let compare_owners = w.contains_key("owners")
        || arr(w.get("sources"))
            .iter()
            .any(|s| s.get("owners").is_some());
    if !w.contains_key("owners") {
        h.remove("owners");
    }
    let want_sources = arr(w.get("sources"));
    let mut live: Vec<Value> = arr(h.get("sources"));
    let mut out_want = Vec::new();
    let mut out_have = Vec::new();
    // A source's own owners: those beyond the live root ones (shown there) and beyond
    // the desired root ones (a root owner missing from some source shows at the root).
    let live_full = |e: &Value| -> Vec<Value> {
        let mut own = arr(e.get("owners"));
        own.retain(|o| !want_root.contains(o) && !have_root.contains(o));
        own
    };
    let want_entry = |e: &Value| -> Value {
        let mut e = obj(e);
        let mut tags = obj(e.get("tags").unwrap_or(&Value::Null));
        let mut table = strings(tags.get("table"));
        push_unique(&mut table, table_tags.iter().cloned());
        if !table.is_empty() {
            tags.insert("table".into(), json!(table));
        }
        if !tags.is_empty() {
            e.insert("tags".into(), Value::Object(tags));
        }
        let mut own = arr(e.get("owners"));
        own.retain(|o| !want_root.contains(o));
        if own.is_empty() {
            e.remove("owners");
        } else {
            e.insert("owners".into(), Value::Array(own));
        }
        // One list of column descriptions.
        let mut descriptions = arr(e.get("columnDescriptions"));
        if let Some(Value::Array(cols)) = e.get_mut("columns") {
            for c in cols.iter_mut() {
                if let Value::Object(c) = c {
                    if let (Some(n), Some(d)) = (c.get("name").cloned(), c.remove("description")) {
                        if !descriptions.iter().any(|x| x.get("columnName") == Some(&n)) {
                            descriptions.push(json!({"columnName": n, "description": d}));
                        }
                    }
                }
            }
        }
        if !descriptions.is_empty() {
            e.insert("columnDescriptions".into(), Value::Array(descriptions));
        }
        Value::Object(e)
    };
    let have_entry = |want: &Value, live: &Value| -> Value {
        let mut e = obj(live);
        let w = obj(want);
        // Compare naming and columns only as far as the document states them.
        match (w.get("naming"), e.get("naming").cloned()) {
            (Some(wn), Some(hn)) => {
                let wn = obj(wn);
                let mut hn = obj(&hn);
                hn.retain(|k, _| wn.contains_key(k));
                e.insert("naming".into(), Value::Object(hn));
            }
            _ => {
                e.remove("naming");
            }
        }
        if let Some(wc) = w.get("columns").and_then(Value::as_array) {
            let hc: Vec<Value> = arr(e.get("columns"))
                .into_iter()
                .map(|c| {
                    let name = c.get("name").cloned();
                    let states = wc.iter().find(|x| x.get("name") == name.as_ref());
                    let mut c = obj(&c);
                    if let Some(states) = states.and_then(Value::as_object) {
                        c.retain(|k, _| states.contains_key(k));
                    } else {
                        c.retain(|k, _| k == "name");
                    }
                    Value::Object(c)
                })
                .collect();
            e.insert("columns".into(), Value::Array(hc));
        } else {
            e.remove("columns");
        }
        let own = live_full(live);
        if !compare_owners || own.is_empty() {
            e.remove("owners");
        } else {
            e.insert("owners".into(), Value::Array(own));
        }
        for (k, v) in w.iter() {
            // Identity members the live entry may spell differently (case).
            if matches!(k.as_str(), "table" | "schema" | "query" | "all") {
                e.insert(k.clone(), v.clone());
            }
        }
        e.remove("query");
        Value::Object(e)
    };
    for ws in &want_sources {
        let id = source_id(ws);
        if id.as_deref() == Some("all") {
            continue;
        }
        let we = want_entry(ws);
        let found = live.iter().position(|l| id.is_some() && source_id(l) == id);
        match found {
            Some(i) => {
                let l = live.remove(i);
                out_have.push(have_entry(&we, &l));
            }
            None => out_have.push(Value::Null),
        }
        out_want.push(we);
    }
    // Re-insert the `all` entries at their place, holding the tables they cover.
    let mut w_all = None;
    for (i, ws) in want_sources.iter().enumerate() {
        if source_id(ws).as_deref() == Some("all") {
            w_all = Some(i);
        }
    }
    let mut want_list: Vec<Value> = Vec::new();
    let mut have_list: Vec<Value> = Vec::new();
    let mut explicit = out_want.into_iter().zip(out_have);
    for (i, ws) in want_sources.iter().enumerate() {
        if Some(i) == w_all {
            let mut wt = Map::new();
            let mut ht = Map::new();
            for l in live.drain(..).filter(|l| l.get("table").is_some()) {
                let label = table_label(&l);
                let base = json!({"table": l.get("table"), "schema": l.get("schema")});
                let we = want_entry(&base);
                let mut he = obj(&have_entry(&we, &l));
                let mut we = obj(&we);
                for m in ["table", "schema"] {
                    he.remove(m);
                    we.remove(m);
                }
                wt.insert(label.clone(), Value::Object(we));
                ht.insert(label, Value::Object(he));
            }
            let mut wa = obj(ws);
            wa.insert("tables".into(), Value::Object(wt));
            want_list.push(Value::Object(wa));
            have_list.push(json!({"all": true, "tables": ht}));
        } else if source_id(ws).as_deref() != Some("all") {
            if let Some((we, he)) = explicit.next() {
                want_list.push(we);
                have_list.push(he);
            }
        }
    }
    // Live data sources no entry covers: the dry run deletes or disables them. One whose
    // hit names no remote table (a query source, or a hit without `remoteTable`) cannot be
    // told apart from a source the document names another way: not shown as removed.
    have_list.extend(live.into_iter().filter(|l| l.get("table").is_some()));
    w.insert("sources".into(), Value::Array(want_list));
    h.insert("sources".into(), Value::Array(have_list));
    (Value::Object(w), Value::Object(h))
}

struct Ctx<'a> {
    sensitive: &'a BTreeSet<String>,
    out: &'a mut Vec<FieldChange>,
}

/// The identity of a list item, by the name of the list it is in.
fn item_key(list: &str, v: &Value) -> Option<String> {
    match list {
        "owners" => Some(format!(
            "{}/{}",
            v.get("type").and_then(Value::as_str).unwrap_or(""),
            v.get("name").and_then(Value::as_str)?
        )),
        "sources" => source_id(v),
        "table" | "tags" | "tableTags" => v.as_str().map(str::to_string),
        "columns" => v
            .get("name")
            .or_else(|| v.get("columnName"))
            .and_then(Value::as_str)
            .map(str::to_string),
        "columnDescriptions" => v
            .get("columnName")
            .and_then(Value::as_str)
            .map(str::to_string),
        _ => None,
    }
}

impl Ctx<'_> {
    fn push(&mut self, path: &str, pointer: &str, before: Option<&Value>, after: Option<&Value>) {
        let before = before.filter(|v| !v.is_null());
        let after = after.filter(|v| !v.is_null());
        if before == after {
            return;
        }
        self.out.push(field_change(
            path.to_string(),
            pointer,
            before,
            after,
            self.sensitive,
        ));
    }

    fn value(
        &mut self,
        path: &mut String,
        pointer: &mut String,
        name: &str,
        have: Option<&Value>,
        want: Option<&Value>,
    ) {
        match (have, want) {
            (Some(Value::Object(h)), Some(Value::Object(w))) => {
                let keys: Vec<&String> = w
                    .keys()
                    .chain(h.keys().filter(|k| !w.contains_key(*k)))
                    .collect();
                for k in keys {
                    let (pl, ol) = (path.len(), pointer.len());
                    path.push_str(&path_key(path, k));
                    pointer.push('/');
                    pointer.push_str(&escape_pointer(k));
                    self.value(path, pointer, k, h.get(k), w.get(k));
                    path.truncate(pl);
                    pointer.truncate(ol);
                }
            }
            (Some(Value::Array(h)), Some(Value::Array(w))) => self.list(path, pointer, name, h, w),
            (h, w) => self.push(path, pointer, h, w),
        }
    }

    fn list(
        &mut self,
        path: &mut String,
        pointer: &mut String,
        name: &str,
        have: &[Value],
        want: &[Value],
    ) {
        // `sources` are aligned by `forms`; other lists are keyed when every item has an
        // identity.
        let keyed = name == "sources"
            || want
                .iter()
                .chain(have)
                .all(|v| v.is_null() || item_key(name, v).is_some());
        let mut pairs: Vec<(Option<&Value>, Option<&Value>)> = Vec::new();
        if keyed {
            // Live items not yet paired, by position.
            let mut free: Vec<Option<&Value>> = have.iter().map(Some).collect();
            for (i, w) in want.iter().enumerate() {
                let k = item_key(name, w);
                // `sources` are aligned already (a null marks a missing live entry).
                let slot = if name == "sources" {
                    free.get_mut(i)
                } else {
                    free.iter_mut()
                        .find(|h| h.is_some_and(|h| item_key(name, h) == k))
                };
                let found = slot.and_then(Option::take).filter(|h| !h.is_null());
                pairs.push((found, Some(w)));
            }
            pairs.extend(
                free.into_iter()
                    .flatten()
                    .filter(|h| !h.is_null())
                    .map(|h| (Some(h), None)),
            );
        } else {
            for i in 0..want.len().max(have.len()) {
                pairs.push((have.get(i), want.get(i)));
            }
        }
        for (i, (h, w)) in pairs.into_iter().enumerate() {
            let (pl, ol) = (path.len(), pointer.len());
            path.push_str(&format!("[{i}]"));
            pointer.push_str(&format!("/{i}"));
            self.value(path, pointer, name, h, w);
            path.truncate(pl);
            pointer.truncate(ol);
        }
    }
}

#[cfg(test)]
mod tests;
