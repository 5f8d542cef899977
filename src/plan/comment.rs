//! Fitting the Markdown plan into one pull-request comment, in Atlantis' diff format.
//!
//! Input: the comment's header and its sections (each a code block of plan lines).
//! Output: one string of at most [`MAX_COMMENT_CHARS`] bytes (so at most as many
//! characters: GitHub refuses comments over 65,536). When the plan is larger, each
//! section keeps its heading (which carries its counts) and as many of its lines as its
//! share allows, and says how many lines it left out. Shares are fair: a small section
//! is never cut to make room for a large one.
//!
//! [`diff_line`] moves a plan line's marker to the first column, where GitHub's `diff`
//! highlighting looks for it (`~`, which `diff` does not colour, becomes `!`, as
//! Atlantis does).

/// The most a Markdown plan may hold, in bytes.
pub const MAX_COMMENT_CHARS: usize = 60_000;

/// Room kept for each section's "lines not shown" note.
const NOTE_ROOM: usize = 200;

/// One block of the comment: `open` (heading and the code fence), the plan lines, and
/// `close` (the closing fence and anything after it).
#[derive(Debug, Clone, Default)]
pub struct Section {
    /// Written first; never cut.
    pub open: String,
    /// One plan line each, without the newline.
    pub lines: Vec<String>,
    /// Written last; never cut. The note goes after it when lines were left out.
    pub close: String,
}

/// One plan line for a `diff` block: a leading `+`, `-`, `~` or `!` marker (after the
/// indentation) moves to column one, `~` written as `!`, the indentation kept so values
/// stay aligned; other lines are kept. A code fence inside a value is defused.
pub fn diff_line(line: &str) -> String {
    let line = line.replace("```", "'''");
    let body = line.trim_start_matches(' ');
    let indent = line.len() - body.len();
    let mut chars = body.chars();
    let marker = chars.next();
    let after = chars.as_str();
    match marker {
        Some(m @ ('+' | '-' | '~' | '!')) if after.is_empty() || after.starts_with(' ') => {
            let m = if m == '~' { '!' } else { m };
            format!("{m}{}{after}", " ".repeat(indent))
        }
        _ => line,
    }
}

/// Joins `header` and `sections`, cutting lines so the result is at most `max` bytes.
pub fn fit(header: &str, sections: &[Section], max: usize) -> String {
    let fixed: usize = header.len()
        + sections
            .iter()
            .map(|s| s.open.len() + s.close.len() + NOTE_ROOM)
            .sum::<usize>();
    let sizes: Vec<usize> = sections.iter().map(|s| lines_size(&s.lines)).collect();
    let mut keep: Vec<usize> = sections.iter().map(|s| s.lines.len()).collect();
    if header.len()
        + sections
            .iter()
            .map(|s| s.open.len() + s.close.len())
            .sum::<usize>()
        + sizes.iter().sum::<usize>()
        > max
    {
        // Smallest first: what a small section does not use is shared by the others.
        let mut order: Vec<(usize, usize)> = sizes.iter().copied().zip(0..).collect();
        order.sort_unstable();
        let mut left = max.saturating_sub(fixed);
        let count = order.len();
        for (done, (_, i)) in order.into_iter().enumerate() {
            let share = left / (count - done);
            let mut used = 0;
            let mut n = 0;
            for l in sections.get(i).map_or(&[][..], |s| &s.lines[..]) {
                if used + l.len() + 1 > share {
                    break;
                }
                used += l.len() + 1;
                n += 1;
            }
            if let Some(k) = keep.get_mut(i) {
                *k = n;
            }
            left -= used;
        }
    }
    let mut out = String::with_capacity(max.min(1 << 20));
    out.push_str(header);
    for (s, &n) in sections.iter().zip(&keep) {
        out.push_str(&s.open);
        for l in s.lines.iter().take(n) {
            out.push_str(l);
            out.push('\n');
        }
        out.push_str(&s.close);
        let cut = s.lines.len() - n;
        if cut > 0 {
            out.push_str(&format!(
                "\n_{cut} of {} lines of this section are not shown, to keep the comment under \
                 {MAX_COMMENT_CHARS} characters; the counts above are complete. Run \
                 `immuta-gitops reconcile --plan` for the whole plan._\n",
                s.lines.len()
            ));
        }
    }
    out
}

fn lines_size(lines: &[String]) -> usize {
    lines.iter().map(|l| l.len() + 1).sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markers_move_to_the_first_column() {
        assert_eq!(
            diff_line("+ purpose/a will be created"),
            "+ purpose/a will be created"
        );
        assert_eq!(diff_line("    + name = \"a\""), "+     name = \"a\"");
        assert_eq!(diff_line("    ~ description:"), "!     description:");
        assert_eq!(diff_line("        - b"), "-         b");
        assert_eq!(diff_line("        +"), "+        ");
        assert_eq!(
            diff_line("~ policy/p will be updated in place"),
            "! policy/p will be updated in place"
        );
        // Not markers: kept as they are.
        assert_eq!(
            diff_line("    server dry run: 1 creating"),
            "    server dry run: 1 creating"
        );
        assert_eq!(diff_line("? project/x exists"), "? project/x exists");
        assert_eq!(
            diff_line("    -1 is not a marker"),
            "    -1 is not a marker"
        );
        assert_eq!(diff_line("+ a ```b```"), "+ a '''b'''");
    }

    fn section(name: &str, lines: usize, width: usize) -> Section {
        Section {
            open: format!(
                "\n<details><summary><b>{name}</b>: {lines} to add</summary>\n\n```diff\n"
            ),
            lines: (0..lines)
                .map(|i| format!("+ {name}/{i:0width$}"))
                .collect(),
            close: "```\n\n</details>\n".into(),
        }
    }

    #[test]
    fn small_plans_are_not_cut() {
        let s = [section("purpose", 3, 4), section("policy", 2, 4)];
        let out = fit("**Plan**\n", &s, MAX_COMMENT_CHARS);
        assert!(!out.contains("not shown"), "{out}");
        assert_eq!(out.matches("\n+ ").count(), 5);
    }

    #[test]
    fn large_plans_are_cut_per_section_within_the_limit() {
        let s = [
            section("purpose", 5, 10),
            section("data", 4000, 40),
            section("policy", 3000, 60),
        ];
        let out = fit("**Plan: 7005 to add**\n", &s, MAX_COMMENT_CHARS);
        assert!(out.len() <= MAX_COMMENT_CHARS, "{}", out.len());
        assert!(
            out.len() > MAX_COMMENT_CHARS - 3 * NOTE_ROOM - 2_000,
            "room wasted: {}",
            out.len()
        );
        assert!(out.starts_with("**Plan: 7005 to add**\n"));
        // Every heading (and its counts) survives; the small section is whole.
        for h in [
            "<b>purpose</b>: 5 to add",
            "<b>data</b>: 4000 to add",
            "<b>policy</b>: 3000 to add",
        ] {
            assert!(out.contains(h), "{h}");
        }
        assert_eq!(out.matches("+ purpose/").count(), 5);
        assert!(out.contains("lines of this section are not shown"));
        assert_eq!(
            out.matches("are not shown").count(),
            2,
            "one note per cut section"
        );
        assert!(out.contains(" of 4000 lines") && out.contains(" of 3000 lines"));
        // Both large sections keep a fair share of lines, and every fence is closed.
        assert!(out.matches("+ data/").count() > 300);
        assert!(out.matches("+ policy/").count() > 300);
        assert_eq!(out.matches("```diff").count(), 3);
        assert_eq!(out.matches("\n```\n").count(), 3, "every fence closed");
        assert_eq!(
            out.matches("<details>").count(),
            out.matches("</details>").count()
        );
    }

    #[test]
    fn one_enormous_line_is_left_out_not_split() {
        let mut s = section("policy", 1, 1);
        s.lines.push(format!("+ {}", "x".repeat(100_000)));
        let out = fit("h\n", &[s], MAX_COMMENT_CHARS);
        assert!(out.len() <= MAX_COMMENT_CHARS);
        assert!(out.contains("+ policy/0\n"));
        assert!(out.contains("_1 of 2 lines"));
    }
}
