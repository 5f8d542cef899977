//! HTTP-level tests of the emulator's fidelity to the docs (issue 10): page caps, bodies
//! read before any answer, the V1 shapes of subscriptions, projects, templates and domains.

use std::net::SocketAddr;

use serde_json::{json, Value};

use super::tests::{DATA, KEY, T};
use super::*;

#[tokio::test]
async fn max_page_size_caps_every_list_and_keeps_count_whole() {
    let t = T::with(
        Options {
            api_key: KEY.into(),
            ..Default::default()
        }
        .with_max_page_size(3),
    )
    .await;
    for i in 0..5 {
        t.post("/api/v2/purpose", &format!("name: P{i}\n")).await;
        t.post(
            "/api/v2/project",
            &format!("projectKey: p{i}\nname: Project {i}\n"),
        )
        .await;
    }
    let purposes = t.get("/governance/purpose?size=1000").await;
    assert_eq!(purposes["count"], json!(9), "4 built-ins + 5");
    assert_eq!(purposes["purposes"].as_array().unwrap().len(), 3);
    let last = t.get("/governance/purpose?offset=6&size=1000").await;
    assert_eq!(last["purposes"].as_array().unwrap().len(), 3);
    let projects = t.get("/project?size=1000").await;
    assert_eq!(
        (
            projects["count"].clone(),
            projects["hits"].as_array().unwrap().len()
        ),
        (json!(5), 3)
    );
    let policies = t.get("/policy/global?size=1000").await;
    assert_eq!(policies.as_array().unwrap().len(), 1, "the built-in only");
    assert!(Emulator::new(Options {
        max_page_size: 0,
        ..Default::default()
    })
    .is_err());
    t.h.shutdown().await;
}

/// Writes a whole request with a `len`-byte body on a plain TCP socket, and only then
/// reads the answer; returns its status line.
async fn write_then_read(addr: SocketAddr, path: &str, auth: &str, len: usize) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    let head = format!(
        "POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: {auth}\r\n\
         Content-Type: application/json\r\nContent-Length: {len}\r\nConnection: close\r\n\r\n"
    );
    s.write_all(head.as_bytes()).await.unwrap();
    let body = vec![b' '; len];
    s.write_all(&body)
        .await
        .expect("the whole body is accepted before any answer");
    let mut answer = Vec::new();
    s.read_to_end(&mut answer).await.unwrap();
    let text = String::from_utf8_lossy(&answer);
    text.lines().next().unwrap_or_default().to_string()
}

#[tokio::test]
async fn every_answer_comes_after_the_whole_body_is_read() {
    let t = T::new().await;
    let big = 8 * 1024 * 1024;
    let cases = [
        ("/api/v2/policy", "wrong-key", big, "401"),
        ("/no/such/path", KEY, big, "404"),
        ("/api/v2/policy", KEY, big, "400"),
        ("/api/v2/policy", KEY, body::MAX_BODY + 1, "413"),
    ];
    for (path, auth, len, want) in cases {
        let line = write_then_read(t.h.addr, path, auth, len).await;
        assert!(
            line.starts_with("HTTP/1.1 ") && line.contains(want),
            "{path} with {len} bytes: {line}"
        );
    }
    t.h.shutdown().await;
}

#[tokio::test]
async fn v1_answers_carry_the_documented_subscription_members() {
    let t = T::new().await;
    // A write policy as 000:3940-3975 shows its answer.
    t.post(
        "/api/v2/policy",
        "policyKey: w\nname: W\ntype: subscription\nactions:\n  type: manual\n  accessGrant: WRITE\n",
    )
    .await;
    t.post(
        "/api/v2/policy",
        "policyKey: r\nname: R\ntype: subscription\ntemplate: true\nactions:\n  type: anyone\n",
    )
    .await;
    let all = t.get("/policy/global").await;
    let names: Vec<&str> = all
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["R", "W", "New Column Added"], "createdAt desc");
    let w = &all[1]["actions"][0];
    assert_eq!(
        *w,
        json!({"type": "subscription", "subscriptionType": "manual", "accessGrant": "WRITE",
               "description": null, "allowDiscovery": false, "shareResponsibility": false,
               "automaticSubscription": false})
    );
    assert!(
        all[0]["actions"][0].get("accessGrant").is_none(),
        "read subscriptions show no grant (000:34139-34160)"
    );
    assert_eq!(all[0]["template"], true);
    let plain = t.get("/policy/global?templates=false").await;
    assert_eq!(plain.as_array().unwrap().len(), 2);
    let only = t.get("/policy/global?templates=true").await;
    assert_eq!(only[0]["name"], "R");
    let by_name = t.get("/policy/global?sortField=name&sortOrder=asc").await;
    assert_eq!(by_name[0]["name"], "New Column Added");
    assert_eq!(
        t.call(reqwest::Method::GET, "/policy/global?templates=maybe", None)
            .await
            .0,
        400
    );
    t.h.shutdown().await;
}

#[tokio::test]
async fn manual_projects_read_null_and_workspaces_are_equalized() {
    let t = T::new().await;
    t.post(
        "/api/v2/project",
        "projectKey: m\nname: M\nsubscriptionPolicy:\n  type: manual\n",
    )
    .await;
    t.post(
        "/api/v2/project",
        "projectKey: w\nname: W\nworkspace:\n  type: snowflake\n  config:\n    schema: S\n    warehouses: [WH]\n",
    )
    .await;
    t.post(
        "/api/v2/project",
        "projectKey: a\nname: A\nsubscriptionPolicy:\n  type: anyone\n",
    )
    .await;
    let hits = t.get("/project").await["hits"].clone();
    let id = |i: usize| hits[i]["id"].as_u64().unwrap();
    let m = t.get(&format!("/project/{}", id(0))).await;
    // 004:75 / 000:33765: a manual subscription is null.
    assert_eq!(
        (
            m["subscriptionType"].clone(),
            m["subscriptionPolicy"].clone()
        ),
        (json!("manual"), Value::Null)
    );
    assert_eq!(hits[0]["subscriptionPolicy"], Value::Null);
    assert_eq!(m["equalization"], Value::Null);
    let w = t.get(&format!("/project/{}", id(1))).await;
    assert_eq!(w["equalization"], json!([]), "000:4564-4566");
    assert_eq!(hits[1]["isEqualized"], json!(true));
    let a = t.get(&format!("/project/{}", id(2))).await;
    assert_eq!(a["subscriptionType"], "automatic");
    assert_eq!(
        a["subscriptionPolicy"],
        json!({"type": "subscription"}),
        "the object the docs print next to subscriptionType (001:312-375)"
    );
    t.h.shutdown().await;
}

#[tokio::test]
async fn domain_circumstances_are_accepted_and_domain_ids_read_back() {
    let t = T::new().await;
    let policy = "policyKey: d\nname: D\ntype: subscription\nactions:\n  type: anyone\ncircumstances:\n- type: domains\n  domains: [\"4b1c2e\"]\n";
    let (s, v) = t.post("/api/v2/policy", policy).await;
    assert_eq!(s, 200, "{v}");
    let p = t.get(&format!("/policy/global/{}", v["policyId"])).await;
    assert_eq!(
        p["circumstances"][0],
        json!({"type": "domains", "domains": ["4b1c2e"]})
    );
    let (s, v) = t
        .post(
            "/api/v2/policy",
            &policy.replace("domains: [\"4b1c2e\"]", "domains: []"),
        )
        .await;
    assert_eq!(s, 400, "{v}");
    assert!(v["message"].as_str().unwrap().contains("domains"), "{v}");
    let data = DATA.replace(
        r#""options": {"tableTags": ["Finance"]}"#,
        r#""options": {"tableTags": ["Finance"], "domainCollectionId": "4b1c2e"}"#,
    );
    assert_eq!(t.post("/api/v2/data", &data).await.0, 200);
    let hits = t.get("/dataSource").await;
    assert_eq!(hits["hits"][0]["domainId"], "4b1c2e");
    t.h.shutdown().await;
}

#[tokio::test]
async fn deleted_purposes_stay_readable_as_deleted() {
    let t = T::new().await;
    let (_, v) = t
        .post(
            "/api/v2/purpose",
            "name: Old\nsubpurposes:\n- name: Old.Child\n",
        )
        .await;
    let id = v["purposeId"].as_u64().unwrap();
    let (s, gone) = t.delete(&format!("/governance/purpose/{id}")).await;
    assert_eq!(s, 200);
    assert!(gone
        .as_array()
        .unwrap()
        .iter()
        .all(|p| p["deleted"] == true));
    let names = |v: &Value| -> Vec<(String, bool)> {
        v["purposes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| {
                (
                    p["name"].as_str().unwrap().to_string(),
                    p["deleted"] == true,
                )
            })
            .filter(|(n, _)| n.starts_with("Old"))
            .collect()
    };
    assert!(names(&t.get("/governance/purpose").await).is_empty());
    // 000:14069-14115: includeDeleted lists them.
    let with = t.get("/governance/purpose?includeDeleted=true").await;
    assert_eq!(
        names(&with),
        [("Old".to_string(), true), ("Old.Child".to_string(), true)]
    );
    assert_eq!(with["count"], json!(6), "4 built-ins + 2 deleted");
    let one = t.get(&format!("/governance/purpose/{id}")).await;
    assert_eq!(one["deleted"], json!(true));
    assert_eq!(t.delete(&format!("/governance/purpose/{id}")).await.0, 404);
    let (_, again) = t.post("/api/v2/purpose", "name: Old\n").await;
    assert_ne!(again["purposeId"], json!(id), "a new purpose, a new id");
    let both = t
        .get("/governance/purpose?includeDeleted=true&searchText=old")
        .await;
    assert_eq!(
        names(&both),
        [
            ("Old".to_string(), false),
            ("Old".to_string(), true),
            ("Old.Child".to_string(), true)
        ]
    );
    t.h.shutdown().await;
}

/// Issue 13: `PUT /policy/global/{id}` (002:1401-1413) takes the policy object and answers
/// it; a new `policyKey` renames the policy under the same id. Errors in the documented
/// body shape.
#[tokio::test]
async fn a_policy_put_by_id_answers_the_object_and_renames_it() {
    let t = T::new().await;
    let (s, created) = t
        .post(
            "/api/v2/policy",
            "policyKey: old\nname: Old\ntype: subscription\nactions:\n  type: anyone\n",
        )
        .await;
    assert_eq!(s, 200, "{created}");
    let id = created["policyId"].as_u64().unwrap();
    let mut v1 = t.get(&format!("/policy/global/{id}")).await;
    v1["policyKey"] = json!("new");
    let body = v1.to_string();
    let (s, answer) = t
        .call(
            reqwest::Method::PUT,
            &format!("/policy/global/{id}"),
            Some(&body),
        )
        .await;
    assert_eq!(s, 200, "{answer}");
    assert_eq!(
        (answer["id"].clone(), answer["policyKey"].clone()),
        (json!(id), json!("new"))
    );
    let list = t.get("/policy/global?size=1000").await;
    let keys: Vec<&str> = list
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|p| p["policyKey"].as_str())
        .collect();
    assert!(keys.contains(&"new") && !keys.contains(&"old"), "{keys:?}");
    let (s, err) = t
        .call(reqwest::Method::PUT, "/policy/global/999", Some(&body))
        .await;
    assert_eq!(s, 404);
    assert_eq!(
        (err["statusCode"].clone(), err["error"].clone()),
        (json!(404), json!("Not Found"))
    );
    let (s, err) = t
        .call(
            reqwest::Method::PUT,
            &format!("/policy/global/{id}"),
            Some("[1]"),
        )
        .await;
    assert_eq!((s, err["statusCode"].clone()), (400, json!(400)));
    // The write log records the PUT under the new key.
    let log = t.h.emulator.write_log();
    let last = log.last().unwrap();
    assert_eq!((last.method.as_str(), last.status), ("PUT", 400));
    assert!(log
        .iter()
        .any(|w| w.method == "PUT" && w.key == "new" && w.status == 200));
}
