//! The daemon's webhook end to end: GitHub's signature and GitLab's token, deliveries
//! that are answered but run nothing, and a hook endpoint that exists only once a
//! webhook secret does (a credentials dir that gains the key).

use std::time::Duration;

use immuta_gitops::daemon::webhook;
use immuta_gitops::redact::Secret;

use super::harness::*;
use crate::common::*;

#[tokio::test(flavor = "multi_thread")]
async fn webhook_with_bad_signature_is_refused_and_a_good_one_runs_at_once() {
    let Setup { emu, env, repo } = setup().await;
    let a = repo.commit_alpha();
    let hook_file = env.hook_file.to_string_lossy().to_string();
    let d = env.start(&repo.url(), &emu.url(), |o| {
        o.interval = Duration::from_secs(3600);
        o.webhook_secret_file = Some(hook_file.into());
    });
    wait_applied(&d.base, &a).await;
    let cycles = status(&d.base).await["cycles"].as_u64().unwrap();

    let b = repo.commit(&[("purpose/alpha.yaml", Some(&purpose("Alpha", "changed")))]);
    let body = repo.push_event(&repo.branch());
    let http = http();
    let url = format!("{}/hook", d.base);
    for (header, value) in [
        ("X-Hub-Signature-256", "sha256=0000".to_string()),
        (
            "X-Hub-Signature-256",
            webhook::github_signature(&Secret::new("wrong secret"), &body),
        ),
        ("X-Gitlab-Token", "wrong-token".to_string()),
    ] {
        let r = http
            .post(&url)
            .header(header, value)
            .body(body.clone())
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 401, "{header}");
    }
    let r = http.post(&url).body(body.clone()).send().await.unwrap();
    assert_eq!(r.status(), 401, "no signature");

    // Signed, but not a push to the followed branch: answered, and no cycle runs.
    let ping = post_signed(
        &url,
        Some("ping"),
        br#"{"zen":"Speak like a human.","hook_id":1}"#.to_vec(),
    )
    .await;
    assert_eq!(ping.status(), 200);
    let other = post_signed(&url, Some("push"), repo.push_event("feature")).await;
    assert_eq!(other.status(), 202);
    assert!(other
        .text()
        .await
        .unwrap()
        .starts_with("ignored: push to refs/heads/feature"));
    let pr = post_signed(&url, Some("pull_request"), body.clone()).await;
    assert_eq!(pr.status(), 202);
    assert!(pr.text().await.unwrap().starts_with("ignored: "));
    let gl_other = http
        .post(&url)
        .header("X-Gitlab-Token", HOOK_SECRET)
        .header("X-Gitlab-Event", "Push Hook")
        .body(repo.push_event("feature"))
        .send()
        .await
        .unwrap();
    assert_eq!(gl_other.status(), 202);
    assert_eq!(
        status(&d.base).await["cycles"].as_u64().unwrap(),
        cycles,
        "ignored deliveries ran nothing"
    );

    let r = post_signed(&url, None, body.clone()).await;
    assert_eq!(r.status(), 202);
    let s = wait_applied(&d.base, &b).await;
    assert_eq!(s["last_cycle"]["trigger"], "hook");
    assert_eq!(
        s["cycles"].as_u64().unwrap(),
        cycles + 1,
        "refused and ignored hooks ran nothing"
    );
    assert_eq!(real_writes(&emu), 2);

    // GitLab's token works too; with the revision unchanged the hook still plans.
    let r = http
        .post(&url)
        .header("X-Gitlab-Token", HOOK_SECRET)
        .header("X-Gitlab-Event", "Push Hook")
        .body(body.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 202);
    let s = wait_status(&d.base, "a hook cycle", |s| {
        s["cycles"].as_u64().unwrap() >= cycles + 2
    })
    .await;
    assert_eq!(s["last_cycle"]["result"], "in_sync");
    assert_eq!(real_writes(&emu), 2);
    d.shutdown().await.0.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn a_credentials_dir_without_files_starts_and_one_with_a_webhook_secret_enables_the_hook() {
    let Setup { emu, env, repo } = setup().await;
    let a = repo.commit_alpha();
    // The Secret is not there at all (an optional volume that is empty).
    let creds = env.tmp.path().join("git-credentials");
    std::fs::create_dir_all(&creds).unwrap();
    let dir = creds.clone();
    let d = env.start(&repo.url(), &emu.url(), |o| {
        o.interval = Duration::from_secs(3600);
        o.credentials_dir = Some(dir);
    });
    wait_applied(&d.base, &a).await;
    let http = http();
    let post = http
        .post(format!("{}/hook", d.base))
        .body(repo.push_event(&repo.branch()))
        .send()
        .await
        .unwrap();
    assert_eq!(post.status(), 404, "no webhook secret: no hook endpoint");
    d.shutdown().await.0.unwrap();

    // The Secret gained a webhook-secret key: the next start serves the hook.
    std::fs::write(creds.join("webhook-secret"), format!("{HOOK_SECRET}\n")).unwrap();
    let dir = creds.clone();
    let d = env.start(&repo.url(), &emu.url(), |o| {
        o.interval = Duration::from_secs(3600);
        o.credentials_dir = Some(dir);
    });
    wait_applied(&d.base, &a).await;
    let body = repo.push_event(&repo.branch());
    let r = post_signed(&format!("{}/hook", d.base), Some("push"), body).await;
    assert_eq!(r.status(), 202);
    let s = wait_status(&d.base, "a hook cycle", |s| {
        s["last_cycle"]["trigger"] == "hook"
    })
    .await;
    assert_eq!(s["settings"]["webhook"], true);
    d.shutdown().await.0.unwrap();
}
