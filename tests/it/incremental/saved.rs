//! A saved incremental plan: `apply FILE` recomputes it from the same records and
//! applies it, or refuses it as stale when it would carry other objects.

use super::{mask_policy, Tenant, CARRIABLE};
use crate::common::{reconcile, run, text, KEY};

impl Tenant {
    fn env_pairs(&self) -> Vec<(&str, &str)> {
        self.env
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect()
    }

    /// `reconcile --plan --refresh=changed --out FILE`.
    async fn save_incremental(&self, file: &std::path::Path) -> serde_json::Value {
        let state = self.state.to_string_lossy().to_string();
        let out = reconcile(
            &self.emu.url(),
            "--plan",
            &self.repo.url(),
            &[
                "--state-dir",
                &state,
                "--refresh=changed",
                "--out",
                &file.to_string_lossy(),
            ],
            &self.env_pairs(),
        )
        .await;
        let (stdout, stderr) = text(&out);
        assert_eq!(out.status.code(), Some(0), "{stdout}\n{stderr}");
        serde_json::from_str(&std::fs::read_to_string(file).unwrap()).unwrap()
    }

    /// `apply FILE`, with or without the state directory.
    async fn apply_file(&self, file: &std::path::Path, with_state: bool) -> (Option<i32>, String) {
        let cache = tempfile::tempdir().unwrap();
        let state = self.state.to_string_lossy().to_string();
        let (file, url, cache) = (
            file.to_string_lossy().to_string(),
            self.emu.url(),
            cache.path().to_string_lossy().to_string(),
        );
        let mut args = vec![
            "apply",
            file.as_str(),
            "--immuta-url",
            url.as_str(),
            "--cache-dir",
            cache.as_str(),
        ];
        if with_state {
            args.extend(["--state-dir", state.as_str()]);
        }
        let mut env = self.env_pairs();
        env.push(("IMMUTA_API_KEY", KEY));
        let out = run(&args, &env).await;
        let (stdout, stderr) = text(&out);
        (out.status.code(), format!("{stdout}\n{stderr}"))
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_saved_incremental_plan_is_rechecked_from_the_same_records() {
    let t = Tenant::applied(&[]).await;
    t.repo
        .commit(&[("policy/extra-mask-1.yaml", Some(&mask_policy(1, "saved")))]);
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("plan.json");
    let saved = t.save_incremental(&file).await;
    assert_eq!(
        saved["incremental"]["carried"].as_array().unwrap().len(),
        CARRIABLE
    );
    assert_eq!(saved["plan"]["scope"]["incremental"]["carried"], CARRIABLE);

    // Without the state directory it would read (and carry) other objects: refused.
    let (code, out) = t.apply_file(&file, false).await;
    assert_eq!(code, Some(1), "{out}");
    assert!(
        out.contains("plan is stale: it was made with --refresh=changed and carried 12 object(s)"),
        "{out}"
    );
    let mark = t.mark();
    let (code, out) = t.apply_file(&file, true).await;
    assert_eq!(code, Some(0), "{out}");
    assert_eq!(t.writes_since(mark), (0, 1), "{out}");
}
