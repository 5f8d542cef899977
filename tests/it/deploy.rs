//! The Kubernetes base in `deploy/` keeps its promises: applying it never overwrites a
//! Secret (none is in the kustomization; the examples are outside it), the optional Git
//! credentials are an optional volume read through `--credentials-dir` (so the pod
//! starts without them), SSH host keys can be mounted, and readiness is `/readyz`.
//! `.ci/run` validates the same files against the Kubernetes schemas.

use crate::common;

use serde_json::Value;

fn yaml(rel: &str) -> Value {
    let text = std::fs::read_to_string(common::root().join(rel)).unwrap();
    serde_yaml::from_str(&text).unwrap()
}

#[test]
fn applying_the_base_never_overwrites_a_users_secret() {
    let k = yaml("deploy/kustomization.yaml");
    let resources: Vec<&str> = k["resources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r.as_str().unwrap())
        .collect();
    assert!(resources.contains(&"deployment.yaml"), "{resources:?}");
    for r in &resources {
        let doc = yaml(&format!("deploy/{r}"));
        assert_ne!(doc["kind"], "Secret", "{r} is a Secret in the base");
    }
    for example in ["immuta-api-key.yaml", "git-credentials.yaml"] {
        let doc = yaml(&format!("deploy/secrets/{example}"));
        assert_eq!(doc["kind"], "Secret", "{example}");
        assert!(!resources.iter().any(|r| r.ends_with(example)));
    }
}

#[test]
fn the_deployment_starts_without_git_credentials_and_can_mount_ssh_keys() {
    let d = yaml("deploy/deployment.yaml");
    let pod = &d["spec"]["template"]["spec"];
    let c = &pod["containers"][0];
    let env = |name: &str| {
        c["env"]
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["name"] == name)
            .map(|e| e["value"].as_str().unwrap().to_string())
    };
    let volume = |name: &str| {
        pod["volumes"]
            .as_array()
            .unwrap()
            .iter()
            .find(|v| v["name"] == name)
            .unwrap()
            .clone()
    };
    let mount = |name: &str| {
        c["volumeMounts"]
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["name"] == name)
            .map(|m| m["mountPath"].as_str().unwrap().to_string())
            .unwrap()
    };
    // Git credentials: an optional volume, read as optional files.
    let git = volume("git-credentials");
    assert_eq!(git["secret"]["secretName"], "immuta-gitops-git");
    assert_eq!(git["secret"]["optional"], true);
    assert_eq!(
        env("IMMUTA_GITOPS_CREDENTIALS_DIR"),
        Some(mount("git-credentials"))
    );
    // No strict file flag points into the optional volume (a missing file would be a
    // start-up error and a crash loop).
    for strict in [
        "IMMUTA_GITOPS_GIT_TOKEN_FILE",
        "IMMUTA_GITOPS_WEBHOOK_SECRET_FILE",
        "IMMUTA_GITOPS_SSH_KEY_FILE",
        "IMMUTA_GITOPS_SSH_PASSPHRASE_FILE",
    ] {
        assert_eq!(env(strict), None, "{strict} is strict");
    }
    // SSH host keys: the Secret's optional known_hosts key at $HOME/.ssh/known_hosts.
    let hosts = volume("ssh-known-hosts");
    assert_eq!(hosts["secret"]["optional"], true);
    assert_eq!(hosts["secret"]["items"][0]["key"], "known_hosts");
    assert_eq!(
        format!("{}/known_hosts", mount("ssh-known-hosts")),
        format!("{}/.ssh/known_hosts", env("HOME").unwrap())
    );
    // The API key is required: a non-optional volume and a strict file flag.
    let key = volume("immuta-api-key");
    assert!(key["secret"]["optional"].is_null());
    assert!(env("IMMUTA_GITOPS_API_KEY_FILE")
        .unwrap()
        .starts_with(&mount("immuta-api-key")));
    // Readiness is "serving"; liveness is "alive".
    assert_eq!(c["readinessProbe"]["httpGet"]["path"], "/readyz");
    assert_eq!(c["livenessProbe"]["httpGet"]["path"], "/healthz");
}
