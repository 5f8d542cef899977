//! What an alias or a merge key repeats: the entries a `<<` source copies into a
//! mapping, and the spans of a repeated tree (written at the anchor, used here, so every
//! node inside it points at the place that uses it).

use serde_json::{Map, Value};

use super::Walker;
use crate::manifest::parse::Error;
use crate::manifest::spans::{push_child, push_index, Pos, SpanMap};

impl Walker {
    /// Copies the entries of a merge source (`<<`) that `map` does not write itself.
    pub(super) fn merge(
        &mut self,
        map: &mut Map<String, Value>,
        pointer: &str,
        source: Value,
        at: Pos,
    ) {
        let mut merge_key = pointer.to_string();
        push_child(&mut merge_key, "<<");
        let at = self.at_pointer(&merge_key, at);
        let sources = match source {
            Value::Object(m) => vec![m],
            Value::Array(items) => {
                let mut out = Vec::with_capacity(items.len());
                for item in items {
                    match item {
                        Value::Object(m) => out.push(m),
                        _ => {
                            self.problem(at, Error::BadMerge);
                            return;
                        }
                    }
                }
                out
            }
            _ => {
                self.problem(at, Error::BadMerge);
                return;
            }
        };
        for (k, v) in sources.into_iter().flatten() {
            if !map.contains_key(&k) {
                if let Some(doc) = self.current.as_mut() {
                    let mut p = pointer.to_string();
                    push_child(&mut p, &k);
                    record_tree(&mut doc.spans, &mut p, &v, at);
                }
                map.insert(k, v);
            }
        }
    }
}

/// Records the first position seen for `pointer`.
pub(super) fn record_in(spans: &mut SpanMap, pointer: &str, at: Pos) {
    if !spans.positions.contains_key(pointer) {
        spans.positions.insert(pointer.to_string(), at);
    }
    if pointer.is_empty() && spans.start.is_none() {
        spans.start = Some(at);
    }
}

/// Records `at` for `pointer` and every node inside `v` (a value an alias or a merge
/// repeats: it was written at the anchor, and is used here).
pub(super) fn record_tree(spans: &mut SpanMap, pointer: &mut String, v: &Value, at: Pos) {
    record_in(spans, pointer, at);
    let len = pointer.len();
    match v {
        Value::Object(m) => {
            for (k, child) in m {
                push_child(pointer, k);
                record_tree(spans, pointer, child, at);
                pointer.truncate(len);
            }
        }
        Value::Array(items) => {
            for (i, child) in items.iter().enumerate() {
                push_index(pointer, i);
                record_tree(spans, pointer, child, at);
                pointer.truncate(len);
            }
        }
        _ => {}
    }
}
