//! One test per documented V1 field the normaliser maps, each on the answer the docs
//! print (tests/fixtures/immuta-v1/, seed lines in each test's name or comment).

use serde_json::{json, Value};

use super::{policy, project, purposes};

fn fixture(name: &str) -> Value {
    let p = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/immuta-v1")
        .join(name);
    serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap()
}

/// A data policy around one V1 rule.
fn with_rule(rule: Value) -> Value {
    json!({"id": 1, "policyKey": "k", "name": "k", "type": "data",
        "actions": [{"type": rule["type"].clone(), "rules": [rule], "description": null}]})
}

fn first_rule(v1: &Value) -> Value {
    policy(v1).unwrap().body["actions"][0]["rules"][0].clone()
}

#[test]
fn access_grant_and_share_responsibility_000_4003_4007() {
    let n = policy(&fixture("policy-global-4-write-template-column-tags.json")).unwrap();
    assert_eq!(
        n.body["actions"],
        json!({"type": "manual", "accessGrant": "WRITE"}),
        "shareResponsibility: false is the default and is left out"
    );
    // `shareResponsibility: true` (002:706-709) is kept.
    let mut v1 = fixture("policy-global-4-write-template.json");
    v1["actions"][0]["shareResponsibility"] = json!(true);
    v1["actions"][0]["subscriptionType"] = json!("policy");
    let n = policy(&v1).unwrap();
    assert_eq!(n.body["actions"]["shareResponsibility"], json!(true));
    assert_eq!(n.body["actions"]["type"], json!("entitlements"));
}

#[test]
fn circumstance_without_operator_000_4011_4018() {
    let n = policy(&fixture("policy-global-4-write-template-column-tags.json")).unwrap();
    assert_eq!(
        n.body["circumstances"],
        json!([{"type": "columnTags", "columnTag": "Discovered.Person Name"}])
    );
    assert!(n.body.get("circumstanceOperator").is_none());
    assert!(policy(&fixture("policy-global-4-write-template.json"))
        .unwrap()
        .body
        .get("circumstances")
        .is_none());
}

#[test]
fn masking_consistent_value_is_hash_000_27396_27411() {
    let n = policy(&fixture("policy-global-8-mask-passports.json")).unwrap();
    assert_eq!(
        n.body["actions"],
        json!([{"rules": [{"type": "Masking", "config": {
            "fields": [{"type": "columnTags", "columnTag": "Discovered.Passport"}],
            "maskingConfig": {"type": "Hash"}}}]}])
    );
    assert_eq!(n.body["circumstanceOperator"], json!("any"));
    // `metadata.constant: null` (000:27761-27763) is hashed too (002:1157-1160).
    let system = policy(&fixture("policy-global-1-new-column-added.json")).unwrap();
    assert!(system.system);
    assert_eq!(
        system.body["actions"][0]["rules"][0]["config"]["maskingConfig"],
        json!({"type": "Hash"})
    );
}

#[test]
fn masking_constant_and_regex_metadata_002_1157_1166() {
    let rule = |mc: Value| {
        json!({"type": "masking", "config": {"fields": [{"name": "T", "source": "curated", "hasLeafNodes": false}],
            "maskingConfig": mc}, "exceptions": null})
    };
    let c = first_rule(&with_rule(rule(
        json!({"type": "Consistent Value", "metadata": {"constant": "REDACTED"}}),
    )));
    assert_eq!(
        c["config"]["maskingConfig"],
        json!({"type": "Constant", "constant": "REDACTED"})
    );
    let r = first_rule(&with_rule(rule(json!({"type": "Regular Expression",
        "metadata": {"regex": "[0-9]{3}-[0-9]{2}", "replacement": "xxx-xx"}}))));
    assert_eq!(
        r["config"]["maskingConfig"],
        json!({"type": "Regular Expression", "regex": "[0-9]{3}-[0-9]{2}", "replacement": "xxx-xx"})
    );
}

#[test]
fn action_description_000_28272() {
    let n = policy(&fixture("policy-global-6-mask-passports.json")).unwrap();
    assert_eq!(
        n.body["actions"][0]["description"],
        json!("This policy masks all passports for data sources with columns tagged Discovered.Passport.")
    );
    assert_eq!(
        n.body["certification"],
        json!({"tags": ["string"], "text": "string", "label": "string"})
    );
}

#[test]
fn purpose_restriction_from_qualifications_000_27866_27880() {
    let block = fixture("policy-data-source-2-rules.json")[2].clone();
    let mut v1 = with_rule(json!({}));
    v1["actions"] = json!([block]);
    assert_eq!(
        first_rule(&v1),
        json!({"type": "Purpose Restriction", "config": {"operator": "all",
            "purposes": ["Re-identification Prohibited"]}})
    );
}

#[test]
fn row_restriction_by_user_entitlements_000_27896_27912() {
    let block = fixture("policy-diff-3-row-restriction.json")["current"][0].clone();
    let mut v1 = with_rule(json!({}));
    v1["actions"] = json!([block]);
    assert_eq!(
        first_rule(&v1),
        json!({"type": "Row Restriction By User Entitlements", "config": {"operator": "all",
            "matches": {"type": "group", "tag": "city"}}})
    );
}

#[test]
fn row_restriction_without_a_field_matches_any_group_002_1109_1127() {
    let v1 = json!({"type": "visibility", "config": {"qualifications": {"operator": "and",
        "conditions": [{"type": "groups"}]}}, "exceptions": null});
    assert_eq!(
        first_rule(&with_rule(v1)),
        json!({"type": "Row Restriction By User Entitlements", "config": {"operator": "all",
            "matches": {"type": "group"}}})
    );
}

#[test]
fn a_workspace_project_is_equalized_by_immuta_000_4564_4566() {
    let mut v1 = fixture("project-4-api-project.json");
    v1["workspace"] = json!({"type": "databricks", "config": {"database": "native"}});
    v1["equalization"] = json!({"operator": "and", "conditions": []});
    let n = project(&v1, &[]).unwrap();
    assert!(n.body.get("equalization").is_none(), "{}", n.body);
    assert_eq!(n.body["workspace"]["type"], json!("databricks"));
}

#[test]
fn row_restriction_by_custom_where_is_a_bare_predicate_000_26261() {
    let p = "@columnTagged('Discovered.Country') in ('USA')";
    for v1 in [
        json!({"type": "visibility", "config": {"predicate": p}, "exceptions": null}),
        json!({"type": "visibility", "config": {"predicate": p,
            "qualifications": {"operator": "and", "conditions": []}}, "exceptions": null}),
        json!({"type": "customWhere", "config": {"predicate": p}, "exceptions": null}),
    ] {
        assert_eq!(
            first_rule(&with_rule(v1)),
            json!({"type": "Row Restriction by Custom Where Clause", "config": {"predicate": p}})
        );
    }
}

#[test]
fn unmappable_row_restrictions_stay_v1_002_1109_1127() {
    // Two conditions (the documented visibility example): no single V2 `matches`.
    let config = json!({"qualifications": {"operator": "and", "conditions": [
        {"type": "authorizations", "field": "department", "authorization": {"auth": "accesses"}},
        {"type": "groups", "field": "organization", "group": {}}]}});
    let r = first_rule(&with_rule(
        json!({"type": "visibility", "config": config.clone(), "exceptions": null}),
    ));
    assert_eq!(r["config"], config);
}

#[test]
fn minimization_and_time_002_1190_1230() {
    let m = json!({"type": "additional", "name": "minimization", "config": {"percent": 50}, "exceptions": null});
    let t = json!({"type": "additional", "name": "time", "config": {"isOlderOrNewer": "newer", "time": 14400}, "exceptions": null});
    assert_eq!(
        first_rule(&with_rule(m)),
        json!({"type": "Minimization", "config": {"percent": 50}})
    );
    assert_eq!(
        first_rule(&with_rule(t)),
        json!({"type": "Time Restriction", "config": {"isOlderOrNewer": "newer", "time": 14400}})
    );
}

#[test]
fn rule_exceptions_groups_and_attributes_001_343_358() {
    let v1 = json!({"type": "masking", "config": {"fields": [{"name": "T"}], "maskingConfig": {"type": "Reversible", "metadata": {}}},
        "exceptions": {"operator": "or", "conditions": [
            {"type": "groups", "group": {"name": "HR Department", "iam": "active_directory"}},
            {"type": "authorizations", "authorization": {"auth": "Manager", "value": "Receiving Surveys"}},
            {"type": "purposes", "value": "Fraud"}]}});
    assert_eq!(
        first_rule(&with_rule(v1))["exceptions"],
        json!({"operator": "any", "groups": ["HR Department"],
            "attributes": [{"name": "Manager", "value": "Receiving Surveys"}], "purposes": ["Fraud"]})
    );
}

#[test]
fn domains_circumstance_is_carried_over() {
    // No V1 answer with `type: domains` is documented; members are carried over.
    let mut v1 = fixture("policy-global-8-mask-passports.json");
    v1["circumstances"] = json!([{"type": "domains", "operator": "or", "domains": ["d-1"]}]);
    assert_eq!(
        policy(&v1).unwrap().body["circumstances"],
        json!([{"type": "domains", "domains": ["d-1"]}])
    );
}

#[test]
fn manual_subscription_null_is_the_default_000_33760_33761() {
    let n = project(&fixture("project-4-api-project.json"), &[]).unwrap();
    assert_eq!(
        n.body,
        json!({"projectKey": "api project", "name": "API Project",
            "description": "project created with api"})
    );
    let mut v1 = fixture("project-4-api-project.json");
    v1["subscriptionType"] = json!("approval");
    let n = project(&v1, &[]).unwrap();
    assert_eq!(n.body["subscriptionPolicy"], json!({"type": "approval"}));
}

#[test]
fn project_subscriptions_from_documented_objects_000_14435_14441_001_343_358() {
    let approval = &fixture("data-source-list-approval-manual.json")["hits"][0];
    let policy_groups = &fixture("data-source-list-automatic-policy.json")[1];
    for (source, want) in [
        (
            approval,
            json!({"type": "approval", "approvals": [{"requiredPermission": "OWNER"}]}),
        ),
        (
            policy_groups,
            json!({"type": "entitlements", "entitlements": {"operator": "all", "groups": ["alpha"]},
                "allowDiscovery": true, "automaticSubscription": true}),
        ),
    ] {
        let mut v1 = fixture("project-4-api-project.json");
        v1["subscriptionType"] = source["subscriptionType"].clone();
        v1["subscriptionPolicy"] = source["subscriptionPolicy"].clone();
        assert_eq!(project(&v1, &[]).unwrap().body["subscriptionPolicy"], want);
    }
}

#[test]
fn equalization_object_or_null_004_58_59() {
    let mut v1 = fixture("project-4-api-project.json");
    assert!(project(&v1, &[])
        .unwrap()
        .body
        .get("equalization")
        .is_none());
    v1["equalization"] = json!({"operator": "and", "conditions": [
        {"type": "groups", "group": {"id": 1, "name": "View Masked Values"}}]});
    assert_eq!(project(&v1, &[]).unwrap().body["equalization"], json!(true));
    // The attribute table's type (004:58-59): an array of conditions, possibly empty.
    for conditions in [
        json!([]),
        json!([{"type": "groups", "group": {"name": "G"}}]),
    ] {
        v1["equalization"] = conditions;
        assert_eq!(project(&v1, &[]).unwrap().body["equalization"], json!(true));
    }
    v1["equalization"] = json!(false);
    assert!(project(&v1, &[])
        .unwrap()
        .body
        .get("equalization")
        .is_none());
}

#[test]
fn project_purposes_and_data_sources_000_33921_34212() {
    let mut v1 = fixture("project-2-test.json");
    v1["deleted"] = json!(false);
    let sources = fixture("project-2-data-sources.json")["dataSources"]
        .as_array()
        .unwrap()
        .clone();
    let n = project(&v1, &sources).unwrap();
    assert_eq!(
        n.body["purposes"],
        json!([
            "Analyzing Onboarding and Job Satisfaction",
            "Use Case Outside De-identification"
        ])
    );
    assert_eq!(
        n.body["datasources"],
        json!([
            "Fake Medical Claims 2017",
            "Tpc Randomized",
            "Tpc Web Sales"
        ])
    );
    assert_eq!(n.body["documentation"], json!("# test\n\n12345"));
    assert_eq!(n.body["allowMaskedJoins"], json!(true));
}

#[test]
fn staged_purposes_are_the_projects_purposes_004_46_47() {
    let mut v1 = fixture("project-2-test.json");
    let purpose = v1["purposes"][0].clone();
    v1["purposes"] = json!([]);
    v1["stagedPurposes"] = json!([purpose]);
    assert_eq!(
        project(&v1, &[]).unwrap().body["purposes"],
        json!(["Analyzing Onboarding and Job Satisfaction"])
    );
}

#[test]
fn purposes_group_sub_purposes_000_14870_14926() {
    let list = fixture("purpose-list.json")["purposes"]
        .as_array()
        .unwrap()
        .clone();
    let all = purposes(&list).unwrap();
    let root = all
        .iter()
        .find(|n| n.key == "Re-identification Prohibited")
        .unwrap();
    assert!(root.system);
    let subs: Vec<&str> = root.body["subpurposes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        subs,
        [
            "Re-identification Prohibited.CCPA",
            "Re-identification Prohibited.Safe Harbor Method"
        ]
    );
    // The same grouping as GET /governance/purpose/1?includeSubpurposes=true
    // (000:14932-14983) gives.
    let by_id = fixture("purpose-1-with-subpurposes.json");
    let want: Vec<&str> = by_id["subpurposes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    assert_eq!(subs, want);
    assert_eq!(root.id, by_id["id"].as_u64());
    let user = purposes(&[fixture("purpose-8-updated.json")]).unwrap();
    assert_eq!(
        user[0].body,
        json!({"name": "Compliance Requirement #1",
            "description": "This requirement has been amended to include an updated model."})
    );
}
