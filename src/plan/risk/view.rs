//! Reading one change's field diffs as two partial documents, for the risk rules.
//!
//! A [`Change`](super::super::Change) holds only what differs: each [`FieldChange`] is a
//! path (`actions[0].rules[1].exceptions.groups[2]`) with the live value before and the
//! desired value after (`None`: absent). [`View`] answers, for any path, what each side is
//! known to hold there: the value (or its absence) when the path lies at or inside a
//! changed field, "partly changed" when changed fields lie below it, and "unchanged"
//! (unknown to the plan) otherwise. [`View::leaves`] lists every changed leaf path, so
//! every changed value is looked at by some rule.
//!
//! Input: the field diffs of one change. Output: lookups. Pure; never sees a secret (the
//! values are masked when the plan is built).

use serde_json::Value;

use crate::plan::FieldChange;

/// One step of a path.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum Seg {
    /// An object member.
    Key(String),
    /// An array item.
    Index(usize),
}

impl Seg {
    /// The member name, or `"[]"` for an array item (for matching shapes).
    pub fn shape(&self) -> &str {
        match self {
            Seg::Key(k) => k,
            Seg::Index(_) => "[]",
        }
    }
}

/// What one side of a change holds at a path.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Seen<'a> {
    /// The plan does not say: the value there is the same on both sides.
    Unchanged,
    /// Changed fields lie below the path; the value as a whole is not in the plan.
    Partial,
    /// The path lies at or inside a changed field: this is the value (`None`: absent).
    Full(Option<&'a Value>),
}

impl<'a> Seen<'a> {
    /// The value when it is fully known and present.
    pub fn value(self) -> Option<&'a Value> {
        match self {
            Seen::Full(v) => v,
            Seen::Unchanged | Seen::Partial => None,
        }
    }

    /// The string when the value is fully known: `Some(None)` for absent.
    pub fn known_str(self) -> Option<Option<&'a str>> {
        match self {
            Seen::Full(v) => Some(v.and_then(Value::as_str)),
            Seen::Unchanged | Seen::Partial => None,
        }
    }

    /// True when the value is fully known and present (not null).
    pub fn is_present(self) -> bool {
        matches!(self, Seen::Full(Some(v)) if !v.is_null())
    }

    /// True when the value is fully known to be absent.
    pub fn is_absent(self) -> bool {
        matches!(self, Seen::Full(None) | Seen::Full(Some(Value::Null)))
    }
}

/// Which side of a change.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    /// Live, before apply.
    Before,
    /// Desired, after apply.
    After,
}

struct Entry<'a> {
    path: Vec<Seg>,
    before: Option<&'a Value>,
    after: Option<&'a Value>,
}

/// Elements added to and removed from a list (compared as multisets of whole items).
#[derive(Debug, Default, PartialEq)]
pub struct ListDelta {
    /// Items only after.
    pub added: Vec<Value>,
    /// Items only before.
    pub removed: Vec<Value>,
    /// Some item changed in place (only part of it is in the plan): it cannot be said
    /// whether it was added, removed or edited.
    pub edited: bool,
}

/// The field diffs of one change, read as two partial documents.
pub struct View<'a> {
    entries: Vec<Entry<'a>>,
    /// Paths that could not be read back (never produced by the planner): each is a
    /// change nothing can be said about.
    pub unreadable: Vec<String>,
}

impl<'a> View<'a> {
    /// Reads the field diffs of one change.
    pub fn new(fields: &'a [FieldChange]) -> Self {
        let mut entries = Vec::new();
        let mut unreadable = Vec::new();
        for f in fields {
            match parse_path(&f.path) {
                Some(path) => entries.push(Entry {
                    path,
                    before: f.before.as_ref(),
                    after: f.after.as_ref(),
                }),
                None => unreadable.push(f.path.clone()),
            }
        }
        View {
            entries,
            unreadable,
        }
    }

    /// What `side` holds at `path`.
    pub fn at(&self, side: Side, path: &[Seg]) -> Seen<'a> {
        let mut partial = false;
        for e in &self.entries {
            if let Some(rest) = path.strip_prefix(e.path.as_slice()) {
                let root = match side {
                    Side::Before => e.before,
                    Side::After => e.after,
                };
                return Seen::Full(root.and_then(|v| descend(v, rest)));
            }
            if e.path.starts_with(path) {
                partial = true;
            }
        }
        if partial {
            Seen::Partial
        } else {
            Seen::Unchanged
        }
    }

    /// Every changed leaf: the paths of scalars (and empty containers) that differ,
    /// found by walking each changed value on both sides.
    pub fn leaves(&self) -> Vec<Vec<Seg>> {
        let mut out = Vec::new();
        for e in &self.entries {
            let mut path = e.path.clone();
            explode(&mut path, e.before, e.after, &mut out);
        }
        out.sort();
        out.dedup();
        out
    }

    /// The items added to and removed from the list at `path`.
    pub fn list(&self, path: &[Seg]) -> ListDelta {
        let mut delta = ListDelta::default();
        match (self.at(Side::Before, path), self.at(Side::After, path)) {
            (Seen::Full(b), Seen::Full(a)) => {
                let items = |v: Option<&Value>| -> Vec<Value> {
                    v.and_then(Value::as_array).cloned().unwrap_or_default()
                };
                multiset_diff(items(b), items(a), &mut delta);
            }
            (Seen::Partial, _) | (_, Seen::Partial) => {
                let mut before = Vec::new();
                let mut after = Vec::new();
                for i in self.indices(path) {
                    let mut item = path.to_vec();
                    item.push(Seg::Index(i));
                    match (self.at(Side::Before, &item), self.at(Side::After, &item)) {
                        (Seen::Full(b), Seen::Full(a)) => {
                            before.extend(b.cloned());
                            after.extend(a.cloned());
                        }
                        _ => delta.edited = true,
                    }
                }
                multiset_diff(before, after, &mut delta);
            }
            _ => {}
        }
        delta
    }

    /// Indices of the list at `path` that appear in the plan.
    pub fn indices(&self, path: &[Seg]) -> Vec<usize> {
        let mut out: Vec<usize> = self
            .entries
            .iter()
            .filter_map(|e| match e.path.get(path.len()) {
                Some(Seg::Index(i)) if e.path.starts_with(path) => Some(*i),
                _ => None,
            })
            .collect();
        out.sort_unstable();
        out.dedup();
        out
    }
}

fn multiset_diff(before: Vec<Value>, mut after: Vec<Value>, delta: &mut ListDelta) {
    for b in before {
        match after.iter().position(|a| *a == b) {
            Some(i) => {
                after.swap_remove(i);
            }
            None => delta.removed.push(b),
        }
    }
    delta.added.extend(after);
}

fn descend<'v>(v: &'v Value, rest: &[Seg]) -> Option<&'v Value> {
    rest.iter().try_fold(v, |v, seg| match seg {
        Seg::Key(k) => v.get(k.as_str()),
        Seg::Index(i) => v.get(*i),
    })
}

fn explode(path: &mut Vec<Seg>, b: Option<&Value>, a: Option<&Value>, out: &mut Vec<Vec<Seg>>) {
    let children: Vec<Seg> = match (b, a) {
        (Some(Value::Object(x)), None) | (None, Some(Value::Object(x))) if !x.is_empty() => {
            x.keys().map(|k| Seg::Key(k.clone())).collect()
        }
        (Some(Value::Object(x)), Some(Value::Object(y))) => {
            let mut keys: Vec<Seg> = x.keys().chain(y.keys()).cloned().map(Seg::Key).collect();
            keys.sort();
            keys.dedup();
            keys
        }
        (Some(Value::Array(x)), None) | (None, Some(Value::Array(x))) if !x.is_empty() => {
            (0..x.len()).map(Seg::Index).collect()
        }
        (Some(Value::Array(x)), Some(Value::Array(y))) => {
            (0..x.len().max(y.len())).map(Seg::Index).collect()
        }
        _ => {
            out.push(path.clone());
            return;
        }
    };
    for seg in children {
        let (bc, ac) = (
            b.and_then(|v| child(v, &seg)),
            a.and_then(|v| child(v, &seg)),
        );
        if bc.is_some() && bc == ac {
            continue;
        }
        path.push(seg);
        explode(path, bc, ac, out);
        path.pop();
    }
}

fn child<'v>(v: &'v Value, seg: &Seg) -> Option<&'v Value> {
    match seg {
        Seg::Key(k) => v.get(k.as_str()),
        Seg::Index(i) => v.get(*i),
    }
}

/// Reads a display path back (`a.b[0]["we ird"].c`); `None` when it is not one the
/// planner writes.
pub fn parse_path(s: &str) -> Option<Vec<Seg>> {
    let mut out = Vec::new();
    let mut rest = s;
    let ident = |r: &str| -> usize {
        r.find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .unwrap_or(r.len())
    };
    while !rest.is_empty() {
        if let Some(r) = rest.strip_prefix("[\"") {
            let end = quoted_end(r)?;
            let lit = rest.get(1..end + 3)?;
            out.push(Seg::Key(serde_json::from_str(lit).ok()?));
            rest = r.get(end + 2..)?;
        } else if let Some(r) = rest.strip_prefix('[') {
            let end = r.find(']')?;
            out.push(Seg::Index(r.get(..end)?.parse().ok()?));
            rest = r.get(end + 1..)?;
        } else {
            let r = if out.is_empty() {
                rest
            } else {
                rest.strip_prefix('.')?
            };
            let n = ident(r);
            if n == 0 {
                return None;
            }
            out.push(Seg::Key(r.get(..n)?.to_string()));
            rest = r.get(n..)?;
        }
    }
    Some(out)
}

/// Byte offset of the closing quote of a JSON string body followed by `]`.
fn quoted_end(r: &str) -> Option<usize> {
    let mut escaped = false;
    for (i, c) in r.char_indices() {
        match c {
            _ if escaped => escaped = false,
            '\\' => escaped = true,
            '"' => return r.get(i + 1..).filter(|t| t.starts_with(']')).map(|_| i),
            _ => {}
        }
    }
    None
}

/// `prefix` followed by the steps of the display path `more` (`"exceptions.groups"`).
pub fn join(prefix: &[Seg], more: &str) -> Vec<Seg> {
    let mut p = prefix.to_vec();
    match parse_path(more) {
        Some(rest) => p.extend(rest),
        None => p.push(Seg::Key(more.to_string())),
    }
    p
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn path(p: &str) -> Vec<Seg> {
        parse_path(p).unwrap()
    }

    fn fc(path: &str, before: Option<Value>, after: Option<Value>) -> FieldChange {
        FieldChange {
            path: path.into(),
            before,
            after,
            sensitive: false,
            note: None,
        }
    }

    #[test]
    fn paths_read_back_as_the_planner_writes_them() {
        assert_eq!(
            parse_path("actions[0].rules[12][\"we.ird \\\"x\\\"]\"].type"),
            Some(vec![
                Seg::Key("actions".into()),
                Seg::Index(0),
                Seg::Key("rules".into()),
                Seg::Index(12),
                Seg::Key("we.ird \"x\"]".into()),
                Seg::Key("type".into()),
            ])
        );
        assert_eq!(parse_path("[\"a b\"]"), Some(vec![Seg::Key("a b".into())]));
        for bad in ["a..b", "a[x]", "a[\"b", ".a", "a[0"] {
            assert_eq!(parse_path(bad), None, "{bad}");
        }
    }

    #[test]
    fn lookups_descend_into_changed_values_and_know_what_is_unchanged() {
        let fields = vec![
            fc("exceptions", None, Some(json!({"groups": ["a", "b"]}))),
            fc("config.fields[1].regex", Some(json!("x")), Some(json!("y"))),
        ];
        let v = View::new(&fields);
        let g = path("exceptions.groups[1]");
        assert_eq!(v.at(Side::After, &g), Seen::Full(Some(&json!("b"))));
        assert_eq!(v.at(Side::Before, &g), Seen::Full(None));
        assert_eq!(v.at(Side::After, &path("config")), Seen::Partial);
        assert_eq!(v.at(Side::After, &path("name")), Seen::Unchanged);
        assert_eq!(
            v.leaves(),
            vec![
                path("config.fields[1].regex"),
                path("exceptions.groups[0]"),
                path("exceptions.groups[1]"),
            ]
        );
    }

    #[test]
    fn list_deltas_compare_items_not_positions() {
        // A sorted list gained "b": the planner shows [1] "c" -> "b" and [2] added "c".
        let fields = vec![
            fc("datasources[1]", Some(json!("c")), Some(json!("b"))),
            fc("datasources[2]", None, Some(json!("c"))),
        ];
        let d = View::new(&fields).list(&path("datasources"));
        assert_eq!(d.added, vec![json!("b")]);
        assert!(d.removed.is_empty() && !d.edited);
        let edited = vec![fc(
            "attributes[0].value",
            Some(json!("x")),
            Some(json!("y")),
        )];
        assert!(View::new(&edited).list(&path("attributes")).edited);
    }
}
