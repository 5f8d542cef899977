//! Errors of the one request path.

use crate::object::ObjectKey;

/// A failed call to Immuta. Bodies are truncated and redacted before they get here.
#[derive(Debug, Clone, thiserror::Error)]
pub enum Error {
    /// Immuta answered with a non-2xx status.
    #[error("{method} {path}{} returned {status}: {message}", key_suffix(.key))]
    Status {
        /// HTTP method.
        method: String,
        /// Request path (no query string, no host).
        path: String,
        /// HTTP status code.
        status: u16,
        /// Immuta's `message` (or the raw body, cut to 512 characters), redacted.
        message: String,
        /// The object the call was about, if any.
        key: Option<ObjectKey>,
    },
    /// No HTTP answer: connection refused or reset, DNS, TLS, or timeout.
    #[error("cannot reach Immuta at {url}: {message}")]
    Unreachable {
        /// Base URL of the tenant.
        url: String,
        /// What failed, redacted.
        message: String,
    },
    /// The answer was not the JSON shape the documentation gives.
    #[error("{method} {path}: unexpected response: {message}")]
    Decode {
        /// HTTP method.
        method: String,
        /// Request path.
        path: String,
        /// What was wrong.
        message: String,
    },
    /// The answer was longer than `--max-response-bytes`; the rest was not read. Final:
    /// the same request would get the same answer.
    #[error("{method} {path}: the answer is larger than the {} limit (--max-response-bytes); nothing after it was read", crate::limits::show_bytes(*.limit))]
    TooLarge {
        /// HTTP method.
        method: String,
        /// Request path.
        path: String,
        /// The limit in bytes.
        limit: u64,
    },
    /// The client could not be built (bad URL, TLS setup).
    #[error("invalid client configuration: {0}")]
    Config(String),
}

fn key_suffix(key: &Option<ObjectKey>) -> String {
    key.as_ref()
        .map(|k| format!(" for {k}"))
        .unwrap_or_default()
}

impl Error {
    /// The HTTP status, when Immuta answered.
    pub fn status(&self) -> Option<u16> {
        match self {
            Error::Status { status, .. } => Some(*status),
            _ => None,
        }
    }

    /// True for a 404.
    pub fn is_not_found(&self) -> bool {
        self.status() == Some(404)
    }

    /// True when Immuta refused the credentials.
    pub fn is_unauthorized(&self) -> bool {
        self.status() == Some(401)
    }
}
