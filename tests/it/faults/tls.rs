//! TLS: certificate verification is on by default (a self-signed server is refused)
//! and `--insecure-skip-tls-verify` turns it off with a warning.

use immuta_gitops::client::{Client, ClientConfig, RetryPolicy};
use immuta_gitops::redact::Secret;

use super::client::{client, quick};
use crate::common::*;

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
