//! Generators of valid tenants: V2 manifests of all four kinds, built from the manifest
//! schema (`src/manifest/schema/*.rs`), whose references resolve.
//!
//! A [`Tenant`] is generated in two steps: purposes and data sources first (they define
//! the names others refer to), then policies and projects that pick among those names.
//! Every name and key mixes ASCII, punctuation and non-ASCII text, and carries its index
//! so it is unique (Immuta refuses duplicates; a collision would be a generator bug).
//!
//! Left out on purpose (see the report of the test for the reasons):
//! - `{`, `}` and `$` in text: `{{...}}` and `${...}` are templates the manifest stage
//!   expands, so they are not plain text.
//! - `.` in purpose names: it separates a sub-purpose from its parent.
//! - `allowedMaskedJoins` (the attribute table's misspelling, a warning by design).
//! - `approvals` outside `type: approval` and `entitlements` outside `type: entitlements`:
//!   Immuta documents them only with those types.

use proptest::collection::vec;
use proptest::option;
use proptest::prelude::*;
use proptest::sample::{select, subsequence};
use serde_json::{json, Map, Value};

/// Pieces names are made of: ASCII, punctuation YAML and URLs care about, and non-ASCII.
const PIECES: &[&str] = &[
    "a", "Z", "q", "7", "0", "_", "-", " ", "'", "\"", "&", "#", "!", "?", ",", ";", "@", "+", "%",
    "*", "=", "~", "|", "^", "[", "]", "<", ">", "(", ")", "/", ":", "\\", "`", "é", "ß", "Ω",
    "日本", "🙂", "ل", "ñ", "İ", "ø", "Ж", "\u{301}", "data", "PII", ".",
];

/// A short text made of [`PIECES`], never empty, never padded with spaces; `dots` says
/// whether `.` may appear.
pub fn text(dots: bool) -> impl Strategy<Value = String> {
    vec(select(PIECES), 1..5).prop_map(move |parts| {
        let s: String = parts
            .concat()
            .chars()
            .filter(|c| dots || *c != '.')
            .collect();
        let t = s.trim().to_string();
        if t.is_empty() {
            "x".into()
        } else {
            t
        }
    })
}

/// A unique name: `text` plus the index (purposes: no dots).
pub fn name(prefix: &'static str, i: usize, dots: bool) -> impl Strategy<Value = String> {
    text(dots).prop_map(move |t| format!("{prefix}{t} {i}"))
}

/// A free-text value (descriptions, predicates, ...): may be multi-line.
pub fn prose() -> impl Strategy<Value = String> {
    prop_oneof![
        text(true),
        (text(true), text(true)).prop_map(|(a, b)| format!("{a}\n{b}")),
    ]
}

/// Tag names as Immuta spells them (`Discovered.PII`, `PHI`).
pub fn tag() -> impl Strategy<Value = String> {
    prop_oneof![
        select(
            &[
                "PII",
                "PHI",
                "Discovered.PII",
                "Discovered.Person Name",
                "Country.USA"
            ][..]
        )
        .prop_map(str::to_string),
        text(true).prop_map(|t| format!("Tag.{t}")),
    ]
}

/// Sets a field when the generator chose one.
pub fn put(m: &mut Map<String, Value>, k: &str, v: Option<Value>) {
    if let Some(v) = v {
        m.insert(k.into(), v);
    }
}

// ----------------------------------------------------------------------------------------
// Purposes.

/// One generated purpose document and every purpose name it defines.
#[derive(Debug, Clone)]
pub struct Purpose {
    /// The V2 body.
    pub body: Value,
    /// The root name and every `Root.Sub` name.
    pub names: Vec<String>,
}

fn purpose_fields(m: &mut Map<String, Value>) -> impl Strategy<Value = Map<String, Value>> {
    let base = m.clone();
    (
        option::of(prose()),
        option::of(prose()),
        option::of(Just("Medium")),
    )
        .prop_map(move |(d, a, k)| {
            let mut m = base.clone();
            put(&mut m, "description", d.map(Value::from));
            put(&mut m, "acknowledgement", a.map(Value::from));
            put(&mut m, "kAnonNoiseReduction", k.map(Value::from));
            m
        })
}

fn purpose(i: usize) -> impl Strategy<Value = Purpose> {
    (name("", i, false), vec((text(false), any::<u8>()), 0..4)).prop_flat_map(|(root, subs)| {
        // Each sub-purpose hangs under the root or an earlier sub-purpose, so hierarchies
        // go several levels deep (`Root.A.B`), parents always first (000:751-760).
        let mut names = vec![root.clone()];
        for (j, (s, parent)) in subs.iter().enumerate() {
            let parent = names[usize::from(*parent) % names.len()].clone();
            names.push(format!("{parent}.{s} {j}"));
        }
        let mut rm = Map::new();
        rm.insert("name".into(), root.into());
        let sub_bodies: Vec<_> = names[1..]
            .iter()
            .map(|n| {
                let mut m = Map::new();
                m.insert("name".into(), n.clone().into());
                purpose_fields(&mut m)
            })
            .collect();
        (purpose_fields(&mut rm), sub_bodies, any::<bool>()).prop_map(
            move |(mut root, subs, empty_list)| {
                if !subs.is_empty() {
                    root.insert(
                        "subpurposes".into(),
                        Value::Array(subs.into_iter().map(Value::Object).collect()),
                    );
                } else if empty_list {
                    root.insert("subpurposes".into(), json!([]));
                }
                Purpose {
                    body: Value::Object(root),
                    names: names.clone(),
                }
            },
        )
    })
}

// ----------------------------------------------------------------------------------------
// Tenants.

/// Every manifest of one generated tenant, in the repository layout.
#[derive(Debug, Clone)]
pub struct Tenant {
    /// Purpose documents.
    pub purposes: Vec<Value>,
    /// Data-source documents.
    pub data: Vec<Value>,
    /// Policy documents.
    pub policies: Vec<Value>,
    /// Project documents.
    pub projects: Vec<Value>,
    /// Write each kind as one multi-document file instead of one file per document.
    pub multi_doc: bool,
    /// Which free-text value [`Tenant::mutated`] changes.
    pub mutation: usize,
    /// Set by [`Tenant::pin_mutation`]: the value to change, by key and pointer.
    pub pinned: Option<(String, String)>,
}

/// One revision of the repository the property test applies.
#[derive(Debug, Clone)]
pub struct Revision {
    /// `(path, YAML)` per file.
    pub files: Vec<(String, String)>,
    /// When set, the plan must write this object (`kind/name`) and no other.
    pub changes: Option<String>,
}

impl Revision {
    /// A revision with no expectation on its plan.
    pub fn new(files: Vec<(String, String)>) -> Revision {
        Revision {
            files,
            changes: None,
        }
    }
}

impl Tenant {
    /// `(path, YAML)` per document, as a repository would hold them.
    pub fn files(&self) -> Vec<(String, String)> {
        let mut out = Vec::new();
        for (dir, docs) in [
            ("purpose", &self.purposes),
            ("data", &self.data),
            ("policy", &self.policies),
            ("project", &self.projects),
        ] {
            let yaml = |d: &Value| serde_yaml::to_string(d).unwrap_or_else(|e| format!("# {e}\n"));
            if self.multi_doc && !docs.is_empty() {
                let all: Vec<String> = docs.iter().map(yaml).collect();
                out.push((format!("{dir}/all.yaml"), all.join("---\n")));
                continue;
            }
            for (i, d) in docs.iter().enumerate() {
                out.push((format!("{dir}/{i:02}.yaml"), yaml(d)));
            }
        }
        out
    }

    /// The same documents with every optional top-level field left out, except the ones
    /// that hold references or other objects (`subpurposes`, `sources`, `actions`), so
    /// every reference still resolves.
    pub fn stripped(&self) -> Tenant {
        const KEEP: &[&str] = &[
            "name",
            "subpurposes",
            "connectionKey",
            "connection",
            "sources",
            "policyKey",
            "type",
            "actions",
            "projectKey",
        ];
        let strip = |docs: &Vec<Value>| -> Vec<Value> {
            docs.iter()
                .map(|d| match d {
                    Value::Object(m) => Value::Object(
                        m.iter()
                            .filter(|(k, _)| KEEP.contains(&k.as_str()))
                            .map(|(k, v)| (k.clone(), v.clone()))
                            .collect(),
                    ),
                    other => other.clone(),
                })
                .collect()
        };
        Tenant {
            purposes: strip(&self.purposes),
            data: strip(&self.data),
            policies: strip(&self.policies),
            projects: strip(&self.projects),
            multi_doc: self.multi_doc,
            mutation: self.mutation,
            pinned: self.pinned.clone(),
        }
    }

    /// The same tenant with one free-text value changed (picked by [`Tenant::mutation`]
    /// among every description, documentation, acknowledgement, certification text or
    /// label, predicate and replacement), and the `kind/name` of the object that holds
    /// it; `None` when the tenant has no such value. A manual project subscription is
    /// skipped: V1 answers it as null (000:33761), so nothing in it can be seen.
    pub fn mutated(&self) -> Option<(Tenant, String)> {
        let (k, i, ptr, key) = self.spot()?;
        let mut t = self.clone();
        let docs = match k {
            0 => &mut t.purposes,
            1 => &mut t.data,
            2 => &mut t.policies,
            _ => &mut t.projects,
        };
        if let Some(Value::String(s)) = docs[i].pointer_mut(&ptr) {
            s.push_str(" (changed)");
        }
        Some((t, key))
    }

    /// Pins the value [`Tenant::mutated`] changes by object key and JSON pointer, so that
    /// shrinking (which removes documents and shifts indices) keeps changing the same one.
    pub fn pin_mutation(&mut self) {
        self.pinned = self.spot().map(|(_, _, ptr, key)| (key, ptr));
    }

    /// `(kind index, document index, JSON pointer, kind/name)` of the value to change.
    fn spot(&self) -> Option<(usize, usize, String, String)> {
        const FREE_TEXT: &[&str] = &[
            "description",
            "documentation",
            "acknowledgement",
            "text",
            "label",
            "predicate",
            "conditionalPredicate",
            "replacement",
        ];
        fn walk(v: &Value, ptr: String, out: &mut Vec<String>) {
            match v {
                Value::Object(m) => {
                    let manual = m.get("type").and_then(Value::as_str) == Some("manual");
                    for (k, child) in m {
                        if manual && ptr == "/subscriptionPolicy" {
                            continue;
                        }
                        let p = format!("{ptr}/{}", k.replace('~', "~0").replace('/', "~1"));
                        if child.is_string() && FREE_TEXT.contains(&k.as_str()) {
                            out.push(p.clone());
                        }
                        walk(child, p, out);
                    }
                }
                Value::Array(items) => {
                    for (i, item) in items.iter().enumerate() {
                        walk(item, format!("{ptr}/{i}"), out);
                    }
                }
                _ => {}
            }
        }
        let mut spots = Vec::new();
        for (k, (kind, id)) in [
            ("purpose", "name"),
            ("data", "connectionKey"),
            ("policy", "policyKey"),
            ("project", "projectKey"),
        ]
        .into_iter()
        .enumerate()
        {
            let docs = [&self.purposes, &self.data, &self.policies, &self.projects][k];
            for (i, d) in docs.iter().enumerate() {
                let mut ptrs = Vec::new();
                walk(d, String::new(), &mut ptrs);
                let key = format!("{kind}/{}", d[id].as_str().unwrap_or_default());
                spots.extend(ptrs.into_iter().map(|p| (k, i, p, key.clone())));
            }
        }
        if spots.is_empty() {
            return None;
        }
        match &self.pinned {
            // The same value of the same object, wherever its document now is.
            Some((want_key, want_ptr)) => spots
                .into_iter()
                .find(|(_, _, p, key)| key == want_key && p == want_ptr),
            None => Some(spots[self.mutation % spots.len()].clone()),
        }
    }

    /// The revisions the property test applies in turn: the tenant; the tenant with one
    /// value changed, which must plan exactly that object's update; [`Self::stripped`].
    pub fn revisions(&self) -> Vec<Revision> {
        let mut out = vec![Revision::new(self.files())];
        if let Some((t, key)) = self.mutated() {
            out.push(Revision {
                files: t.files(),
                changes: Some(key),
            });
        }
        out.push(Revision::new(self.stripped().files()));
        out
    }

    /// Purposes with their sub-purposes: what `GET /governance/purpose` lists.
    pub fn purpose_count(&self) -> usize {
        self.purposes
            .iter()
            .map(|p| 1 + p["subpurposes"].as_array().map_or(0, Vec::len))
            .sum()
    }

    /// Which lists of the tenant are longer than `cap`: purposes (with sub-purposes),
    /// policies, projects, and the data sources of one project.
    pub fn longer_than(&self, cap: usize) -> [bool; 4] {
        let most_sources = self
            .projects
            .iter()
            .map(|p| p["datasources"].as_array().map_or(0, Vec::len))
            .max()
            .unwrap_or(0);
        [
            self.purpose_count() > cap,
            self.policies.len() > cap,
            self.projects.len() > cap,
            most_sources > cap,
        ]
    }

    /// Every file, one after the other, each headed by its path: the form a failure prints.
    pub fn yaml(&self) -> String {
        self.files()
            .into_iter()
            .map(|(p, y)| format!("# --- {p}\n{y}"))
            .collect()
    }
}

/// A whole tenant: up to 4 purposes, [`super::data_gen::MAX_DATA`] connections, 8 policies, 9 projects.
pub fn tenant() -> impl Strategy<Value = Tenant> {
    let purposes = (0..=4usize).prop_flat_map(|n| (0..n).map(purpose).collect::<Vec<_>>());
    let data = (0..=super::data_gen::MAX_DATA)
        .prop_flat_map(|n| (0..n).map(super::data_gen::data).collect::<Vec<_>>());
    (purposes, data).prop_flat_map(|(purposes, data)| {
        let purpose_names: Vec<String> = purposes.iter().flat_map(|p| p.names.clone()).collect();
        let ds_names: Vec<String> = data.iter().flat_map(|d| d.names.clone()).collect();
        let policies = (0..=8usize).prop_flat_map({
            let pn = purpose_names.clone();
            move |n| {
                (0..n)
                    .map(|i| super::policy_gen::policy(i, pn.clone()))
                    .collect::<Vec<_>>()
            }
        });
        // Mostly a few projects, sometimes more than a page of them.
        let projects = prop_oneof![3 => 0..=3usize, 1 => 4..=9usize].prop_flat_map({
            let pn = purpose_names.clone();
            move |n| {
                (0..n)
                    .map(|i| super::policy_gen::project(i, pn.clone(), ds_names.clone()))
                    .collect::<Vec<_>>()
            }
        });
        (
            Just(purposes.into_iter().map(|p| p.body).collect::<Vec<_>>()),
            Just(data.into_iter().map(|d| d.body).collect::<Vec<_>>()),
            policies,
            projects,
            proptest::bool::weighted(0.2),
            any::<usize>(),
        )
            .prop_map(
                |(purposes, data, policies, projects, multi_doc, mutation)| Tenant {
                    purposes,
                    data,
                    policies,
                    projects,
                    multi_doc,
                    mutation,
                    pinned: None,
                },
            )
    })
}

/// A subset of `names` (empty when there are none).
pub fn some_of(names: Vec<String>, max: usize) -> BoxedStrategy<Vec<String>> {
    if names.is_empty() {
        return Just(Vec::new()).boxed();
    }
    let n = names.len();
    subsequence(names, 0..=max.min(n)).boxed()
}
