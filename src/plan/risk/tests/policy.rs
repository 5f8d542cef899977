//! Risk rules of data policies (rules, masking, exceptions, circumstances), on literal changes.

use serde_json::{json, Value};

use super::*;

#[test]
fn a_removed_rule_weakens_and_an_added_one_strengthens() {
    let r = json!({"type": "Masking", "config": {"maskingConfig": {"type": "Hash"}}});
    is(
        &policy(&[("actions[0].rules[1]", j(r.clone()), None)]),
        Risk::Weakens,
        "rule 2 (Masking) removed",
    );
    is(
        &policy(&[("actions[0].rules[1]", None, j(r.clone()))]),
        Risk::Strengthens,
        "rule 2 (Masking) added",
    );
    is(
        &policy(&[("actions[1]", j(json!({"rules": [r]})), None)]),
        Risk::Weakens,
        "block 2 rule 1 (Masking) removed",
    );
}

#[test]
fn masking_type_order() {
    let mt = rule("config.maskingConfig.type");
    let m = |b: &str, a: &str| policy(&[(mt.as_str(), j(json!(b)), j(json!(a)))]);
    let order = [
        "Null",
        "Hash",
        "Reversible",
        "Format Preserving Masking",
        "K-Anonymization",
    ];
    for (i, hi) in order.iter().enumerate() {
        for lo in order.iter().skip(i + 1) {
            is(&m(hi, lo), Risk::Weakens, "less protective");
            is(&m(lo, hi), Risk::Strengthens, "more protective");
        }
    }
    is(&m("Null", "Constant"), Risk::Neutral, "both withhold");
    is(&m("Hash", "Regular Expression"), Risk::Weakens, CANNOT_TELL);
    is(
        &m("Grouping", "Randomized Response"),
        Risk::Weakens,
        CANNOT_TELL,
    );
    is(
        &m("Hash", "Tokenize"),
        Risk::Weakens,
        "outside the documented order",
    );
    is(&m("Constant", "Grouping"), Risk::Weakens, "less protective");
    for t in [
        "Null",
        "Constant",
        "Hash",
        "Regular Expression",
        "Reversible",
        "Format Preserving Masking",
        "K-Anonymization",
        "Randomized Response",
        "Grouping",
    ] {
        assert!(
            crate::plan::risk::policy::masking_rank(t).is_some(),
            "{t} is placed"
        );
    }
}

#[test]
fn masking_parameters_move_protection() {
    let p = |name: &str, b: Value, a: Value| {
        let path = rule(&format!("config.maskingConfig.{name}"));
        policy(&[(path.as_str(), j(b), j(a))])
    };
    is(
        &p("kLevel", json!(5), json!(3)),
        Risk::Weakens,
        "kLevel 5 -> 3",
    );
    is(
        &p("kLevel", json!(3), json!(5)),
        Risk::Strengthens,
        "kLevel",
    );
    is(
        &p("reIdProbability", json!(10), json!(15)),
        Risk::Weakens,
        "",
    );
    is(&p("bucketSize", json!(100), json!(10)), Risk::Weakens, "");
    is(
        &p("replacementRatePercent", json!(10), json!(20)),
        Risk::Strengthens,
        "",
    );
    is(
        &p("timePrecision", json!("MONTH"), json!("DAY")),
        Risk::Weakens,
        "finer",
    );
    is(
        &p("timePrecision", json!("DAY"), json!("YEAR")),
        Risk::Strengthens,
        "coarser",
    );
    is(
        &p("constant", json!("X"), json!("Y")),
        Risk::Neutral,
        "constant",
    );
    is(
        &p("regex", json!("a"), json!("b")),
        Risk::Weakens,
        CANNOT_TELL,
    );
    // A new masking type brings its own parameters: judged by the type.
    let t = rule("config.maskingConfig.type");
    let c = rule("config.maskingConfig.constant");
    is(
        &policy(&[
            (t.as_str(), j(json!("Hash")), j(json!("Constant"))),
            (c.as_str(), None, j(json!("X"))),
        ]),
        Risk::Strengthens,
        "more protective",
    );
}

#[test]
fn exceptions_added_weaken_and_removed_strengthen() {
    let g = rule("exceptions.groups[1]");
    is(
        &policy(&[(g.as_str(), None, j(json!("Analysts")))]),
        Risk::Weakens,
        "exceptions of rule 1: group \"Analysts\" added",
    );
    let e = rule("exceptions");
    is(
        &policy(&[(
            e.as_str(),
            None,
            j(json!({"attributes": [{"name": "a", "value": "b"}]})),
        )]),
        Risk::Weakens,
        "attribute \"a: b\" added",
    );
    is(
        &policy(&[(e.as_str(), j(json!({"purposes": ["Fraud"]})), None)]),
        Risk::Strengthens,
        "purpose \"Fraud\" removed",
    );
    // Removing one item while the operator is not in the plan: it may be `all`.
    is(
        &policy(&[(g.as_str(), j(json!("Analysts")), None)]),
        Risk::Weakens,
        CANNOT_TELL,
    );
    let op = rule("exceptions.operator");
    is(
        &policy(&[(op.as_str(), None, j(json!("all")))]),
        Risk::Strengthens,
        "operator \"any\" -> \"all\"",
    );
    is(
        &policy(&[(op.as_str(), j(json!("all")), None)]),
        Risk::Weakens,
        "operator",
    );
}

#[test]
fn inclusions_cannot_be_told() {
    let i = rule("inclusions.groups[1]");
    is(
        &policy(&[(i.as_str(), None, j(json!("Everyone")))]),
        Risk::Weakens,
        CANNOT_TELL,
    );
}

#[test]
fn row_restrictions_and_conditions() {
    let pred = rule("config.predicate");
    is(
        &policy(&[(pred.as_str(), j(json!("a = 1")), None)]),
        Risk::Weakens,
        "predicate removed",
    );
    is(
        &policy(&[(pred.as_str(), j(json!("a = 1")), j(json!("a = 2")))]),
        Risk::Weakens,
        CANNOT_TELL,
    );
    is(
        &policy(&[(pred.as_str(), None, j(json!("a = 1")))]),
        Risk::Strengthens,
        "predicate added",
    );
    let cond = rule("config.conditionalPredicate");
    is(
        &policy(&[(cond.as_str(), None, j(json!("x")))]),
        Risk::Weakens,
        "conditional",
    );
    is(
        &policy(&[(cond.as_str(), j(json!("x")), None)]),
        Risk::Strengthens,
        "no longer conditional",
    );
    let fields = rule("config.fields[1]");
    is(
        &policy(&[(
            fields.as_str(),
            j(json!({"type": "columnTags", "columnTag": "PII"})),
            None,
        )]),
        Risk::Weakens,
        "columns masked by rule 1",
    );
    let pct = rule("config.percent");
    is(
        &policy(&[(pct.as_str(), j(json!(10)), j(json!(50)))]),
        Risk::Weakens,
        "10 -> 50",
    );
    let purposes = rule("config.purposes[1]");
    is(
        &policy(&[(purposes.as_str(), None, j(json!("Research")))]),
        Risk::Weakens,
        "purpose \"Research\" added",
    );
    let time = rule("config.time");
    is(
        &policy(&[(time.as_str(), j(json!(10)), j(json!(20)))]),
        Risk::Weakens,
        CANNOT_TELL,
    );
    let ty = rule("type");
    is(
        &policy(&[(ty.as_str(), j(json!("Masking")), j(json!("Minimization")))]),
        Risk::Weakens,
        CANNOT_TELL,
    );
}

#[test]
fn circumstances_narrowed_weaken() {
    let data_block: F = ("actions[0].description", j(json!("a")), j(json!("b")));
    let pii = json!({"type": "tags", "tag": "PII"});
    // Under `any` (the default) a circumstance fewer covers less data; the operator did
    // not change, so it is not in the plan, and under `all` this would cover more: the
    // conservative reading is the `any` one.
    let removed: F = ("circumstances[1]", j(pii.clone()), None);
    is(
        &policy(&[data_block.clone(), removed.clone()]),
        Risk::Weakens,
        "the policy covers: circumstance tags tag=\"PII\" removed",
    );
    // Adding one covers more under `any` and less under `all`: cannot tell.
    let added: F = ("circumstances[1]", None, j(pii.clone()));
    is(
        &policy(&[data_block.clone(), added]),
        Risk::Weakens,
        CANNOT_TELL,
    );
    let op: F = ("circumstanceOperator", None, j(json!("all")));
    is(
        &policy(&[data_block.clone(), op]),
        Risk::Weakens,
        "circumstance operator \"any\" -> \"all\"",
    );
    let back: F = ("circumstanceOperator", j(json!("all")), None);
    is(
        &policy(&[data_block.clone(), back]),
        Risk::Strengthens,
        "operator",
    );
    let whole: F = ("circumstances", j(json!([pii])), None);
    is(&policy(&[data_block, whole]), Risk::Weakens, CANNOT_TELL);
    // A subscription policy: which data sources it governs cannot be told.
    let sub: F = ("actions.description", j(json!("a")), j(json!("b")));
    is(&policy(&[sub, removed]), Risk::Weakens, CANNOT_TELL);
}

#[test]
fn staged_and_descriptive_fields() {
    is(
        &policy(&[("staged", None, j(json!(true)))]),
        Risk::Weakens,
        "staged",
    );
    is(
        &policy(&[("staged", j(json!(true)), None)]),
        Risk::Strengthens,
        "no longer staged",
    );
    is(
        &policy(&[
            ("name", j(json!("a")), j(json!("b"))),
            ("description", j(json!("a")), j(json!("b"))),
            ("certification.text", j(json!("a")), j(json!("b"))),
        ]),
        Risk::Neutral,
        "description changed",
    );
    is(
        &policy(&[("mystery", None, j(json!(1)))]),
        Risk::Weakens,
        CANNOT_TELL,
    );
}
