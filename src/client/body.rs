//! Reading a response body under a size limit (issue 11: a server streaming a large
//! answer once drove the client to 4 GiB in 3.5 s).
//!
//! Input: a `reqwest::Response` and the limit. Output: the body text, complete or cut
//! at the limit. It never buffers more than the limit: a declared `Content-Length`
//! over it is refused before anything is read, and the body is read chunk by chunk
//! with a running total, so an endless answer stops at the limit.

/// A response body, read under the size limit.
pub(super) enum Body {
    /// The whole body.
    Complete(String),
    /// The body was longer than the limit: what was read before the cut.
    Cut(String),
}

/// Reads `resp`'s body, at most `limit` bytes of it.
///
/// # Errors
/// reqwest's error when the connection fails while the body is read.
pub(super) async fn read_capped(
    mut resp: reqwest::Response,
    limit: u64,
) -> Result<Body, reqwest::Error> {
    if resp.content_length().is_some_and(|n| n > limit) {
        return Ok(Body::Cut(String::new()));
    }
    let limit = usize::try_from(limit).unwrap_or(usize::MAX);
    let mut buf: Vec<u8> = Vec::new();
    while let Some(chunk) = resp.chunk().await? {
        let room = limit.saturating_sub(buf.len());
        if chunk.len() > room {
            buf.extend_from_slice(chunk.get(..room).unwrap_or_default());
            return Ok(Body::Cut(String::from_utf8_lossy(&buf).into_owned()));
        }
        buf.extend_from_slice(&chunk);
    }
    Ok(Body::Complete(String::from_utf8_lossy(&buf).into_owned()))
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    use crate::client::{Client, ClientConfig, Error, RetryPolicy};
    use crate::redact::Secret;

    /// How the test server answers `GET /governance/purpose`.
    #[derive(Clone, Copy)]
    enum Answer {
        /// Chunked, forever.
        Endless,
        /// A `Content-Length` far over the limit (nothing sent after the headers).
        Declared,
        /// A valid page of `n` bytes, chunked.
        Exactly(usize),
        /// A 500 whose chunked body never ends.
        EndlessError,
    }

    /// A one-route HTTP/1.1 server on 127.0.0.1; counts the requests it got.
    async fn serve(answer: Answer) -> (String, std::sync::Arc<std::sync::atomic::AtomicUsize>) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let hits = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let counter = hits.clone();
        tokio::spawn(async move {
            loop {
                let Ok((mut sock, _)) = listener.accept().await else {
                    return;
                };
                counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                tokio::spawn(async move {
                    let mut req = [0u8; 4096];
                    let _ = sock.read(&mut req).await;
                    let _ = respond(&mut sock, answer).await;
                });
            }
        });
        (url, hits)
    }

    async fn respond(sock: &mut tokio::net::TcpStream, answer: Answer) -> std::io::Result<()> {
        let chunked = |status: &str| {
            format!("HTTP/1.1 {status}\r\ncontent-type: application/json\r\ntransfer-encoding: chunked\r\n\r\n")
        };
        let piece = format!("{:x}\r\n{}\r\n", 8192, " ".repeat(8192));
        match answer {
            Answer::Endless | Answer::EndlessError => {
                let status = if matches!(answer, Answer::Endless) {
                    "200 OK"
                } else {
                    "500 Internal Server Error"
                };
                sock.write_all(chunked(status).as_bytes()).await?;
                sock.write_all(b"d\r\n{\"message\":\"x\r\n").await?;
                loop {
                    sock.write_all(piece.as_bytes()).await?;
                }
            }
            Answer::Declared => {
                sock.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 999999999999\r\n\r\n")
                    .await?;
                sock.flush().await
            }
            Answer::Exactly(n) => {
                let head = "{\"purposes\":[],\"count\":0}";
                let body = format!("{head}{}", " ".repeat(n - head.len()));
                sock.write_all(chunked("200 OK").as_bytes()).await?;
                for part in body.as_bytes().chunks(1000) {
                    sock.write_all(format!("{:x}\r\n", part.len()).as_bytes())
                        .await?;
                    sock.write_all(part).await?;
                    sock.write_all(b"\r\n").await?;
                }
                sock.write_all(b"0\r\n\r\n").await
            }
        }
    }

    fn client(url: &str, limit: u64) -> Client {
        let mut cfg = ClientConfig::new(url, Secret::new("k123"));
        cfg.max_response_bytes = limit;
        cfg.retry = RetryPolicy {
            max_attempts: 3,
            base: Duration::from_millis(1),
            cap: Duration::from_millis(5),
            max_elapsed: Duration::from_secs(30),
        };
        Client::new(cfg).unwrap()
    }

    #[tokio::test]
    async fn issue_11_long_answers_fail_once_at_the_limit() {
        for answer in [Answer::Endless, Answer::Declared, Answer::Exactly(70_001)] {
            let (url, hits) = serve(answer).await;
            let err = client(&url, 64 * 1024).list_purposes().await.unwrap_err();
            assert!(matches!(err, Error::TooLarge { .. }), "{err}");
            let text = err.to_string();
            assert!(
                text.contains("GET /governance/purpose")
                    && text.contains("larger than the 64 KiB limit (--max-response-bytes)"),
                "{text}"
            );
            assert_eq!(
                hits.load(std::sync::atomic::Ordering::SeqCst),
                1,
                "not retried"
            );
        }
    }

    #[tokio::test]
    async fn answers_at_the_limit_are_read_whole() {
        let (url, _) = serve(Answer::Exactly(64 * 1024)).await;
        assert!(client(&url, 64 * 1024)
            .list_purposes()
            .await
            .unwrap()
            .is_empty());
    }

    #[tokio::test]
    async fn an_endless_error_answer_keeps_its_status_and_is_cut() {
        let (url, hits) = serve(Answer::EndlessError).await;
        let err = client(&url, 64 * 1024).list_purposes().await.unwrap_err();
        assert_eq!(err.status(), Some(500), "{err}");
        assert!(err.to_string().len() < 2048);
        assert_eq!(
            hits.load(std::sync::atomic::Ordering::SeqCst),
            3,
            "500 is retried"
        );
    }
}
