//! Parse tests: layout rules, spans, errors with positions, parallel parsing.

use super::*;
use std::collections::BTreeMap;

fn snap(files: &[(&str, &str)]) -> Snapshot {
    let map = files
        .iter()
        .map(|(p, c)| (p.to_string(), FileEntry::Blob(c.as_bytes().to_vec())))
        .collect();
    Snapshot::new("test", "rev", map)
}

fn no_exclusion(_: &str) -> bool {
    false
}

#[test]
fn a_file_where_a_kind_directory_belongs_is_an_error() {
    let (docs, diags) = parse_snapshot(
        &snap(&[("policy", "x"), ("purpose/a.yaml", "name: A\n")]),
        &no_exclusion,
    );
    assert_eq!(docs.len(), 1);
    assert_eq!(diags.len(), 1);
    assert_eq!(diags[0].span.path, "policy");
    assert!(
        diags[0].message.contains("expected a directory"),
        "{}",
        diags[0].message
    );
    assert_eq!(classify("README", &no_exclusion), FileRole::Ignored);
}

#[test]
fn spans_point_at_keys_and_items() {
    let text = "a: 1\nb:\n  - x: 1\n    y: [1, 2]\n  - z\nactions:\n- rules:\n  - type: Masking\n    config:\n      fields: []\n";
    let docs = parse_file(Kind::Policy, "policy/p.yaml", text).unwrap();
    let s = &docs[0].spans;
    let at = |p: &str| {
        let sp = s.span(p);
        (sp.line, sp.col)
    };
    assert_eq!(at(""), (1, 1));
    assert_eq!(at("/a"), (1, 1));
    assert_eq!(at("/b/0"), (3, 5));
    assert_eq!(at("/b/0/y"), (4, 5));
    assert_eq!(at("/b/0/y/1"), (4, 12));
    assert_eq!(at("/b/1"), (5, 5));
    assert_eq!(at("/actions/0/rules/0/type"), (8, 5));
    assert_eq!(at("/actions/0/rules/0/config/fields"), (10, 7));
    // Unknown pointers fall back to the nearest ancestor.
    assert_eq!(at("/actions/0/rules/0/config/nope"), (9, 5));
}

#[test]
fn multi_document_spans_are_per_document() {
    let text = "name: a\n---\n# empty\n---\nname: b\ndescription: x\n";
    let docs = parse_file(Kind::Purpose, "purpose/p.yaml", text).unwrap();
    assert_eq!(docs.len(), 2);
    assert_eq!(docs[1].index, 2);
    assert_eq!(docs[1].span.line, 5);
    assert_eq!(docs[1].spans.span("/description").line, 6);
}

#[test]
fn json_files_parse_with_spans() {
    let text = "{\n  \"name\": \"a\",\n  \"subpurposes\": [\n    {\"name\": \"a.b\"}\n  ]\n}\n";
    let docs = parse_file(Kind::Purpose, "purpose/p.json", text).unwrap();
    assert_eq!(docs[0].body["subpurposes"][0]["name"], "a.b");
    assert_eq!(docs[0].spans.span("/subpurposes/0/name").line, 4);
}

#[test]
fn parse_errors_carry_positions() {
    let cases: &[(&str, &str, usize, usize, &str)] = &[
        (
            "policy/p.yaml",
            "policyKey: broken\nname: [unclosed\ntype: data\n",
            3,
            5,
            "invalid YAML",
        ),
        ("policy/p.yaml", "a: b\n  c: d\n", 2, 4, "invalid YAML"),
        (
            "policy/p.json",
            "{\"a\": 1,\n \"b\" 2}",
            2,
            6,
            "invalid JSON",
        ),
        (
            "policy/p.yaml",
            "a:\n  1: x\n",
            2,
            3,
            "mapping keys must be strings",
        ),
        (
            "policy/p.yaml",
            "a:\n  b: !Ref x\n",
            2,
            3,
            "YAML tags are not supported",
        ),
    ];
    for (path, text, line, col, msg) in cases {
        let errs = parse_file(Kind::Policy, path, text).unwrap_err();
        let d = &errs[0];
        assert_eq!(
            (d.span.line, d.span.col),
            (*line, *col),
            "{path}: {text:?} -> {d}"
        );
        assert!(d.message.contains(msg), "{d}");
        assert!(!d.message.contains(" at line "), "{d}");
    }
}

#[test]
fn layout_rules() {
    let s = snap(&[
        ("policies/extra.yaml", "name: x\n"),
        ("stray.yml", "name: x\n"),
        (".immuta-gitops.yaml", "x: 1\n"),
        (".github/workflows/ci.yml", "on: push\n"),
        ("README.md", "# hi\n"),
        ("data/certs/ca.pem", "pem"),
        ("purpose/deep/nested/p.yml", "name: deep\n"),
        ("skip/me.yaml", "x: 1\n"),
    ]);
    let (docs, diags) = parse_snapshot(&s, &|p: &str| p.starts_with("skip/"));
    assert_eq!(docs.len(), 1);
    assert_eq!(docs[0].kind, Kind::Purpose);
    let shown: Vec<String> = diags.iter().map(ToString::to_string).collect();
    assert_eq!(shown.len(), 2, "{shown:?}");
    assert!(
        shown[0].starts_with("policies/extra.yaml:1:1: - -: file in unknown directory policies/"),
        "{shown:?}"
    );
    assert!(shown[1].starts_with("stray.yml:1:1:"), "{shown:?}");
}

#[test]
fn escaping_links_and_non_utf8_are_errors() {
    let mut map = BTreeMap::new();
    map.insert(
        "data/a.yaml".to_string(),
        FileEntry::EscapingLink("/etc/x".into()),
    );
    map.insert(
        "data/b.yaml".to_string(),
        FileEntry::Blob(vec![0xff, 0xfe, b'a']),
    );
    let (docs, diags) = parse_snapshot(&Snapshot::new("o", "r", map), &no_exclusion);
    assert!(docs.is_empty());
    assert!(diags[0].message.contains("outside the repository"));
    assert!(diags[1].message.contains("UTF-8"));
}

#[test]
fn pointer_tokens_are_escaped() {
    assert_eq!(escape_token("a/b~c"), "a~1b~0c");
    assert_eq!(escape_token("plain"), "plain");
    let mut p = String::from("/x");
    push_child(&mut p, "a/b");
    push_index(&mut p, 3);
    assert_eq!(p, "/x/a~1b/3");
}

#[test]
fn large_snapshots_parse_in_path_order_with_every_problem() {
    let mut files: Vec<(String, String)> = Vec::new();
    for i in 0..300 {
        let body = match i % 50 {
            7 => "name: [unclosed\n".to_string(),
            13 => "a:\n  1: x\n".to_string(),
            _ => format!("name: p{i:04}\n---\nname: q{i:04}\n"),
        };
        files.push((format!("purpose/p{i:04}.yaml"), body));
    }
    files.push(("stray/x.yaml".into(), "a: 1\n".into()));
    let refs: Vec<(&str, &str)> = files
        .iter()
        .map(|(p, c)| (p.as_str(), c.as_str()))
        .collect();
    let (docs, diags) = parse_snapshot(&snap(&refs), &no_exclusion);
    let mut want_docs = Vec::new();
    let mut want_diags = Vec::new();
    for (p, c) in &files {
        if p.starts_with("stray/") {
            continue;
        }
        match parse_file(Kind::Purpose, p, c) {
            Ok(mut d) => want_docs.append(&mut d),
            Err(mut e) => want_diags.append(&mut e),
        }
    }
    assert_eq!(docs, want_docs);
    assert_eq!(docs.len(), 2 * (300 - 12));
    assert_eq!(diags.len(), want_diags.len() + 1);
    assert_eq!(&diags[..want_diags.len()], &want_diags[..]);
    assert!(diags[want_diags.len()]
        .message
        .contains("unknown directory"));
}

#[test]
fn issue_11_manifests_over_the_size_limit_are_refused_unparsed() {
    let mut map = BTreeMap::new();
    map.insert(
        "policy/big.yaml".to_string(),
        FileEntry::Blob(format!("policyKey: big\nx: '{}'\n", "y".repeat(5000)).into_bytes()),
    );
    map.insert(
        "policy/huge.yaml".to_string(),
        FileEntry::TooLarge {
            size: 1 << 30,
            limit: 4096,
        },
    );
    map.insert(
        "policy/ok.yaml".to_string(),
        FileEntry::Blob(b"policyKey: ok\n".to_vec()),
    );
    let limits = Limits {
        manifest_bytes: 4096,
        ..Limits::default()
    };
    let snap = Snapshot::new("o", "r", map).with_limits(limits);
    let (docs, diags) = parse_snapshot(&snap, &no_exclusion);
    assert_eq!(docs.len(), 1);
    let shown: Vec<String> = diags.iter().map(ToString::to_string).collect();
    assert_eq!(
        shown,
        [
            "policy/big.yaml:1:1: policy -: file is 5021 bytes, over the 4 KiB limit (--max-manifest-bytes)",
            "policy/huge.yaml:1:1: policy -: file is 1 GiB, over the 4 KiB limit (--max-manifest-bytes)",
        ]
    );
}

#[test]
fn unreadable_and_empty_manifests_are_errors() {
    let unreadable = |why: &str| FileEntry::Unreadable(why.into());
    let mut map = BTreeMap::new();
    for (path, entry) in [
        (
            "data/dangling.yaml",
            unreadable("symbolic link to \"x\" leads nowhere"),
        ),
        (
            "policy/denied.yml",
            unreadable("Permission denied (os error 13)"),
        ),
        ("project/loop.json", unreadable("looping")),
        // No manifest extension, but inside a kind directory: it may have been a
        // directory of manifests.
        ("purpose/team-dir", unreadable("dangling")),
        ("data/empty.yaml", FileEntry::Blob(Vec::new())),
        ("data/blank.yml", FileEntry::Blob(b"  \n\n".to_vec())),
        (
            "policy/comments.yaml",
            FileEntry::Blob(b"# gone\n".to_vec()),
        ),
        (
            "policy/separators.yaml",
            FileEntry::Blob(b"---\n---\n".to_vec()),
        ),
        ("project/null.yaml", FileEntry::Blob(b"~\n".to_vec())),
        (
            "project/bom.yaml",
            FileEntry::Blob("\u{feff}".as_bytes().to_vec()),
        ),
        ("purpose/empty.json", FileEntry::Blob(b" ".to_vec())),
        // Not manifests: ignored whatever their state.
        ("docs/dangling.yaml.md", unreadable("dangling")),
        ("data/.hidden", unreadable("dangling")),
        ("README", unreadable("dangling")),
    ] {
        map.insert(path.to_string(), entry);
    }
    let (docs, diags) = parse_snapshot(&Snapshot::new("o", "r", map), &no_exclusion);
    assert!(docs.is_empty());
    let got: Vec<(&str, Option<Kind>, bool)> = diags
        .iter()
        .map(|d| {
            (
                d.span.path.as_str(),
                d.kind,
                d.message.contains("cannot be read") || d.message.contains("no manifest"),
            )
        })
        .collect();
    let want = [
        ("data/blank.yml", Some(Kind::Data), true),
        ("data/dangling.yaml", Some(Kind::Data), true),
        ("data/empty.yaml", Some(Kind::Data), true),
        ("policy/comments.yaml", Some(Kind::Policy), true),
        ("policy/denied.yml", Some(Kind::Policy), true),
        ("policy/separators.yaml", Some(Kind::Policy), true),
        ("project/bom.yaml", Some(Kind::Project), true),
        ("project/loop.json", Some(Kind::Project), true),
        ("project/null.yaml", Some(Kind::Project), true),
        ("purpose/empty.json", Some(Kind::Purpose), false),
        ("purpose/team-dir", Some(Kind::Purpose), true),
    ];
    assert_eq!(got, want, "{diags:#?}");
    assert!(diags.iter().all(|d| d.severity == Severity::Error));
    assert!(
        diags[1]
            .to_string()
            .starts_with("data/dangling.yaml:1:1: data -: file cannot be read (symbolic link"),
        "{}",
        diags[1]
    );
    // A file with one real document among empty ones is fine.
    let ok = parse_file(Kind::Purpose, "purpose/x.yaml", "---\n# c\n---\nname: x\n").unwrap();
    assert_eq!(ok.len(), 1);
}
