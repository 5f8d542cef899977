//! Export, step 2: one live V2 body → the text of its manifest file.
//!
//! Input: a [`LiveObject`] body. Output: YAML with the fields in the schema's order
//! (`src/manifest/schema/`), a comment header, and — when the document the reads gave is
//! not one the manifest stage accepts as it is — the [`INCOMPLETE_MARKER`] field, which
//! validation refuses at its line until a person has filled in what is missing.
//!
//! Whether a document is complete is decided by the manifest stage itself: the rendered
//! text is loaded exactly as `validate` would load it, and every diagnostic it raises
//! (an unmodelled field the reader kept in its V1 shape, a missing required field, an
//! undocumented value) is something the reads could not say in V2. Pure functions.

use std::collections::BTreeMap;

use serde_json::{Map, Value};

use crate::live::LiveObject;
use crate::manifest;
use crate::manifest::schema::{self, Obj, Ty};
use crate::manifest::validate::INCOMPLETE_MARKER;
use crate::object::ObjectKey;
use crate::source::{FileEntry, Snapshot};
use crate::terminal::escape;

/// One rendered manifest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rendered {
    /// The file's text.
    pub text: String,
    /// What the reads could not reconstruct (empty: the document is complete).
    pub missing: Vec<String>,
}

/// `body` with every object's fields in the order `obj` declares them (common fields,
/// then the fields of the variant its tag selects); fields the schema does not know keep
/// their order after them.
pub fn ordered(obj: &'static Obj, body: &Value) -> Value {
    let Value::Object(map) = body else {
        return body.clone();
    };
    let tag = obj.tag.and_then(|t| map.get(t)).and_then(Value::as_str);
    let mut out = Map::new();
    let declared = obj.fields.iter().chain(
        obj.variants
            .iter()
            .filter(|v| Some(v.value) == tag)
            .flat_map(|v| v.fields.iter()),
    );
    for f in declared {
        if let Some(v) = map.get(f.name) {
            out.insert(f.name.to_string(), ordered_value(&f.ty, v));
        }
    }
    for (k, v) in map {
        if !out.contains_key(k) {
            let v = obj
                .field(k, tag)
                .map_or_else(|| v.clone(), |f| ordered_value(&f.ty, v));
            out.insert(k.clone(), v);
        }
    }
    Value::Object(out)
}

fn ordered_value(ty: &'static Ty, v: &Value) -> Value {
    match (ty, v) {
        (Ty::Object(o), Value::Object(_)) => ordered(o, v),
        (Ty::Array(item), Value::Array(items)) => {
            Value::Array(items.iter().map(|i| ordered_value(item, i)).collect())
        }
        _ => v.clone(),
    }
}

/// Renders one live object as the manifest file `path` (relative to the export root,
/// used only to load it back for the completeness check).
///
/// # Errors
/// A message when the body cannot be written as YAML (it always can be: it is JSON).
pub fn render(object: &LiveObject, path: &str) -> Result<Rendered, String> {
    render_with(object, path, &[], &[])
}

/// [`render`], with what is already known to be missing and the `{{EnvVar}}` variables
/// the body uses (given stand-in values for the completeness check only).
///
/// # Errors
/// As [`render`].
pub fn render_with(
    object: &LiveObject,
    path: &str,
    known_missing: &[String],
    variables: &[String],
) -> Result<Rendered, String> {
    let body = object.body.as_ref().cloned().unwrap_or(Value::Null);
    let body = ordered(schema::root(object.key.kind), &body);
    let yaml = serde_yaml::to_string(&body).map_err(|e| e.to_string())?;
    let header = header(&object.key, object.id);
    let mut missing = known_missing.to_vec();
    missing.extend(diagnostics(path, &format!("{header}{yaml}"), variables));
    if missing.is_empty() {
        return Ok(Rendered {
            text: format!("{header}{yaml}"),
            missing,
        });
    }
    let summary = missing.join("; ");
    let marker = serde_yaml::to_string(&BTreeMap::from([(INCOMPLETE_MARKER, summary.as_str())]))
        .map_err(|e| e.to_string())?;
    let mut text = header;
    text.push_str(
        "#\n# INCOMPLETE: the documented reads do not give everything this object holds:\n",
    );
    for m in &missing {
        text.push_str(&format!("#   - {}\n", escape(m)));
    }
    text.push_str(&format!(
        "# Fill in what is missing, then delete the {INCOMPLETE_MARKER} field below;\n# `validate` and `reconcile` refuse this file until then.\n"
    ));
    text.push_str(&marker);
    text.push_str(&yaml);
    Ok(Rendered { text, missing })
}

fn header(key: &ObjectKey, id: Option<u64>) -> String {
    let id = id.map(|i| format!(" (id {i})")).unwrap_or_default();
    format!(
        "# Exported from Immuta by immuta-gitops export: {}{id}.\n",
        escape(&key.to_string())
    )
}

/// Every problem the manifest stage finds in `text`, without its place (the file is one
/// document; the messages name the field).
fn diagnostics(path: &str, text: &str, variables: &[String]) -> Vec<String> {
    let files = BTreeMap::from([(path.to_string(), FileEntry::Blob(text.as_bytes().to_vec()))]);
    let env: BTreeMap<String, String> = variables
        .iter()
        .map(|v| (v.clone(), "stand-in-for-the-completeness-check".to_string()))
        .collect();
    let snapshot = Snapshot::new("export", "export", files);
    let found = match manifest::load(&snapshot, &env) {
        Ok(set) => set.warnings,
        Err(diags) => diags,
    };
    let mut out: Vec<String> = found.into_iter().map(|d| d.message).collect();
    out.dedup();
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::object::Kind;
    use serde_json::json;

    fn live(kind: Kind, key: &str, body: Value) -> LiveObject {
        LiveObject {
            key: ObjectKey::new(kind, key),
            id: Some(7),
            system: false,
            body: Some(body),
        }
    }

    #[test]
    fn fields_follow_the_schema_order() {
        let body = json!({"subpurposes": [{"description": "d", "name": "P.A"}],
            "description": "x", "name": "P"});
        let r = render(&live(Kind::Purpose, "P", body), "purpose/p.yaml").unwrap();
        assert_eq!(
            r.text,
            "# Exported from Immuta by immuta-gitops export: purpose/P (id 7).\nname: P\ndescription: x\nsubpurposes:\n- name: P.A\n  description: d\n"
        );
        assert!(r.missing.is_empty());
    }

    #[test]
    fn a_document_the_schema_does_not_accept_is_marked_incomplete() {
        // A row restriction with several conditions has no V2 spelling: the reader keeps
        // its V1 config, which V2 does not model.
        let body = json!({"policyKey": "rows", "name": "Rows", "type": "data",
            "actions": [{"rules": [{"type": "Row Restriction By User Entitlements",
                "config": {"qualifications": {"operator": "and", "conditions": []}}}]}]});
        let r = render(&live(Kind::Policy, "rows", body), "policy/rows.yaml").unwrap();
        assert!(!r.missing.is_empty());
        assert!(r.text.contains("# INCOMPLETE"), "{}", r.text);
        assert!(
            r.text.contains(&format!("\n{INCOMPLETE_MARKER}: ")),
            "{}",
            r.text
        );
        // Validation refuses it at the marker's line, naming file and key.
        let diags = diagnostics("policy/rows.yaml", &r.text, &[]);
        assert!(
            diags.iter().any(|d| d.starts_with("incomplete export: ")),
            "{diags:#?}"
        );
        let files = BTreeMap::from([(
            "policy/rows.yaml".to_string(),
            FileEntry::Blob(r.text.clone().into_bytes()),
        )]);
        let env: BTreeMap<String, String> = BTreeMap::new();
        let errs = manifest::load(&Snapshot::new("t", "t", files), &env).unwrap_err();
        let line = r
            .text
            .lines()
            .position(|l| l.starts_with(INCOMPLETE_MARKER))
            .unwrap()
            + 1;
        let want = format!("policy/rows.yaml:{line}:1: policy rows: incomplete export: ");
        assert!(
            errs.iter().any(|d| d.to_string().starts_with(&want)),
            "{errs:#?}"
        );
    }

    #[test]
    fn hostile_text_stays_inside_its_yaml_string() {
        let name = "a\nb: c\u{1b}]0;x\u{7} # not a comment";
        let body = json!({"name": name, "description": "---\n..."});
        let r = render(&live(Kind::Purpose, name, body.clone()), "purpose/a.yaml").unwrap();
        assert!(!r.text.contains('\u{1b}'), "{}", r.text);
        let parsed: Value = serde_yaml::from_str(&r.text).unwrap();
        assert_eq!(parsed, body);
    }
}
