//! Colour: whether a stream may carry it, and the one painter that adds it to output
//! that is already escaped (issue 14).
//!
//! The decision follows the conventions of the field, in this order:
//! 1. `--color never` / `--color always` decide (a command-line choice beats the
//!    environment, as <https://no-color.org> asks).
//! 2. With `--color auto` (the default): `NO_COLOR` set and not empty disables;
//!    `CLICOLOR_FORCE` set and not `0` forces (<https://bixense.com/clicolors/>);
//!    otherwise colour only when the stream is a terminal, `CLICOLOR` is not `0` and
//!    `TERM` is not `dumb`.
//!
//! Logs are stricter: they are coloured only when stderr is a terminal, whatever forces
//! colour, so a daemon started with `CLICOLOR_FORCE=1` (or `--color always`) still writes
//! plain lines to `kubectl logs` and CI logs.
//!
//! The painter works on lines this program rendered, after [`super::escape`]: such a line
//! holds no ESC of its own, so the only escape sequences in coloured output are the ones
//! added here, and a repository or server can never reach the terminal through them.

use std::borrow::Cow;
use std::io::{self, Write};

/// `--color`: what the user asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ColourChoice {
    /// Colour on a terminal, as the environment allows.
    #[default]
    Auto,
    /// Colour even off a terminal (not for logs).
    Always,
    /// Never colour.
    Never,
}

/// What the environment says about colour (read once by `config::colour_env`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ColourEnv {
    /// `NO_COLOR` is set and not empty.
    pub no_color: bool,
    /// `CLICOLOR_FORCE` is set and not `0`.
    pub force: bool,
    /// `CLICOLOR` is `0`.
    pub clicolor_off: bool,
    /// `TERM` is `dumb`.
    pub dumb_term: bool,
}

/// Whether output to a stream (the plan on stdout, messages on stderr) may be coloured.
pub fn output_colour(choice: ColourChoice, env: ColourEnv, is_terminal: bool) -> bool {
    match choice {
        ColourChoice::Never => false,
        ColourChoice::Always => true,
        ColourChoice::Auto if env.no_color => false,
        ColourChoice::Auto if env.force => true,
        ColourChoice::Auto => is_terminal && !env.clicolor_off && !env.dumb_term,
    }
}

/// Whether text logs on stderr may be coloured: never off a terminal.
pub fn log_colour(choice: ColourChoice, env: ColourEnv, stderr_is_terminal: bool) -> bool {
    stderr_is_terminal && output_colour(choice, env, true)
}

const RESET: &str = "\x1b[0m";
const BOLD: &str = "\x1b[1m";
const RED: &str = "\x1b[31m";
const GREEN: &str = "\x1b[32m";
const YELLOW: &str = "\x1b[33m";
const BOLD_RED: &str = "\x1b[1;31m";
const BOLD_GREEN: &str = "\x1b[1;32m";
const BOLD_YELLOW: &str = "\x1b[1;33m";

/// Colours rendered (escaped) output line by line, or leaves it alone when off.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Palette {
    on: bool,
}

impl Palette {
    /// A palette that colours when `on`.
    pub fn new(on: bool) -> Palette {
        Palette { on }
    }

    /// Whether it colours.
    pub fn is_on(self) -> bool {
        self.on
    }

    /// One rendered line (without its line break) with colour added: the change marker
    /// (`+` green, `~` yellow, `-` red, `!` bold red, `✓` green, `✗` red) after the
    /// indentation, and the closing lines (`Plan:`, `No changes.`, `Apply complete!`,
    /// `Apply incomplete`, `error:`, `warning:`) in bold.
    pub fn line(self, line: &str) -> Cow<'_, str> {
        if !self.on {
            return Cow::Borrowed(line);
        }
        if let Some(style) = closing_style(line) {
            return Cow::Owned(format!("{style}{line}{RESET}"));
        }
        let body = line.trim_start_matches(' ');
        let indent = line.len() - body.len();
        let mut chars = body.chars();
        let (Some(marker), Some(' ')) = (chars.next(), chars.next()) else {
            return Cow::Borrowed(line);
        };
        let Some(style) = marker_style(marker) else {
            return Cow::Borrowed(line);
        };
        let rest = body.get(marker.len_utf8()..).unwrap_or_default();
        let pad = line.get(..indent).unwrap_or_default();
        Cow::Owned(format!("{pad}{style}{marker}{RESET}{rest}"))
    }

    /// Every line of `text` through [`Palette::line`], line breaks kept.
    pub fn lines(self, text: &str) -> Cow<'_, str> {
        if !self.on {
            return Cow::Borrowed(text);
        }
        let mut out = String::with_capacity(text.len() + 64);
        for (i, line) in text.split('\n').enumerate() {
            if i > 0 {
                out.push('\n');
            }
            out.push_str(&self.line(line));
        }
        Cow::Owned(out)
    }

    /// A writer that paints each complete line written through it into `inner`.
    pub fn writer<W: Write>(self, inner: W) -> PaintWriter<W> {
        PaintWriter {
            palette: self,
            inner,
            pending: Vec::new(),
        }
    }
}

fn closing_style(line: &str) -> Option<&'static str> {
    const STYLES: [(&str, &str); 6] = [
        ("Plan: ", BOLD),
        ("No changes.", BOLD_GREEN),
        ("Apply complete!", BOLD_GREEN),
        ("Apply incomplete", BOLD_RED),
        ("error:", BOLD_RED),
        ("warning:", BOLD_YELLOW),
    ];
    STYLES
        .iter()
        .find(|(prefix, _)| line.starts_with(prefix))
        .map(|(_, style)| *style)
}

fn marker_style(marker: char) -> Option<&'static str> {
    match marker {
        '+' | '✓' => Some(GREEN),
        '~' => Some(YELLOW),
        '-' | '✗' => Some(RED),
        '!' => Some(BOLD_RED),
        _ => None,
    }
}

/// A [`Write`] that paints every complete line with its [`Palette`]; a partial line
/// is written when flushed (a prompt), unpainted.
#[derive(Debug)]
pub struct PaintWriter<W: Write> {
    palette: Palette,
    inner: W,
    pending: Vec<u8>,
}

impl<W: Write> PaintWriter<W> {
    fn write_lines(&mut self) -> io::Result<()> {
        while let Some(end) = self.pending.iter().position(|&b| b == b'\n') {
            let line: Vec<u8> = self.pending.drain(..=end).collect();
            let body = line.get(..end).unwrap_or_default();
            match std::str::from_utf8(body) {
                Ok(text) => self.inner.write_all(self.palette.line(text).as_bytes())?,
                Err(_) => self.inner.write_all(body)?,
            }
            self.inner.write_all(b"\n")?;
        }
        Ok(())
    }
}

impl<W: Write> Write for PaintWriter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if !self.palette.on {
            return self.inner.write(buf);
        }
        self.pending.extend_from_slice(buf);
        self.write_lines()?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.write_lines()?;
        if !self.pending.is_empty() {
            self.inner.write_all(&self.pending)?;
            self.pending.clear();
        }
        self.inner.flush()
    }
}

impl<W: Write> Drop for PaintWriter<W> {
    fn drop(&mut self) {
        let _ = self.flush();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn issue_14_the_colour_decision_follows_the_conventions() {
        let none = ColourEnv::default();
        let no_color = ColourEnv {
            no_color: true,
            ..none
        };
        let force = ColourEnv {
            force: true,
            ..none
        };
        let both = ColourEnv {
            no_color: true,
            force: true,
            ..none
        };
        let dumb = ColourEnv {
            dumb_term: true,
            ..none
        };
        let off = ColourEnv {
            clicolor_off: true,
            ..none
        };
        use ColourChoice::{Always, Auto, Never};
        // (choice, env, tty) -> output, logs
        let cases = [
            (Auto, none, true, true, true),
            (Auto, none, false, false, false),
            (Auto, no_color, true, false, false),
            (Auto, force, false, true, false),
            (Auto, force, true, true, true),
            (Auto, both, false, false, false),
            (Auto, dumb, true, false, false),
            (Auto, off, true, false, false),
            (Always, no_color, false, true, false),
            (Always, none, true, true, true),
            (Never, force, true, false, false),
            (Never, none, true, false, false),
        ];
        for (choice, env, tty, out, logs) in cases {
            assert_eq!(
                output_colour(choice, env, tty),
                out,
                "{choice:?} {env:?} {tty}"
            );
            assert_eq!(
                log_colour(choice, env, tty),
                logs,
                "{choice:?} {env:?} {tty}"
            );
        }
    }

    #[test]
    fn markers_and_closing_lines_are_painted() {
        let p = Palette::new(true);
        assert_eq!(
            p.line("  + purpose/x will be created"),
            "  \x1b[32m+\x1b[0m purpose/x will be created"
        );
        assert_eq!(
            p.line("      ~ a: 1 -> 2"),
            "      \x1b[33m~\x1b[0m a: 1 -> 2"
        );
        assert_eq!(
            p.line("  - policy/p will be destroyed"),
            "  \x1b[31m-\x1b[0m policy/p will be destroyed"
        );
        assert_eq!(
            p.line("  ✓ purpose/x created"),
            "  \x1b[32m✓\x1b[0m purpose/x created"
        );
        assert_eq!(
            p.line("Plan: 1 to add, 0 to change, 0 to destroy."),
            "\x1b[1mPlan: 1 to add, 0 to change, 0 to destroy.\x1b[0m"
        );
        assert_eq!(p.line("Source: repo at abc"), "Source: repo at abc");
        assert_eq!(p.line("  ? data/x exists"), "  ? data/x exists");
        assert_eq!(p.line("+x"), "+x");
        assert_eq!(Palette::new(false).line("  + a"), "  + a");
        assert_eq!(
            p.lines("  + a\n\nPlan: x\n"),
            "  \x1b[32m+\x1b[0m a\n\n\x1b[1mPlan: x\x1b[0m\n"
        );
    }

    #[test]
    fn the_writer_paints_complete_lines_and_flushes_a_partial_one() {
        let mut buf = Vec::new();
        {
            let mut w = Palette::new(true).writer(&mut buf);
            write!(w, "  + a").unwrap();
            writeln!(w, " b").unwrap();
            write!(w, "Enter a value: ").unwrap();
            w.flush().unwrap();
        }
        assert_eq!(
            String::from_utf8(buf).unwrap(),
            "  \x1b[32m+\x1b[0m a b\nEnter a value: "
        );
        let mut plain = Vec::new();
        writeln!(Palette::new(false).writer(&mut plain), "  + a").unwrap();
        assert_eq!(plain, b"  + a\n");
    }
}
