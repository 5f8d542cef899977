//! Unit tests of the in-memory tenant: built-ins, policy renames by id, purpose
//! hierarchies and large pages.

use super::*;

#[test]
fn builtins_are_present_and_system() {
    let s = Store::new();
    assert_eq!(s.policies.len(), 1);
    assert_eq!(s.purposes.len(), 4);
    assert!(s.purposes.values().all(|p| p.system));
    assert_eq!(s.descendants("Re-identification Prohibited").len(), 2);
}

#[test]
fn a_policy_put_by_id_renames_it_under_the_same_id() {
    let mut s = Store::new();
    let v2 = json!({"policyKey": "old", "name": "Old", "type": "subscription",
            "actions": {"type": "anyone"}});
    let id = s.upsert_policy(&v2, false).unwrap()["policyId"]
        .as_u64()
        .unwrap();
    let mut v1 = s.policies[&id].v1.clone();
    v1["policyKey"] = json!("new");
    let answer = s.put_policy(id, &v1).unwrap();
    assert_eq!(
        (answer["id"].clone(), answer["policyKey"].clone()),
        (json!(id), json!("new"))
    );
    assert_eq!(s.policies[&id].key, "new");
    // The V2 document followed: posting it under the new key changes nothing.
    let mut renamed = v2.clone();
    renamed["policyKey"] = json!("new");
    let again = s.upsert_policy(&renamed, false).unwrap();
    assert_eq!(
        (
            again["creating"].clone(),
            again["updating"].clone(),
            again["policyId"].clone()
        ),
        (json!(false), json!(false), json!(id))
    );
    // The old key is free; an unknown id is 404; a taken key is 422.
    let other = s.upsert_policy(&v2, false).unwrap()["policyId"]
        .as_u64()
        .unwrap();
    assert_ne!(other, id);
    assert_eq!(s.put_policy(999, &v1).unwrap_err().status.as_u16(), 404);
    let mut clash = s.policies[&other].v1.clone();
    clash["policyKey"] = json!("new");
    assert_eq!(
        s.put_policy(other, &clash).unwrap_err().status.as_u16(),
        422
    );
    // A change beyond the names forgets the V2 document: the next upsert updates.
    let mut edited = s.policies[&id].v1.clone();
    edited["actions"] = json!([]);
    s.put_policy(id, &edited).unwrap();
    assert_eq!(s.upsert_policy(&renamed, true).unwrap()["updating"], true);
}

#[test]
fn purpose_hierarchy_is_full_state() {
    let mut s = Store::new();
    let doc =
        json!({"name": "P", "subpurposes": [{"name": "P.A"}, {"name": "P.A.X"}, {"name": "P.B"}]});
    let r = s.upsert_purpose(&doc, false).unwrap();
    assert_eq!(r["creating"], true);
    let again = s.upsert_purpose(&doc, false).unwrap();
    assert_eq!(
        (again["creating"].clone(), again["updating"].clone()),
        (json!(false), json!(false))
    );
    assert_eq!(again["purposeId"], r["purposeId"]);
    let fewer = json!({"name": "P", "subpurposes": [{"name": "P.A"}]});
    assert_eq!(s.upsert_purpose(&fewer, true).unwrap()["updating"], true);
    assert_eq!(s.descendants("P").len(), 3, "dry run changed nothing");
    s.upsert_purpose(&fewer, false).unwrap();
    assert_eq!(s.descendants("P").len(), 1);
    let deleted = s.delete_purpose(r["purposeId"].as_u64().unwrap()).unwrap();
    assert_eq!(deleted.as_array().unwrap().len(), 2);
    assert!(!s.purpose_names.contains_key("P.A"));
}

#[test]
fn purposes_sharing_a_name_prefix_stay_apart() {
    let mut s = Store::new();
    let p1 = json!({"name": "P1", "subpurposes": [{"name": "P1.A"}, {"name": "P1.B"}]});
    s.upsert_purpose(&p1, false).unwrap();
    for other in ["P10", "P1 X", "P1-2"] {
        let doc = json!({"name": other, "subpurposes": [{"name": format!("{other}.A")}]});
        s.upsert_purpose(&doc, false).unwrap();
    }
    let again = s.upsert_purpose(&p1, true).unwrap();
    assert_eq!(
        (again["creating"].clone(), again["updating"].clone()),
        (json!(false), json!(false))
    );
    s.upsert_purpose(&json!({"name": "P1"}), false).unwrap();
    let names: Vec<&str> = s
        .purpose_names
        .keys()
        .map(String::as_str)
        .filter(|n| n.starts_with("P1"))
        .collect();
    assert_eq!(
        names,
        ["P1", "P1 X", "P1 X.A", "P1-2", "P1-2.A", "P10", "P10.A"]
    );
}

#[test]
fn ten_thousand_objects_page_through() {
    let mut s = Store::new();
    for i in 0..10_000 {
        let p = json!({"policyKey": format!("p{i:05}"), "name": format!("Policy {i:05}"), "type": "data",
                "actions": [{"rules": [{"type": "Masking", "config": {"fields": [{"type": "columnTags", "columnTag": "T"}],
                "maskingConfig": {"type": "Hash"}}}]}]});
        s.upsert_policy(&p, false).unwrap();
        let q = json!({"name": format!("Purpose {i:05}")});
        s.upsert_purpose(&q, false).unwrap();
    }
    assert_eq!(s.policies.len(), 10_001);
    assert_eq!(s.purposes.len(), 10_004);
    let again = s
        .upsert_purpose(&json!({"name": "Purpose 04321"}), true)
        .unwrap();
    assert_eq!(again["updating"], json!(false));
}
