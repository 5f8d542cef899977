//! Ownership, end to end through the real binary: a manifest that cannot be read (a
//! dangling or looping link, a FIFO, a file over the size limit) or is empty stops the
//! revision like a parse error, so its object never leaves the desired set and is never
//! pruned.

use crate::common;

use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};

use common::*;
use immuta_emulator::Handle;

/// The manifest the broken-manifest tests replace.
const VICTIM: &str = "policy/mask-provider-npi.yaml";

/// Ownership's checks on the shared fixture.
impl Applied {
    /// `reconcile --apply --prune` on `repo`: exit 1, `expect` in stderr, no write, the
    /// inventory untouched.
    async fn refused(&mut self, repo: &str, expect: &[&str]) {
        let inventory = self.inventory();
        let before = real_write_records(&self.emu).len();
        let out = self
            .reconcile_repo("--apply", repo, &["--prune", "--max-deletions", "100"])
            .await;
        let (stdout, stderr) = text(&out);
        assert_eq!(out.status.code(), Some(1), "{repo}\n{stdout}\n{stderr}");
        for e in expect {
            assert!(stderr.contains(e), "{repo}: expected {e:?} in:\n{stderr}");
        }
        let writes: Vec<_> = real_write_records(&self.emu)
            .into_iter()
            .skip(before)
            .collect();
        assert_eq!(writes, vec![], "{repo}: {stdout}");
        assert_eq!(self.inventory(), inventory, "{repo}");
    }
}

/// `validate DIR`: exit 1 and `expect` on stdout.
async fn validate_fails(dir: &Path, expect: &str) {
    let out = run(&["validate", &dir.to_string_lossy()], &[]).await;
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(1), "{stdout}\n{stderr}");
    assert!(stdout.contains(expect), "expected {expect:?} in:\n{stdout}");
}

/// A plain-directory copy of the demo's desired tree at `dst`.
fn plain_copy(dst: &Path) {
    let src = root().join("examples/demo/desired");
    let mut stack = vec![src.clone()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else {
                let to = dst.join(p.strip_prefix(&src).unwrap());
                std::fs::create_dir_all(to.parent().unwrap()).unwrap();
                std::fs::copy(&p, to).unwrap();
            }
        }
    }
}

/// Replaces [`VICTIM`] in `dir` by a broken variant.
fn break_victim(dir: &Path, variant: &str) {
    let p = dir.join(VICTIM);
    let _ = std::fs::remove_file(&p);
    match variant {
        "dangling" => symlink("no-such-file.yaml", &p).unwrap(),
        "loop" => {
            symlink("loop-b.yaml", &p).unwrap();
            let _ = std::fs::remove_file(dir.join("policy/loop-b.yaml"));
            symlink("mask-provider-npi.yaml", dir.join("policy/loop-b.yaml")).unwrap();
        }
        "empty" => std::fs::write(&p, "").unwrap(),
        "comments" => std::fs::write(&p, "# policy removed by mistake\n---\n").unwrap(),
        other => panic!("unknown variant {other}"),
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_broken_or_empty_manifest_stops_the_revision_in_git_and_on_disk() {
    let mut a = Applied::new().await;
    assert!(a.inventory().contains("mask-provider-npi"));
    for variant in ["dangling", "loop", "empty", "comments"] {
        let expect = if matches!(variant, "dangling" | "loop") {
            "cannot be read"
        } else {
            "holds no manifest"
        };
        let line = format!("{VICTIM}:1:1: policy -: ");
        // Committed to Git, read from the commit.
        break_victim(&a.repo.dir, variant);
        a.repo.commit(&[]);
        let url = a.repo.url();
        a.refused(&url, &[&line, expect]).await;
        // The same tree as a plain directory, read from disk.
        let dir = a.tmp.path().join(format!("plain-{variant}"));
        plain_copy(&dir);
        break_victim(&dir, variant);
        a.refused(&dir.to_string_lossy(), &[&line, expect]).await;
        validate_fails(&dir, &line).await;
        validate_fails(&dir, expect).await;
    }
    // A link to a missing directory inside a kind directory, whatever its name.
    let dir = a.tmp.path().join("plain-dir-link");
    plain_copy(&dir);
    symlink("../../shared/policies", dir.join("policy/shared")).unwrap();
    a.refused(
        &dir.to_string_lossy(),
        &["policy/shared:1:1", "cannot be read"],
    )
    .await;
    // Manifests that cannot be read whoever runs the tool (root reads past permissions):
    // a FIFO, which is never opened, and a file over --max-manifest-bytes, never read.
    let dir = a.tmp.path().join("plain-fifo");
    plain_copy(&dir);
    let fifo = dir.join("policy/mask-ssn.yaml");
    std::fs::remove_file(&fifo).unwrap();
    mkfifo(&fifo);
    let line = "policy/mask-ssn.yaml:1:1";
    a.refused(&dir.to_string_lossy(), &[line, "not a regular file"])
        .await;
    validate_fails(&dir, line).await;
    validate_fails(&dir, "not a regular file").await;
    let dir = a.tmp.path().join("plain-huge");
    plain_copy(&dir);
    let huge = std::fs::File::create(dir.join("policy/mask-ssn.yaml")).unwrap();
    // Sparse: the size is checked before anything is read, so this costs no disk.
    huge.set_len(5 << 20).unwrap();
    a.refused(&dir.to_string_lossy(), &[line, "over the 4 MiB limit"])
        .await;
    validate_fails(&dir, "over the 4 MiB limit (--max-manifest-bytes)").await;
    a.finish();
}

/// Makes a FIFO at `path`.
fn mkfifo(path: &Path) {
    use std::os::unix::ffi::OsStrExt;
    let c = std::ffi::CString::new(path.as_os_str().as_bytes()).unwrap();
    // SAFETY: a valid NUL-terminated path; mkfifo touches no memory of ours.
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o644) }, 0, "mkfifo");
}

/// Runs the binary in `cwd` with the API key and the demo's secrets.
async fn run_in(cwd: &Path, args: &[&str], secrets: &[(String, String)]) -> std::process::Output {
    let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_immuta-gitops"));
    cmd.current_dir(cwd).args(args);
    for (k, _) in std::env::vars() {
        if k.starts_with("IMMUTA") {
            cmd.env_remove(k);
        }
    }
    cmd.env("IMMUTA_API_KEY", KEY);
    for (k, v) in secrets {
        cmd.env(k, v);
    }
    cmd.kill_on_drop(true);
    cmd.output().await.unwrap()
}

/// `reconcile MODE --repo REPO` in `cwd` against the tenant with the shared state dir.
async fn reconcile_in(
    a: &mut Applied,
    cwd: &Path,
    mode: &str,
    repo: &str,
    extra: &[&str],
) -> std::process::Output {
    let url = a.emu.url();
    let mut args = vec!["reconcile", mode, "--repo", repo, "--immuta-url", &url];
    args.extend(["--state-dir", a.state.as_str()]);
    args.extend_from_slice(extra);
    let out = run_in(cwd, &args, &a.secrets).await;
    a.scan.output(
        &format!("reconcile {mode} {repo} in {}", cwd.display()),
        &out,
    );
    out
}

fn deletes_since(emu: &Handle, before: usize) -> Vec<String> {
    real_write_records(emu)
        .into_iter()
        .skip(before)
        .filter(|(m, _, _)| m == "DELETE")
        .map(|(_, p, _)| p)
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn two_repositories_both_given_as_dot_never_prune_each_other() {
    let mut a = Applied::new().await;
    let repo_a = a.tmp.path().join("team-a");
    plain_copy(&repo_a);
    // Team A applies from its own directory as `--repo .`.
    let out = reconcile_in(&mut a, &repo_a, "--apply", ".", &["--prune"]).await;
    assert_eq!(out.status.code(), Some(0), "{:?}", text(&out));
    // Team B, another repository, also `--repo .`, same state dir, prune on.
    let repo_b = write_tree(
        a.tmp.path(),
        "team-b",
        &[("purpose/b.yaml", "name: Team B\ndescription: only team B\n")],
    );
    let before = real_write_records(&a.emu).len();
    for round in 0..2 {
        let out = reconcile_in(
            &mut a,
            &repo_b,
            "--apply",
            ".",
            &["--prune", "--allow-empty", "--max-deletions", "1000"],
        )
        .await;
        let (stdout, stderr) = text(&out);
        assert_eq!(out.status.code(), Some(0), "{stdout}\n{stderr}");
        if round == 0 {
            let a_id = std::fs::canonicalize(&repo_a)
                .unwrap()
                .display()
                .to_string();
            assert!(
                stderr.contains(&format!(
                    "prune disabled: the inventory belongs to {a_id}, not "
                )),
                "{stderr}"
            );
        }
        assert_eq!(
            deletes_since(&a.emu, before),
            Vec::<String>::new(),
            "round {round}\n{stdout}"
        );
    }
    // Team B's inventory holds team B's key only: A's objects were never carried over.
    let inv = a.inventory();
    assert!(
        inv.contains("Team B") && !inv.contains("mask-provider-npi"),
        "{inv}"
    );
    a.finish();
}

#[tokio::test(flavor = "multi_thread")]
async fn one_repository_spelled_many_ways_keeps_its_ownership() {
    let mut a = Applied::new().await;
    let tmp = std::fs::canonicalize(a.tmp.path()).unwrap();
    let repo = tmp.join("repo-plain");
    plain_copy(&repo);
    let abs = repo.display().to_string();
    let out = reconcile_in(&mut a, &tmp, "--apply", &abs, &[]).await;
    assert_eq!(out.status.code(), Some(0), "{:?}", text(&out));
    symlink(&repo, tmp.join("link-to-repo")).unwrap();
    let variants: [(&Path, String, &str); 5] = [
        (&repo, ".".into(), "policy/mask-provider-npi.yaml"),
        (&repo, "./".into(), "policy/mask-ssn.yaml"),
        (&tmp, "repo-plain/".into(), "policy/minimize-research.yaml"),
        (
            &tmp,
            "link-to-repo".into(),
            "policy/row-access-by-region.yaml",
        ),
        (
            &repo,
            format!("{abs}/policy/.."),
            "policy/mask-contact-details.yaml",
        ),
    ];
    for (cwd, spelling, removed) in variants {
        std::fs::remove_file(repo.join(removed)).unwrap();
        let before = real_write_records(&a.emu).len();
        let out = reconcile_in(&mut a, cwd, "--apply", &spelling, &["--prune"]).await;
        let (stdout, stderr) = text(&out);
        assert_eq!(out.status.code(), Some(0), "{spelling}\n{stdout}\n{stderr}");
        assert!(!stderr.contains("prune disabled"), "{spelling}: {stderr}");
        let deletes = deletes_since(&a.emu, before);
        assert_eq!(
            deletes.len(),
            1,
            "{spelling}: {deletes:?}\n{stdout}\n{stderr}"
        );
        assert!(deletes[0].starts_with("/policy/global/"), "{deletes:?}");
    }
    a.finish();
}

#[tokio::test(flavor = "multi_thread")]
async fn an_inventory_that_cannot_be_trusted_owns_nothing() {
    let mut a = Applied::new().await;
    let url = a.repo.url();
    // The hand-made purpose a doctored inventory claims.
    let resp = reqwest::Client::new()
        .post(format!("{}/api/v2/purpose", a.emu.url()))
        .header("Authorization", KEY)
        .json(&serde_json::json!({"name": "Hand Made", "description": "by hand"}))
        .send()
        .await
        .unwrap();
    assert!(resp.status().is_success());
    let good: serde_json::Value = serde_json::from_str(&a.inventory()).unwrap();
    let hand = serde_json::json!({"kind": "purpose", "name": "Hand Made"});
    let path = PathBuf::from(&a.state).join("inventory.json");
    let variants: Vec<(&str, serde_json::Value, &str)> = vec![
        (
            "empty origin, no source, hand-added key (format 1)",
            serde_json::json!({"revision": "r", "origin": "", "keys": [hand]}),
            "inventory format 1 is not 2",
        ),
        (
            "no source",
            {
                let mut v = good.clone();
                v["source"] = serde_json::Value::Null;
                v["keys"].as_array_mut().unwrap().push(hand.clone());
                v
            },
            "names no source",
        ),
        (
            "hand-added key",
            {
                let mut v = good.clone();
                v["keys"].as_array_mut().unwrap().push(hand.clone());
                v
            },
            "digest does not match",
        ),
        (
            "another source",
            {
                let mut v = good.clone();
                v["source"]["location"] = serde_json::json!("/somewhere/else");
                v["keys"].as_array_mut().unwrap().push(hand.clone());
                v
            },
            "belongs to /somewhere/else",
        ),
        (
            "malformed key",
            {
                let mut v = good.clone();
                v["keys"]
                    .as_array_mut()
                    .unwrap()
                    .push(serde_json::json!({"kind": "purpose", "name": ""}));
                v
            },
            "malformed key",
        ),
    ];
    for (what, doc, expect) in variants {
        std::fs::write(&path, serde_json::to_vec(&doc).unwrap()).unwrap();
        let before = real_write_records(&a.emu).len();
        let out = a
            .reconcile_repo("--plan", &url, &["--prune", "--max-deletions", "1000"])
            .await;
        let (stdout, stderr) = text(&out);
        assert_eq!(out.status.code(), Some(0), "{what}\n{stdout}\n{stderr}");
        assert!(
            stderr.contains("warning: prune disabled: ") && stderr.contains(expect),
            "{what}: {stderr}"
        );
        assert!(stdout.contains("? purpose/Hand Made"), "{what}: {stdout}");
        assert!(
            stdout.contains("0 to destroy") || stdout.contains("No changes"),
            "{what}: {stdout}"
        );
        assert_eq!(deletes_since(&a.emu, before), Vec::<String>::new());
        // An apply replaces it with a trusted one that does not claim the hand-made object.
        let out = a.reconcile_repo("--apply", &url, &["--prune"]).await;
        assert_eq!(out.status.code(), Some(0), "{what}: {:?}", text(&out));
        assert_eq!(
            deletes_since(&a.emu, before),
            Vec::<String>::new(),
            "{what}"
        );
        assert!(!a.inventory().contains("Hand Made"), "{what}");
    }
    a.finish();
}

#[tokio::test(flavor = "multi_thread")]
async fn a_bare_repository_without_ref_reads_its_head() {
    let mut a = Applied::new().await;
    let bare = a.tmp.path().join("bare.git");
    git2::Repository::init_bare(&bare).unwrap();
    let work = git2::Repository::open(&a.repo.dir).unwrap();
    let mut remote = work.remote_anonymous(&bare.display().to_string()).unwrap();
    let head = work.head().unwrap();
    let branch = head.name().unwrap().to_string();
    remote.push(&[format!("{branch}:{branch}")], None).unwrap();
    git2::Repository::open_bare(&bare)
        .unwrap()
        .set_head(&branch)
        .unwrap();
    let link = a.tmp.path().join("bare-link");
    symlink(&bare, &link).unwrap();
    for spelling in [
        bare.display().to_string(),
        format!("{}/", bare.display()),
        link.display().to_string(),
        a.repo.dir.join(".git").display().to_string(),
    ] {
        let out = a
            .reconcile_repo("--plan", &spelling, &["--detailed-exitcode"])
            .await;
        let (stdout, stderr) = text(&out);
        // The demo is applied: in sync, not an empty source that plans nothing.
        assert_eq!(out.status.code(), Some(0), "{spelling}\n{stdout}\n{stderr}");
        assert!(stdout.contains("No changes."), "{spelling}: {stdout}");
        let out = run(&["validate", &spelling], &env_refs(&a.secrets)).await;
        let (stdout, stderr) = text(&out);
        assert_eq!(out.status.code(), Some(0), "{spelling}\n{stdout}\n{stderr}");
        assert!(
            stdout.contains("22 object(s) valid"),
            "{spelling}: {stdout}"
        );
    }
    // An empty bare repository says so instead of planning nothing.
    let empty = a.tmp.path().join("empty.git");
    git2::Repository::init_bare(&empty).unwrap();
    let out = a
        .reconcile_repo("--plan", &empty.display().to_string(), &[])
        .await;
    let (_, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("HEAD"), "{stderr}");
    a.finish();
}

#[tokio::test(flavor = "multi_thread")]
async fn the_daemon_refuses_a_revision_with_a_broken_manifest() {
    let mut a = Applied::new().await;
    let key_file = a.tmp.path().join("api-key");
    std::fs::write(&key_file, KEY).unwrap();
    let key_file = key_file.to_string_lossy().to_string();
    let emu = a.emu.url();
    let plain = a.tmp.path().join("daemon-plain");
    plain_copy(&plain);
    let plain = plain.to_string_lossy().to_string();
    let git = a.repo.url();
    for (variant, repo) in [("dangling", git.as_str()), ("empty", plain.as_str())] {
        let dir = if repo == git {
            a.repo.dir.clone()
        } else {
            PathBuf::from(repo)
        };
        break_victim(&dir, variant);
        if repo == git {
            a.repo.commit(&[]);
        }
        let before = real_write_records(&a.emu).len();
        let cache = a.tmp.path().join(format!("cache-{variant}"));
        let cache = cache.to_string_lossy().to_string();
        let args = [
            "--repo",
            repo,
            "--immuta-url",
            emu.as_str(),
            "--api-key-file",
            key_file.as_str(),
            "--cache-dir",
            cache.as_str(),
            "--state-dir",
            a.state.as_str(),
        ];
        let mut env = env_refs(&a.secrets);
        env.push(("IMMUTA_GITOPS_PRUNE", "all"));
        env.push(("IMMUTA_GITOPS_MAX_DELETIONS", "100"));
        let d = common::daemon_proc::DaemonChild::start(&args, &env);
        let status = d
            .wait_status("a failed cycle", |s| s["last_cycle"]["result"] == "failed")
            .await;
        let log = d.stop();
        let v: serde_json::Value = serde_json::from_str(&status).unwrap();
        let err = v["last_error"].as_str().unwrap_or_default();
        assert!(
            err.contains(&format!("{VICTIM}:1:1")),
            "{variant}: {status}"
        );
        let writes: Vec<_> = real_write_records(&a.emu)
            .into_iter()
            .skip(before)
            .collect();
        assert_eq!(writes, vec![], "{variant}: {log}");
        assert!(a.inventory().contains("mask-provider-npi"), "{variant}");
        a.scan.add(&format!("daemon status {variant}"), status);
        a.scan.add(&format!("daemon log {variant}"), log);
    }
    a.finish();
}

#[tokio::test(flavor = "multi_thread")]
async fn a_git_repository_spelled_many_ways_keeps_its_ownership() {
    // Applied once as `file://<dir>`.
    let mut a = Applied::new().await;
    let dir = a.repo.dir.display().to_string();
    let branch = git2::Repository::open(&a.repo.dir)
        .unwrap()
        .head()
        .unwrap()
        .shorthand()
        .unwrap()
        .to_string();
    let variants: [(Vec<String>, &str); 4] = [
        (
            vec![format!("file://{dir}/")],
            "policy/mask-provider-npi.yaml",
        ),
        (vec![format!("file://{dir}/.git")], "policy/mask-ssn.yaml"),
        (
            vec![dir.clone(), "--ref".into(), branch],
            "policy/minimize-research.yaml",
        ),
        (
            vec![format!("{dir}/.git")],
            "policy/row-access-by-region.yaml",
        ),
    ];
    for (repo, removed) in variants {
        a.repo.commit(&[(removed, None)]);
        let before = real_write_records(&a.emu).len();
        let mut extra: Vec<&str> = repo.iter().skip(1).map(String::as_str).collect();
        extra.push("--prune");
        let out = a.reconcile_repo("--apply", &repo[0], &extra).await;
        let (stdout, stderr) = text(&out);
        assert_eq!(out.status.code(), Some(0), "{repo:?}\n{stdout}\n{stderr}");
        assert!(!stderr.contains("prune disabled"), "{repo:?}: {stderr}");
        let deletes = deletes_since(&a.emu, before);
        assert_eq!(deletes.len(), 1, "{repo:?}: {deletes:?}\n{stdout}");
    }
    // `--path .` and `--path ./` are the repository root: the same source.
    for path in [".", "./", "/"] {
        let url = a.repo.url();
        let out = a
            .reconcile_repo("--plan", &url, &["--prune", "--path", path])
            .await;
        let (stdout, stderr) = text(&out);
        assert_eq!(out.status.code(), Some(0), "{path}\n{stdout}\n{stderr}");
        assert!(!stderr.contains("prune disabled"), "{path}: {stderr}");
    }
    a.finish();
}
