//! The demo tenant applied once with a state dir (so with an inventory): where the
//! ownership, prune and table-removal tests start. Each area adds its own helpers in its
//! own `impl Applied` block.

use std::path::PathBuf;
use std::process::Output;

use immuta_emulator::Handle;

use super::{env_refs, reconcile, text, DemoTenant, SecretScan, TestRepo};

/// [`DemoTenant`] after one `reconcile --apply --state-dir`.
pub struct Applied {
    /// The emulator, seeded with `examples/demo/live`, now equal to the demo's Git.
    pub emu: Handle,
    /// Holds the repository and the state dir; dropped last.
    pub tmp: tempfile::TempDir,
    /// `examples/demo/desired`, committed.
    pub repo: TestRepo,
    /// `--state-dir` of every run (`inventory.json` lives there).
    pub state: String,
    /// Placeholder name → secret value.
    pub secrets: Vec<(String, String)>,
    /// Output collected for the secret scan.
    pub scan: SecretScan,
}

impl Applied {
    /// Starts the demo tenant and applies the repository with the state dir.
    pub async fn new() -> Applied {
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
        let out = a.reconcile("--apply", &[]).await;
        assert_eq!(out.status.code(), Some(0), "{:?}", text(&out));
        assert!(a.inventory().contains("population-health-analytics"));
        a
    }

    /// `reconcile MODE` on the test repository with the state dir and the demo's secrets;
    /// the output is kept for the secret scan.
    pub async fn reconcile(&mut self, mode: &str, extra: &[&str]) -> Output {
        let url = self.repo.url();
        self.reconcile_repo(mode, &url, extra).await
    }

    /// The same on another `--repo` (a spelling of it, a plain directory, …).
    pub async fn reconcile_repo(&mut self, mode: &str, repo: &str, extra: &[&str]) -> Output {
        let mut flags = vec!["--state-dir", self.state.as_str()];
        flags.extend_from_slice(extra);
        let env = env_refs(&self.secrets);
        let out = reconcile(&self.emu.url(), mode, repo, &flags, &env).await;
        self.scan
            .output(&format!("reconcile {mode} {repo} {extra:?}"), &out);
        out
    }

    /// `inventory.json` as written.
    pub fn inventory(&self) -> String {
        std::fs::read_to_string(PathBuf::from(&self.state).join("inventory.json")).unwrap()
    }

    /// Asserts that no secret reached any collected output.
    pub fn finish(&self) {
        assert!(self.scan.assert_clean(&self.secrets) > 0);
    }
}
