//! Ownership, end to end through the real binary: a manifest that cannot be read (a
//! dangling or looping link, a permission error) or is empty stops the revision like a
//! parse error, so its object never leaves the desired set and is never pruned.

mod common;

use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};

use common::*;
use immuta_gitops::emulator::Handle;

/// The manifest the broken-manifest tests replace.
const VICTIM: &str = "policy/mask-provider-npi.yaml";

/// The demo applied once with an inventory.
struct Applied {
    emu: Handle,
    tmp: tempfile::TempDir,
    repo: TestRepo,
    state: String,
    secrets: Vec<(String, String)>,
    scan: SecretScan,
}

impl Applied {
    async fn new() -> Applied {
        let DemoTenant {
            emu,
            tmp,
            repo,
            secrets,
            scan,
        } = DemoTenant::start().await;
        let state = tmp.path().join("state").to_string_lossy().to_string();
        let mut a = Applied {
            emu,
            tmp,
            repo,
            state,
            secrets,
            scan,
        };
        let url = a.repo.url();
        let out = a.reconcile("--apply", &url, &[]).await;
        assert_eq!(out.status.code(), Some(0), "{:?}", text(&out));
        a
    }

    async fn reconcile(&mut self, mode: &str, repo: &str, extra: &[&str]) -> std::process::Output {
        let mut flags = vec!["--state-dir", self.state.as_str()];
        flags.extend_from_slice(extra);
        let env = env_refs(&self.secrets);
        let out = reconcile(&self.emu.url(), mode, repo, &flags, &env).await;
        self.scan
            .output(&format!("reconcile {mode} {repo} {extra:?}"), &out);
        out
    }

    fn inventory(&self) -> String {
        std::fs::read_to_string(PathBuf::from(&self.state).join("inventory.json")).unwrap()
    }

    /// `reconcile --apply --prune` on `repo`: exit 1, `expect` in stderr, no write, the
    /// inventory untouched.
    async fn refused(&mut self, repo: &str, expect: &[&str]) {
        let inventory = self.inventory();
        let before = real_write_records(&self.emu).len();
        let out = self
            .reconcile("--apply", repo, &["--prune", "--max-deletions", "100"])
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

    fn finish(&self) {
        assert!(self.scan.assert_clean(&self.secrets) > 0);
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
    // A manifest that cannot be read (skipped as root, which reads anyway).
    use std::os::unix::fs::PermissionsExt;
    let dir = a.tmp.path().join("plain-locked");
    plain_copy(&dir);
    let locked = dir.join("policy/mask-ssn.yaml");
    std::fs::set_permissions(&locked, std::fs::Permissions::from_mode(0o000)).unwrap();
    if std::fs::read(&locked).is_err() {
        a.refused(
            &dir.to_string_lossy(),
            &["policy/mask-ssn.yaml:1:1", "cannot be read"],
        )
        .await;
        validate_fails(&dir, "policy/mask-ssn.yaml:1:1").await;
    }
    std::fs::set_permissions(&locked, std::fs::Permissions::from_mode(0o644)).unwrap();
    a.finish();
}
