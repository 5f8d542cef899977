//! Tests of validation: small in-memory snapshots loaded through `manifest::load`, and the
//! seed fixtures in `tests/fixtures/seeds/` loaded as one snapshot.

use std::collections::BTreeMap;

use super::*;
use crate::manifest::{load, DesiredSet};
use crate::source::{FileEntry, Snapshot};

const PURPOSE: &str = "name: Fraud Detection\ndescription: Detect fraud\n";
const POLICY: &str = "policyKey: mask-ssn\nname: Mask SSN\ntype: data\nactions:\n  - rules:\n      - type: Masking\n        config:\n          fields:\n            - type: columnTags\n              columnTag: Discovered.SSN\n          maskingConfig:\n            type: Hash\n";
const SNOWFLAKE: &str = "connectionKey: warehouse\nconnection:\n  handler: Snowflake\n  hostname: acme.snowflakecomputing.com\n  port: 443\n  database: ANALYTICS\n  warehouse: COMPUTE_WH\n  authenticationMethod: userPassword\n  username: svc_immuta\n  password: PASSWORD_VALUE\nsources:\n  - table: orders\n    schema: public\n";

fn snapshot(files: &[(&str, &str)]) -> Snapshot {
    let mut map = BTreeMap::new();
    for (p, c) in files {
        map.insert(p.to_string(), FileEntry::Blob(c.as_bytes().to_vec()));
    }
    Snapshot::new("test", "rev1", map)
}

fn env(vars: &[(&str, &str)]) -> BTreeMap<String, String> {
    vars.iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn load_files(
    files: &[(&str, &str)],
    vars: &[(&str, &str)],
) -> Result<DesiredSet, Vec<Diagnostic>> {
    load(&snapshot(files), &env(vars))
}

fn lines(d: &[Diagnostic]) -> Vec<String> {
    d.iter().map(ToString::to_string).collect()
}

fn snowflake(password: &str) -> String {
    SNOWFLAKE.replace("PASSWORD_VALUE", password)
}

/// Each case: files, then substrings that must all appear in one error line.
#[test]
fn refused_inputs_name_file_line_and_problem() {
    let wrong_nested = POLICY.replace("type: Hash", "type: [Hash]");
    let ds_missing_env = snowflake("'{{EnvVar \"UNSET_VAR_X\"}}'");
    let ds_outside = snowflake("'{{ReadFile \"../../etc/passwd\"}}'");
    let ds_link = snowflake("'{{ReadFile \"key.pem\"}}'");
    type Case<'a> = (Vec<(&'a str, &'a str)>, Vec<&'a str>);
    let cases: Vec<Case<'_>> = vec![
        (vec![("policy/broken.yaml", "policyKey: broken\nname: [unclosed\ntype: data\n")], vec!["policy/broken.yaml:3:5: policy broken: invalid YAML"]),
        (vec![("policies/extra.yaml", PURPOSE)], vec!["policies/extra.yaml:1:1: - -: file in unknown directory policies/"]),
        (
            vec![("project/p.yaml", "projectKey: p1\nname: P1\nallowMaskedJoins: \"yes\"\n")],
            vec!["project/p.yaml:3:1: project p1: allowMaskedJoins: expected boolean, found string"],
        ),
        (
            vec![("policy/sub.yaml", "policyKey: sub\nname: Sub\ntype: subscriptions\nactions:\n  type: anyone\n")],
            vec!["policy/sub.yaml:3:1: policy sub: unknown value \"subscriptions\" for type; expected one of: subscription, data"],
        ),
        (
            vec![("policy/sub.yaml", "policyKey: sub\nname: Sub\ntype: subscription\nactions:\n  type: everyone\n")],
            vec!["policy/sub.yaml:5:3:", "actions.type; expected one of: anyone, approval, entitlements, manual"],
        ),
        (
            vec![("purpose/a.yaml", PURPOSE), ("purpose/b/again.yml", "# comment\n\nname: Fraud Detection\n")],
            vec!["purpose/b/again.yml:3:1: purpose Fraud Detection: duplicate purpose key", "also declared at purpose/a.yaml:1"],
        ),
        (
            vec![("policy/p.yaml", &wrong_nested)],
            vec!["policy/p.yaml:12:13: policy mask-ssn: actions[0].rules[0].config.maskingConfig.type: expected string, found array"],
        ),
        (vec![("data/w.yaml", &ds_missing_env)], vec!["data/w.yaml:10:3: data warehouse: environment variable UNSET_VAR_X is not set"]),
        (vec![("data/w.yaml", &ds_outside)], vec!["data/w.yaml:10:3:", "is outside the repository"]),
        (vec![("data/w.yaml", &ds_link)], vec!["data/w.yaml:10:3:", "\"key.pem\" is outside the repository"]),
        (vec![("data/w.yaml", "connection:\n  handler: Snowflake\n")], vec!["data/w.yaml:1:1: data -: missing required field connectionKey"]),
        (
            vec![("data/w.yaml", "connectionKey: k\nconnection:\n  handler: Redshift\n  hostname: h\n  schema: s\n  username: u\n")],
            vec!["data/w.yaml:2:1: data k: missing required field connection.password (required for handler Redshift)"],
        ),
        (
            vec![("data/w.yaml", "connectionKey: k\nconnection:\n  handler: Databricks\n  hostname: h\n  httpPath: p\n  authenticationMethod: oAuthM2M\n  useCertificate: false\n  clientId: c\n  audience: a\n")],
            vec!["missing required field connection.clientSecret (required for Databricks oAuthM2M with useCertificate false)"],
        ),
        (
            vec![("data/w.yaml", "connectionKey: k\nconnection:\n  handler: Trino\nsources:\n  - table: t\n    query: select 1\n")],
            vec!["data/w.yaml:5:5: data k: sources[0]: expected exactly one of all, table, query, found table and query"],
        ),
        (vec![("purpose/p.yaml", "- name: a\n")], vec!["purpose/p.yaml:1:1: purpose -: a manifest must be a mapping, found array"]),
    ];
    let mut links = BTreeMap::new();
    links.insert(
        "data/key.pem".to_string(),
        FileEntry::EscapingLink("/etc/ssl/key.pem".into()),
    );
    for (files, wants) in cases {
        let mut snap_files: BTreeMap<String, FileEntry> = links.clone();
        for (p, c) in &files {
            snap_files.insert(p.to_string(), FileEntry::Blob(c.as_bytes().to_vec()));
        }
        let errs = load(&Snapshot::new("t", "r", snap_files), &env(&[])).unwrap_err();
        let shown = lines(&errs);
        assert!(
            shown.iter().any(|l| wants.iter().all(|w| l.contains(w))),
            "{files:?}\nwant {wants:?}\ngot {shown:#?}"
        );
    }
}

#[test]
fn every_error_is_reported_in_one_pass() {
    let errs = load_files(
        &[
            ("policies/x.yaml", PURPOSE),
            (
                "project/p.yaml",
                "projectKey: p1\nname: 3\nequalization: maybe\n",
            ),
            ("policy/b.yaml", "policyKey: [\n"),
        ],
        &[],
    )
    .unwrap_err();
    assert_eq!(
        errs.iter()
            .filter(|d| d.severity == Severity::Error)
            .count(),
        4,
        "{:#?}",
        lines(&errs)
    );
}

#[test]
fn warnings_keep_the_set_valid_and_the_body_unchanged() {
    let policy = POLICY
        .replace("type: Hash", "type: Shuffle\n            seed: 7")
        .replace("name: Mask SSN", "name: Mask SSN\nlabels: [x]");
    let project = "projectKey: p\nname: P\nallowedMaskedJoins: true\n";
    let set = load_files(
        &[("policy/p.yaml", &policy), ("project/p.yaml", project)],
        &[],
    )
    .unwrap();
    let shown = lines(&set.warnings);
    assert!(shown.iter().any(|l| l.starts_with("policy/p.yaml:13:13: policy mask-ssn: warning: undocumented value \"Shuffle\" for actions[0].rules[0].config.maskingConfig.type")), "{shown:#?}");
    assert!(shown.iter().any(|l| l.starts_with("policy/p.yaml:3:1: policy mask-ssn: warning: field labels is not modelled; it is sent unchanged")), "{shown:#?}");
    assert!(
        shown
            .iter()
            .any(|l| l.contains("allowedMaskedJoins is the attribute table's spelling")),
        "{shown:#?}"
    );
    // The unknown masking type's own fields are not second-guessed.
    assert!(!shown.iter().any(|l| l.contains("seed")), "{shown:#?}");
    let body = &set.objects[&ObjectKey::new(Kind::Policy, "mask-ssn")].body;
    assert_eq!(body["labels"], serde_json::json!(["x"]));
    assert_eq!(
        body["actions"][0]["rules"][0]["config"]["maskingConfig"]["seed"],
        7
    );
}

#[test]
fn placeholders_and_credentials_are_sensitive() {
    let ds = snowflake("\"${SF_PASS}\"").replace("username: svc_immuta", "username: '{{EnvVar \"SF_USER\"}}'\n  privateKeyPassword: plain-phrase-1\n  userFiles:\n    - keyName: PRIV_KEY_FILE\n      content: QUJDREVGR0g=\n      userFilename: k.p8");
    let set = load_files(
        &[("data/w.yaml", &ds)],
        &[("SF_PASS", "pw-from-env-1"), ("SF_USER", "user-from-env")],
    )
    .unwrap();
    let m = &set.objects[&ObjectKey::new(Kind::Data, "warehouse")];
    assert_eq!(m.body["connection"]["password"], "pw-from-env-1");
    let want: BTreeSet<String> = [
        "/connection/password",
        "/connection/privateKeyPassword",
        "/connection/userFiles/0/content",
        "/connection/username",
    ]
    .into_iter()
    .map(String::from)
    .collect();
    assert_eq!(m.sensitive, want);
    for secret in [
        "pw-from-env-1",
        "user-from-env",
        "plain-phrase-1",
        "QUJDREVGR0g=",
    ] {
        assert_eq!(set.redactor.redact(secret), MASK, "{secret}");
    }
    // Unmodelled (but sensitive) field: the warning names the field only.
    assert!(lines(&set.warnings)
        .iter()
        .any(|l| l.contains("connection.privateKeyPassword is not modelled")));
}

#[test]
fn secrets_never_reach_diagnostics() {
    let ds = snowflake("\"${SF_PASS}\"")
        .replace(
            "authenticationMethod: userPassword",
            "authenticationMethod: \"${SF_PASS}\"",
        )
        .replace("port: 443", "port: \"${SF_PASS}\"")
        .replace(
            "handler: Snowflake",
            "handler: Snowflake\n  apiToken: [hunter2-token]",
        );
    let bad = format!("{ds}owners:\n  - type: '{{{{EnvVar \"SF_PASS\"}}}}'\n    name: x\n");
    let errs = load_files(&[("data/w.yaml", &bad)], &[("SF_PASS", "hunter2-secret")]).unwrap_err();
    let shown = lines(&errs).join("\n");
    assert!(
        shown.contains("unknown value (sensitive) for owners[0].type"),
        "{shown}"
    );
    assert!(
        shown.contains("undocumented value (sensitive) for connection.authenticationMethod"),
        "{shown}"
    );
    assert!(
        shown.contains("connection.port: expected integer, found string"),
        "{shown}"
    );
    assert!(!shown.contains("hunter2"), "{shown}");
}

#[test]
fn spans_of_nested_fields() {
    let policy = "policyKey: k\nname: n\ntype: data\nactions:\n  - rules:\n      - type: Minimization\n        config:\n          percent: 5\n      - type: Masking\n        config:\n          fields: []\n          maskingConfig:\n            type: Constant\n";
    let errs = load_files(&[("policy/k.yaml", policy)], &[]).unwrap_err();
    assert_eq!(
        lines(&errs),
        ["policy/k.yaml:12:11: policy k: missing required field actions[0].rules[1].config.maskingConfig.constant"]
    );
}

/// Env vars the seed fixtures' placeholders name.
const SEED_ENV: &[(&str, &str)] = &[
    ("myPassword", "seed-my-password"),
    ("DATABRICKS_PASSWORD", "seed-databricks-pat"),
    ("SNOWFLAKE_PASSWORD", "seed-snowflake-password"),
    ("service_principal_clientId", "seed-client-id"),
    ("clientSecret", "seed-client-secret"),
];

fn seed_snapshot() -> Snapshot {
    fn read(dir: &std::path::Path, rel: &str, out: &mut BTreeMap<String, FileEntry>) {
        for e in std::fs::read_dir(dir).unwrap() {
            let e = e.unwrap();
            let name = e.file_name().into_string().unwrap();
            let rel = if rel.is_empty() {
                name
            } else {
                format!("{rel}/{name}")
            };
            if e.file_type().unwrap().is_dir() {
                read(&e.path(), &rel, out);
            } else {
                out.insert(rel, FileEntry::Blob(std::fs::read(e.path()).unwrap()));
            }
        }
    }
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/seeds");
    let mut files = BTreeMap::new();
    read(&root, "", &mut files);
    Snapshot::new("seeds", "fixtures", files)
}

#[test]
fn every_seed_fixture_loads_without_errors() {
    let set = load(&seed_snapshot(), &env(SEED_ENV)).unwrap_or_else(|e| panic!("{:#?}", lines(&e)));
    let count = |k: Kind| set.objects.keys().filter(|o| o.kind == k).count();
    assert_eq!(
        [
            count(Kind::Purpose),
            count(Kind::Data),
            count(Kind::Policy),
            count(Kind::Project)
        ],
        [4, 9, 30, 7]
    );
    // Only the documented inconsistencies warn: Databricks/Snowflake examples without
    // authenticationMethod, the CLI demo without warehouse.
    for w in &set.warnings {
        assert!(
            w.message.contains("is documented as required for handler"),
            "{w}"
        );
    }
    let m = &set.objects[&ObjectKey::new(Kind::Data, "my-databricks")];
    assert_eq!(m.body["connection"]["password"], "seed-databricks-pat");
    assert!(m.sensitive.contains("/connection/password"));
    let redshift = &set.objects[&ObjectKey::new(Kind::Data, "redshift")];
    assert!(redshift.sensitive.contains("/connection/password"));
    assert_eq!(set.redactor.redact("your_password"), MASK);
    assert_eq!(
        (set.origin.as_str(), set.revision.as_str()),
        ("seeds", "fixtures")
    );
}

#[test]
fn seed_bodies_round_trip_through_yaml() {
    let set = load(&seed_snapshot(), &env(SEED_ENV)).unwrap();
    for (key, m) in &set.objects {
        let text = serde_yaml::to_string(&m.body).unwrap();
        let again = crate::manifest::parse::parse_file(key.kind, "x/y.yaml", &text).unwrap();
        assert_eq!(again.len(), 1, "{key}");
        assert_eq!(again[0].body, m.body, "{key}:\n{text}");
        let json = serde_json::to_string(&m.body).unwrap();
        let again = crate::manifest::parse::parse_file(key.kind, "x/y.json", &json).unwrap();
        assert_eq!(again[0].body, m.body, "{key}");
    }
}

/// Issue 10: `domains` circumstances (tenant exports) validate without a warning, and a
/// malformed one is refused with its file and line.
#[test]
fn domain_circumstances_and_domain_collection_ids_validate() {
    let with = |circ: &str| format!("{POLICY}circumstances:\n  - type: domains\n{circ}");
    let good = with("    domains: [\"4b1c2e\", \"9f00aa\"]\n");
    let data = SNOWFLAKE.replace("PASSWORD_VALUE", "pw").replace(
        "sources:",
        "options:\n  domainCollectionId: \"4b1c2e\"\nsources:",
    );
    let set = load_files(&[("policy/d.yaml", &good), ("data/w.yaml", &data)], &[]).unwrap();
    assert!(set.warnings.is_empty(), "{:#?}", lines(&set.warnings));
    let bad = with("    domain: \"4b1c2e\"\n");
    let errs = lines(&load_files(&[("policy/d.yaml", &bad)], &[]).unwrap_err());
    assert!(
        errs.iter()
            .any(|l| l.starts_with("policy/d.yaml:") && l.contains("domains")),
        "{errs:#?}"
    );
    let bad_id = data.replace("domainCollectionId: \"4b1c2e\"", "domainCollectionId: [x]");
    let errs = lines(&load_files(&[("data/w.yaml", &bad_id)], &[]).unwrap_err());
    assert!(
        errs.iter().any(|l| l.contains("domainCollectionId")),
        "{errs:#?}"
    );
}

/// Issue 10: a write access policy (000:3940-3975) validates without a warning; a grant
/// that is neither READ nor WRITE is refused at its line.
#[test]
fn access_grant_and_share_responsibility_are_modelled() {
    let policy = "policyKey: w\nname: W\ntype: subscription\nactions:\n  type: entitlements\n  accessGrant: WRITE\n  shareResponsibility: true\n  entitlements:\n    groups: [writers]\n";
    let set = load_files(&[("policy/w.yaml", policy)], &[]).unwrap();
    assert!(set.warnings.is_empty(), "{:#?}", lines(&set.warnings));
    let bad = policy.replace("WRITE", "ADMIN");
    let errs = lines(&load_files(&[("policy/w.yaml", &bad)], &[]).unwrap_err());
    assert!(
        errs.iter()
            .any(|l| l.starts_with("policy/w.yaml:6:") && l.contains("accessGrant")),
        "{errs:#?}"
    );
}

/// issue 11: a key or name built from a placeholder was printed in clear in the plan
/// header and apply results. It is refused, with file:line, for every kind and every
/// placeholder form, and the value never reaches the message or the key column.
#[test]
fn issue_11_templated_keys_and_names_are_refused() {
    let vars = [("K", "secret-key-value-77")];
    let cases: Vec<(String, String, &str, usize)> = vec![
        (
            "policy/p.yaml".into(),
            POLICY.replace("policyKey: mask-ssn", "policyKey: \"${K}\""),
            "policyKey must be written literally",
            1,
        ),
        (
            "purpose/p.yaml".into(),
            "name: 'x-{{EnvVar \"K\"}}'\ndescription: d\n".into(),
            "name must be written literally",
            1,
        ),
        (
            "purpose/s.yaml".into(),
            "name: Top\nsubpurposes:\n  - name: ok\n  - name: \"${K}\"\n".into(),
            "subpurposes[1].name must be written literally",
            4,
        ),
        (
            "project/p.yaml".into(),
            "projectKey: \"p-${K}\"\nname: Project\n".into(),
            "projectKey must be written literally",
            1,
        ),
        (
            "data/d.yaml".into(),
            SNOWFLAKE.replace("connectionKey: warehouse", "connectionKey: \"${K}\""),
            "connectionKey must be written literally",
            1,
        ),
        (
            "data/t.yaml".into(),
            SNOWFLAKE.replace("table: orders", "table: \"${K}\""),
            "sources[0].table must be written literally",
            12,
        ),
        (
            "data/n.yaml".into(),
            SNOWFLAKE.replace(
                "  - table: orders\n    schema: public\n",
                "  - query: select 1\n    naming:\n      datasource: \"${K}\"\n",
            ),
            "sources[0].naming.datasource must be written literally",
            14,
        ),
        (
            "data/f.yaml".into(),
            format!("{SNOWFLAKE}nameTemplate:\n  dataSourceFormat: \"{{{{EnvVar \\\"K\\\"}}}}\"\n"),
            "nameTemplate.dataSourceFormat must be written literally",
            15,
        ),
    ];
    for (path, text, want, line) in cases {
        let errs = load_files(&[(path.as_str(), text.as_str())], &vars).unwrap_err();
        let shown = lines(&errs).join("\n");
        let hit = errs
            .iter()
            .find(|d| d.message.contains(want))
            .unwrap_or_else(|| panic!("{want:?} for {path}:\n{shown}"));
        assert_eq!(hit.span.path, path, "{shown}");
        assert_eq!(hit.span.line, line, "{path}: {shown}");
        assert!(!shown.contains("secret-key"), "{shown}");
    }
    // A literal key with templated descriptions, credentials and references is fine.
    let ok = POLICY.replace("name: Mask SSN", "name: \"${K}\"");
    assert!(load_files(&[("policy/p.yaml", &ok)], &vars).is_ok());
}

#[test]
fn nearest_suggests_only_a_unique_close_match() {
    let known = [
        "name",
        "description",
        "acknowledgement",
        "kAnonNoiseReduction",
    ];
    assert_eq!(nearest("descripton", &known), Some("description"));
    assert_eq!(nearest("Description", &known), Some("description"));
    assert_eq!(nearest("acknowledgment", &known), Some("acknowledgement"));
    assert_eq!(
        nmae_or_none(&known),
        Some("name"),
        "a transposition is one edit"
    );
    assert_eq!(nearest("owner", &known), None, "nothing close");
    assert_eq!(
        nearest("nam", &["name", "nap"]),
        None,
        "two equally close: no guess"
    );
    assert_eq!(
        nearest("xy", &["ab"]),
        None,
        "short names are not corrected wholesale"
    );
}

fn nmae_or_none<'k>(known: &[&'k str]) -> Option<&'k str> {
    nearest("nmae", known)
}

#[test]
fn an_unknown_field_names_its_nearest_known_field() {
    let set = load_files(
        &[("purpose/a.yaml", "name: A\ndescripton: x\nzzz: 1\n")],
        &[],
    )
    .unwrap();
    let shown = lines(&set.warnings);
    assert_eq!(
        shown,
        [
            "purpose/a.yaml:2:1: purpose A: warning: field descripton is not modelled; it is sent unchanged (did you mean description?)",
            "purpose/a.yaml:3:1: purpose A: warning: field zzz is not modelled; it is sent unchanged",
        ]
    );
    assert!(set.warnings.iter().all(Diagnostic::is_unknown_field));
    // Nested objects suggest among their own fields.
    let set = load_files(
        &[(
            "data/w.yaml",
            &SNOWFLAKE.replace("  hostname:", "  hostnme:"),
        )],
        &[],
    );
    let shown = lines(&set.map_or_else(|e| e, |s| s.warnings)).join("\n");
    assert!(
        shown.contains("field connection.hostnme is not modelled; it is sent unchanged (did you mean hostname?)"),
        "{shown}"
    );
}
