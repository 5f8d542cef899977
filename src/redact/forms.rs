//! The encodings a secret value can take in an answer, so the [`super::Redactor`] can
//! mask each of them: raw, JSON string escaping (as serde_json writes it and as other
//! servers do: `\uXXXX` for non-ASCII, upper or lower hex, `\/`, no short forms, and a
//! second level when a JSON body is quoted inside a JSON message), URL encoding (RFC 3986
//! percent-encoding, `application/x-www-form-urlencoded` with `+` for space, and
//! `encodeURIComponent`'s set), HTML escaping (a proxy's error page quoting the request,
//! which the client keeps when the body is not JSON), and base64 of `user:password` for
//! basic auth.
//!
//! Input: a secret value. Output: its distinct forms. Pure; never logs.

use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};
use base64::Engine;

/// Every form of `value` worth masking, the raw value first, without duplicates.
pub fn of(value: &str) -> Vec<String> {
    let mut out = vec![value.to_string()];
    let mut push = |s: String| {
        if !out.contains(&s) {
            out.push(s);
        }
    };
    let serde = serde_form(value);
    push(serde.clone());
    for style in JsonStyle::all() {
        push(json_escape(value, style));
    }
    // A JSON body quoted inside a JSON string (an error message echoing the request).
    push(serde_form(&serde));
    for url in [Url::Rfc3986, Url::Form, Url::Component] {
        for upper in [true, false] {
            push(url_encode(value, url, upper));
        }
    }
    // Percent-encoding of the JSON-escaped form (a JSON body in a query string).
    push(url_encode(&serde, Url::Rfc3986, true));
    for numeric in [false, true] {
        push(html_escape(value, numeric));
        push(html_escape(&serde, numeric));
    }
    out
}

/// The base64 forms of `user:password` as an `Authorization: Basic` header carries it.
pub fn basic_auth(user: &str, password: &str) -> Vec<String> {
    let pair = format!("{user}:{password}");
    let mut out = Vec::new();
    for engine in [&STANDARD, &STANDARD_NO_PAD, &URL_SAFE, &URL_SAFE_NO_PAD] {
        let s = engine.encode(pair.as_bytes());
        if !out.contains(&s) {
            out.push(s);
        }
    }
    out
}

/// serde_json's escaping of `value`, without the quotes.
fn serde_form(value: &str) -> String {
    let quoted = serde_json::to_string(value).unwrap_or_default();
    quoted
        .strip_prefix('"')
        .and_then(|s| s.strip_suffix('"'))
        .unwrap_or(&quoted)
        .to_string()
}

/// How a JSON writer escapes a string.
#[derive(Clone, Copy)]
struct JsonStyle {
    /// `\n`, `\t`, `\r`, `\b`, `\f` (else `\u000a`…).
    short: bool,
    /// Upper-case hex digits in `\uXXXX`.
    upper: bool,
    /// Non-ASCII characters as `\uXXXX` (surrogate pairs past U+FFFF).
    ascii: bool,
    /// `/` as `\/`.
    slash: bool,
}

impl JsonStyle {
    fn all() -> impl Iterator<Item = JsonStyle> {
        (0u8..16).map(|bits| JsonStyle {
            short: bits & 1 != 0,
            upper: bits & 2 != 0,
            ascii: bits & 4 != 0,
            slash: bits & 8 != 0,
        })
    }
}

fn json_escape(value: &str, style: JsonStyle) -> String {
    let mut out = String::with_capacity(value.len() + 8);
    let hex = |out: &mut String, unit: u16| {
        if style.upper {
            out.push_str(&format!("\\u{unit:04X}"));
        } else {
            out.push_str(&format!("\\u{unit:04x}"));
        }
    };
    for c in value.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '/' if style.slash => out.push_str("\\/"),
            '\n' if style.short => out.push_str("\\n"),
            '\t' if style.short => out.push_str("\\t"),
            '\r' if style.short => out.push_str("\\r"),
            '\u{8}' if style.short => out.push_str("\\b"),
            '\u{c}' if style.short => out.push_str("\\f"),
            c if u32::from(c) < 0x20 || (style.ascii && !c.is_ascii()) => {
                let mut units = [0u16; 2];
                for unit in c.encode_utf16(&mut units) {
                    hex(&mut out, *unit);
                }
            }
            c => out.push(c),
        }
    }
    out
}

/// HTML text escaping: `&`, `<`, `>` always; quotes as `&quot;`/`&#39;` or, with
/// `numeric`, `&#34;`/`&#x27;` (the two styles common escapers use).
fn html_escape(value: &str, numeric: bool) -> String {
    let mut out = String::with_capacity(value.len() + 8);
    for c in value.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' if numeric => out.push_str("&#34;"),
            '"' => out.push_str("&quot;"),
            '\'' if numeric => out.push_str("&#x27;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// Which characters a URL encoder leaves alone.
#[derive(Clone, Copy)]
enum Url {
    /// RFC 3986 unreserved: `A-Z a-z 0-9 - . _ ~`.
    Rfc3986,
    /// HTML forms: `A-Z a-z 0-9 * - . _`, space as `+`.
    Form,
    /// JavaScript's `encodeURIComponent`: `A-Z a-z 0-9 - _ . ! ~ * ' ( )`.
    Component,
}

fn url_encode(value: &str, set: Url, upper: bool) -> String {
    let mut out = String::with_capacity(value.len() * 3);
    for b in value.bytes() {
        let keep = b.is_ascii_alphanumeric()
            || match set {
                Url::Rfc3986 => matches!(b, b'-' | b'.' | b'_' | b'~'),
                Url::Form => matches!(b, b'*' | b'-' | b'.' | b'_'),
                Url::Component => {
                    matches!(
                        b,
                        b'-' | b'_' | b'.' | b'!' | b'~' | b'*' | b'\'' | b'(' | b')'
                    )
                }
            };
        if keep {
            out.push(char::from(b));
        } else if b == b' ' && matches!(set, Url::Form) {
            out.push('+');
        } else if upper {
            out.push_str(&format!("%{b:02X}"));
        } else {
            out.push_str(&format!("%{b:02x}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every way the value is written by a real encoder is among the forms.
    #[test]
    fn forms_cover_the_encoders_in_use() {
        let values = [
            "pa\"ss\\word",
            "new\nline\ttab\r",
            "ünïcødé-ключ-🔑",
            "100% sure & done+more",
            "(a|b)*[c]{2}^$.?",
            "\u{1}\u{1f}\u{7f}bell\u{7}",
        ];
        for v in values {
            let forms = of(v);
            let quoted = serde_json::to_string(v).unwrap();
            let serde = quoted.trim_matches('"').to_string();
            assert!(forms.contains(&serde), "serde form of {v:?}");
            let twice = serde_json::to_string(&serde).unwrap();
            assert!(
                forms.contains(&twice.trim_matches('"').to_string()),
                "{v:?}"
            );
            let form: String = url_form(v);
            assert!(forms.contains(&form), "form encoding of {v:?}: {form}");
            assert!(forms.contains(&crate::client::encode_segment(v)), "{v:?}");
        }
        let ascii = of("é/ü");
        assert!(ascii.contains(&"\\u00e9/\\u00fc".to_string()));
        assert!(ascii.contains(&"\\u00E9\\/\\u00FC".to_string()));
        let emoji = of("🔑key");
        assert!(
            emoji.contains(&"\\ud83d\\udd11key".to_string()),
            "{emoji:?}"
        );
        let html = of("a\"b'c<&>");
        assert!(
            html.contains(&"a&quot;b&#39;c&lt;&amp;&gt;".to_string()),
            "{html:?}"
        );
        assert!(
            html.contains(&"a&#34;b&#x27;c&lt;&amp;&gt;".to_string()),
            "{html:?}"
        );
        let ctl = of("a\nb");
        assert!(ctl.contains(&"a\\u000Ab".to_string()));
        assert!(ctl.contains(&"a\\nb".to_string()));
    }

    fn url_form(v: &str) -> String {
        let mut out = String::new();
        for b in v.bytes() {
            match b {
                b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'*' | b'-' | b'.' | b'_' => {
                    out.push(char::from(b))
                }
                b' ' => out.push('+'),
                b => out.push_str(&format!("%{b:02X}")),
            }
        }
        out
    }

    #[test]
    fn basic_auth_is_base64_of_user_colon_password() {
        let forms = basic_auth("x-access-token", "s3cr3t?");
        assert!(forms.contains(&"eC1hY2Nlc3MtdG9rZW46czNjcjN0Pw==".to_string()));
        assert!(forms.contains(&"eC1hY2Nlc3MtdG9rZW46czNjcjN0Pw".to_string()));
    }
}
