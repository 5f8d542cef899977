//! HTTP-level tests of the emulator: a real server on 127.0.0.1 driven with reqwest.
//! The fault knobs have their own file, `faults.rs`.

use serde_json::{json, Value};

use super::*;

mod faults;

pub(super) const KEY: &str = "emu-test-key";

pub(super) struct T {
    pub(super) h: Handle,
    http: reqwest::Client,
}

impl T {
    pub(super) async fn new() -> T {
        Self::with(Options {
            api_key: KEY.into(),
            ..Default::default()
        })
        .await
    }

    pub(super) async fn with(opts: Options) -> T {
        T {
            h: spawn(opts).await.unwrap(),
            http: reqwest::Client::new(),
        }
    }

    pub(super) async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<&str>,
    ) -> (u16, Value) {
        let mut req = self
            .http
            .request(method, format!("{}{path}", self.h.url()))
            .header("Authorization", KEY);
        if let Some(b) = body {
            req = req.header("Content-Type", "text/plain").body(b.to_string());
        }
        let r = req.send().await.unwrap();
        let status = r.status().as_u16();
        (status, r.json().await.unwrap_or(Value::Null))
    }

    pub(super) async fn get(&self, path: &str) -> Value {
        let (s, v) = self.call(reqwest::Method::GET, path, None).await;
        assert_eq!(s, 200, "GET {path}: {v}");
        v
    }

    pub(super) async fn post(&self, path: &str, body: &str) -> (u16, Value) {
        self.call(reqwest::Method::POST, path, Some(body)).await
    }

    pub(super) async fn delete(&self, path: &str) -> (u16, Value) {
        self.call(reqwest::Method::DELETE, path, None).await
    }

    /// A raw authenticated POST, for tests whose answer may never come.
    async fn post_raw(&self, path: &str, body: &str) -> reqwest::Result<reqwest::Response> {
        self.http
            .post(format!("{}{path}", self.h.url()))
            .header("Authorization", KEY)
            .body(body.to_string())
            .send()
            .await
    }

    fn real_writes(&self) -> usize {
        self.h
            .emulator
            .write_log()
            .iter()
            .filter(|w| !w.dry_run && w.status < 300)
            .count()
    }
}

pub(super) const DATA: &str = r#"{"connectionKey": "sales", "connection": {"handler": "Snowflake", "hostname": "h.example.com", "port": 443,
  "database": "SALES", "warehouse": "WH", "username": "u", "password": "s3cret-pw"},
  "options": {"tableTags": ["Finance"]},
  "sources": [{"table": "ORDERS", "schema": "PUBLIC"}, {"table": "CREDIT_ACCOUNTS", "schema": "PUBLIC"}]}"#;

#[tokio::test]
async fn auth_accepts_raw_and_bearer_and_rejects_the_rest() {
    let t = T::new().await;
    let url = format!("{}/governance/purpose", t.h.url());
    for (header, want) in [
        (Some(KEY.to_string()), 200),
        (Some(format!("Bearer {KEY}")), 200),
        (Some("Bearer nope".into()), 401),
        (None, 401),
    ] {
        let mut req = t.http.get(&url);
        if let Some(h) = header {
            req = req.header("Authorization", h);
        }
        let r = req.send().await.unwrap();
        assert_eq!(r.status().as_u16(), want);
        if want == 401 {
            let body: Value = r.json().await.unwrap();
            assert_eq!(
                body,
                json!({"statusCode": 401, "error": "Unauthorized", "message": "A valid Authorization token must be provided."})
            );
        }
    }
    let r = t
        .http
        .post(format!("{}/api/v2/data", t.h.url()))
        .body(DATA)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 401);
    assert!(
        t.h.emulator.write_log().is_empty(),
        "an unauthenticated request never reaches a handler"
    );
    t.h.shutdown().await;
}

#[tokio::test]
async fn upserts_answer_the_documented_shapes() {
    let t = T::new().await;
    let (s, v) = t
        .post("/api/v2/purpose", "name: Marketing\ndescription: m\n")
        .await;
    assert_eq!(s, 200);
    assert_eq!(
        v,
        json!({"dryRun": false, "creating": true, "updating": false, "purposeId": 5})
    );
    let (_, v) = t.post("/api/v2/data", DATA).await;
    assert_eq!(
        v,
        json!({"dryRun": false, "creating": ["Public Orders", "Public Credit Accounts"], "updating": [], "deleting": [],
        "noChange": [], "detectionRunning": false, "tagsUpdated": true, "connectionString": "u@h.example.com:443/SALES"})
    );
    let policy = "policyKey: mask\nname: Mask\ntype: data\nactions:\n- rules:\n  - type: Masking\n    config:\n      fields: [{type: columnTags, columnTag: PII}]\n      maskingConfig: {type: Hash}\n";
    let (_, v) = t.post("/api/v2/policy", policy).await;
    assert_eq!(
        v,
        json!({"dryRun": false, "creating": true, "updating": false, "policyId": 2})
    );
    let project = r#"{"projectKey": "p", "name": "P", "purposes": ["Marketing"], "datasources": ["Public Orders"], "workspace": {"type": "snowflake", "config": {}}}"#;
    let (_, v) = t.post("/api/v2/project", project).await;
    assert_eq!(
        v,
        json!({"dryRun": false, "creating": true, "updating": false, "numberOfDataSourcesAdded": 1,
        "numberOfDataSourcesRemoved": 0, "creatingWorkspace": true, "deletingWorkspace": false, "projectId": 1})
    );
    // Identical re-POSTs change nothing and keep their ids.
    assert_eq!(t.post("/api/v2/policy", policy).await.1["updating"], false);
    assert_eq!(t.post("/api/v2/project", project).await.1["projectId"], 1);
    let (_, v) = t.post("/api/v2/data", DATA).await;
    assert_eq!(
        (v["noChange"].clone(), v["tagsUpdated"].clone()),
        (
            json!(["Public Orders", "Public Credit Accounts"]),
            json!(false)
        )
    );
    // Shape errors are 400 and name the field; unknown references are 422.
    let (s, v) = t
        .post(
            "/api/v2/policy",
            "policyKey: x\nname: X\ntype: subscription\nactions: {type: everybody}\n",
        )
        .await;
    assert_eq!((s, v["error"].clone()), (400, json!("Bad Request")));
    assert!(v["message"].as_str().unwrap().contains("actions.type"));
    let (s, v) = t
        .post(
            "/api/v2/project",
            r#"{"projectKey": "q", "name": "Q", "datasources": ["Nope"]}"#,
        )
        .await;
    assert_eq!(
        (s, v["error"].clone()),
        (422, json!("Unprocessable entity"))
    );
    let (s, v) = t.post("/api/v2/data", r#"{"connectionKey": "x", "connection": {"handler": "Snowflake", "password": "s3cret-pw"}}"#).await;
    assert_eq!(s, 400);
    assert!(!v.to_string().contains("s3cret-pw"));
    t.h.shutdown().await;
}

#[tokio::test]
async fn dry_runs_never_write() {
    let t = T::new().await;
    t.post("/api/v2/data", DATA).await;
    let before = (
        t.get("/dataSource?size=1000").await,
        t.get("/governance/purpose").await,
        t.get("/policy/global").await,
    );
    let writes = t.real_writes();
    t.post("/api/v2/purpose?dryRun=true", "name: New\n").await;
    t.post(
        "/api/v2/policy?dryRun=true",
        r#"{"policyKey": "k", "name": "K", "type": "subscription", "actions": {"type": "anyone"}}"#,
    )
    .await;
    let (_, v) = t
        .post(
            "/api/v2/data?dryRun=true",
            &DATA.replace("ORDERS", "RETURNS"),
        )
        .await;
    assert_eq!(
        (v["dryRun"].clone(), v["connectionString"].clone()),
        (json!(true), Value::Null)
    );
    assert_eq!(
        (v["creating"].clone(), v["deleting"].clone()),
        (json!(["Public Returns"]), json!(["Public Orders"]))
    );
    let (_, v) = t.delete("/api/v2/data/sales?dryRun=true").await;
    assert_eq!(
        v,
        json!({"dryRun": true, "deleting": ["Public Orders", "Public Credit Accounts"]})
    );
    let after = (
        t.get("/dataSource?size=1000").await,
        t.get("/governance/purpose").await,
        t.get("/policy/global").await,
    );
    assert_eq!(before, after);
    assert_eq!(t.real_writes(), writes);
    assert!(
        t.h.emulator
            .write_log()
            .iter()
            .filter(|w| w.dry_run)
            .count()
            >= 4
    );
    // dryRun in a body is not honoured: neither on POST nor on DELETE (clients.md §3).
    let (_, v) = t
        .post(
            "/api/v2/purpose",
            r#"{"name": "Body Flag", "dryRun": true}"#,
        )
        .await;
    assert_eq!(v["dryRun"], false);
    let r = t
        .http
        .delete(format!("{}/api/v2/data/sales", t.h.url()))
        .header("Authorization", KEY)
        .header("Content-Type", "application/json")
        .body(r#"{"dryRun":"true"}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    assert_eq!(t.delete("/api/v2/data/sales?dryRun=true").await.0, 404);
    t.h.shutdown().await;
}

#[tokio::test]
async fn data_is_full_state_per_connection_key() {
    let t = T::new().await;
    t.post("/api/v2/data", DATA).await;
    let one = DATA
        .replace(r#", {"table": "CREDIT_ACCOUNTS", "schema": "PUBLIC"}"#, "")
        .replace(r#"["Finance"]"#, r#"["Sales"]"#);
    let (_, v) = t.post("/api/v2/data", &one).await;
    assert_eq!(
        (
            v["updating"].clone(),
            v["deleting"].clone(),
            v["tagsUpdated"].clone()
        ),
        (
            json!(["Public Orders"]),
            json!(["Public Credit Accounts"]),
            json!(true)
        )
    );
    let list = t.get("/dataSource").await;
    let disabled: Vec<&Value> = list["hits"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|h| h["deleted"] == true)
        .collect();
    assert_eq!(
        disabled.len(),
        1,
        "omitted tables are disabled without hardDelete"
    );
    let hard = one
        .replace(r#""options": {"#, r#""options": {"hardDelete": true, "#)
        .replace("ORDERS", "RETURNS");
    let (_, v) = t.post("/api/v2/data", &hard).await;
    assert_eq!(
        (v["creating"].clone(), v["deleting"].clone()),
        (json!(["Public Returns"]), json!(["Public Orders"]))
    );
    assert_eq!(
        t.get("/dataSource").await["count"],
        1,
        "with hardDelete every source left out is removed, disabled ones too"
    );
    let moved = hard.replace("h.example.com", "h2.example.com");
    let (_, v) = t.post("/api/v2/data", &moved).await;
    assert_eq!(
        (v["creating"].clone(), v["deleting"].clone()),
        (json!(["Public Returns"]), json!(["Public Returns"]))
    );
    t.h.shutdown().await;
}

#[tokio::test]
async fn deletes_and_not_found() {
    let t = T::new().await;
    t.post(
        "/api/v2/purpose",
        "name: Root\nsubpurposes:\n- name: Root.A\n- name: Root.A.B\n",
    )
    .await;
    t.post("/api/v2/data", DATA).await;
    t.post(
        "/api/v2/project",
        r#"{"projectKey": "p", "name": "P", "datasources": ["Public Orders"]}"#,
    )
    .await;
    let (s, v) = t.delete("/api/v2/data/unknown").await;
    assert_eq!(
        (s, v),
        (
            404,
            json!({"statusCode": 404, "error": "Not Found", "message": "The connection key \"unknown\" was not found"})
        )
    );
    assert_eq!(
        t.delete("/api/v2/project/p").await,
        (200, json!({"dryRun": false, "deleting": "P"}))
    );
    let hit = &t.get("/project").await["hits"][0];
    assert_eq!(
        hit["deleted"],
        json!(true),
        "a plain delete disables (000:1732-1743)"
    );
    assert_eq!(
        t.delete("/api/v2/project/p?hardDelete=true").await,
        (200, json!({"dryRun": false, "deleting": "P"}))
    );
    assert_eq!(t.get("/project").await["count"], json!(0));
    assert_eq!(t.delete("/api/v2/project/p").await.0, 404);
    let nca = t.get("/policy/global/1").await;
    assert_eq!(nca["systemGenerated"], true);
    assert_eq!(t.delete("/policy/global/999").await.0, 404);
    assert_eq!(t.delete("/policy/global/abc").await.0, 404);
    let (s, v) = t.delete("/governance/purpose/5").await;
    assert_eq!(s, 200);
    let names: Vec<&str> = v
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["Root", "Root.A", "Root.A.B"]);
    assert!(v.as_array().unwrap().iter().all(|p| p["deleted"] == true));
    assert_eq!(
        t.get("/governance/purpose/6").await["deleted"],
        json!(true),
        "a deleted purpose reads as deleted"
    );
    assert_eq!(t.delete("/governance/purpose/6").await.0, 404);
    let id = t.get("/dataSource").await["hits"][0]["id"]
        .as_u64()
        .unwrap();
    let (_, first) = t.delete(&format!("/dataSource/{id}")).await;
    assert_eq!(
        (first["disabled"].clone(), first["hardDelete"].clone()),
        (json!(true), json!(false))
    );
    let (_, second) = t.delete(&format!("/dataSource/{id}")).await;
    assert_eq!(second["hardDelete"], true);
    assert_eq!(t.delete(&format!("/dataSource/{id}")).await.0, 404);
    for w in t.h.emulator.write_log() {
        if w.status != 404 {
            continue;
        }
        assert!(w.method == "DELETE");
    }
    let log = t.get("/_emulator/writes").await;
    assert!(log.as_array().unwrap().len() >= 10);
    assert!(!log.to_string().contains("s3cret-pw"));
    t.h.shutdown().await;
}

#[tokio::test]
async fn lists_page_with_count_and_short_last_page() {
    let t = T::new().await;
    {
        let mut subs = String::new();
        for i in 0..20 {
            subs.push_str(&format!("- name: Big.Sub {i:02}\n"));
        }
        t.post(
            "/api/v2/purpose",
            &format!("name: Big\nsubpurposes:\n{subs}"),
        )
        .await;
    }
    // 4 built-ins + Big + 20 subs.
    let p1 = t.get("/governance/purpose?offset=0&size=10").await;
    assert_eq!(
        (
            p1["count"].clone(),
            p1["purposes"].as_array().unwrap().len()
        ),
        (json!(25), 10)
    );
    let p3 = t.get("/governance/purpose?offset=20&size=10").await;
    assert_eq!(p3["purposes"].as_array().unwrap().len(), 5);
    assert_eq!(
        t.get("/governance/purpose").await["purposes"]
            .as_array()
            .unwrap()
            .len(),
        25,
        "default size 50"
    );
    for i in 0..12 {
        t.post(
            "/api/v2/project",
            &format!("projectKey: p{i}\nname: Project {i}\n"),
        )
        .await;
    }
    let d = t.get("/project").await;
    assert_eq!(
        (d["count"].clone(), d["hits"].as_array().unwrap().len()),
        (json!(12), 10),
        "default size 10"
    );
    assert!(
        d["hits"][0].get("projectKey").is_none(),
        "hits carry no projectKey (004:114-175)"
    );
    assert_eq!(
        t.get("/project?offset=10&size=10").await["hits"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
    assert_eq!(t.get("/project?searchText=project%2011").await["count"], 1);
    let big = t.get("/governance/purpose?size=5000").await;
    assert_eq!(
        big["purposes"].as_array().unwrap().len(),
        25,
        "size capped, not refused"
    );
    assert_eq!(
        t.call(reqwest::Method::GET, "/project?size=ten", None)
            .await
            .0,
        400
    );
    let names = t.get("/policy/global?nameOnly=true").await;
    assert_eq!(
        names,
        json!([{"name": "New Column Added", "id": 1, "type": "data"}])
    );
    t.h.shutdown().await;
}

#[test]
fn ten_thousand_objects_list_fast() {
    let emu = Emulator::new(Options::default()).unwrap();
    emu.with_store(|s| {
        let subs: Vec<Value> = (0..10_000)
            .map(|i| json!({"name": format!("R.{i:05}")}))
            .collect();
        s.upsert_purpose(&json!({"name": "R", "subpurposes": subs}), false)
            .map(|_| ())
    })
    .unwrap();
    let started = std::time::Instant::now();
    emu.with_store(|s| {
        assert_eq!(s.purposes.len(), 10_005);
        assert_eq!(s.descendants("R").len(), 10_000);
        Ok(())
    })
    .unwrap();
    assert!(started.elapsed() < Duration::from_secs(2));
}

#[tokio::test]
async fn seed_directory_is_applied_in_dependency_order() {
    let dir = tempfile::tempdir().unwrap();
    let w = |rel: &str, text: &str| {
        let p = dir.path().join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
    };
    w("remote.yaml", "databases:\n- hostname: db.example.com\n  database: public\n  schemas:\n    public: [credit_accounts, credit_transactions]\n");
    w(
        "project/p.yaml",
        "projectKey: p\nname: P\npurposes: [Ops]\ndatasources: [Public Credit Accounts]\n",
    );
    w("purpose/all.yaml", "name: Ops\n---\nname: Audit\n");
    w("data/d.yml", "connectionKey: demo\nconnection: {handler: Snowflake, hostname: db.example.com, database: public, schema: public, password: x}\nnameTemplate: {schemaProjectNameFormat: <Schema>}\n");
    w(
        "policy/p.json",
        r#"{"policyKey": "s", "name": "S", "type": "subscription", "actions": {"type": "manual"}}"#,
    );
    let t = T::with(Options {
        api_key: KEY.into(),
        seed: Some(dir.path().to_path_buf()),
        ..Default::default()
    })
    .await;
    assert_eq!(t.get("/dataSource").await["count"], 2);
    assert_eq!(t.get("/governance/purpose").await["count"], 6);
    assert_eq!(t.get("/policy/global").await.as_array().unwrap().len(), 2);
    let projects = t.get("/project").await;
    let types: Vec<Value> = projects["hits"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["type"].clone())
        .collect();
    assert_eq!(
        types,
        [json!("Schema"), Value::Null],
        "a schema project from schemaProjectNameFormat"
    );
    assert!(
        t.h.emulator.write_log().is_empty(),
        "seeding is not a write"
    );
    t.h.shutdown().await;

    w(
        "policy/bad.yaml",
        "policyKey: b\nname: B\ntype: nope\nactions: {}\n",
    );
    let err = Emulator::new(Options {
        seed: Some(dir.path().to_path_buf()),
        ..Default::default()
    })
    .unwrap_err();
    assert!(err.to_string().contains("bad.yaml"), "{err}");
}

#[tokio::test]
async fn reset_restores_the_seeded_start() {
    let seed = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/demo/live");
    let t = T::with(Options {
        api_key: KEY.into(),
        seed: Some(seed),
        ..Default::default()
    })
    .await;
    let before = t.get("/governance/purpose").await;
    let (s, _) = t.post("/api/v2/purpose", "name: Added Later\n").await;
    assert_eq!(s, 200);
    assert_ne!(t.get("/governance/purpose").await["count"], before["count"]);
    assert_eq!(t.real_writes(), 1);
    t.h.emulator.reset().unwrap();
    assert_eq!(t.get("/governance/purpose").await, before);
    assert!(t.h.emulator.write_log().is_empty());
}
