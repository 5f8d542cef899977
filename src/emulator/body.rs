//! Emulator: reads every request body to its end before anything answers.
//!
//! Input: a request with a body of any size. Output: the same request with the body
//! buffered (up to [`MAX_BODY`]), or a 413 once a larger body has been read and dropped.
//! Why: a server that answers (a 401, a fault, a 404) and closes before it has read the
//! body makes the kernel reset the connection, so a client that writes its whole body
//! before reading gets a broken pipe instead of the answer (issue 10). Immuta answers
//! after reading; so must the emulator, for every status.

use axum::body::{Body, Bytes};
use axum::extract::Request;
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use futures::StreamExt;

use super::error::ApiError;

/// The largest body kept in memory (16 MiB). A larger one is still read to its end, then
/// refused with 413 (the docs give no limit; no documented payload comes near it).
pub const MAX_BODY: usize = 16 * 1024 * 1024;

/// Middleware: buffers the body, then runs the rest of the stack (auth, faults, handler).
pub async fn read_first(req: Request, next: Next) -> Response {
    let (parts, body) = req.into_parts();
    match read_all(body, MAX_BODY).await {
        Ok(bytes) => {
            next.run(Request::from_parts(parts, Body::from(bytes)))
                .await
        }
        Err(e) => e.into_response(),
    }
}

/// Reads `body` to its end; keeps at most `limit` bytes.
async fn read_all(body: Body, limit: usize) -> Result<Bytes, ApiError> {
    let mut stream = body.into_data_stream();
    let mut kept: Vec<u8> = Vec::new();
    let mut too_large = false;
    while let Some(chunk) = stream.next().await {
        let chunk =
            chunk.map_err(|_| ApiError::bad_request("the request body could not be read"))?;
        if too_large || kept.len().saturating_add(chunk.len()) > limit {
            too_large = true;
            kept = Vec::new();
            continue;
        }
        kept.extend_from_slice(&chunk);
    }
    if too_large {
        return Err(ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("the request body is larger than {limit} bytes"),
        ));
    }
    Ok(Bytes::from(kept))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn bodies_are_read_whole_and_oversized_ones_refused_after_reading() {
        let small = read_all(Body::from("abc"), 8).await.unwrap();
        assert_eq!(&small[..], b"abc");
        let e = read_all(Body::from(vec![b'x'; 20]), 8).await.unwrap_err();
        assert_eq!(e.status, StatusCode::PAYLOAD_TOO_LARGE);
    }
}
