//! Issue 11, resource limits: the real binary, run under a memory limit
//! (`setrlimit(RLIMIT_AS)` in the child), against oversized files and an endless HTTP
//! answer. Each run must end with exit 1 and a clear error, never an allocation abort,
//! and with no write reaching Immuta.

use crate::common;

use std::io::Write as _;
use std::path::Path;
use std::process::Output;
use std::sync::{Arc, Mutex};

use common::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Address space the child may use: enough for the tool's normal work (checked by
/// `a_valid_repository_applies_under_the_memory_limit`), far below what any of the
/// oversized inputs would take if it were read whole.
const MEMORY_LIMIT: u64 = 512 * 1024 * 1024;

/// Runs the binary under [`MEMORY_LIMIT`], with the test key and no inherited IMMUTA_*.
async fn run_limited(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_immuta-gitops"));
    cmd.args(args);
    for (k, _) in std::env::vars() {
        if k.starts_with("IMMUTA") {
            cmd.env_remove(k);
        }
    }
    cmd.env("IMMUTA_API_KEY", KEY);
    cmd.env(ALLOW_WEAKENING, "true");
    for (k, v) in env {
        cmd.env(k, v);
    }
    // SAFETY: setrlimit is async-signal-safe and touches no memory of the parent.
    unsafe {
        cmd.pre_exec(|| {
            let lim = libc::rlimit {
                rlim_cur: MEMORY_LIMIT,
                rlim_max: MEMORY_LIMIT,
            };
            if libc::setrlimit(libc::RLIMIT_AS, &lim) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    cmd.kill_on_drop(true);
    cmd.output().await.expect("binary runs")
}

/// `reconcile --apply` of `repo` against `url`, under [`MEMORY_LIMIT`].
async fn apply_limited(repo: &str, url: &str) -> Output {
    let args = ["reconcile", "--apply", "--repo", repo, "--immuta-url", url];
    run_limited(&args, &[]).await
}

/// A sparse file of `len` bytes (no disk used), filled with `fill` at its start.
fn sparse(path: &Path, fill: &str, len: u64) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    let mut f = std::fs::File::create(path).unwrap();
    f.write_all(fill.as_bytes()).unwrap();
    f.set_len(len).unwrap();
}

/// Exit 1, `want` in stderr or stdout, no crash, no write.
fn assert_refused(out: &Output, want: &[&str], writes: usize) {
    let (stdout, stderr) = text(out);
    assert_eq!(
        out.status.code(),
        Some(1),
        "a clean error, not a signal or an abort\nstdout:\n{stdout}\nstderr:\n{stderr}"
    );
    for w in want {
        assert!(
            stderr.contains(w) || stdout.contains(w),
            "expected {w:?}\nstdout:\n{stdout}\nstderr:\n{stderr}"
        );
    }
    assert!(!stderr.contains("memory allocation"), "{stderr}");
    assert_eq!(writes, 0, "no write may reach Immuta");
}

const PURPOSE: &str = "name: Fraud Detection\ndescription: Detect fraud\n";

#[tokio::test]
async fn a_valid_repository_applies_under_the_memory_limit() {
    let emu = emulator(None).await;
    let tmp = tempfile::tempdir().unwrap();
    let dir = write_tree(tmp.path(), "repo", &[("purpose/fraud.yaml", PURPOSE)]);
    let repo = dir.to_string_lossy().to_string();
    let out = apply_limited(&repo, &emu.url()).await;
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{stderr}");
    assert_eq!(real_writes(&emu), 1);
}

/// A name, what to add to the repository, and the expected error fragments.
type Case = (&'static str, Box<dyn Fn(&Path)>, Vec<&'static str>);

#[tokio::test]
async fn issue_11_oversized_files_fail_cleanly_under_a_memory_limit() {
    let gib = 1u64 << 30;
    // Each case: a repository with a valid purpose plus one hostile file, and the error.
    let cases: Vec<Case> = vec![
        (
            "1 GiB manifest",
            Box::new(move |d: &Path| sparse(&d.join("policy/huge.yaml"), "policyKey: huge\n", gib)),
            vec![
                "policy/huge.yaml:1:1: policy -: file is 1 GiB, over the 4 MiB limit (--max-manifest-bytes)",
            ],
        ),
        (
            "1 GiB ReadFile target",
            Box::new(move |d: &Path| {
                sparse(&d.join("data/certs/huge.pem"), "-----BEGIN-----\n", gib);
                std::fs::create_dir_all(d.join("data")).unwrap();
                std::fs::write(
                    d.join("data/ds.yaml"),
                    "connectionKey: ds\nconnection:\n  handler: PostgreSQL\n  hostname: db.example.com\n  port: 5432\n  database: d\n  username: u\n  password: '{{ReadFile \"certs/huge.pem\"}}'\nsources:\n  - table: t\n    schema: public\n",
                )
                .unwrap();
            }),
            vec!["data/ds.yaml:8:3: data ds: ReadFile file \"certs/huge.pem\" is 1 GiB or more, over the 1 MiB limit (--max-read-file-bytes)"],
        ),
        (
            "an alias bomb",
            Box::new(|d: &Path| {
                let mut bomb = String::from("policyKey: bomb\na: &a [x, x, x, x, x, x, x, x, x, x]\n");
                for (prev, name) in ["a", "b", "c", "d", "e", "f", "g", "h"]
                    .iter()
                    .zip(["b", "c", "d", "e", "f", "g", "h", "i"])
                {
                    let refs = vec![format!("*{prev}"); 10].join(", ");
                    bomb.push_str(&format!("{name}: &{name} [{refs}]\n"));
                }
                std::fs::create_dir_all(d.join("policy")).unwrap();
                std::fs::write(d.join("policy/bomb.yaml"), bomb).unwrap();
            }),
            vec!["policy/bomb.yaml:7:", "policy bomb: more than 1000000 YAML nodes"],
        ),
        (
            "4 MiB of tiny nodes",
            Box::new(|d: &Path| {
                std::fs::create_dir_all(d.join("policy")).unwrap();
                let body = format!("policyKey: many\nitems:\n{}", "- a\n".repeat(1_040_000));
                std::fs::write(d.join("policy/many.yaml"), body).unwrap();
            }),
            vec!["policy/many.yaml:", "policy many: more than 1000000 YAML nodes"],
        ),
    ];
    for (name, make, want) in &cases {
        let emu = emulator(None).await;
        let tmp = tempfile::tempdir().unwrap();
        let dir = write_tree(tmp.path(), "repo", &[("purpose/fraud.yaml", PURPOSE)]);
        make(&dir);
        let repo = dir.to_string_lossy().to_string();
        let validate = run_limited(&["validate", &repo], &[]).await;
        assert_refused(&validate, want, 0);
        let apply = apply_limited(&repo, &emu.url()).await;
        assert_refused(&apply, want, real_writes(&emu));
        assert!(
            emu.emulator.write_log().is_empty(),
            "{name}: not even a dry run"
        );
    }
}

/// A server on 127.0.0.1 that answers every request with a chunked body that never
/// ends; it records each request line.
async fn endless_server() -> (String, Arc<Mutex<Vec<String>>>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = seen.clone();
    tokio::spawn(async move {
        while let Ok((mut sock, _)) = listener.accept().await {
            let log = log.clone();
            tokio::spawn(async move {
                let mut buf = vec![0u8; 8192];
                let n = sock.read(&mut buf).await.unwrap_or(0);
                let head = String::from_utf8_lossy(&buf[..n]).into_owned();
                let line = head.lines().next().unwrap_or_default().to_string();
                // A connection the client opened but closed before sending a request
                // (it exits on the first error while other reads are in flight) is no
                // request, let alone a write.
                if line.is_empty() {
                    return;
                }
                log.lock().unwrap().push(line);
                let _ = sock
                    .write_all(b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ntransfer-encoding: chunked\r\n\r\nd\r\n{\"purposes\":[\r\n")
                    .await;
                let piece = format!("{:x}\r\n{}\r\n", 65536, "\"x\",".repeat(16384));
                while sock.write_all(piece.as_bytes()).await.is_ok() {}
            });
        }
    });
    (url, seen)
}

#[tokio::test]
async fn issue_11_an_endless_answer_fails_cleanly_under_a_memory_limit() {
    let (url, seen) = endless_server().await;
    let tmp = tempfile::tempdir().unwrap();
    let dir = write_tree(tmp.path(), "repo", &[("purpose/fraud.yaml", PURPOSE)]);
    let repo = dir.to_string_lossy().to_string();
    for (mode, extra) in [
        ("--plan", vec![]),
        ("--apply", vec![]),
        ("--apply", vec!["--max-response-bytes", "1MiB"]),
    ] {
        let mut args = vec!["reconcile", mode, "--repo", &repo, "--immuta-url", &url];
        args.extend(extra.iter().copied());
        let out = run_limited(&args, &[]).await;
        let limit = if extra.is_empty() { "16 MiB" } else { "1 MiB" };
        let want = format!("the answer is larger than the {limit} limit (--max-response-bytes)");
        let requests = seen.lock().unwrap().clone();
        let writes = requests
            .iter()
            .filter(|r| !r.starts_with("GET ") && !r.contains("dryRun=true"))
            .count();
        assert_refused(&out, &[&want], writes);
    }
    let requests = seen.lock().unwrap().clone();
    assert!(!requests.is_empty());
}

#[tokio::test]
async fn issue_11_validation_refusals_reach_no_write() {
    let long = "k".repeat(300);
    let collision = [
        (
            "purpose/clinical.yaml",
            "name: Clinical Research\nsubpurposes:\n  - name: Clinical Research.Oncology\n",
        ),
        (
            "purpose/oncology.yaml",
            "name: Clinical Research.Oncology\n",
        ),
    ];
    let long_key = format!("projectKey: {long}\nname: P\n");
    let duplicate = "policyKey: dup\nname: a\nname: b\n";
    type Files<'a> = Vec<(&'a str, &'a str)>;
    let cases: Vec<(Files<'_>, Vec<&str>)> = vec![
        (
            collision.to_vec(),
            vec![
                "purpose/oncology.yaml:1:1: purpose Clinical Research.Oncology: purpose \"Clinical Research.Oncology\" is declared as a sub-purpose of \"Clinical Research\" at purpose/clinical.yaml:3:5",
            ],
        ),
        (
            vec![("project/long.yaml", &long_key)],
            vec!["project/long.yaml:1:1:", "projectKey is 300 characters long; the longest accepted is 255"],
        ),
        (
            vec![("policy/dup.yaml", duplicate)],
            vec!["policy/dup.yaml:3:1: policy dup: duplicate mapping key \"name\""],
        ),
    ];
    for (files, want) in cases {
        let emu = emulator(None).await;
        let tmp = tempfile::tempdir().unwrap();
        let mut all = vec![("purpose/fraud.yaml", PURPOSE)];
        all.extend(files);
        let dir = write_tree(tmp.path(), "repo", &all);
        let repo = dir.to_string_lossy().to_string();
        let out = apply_limited(&repo, &emu.url()).await;
        assert_refused(&out, &want, real_writes(&emu));
        assert!(emu.emulator.write_log().is_empty());
        let out = run_limited(&["validate", &repo], &[]).await;
        assert_refused(&out, &want, 0);
    }
}

#[tokio::test]
async fn issue_11_flags_and_client_mistakes_fail_before_any_request() {
    let emu = emulator(None).await;
    let tmp = tempfile::tempdir().unwrap();
    let dir = write_tree(tmp.path(), "repo", &[("purpose/fraud.yaml", PURPOSE)]);
    let repo = dir.to_string_lossy().to_string();
    let url = emu.url();
    // clap refuses out-of-range values (exit 2) and names the range.
    for (flag, value, range) in [
        ("--timeout", "0s", "100ms to 1h"),
        ("--retry-attempts", "0", "1..=100"),
        ("--concurrency", "0", "1..=256"),
        ("--max-response-bytes", "1", "64 KiB to 1 GiB"),
    ] {
        let out = run_limited(
            &[
                "reconcile",
                "--plan",
                "--repo",
                &repo,
                "--immuta-url",
                &url,
                flag,
                value,
            ],
            &[],
        )
        .await;
        let (_, stderr) = text(&out);
        assert_eq!(out.status.code(), Some(2), "{flag} {value}: {stderr}");
        assert!(stderr.contains(flag) && stderr.contains(range), "{stderr}");
    }
    let env_timeout = run_limited(
        &["reconcile", "--plan", "--repo", &repo, "--immuta-url", &url],
        &[("IMMUTA_GITOPS_TIMEOUT", "0s")],
    )
    .await;
    assert_eq!(
        env_timeout.status.code(),
        Some(2),
        "{:?}",
        text(&env_timeout)
    );
    for (args, env, want) in [
        (
            vec!["--immuta-url", "http://127.0.0.1:99999"],
            vec![],
            "not a valid URL",
        ),
        (
            vec!["--immuta-url", url.as_str()],
            vec![("IMMUTA_API_KEY", "k\r\nX-Evil: 1")],
            "CR or LF",
        ),
    ] {
        let mut all = vec!["reconcile", "--apply", "--repo", &repo];
        all.extend(args);
        let started = std::time::Instant::now();
        let out = run_limited(&all, &env).await;
        let (stdout, stderr) = text(&out);
        assert_eq!(out.status.code(), Some(1), "{stdout}\n{stderr}");
        assert!(stderr.contains(want), "{stderr}");
        assert!(!stderr.contains("X-Evil"), "{stderr}");
        assert!(
            started.elapsed() < std::time::Duration::from_secs(10),
            "not retried"
        );
    }
    assert!(emu.emulator.write_log().is_empty());
}
