//! Output that cannot attack the terminal: [`escape`] is the one function every
//! human-readable output (text and Markdown plans, validate messages, apply results,
//! error messages, text logs) passes untrusted text through at the rendering boundary.
//!
//! File names, object keys and field names come from a repository, messages from a
//! server: a newline in them forges output lines a reviewer trusts, an ESC or OSC
//! sequence changes the terminal (title, colours, hyperlinks, clipboard), a BEL rings,
//! a bidirectional override reorders what is shown. Each such character is written as a
//! visible escape instead. JSON output escapes by construction and does not use this.
//!
//! [`colour`] decides whether a stream may be coloured and adds the colour to output
//! that went through [`escape`] already.

use std::borrow::Cow;
use std::fmt;

pub mod colour;

/// `text` with every control character written visibly: `\n`, `\r`, `\t`, `\x1b` (ESC),
/// `\x07` (BEL), `\x00`…`\x1f` and `\x7f` (DEL), C1 controls as `\u{9b}`, and the
/// Unicode line/paragraph separators and bidirectional controls as `\u{202e}`.
/// Borrowed when there is nothing to escape.
pub fn escape(text: &str) -> Cow<'_, str> {
    if !text.chars().any(needs_escape) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        push_escaped(&mut out, c);
    }
    Cow::Owned(out)
}

/// [`escape`] for each line of a multi-line text, keeping its line breaks (`\n`, and
/// `\r\n` as `\n`): for content shown as several lines on purpose (a line diff).
pub fn escape_lines(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut lines = text.split('\n').peekable();
    while let Some(line) = lines.next() {
        let line = if lines.peek().is_some() {
            line.strip_suffix('\r').unwrap_or(line)
        } else {
            line
        };
        out.push_str(&escape(line));
        if lines.peek().is_some() {
            out.push('\n');
        }
    }
    out
}

/// Displays a value through [`escape`]: `Escaped(&key)` in a `write!`.
pub struct Escaped<T>(pub T);

impl<T: fmt::Display> fmt::Display for Escaped<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&escape(&self.0.to_string()))
    }
}

fn needs_escape(c: char) -> bool {
    c.is_control() || is_format_control(c)
}

/// Line and paragraph separators and the bidirectional controls (embeddings,
/// overrides, isolates, marks) that change how a line is shown.
fn is_format_control(c: char) -> bool {
    matches!(
        c,
        '\u{2028}' | '\u{2029}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}' | '\u{200e}' | '\u{200f}' | '\u{061c}'
    )
}

fn push_escaped(out: &mut String, c: char) {
    match c {
        '\n' => out.push_str("\\n"),
        '\r' => out.push_str("\\r"),
        '\t' => out.push_str("\\t"),
        c if u32::from(c) < 0x20 || c == '\u{7f}' => {
            out.push_str(&format!("\\x{:02x}", u32::from(c)));
        }
        c if needs_escape(c) => out.push_str(&format!("\\u{{{:x}}}", u32::from(c))),
        c => out.push(c),
    }
}

/// The field formatter of text logs: each field's value goes through [`escape`], so a
/// key, a path or a server message cannot break a log line or reach the terminal raw.
/// The message goes through [`escape_lines`]: messages are the program's own text, and
/// the one multi-line message (the plan logged before an apply) is rendered escaped
/// already. JSON logs escape by construction.
pub fn log_fields() -> impl for<'w> tracing_subscriber::fmt::FormatFields<'w> + Send + Sync + 'static
{
    use tracing_subscriber::field::MakeExt;
    tracing_subscriber::fmt::format::debug_fn(|w, field, value| {
        let text = format!("{value:?}");
        if field.name() == "message" {
            write!(w, "{}", escape_lines(&text))
        } else {
            write!(w, "{}={}", field.name(), escape(&text))
        }
    })
    .delimited(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// issue 11: names with newlines, ESC/OSC sequences, BEL or other controls were
    /// printed raw. Every class, several variants each.
    #[test]
    fn issue_11_control_characters_are_escaped() {
        let cases = [
            ("a\nb", "a\\nb"),
            ("a\r\nforged line", "a\\r\\nforged line"),
            ("\u{1b}]0;pwned\u{7}", "\\x1b]0;pwned\\x07"),
            ("\u{1b}[31mred\u{1b}[0m", "\\x1b[31mred\\x1b[0m"),
            (
                "\u{1b}]8;;http://x\u{1b}\\link",
                "\\x1b]8;;http://x\\x1b\\link",
            ),
            ("bell\u{7}", "bell\\x07"),
            ("nul\u{0}del\u{7f}", "nul\\x00del\\x7f"),
            ("tab\there", "tab\\there"),
            ("c1\u{9b}31m", "c1\\u{9b}31m"),
            ("bidi\u{202e}txt.exe", "bidi\\u{202e}txt.exe"),
            ("sep\u{2028}x", "sep\\u{2028}x"),
            ("ünïcødé 🔑 plain", "ünïcødé 🔑 plain"),
        ];
        for (input, want) in cases {
            assert_eq!(escape(input), want, "{input:?}");
            assert!(!escape(input).chars().any(needs_escape));
        }
        assert!(matches!(escape("plain"), Cow::Borrowed(_)));
        assert_eq!(Escaped("k\u{1b}").to_string(), "k\\x1b");
    }

    #[test]
    fn escape_lines_keeps_the_line_breaks_only() {
        assert_eq!(escape_lines("a\u{1b}\nb\r\nc\n"), "a\\x1b\nb\nc\n");
        assert_eq!(escape_lines("x\ry"), "x\\ry");
    }

    /// A writer the test subscriber logs into.
    #[derive(Clone, Default)]
    struct Buf(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

    impl std::io::Write for Buf {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn issue_11_text_log_fields_are_escaped() {
        let buf = Buf::default();
        let writer = buf.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_writer(move || writer.clone())
            .with_ansi(false)
            .fmt_fields(log_fields())
            .finish();
        tracing::subscriber::with_default(subscriber, || {
            let key = "policy/a\nFORGED \u{1b}]0;t\u{7}";
            tracing::warn!(key = %key, error = "b\r\nFORGED", "write failed");
            tracing::info!("plan\n  + purpose/x \u{1b}[2J");
        });
        let out = String::from_utf8(buf.0.lock().unwrap().clone()).unwrap();
        assert!(
            out.contains("key=policy/a\\nFORGED \\x1b]0;t\\x07"),
            "{out}"
        );
        assert!(out.contains("write failed"), "{out}");
        assert!(!out.contains('\u{1b}') && !out.contains('\r'), "{out:?}");
        assert!(out.contains("plan\n  + purpose/x \\x1b[2J"), "{out}");
        assert!(!out.lines().any(|l| l.starts_with("FORGED")), "{out}");
    }
}
