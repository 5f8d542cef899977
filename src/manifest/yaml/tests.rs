//! YAML walk tests: the limits and errors of issue 11, and the values of the one pass
//! pinned against what `serde_yaml` made of the same text (issue 12).

use std::path::Path;

use serde_json::{json, Map, Value};

use super::super::parse::{parse_file, parse_file_with};
use super::super::Diagnostic;
use super::{load, Loaded};
use crate::limits::Limits;
use crate::object::Kind;

fn first_error(text: &str, limits: &Limits) -> Diagnostic {
    let errs = parse_file_with(Kind::Policy, "policy/p.yaml", text, limits).unwrap_err();
    errs.into_iter().next().unwrap()
}

#[test]
fn issue_11_yaml_level_errors_name_their_node_and_the_object() {
    let limits = Limits::default();
    let cases: &[(&str, &str, &str)] = &[
        (
            "policyKey: p1\nname: a\nname: b\n",
            "policy/p.yaml:3:1: policy p1: duplicate mapping key \"name\" (first written at line 2)",
            "",
        ),
        (
            "policyKey: p2\nactions:\n  - rules:\n      - type: x\n        type: y\n",
            "policy/p.yaml:5:9: policy p2: duplicate mapping key \"type\"",
            "",
        ),
        (
            "policyKey: p3\nstaged: false\nx:\n  a: 1\n  true: 2\n",
            "policy/p.yaml:5:3: policy p3: mapping keys must be strings; found boolean true",
            "",
        ),
        (
            "policyKey: p4\nx:\n  ? [a, b]\n  : 1\n",
            "policy/p.yaml:3:5: policy p4: mapping keys must be strings; found a sequence",
            "",
        ),
        (
            "policyKey: first\n---\npolicyKey: second\nx:\n  1: y\n",
            "policy/p.yaml:5:3: policy second: mapping keys must be strings",
            "",
        ),
        (
            "policyKey: p5\nname: [unclosed\n",
            "policy/p.yaml:3:1: policy p5: invalid YAML",
            "",
        ),
        (
            "name: no key here\na: 1\na: 2\n",
            "policy/p.yaml:3:1: policy -: duplicate mapping key",
            "",
        ),
    ];
    for (text, want, _) in cases {
        let shown = first_error(text, &limits).to_string();
        assert!(
            shown.starts_with(want),
            "{text:?}\n got {shown}\nwant {want}"
        );
    }
}

#[test]
fn issue_11_yaml_limits_stop_the_walk_with_a_position() {
    let small = Limits {
        yaml_nodes: 1000,
        yaml_depth: 8,
        ..Limits::default()
    };
    // The classic alias bomb: nine levels of ten aliases each.
    let mut bomb = String::from("policyKey: bomb\na: &a [x, x, x, x, x, x, x, x, x, x]\n");
    for (prev, name) in ["a", "b", "c", "d", "e", "f", "g", "h"]
        .iter()
        .zip(["b", "c", "d", "e", "f", "g", "h", "i"])
    {
        let refs = vec![format!("*{prev}"); 10].join(", ");
        bomb.push_str(&format!("{name}: &{name} [{refs}]\n"));
    }
    let d = first_error(&bomb, &Limits::default());
    assert_eq!((d.span.line, d.key.as_deref()), (7, Some("bomb")), "{d}");
    assert!(d.message.contains("more than 1000000 YAML nodes"), "{d}");
    let d = first_error(&bomb, &small);
    assert_eq!(d.span.line, 4, "{d}");
    assert!(d.message.contains("--max-yaml-nodes"), "{d}");
    // A smaller bomb, under the node limit: the YAML parser's own repetition limit
    // stops it, reported at the alias that repeats the most.
    let small_bomb: String = bomb.lines().take(6).map(|l| format!("{l}\n")).collect();
    let d = first_error(&small_bomb, &Limits::default());
    assert!(d.message.contains("repetition limit exceeded"), "{d}");
    assert_eq!(
        (d.span.line, d.span.col, d.key.as_deref()),
        (6, 8, Some("bomb")),
        "{d}"
    );
    // Many plain nodes, no alias.
    let many = format!("policyKey: many\nitems:\n{}", "  - x\n".repeat(2000));
    let d = first_error(&many, &small);
    assert!(d.message.contains("more than 1000 YAML nodes"), "{d}");
    assert_eq!((d.span.line, d.span.col), (998, 5), "{d}");
    // Deep nesting, written out or reached through an alias.
    let deep = format!("policyKey: deep\nx: {}{}\n", "[".repeat(20), "]".repeat(20));
    let d = first_error(&deep, &small);
    assert!(d.message.contains("deeper than 8 levels"), "{d}");
    assert_eq!(
        (d.span.line, d.span.col, d.key.as_deref()),
        (2, 11, Some("deep")),
        "{d}"
    );
    let via_alias = "policyKey: via\nbase: &b [[[[[[1]]]]]]\nuse: [[[*b]]]\n";
    let d = first_error(via_alias, &small);
    assert!(d.message.contains("deeper than 8 levels"), "{d}");
    assert_eq!(d.span.line, 3, "{d}");
    // Under the limits, the same shapes parse.
    assert!(parse_file_with(Kind::Policy, "policy/p.yaml", via_alias, &Limits::default()).is_ok());
    let fine = format!("policyKey: many\nitems:\n{}", "  - x\n".repeat(900));
    assert!(parse_file_with(Kind::Policy, "policy/p.yaml", &fine, &small).is_ok());
}

/// What the parser before issue 12 made of `text`: `serde_yaml` values, merge keys
/// applied, converted to JSON (tags and non-string keys dropped, as errors were raised
/// for them).
fn serde_yaml_values(text: &str) -> Result<Vec<Value>, String> {
    fn convert(v: serde_yaml::Value) -> Value {
        use serde_yaml::Value as Y;
        match v {
            Y::Null | Y::Tagged(_) => Value::Null,
            Y::Bool(b) => Value::Bool(b),
            Y::Number(n) => n
                .as_i64()
                .map(Value::from)
                .or_else(|| n.as_u64().map(Value::from))
                .or_else(|| {
                    n.as_f64()
                        .and_then(serde_json::Number::from_f64)
                        .map(Value::Number)
                })
                .unwrap_or(Value::Null),
            Y::String(s) => Value::String(s),
            Y::Sequence(items) => Value::Array(items.into_iter().map(convert).collect()),
            Y::Mapping(m) => {
                let mut merged = Y::Mapping(m);
                let _ = merged.apply_merge();
                let Y::Mapping(m) = merged else {
                    unreachable!()
                };
                let out: Map<String, Value> = m
                    .into_iter()
                    .filter_map(|(k, v)| match k {
                        Y::String(k) => Some((k, convert(v))),
                        _ => None,
                    })
                    .collect();
                Value::Object(out)
            }
        }
    }
    serde_yaml::Deserializer::from_str(text)
        .map(|de| {
            <serde_yaml::Value as serde::Deserialize>::deserialize(de)
                .map(convert)
                .map_err(|e| e.to_string())
        })
        .collect()
}

fn walk(text: &str) -> Vec<Loaded> {
    load("t.yaml", text, "name", &Limits::default(), true)
        .unwrap_or_else(|f| panic!("{text:?}: {:?} at {:?}", f.error, f.pos))
}

fn values(text: &str) -> Vec<Value> {
    walk(text).into_iter().map(|d| d.value).collect()
}

/// Every JSON pointer inside `v`, `""` included.
fn pointers(v: &Value, at: &mut String, out: &mut Vec<String>) {
    out.push(at.clone());
    let len = at.len();
    match v {
        Value::Object(m) => {
            for (k, child) in m {
                super::push_child(at, k);
                pointers(child, at, out);
                at.truncate(len);
            }
        }
        Value::Array(items) => {
            for (i, child) in items.iter().enumerate() {
                super::push_index(at, i);
                pointers(child, at, out);
                at.truncate(len);
            }
        }
        _ => {}
    }
}

fn assert_spans_on_every_node(name: &str, doc: &Loaded) {
    let mut all = Vec::new();
    pointers(&doc.value, &mut String::new(), &mut all);
    for p in all {
        assert!(
            doc.spans.positions.contains_key(&p),
            "{name}: no position for {p:?}"
        );
    }
}

fn fixture_files(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let p = entry.unwrap().path();
        if p.is_dir() {
            fixture_files(&p, out);
        } else if p.extension().is_some_and(|e| e == "yaml" || e == "yml") {
            out.push(p);
        }
    }
}

#[test]
fn issue_12_seed_fixtures_read_as_serde_yaml_read_them_with_spans_on_every_node() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/seeds");
    let mut files = Vec::new();
    fixture_files(&root, &mut files);
    files.sort();
    assert!(files.len() >= 40, "{} fixtures", files.len());
    let mut nodes = 0;
    for f in &files {
        let text = std::fs::read_to_string(f).unwrap();
        let name = f.display().to_string();
        let docs = walk(&text);
        let got: Vec<Value> = docs.iter().map(|d| d.value.clone()).collect();
        assert_eq!(got, serde_yaml_values(&text).unwrap(), "{name}");
        for d in &docs {
            assert!(d.problems.is_empty(), "{name}: {:?}", d.problems);
            assert_spans_on_every_node(&name, d);
            nodes += d.spans.positions.len();
        }
    }
    assert!(nodes > 900, "{nodes} nodes");
}

#[test]
fn issue_12_scalars_resolve_as_serde_yaml_resolved_them() {
    let scalars = [
        "true",
        "True",
        "TRUE",
        "false",
        "False",
        "FALSE",
        "yes",
        "no",
        "on",
        "off",
        "~",
        "null",
        "Null",
        "NULL",
        "",
        "nul",
        "0",
        "-0",
        "+1",
        "12",
        "-12",
        "0123",
        "-0123",
        "00",
        "0x1F",
        "0xff",
        "-0x10",
        "0o17",
        "-0o17",
        "0b101",
        "0x",
        "0xg",
        "1e3",
        "1E3",
        "-1e-3",
        "1.5",
        "-1.5",
        ".5",
        "5.",
        "1_000",
        "+.inf",
        ".inf",
        "-.Inf",
        ".NaN",
        "inf",
        "nan",
        "18446744073709551615",
        "-9223372036854775808",
        "1.7976931348623157e308",
        "1e400",
        "2026-01-01",
        "12:30",
        "a: b",
        "'quoted'",
        "\"5\"",
        "'true'",
        "\"~\"",
        "!!str 5",
        "!!str true",
        "!!int 7",
        "!!float 1",
        "!!bool true",
        "!!null ~",
        "|\n  block\n",
        ">\n  folded\n  text\n",
        "\"esc\\t\\u00e9\"",
        "plain text with spaces",
        "é",
        "99999999999999999999",
        "-99999999999999999999",
        "multi\n  line plain",
        "[a, {b: c}, [d]]",
        "{a: , b: ~}",
        "'it''s'",
        "!!str",
        "\"\"",
    ];
    for s in scalars {
        let text = format!("v: {s}\n");
        let want = serde_yaml_values(&text);
        let got = load("t.yaml", &text, "name", &Limits::default(), true);
        match (want, got) {
            (Ok(want), Ok(got)) => {
                let got: Vec<Value> = got.into_iter().map(|d| d.value).collect();
                // `.inf`/`.nan` have no JSON value: both sides make them null, the walk
                // with an error (tested below).
                assert_eq!(got, want, "{s:?}");
            }
            (Err(_), Err(_)) => {}
            (want, got) => panic!("{s:?}: serde_yaml {want:?}, walk {got:?}"),
        }
    }
    assert_eq!(values("v: 0x1F\n")[0]["v"], json!(31));
    assert_eq!(values("v: 1e3\n")[0]["v"], json!(1000.0));
    assert_eq!(values("v: 0123\n")[0]["v"], json!("0123"));
    assert_eq!(values("v: '1'\n")[0]["v"], json!("1"));
}

#[test]
fn issue_12_collections_anchors_merges_and_documents_read_as_serde_yaml_read_them() {
    let texts = [
        "a: &x {p: 1, q: [1, 2]}\nb: *x\nc: [*x, *x]\n",
        "base: &b {x: 1, y: 2}\nuse:\n  <<: *b\n  y: 3\n  z: 4\n",
        "a: &a {x: 1}\nb: &b {x: 2, y: 2}\nc:\n  <<: [*a, *b]\n  z: 0\n",
        "name: a\n---\n# empty\n---\nname: b\nlist:\n- 1\n- - 2\n  - 3\n- {k: v}\n",
        "k: &s text\nl: *s\nm: [*s]\n",
        "a: []\nb: {}\nc: ''\nd:\ne: [~, null, '']\n",
        "? a\n: 1\n\"b c\": 2\n'd/e~f': 3\n",
        "!!map {a: !!seq [1, !!str 2]}\n",
        "x: !!binary aGVsbG8=\n",
        "- a\n- b: c\n  d: e\n",
    ];
    for text in texts {
        assert_eq!(values(text), serde_yaml_values(text).unwrap(), "{text:?}");
        for d in walk(text) {
            assert_spans_on_every_node(text, &d);
        }
    }
    // Explicit entries win over merged ones; the first merge source wins over the next.
    let v = values("a: &a {x: 1}\nb: &b {x: 2, y: 2}\nc:\n  <<: [*a, *b]\n  z: 0\n");
    assert_eq!(v[0]["c"], json!({"z": 0, "x": 1, "y": 2}));
}

#[test]
fn issue_12_spans_of_repeated_nodes_point_at_the_alias() {
    let docs = walk("name: n\nbase: &b\n  x: 1\n  y: [2]\nuse:\n  <<: *b\n  z: 3\nother: *b\n");
    let at = |p: &str| {
        let sp = docs[0].spans.span(p);
        (sp.line, sp.col)
    };
    assert_eq!(at("/base/y/0"), (4, 7));
    assert_eq!(at("/use/z"), (7, 3));
    assert_eq!(at("/use/x"), (6, 3));
    assert_eq!(at("/other"), (8, 1));
    assert_eq!(at("/other/y/0"), (8, 8));
}

#[test]
fn issue_12_problems_keep_their_positions() {
    let cases: &[(&str, &str)] = &[
        (
            "policyKey: t\nx: .inf\n",
            "policy/p.yaml:2:1: policy t: number .inf cannot be represented in JSON",
        ),
        (
            "policyKey: t\nx:\n  - !Ref a\n",
            "policy/p.yaml:3:10: policy t: YAML tags are not supported (found !Ref)",
        ),
        (
            "policyKey: t\nx: !Sub {a: 1}\n",
            "policy/p.yaml:2:1: policy t: YAML tags are not supported (found !Sub)",
        ),
        (
            "policyKey: t\nx:\n  ~: 1\n",
            "policy/p.yaml:3:3: policy t: mapping keys must be strings; found null",
        ),
        (
            "policyKey: t\nx:\n  1.5: 1\n",
            "policy/p.yaml:3:3: policy t: mapping keys must be strings; found number 1.5",
        ),
        // serde_yaml dropped a merge of a scalar without a word; it is an error now.
        (
            "policyKey: t\nx:\n  <<: 5\n  a: 1\n",
            "policy/p.yaml:3:3: policy t: merge key << takes a mapping or a sequence of mappings",
        ),
        (
            "policyKey: t\nx: !!int nope\n",
            "policy/p.yaml:2:10: policy t: invalid YAML: invalid value: string \"nope\", expected an integer",
        ),
        (
            "policyKey: t\nx: 99999999999999999999\n",
            "policy/p.yaml:2:4: policy t: invalid YAML: integer 99999999999999999999 is out of range",
        ),
    ];
    for (text, want) in cases {
        let errs = parse_file(Kind::Policy, "policy/p.yaml", text).unwrap_err();
        let shown = errs[0].to_string();
        assert!(
            shown.starts_with(want),
            "{text:?}\n got {shown}\nwant {want}"
        );
    }
}
