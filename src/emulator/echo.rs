//! Emulator, test mode: an Immuta that quotes the request in its error messages.
//!
//! Real servers echo what they were sent: a validation message that quotes the body, a
//! proxy's 401 page that lists the headers. This mode lets the secret scanner (issue 11)
//! prove that no such echo reaches our output: every non-2xx answer's `message` gets
//! `; request: <method> <path?query> body: <body> headers: {...}` appended, the
//! `Authorization` header included. With [`EchoOptions::reject_writes`], every write
//! (any method but GET and HEAD, dry runs included) is refused with a 400 in Immuta's
//! error shape, so each write path's error handling is exercised. The error body stays
//! `{statusCode, error, message}` (immuta-api.md §5, seeds/000:4252-4256).
//!
//! It wraps [`Emulator::app`] from outside (no change to the routes or the other
//! layers), and is only reachable from Rust ([`spawn`]); `immuta-gitops emulator` has no
//! flag for it. Never use it where the messages are kept: it prints credentials.

use axum::body::{to_bytes, Body};
use axum::extract::{Request, State};
use axum::http::{header, Method};
use axum::middleware::{from_fn_with_state, Next};
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value};
use tokio::net::TcpListener;

use super::error::ApiError;
use super::{Emulator, Error, Handle, Options};

/// Largest request or error body the echo layer reads (the emulator's answers and our
/// requests are far smaller).
const BODY_LIMIT: usize = 16 * 1024 * 1024;

/// How the echo mode behaves.
#[derive(Debug, Clone, Copy, Default)]
pub struct EchoOptions {
    /// Refuse every write (dry runs included) with a 400 that echoes the request.
    pub reject_writes: bool,
}

/// Binds `127.0.0.1:0` and serves the emulator in echo mode in a tokio task.
///
/// # Errors
/// Bad options or seed, or the bind failed.
pub async fn spawn(opts: Options, echo: EchoOptions) -> Result<Handle, Error> {
    let emu = Emulator::new(opts)?;
    let app = emu.app().layer(from_fn_with_state(echo, layer));
    let listener = TcpListener::bind(("127.0.0.1", 0)).await?;
    let addr = listener.local_addr()?;
    let (stop, rx) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        axum::serve(listener, app)
            .with_graceful_shutdown(async move {
                let _ = rx.await;
            })
            .await
            .map_err(Error::from)
    });
    Ok(Handle {
        addr,
        emulator: emu,
        stop: Some(stop),
        task: Some(task),
    })
}

async fn layer(State(echo): State<EchoOptions>, req: Request, next: Next) -> Response {
    let (parts, body) = req.into_parts();
    let Ok(bytes) = to_bytes(body, BODY_LIMIT).await else {
        return ApiError::bad_request("request body too large to echo").into_response();
    };
    let seen = describe(&parts, &bytes);
    let write = parts.method != Method::GET && parts.method != Method::HEAD;
    if echo.reject_writes && write {
        return ApiError::bad_request(format!("write refused (echo mode); {seen}")).into_response();
    }
    let resp = next
        .run(Request::from_parts(parts, Body::from(bytes)))
        .await;
    if resp.status().is_success() {
        return resp;
    }
    let (mut rparts, rbody) = resp.into_parts();
    let Ok(rbytes) = to_bytes(rbody, BODY_LIMIT).await else {
        return ApiError::internal("error body too large to echo").into_response();
    };
    let mut doc: Value = match serde_json::from_slice(&rbytes) {
        Ok(v) => v,
        Err(_) => return Response::from_parts(rparts, Body::from(rbytes)),
    };
    if let Some(Value::String(m)) = doc.get_mut("message") {
        m.push_str("; ");
        m.push_str(&seen);
    }
    rparts.headers.remove(header::CONTENT_LENGTH);
    let out = serde_json::to_vec(&doc).unwrap_or_default();
    Response::from_parts(rparts, Body::from(out))
}

/// `request: POST /api/v2/data?dryRun=true body: {...} headers: {...}` (the body first:
/// a client that keeps only the start of a message still sees it).
fn describe(parts: &axum::http::request::Parts, body: &[u8]) -> String {
    let headers: Map<String, Value> = parts
        .headers
        .iter()
        .map(|(k, v)| {
            (
                k.to_string(),
                Value::String(String::from_utf8_lossy(v.as_bytes()).into_owned()),
            )
        })
        .collect();
    format!(
        "request: {} {} body: {} headers: {}",
        parts.method,
        parts.uri,
        String::from_utf8_lossy(body),
        Value::Object(headers)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn errors_echo_the_request_and_writes_can_be_refused() {
        let opts = || Options {
            api_key: "echo-key-1".into(),
            ..Default::default()
        };
        let http = reqwest::Client::new();
        let emu = spawn(opts(), EchoOptions::default()).await.unwrap();
        let r = http
            .post(format!("{}/api/v2/purpose?dryRun=false", emu.url()))
            .header("Authorization", "wrong-key-\"q\"")
            .body("{\"name\":\"pw-\\\"x\"}")
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 401);
        let v: Value = r.json().await.unwrap();
        let m = v["message"].as_str().unwrap();
        assert!(m.starts_with("A valid Authorization token must be provided.; request: POST /api/v2/purpose?dryRun=false"), "{m}");
        assert!(
            m.contains("\"authorization\":\"wrong-key-\\\"q\\\"\""),
            "{m}"
        );
        assert!(m.contains("body: {\"name\":\"pw-\\\"x\"} headers: "), "{m}");
        assert_eq!(v["statusCode"], 401);
        let ok = http
            .post(format!("{}/api/v2/purpose", emu.url()))
            .header("Authorization", "echo-key-1")
            .json(&serde_json::json!({"name": "Fine"}))
            .send()
            .await
            .unwrap();
        assert!(ok.status().is_success());
        emu.shutdown().await;

        let emu = spawn(
            opts(),
            EchoOptions {
                reject_writes: true,
            },
        )
        .await
        .unwrap();
        let r = http
            .post(format!("{}/api/v2/purpose?dryRun=true", emu.url()))
            .header("Authorization", "echo-key-1")
            .json(&serde_json::json!({"name": "Fine"}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 400);
        let v: Value = r.json().await.unwrap();
        assert_eq!(v["error"], "Bad Request");
        assert!(v["message"]
            .as_str()
            .unwrap()
            .contains("\"authorization\":\"echo-key-1\""));
        assert!(emu.emulator.write_log().is_empty());
        let list = http
            .get(format!("{}/governance/purpose", emu.url()))
            .header("Authorization", "echo-key-1")
            .send()
            .await
            .unwrap();
        assert!(list.status().is_success());
        emu.shutdown().await;
    }
}
