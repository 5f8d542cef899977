//! Shared test harness: an emulator on 127.0.0.1:0, temporary Git repositories made
//! with git2, and a runner for the real binary that captures its output.
#![allow(dead_code)]

pub mod applied;
pub mod daemon_proc;
pub mod pty;
pub mod receiver;

pub use applied::Applied;

use std::path::{Path, PathBuf};
use std::process::Output;

use immuta_emulator::{self as emulator, Handle, Options};

/// The env var of `--allow-weakening`, which [`run`] sets unless told otherwise.
pub const ALLOW_WEAKENING: &str = "IMMUTA_GITOPS_ALLOW_WEAKENING";

/// The API key every test emulator expects.
pub const KEY: &str = "test-key-5f2b9c1e";

/// The page cap of every test emulator: the docs give no maximum page size, so readers
/// must page by `count`; a small cap makes every list in every test span several pages.
pub const PAGE_CAP: usize = 7;

/// Starts an emulator, optionally seeded, with pages capped at [`PAGE_CAP`].
pub async fn emulator(seed: Option<&Path>) -> Handle {
    emulator::spawn(
        Options {
            api_key: KEY.into(),
            seed: seed.map(Path::to_path_buf),
            ..Default::default()
        }
        .with_max_page_size(PAGE_CAP),
    )
    .await
    .expect("emulator starts")
}

/// The crate root.
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Commits `src` into a fresh repository under `tmp`; returns its `file://` URL.
pub fn git_repo(src: &Path, tmp: &Path) -> String {
    let dst = tmp.join("repo");
    std::fs::create_dir_all(&dst).unwrap();
    immuta_gitops::demo::commit_dir(src, &dst, "test commit").unwrap();
    format!("file://{}", dst.display())
}

/// Writes files (relative path → content) into a new directory under `tmp`.
pub fn write_tree(tmp: &Path, name: &str, files: &[(&str, &str)]) -> PathBuf {
    let dir = tmp.join(name);
    for (rel, content) in files {
        let p = dir.join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, content).unwrap();
    }
    dir
}

/// One HTTP client for the tests' polls: building one per request (as `reqwest::get`
/// does) sets up TLS each time, which made a poll of `/status` slower than a daemon
/// cycle. It keeps no idle connection, so nothing outlives the test runtime that opened
/// it.
pub fn http() -> &'static reqwest::Client {
    static CLIENT: std::sync::OnceLock<reqwest::Client> = std::sync::OnceLock::new();
    CLIENT.get_or_init(|| {
        reqwest::Client::builder()
            .pool_max_idle_per_host(0)
            .build()
            .unwrap()
    })
}

/// Runs the binary with `args` and extra env vars; never inherits IMMUTA_* from the caller.
///
/// `reconcile --apply` and `apply` run with `--allow-weakening` (its env var) unless
/// `env` says otherwise: the tests of other capabilities apply weakening changes (deletes,
/// the demo's unmasking) as they always did; the holds themselves are tested in `risk`.
pub async fn run(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_immuta-gitops"));
    cmd.args(args);
    for (k, _) in std::env::vars() {
        if k.starts_with("IMMUTA") {
            cmd.env_remove(k);
        }
    }
    cmd.env(ALLOW_WEAKENING, "true");
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.kill_on_drop(true);
    cmd.output().await.expect("binary runs")
}

/// Runs `reconcile` against an emulator with the right key.
pub async fn reconcile(
    url: &str,
    mode: &str,
    repo: &str,
    extra: &[&str],
    env: &[(&str, &str)],
) -> Output {
    let cache = tempfile::tempdir().unwrap();
    let mut args = vec![
        "reconcile",
        mode,
        "--repo",
        repo,
        "--immuta-url",
        url,
        "--cache-dir",
    ];
    let cache_path = cache.path().to_string_lossy().to_string();
    args.push(&cache_path);
    args.extend_from_slice(extra);
    let mut all_env = vec![("IMMUTA_API_KEY", KEY)];
    all_env.extend_from_slice(env);
    let out = run(&args, &all_env).await;
    drop(cache);
    out
}

/// Stdout and stderr as text.
pub fn text(o: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

/// Writes that changed the emulator's state (dry runs and failures excluded).
pub fn real_writes(h: &Handle) -> usize {
    h.emulator
        .write_log()
        .iter()
        .filter(|w| !w.dry_run && w.status < 300)
        .count()
}

/// Env vars for the demo's `{{EnvVar}}` secrets, with the values `examples/demo/live` holds.
pub fn demo_env() -> Vec<(&'static str, &'static str)> {
    vec![
        ("SNOWFLAKE_PASSWORD", "demo-snowflake_password"),
        ("DATABRICKS_TOKEN", "demo-databricks_token"),
        ("REDSHIFT_PASSWORD", "demo-redshift_password"),
    ]
}

/// Compares `actual` with the golden file `tests/fixtures/golden/<name>`; with
/// `UPDATE_GOLDEN=1` the file is rewritten instead.
pub fn assert_golden(name: &str, actual: &str) {
    let path = root().join("tests/fixtures/golden").join(name);
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, actual).unwrap();
        return;
    }
    let expected = std::fs::read_to_string(&path).unwrap_or_else(|_| {
        panic!(
            "missing golden file {}: run with UPDATE_GOLDEN=1",
            path.display()
        )
    });
    if expected != actual {
        let diff = similar::TextDiff::from_lines(expected.as_str(), actual);
        panic!(
            "{} differs from the output (UPDATE_GOLDEN=1 to accept):\n{}",
            path.display(),
            diff.unified_diff().header("golden", "actual")
        );
    }
}

/// Replaces the parts of a plan that change between runs (temporary paths, revisions).
pub fn redact_run(text: &str, repo: &str) -> String {
    let mut out = text.replace(repo, "[REPO]");
    let mut result = String::with_capacity(out.len());
    for line in out.lines() {
        let line = match line.find(" at ") {
            Some(i) if line.starts_with("Source: ") || line.starts_with("No changes.") => {
                format!(
                    "{} at [REV]{}",
                    &line[..i],
                    if line.ends_with('.') { "." } else { "" }
                )
            }
            _ => line.to_string(),
        };
        result.push_str(&line);
        result.push('\n');
    }
    out.clear();
    result
}

// ---------------------------------------------------------------------------------------
// Helpers for the fault, prune and saved-plan tests.

/// Every `{{EnvVar "NAME"}}` / `${NAME}` used under `dir`, each with a distinct secret value.
pub fn secret_env(dir: &Path) -> Vec<(String, String)> {
    let mut names = std::collections::BTreeSet::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else if let Ok(text) = std::fs::read_to_string(&p) {
                for part in text.split("EnvVar \"").skip(1) {
                    names.insert(part.split('"').next().unwrap().to_string());
                }
                for part in text.split("${").skip(1) {
                    names.insert(part.split('}').next().unwrap().to_string());
                }
            }
        }
    }
    names
        .into_iter()
        .map(|n| (n.clone(), format!("s3cret-value-for-{n}")))
        .collect()
}

/// `secret_env` pairs as `(&str, &str)` for [`run`] and [`reconcile`].
pub fn env_refs(secrets: &[(String, String)]) -> Vec<(&str, &str)> {
    secrets
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect()
}

/// Collects every text a test produced (stdout, stderr, plan files, /status bodies) and
/// checks at the end that neither the API key nor any templated secret value is in it.
#[derive(Debug, Default)]
pub struct SecretScan {
    texts: Vec<(String, String)>,
}

impl SecretScan {
    /// Adds one text under a label (shown when a secret is found).
    pub fn add(&mut self, label: &str, text: impl Into<String>) {
        self.texts.push((label.to_string(), text.into()));
    }

    /// Adds a process's stdout and stderr.
    pub fn output(&mut self, label: &str, o: &Output) {
        let (out, err) = text(o);
        self.add(&format!("{label} stdout"), out);
        self.add(&format!("{label} stderr"), err);
    }

    /// Panics naming the text and the secret when any secret occurs in any text.
    /// Returns how many bytes were scanned.
    pub fn assert_clean(&self, secrets: &[(String, String)]) -> usize {
        assert!(!self.texts.is_empty(), "nothing was captured");
        let mut bytes = 0;
        for (label, t) in &self.texts {
            bytes += t.len();
            assert!(!t.contains(KEY), "the API key leaked in {label}:\n{t}");
            for (name, v) in secrets {
                assert!(
                    !t.contains(v.as_str()),
                    "the value of {name} leaked in {label}:\n{t}"
                );
            }
        }
        bytes
    }
}

/// Starts an emulator with explicit options (the key is always [`KEY`]; pages are capped
/// at [`PAGE_CAP`] unless `opts` sets another cap).
pub async fn emulator_with(opts: Options) -> Handle {
    let cap = if opts.max_page_size == Options::default().max_page_size {
        PAGE_CAP
    } else {
        opts.max_page_size
    };
    emulator::spawn(Options {
        api_key: KEY.into(),
        max_page_size: cap,
        ..opts
    })
    .await
    .expect("emulator starts")
}

/// Polls `cond` every 5 ms until it holds; panics after `deadline` naming `what`.
pub async fn wait_until(what: &str, deadline: std::time::Duration, mut cond: impl FnMut() -> bool) {
    let end = std::time::Instant::now() + deadline;
    while !cond() {
        assert!(
            std::time::Instant::now() < end,
            "timed out waiting for {what}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
}

/// Non-dry-run writes that succeeded, as `(method, path, key)`.
pub fn real_write_records(h: &Handle) -> Vec<(String, String, String)> {
    h.emulator
        .write_log()
        .into_iter()
        .filter(|w| !w.dry_run && w.status < 300)
        .map(|w| (w.method, w.path, w.key))
        .collect()
}

/// Every JSON document printed on stdout, in order (`--output json` prints the plan,
/// then, with `--apply`, the results).
pub fn json_docs(stdout: &str) -> Vec<serde_json::Value> {
    serde_json::Deserializer::from_str(stdout)
        .into_iter::<serde_json::Value>()
        .map(|d| d.unwrap())
        .collect()
}

/// `kind/name` of every change of a JSON plan whose action writes.
pub fn planned_writes(plan: &serde_json::Value) -> std::collections::BTreeSet<String> {
    plan["changes"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| matches!(c["action"].as_str(), Some("create" | "update" | "delete")))
        .map(|c| {
            format!(
                "{}/{}",
                c["key"]["kind"].as_str().unwrap(),
                c["key"]["name"].as_str().unwrap()
            )
        })
        .collect()
}

/// A Git repository in a temp dir that tests commit to (with git2).
pub struct TestRepo {
    /// The work tree.
    pub dir: PathBuf,
    git: git2::Repository,
}

impl TestRepo {
    /// An empty repository at `tmp/<name>`.
    pub fn new(tmp: &Path, name: &str) -> TestRepo {
        let dir = tmp.join(name);
        let git = git2::Repository::init(&dir).unwrap();
        TestRepo { dir, git }
    }

    /// `file://` URL of the repository.
    pub fn url(&self) -> String {
        format!("file://{}", self.dir.display())
    }

    /// Copies every file under `src` into the work tree (no commit).
    pub fn copy_from(&self, src: &Path) {
        let mut stack = vec![src.to_path_buf()];
        while let Some(d) = stack.pop() {
            for e in std::fs::read_dir(&d).unwrap() {
                let p = e.unwrap().path();
                if p.is_dir() {
                    stack.push(p);
                } else {
                    let rel = p.strip_prefix(src).unwrap();
                    let dst = self.dir.join(rel);
                    std::fs::create_dir_all(dst.parent().unwrap()).unwrap();
                    std::fs::copy(&p, dst).unwrap();
                }
            }
        }
    }

    /// Copies the work tree (without `.git`) to `dst`, a plain directory.
    pub fn copy_to(&self, dst: &Path) {
        let mut stack = vec![self.dir.clone()];
        while let Some(d) = stack.pop() {
            for e in std::fs::read_dir(&d).unwrap() {
                let p = e.unwrap().path();
                if p.file_name().is_some_and(|n| n == ".git") {
                    continue;
                }
                if p.is_dir() {
                    stack.push(p);
                } else {
                    let to = dst.join(p.strip_prefix(&self.dir).unwrap());
                    std::fs::create_dir_all(to.parent().unwrap()).unwrap();
                    std::fs::copy(&p, to).unwrap();
                }
            }
        }
    }

    /// Writes (`Some`) or removes (`None`) files or whole directories, then commits
    /// everything in the work tree; returns the commit SHA.
    pub fn commit(&self, files: &[(&str, Option<&str>)]) -> String {
        self.commit_with_message("change", files)
    }

    /// [`TestRepo::commit`] with the commit message `message`.
    pub fn commit_with_message(&self, message: &str, files: &[(&str, Option<&str>)]) -> String {
        for (rel, content) in files {
            let p = self.dir.join(rel);
            match content {
                Some(c) => {
                    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
                    std::fs::write(&p, c).unwrap();
                }
                None if p.is_dir() => std::fs::remove_dir_all(&p).unwrap(),
                None => std::fs::remove_file(&p).unwrap(),
            }
        }
        let mut index = self.git.index().unwrap();
        index.clear().unwrap();
        index
            .add_all(["*"].iter(), git2::IndexAddOption::DEFAULT, None)
            .unwrap();
        index.write().unwrap();
        let tree = self.git.find_tree(index.write_tree().unwrap()).unwrap();
        let sig = git2::Signature::now("test", "test@example.invalid").unwrap();
        let parent = self.git.head().ok().and_then(|h| h.peel_to_commit().ok());
        let parents: Vec<&git2::Commit> = parent.iter().collect();
        self.git
            .commit(Some("HEAD"), &sig, &sig, message, &tree, &parents)
            .unwrap()
            .to_string()
    }
}

/// What a [`ScriptedServer`] does with one connection.
#[derive(Debug, Clone)]
pub enum Step {
    /// Read the request, then reset the connection without answering.
    Drop,
    /// Answer with this status, extra headers and JSON body, then close.
    Answer(u16, Vec<(&'static str, String)>, String),
}

/// A raw HTTP/1.1 server on 127.0.0.1 that plays a script, one step per connection
/// (the last step repeats), and records every request line with its arrival time.
pub struct ScriptedServer {
    /// `http://127.0.0.1:<port>`.
    pub url: String,
    /// `(request line, arrival)` of every request read.
    pub requests: std::sync::Arc<std::sync::Mutex<Vec<(String, std::time::Instant)>>>,
}

impl ScriptedServer {
    /// Starts the server in a tokio task.
    pub async fn start(script: Vec<Step>) -> ScriptedServer {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let requests = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let log = requests.clone();
        tokio::spawn(async move {
            let mut n = 0usize;
            loop {
                let Ok((mut sock, _)) = listener.accept().await else {
                    return;
                };
                let step = script[n.min(script.len() - 1)].clone();
                n += 1;
                // Read the head and the body (Content-Length) of one request.
                let mut buf = Vec::new();
                let mut chunk = [0u8; 4096];
                let head_end = loop {
                    let Ok(k) = sock.read(&mut chunk).await else {
                        break None;
                    };
                    if k == 0 {
                        break None;
                    }
                    buf.extend_from_slice(&chunk[..k]);
                    if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                        break Some(i + 4);
                    }
                };
                let Some(head_end) = head_end else { continue };
                let head = String::from_utf8_lossy(&buf[..head_end]).to_string();
                let len: usize = head
                    .lines()
                    .find_map(|l| {
                        let (k, v) = l.split_once(':')?;
                        k.eq_ignore_ascii_case("content-length")
                            .then(|| v.trim().parse().ok())?
                    })
                    .unwrap_or(0);
                while buf.len() < head_end + len {
                    let Ok(k) = sock.read(&mut chunk).await else {
                        break;
                    };
                    if k == 0 {
                        break;
                    }
                    buf.extend_from_slice(&chunk[..k]);
                }
                let line = head.lines().next().unwrap_or_default().to_string();
                log.lock().unwrap().push((line, std::time::Instant::now()));
                match step {
                    Step::Drop => {
                        let _ = sock.set_zero_linger();
                        drop(sock);
                    }
                    Step::Answer(status, headers, body) => {
                        let mut resp = format!(
                            "HTTP/1.1 {status} X\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n",
                            body.len()
                        );
                        for (k, v) in headers {
                            resp.push_str(&format!("{k}: {v}\r\n"));
                        }
                        resp.push_str("\r\n");
                        resp.push_str(&body);
                        let _ = sock.write_all(resp.as_bytes()).await;
                        let _ = sock.shutdown().await;
                    }
                }
            }
        });
        ScriptedServer { url, requests }
    }

    /// The request lines seen so far.
    pub fn lines(&self) -> Vec<String> {
        self.requests
            .lock()
            .unwrap()
            .iter()
            .map(|(l, _)| l.clone())
            .collect()
    }
}

/// The demo tenant in an emulator, and the demo's desired tree committed to a test
/// repository, with a distinct secret value for every placeholder.
pub struct DemoTenant {
    /// The emulator, seeded with `examples/demo/live`.
    pub emu: Handle,
    /// Holds the repository; dropped last.
    pub tmp: tempfile::TempDir,
    /// `examples/demo/desired`, committed once.
    pub repo: TestRepo,
    /// Placeholder name → secret value.
    pub secrets: Vec<(String, String)>,
    /// Output collected for the secret scan.
    pub scan: SecretScan,
}

impl DemoTenant {
    /// Starts the emulator and commits the desired tree.
    pub async fn start() -> DemoTenant {
        let root = root();
        let emu = emulator(Some(&root.join("examples/demo/live"))).await;
        let tmp = tempfile::tempdir().unwrap();
        let desired = root.join("examples/demo/desired");
        let repo = TestRepo::new(tmp.path(), "repo");
        repo.copy_from(&desired);
        repo.commit(&[]);
        let secrets = secret_env(&desired);
        DemoTenant {
            emu,
            tmp,
            repo,
            secrets,
            scan: SecretScan::default(),
        }
    }
}
