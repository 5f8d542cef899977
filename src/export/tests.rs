//! Tests of export's selection, naming and writing, over literal live objects.

use super::*;
use crate::live::tenant::ReadFailure;
use serde_json::{json, Value};

fn obj(kind: Kind, name: &str, system: bool, body: Value) -> LiveObject {
    LiveObject {
        key: ObjectKey::new(kind, name),
        id: Some(1),
        system,
        body: Some(body),
    }
}

fn tenant() -> TenantRead {
    TenantRead {
        objects: vec![
            obj(
                Kind::Purpose,
                "Research",
                false,
                json!({"name": "Research",
                "subpurposes": [{"name": "Research.Oncology"}]}),
            ),
            obj(
                Kind::Purpose,
                "Research.Oncology",
                false,
                json!({"name": "Research.Oncology"}),
            ),
            obj(
                Kind::Purpose,
                "Re-identification Prohibited",
                true,
                json!({"name": "Re-identification Prohibited"}),
            ),
            obj(
                Kind::Purpose,
                "Re-identification Prohibited.Custom",
                false,
                json!({"name": "Re-identification Prohibited.Custom"}),
            ),
            obj(
                Kind::Policy,
                "New Column Added",
                true,
                json!({"policyKey": "New Column Added"}),
            ),
            obj(
                Kind::Policy,
                "mask-ssn",
                false,
                json!({"policyKey": "mask-ssn", "name": "Mask SSN",
                "type": "subscription", "actions": {"type": "anyone"}}),
            ),
            obj(
                Kind::Policy,
                "../../escape",
                false,
                json!({"policyKey": "../../escape",
                "name": "Escape", "type": "subscription", "actions": {"type": "anyone"}}),
            ),
            obj(
                Kind::Project,
                "Public",
                true,
                json!({"projectKey": "Public", "name": "Public"}),
            ),
        ],
        failures: vec![ReadFailure {
            kind: Kind::Policy,
            object: "policy 9".into(),
            message: "member \"policyKey\" is missing or not a string".into(),
        }],
    }
}

fn opts(kinds: &[Kind], matches: &[&str]) -> Options {
    Options {
        kinds: kinds.iter().copied().collect(),
        matches: matches.iter().map(|s| s.to_string()).collect(),
        max_file_bytes: 1 << 20,
    }
}

fn paths(e: &Export) -> Vec<&str> {
    e.files.iter().map(|f| f.path.as_str()).collect()
}

#[test]
fn only_user_objects_are_exported_and_sub_purposes_stay_in_their_root() {
    let e = build(&tenant(), &opts(Kind::ALL, &[])).unwrap();
    assert_eq!(
        paths(&e),
        [
            "policy/escape.yaml",
            "policy/mask-ssn.yaml",
            "purpose/Research.yaml"
        ]
    );
    let failed: Vec<&str> = e.failed.iter().map(|f| f.object.as_str()).collect();
    assert_eq!(
        failed,
        ["policy 9", "purpose/Re-identification Prohibited.Custom"]
    );
}

#[test]
fn kind_and_match_filters_select() {
    let e = build(&tenant(), &opts(&[Kind::Purpose], &[])).unwrap();
    assert_eq!(paths(&e), ["purpose/Research.yaml"]);
    // A failure of a kind not asked for is not reported.
    assert_eq!(e.failed.len(), 1, "{:?}", e.failed);
    let e = build(&tenant(), &opts(Kind::ALL, &["policy/mask-*"])).unwrap();
    assert_eq!(paths(&e), ["policy/mask-ssn.yaml"]);
    let err = build(&tenant(), &opts(Kind::ALL, &["policy/[x"])).unwrap_err();
    assert!(
        err.to_string().starts_with("invalid --match pattern"),
        "{err}"
    );
}

#[test]
fn files_are_not_overwritten_without_force_and_never_leave_the_directory() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("export");
    let e = build(&tenant(), &opts(Kind::ALL, &[])).unwrap();
    let written = write(&out, &e.files, false).unwrap();
    assert_eq!(written.len(), 3);
    for w in &written {
        assert!(w.starts_with(&out), "{}", w.display());
    }
    std::fs::write(out.join("policy/mask-ssn.yaml"), "hand edited").unwrap();
    let err = write(&out, &e.files, false).unwrap_err();
    assert!(matches!(&err, Error::Exists(v) if v.len() == 3), "{err}");
    assert_eq!(
        std::fs::read_to_string(out.join("policy/mask-ssn.yaml")).unwrap(),
        "hand edited"
    );
    write(&out, &e.files, true).unwrap();
    assert!(std::fs::read_to_string(out.join("policy/mask-ssn.yaml"))
        .unwrap()
        .contains("policyKey: mask-ssn"));
    // A hostile path is refused before anything is written.
    let mut bad = e.files.clone();
    bad[0].path = "../outside.yaml".into();
    assert!(matches!(write(&out, &bad, true), Err(Error::BadOutput(_))));
    assert!(!tmp.path().join("outside.yaml").exists());
}

#[cfg(unix)]
#[test]
fn a_kind_directory_that_is_a_symlink_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("export");
    let elsewhere = tmp.path().join("elsewhere");
    std::fs::create_dir_all(&out).unwrap();
    std::fs::create_dir_all(&elsewhere).unwrap();
    std::os::unix::fs::symlink(&elsewhere, out.join("policy")).unwrap();
    let e = build(&tenant(), &opts(&[Kind::Policy], &[])).unwrap();
    let err = write(&out, &e.files, true).unwrap_err();
    assert!(matches!(err, Error::BadOutput(_)), "{err}");
    assert_eq!(std::fs::read_dir(&elsewhere).unwrap().count(), 0);
}
