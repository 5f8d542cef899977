//! Risk rules of subscriptions, projects and purposes, on literal changes.

use serde_json::json;

use super::*;

#[test]
fn subscription_policy_broadened_weakens() {
    let t = |b: &str, a: &str| policy(&[("actions.type", j(json!(b)), j(json!(a)))]);
    is(
        &t("entitlements", "anyone"),
        Risk::Weakens,
        "anyone may subscribe",
    );
    is(&t("anyone", "approval"), Risk::Strengthens, "");
    is(
        &t("approval", "entitlements"),
        Risk::Weakens,
        "approval removed",
    );
    is(&t("entitlements", "manual"), Risk::Strengthens, "");
    is(&t("entitlements", "approval"), Risk::Weakens, CANNOT_TELL);
    is(
        &policy(&[("actions.automaticSubscription", None, j(json!(true)))]),
        Risk::Weakens,
        "automatic subscription turned on",
    );
    is(
        &policy(&[("actions.automaticSubscription", j(json!(true)), None)]),
        Risk::Strengthens,
        "turned off",
    );
    is(
        &policy(&[(
            "actions.approvals[0]",
            j(json!({"requiredPermission": "OWNER"})),
            None,
        )]),
        Risk::Weakens,
        "approval step",
    );
    is(
        &policy(&[(
            "actions.approvals[0].specificApproverRequired",
            j(json!(true)),
            None,
        )]),
        Risk::Weakens,
        "no longer required",
    );
    is(
        &policy(&[(
            "actions.entitlements.groups[2]",
            None,
            j(json!("Contractors")),
        )]),
        Risk::Weakens,
        "who may subscribe: group \"Contractors\" added",
    );
    is(
        &policy(&[(
            "actions.entitlements",
            None,
            j(json!({"attributes": [{"name": "dept", "value": "x"}]})),
        )]),
        Risk::Weakens,
        "attribute",
    );
    is(
        &policy(&[(
            "actions.entitlements",
            j(json!({"groups": ["A"]})),
            j(json!({"groups": ["A", "B"], "operator": "all"})),
        )]),
        Risk::Weakens,
        "",
    );
    is(
        &policy(&[("actions.accessGrant", None, j(json!("WRITE")))]),
        Risk::Weakens,
        "write",
    );
    is(
        &policy(&[("actions.allowDiscovery", None, j(json!(true)))]),
        Risk::Weakens,
        "discovery",
    );
    is(
        &policy(&[("actions.shareResponsibility", None, j(json!(true)))]),
        Risk::Weakens,
        "shared responsibility",
    );
    is(
        &policy(&[("actions.advanced", j(json!("a")), j(json!("b")))]),
        Risk::Weakens,
        CANNOT_TELL,
    );
    is(
        &policy(&[("actions.description", j(json!("a")), j(json!("b")))]),
        Risk::Neutral,
        "",
    );
}

#[test]
fn project_rules() {
    let p = |fs: &[F]| upd(Kind::Project, fs);
    // Sorted lists: adding "B" between "A" and "C" shifts "C".
    is(
        &p(&[
            ("datasources[1]", j(json!("C")), j(json!("B"))),
            ("datasources[2]", None, j(json!("C"))),
        ]),
        Risk::Weakens,
        "project: data source \"B\" added",
    );
    is(
        &p(&[("datasources[1]", j(json!("C")), None)]),
        Risk::Strengthens,
        "data source \"C\" removed",
    );
    is(
        &p(&[("purposes[0]", None, j(json!("Fraud")))]),
        Risk::Weakens,
        "purpose \"Fraud\" added",
    );
    is(
        &p(&[("allowMaskedJoins", None, j(json!(true)))]),
        Risk::Weakens,
        "masked joins allowed",
    );
    is(
        &p(&[("allowMaskedJoins", j(json!(true)), None)]),
        Risk::Strengthens,
        "no longer",
    );
    is(
        &p(&[("equalization", j(json!(true)), None)]),
        Risk::Weakens,
        "equalization turned off",
    );
    // No subscription policy is the default, manual.
    is(
        &p(&[("subscriptionPolicy", None, j(json!({"type": "anyone"})))]),
        Risk::Weakens,
        "subscription \"manual\" -> \"anyone\"",
    );
    is(
        &p(&[(
            "subscriptionPolicy",
            j(json!({"type": "entitlements", "entitlements": {"groups": ["A"]}})),
            None,
        )]),
        Risk::Strengthens,
        "-> \"manual\"",
    );
    is(
        &p(&[
            ("name", j(json!("a")), j(json!("b"))),
            ("documentation", j(json!("a")), j(json!("b"))),
            ("tags[0]", None, j(json!("t"))),
        ]),
        Risk::Neutral,
        "",
    );
    is(
        &p(&[("workspace.type", j(json!("a")), j(json!("b")))]),
        Risk::Weakens,
        CANNOT_TELL,
    );
}

#[test]
fn purpose_rules() {
    let p = |fs: &[F]| upd(Kind::Purpose, fs);
    is(
        &p(&[("acknowledgement", j(json!("I agree")), None)]),
        Risk::Weakens,
        "purpose acknowledgement removed",
    );
    is(
        &p(&[("acknowledgement", None, j(json!("I agree")))]),
        Risk::Strengthens,
        "added",
    );
    is(
        &p(&[("acknowledgement", j(json!("a")), j(json!("b")))]),
        Risk::Neutral,
        "text changed",
    );
    is(
        &p(&[("description", j(json!("a")), j(json!("b")))]),
        Risk::Neutral,
        "",
    );
    is(
        &p(&[("subpurposes[0]", j(json!({"name": "A.B"})), None)]),
        Risk::Weakens,
        "sub-purpose(s) \"A.B\" removed",
    );
    is(
        &p(&[
            ("subpurposes[0].name", j(json!("A.C")), j(json!("A.B"))),
            ("subpurposes[1]", None, j(json!({"name": "A.C"}))),
        ]),
        Risk::Neutral,
        "sub-purpose(s) \"A.B\" added",
    );
    is(
        &p(&[("subpurposes[0].acknowledgement", j(json!("x")), None)]),
        Risk::Weakens,
        "sub-purpose acknowledgement removed",
    );
}
