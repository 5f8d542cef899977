//! Credentials inside URLs: [`strip_credentials`] gives the form of a URL that may be
//! shown or stored (plans, saved plans, state files, `/status`, logs, errors), and
//! [`secrets`] lists what a URL carries that must be masked wherever the URL itself
//! was not replaced.
//!
//! A URL can carry a secret in its userinfo (`https://user:token@host/`), its query
//! string (`?private_token=…`, `?access_token=…`, a pre-signed `?X-Amz-Signature=…`)
//! and its fragment. Which query parameters are secret cannot be known, so every query
//! value is masked and the fragment (never sent to a server) is dropped.

use super::MASK;

/// `url` without credentials: the userinfo of `scheme://user:pass@host/…` removed,
/// every query value replaced by [`MASK`] (names kept, so the URL stays readable), and
/// the fragment dropped. An scp-like `user@host:path` keeps its SSH login name (it
/// cannot carry a password; a `user:password@` is removed whole). Local paths are
/// returned unchanged.
pub fn strip_credentials(url: &str) -> String {
    let Some(parts) = Parts::of(url) else {
        return url.to_string();
    };
    let mut out = String::with_capacity(url.len());
    out.push_str(parts.scheme);
    if let Some(user) = parts.userinfo {
        // scp-like: keep a bare login name, drop anything that holds a password.
        if parts.scheme.is_empty() && !user.contains(':') {
            out.push_str(user);
            out.push('@');
        }
    }
    out.push_str(parts.rest);
    if let Some(query) = parts.query {
        out.push('?');
        out.push_str(&mask_query(query));
    }
    out
}

/// Every secret `url` carries: the userinfo (whole and each part), each query value
/// and the fragment, raw and percent-decoded. Empty for a URL without any.
pub fn secrets(url: &str) -> Vec<String> {
    let Some(parts) = Parts::of(url) else {
        return Vec::new();
    };
    let mut raw: Vec<&str> = Vec::new();
    if let Some(user) = parts.userinfo {
        // An scp-like login name alone is not a secret (it stays in the shown URL).
        if !parts.scheme.is_empty() || user.contains(':') {
            raw.push(user);
            raw.extend(user.split(':'));
        }
    }
    if let Some(query) = parts.query {
        for pair in query.split('&') {
            match pair.split_once('=') {
                Some((_, value)) => raw.push(value),
                None => raw.push(pair),
            }
        }
    }
    if let Some(fragment) = parts.fragment {
        raw.push(fragment);
    }
    let mut out: Vec<String> = Vec::new();
    for r in raw.into_iter().filter(|r| !r.is_empty()) {
        for v in [
            r.to_string(),
            percent_decode(r),
            percent_decode(&r.replace('+', " ")),
        ] {
            if !out.contains(&v) {
                out.push(v);
            }
        }
    }
    out
}

/// A URL cut into the pieces that can hold credentials.
struct Parts<'a> {
    /// `https://` (empty for scp-like `user@host:path`).
    scheme: &'a str,
    /// Between the scheme and the last `@` of the authority.
    userinfo: Option<&'a str>,
    /// Host, port and path.
    rest: &'a str,
    /// After the first `?`, up to `#`.
    query: Option<&'a str>,
    /// After the first `#`.
    fragment: Option<&'a str>,
}

impl<'a> Parts<'a> {
    /// `None` for a local path (no `scheme://` and not scp-like).
    fn of(url: &'a str) -> Option<Parts<'a>> {
        let (scheme, after) = match url.find("://") {
            Some(i) => (url.get(..i + 3)?, url.get(i + 3..)?),
            None if crate::source::git::is_remote(url) => ("", url),
            None => return None,
        };
        let (before_fragment, fragment) = match after.split_once('#') {
            Some((b, f)) => (b, Some(f)),
            None => (after, None),
        };
        let (before_query, query) = match before_fragment.split_once('?') {
            Some((b, q)) => (b, Some(q)),
            None => (before_fragment, None),
        };
        let authority_end = if scheme.is_empty() {
            // scp-like `[user@]host:path`: the login ends at the first `@`.
            before_query.find('@').map_or(0, |at| at + 1)
        } else {
            before_query.find('/').unwrap_or(before_query.len())
        };
        let authority = before_query.get(..authority_end)?;
        let (userinfo, rest) = match authority.rfind('@') {
            Some(at) => (Some(authority.get(..at)?), before_query.get(at + 1..)?),
            None => (None, before_query),
        };
        Some(Parts {
            scheme,
            userinfo,
            rest,
            query,
            fragment,
        })
    }
}

fn mask_query(query: &str) -> String {
    query
        .split('&')
        .map(|pair| match pair.split_once('=') {
            Some((name, _)) => format!("{name}={MASK}"),
            None if pair.is_empty() => String::new(),
            None => MASK.to_string(),
        })
        .collect::<Vec<_>>()
        .join("&")
}

/// Decodes `%XX` escapes; anything else is kept as written.
pub fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match (b, hex) {
            (b'%', Some(v)) => {
                out.push(v);
                i += 3;
            }
            _ => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// issue 11: a token in the query string, the fragment or the userinfo was printed.
    #[test]
    fn issue_11_credentials_leave_every_part_of_a_url() {
        let cases = [
            (
                "https://gitlab.example/a/b.git?private_token=glpat-SECRET1",
                "https://gitlab.example/a/b.git?private_token=(sensitive)",
            ),
            (
                "https://u:SECRET2@h/x.git?a=1&access_token=SECRET3#SECRET4",
                "https://h/x.git?a=(sensitive)&access_token=(sensitive)",
            ),
            ("https://h/x.git#SECRET5", "https://h/x.git"),
            ("https://h/x.git?SECRET6", "https://h/x.git?(sensitive)"),
            ("https://SECRET7@h:8443/x", "https://h:8443/x"),
            (
                "http://h/p@SECRET8?k=SECRET9",
                "http://h/p@SECRET8?k=(sensitive)",
            ),
            ("git@github.com:a/b.git", "git@github.com:a/b.git"),
            ("git:SECRETA@github.com:a/b.git", "github.com:a/b.git"),
            ("ssh://git:p%40SECRETB@h:22/x", "ssh://h:22/x"),
            ("/tmp/x?not-a-query", "/tmp/x?not-a-query"),
            ("relative/dir", "relative/dir"),
        ];
        for (input, want) in cases {
            let got = strip_credentials(input);
            assert_eq!(got, want, "{input}");
            // What a URL carries as secret is masked wherever it was not replaced.
            let mut r = super::super::Redactor::new();
            for s in secrets(input) {
                r.add(&s);
            }
            let echoed = r.redact(&format!("fatal: {input}: failed"));
            assert!(
                !echoed.contains("SECRET") || input.contains("p@SECRET8"),
                "{echoed}"
            );
        }
    }

    #[test]
    fn url_secrets_are_decoded_too() {
        let s = secrets("https://u%20x:p%40ss@h/?t=a%2Bb+c");
        for want in ["u%20x:p%40ss", "u x", "p@ss", "a%2Bb+c", "a+b+c", "a+b c"] {
            assert!(s.contains(&want.to_string()), "{want} in {s:?}");
        }
        assert!(secrets("git@github.com:a/b.git").is_empty());
        assert!(secrets("/local/path").is_empty());
    }
}
