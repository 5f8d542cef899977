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
        }
    }

    /// The revisions the property test applies in turn: the tenant, then [`Self::stripped`].
    pub fn revisions(&self) -> Vec<Vec<(String, String)>> {
        vec![self.files(), self.stripped().files()]
    }

    /// Purposes with their sub-purposes: what `GET /governance/purpose` lists.
    pub fn purpose_count(&self) -> usize {
        self.purposes
            .iter()
            .map(|p| 1 + p["subpurposes"].as_array().map_or(0, Vec::len))
            .sum()
    }

    /// Every file, one after the other, each headed by its path: the form a failure prints.
    pub fn yaml(&self) -> String {
        self.files()
            .into_iter()
            .map(|(p, y)| format!("# --- {p}\n{y}"))
            .collect()
    }
}

/// A whole tenant: up to 4 purposes, [`super::data_gen::MAX_DATA`] connections, 8 policies, 4 projects.
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
        let projects = (0..=4usize).prop_flat_map({
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
        )
            .prop_map(|(purposes, data, policies, projects, multi_doc)| Tenant {
                purposes,
                data,
                policies,
                projects,
                multi_doc,
            })
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
