//! The GitLab recipe: the jobs of `examples/ci/gitlab-ci.yml` keep their path filters,
//! and their `script:` entries run in one `sh -e` as the runner does, against the
//! emulator, with a local stub of GitLab's merge-request notes API: one note per merge
//! request, kept up to date.

use super::*;

/// GitLab's notes stub: (id, body) per note of merge request 7 of project 42.
#[derive(Default)]
struct Notes {
    notes: Vec<(u64, String)>,
    log: Vec<String>,
}

type SharedNotes = Arc<Mutex<Notes>>;

fn gitlab_token(h: &HeaderMap) -> bool {
    h.get("private-token").and_then(|v| v.to_str().ok()) == Some(TOKEN)
}

async fn gitlab_stub() -> (String, SharedNotes) {
    async fn list(State(s): State<SharedNotes>, h: HeaderMap) -> Result<Json<Value>, StatusCode> {
        let mut s = s.lock().unwrap();
        s.log.push("GET notes".into());
        if !gitlab_token(&h) {
            return Err(StatusCode::UNAUTHORIZED);
        }
        Ok(Json(Value::Array(
            s.notes
                .iter()
                .map(|(id, b)| json!({"id": id, "body": b, "system": false}))
                .collect(),
        )))
    }
    async fn create(
        State(s): State<SharedNotes>,
        h: HeaderMap,
        Json(b): Json<Value>,
    ) -> Result<(StatusCode, Json<Value>), StatusCode> {
        let mut s = s.lock().unwrap();
        s.log.push("POST note".into());
        if !gitlab_token(&h) {
            return Err(StatusCode::UNAUTHORIZED);
        }
        let id = 500 + s.notes.len() as u64;
        s.notes.push((id, b["body"].as_str().unwrap().into()));
        Ok((StatusCode::CREATED, Json(json!({"id": id}))))
    }
    async fn update(
        State(s): State<SharedNotes>,
        UrlPath(id): UrlPath<u64>,
        h: HeaderMap,
        Json(b): Json<Value>,
    ) -> Result<Json<Value>, StatusCode> {
        let mut s = s.lock().unwrap();
        s.log.push(format!("PUT note {id}"));
        if !gitlab_token(&h) {
            return Err(StatusCode::UNAUTHORIZED);
        }
        edit_body(s.notes.iter_mut().map(|n| (n.0, &mut n.1)), id, &b)
    }
    let shared = SharedNotes::default();
    let app = Router::new()
        .route(
            "/api/v4/projects/42/merge_requests/7/notes",
            get(list).post(create),
        )
        .route(
            "/api/v4/projects/42/merge_requests/7/notes/{id}",
            axum::routing::put(update),
        )
        .with_state(shared.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    (format!("http://{addr}/api/v4"), shared)
}

/// Runs one GitLab job's `script:` entries in one `sh -e` (as the runner does) in `dir`.
fn run_gitlab_job(ci: &Value, job: &str, dir: &Path, env: &[(&str, &str)]) -> i32 {
    let script: Vec<&str> = ci[job]["script"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_str().unwrap())
        .collect();
    let mut cmd = Command::new("sh");
    cmd.args(["-e", "-c", &script.join("\n")]).current_dir(dir);
    for (k, _) in std::env::vars() {
        if k.starts_with("IMMUTA") || k.starts_with("CI_") {
            cmd.env_remove(k);
        }
    }
    let bin_dir = PathBuf::from(env!("CARGO_BIN_EXE_immuta-gitops"))
        .parent()
        .unwrap()
        .to_path_buf();
    cmd.env(
        "PATH",
        format!(
            "{}:{}",
            bin_dir.display(),
            std::env::var("PATH").unwrap_or_default()
        ),
    );
    cmd.envs(env.iter().copied());
    let out = cmd.output().unwrap();
    eprintln!(
        "job {job}: {:?}\n{}{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out.status.code().unwrap_or(-1)
}

#[tokio::test(flavor = "multi_thread")]
async fn the_gitlab_jobs_plan_and_keep_one_note_per_merge_request() {
    let root = root();
    let ci: Value = serde_yaml::from_str(
        &std::fs::read_to_string(root.join("examples/ci/gitlab-ci.yml")).unwrap(),
    )
    .unwrap();
    // Every job keeps the path filter; the plan job needs nothing its image lacks.
    for job in ["immuta-plan", "immuta-note", "immuta-apply"] {
        let changes = &ci[job]["rules"][0]["changes"];
        assert!(
            changes
                .as_array()
                .unwrap()
                .iter()
                .any(|c| c == "policy/**/*"),
            "{job}: {changes}"
        );
    }
    let plan_script = ci["immuta-plan"]["script"].to_string();
    for tool in ["curl", "jq", "python", "wget"] {
        assert!(!plan_script.contains(tool), "the image has no {tool}");
    }
    assert_eq!(ci["immuta-note"]["rules"][0]["when"], "always");
    assert!(ci["immuta-note"]["image"]
        .as_str()
        .unwrap()
        .starts_with("python:"));

    let emu = emulator(Some(&root.join("examples/demo/live"))).await;
    let (api, notes) = gitlab_stub().await;
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("checkout");
    std::fs::create_dir_all(dir.join("purpose")).unwrap();
    let from = root.join("examples/demo/desired/purpose");
    for f in std::fs::read_dir(&from).unwrap() {
        let f = f.unwrap().path();
        std::fs::copy(&f, dir.join("purpose").join(f.file_name().unwrap())).unwrap();
    }
    let emu_url = emu.url();
    let env = [
        ("IMMUTA_URL", emu_url.as_str()),
        ("IMMUTA_API_KEY", KEY),
        ("CI_COMMIT_SHORT_SHA", "0123abcd"),
        ("CI_API_V4_URL", api.as_str()),
        ("CI_PROJECT_ID", "42"),
        ("CI_MERGE_REQUEST_IID", "7"),
        ("GITLAB_NOTE_TOKEN", TOKEN),
    ];
    let note = |i: usize| notes.lock().unwrap().notes[i].1.clone();

    assert_eq!(run_gitlab_job(&ci, "immuta-plan", &dir, &env), 0);
    assert_eq!(run_gitlab_job(&ci, "immuta-note", &dir, &env), 0);
    let first = note(0);
    assert!(first.starts_with(&format!("{MARKER}\n\n**")), "{first}");
    assert!(first.contains("<b>purpose</b>"), "{first}");

    std::fs::write(
        dir.join("purpose/extra.yaml"),
        "name: Extra\ndescription: added in the merge request\n",
    )
    .unwrap();
    assert_eq!(run_gitlab_job(&ci, "immuta-plan", &dir, &env), 0);
    assert_eq!(run_gitlab_job(&ci, "immuta-note", &dir, &env), 0);
    assert_eq!(
        notes.lock().unwrap().notes.len(),
        1,
        "one note per merge request"
    );
    assert!(
        note(0).contains("purpose/Extra will be created"),
        "{}",
        note(0)
    );

    std::fs::write(dir.join("purpose/broken.yaml"), "name: [unclosed\n").unwrap();
    assert_ne!(run_gitlab_job(&ci, "immuta-plan", &dir, &env), 0);
    assert_eq!(run_gitlab_job(&ci, "immuta-note", &dir, &env), 0);
    let b = note(0);
    assert!(
        b.starts_with(&format!("{MARKER}\n\n**immuta-gitops: validate failed**")),
        "{b}"
    );
    assert!(b.contains("purpose/broken.yaml"), "{b}");
    let s = notes.lock().unwrap();
    assert_eq!(s.notes.len(), 1, "{:?}", s.log);
    assert_eq!(
        s.log.iter().filter(|l| *l == "POST note").count(),
        1,
        "{:?}",
        s.log
    );
    assert_eq!(real_writes(&emu), 0);
}
