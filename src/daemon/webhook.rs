//! Webhook authentication for `POST /hook`: GitHub's `X-Hub-Signature-256` (an HMAC-SHA256
//! of the raw body) or GitLab's `X-Gitlab-Token` (the shared secret itself).
//!
//! Input: the configured secret, the request headers and the raw body. Output: a
//! [`Verdict`]. Every comparison runs in constant time (`subtle`) so response timing does
//! not reveal how much of a guess was right. The secret never appears in a [`Verdict`], a
//! log or an error.

use hmac::{Hmac, Mac};
use sha2::Sha256;
use subtle::ConstantTimeEq;

use crate::redact::Secret;

/// GitHub's signature header.
pub const GITHUB_HEADER: &str = "x-hub-signature-256";
/// GitLab's token header.
pub const GITLAB_HEADER: &str = "x-gitlab-token";

/// The outcome of checking one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// GitHub signature matched.
    GitHub,
    /// GitLab token matched.
    GitLab,
    /// Neither header was sent.
    Missing,
    /// A header was sent but did not match (or was malformed).
    Invalid,
}

impl Verdict {
    /// Whether the request may trigger a cycle.
    pub fn is_accepted(self) -> bool {
        matches!(self, Verdict::GitHub | Verdict::GitLab)
    }
}

/// Checks a request. `github` and `gitlab` are the raw header values, when present.
/// When both are present, the GitHub signature decides (it also covers the body).
pub fn verify(
    secret: &Secret,
    github: Option<&[u8]>,
    gitlab: Option<&[u8]>,
    body: &[u8],
) -> Verdict {
    if let Some(sig) = github {
        return if github_signature_matches(secret, sig, body) {
            Verdict::GitHub
        } else {
            Verdict::Invalid
        };
    }
    if let Some(token) = gitlab {
        let ok: bool = token.ct_eq(secret.expose().as_bytes()).into();
        return if ok {
            Verdict::GitLab
        } else {
            Verdict::Invalid
        };
    }
    Verdict::Missing
}

/// `sha256=<hex>` compared with the HMAC of `body`, in constant time.
fn github_signature_matches(secret: &Secret, header: &[u8], body: &[u8]) -> bool {
    let Some(hex_sig) = header.strip_prefix(b"sha256=") else {
        return false;
    };
    let Ok(given) = hex::decode(hex_sig.trim_ascii()) else {
        return false;
    };
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(secret.expose().as_bytes()) else {
        return false;
    };
    mac.update(body);
    // `verify_slice` compares in constant time.
    mac.verify_slice(&given).is_ok()
}

/// The `X-Hub-Signature-256` value GitHub would send for `body` (for tests and tools).
pub fn github_signature(secret: &Secret, body: &[u8]) -> String {
    match Hmac::<Sha256>::new_from_slice(secret.expose().as_bytes()) {
        Ok(mut mac) => {
            mac.update(body);
            format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
        }
        // HMAC accepts keys of any length; this arm is unreachable in practice.
        Err(_) => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // GitHub's documented example: secret "It's a Secret to Everybody", payload
    // "Hello, World!".
    const GH_SECRET: &str = "It's a Secret to Everybody";
    const GH_BODY: &[u8] = b"Hello, World!";
    const GH_SIG: &str = "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17";

    #[test]
    fn github_documented_example_verifies() {
        let s = Secret::new(GH_SECRET);
        assert_eq!(github_signature(&s, GH_BODY), GH_SIG);
        assert_eq!(
            verify(&s, Some(GH_SIG.as_bytes()), None, GH_BODY),
            Verdict::GitHub
        );
    }

    #[test]
    fn bad_or_missing_credentials_are_refused() {
        let s = Secret::new(GH_SECRET);
        let other = github_signature(&Secret::new("another secret"), GH_BODY);
        type Case<'a> = (Option<&'a [u8]>, Option<&'a [u8]>, &'a [u8], Verdict);
        let cases: [Case<'_>; 9] = [
            (
                Some(GH_SIG.as_bytes()),
                None,
                b"Hello, World?",
                Verdict::Invalid,
            ),
            (Some(other.as_bytes()), None, GH_BODY, Verdict::Invalid),
            (Some(b"sha1=abcd"), None, GH_BODY, Verdict::Invalid),
            (Some(b"sha256=zz"), None, GH_BODY, Verdict::Invalid),
            (Some(b""), None, GH_BODY, Verdict::Invalid),
            (None, Some(b"wrong"), GH_BODY, Verdict::Invalid),
            (None, Some(b""), GH_BODY, Verdict::Invalid),
            (None, None, GH_BODY, Verdict::Missing),
            // A bad GitHub signature is not rescued by a good GitLab token.
            (
                Some(b"sha256=00"),
                Some(GH_SECRET.as_bytes()),
                GH_BODY,
                Verdict::Invalid,
            ),
        ];
        for (gh, gl, body, want) in cases {
            let got = verify(&s, gh, gl, body);
            assert_eq!(got, want, "{gh:?} {gl:?}");
            assert!(!got.is_accepted());
        }
    }

    #[test]
    fn gitlab_token_verifies() {
        let s = Secret::new("gl-token-123");
        assert_eq!(
            verify(&s, None, Some(b"gl-token-123"), b"{}"),
            Verdict::GitLab
        );
        assert!(Verdict::GitLab.is_accepted());
    }
}
