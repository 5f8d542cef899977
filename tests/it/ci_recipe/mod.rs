//! `examples/ci/github-actions.yml` really runs: every `run:` step of its `plan` job is
//! taken from the file and executed with bash, in order, as the runner would (`if:`,
//! step `env:` with secrets, `GITHUB_*` variables), on a shallow `git clone` of a real
//! repository, against the emulator. The comment API is a local stub of GitHub's issue
//! comments endpoints. Only the install step is replaced: the binary under test is put
//! on `PATH` instead of being copied out of the published image. The GitLab recipe's
//! test is in `gitlab.rs`.

use crate::common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Mutex};

use axum::extract::{Path as UrlPath, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::{get, patch};
use axum::{Json, Router};
use common::*;
use serde_json::{json, Value};

mod gitlab;

const TOKEN: &str = "ghs_test-token-8c1d";
const PR: u64 = 7;
const MARKER: &str = "<!-- immuta-gitops plan -->";

#[derive(Default)]
struct Stub {
    /// (id, body, user type)
    comments: Vec<(u64, String, &'static str)>,
    /// "METHOD path" of every request.
    log: Vec<String>,
}

type Shared = Arc<Mutex<Stub>>;

fn authorized(h: &HeaderMap) -> bool {
    h.get("authorization").and_then(|v| v.to_str().ok()) == Some(&format!("Bearer {TOKEN}"))
}

async fn list(
    State(s): State<Shared>,
    UrlPath((_o, _r, n)): UrlPath<(String, String, u64)>,
    Query(q): Query<BTreeMap<String, String>>,
    h: HeaderMap,
) -> Result<Json<Value>, StatusCode> {
    let mut s = s.lock().unwrap();
    s.log.push(format!("GET comments page={}", q["page"]));
    if !authorized(&h) || n != PR {
        return Err(StatusCode::UNAUTHORIZED);
    }
    let per: usize = q["per_page"].parse().unwrap();
    let page: usize = q["page"].parse().unwrap();
    let items: Vec<Value> = s
        .comments
        .iter()
        .skip((page - 1) * per)
        .take(per)
        .map(|(id, body, kind)| json!({"id": id, "body": body, "user": {"login": "x", "type": kind}}))
        .collect();
    Ok(Json(Value::Array(items)))
}

async fn create(
    State(s): State<Shared>,
    UrlPath((_o, _r, n)): UrlPath<(String, String, u64)>,
    h: HeaderMap,
    Json(b): Json<Value>,
) -> Result<(StatusCode, Json<Value>), StatusCode> {
    let mut s = s.lock().unwrap();
    s.log.push("POST comment".into());
    if !authorized(&h) || n != PR {
        return Err(StatusCode::UNAUTHORIZED);
    }
    let id = 1000 + s.comments.len() as u64;
    s.comments
        .push((id, b["body"].as_str().unwrap().to_string(), "Bot"));
    Ok((StatusCode::CREATED, Json(json!({"id": id}))))
}

async fn update(
    State(s): State<Shared>,
    UrlPath((_o, _r, id)): UrlPath<(String, String, u64)>,
    h: HeaderMap,
    Json(b): Json<Value>,
) -> Result<Json<Value>, StatusCode> {
    let mut s = s.lock().unwrap();
    s.log.push(format!("PATCH comment {id}"));
    if !authorized(&h) {
        return Err(StatusCode::UNAUTHORIZED);
    }
    edit_body(s.comments.iter_mut().map(|c| (c.0, &mut c.1)), id, &b)
}

/// The edit endpoint of both stubs: sets the body of comment (or note) `id` from `b`.
fn edit_body<'a>(
    bodies: impl Iterator<Item = (u64, &'a mut String)>,
    id: u64,
    b: &Value,
) -> Result<Json<Value>, StatusCode> {
    let (_, body) = bodies
        .into_iter()
        .find(|(i, _)| *i == id)
        .ok_or(StatusCode::NOT_FOUND)?;
    *body = b["body"].as_str().unwrap().to_string();
    Ok(Json(json!({"id": id})))
}

async fn github_stub() -> (String, Shared) {
    let shared = Shared::default();
    let app = Router::new()
        .route("/repos/{o}/{r}/issues/{n}/comments", get(list).post(create))
        .route("/repos/{o}/{r}/issues/comments/{id}", patch(update))
        .with_state(shared.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    (format!("http://{addr}"), shared)
}

/// What one run of the job did.
struct Job {
    /// (step name, exit code; `None` when skipped)
    steps: Vec<(String, Option<i32>)>,
}

impl Job {
    fn code(&self, name: &str) -> Option<i32> {
        self.steps.iter().find(|s| s.0 == name).unwrap().1
    }
}

/// `${{ … }}` in a step's `env:`: the few expressions the workflow uses; anything else
/// fails the test, so the test is updated with the workflow.
fn expand(v: &str, secrets: &BTreeMap<&str, String>) -> String {
    let Some(inner) = v.strip_prefix("${{").and_then(|x| x.strip_suffix("}}")) else {
        assert!(!v.contains("${{"), "unsupported expression {v}");
        return v.to_string();
    };
    match inner.trim() {
        "github.token" => TOKEN.into(),
        "github.event.pull_request.number" => PR.to_string(),
        e => {
            let name = e
                .strip_prefix("secrets.")
                .unwrap_or_else(|| panic!("unsupported expression {v}"));
            secrets.get(name).cloned().unwrap_or_default()
        }
    }
}

/// Runs the `plan` job's steps in `ws` (a Git checkout).
fn run_job(
    workflow: &Value,
    ws: &Path,
    runner: &Path,
    api: &str,
    secrets: &BTreeMap<&str, String>,
) -> Job {
    let bin_dir = PathBuf::from(env!("CARGO_BIN_EXE_immuta-gitops"))
        .parent()
        .unwrap()
        .to_path_buf();
    let path = format!(
        "{}:{}",
        bin_dir.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let sha = git(ws, &["rev-parse", "HEAD"]);
    std::fs::create_dir_all(runner).unwrap();
    let global: BTreeMap<String, String> = workflow["env"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(k, v)| (k.clone(), v.as_str().unwrap().into()))
        .collect();
    let mut failed = false;
    let mut steps = Vec::new();
    for (i, step) in workflow["jobs"]["plan"]["steps"]
        .as_array()
        .unwrap()
        .iter()
        .enumerate()
    {
        let Some(script) = step["run"].as_str() else {
            assert!(step["uses"]
                .as_str()
                .unwrap()
                .starts_with("actions/checkout@"));
            continue;
        };
        let name = step["name"].as_str().unwrap().to_string();
        if name == "Install immuta-gitops" {
            assert!(script.contains("docker cp") && script.contains("GITHUB_PATH"));
            continue;
        }
        let runs = match step["if"].as_str() {
            None => !failed,
            Some("${{ !cancelled() }}") => true,
            Some(other) => panic!("unsupported if: {other}"),
        };
        if !runs {
            steps.push((name, None));
            continue;
        }
        let file = runner.join(format!("step-{i}.sh"));
        std::fs::write(&file, script).unwrap();
        let mut cmd = Command::new("bash");
        cmd.args(["--noprofile", "--norc", "-eo", "pipefail"])
            .arg(&file)
            .current_dir(ws);
        for (k, _) in std::env::vars() {
            if k.starts_with("IMMUTA") || k.starts_with("GITHUB") {
                cmd.env_remove(k);
            }
        }
        cmd.env("PATH", &path)
            .env("GITHUB_OUTPUT", runner.join("output"))
            .env("GITHUB_PATH", runner.join("path"))
            .env("GITHUB_API_URL", api)
            .env("GITHUB_REPOSITORY", "acme/governance")
            .env("GITHUB_SHA", &sha)
            .env("GITHUB_WORKSPACE", ws)
            .env("RUNNER_TEMP", runner);
        for (k, v) in &global {
            cmd.env(k, v);
        }
        if let Some(env) = step["env"].as_object() {
            for (k, v) in env {
                cmd.env(k, expand(v.as_str().unwrap(), secrets));
            }
        }
        let out = cmd.output().unwrap();
        let code = out.status.code().unwrap_or(-1);
        eprintln!(
            "step {name}: exit {code}\n{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        failed |= code != 0;
        steps.push((name, Some(code)));
    }
    Job { steps }
}

fn git(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("git")
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

/// A fresh shallow checkout of `url`, as `actions/checkout` makes.
fn checkout(url: &str, ws: &Path) {
    let _ = std::fs::remove_dir_all(ws);
    git(
        ws.parent().unwrap(),
        &[
            "clone",
            "--quiet",
            "--depth",
            "1",
            url,
            ws.to_str().unwrap(),
        ],
    );
}

/// Commits what is staged in `repo` under a throwaway identity.
fn git_commit(repo: &Path, message: &str) {
    let args = ["-c", "user.name=t", "-c", "user.email=t@example.invalid"];
    git(
        repo,
        &[&args[..], &["commit", "--quiet", "-m", message]].concat(),
    );
}

fn commit(repo: &Path, rel: &str, content: &str) {
    std::fs::write(repo.join(rel), content).unwrap();
    git(repo, &["add", "-A"]);
    git_commit(repo, "change");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_github_workflow_validates_plans_and_keeps_one_sticky_comment() {
    let root = root();
    let workflow: Value = serde_yaml::from_str(
        &std::fs::read_to_string(root.join("examples/ci/github-actions.yml")).unwrap(),
    )
    .unwrap();
    // Validate runs without secrets; Plan gets the ones it needs.
    let steps = workflow["jobs"]["plan"]["steps"].as_array().unwrap();
    let step = |n: &str| steps.iter().find(|s| s["name"] == n).unwrap();
    assert!(
        step("Validate")["env"].is_null(),
        "validate must need no secret"
    );
    for k in ["IMMUTA_URL", "IMMUTA_API_KEY"] {
        assert_eq!(step("Plan")["env"][k], format!("${{{{ secrets.{k} }}}}"));
    }
    assert!(
        workflow["jobs"]["plan"]["container"].is_null(),
        "no non-root container for checkout"
    );

    let emu = emulator(Some(&root.join("examples/demo/live"))).await;
    let (api, stub) = github_stub().await;
    let tmp = tempfile::tempdir().unwrap();
    // The demo's purposes and policies (no templated secrets: validate needs none).
    let src = tmp.path().join("src");
    for kind in ["purpose", "policy"] {
        let from = root.join("examples/demo/desired").join(kind);
        std::fs::create_dir_all(src.join(kind)).unwrap();
        for f in std::fs::read_dir(&from).unwrap() {
            let f = f.unwrap().path();
            std::fs::copy(&f, src.join(kind).join(f.file_name().unwrap())).unwrap();
        }
    }
    let url = git_repo(&src, tmp.path());
    let origin = tmp.path().join("repo");
    let ws = tmp.path().join("ws");
    let runner = tmp.path().join("runner");
    let mut secrets = BTreeMap::from([
        ("IMMUTA_URL", emu.url()),
        ("IMMUTA_API_KEY", KEY.to_string()),
    ]);
    // Someone quoted the marker in a comment of their own: it must never be edited.
    stub.lock()
        .unwrap()
        .comments
        .push((1, format!("{MARKER} quoted by a person"), "User"));

    // 1. A plan: one new comment with the plan.
    checkout(&url, &ws);
    let job = run_job(&workflow, &ws, &runner, &api, &secrets);
    assert_eq!(job.code("Validate"), Some(0));
    assert_eq!(job.code("Plan"), Some(0));
    assert_eq!(job.code("Comment on the pull request"), Some(0));
    let body = |i: usize| stub.lock().unwrap().comments[i].1.clone();
    {
        let s = stub.lock().unwrap();
        assert_eq!(s.comments.len(), 2, "{:?}", s.log);
        assert!(s.log.contains(&"POST comment".to_string()));
    }
    let first = body(1);
    assert!(
        first.starts_with(&format!("{MARKER}\n\n**Plan: ")),
        "{first}"
    );
    assert!(first.contains("<details><summary><b>policy</b>"), "{first}");
    assert!(first.contains("```diff\n"), "{first}");
    assert!(!first.contains(KEY), "API key in the comment");
    assert_eq!(body(0), format!("{MARKER} quoted by a person"));
    assert_eq!(real_writes(&emu), 0, "a plan writes nothing");

    // 2. Another push: the same comment is edited, none is added.
    commit(
        &origin,
        "purpose/fraud-detection.yaml",
        "name: Fraud Detection\nacknowledgement: I will use claims data only to investigate suspected fraud, waste or abuse.\ndescription: changed in the pull request\n",
    );
    checkout(&url, &ws);
    let job = run_job(&workflow, &ws, &runner, &api, &secrets);
    assert_eq!(job.code("Plan"), Some(0));
    {
        let s = stub.lock().unwrap();
        assert_eq!(s.comments.len(), 2, "still one sticky comment: {:?}", s.log);
        assert_eq!(s.log.last().unwrap(), "PATCH comment 1001");
    }
    assert_ne!(body(1), first);
    assert!(body(1).contains("purpose/Fraud Detection"), "{}", body(1));

    // 3. A broken manifest: validate fails, no plan runs, the comment shows the error.
    commit(&origin, "purpose/broken.yaml", "name: [unclosed\n");
    checkout(&url, &ws);
    let job = run_job(&workflow, &ws, &runner, &api, &secrets);
    assert_ne!(job.code("Validate"), Some(0));
    assert_eq!(job.code("Plan"), None, "skipped after a failed validate");
    assert_eq!(job.code("Comment on the pull request"), Some(0));
    let b = body(1);
    assert!(
        b.starts_with(&format!("{MARKER}\n\n**immuta-gitops: validate failed**")),
        "{b}"
    );
    assert!(b.contains("purpose/broken.yaml"), "{b}");
    assert_eq!(stub.lock().unwrap().comments.len(), 2);

    // 4. The plan fails (a wrong key): the error replaces the plan, without the key.
    git(&origin, &["rm", "--quiet", "purpose/broken.yaml"]);
    git_commit(&origin, "fix");
    let wrong = "wrong-key-3e9a7c";
    secrets.insert("IMMUTA_API_KEY", wrong.to_string());
    checkout(&url, &ws);
    let job = run_job(&workflow, &ws, &runner, &api, &secrets);
    assert_eq!(job.code("Validate"), Some(0));
    assert_eq!(job.code("Plan"), Some(1));
    assert_eq!(job.code("Comment on the pull request"), Some(0));
    let b = body(1);
    assert!(
        b.starts_with(&format!("{MARKER}\n\n**immuta-gitops: plan failed**")),
        "{b}"
    );
    assert!(b.contains("exit code 1"), "{b}");
    assert!(!b.contains(wrong), "API key in the comment: {b}");
    assert_eq!(stub.lock().unwrap().comments.len(), 2);
    assert_eq!(real_writes(&emu), 0);
}
