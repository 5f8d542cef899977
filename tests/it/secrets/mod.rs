//! issue 11: the secret scanner. Every command and output format runs with secrets of
//! every character class (quotes, backslashes, unicode, newlines and tabs, control
//! characters, very long, regex metacharacters, percent signs) as the API key,
//! `{{EnvVar}}` values, connection passwords, a Git token file and tokens in the URL,
//! against an emulator that echoes request bodies and headers in its error messages.
//! No secret, and no 6-character fragment of one (raw or JSON-escaped), may appear in
//! stdout, stderr, logs, plan files, `/status`, `/metrics` or the daemon's notifications
//! (issue 16: generic and Slack bodies, to a receiver whose URL carries a token).
//!
//! Each scenario also asserts that the echo reached us and was masked, so the scan
//! cannot pass by not exercising the error paths. The daemon's scan is in `daemon.rs`.

use crate::common;

use std::path::{Path, PathBuf};

use aho_corasick::AhoCorasick;
use common::receiver;
use common::*;
use immuta_emulator::echo::{self, EchoOptions};
use immuta_emulator::{Handle, Options};

mod daemon;

/// Printable ASCII only: an HTTP header carries it. Quotes, backslash, percent, regex.
const API_KEY: &str = r#"Api"Key\Sx%41(a|b)*?+[z]{2}^$-k1"#;
/// A literal connection password in YAML (`"Lit\"eral\\Pass-8h8"` in the file).
const LITERAL_PASSWORD: &str = "Lit\"eral\\Pass-8h8";
/// The Git token given in a file.
const GIT_TOKEN: &str = "GitTok\"en\\Fi%le-9m3";
/// Tokens inside the repository URL (user info, query string, fragment), as typed.
const GIT_URL: &str =
    "http://oauth2:Gt%22ok%5Cen-9i9@127.0.0.1:1/org/repo.git?private_token=Qt%25ok-9j0&x=1#Ft-frag-9k1";
/// An Immuta URL carrying the same credentials, on a port that refuses connections.
const IMMUTA_URL: &str = "http://user:Gt%22ok%5Cen-9i9@127.0.0.1:1/?private_token=Qt%25ok-9j0";
/// What those URL parts hold, decoded and as typed.
const URL_SECRETS: &[&str] = &[
    "Gt\"ok\\en-9i9",
    "Gt%22ok%5Cen-9i9",
    "Qt%ok-9j0",
    "Qt%25ok-9j0",
    "Ft-frag-9k1",
];

/// `{{EnvVar}}` values, one per character class.
fn env_secrets() -> Vec<(&'static str, String)> {
    let mut long = String::new();
    let mut x: u32 = 0x9e37_79b9;
    while long.len() < 3000 {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        let alphabet = b"abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789\"\\%{}";
        long.push(char::from(alphabet[(x as usize) % alphabet.len()]));
    }
    vec![
        ("S_QUOTE", "Qu\"o'te\"Val-7a1".into()),
        ("S_BACKSLASH", "Back\\sl\\\\ash\\Val-7b2".into()),
        ("S_UNICODE", "Ünï©ødé-ключ-🔑-7c3".into()),
        ("S_NEWLINE", "New\nLine\r\nTab\tVal-7d4".into()),
        ("S_LONG", long),
        ("S_REGEX", "(a|b)*[c]{2}^$.?+Val-7e5".into()),
        ("S_PERCENT", "100%-Pct%41%zz+sp ace-7f6".into()),
        ("S_CONTROL", "Ctl\u{1b}]0;t\u{7}Val-7g7".into()),
    ]
}

/// Every secret of the run.
fn all_secrets() -> Vec<String> {
    let mut out: Vec<String> = env_secrets().into_iter().map(|(_, v)| v).collect();
    out.extend(
        [API_KEY, LITERAL_PASSWORD, GIT_TOKEN, receiver::TOKEN]
            .iter()
            .chain(URL_SECRETS)
            .map(|s| s.to_string()),
    );
    out
}

/// Every 6-character window of each secret, raw and JSON-escaped.
fn scanner() -> (AhoCorasick, Vec<String>) {
    let mut frags = Vec::new();
    for s in all_secrets() {
        let json = serde_json::to_string(&s).unwrap();
        for form in [s.clone(), json.trim_matches('"').to_string()] {
            let chars: Vec<char> = form.chars().collect();
            for w in chars.windows(6) {
                frags.push(w.iter().collect::<String>());
            }
        }
    }
    frags.sort();
    frags.dedup();
    (AhoCorasick::new(&frags).unwrap(), frags)
}

/// Collects every output of the run and scans it.
struct Scan {
    matcher: AhoCorasick,
    frags: Vec<String>,
    scanned: usize,
}

impl Scan {
    fn new() -> Scan {
        let (matcher, frags) = scanner();
        Scan {
            matcher,
            frags,
            scanned: 0,
        }
    }

    fn check(&mut self, what: &str, text: &str) {
        self.scanned += 1;
        if let Some(m) = self.matcher.find(text) {
            let at = m.start();
            let mut from = at.saturating_sub(80);
            while !text.is_char_boundary(from) {
                from -= 1;
            }
            let mut to = (m.end() + 80).min(text.len());
            while !text.is_char_boundary(to) {
                to += 1;
            }
            panic!(
                "{what}: secret fragment {:?} at byte {at}: …{}…",
                self.frags[m.pattern().as_usize()],
                &text[from..to]
            );
        }
    }

    fn output(&mut self, what: &str, o: &std::process::Output) -> (String, String) {
        let (stdout, stderr) = text(o);
        self.check(&format!("{what} stdout"), &stdout);
        self.check(&format!("{what} stderr"), &stderr);
        (stdout, stderr)
    }
}

const PURPOSE: &str = "name: Scan Purpose\ndescription: '{{EnvVar \"S_QUOTE\"}}'\nacknowledgement: '{{EnvVar \"S_LONG\"}}'\n";
const PURPOSE2: &str = "name: Scan Other\ndescription: \"${S_UNICODE} and ${S_PERCENT}\"\n";
const POLICY: &str = "policyKey: scan-mask\nname: Scan Mask\ndescription: '{{EnvVar \"S_BACKSLASH\"}} {{EnvVar \"S_REGEX\"}}'\ntype: data\nactions:\n  - rules:\n      - type: Masking\n        config:\n          fields:\n            - type: columnTags\n              columnTag: Discovered.SSN\n          maskingConfig:\n            type: Hash\n";
const PROJECT: &str = "projectKey: scan-project\nname: Scan Project\ndescription: '{{EnvVar \"S_CONTROL\"}}'\ndocumentation: '{{EnvVar \"S_NEWLINE\"}}'\npurposes:\n  - Scan Purpose\n";

/// A data source whose password comes first in the body, so an echo of the body keeps it
/// within the part of the message that is shown.
fn data(key: &str, password: &str, table: &str) -> String {
    format!(
        "connection:\n  password: {password}\n  handler: Snowflake\n  hostname: {key}.snowflakecomputing.com\n  port: 443\n  database: ANALYTICS\n  warehouse: COMPUTE_WH\n  authenticationMethod: userPassword\n  username: svc_immuta\nconnectionKey: {key}\nsources:\n  - table: {table}\n    schema: public\n"
    )
}

/// Invalid manifests are refused before any request: no tenant needs to listen.
fn bad_url_for_broken() -> String {
    "http://127.0.0.1:1".into()
}

/// Repository without data sources (plans need no dry run), and one with them.
fn repos(tmp: &Path) -> (PathBuf, PathBuf) {
    let base = [
        ("purpose/scan.yaml", PURPOSE.to_string()),
        ("purpose/other.yaml", PURPOSE2.to_string()),
        ("policy/mask.yaml", POLICY.to_string()),
        ("project/p.yaml", PROJECT.to_string()),
    ];
    let with_data = [
        (
            "data/templated.yaml",
            data("scan-templated", "'{{EnvVar \"S_NEWLINE\"}}'", "orders"),
        ),
        (
            "data/literal.yaml",
            data("scan-literal", "\"Lit\\\"eral\\\\Pass-8h8\"", "invoices"),
        ),
    ];
    let plain: Vec<(&str, &str)> = base.iter().map(|(p, c)| (*p, c.as_str())).collect();
    let mut full = plain.clone();
    full.extend(with_data.iter().map(|(p, c)| (*p, c.as_str())));
    (
        write_tree(tmp, "plain", &plain),
        write_tree(tmp, "full", &full),
    )
}

async fn echo_emulator(reject_writes: bool) -> Handle {
    echo::spawn(
        Options {
            api_key: API_KEY.into(),
            ..Default::default()
        },
        EchoOptions { reject_writes },
    )
    .await
    .unwrap()
}

/// Env of every run: the API key and the `{{EnvVar}}` values.
fn run_env() -> Vec<(String, String)> {
    let mut env: Vec<(String, String)> = env_secrets()
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect();
    env.push(("IMMUTA_API_KEY".into(), API_KEY.into()));
    env
}

async fn cli(args: &[&str]) -> std::process::Output {
    let env = run_env();
    let refs: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    run(args, &refs).await
}

/// `reconcile` with the common flags (cache dir, retries kept short).
async fn reconcile_cli(
    url: &str,
    mode: &str,
    repo: &str,
    cache: &Path,
    extra: &[&str],
) -> std::process::Output {
    let cache = cache.to_string_lossy().to_string();
    let mut args = vec![
        "reconcile",
        mode,
        "--repo",
        repo,
        "--immuta-url",
        url,
        "--cache-dir",
        &cache,
        "--retry-attempts",
        "1",
    ];
    args.extend_from_slice(extra);
    cli(&args).await
}

#[tokio::test]
async fn issue_11_no_secret_fragment_in_any_cli_output() {
    let tmp = tempfile::tempdir().unwrap();
    let (plain, full) = repos(tmp.path());
    let (plain, full) = (
        plain.to_string_lossy().to_string(),
        full.to_string_lossy().to_string(),
    );
    let cache = tmp.path().join("cache");
    let mut scan = Scan::new();

    // validate, of both trees.
    for dir in [&plain, &full] {
        let o = cli(&["validate", dir]).await;
        scan.output("validate", &o);
        assert_eq!(o.status.code(), Some(0), "{:?}", text(&o));
    }

    // Invalid manifests whose wrong values are secrets, and a templated key: validate and
    // reconcile name the fields, never the values.
    let broken = write_tree(
        tmp.path(),
        "broken",
        &[
            (
                "purpose/a.yaml",
                "name: Broken\nkAnonNoiseReduction: '{{EnvVar \"S_QUOTE\"}}'\n",
            ),
            ("policy/k.yaml", &POLICY.replace("scan-mask", "${S_REGEX}")),
            (
                "data/d.yaml",
                &data("scan-bad", "'${S_BACKSLASH}'", "orders")
                    .replace("port: 443", "port: '${S_UNICODE}'")
                    .replace("handler: Snowflake", "handler: '${S_PERCENT}'"),
            ),
        ],
    );
    let broken = broken.to_string_lossy().to_string();
    let o = cli(&["validate", &broken]).await;
    let (stdout, _) = scan.output("validate broken", &o);
    assert_eq!(o.status.code(), Some(1), "{stdout}");
    assert!(
        stdout.contains("policyKey must be written literally"),
        "{stdout}"
    );
    assert!(stdout.contains("(sensitive)"), "{stdout}");

    // A tenant that accepts everything: plan in every format, save, apply the saved plan.
    let ok = echo_emulator(false).await;
    for output in ["text", "json", "markdown"] {
        let o = reconcile_cli(&ok.url(), "--plan", &full, &cache, &["--output", output]).await;
        let (stdout, _) = scan.output(&format!("plan {output}"), &o);
        assert_eq!(o.status.code(), Some(0), "{:?}", text(&o));
        assert!(stdout.contains("(sensitive)"), "{stdout}");
    }
    let plan_file = tmp.path().join("plan.json");
    let plan_arg = plan_file.to_string_lossy().to_string();
    let o = reconcile_cli(&ok.url(), "--plan", &full, &cache, &["--out", &plan_arg]).await;
    scan.output("plan --out", &o);
    scan.check("saved plan", &std::fs::read_to_string(&plan_file).unwrap());
    let o = cli(&["apply", &plan_arg, "--immuta-url", &ok.url()]).await;
    let (stdout, _) = scan.output("apply saved plan", &o);
    assert_eq!(o.status.code(), Some(0), "{stdout}");
    for output in ["text", "json"] {
        let o = reconcile_cli(&ok.url(), "--apply", &full, &cache, &["--output", output]).await;
        scan.output(&format!("apply {output} (no changes)"), &o);
    }
    // export and adopt (issue 13) of the tenant the apply wrote, and the files export wrote.
    let exported = tmp.path().join("exported");
    let exported_arg = exported.to_string_lossy().to_string();
    let state_arg = tmp.path().join("state").to_string_lossy().to_string();
    let cache_arg = cache.to_string_lossy().to_string();
    let o = cli(&["export", "--out", &exported_arg, "--immuta-url", &ok.url()]).await;
    scan.output("export", &o);
    assert_eq!(o.status.code(), Some(0), "{:?}", text(&o));
    // Credentials are never read, so no data file may hold one. (A description that Git
    // templated is stored by Immuta as plain text; export writes what the tenant holds and
    // cannot know it was templated, so project and purpose files are not scanned.)
    let mut exported_files = 0;
    for kind in ["data", "policy"] {
        let Ok(dir) = std::fs::read_dir(exported.join(kind)) else {
            continue;
        };
        for e in dir {
            let text = std::fs::read_to_string(e.unwrap().path()).unwrap();
            scan.check("exported file", &text);
            exported_files += 1;
        }
    }
    assert!(exported_files > 0);
    assert!(
        exported.join("data").is_dir(),
        "data connections are exported"
    );

    let adopt = [
        "adopt",
        "--all",
        "--force",
        "--repo",
        &full,
        "--state-dir",
        &state_arg,
        "--cache-dir",
        &cache_arg,
        "--retry-attempts",
        "1",
        "--immuta-url",
    ];
    let ok_url = ok.url();
    let mut args = adopt.to_vec();
    args.push(&ok_url);
    let o = cli(&args).await;
    scan.output("adopt", &o);
    assert_eq!(o.status.code(), Some(0), "{:?}", text(&o));
    ok.shutdown().await;

    // A tenant that refuses every write and quotes the request (headers and body).
    let bad = echo_emulator(true).await;
    let o = reconcile_cli(&bad.url(), "--plan", &full, &cache, &[]).await;
    let (_, stderr) = scan.output("plan refused dry run", &o);
    assert_eq!(o.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("write refused (echo mode)"), "{stderr}");
    assert!(
        stderr.contains("{\"connection\":{\"password\":\"(sensitive)\""),
        "{stderr}"
    );
    for output in ["text", "json"] {
        let o = reconcile_cli(&bad.url(), "--apply", &plain, &cache, &["--output", output]).await;
        let (stdout, _) = scan.output(&format!("apply refused {output}"), &o);
        assert_eq!(o.status.code(), Some(1), "{stdout}");
        assert!(stdout.contains("write refused (echo mode)"), "{stdout}");
        let masked_key = if output == "json" {
            "authorization\\\":\\\"(sensitive)"
        } else {
            "authorization\":\"(sensitive)"
        };
        assert!(stdout.contains(masked_key), "{stdout}");
    }
    let o = reconcile_cli(&bad.url(), "--plan", &plain, &cache, &["--out", &plan_arg]).await;
    scan.output("plan --out (refusing tenant)", &o);
    scan.check(
        "saved plan 2",
        &std::fs::read_to_string(&plan_file).unwrap(),
    );
    let o = cli(&["apply", &plan_arg, "--immuta-url", &bad.url()]).await;
    let (stdout, _) = scan.output("apply saved plan refused", &o);
    assert!(stdout.contains("FAILED: POST /api/v2/purpose"), "{stdout}");
    bad.shutdown().await;

    let o = reconcile_cli(&bad_url_for_broken(), "--plan", &broken, &cache, &[]).await;
    let (_, stderr) = scan.output("reconcile broken", &o);
    assert_eq!(o.status.code(), Some(1), "{stderr}");

    // A tenant that expects another key: the 401 quotes the key we sent.
    let other = echo::spawn(
        Options {
            api_key: "another-key-entirely".into(),
            ..Default::default()
        },
        EchoOptions::default(),
    )
    .await
    .unwrap();
    let o = reconcile_cli(&other.url(), "--plan", &full, &cache, &[]).await;
    let (_, stderr) = scan.output("wrong key", &o);
    assert_eq!(o.status.code(), Some(1), "{stderr}");
    let o = cli(&[
        "export",
        "--out",
        &exported_arg,
        "--force",
        "--immuta-url",
        &other.url(),
    ])
    .await;
    let (_, stderr) = scan.output("export wrong key", &o);
    assert_eq!(o.status.code(), Some(1), "{stderr}");
    let other_url = other.url();
    let mut args = adopt.to_vec();
    args.push(&other_url);
    let o = cli(&args).await;
    let (_, stderr) = scan.output("adopt wrong key", &o);
    assert_eq!(o.status.code(), Some(1), "{stderr}");
    other.shutdown().await;

    // Tokens in the Git URL, and a token file, on a remote that refuses the connection.
    let token_file = tmp.path().join("git-token");
    std::fs::write(&token_file, GIT_TOKEN).unwrap();
    let token_arg = token_file.to_string_lossy().to_string();
    for extra in [vec![], vec!["--git-token-file", token_arg.as_str()]] {
        let o = reconcile_cli("http://127.0.0.1:1", "--plan", GIT_URL, &cache, &extra).await;
        let (_, stderr) = scan.output("git url", &o);
        assert_eq!(o.status.code(), Some(1), "{stderr}");
        assert!(stderr.contains("127.0.0.1:1/org/repo.git"), "{stderr}");
    }
    // An Immuta URL carrying credentials.
    let o = reconcile_cli(IMMUTA_URL, "--plan", &plain, &cache, &[]).await;
    let (_, stderr) = scan.output("immuta url", &o);
    assert_eq!(o.status.code(), Some(1), "{stderr}");
    assert!(scan.scanned >= 30, "{}", scan.scanned);
}
