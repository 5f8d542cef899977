//! Tests of the Git source's credentials: tokens in the URL or the configuration never
//! reach an error, an origin or a log, a refusing 127.0.0.1 server sees only the chosen
//! credential a bounded number of times, and the redactor masks every encoding.

use super::*;

#[test]
fn unreachable_remote_is_a_git_error_without_credentials() {
    let cache = tempfile::tempdir().unwrap();
    let mut sp = spec(
        "https://user:tok123@127.0.0.1:1/repo.git",
        Some("main"),
        None,
        cache.path(),
    );
    let err = fetch(&sp).unwrap_err();
    let Error::Git { origin, .. } = &err else {
        panic!("{err:?}")
    };
    assert_eq!(origin, "https://127.0.0.1:1/repo.git");
    for text in [err.to_string(), format!("{err:?}")] {
        assert!(
            !text.contains("tok123") && !text.contains("user:"),
            "{text}"
        );
    }
    sp.repo = "https://127.0.0.1:1/repo.git".into();
    sp.auth.token = Some(Secret::new("ghp_tok123"));
    let err = fetch(&sp).unwrap_err();
    assert!(matches!(err, Error::Git { .. }), "{err}");
    assert!(!format!("{err} {err:?}").contains("tok123"));
    // Nothing half-cloned is left behind as a usable mirror.
    let left: Vec<_> = std::fs::read_dir(cache.path())
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert!(left.iter().all(|p| !p.join(MARKER).exists()), "{left:?}");
}

/// An HTTP server on 127.0.0.1 that answers every request with 401 and records the
/// `Authorization` headers it was sent.
fn refusing_server() -> (
    String,
    std::thread::JoinHandle<Vec<String>>,
    std::net::SocketAddr,
) {
    use std::io::{BufRead, BufReader, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let handle = std::thread::spawn(move || {
        let mut auth = Vec::new();
        for stream in listener.incoming() {
            let mut stream = stream.unwrap();
            let mut lines = Vec::new();
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            loop {
                let mut line = String::new();
                if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                    break;
                }
                lines.push(line.trim_end().to_string());
            }
            if lines.first().is_some_and(|l| l.starts_with("STOP")) {
                break;
            }
            auth.extend(
                lines
                    .iter()
                    .filter_map(|l| l.strip_prefix("Authorization: ").map(str::to_string)),
            );
            let reply = "HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Basic realm=\"git\"\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
            let _ = stream.write_all(reply.as_bytes());
        }
        auth
    });
    (format!("http://{addr}/acme/policies.git"), handle, addr)
}

#[test]
fn rejected_credentials_give_up_after_a_few_attempts() {
    use std::io::Write;
    let (url, server, addr) = refusing_server();
    let cache = tempfile::tempdir().unwrap();
    let mut sp = spec(&url, None, None, cache.path());
    sp.auth.token = Some(Secret::new("ghp_tok123"));
    let err = fetch(&sp).unwrap_err();
    assert!(matches!(err, Error::Git { op: "clone", .. }), "{err}");
    assert!(!format!("{err} {err:?}").contains("tok123"), "{err}");
    std::net::TcpStream::connect(addr)
        .unwrap()
        .write_all(b"STOP\r\n\r\n")
        .unwrap();
    let sent = server.join().unwrap();
    let basic = format!("Basic {}", base64_of("x-access-token:ghp_tok123"));
    assert!(
        !sent.is_empty() && sent.len() <= MAX_AUTH_ATTEMPTS as usize,
        "{sent:?}"
    );
    assert!(sent.iter().all(|a| *a == basic), "{sent:?}");
}

fn base64_of(s: &str) -> String {
    const ABC: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in s.as_bytes().chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, b)| n | (u32::from(*b) << (16 - 8 * i)));
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(char::from(ABC[((n >> (18 - 6 * i)) & 63) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[test]
fn redactor_masks_every_form_of_the_url_secret() {
    let sp = spec("https://us%65r:t%6Fk123@h/x", None, None, Path::new("/tmp"));
    let r = redactor_for(&sp);
    assert_eq!(
        r.redact("a t%6Fk123 b tok123 c"),
        "a (sensitive) b (sensitive) c"
    );
}

#[test]
fn credential_choice_is_bounded_and_prefers_configured_values() {
    let token = GitAuth {
        token: Some(Secret::new("t0k3n")),
        ..Default::default()
    };
    let key = GitAuth {
        ssh_key: Some(PathBuf::from("/k")),
        ..Default::default()
    };
    let none = GitAuth::default();
    let up = CredentialType::USER_PASS_PLAINTEXT;
    let ssh = CredentialType::SSH_KEY;
    let cases = [
        (
            &token,
            false,
            None,
            up,
            1,
            Answer::UserPass {
                username: TOKEN_USERNAME.into(),
            },
        ),
        (
            &token,
            false,
            Some("bob"),
            up,
            1,
            Answer::UserPass {
                username: "bob".into(),
            },
        ),
        (
            &none,
            true,
            Some("bob"),
            up,
            1,
            Answer::UserPass {
                username: "bob".into(),
            },
        ),
        (
            &key,
            false,
            Some("git"),
            ssh,
            1,
            Answer::SshKey {
                username: "git".into(),
            },
        ),
        (
            &none,
            false,
            None,
            ssh,
            2,
            Answer::SshAgent {
                username: "git".into(),
            },
        ),
        (
            &none,
            false,
            None,
            CredentialType::USERNAME,
            1,
            Answer::Username("git".into()),
        ),
    ];
    for (auth, url_pw, user, allowed, attempt, want) in cases {
        assert_eq!(
            choose_credential(auth, url_pw, user, allowed, attempt),
            want
        );
    }
    assert!(matches!(
        choose_credential(&none, false, None, up, 1),
        Answer::GiveUp(_)
    ));
    assert!(matches!(
        choose_credential(&token, false, None, up, MAX_AUTH_ATTEMPTS + 1),
        Answer::GiveUp(_)
    ));
}

/// issue 11: a token in the query string, fragment or userinfo of the URL never reaches
/// the error or the origin, whichever part carries it.
#[test]
fn issue_11_fetch_errors_never_show_a_url_token() {
    let cache = tempfile::tempdir().unwrap();
    for url in [
        "http://127.0.0.1:1/a/b.git?private_token=glpat-Q7secretQ7",
        "http://oauth2:glpat-Q7secretQ7@127.0.0.1:1/a/b.git",
        "http://127.0.0.1:1/a/b.git?x=1&access_token=glpat%2DQ7secretQ7#glpat-Q7secretQ7",
    ] {
        let sp = spec(url, None, None, cache.path());
        let err = fetch(&sp).unwrap_err();
        let text = format!("{err} {err:?}");
        assert!(!text.contains("Q7secretQ7"), "{text}");
        assert!(!text.contains("Q7secret"), "{text}");
        assert!(text.contains("127.0.0.1:1/a/b.git"), "{text}");
    }
}
