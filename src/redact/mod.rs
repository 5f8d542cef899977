//! Secret handling shared by every stage: [`Secret`] wraps a value that must never be
//! printed, and [`Redactor`] masks known secret values, in every encoding an answer can
//! carry them ([`forms`]), in any text before it leaves the process (logs, plans, status
//! pages, error messages). Text is redacted before it is cut, and a cut never leaves the
//! first characters of a secret (issue 11).

use std::cmp::Reverse;
use std::collections::BTreeSet;
use std::fmt;
use std::sync::OnceLock;

use aho_corasick::{AhoCorasick, AhoCorasickKind, MatchKind};

pub mod forms;
pub mod url;

/// The text shown wherever a secret value would otherwise appear.
pub const MASK: &str = "(sensitive)";

/// A value that must never reach a log, a plan or an error message.
/// `Debug` and `Display` print [`MASK`]; use [`Secret::expose`] to send it.
#[derive(Clone, PartialEq, Eq, Default)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret value.
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }

    /// The value itself, for the one place that must send it (an HTTP header, a payload).
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(MASK)
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(MASK)
    }
}

/// Masks every known secret value in a piece of text.
///
/// Each value is known in every form an answer can carry it ([`forms`]): raw, JSON
/// string escaping, URL encoding, and, through [`Redactor::add_basic_auth`], base64 of
/// `user:password`. Values shorter than 4 characters are not masked (they would mangle
/// ordinary words); they are still kept out of plans by the sensitive-path rules of the
/// manifest stage.
#[derive(Clone, Default)]
pub struct Redactor {
    /// Every form of every value, ordered longest first (then by text), without
    /// duplicates: insertion is O(log n) however many secrets a revision holds, and the
    /// fallback path masks containing values before the values they contain.
    values: BTreeSet<(Reverse<usize>, String)>,
    /// The matcher over `values`, built on first use after a change: one pass over the
    /// text whatever the number of forms, reporting overlapping matches.
    matcher: OnceLock<Option<AhoCorasick>>,
}

/// A tail of a cut text this long (in characters) or longer that begins a secret is
/// dropped too: a cut must not leave the first characters of a secret.
const MIN_PREFIX_CHARS: usize = 3;

impl Redactor {
    /// An empty redactor.
    pub fn new() -> Self {
        Redactor::default()
    }

    /// Adds a value to mask, in all its encodings. A secret that contains another, or
    /// overlaps it, is hidden whole (see [`Redactor::redact`]).
    pub fn add(&mut self, value: &str) {
        if value.len() < 4 {
            return;
        }
        for form in forms::of(value) {
            self.insert(form);
        }
    }

    /// Adds a password sent with HTTP basic auth: the password itself (every form) and
    /// the base64 of `user:password` the `Authorization: Basic` header carries.
    pub fn add_basic_auth(&mut self, user: &str, password: &str) {
        self.add(password);
        for form in forms::basic_auth(user, password) {
            self.insert(form);
        }
    }

    fn insert(&mut self, form: String) {
        if form.len() >= 4 && self.values.insert((Reverse(form.len()), form)) {
            self.matcher = OnceLock::new();
        }
    }

    /// Adds every value of another redactor.
    pub fn extend(&mut self, other: &Redactor) {
        let before = self.values.len();
        self.values.extend(other.values.iter().cloned());
        if self.values.len() != before {
            self.matcher = OnceLock::new();
        }
    }

    fn matcher(&self) -> Option<&AhoCorasick> {
        self.matcher
            .get_or_init(|| {
                if self.values.is_empty() {
                    return None;
                }
                // A contiguous NFA: searches fast and builds in time linear in the
                // patterns (a DFA over long secrets would be built slowly, and the
                // matcher is rebuilt whenever a revision's secrets are added).
                AhoCorasick::builder()
                    .kind(Some(AhoCorasickKind::ContiguousNFA))
                    .match_kind(MatchKind::Standard)
                    .build(self.values.iter().map(|(_, v)| v.as_str()))
                    .ok()
            })
            .as_ref()
    }

    /// Returns `text` with every known secret replaced by [`MASK`]. Where known values
    /// overlap (`zzab` and `abcdef` in `zzabcdef`), the union of their places is masked,
    /// so no part of either is left.
    pub fn redact(&self, text: &str) -> String {
        if self.values.is_empty() {
            return text.to_string();
        }
        let Some(m) = self.matcher() else {
            // The automaton could not be built (never expected): one form at a time.
            let mut out = text.to_string();
            for (_, v) in &self.values {
                if out.contains(v.as_str()) {
                    out = out.replace(v.as_str(), MASK);
                }
            }
            return out;
        };
        let mut places: Vec<(usize, usize)> = m
            .find_overlapping_iter(text)
            .map(|hit| (hit.start(), hit.end()))
            .collect();
        if places.is_empty() {
            return text.to_string();
        }
        places.sort_unstable();
        let mut out = String::with_capacity(text.len());
        let mut done = 0;
        let mut current: Option<(usize, usize)> = None;
        for (start, end) in places {
            current = match current {
                Some((s, e)) if start <= e => Some((s, e.max(end))),
                Some((s, e)) => {
                    out.push_str(text.get(done..s).unwrap_or_default());
                    out.push_str(MASK);
                    done = e;
                    Some((start, end))
                }
                None => Some((start, end)),
            };
        }
        if let Some((s, e)) = current {
            out.push_str(text.get(done..s).unwrap_or_default());
            out.push_str(MASK);
            done = e;
        }
        out.push_str(text.get(done..).unwrap_or_default());
        out
    }

    /// Redacts `text`, then cuts it to `max_chars` characters (marking the cut with
    /// `…`). Redaction comes first, so a secret straddling the cut is masked whole
    /// before the cut; and a tail that begins a known secret (or the mask itself) is
    /// dropped, so the output never ends with the first characters of a secret.
    pub fn redact_cut(&self, text: &str, max_chars: usize) -> String {
        let redacted = self.redact(text);
        let Some((end, _)) = redacted.char_indices().nth(max_chars) else {
            return redacted;
        };
        let mut out = redacted.get(..end).unwrap_or_default().to_string();
        let drop = self.secret_prefix_tail(&out);
        out.truncate(out.len() - drop);
        out.push('…');
        out
    }

    /// The length in bytes of the longest tail of `text` (at least
    /// [`MIN_PREFIX_CHARS`] characters) that is a proper prefix of a known form or of
    /// [`MASK`]; 0 when there is none.
    fn secret_prefix_tail(&self, text: &str) -> usize {
        let mut longest = 0;
        for v in self
            .values
            .iter()
            .map(|(_, v)| v.as_str())
            .chain(std::iter::once(MASK))
        {
            for (n, (i, _)) in v.char_indices().enumerate() {
                if i > text.len() {
                    break;
                }
                if n >= MIN_PREFIX_CHARS && i > longest {
                    if let Some(prefix) = v.get(..i) {
                        if text.ends_with(prefix) {
                            longest = i;
                        }
                    }
                }
            }
        }
        longest
    }

    /// How many forms of values are known.
    pub fn len(&self) -> usize {
        self.values.len()
    }

    /// True when no value is known.
    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }
}

/// Never prints the values it knows, only how many.
impl fmt::Debug for Redactor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Redactor")
            .field("values", &self.values.len())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_never_formats_its_value() {
        let s = Secret::new("hunter22");
        assert_eq!(format!("{s} {s:?}"), "(sensitive) (sensitive)");
        assert_eq!(s.expose(), "hunter22");
    }

    #[test]
    fn redactor_masks_longest_first() {
        let mut r = Redactor::new();
        r.add("abcd");
        r.add("abcdefgh");
        r.add("xy");
        assert_eq!(
            r.redact("k=abcdefgh j=abcd xy"),
            "k=(sensitive) j=(sensitive) xy"
        );
    }

    /// issue 11: a password with `"` or `\\` echoed inside a JSON message was printed in
    /// full. Each class of character, in each encoding a server may echo it in.
    #[test]
    fn issue_11_every_encoding_of_a_secret_is_masked() {
        let secrets = [
            "pa\"ss\\word",
            "line1\nline2\ttab",
            "ünïcødé-ключ-🔑",
            "100% sure & done+more",
            "(a|b)*[c]{2}^$.?",
            "bell\u{7}esc\u{1b}]0;x",
        ];
        for secret in secrets {
            let mut r = Redactor::new();
            r.add(secret);
            let json = serde_json::to_string(&serde_json::json!({"password": secret})).unwrap();
            let message = serde_json::to_string(&format!("bad body {json}")).unwrap();
            let ascii: String = secret
                .chars()
                .map(|c| match c {
                    '"' => "\\\"".to_string(),
                    '\\' => "\\\\".to_string(),
                    c if c.is_ascii() && !c.is_ascii_control() => c.to_string(),
                    c => c
                        .encode_utf16(&mut [0; 2])
                        .iter()
                        .map(|u| format!("\\u{u:04x}"))
                        .collect(),
                })
                .collect();
            let texts = [
                secret.to_string(),
                json.clone(),
                message,
                crate::client::encode_segment(secret),
                crate::client::encode_segment(secret).to_lowercase(),
                ascii,
            ];
            for text in texts {
                let out = r.redact(&format!("before {text} after"));
                assert!(out.contains(MASK), "{secret:?} in {text:?}: {out}");
                assert_no_fragment(&out, secret);
            }
        }
    }

    /// Fails when `out` holds 6 consecutive characters of `secret` (ignoring fragments
    /// made only of characters that the surrounding text legitimately holds).
    fn assert_no_fragment(out: &str, secret: &str) {
        let chars: Vec<char> = secret.chars().collect();
        for w in chars.windows(6) {
            let frag: String = w.iter().collect();
            assert!(!out.contains(&frag), "{frag:?} of {secret:?} in {out:?}");
        }
    }

    /// Overlapping secrets leave no fragment of either, whichever comes first.
    #[test]
    fn overlapping_secrets_are_masked_as_one() {
        let mut r = Redactor::new();
        r.add("zzab");
        r.add("abcdef");
        r.add("efgh12");
        for (text, want) in [
            ("x zzabcdef y", "x (sensitive) y"),
            ("x abcdefgh12 y", "x (sensitive) y"),
            ("zzab abcdef", "(sensitive) (sensitive)"),
            ("abcdefzzab", "(sensitive)"),
            ("plain", "plain"),
        ] {
            assert_eq!(r.redact(text), want, "{text}");
        }
    }

    #[test]
    fn basic_auth_headers_are_masked() {
        let mut r = Redactor::new();
        r.add_basic_auth("x-access-token", "tok-12345");
        let out = r.redact("Authorization: Basic eC1hY2Nlc3MtdG9rZW46dG9rLTEyMzQ1");
        assert_eq!(out, "Authorization: Basic (sensitive)");
    }

    /// issue 11: the message was cut to 512 characters before redaction, leaving the
    /// secret's first characters at the cut. Every cut position across the secret.
    #[test]
    fn issue_11_a_cut_never_leaves_a_secret_prefix() {
        let secret = "Zq7-secret-value-Xw9";
        let mut r = Redactor::new();
        r.add(secret);
        for pad in 0..40 {
            let text = format!("{}{secret} tail", "x".repeat(pad));
            for max in 1..text.chars().count() + 2 {
                let out = r.redact_cut(&text, max);
                assert!(!out.contains("Zq7"), "{pad}/{max}: {out}");
                assert!(!out.contains("(sen") || out.contains(MASK), "{out}");
                assert!(out.chars().count() <= max + 1, "{out}");
            }
        }
        assert_eq!(r.redact_cut("short", 10), "short");
        assert_eq!(r.redact_cut("abcdef", 3), "abc…");
    }

    #[test]
    fn redacting_needs_one_pass_whatever_the_number_of_secrets() {
        let mut r = Redactor::new();
        for i in 0..2000 {
            r.add(&format!("secret-{i:05}-value"));
        }
        let text = "k=secret-01999-value ".repeat(1000);
        let out = r.redact(&text);
        assert_eq!(out, "k=(sensitive) ".repeat(1000));
    }
}
