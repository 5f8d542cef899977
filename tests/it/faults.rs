//! The fault-tolerant client, proven against injected faults: the demo converges under
//! 5xx answers, throttling and dropped connections, and when answers are lost after the
//! write landed (a retried delete that finds nothing counts as done); a CLI killed with
//! SIGKILL mid-apply converges on the next run; retries follow the policy (Retry-After,
//! the total time budget, final 4xx answers); TLS verification is on unless explicitly
//! turned off.
//! Only 127.0.0.1 is contacted; every wait polls a condition with a deadline.

use crate::common;

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use common::*;
use immuta_emulator::Options;
use immuta_gitops::apply::{self, Outcome};
use immuta_gitops::client::{Client, ClientConfig, RetryPolicy};
use immuta_gitops::manifest::DesiredSet;
use immuta_gitops::object::{Kind, ObjectKey};
use immuta_gitops::plan::{Action, Change, Plan};
use immuta_gitops::redact::Secret;
use serde_json::json;

/// Flags that keep retries fast and make 35 % failing attempts harmless: the emulator's
/// `Retry-After: 1` is honoured up to the 50 ms cap, and 20 attempts per request make a
/// request that fails every time (0.35^20) practically impossible.
const FAST_RETRY: [&str; 4] = ["--retry-attempts", "20", "--retry-max-delay", "50ms"];

/// `kind/key` of a successful non-dry-run write, from the emulator's write log.
fn written_key(method: &str, path: &str, key: &str) -> String {
    let kind = match (method, path) {
        ("POST", "/api/v2/data") => "data",
        ("POST", "/api/v2/policy") => "policy",
        ("POST", "/api/v2/project") => "project",
        ("POST", "/api/v2/purpose") => "purpose",
        other => panic!("unexpected write {other:?} for {key}"),
    };
    format!("{kind}/{key}")
}

/// The demo applied once against an emulator with the given faults: the apply must
/// succeed with every planned object applied.
struct FaultyApply {
    emu: immuta_emulator::Handle,
    _tmp: tempfile::TempDir,
    repo: String,
    secrets: Vec<(String, String)>,
    scan: SecretScan,
    /// Planned writes (`kind/name`).
    planned: BTreeSet<String>,
    /// The apply's stderr (debug log).
    stderr: String,
}

impl FaultyApply {
    async fn run(faults: Options) -> FaultyApply {
        let root = root();
        let emu = emulator_with(Options {
            seed: Some(root.join("examples/demo/live")),
            ..faults
        })
        .await;
        let tmp = tempfile::tempdir().unwrap();
        let desired = root.join("examples/demo/desired");
        let repo = git_repo(&desired, tmp.path());
        let secrets = secret_env(&desired);
        let mut scan = SecretScan::default();

        let mut flags = vec!["--output", "json", "--log", "immuta_gitops=debug"];
        flags.extend_from_slice(&FAST_RETRY);
        let applied = reconcile(&emu.url(), "--apply", &repo, &flags, &env_refs(&secrets)).await;
        scan.output("apply", &applied);
        let (stdout, stderr) = text(&applied);
        assert_eq!(applied.status.code(), Some(0), "{stdout}\n{stderr}");
        let docs = json_docs(&stdout);
        assert_eq!(docs.len(), 2, "{stdout}");
        let planned = planned_writes(&docs[0]);
        assert!(planned.len() >= 8, "{planned:?}");
        let results = docs[1]["results"].as_array().unwrap();
        assert_eq!(results.len(), planned.len());
        assert!(
            results.iter().all(|r| r["outcome"]["result"] == "applied"),
            "{:#}",
            docs[1]
        );
        FaultyApply {
            emu,
            _tmp: tmp,
            repo,
            secrets,
            scan,
            planned,
            stderr,
        }
    }

    /// `kind/name` of every write that really changed the emulator.
    fn written(&self) -> BTreeSet<String> {
        real_write_records(&self.emu)
            .iter()
            .map(|(m, p, k)| written_key(m, p, k))
            .collect()
    }

    /// Still under faults, a re-plan shows no changes and writes nothing; no secret
    /// appeared anywhere.
    async fn assert_converged(mut self) {
        let writes = real_write_records(&self.emu).len();
        let mut flags = vec!["--detailed-exitcode"];
        flags.extend_from_slice(&FAST_RETRY);
        let again = reconcile(
            &self.emu.url(),
            "--plan",
            &self.repo,
            &flags,
            &env_refs(&self.secrets),
        )
        .await;
        self.scan.output("re-plan", &again);
        let (out, err) = text(&again);
        assert_eq!(again.status.code(), Some(0), "not converged:\n{out}\n{err}");
        assert!(out.contains("No changes."), "{out}");
        assert_eq!(writes, real_write_records(&self.emu).len());
        self.scan.assert_clean(&self.secrets);
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn demo_converges_under_5xx_throttling_and_resets() {
    let run = FaultyApply::run(Options {
        fault_rate: 0.2,
        throttle_rate: 0.1,
        reset_rate: 0.05,
        rng_seed: 20240611,
        ..Default::default()
    })
    .await;
    // Every intended change landed, and nothing else was written.
    assert_eq!(run.written(), run.planned, "writes differ from the plan");
    assert_eq!(real_write_records(&run.emu).len(), run.planned.len());
    // The faults really happened: the client logged its retries (at debug).
    let retries = run.stderr.matches("retrying").count();
    assert!(retries >= 5, "only {retries} retries:\n{}", run.stderr);
    run.assert_converged().await;
}

/// Records of real writes whose answer the emulator dropped after the write landed.
fn lost_writes(emu: &immuta_emulator::Handle) -> Vec<immuta_emulator::WriteRecord> {
    emu.emulator
        .write_log()
        .into_iter()
        .filter(|w| w.answer_lost && !w.dry_run)
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn demo_converges_when_answers_are_lost_after_the_write() {
    let run = FaultyApply::run(Options {
        fault_rate: 0.1,
        throttle_rate: 0.05,
        reset_rate: 0.05,
        lost_answer_rate: 0.3,
        rng_seed: 20240612,
        ..Default::default()
    })
    .await;
    // Answers really were lost after writes that landed (the test is not vacuous) ...
    let lost = lost_writes(&run.emu);
    assert!(!lost.is_empty(), "no answer was lost");
    assert!(lost.iter().all(|w| w.status < 300), "{lost:?}");
    // ... and the retries only repeated writes of planned keys: the set of keys really
    // written is the plan (a key may be written more than once).
    assert_eq!(run.written(), run.planned, "writes differ from the plan");
    assert!(
        real_write_records(&run.emu).len() > run.planned.len(),
        "no write was repeated"
    );
    run.assert_converged().await;
}

/// Demo files the lost-answer prune test removes from Git: one object of each kind.
const PRUNED: [&str; 4] = [
    "project/population-health-analytics.yaml",
    "policy/mask-provider-npi.yaml",
    "data/acme-redshift-finance.yaml",
    "purpose/population-health.yaml",
];

#[tokio::test(flavor = "multi_thread")]
async fn a_pruned_delete_whose_answer_was_lost_counts_as_done_on_retry() {
    let root = root();
    let emu = emulator_with(Options {
        seed: Some(root.join("examples/demo/live")),
        lost_answer_rate: 0.5,
        rng_seed: 7,
        ..Default::default()
    })
    .await;
    let tmp = tempfile::tempdir().unwrap();
    let desired = root.join("examples/demo/desired");
    let repo = TestRepo::new(tmp.path(), "repo");
    repo.copy_from(&desired);
    repo.commit(&[]);
    let secrets = secret_env(&desired);
    let env = env_refs(&secrets);
    let state = tmp.path().join("state").to_string_lossy().to_string();
    let mut scan = SecretScan::default();
    let run = |mode: &'static str, extra: &'static [&'static str]| {
        let mut flags = vec!["--state-dir", state.as_str()];
        flags.extend_from_slice(&FAST_RETRY);
        flags.extend_from_slice(extra);
        let (url, repo, env) = (emu.url(), repo.url(), env.clone());
        async move { reconcile(&url, mode, &repo, &flags, &env).await }
    };

    // Apply (under lost answers too), so the inventory names the demo's objects.
    let first = run("--apply", &[]).await;
    scan.output("apply", &first);
    assert_eq!(first.status.code(), Some(0), "{:?}", text(&first));

    // Remove one object of each kind, and the project's reference to the removed table.
    let project = "project/claims-fraud-review.yaml";
    let kept = std::fs::read_to_string(desired.join(project))
        .unwrap()
        .replace("  - Billing Invoices\n", "");
    let mut files: Vec<(&str, Option<&str>)> = PRUNED.iter().map(|f| (*f, None)).collect();
    files.push((project, Some(kept.as_str())));
    repo.commit(&files);
    let before = emu.emulator.write_log().len();

    let pruned = run("--apply", &["--prune", "--output", "json"]).await;
    scan.output("prune", &pruned);
    let (stdout, stderr) = text(&pruned);
    assert_eq!(pruned.status.code(), Some(0), "{stdout}\n{stderr}");
    let docs = json_docs(&stdout);
    assert_eq!(docs[0]["summary"]["destroy"], 5, "{:#}", docs[0]);
    let results = docs[1]["results"].as_array().unwrap();
    assert!(
        results.iter().all(|r| r["outcome"]["result"] == "applied"),
        "{:#}",
        docs[1]
    );

    // At least one delete landed without an answer; its retry found nothing (404) — or,
    // for a project, found it already disabled and answered the same again (a plain
    // project delete only disables it, 000:1732-1743) — and the apply counted it as done.
    let log: Vec<_> = emu.emulator.write_log().into_iter().skip(before).collect();
    let lost: Vec<_> = log
        .iter()
        .filter(|w| w.method == "DELETE" && !w.dry_run && w.answer_lost && w.status < 300)
        .collect();
    assert!(!lost.is_empty(), "no delete answer was lost: {log:#?}");
    for w in &lost {
        assert!(
            log.iter().any(|r| r.seq > w.seq
                && r.path == w.path
                && (r.status == 404
                    || (r.status == 200 && r.path.starts_with("/api/v2/project/")))
                && !r.answer_lost
                && !r.dry_run),
            "no answered retry of {w:?}: {log:#?}"
        );
    }
    let deleted: BTreeSet<&str> = log
        .iter()
        .filter(|w| w.method == "DELETE" && !w.dry_run && w.status < 300)
        .map(|w| w.path.as_str())
        .collect();
    assert_eq!(deleted.len(), 4, "each object is deleted once: {log:#?}");

    // Converged, and the inventory no longer names the pruned objects.
    let again = run("--plan", &["--prune", "--detailed-exitcode"]).await;
    scan.output("re-plan", &again);
    let (out, err) = text(&again);
    assert_eq!(again.status.code(), Some(0), "not converged:\n{out}\n{err}");
    let inventory = std::fs::read_to_string(tmp.path().join("state/inventory.json")).unwrap();
    assert!(
        !inventory.contains("population-health-analytics"),
        "{inventory}"
    );
    scan.assert_clean(&secrets);
}

#[tokio::test(flavor = "multi_thread")]
async fn sigkill_mid_apply_then_the_next_run_converges() {
    let root = root();
    let emu = emulator_with(Options {
        seed: Some(root.join("examples/demo/live")),
        latency: Duration::from_millis(40),
        ..Default::default()
    })
    .await;
    let tmp = tempfile::tempdir().unwrap();
    let desired = root.join("examples/demo/desired");
    let repo = git_repo(&desired, tmp.path());
    let secrets = secret_env(&desired);
    let mut scan = SecretScan::default();

    let plan = reconcile(
        &emu.url(),
        "--plan",
        &repo,
        &["--output", "json"],
        &env_refs(&secrets),
    )
    .await;
    scan.output("plan", &plan);
    let planned = planned_writes(&json_docs(&text(&plan).0)[0]);

    let cache = tmp.path().join("cache");
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_immuta-gitops"));
    cmd.args([
        "reconcile",
        "--apply",
        "--repo",
        &repo,
        "--immuta-url",
        &emu.url(),
        "--cache-dir",
        &cache.to_string_lossy(),
    ]);
    for (k, _) in std::env::vars() {
        if k.starts_with("IMMUTA") {
            cmd.env_remove(k);
        }
    }
    cmd.env("IMMUTA_API_KEY", KEY);
    cmd.env(ALLOW_WEAKENING, "true");
    for (k, v) in &secrets {
        cmd.env(k, v);
    }
    cmd.stdout(std::process::Stdio::piped());
    cmd.stderr(std::process::Stdio::piped());
    let mut child = cmd.spawn().unwrap();
    wait_until("the first real write", Duration::from_secs(20), || {
        !real_write_records(&emu).is_empty()
    })
    .await;
    child.kill().unwrap(); // SIGKILL on unix
    let killed = child.wait_with_output().unwrap();
    scan.output("killed apply", &killed);
    {
        use std::os::unix::process::ExitStatusExt;
        assert_eq!(killed.status.signal(), Some(9), "the apply was not killed");
    }
    let partial = real_write_records(&emu).len();
    assert!(partial >= 1);
    assert!(
        partial < planned.len(),
        "the apply finished before it was killed ({partial} of {})",
        planned.len()
    );

    let rerun = reconcile(&emu.url(), "--apply", &repo, &[], &env_refs(&secrets)).await;
    scan.output("rerun", &rerun);
    let (out, err) = text(&rerun);
    assert_eq!(rerun.status.code(), Some(0), "{out}\n{err}");
    assert!(out.contains("Apply complete!"), "{out}");
    let again = reconcile(
        &emu.url(),
        "--plan",
        &repo,
        &["--detailed-exitcode"],
        &env_refs(&secrets),
    )
    .await;
    scan.output("re-plan", &again);
    let (out, err) = text(&again);
    assert_eq!(again.status.code(), Some(0), "not converged:\n{out}\n{err}");
    let writes: BTreeSet<String> = real_write_records(&emu)
        .iter()
        .map(|(m, p, k)| written_key(m, p, k))
        .collect();
    assert_eq!(writes, planned);
    scan.assert_clean(&secrets);
}

fn client(url: &str, retry: RetryPolicy) -> Client {
    let mut cfg = ClientConfig::new(url, Secret::new(KEY));
    cfg.retry = retry;
    cfg.timeout = Duration::from_secs(5);
    Client::new(cfg).unwrap()
}

fn quick() -> RetryPolicy {
    RetryPolicy {
        max_attempts: 5,
        base: Duration::from_millis(5),
        cap: Duration::from_millis(50),
        max_elapsed: Duration::from_secs(10),
    }
}

fn delete_plan(key: ObjectKey) -> Plan {
    Plan {
        origin: "test".into(),
        revision: "r".into(),
        changes: vec![Change {
            key,
            action: Action::Delete,
            fields: vec![],
            data: None,
            id: Some(7),
            note: None,
            moved_from: None,
        }],
        held: Vec::new(),
        scope: Default::default(),
    }
}

#[tokio::test]
async fn a_delete_retried_after_a_reset_that_landed_counts_as_done() {
    // The server performs the delete, then drops the connection; the retry finds nothing.
    let server = ScriptedServer::start(vec![
        Step::Drop,
        Step::Answer(
            404,
            vec![],
            r#"{"statusCode":404,"error":"Not Found","message":"Project not found"}"#.into(),
        ),
    ])
    .await;
    let c = client(&server.url, quick());
    for key in [
        ObjectKey::new(Kind::Project, "p"),
        ObjectKey::new(Kind::Policy, "q"),
    ] {
        let plan = delete_plan(key.clone());
        let report = apply::apply(&c, &plan, &DesiredSet::default(), &Default::default()).await;
        assert_eq!(report.results.len(), 1);
        assert!(
            matches!(report.results[0].outcome, Outcome::Applied { .. }),
            "{key}: {:?}",
            report.results[0]
        );
        assert!(report.is_success());
        assert_eq!(apply::deleted_keys(&report, &plan), [key].into());
    }
    let lines = server.lines();
    assert_eq!(lines.len(), 3, "{lines:?}");
    assert!(
        lines[0].starts_with("DELETE /api/v2/project/p "),
        "{lines:?}"
    );
    assert!(
        lines[1].starts_with("DELETE /api/v2/project/p "),
        "{lines:?}"
    );
    assert!(
        lines[2].starts_with("DELETE /policy/global/7 "),
        "{lines:?}"
    );
}

#[tokio::test]
async fn a_post_is_retried_after_a_dropped_connection() {
    let server = ScriptedServer::start(vec![
        Step::Drop,
        Step::Answer(503, vec![], r#"{"message":"busy"}"#.into()),
        Step::Answer(502, vec![], String::new()),
        Step::Answer(504, vec![], String::new()),
        Step::Answer(200, vec![], r#"{"purposeId":3}"#.into()),
    ])
    .await;
    let c = client(&server.url, quick());
    let key = ObjectKey::new(Kind::Purpose, "Research");
    let answer = c
        .upsert(&key, &json!({"name": "Research"}), false)
        .await
        .unwrap();
    assert_eq!(answer["purposeId"], 3);
    let lines = server.lines();
    assert_eq!(lines.len(), 5, "{lines:?}");
    assert!(lines
        .iter()
        .all(|l| l.starts_with("POST /api/v2/purpose?dryRun=false ")));
}

#[tokio::test]
async fn client_errors_are_final_and_carry_immutas_message() {
    for status in [400u16, 401, 403, 404, 409, 422] {
        let server = ScriptedServer::start(vec![Step::Answer(
            status,
            vec![],
            format!(r#"{{"statusCode":{status},"error":"x","message":"policyKey is invalid ({status})"}}"#),
        )])
        .await;
        let c = client(&server.url, quick());
        let err = c
            .upsert(&ObjectKey::new(Kind::Policy, "p"), &json!({}), false)
            .await
            .unwrap_err();
        assert_eq!(err.status(), Some(status));
        assert!(
            err.to_string().ends_with(&format!(
                "returned {status}: policyKey is invalid ({status})"
            )),
            "{err}"
        );
        assert_eq!(server.lines().len(), 1, "{status} must not be retried");
    }
    // 408 and 429 are the retried 4xx.
    for status in [408u16, 429] {
        let server = ScriptedServer::start(vec![
            Step::Answer(status, vec![], String::new()),
            Step::Answer(200, vec![], "{}".into()),
        ])
        .await;
        let c = client(&server.url, quick());
        c.upsert(&ObjectKey::new(Kind::Policy, "p"), &json!({}), false)
            .await
            .unwrap();
        assert_eq!(server.lines().len(), 2, "{status} must be retried");
    }
}

#[tokio::test]
async fn retry_after_is_honoured_up_to_the_configured_cap() {
    let script = |secs: &str| {
        vec![
            Step::Answer(429, vec![("retry-after", secs.to_string())], "{}".into()),
            Step::Answer(200, vec![], "[]".into()),
        ]
    };
    // Retry-After below the cap: waited in full.
    let server = ScriptedServer::start(script("1")).await;
    let mut p = quick();
    p.cap = Duration::from_secs(2);
    client(&server.url, p).list_policies().await.unwrap();
    let times: Vec<Instant> = server
        .requests
        .lock()
        .unwrap()
        .iter()
        .map(|r| r.1)
        .collect();
    let gap = times[1] - times[0];
    assert!(gap >= Duration::from_millis(950), "waited {gap:?}");
    // Retry-After above the cap: the cap wins.
    let server = ScriptedServer::start(script("30")).await;
    let mut p = quick();
    p.cap = Duration::from_millis(200);
    client(&server.url, p).list_policies().await.unwrap();
    let times: Vec<Instant> = server
        .requests
        .lock()
        .unwrap()
        .iter()
        .map(|r| r.1)
        .collect();
    let gap = times[1] - times[0];
    assert!(
        gap >= Duration::from_millis(190) && gap < Duration::from_secs(5),
        "waited {gap:?}"
    );
}

#[tokio::test]
async fn one_request_stays_within_its_total_time_budget() {
    let server = ScriptedServer::start(vec![Step::Answer(
        503,
        vec![("retry-after", "1".into())],
        r#"{"message":"down for maintenance"}"#.into(),
    )])
    .await;
    let policy = RetryPolicy {
        max_attempts: 100,
        base: Duration::from_millis(10),
        cap: Duration::from_millis(100),
        max_elapsed: Duration::from_millis(600),
    };
    let started = Instant::now();
    let err = client(&server.url, policy)
        .list_purposes()
        .await
        .unwrap_err();
    let took = started.elapsed();
    // Without the budget, 100 attempts with waits up to 100 ms take over 10 s; the bound
    // leaves room for a loaded machine (900 ms failed under a load of 12 on 2 cores).
    assert!(took < Duration::from_secs(3), "took {took:?}");
    assert_eq!(err.status(), Some(503));
    assert!(err.to_string().contains("down for maintenance"), "{err}");
    let n = server.lines().len();
    assert!((2..=10).contains(&n), "{n} attempts");
}

#[tokio::test]
async fn insecure_flag_logs_a_warning_and_is_off_by_default() {
    let emu = emulator(None).await;
    let tmp = tempfile::tempdir().unwrap();
    let dir = write_tree(
        tmp.path(),
        "repo",
        &[("purpose/a.yaml", "name: A\ndescription: a\n")],
    );
    let dir = dir.to_string_lossy().to_string();
    let mut scan = SecretScan::default();
    let plain = reconcile(&emu.url(), "--plan", &dir, &[], &[]).await;
    scan.output("default", &plain);
    assert_eq!(plain.status.code(), Some(0));
    assert!(!text(&plain)
        .1
        .contains("TLS certificate verification is OFF"));
    let insecure = reconcile(
        &emu.url(),
        "--plan",
        &dir,
        &["--insecure-skip-tls-verify"],
        &[],
    )
    .await;
    scan.output("insecure", &insecure);
    let (_, err) = text(&insecure);
    assert_eq!(insecure.status.code(), Some(0), "{err}");
    assert!(
        err.contains("WARN") && err.contains("TLS certificate verification is OFF"),
        "{err}"
    );
    let env_flag = reconcile(
        &emu.url(),
        "--plan",
        &dir,
        &[],
        &[("IMMUTA_GITOPS_INSECURE_SKIP_TLS_VERIFY", "true")],
    )
    .await;
    assert!(text(&env_flag)
        .1
        .contains("TLS certificate verification is OFF"));
    scan.assert_clean(&[]);
}

/// A TLS server on 127.0.0.1 with a self-signed certificate made by `rcgen`, answering
/// every request with a small HTML page (not Immuta's JSON). Runs everywhere: no
/// `openssl` command needed.
struct SelfSigned {
    url: String,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for SelfSigned {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn self_signed_server() -> SelfSigned {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let made = rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_string()]).unwrap();
    let identity = native_tls::Identity::from_pkcs8(
        made.cert.pem().as_bytes(),
        made.signing_key.serialize_pem().as_bytes(),
    )
    .unwrap();
    let acceptor =
        tokio_native_tls::TlsAcceptor::from(native_tls::TlsAcceptor::new(identity).unwrap());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("https://{}", listener.local_addr().unwrap());
    let task = tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                // A client that refuses the certificate ends the handshake: nothing to do.
                let Ok(mut tls) = acceptor.accept(tcp).await else {
                    return;
                };
                let mut head = Vec::new();
                let mut buf = [0u8; 1024];
                while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                    match tls.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => head.extend_from_slice(&buf[..n]),
                    }
                }
                let body = "<html><body>not Immuta</body></html>";
                let answer = format!(
                    "HTTP/1.1 200 OK\r\ncontent-type: text/html\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = tls.write_all(answer.as_bytes()).await;
                let _ = tls.shutdown().await;
            });
        }
    });
    SelfSigned { url, task }
}

#[tokio::test]
async fn the_default_client_rejects_a_self_signed_certificate() {
    let server = self_signed_server().await;
    let once = RetryPolicy {
        max_attempts: 1,
        ..quick()
    };
    let strict = client(&server.url, once.clone());
    let err = strict.list_purposes().await.unwrap_err();
    let text = err.to_string();
    assert!(text.starts_with("cannot reach Immuta"), "{text}");
    assert!(text.to_lowercase().contains("certificate"), "{text}");

    let mut cfg = ClientConfig::new(server.url.clone(), Secret::new(KEY));
    cfg.retry = once;
    cfg.insecure_skip_tls_verify = true;
    let lax = Client::new(cfg).unwrap();
    // The handshake succeeds; the server's HTML page is not Immuta's JSON.
    let err = lax.list_purposes().await.unwrap_err();
    assert!(
        err.to_string().contains("unexpected response"),
        "TLS should have been accepted: {err}"
    );
}
