//! issue 11: output that cannot attack the terminal. File names, object keys and field
//! names holding newlines, ESC/OSC/CSI sequences, BEL, C1 or bidirectional controls are
//! printed escaped by validate, plan (text and Markdown) and apply, so a repository can
//! neither forge output lines nor reach the reviewer's terminal.

mod common;

use common::*;

/// Every character a human-readable output may not carry raw (a line break is allowed
/// only as the line separator itself).
fn raw_controls(s: &str) -> Vec<char> {
    s.chars()
        .filter(|&c| {
            (c.is_control() && c != '\n')
                || matches!(c, '\u{2028}' | '\u{2029}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
        })
        .collect()
}

/// No line may begin with the forged text: it must stay inside the line it came in.
fn assert_clean(what: &str, s: &str) {
    assert!(
        raw_controls(s).is_empty(),
        "{what}: raw controls {:?} in\n{s}",
        raw_controls(s)
    );
    for line in s.lines() {
        assert!(
            !line.trim_start().starts_with("FORGED"),
            "{what}: forged line {line:?} in\n{s}"
        );
    }
}

/// Several variants per class: newline (LF, CRLF, CR), OSC title and hyperlink, CSI
/// colour, BEL, C1 CSI, NUL and DEL, a bidirectional override.
const EVIL: &[(&str, &str)] = &[
    (
        "purpose/lf\nFORGED.yaml",
        "name: \"LF\\nFORGED Plan: 0 to add\"\ndescription: x\n",
    ),
    (
        "purpose/osc\u{1b}]0;title\u{7}.yaml",
        "name: \"OSC\\e]0;pwned\\a title\"\ndescription: x\n\"field\\e]8;;http://x\\e\\\\link\": 1\n",
    ),
    (
        "purpose/csi.yaml",
        "name: \"CSI\\e[2J\\e[31m red\"\ndescription: \"a\\r\\nFORGED\\rCR\"\n",
    ),
    (
        "purpose/c1.yaml",
        "name: \"C1\\x9b31m \\0nul \\x7fdel\"\ndescription: x\n",
    ),
    (
        "purpose/bidi.yaml",
        "name: \"BIDI \\u202Etxt.exe \\u2028FORGED\"\ndescription: x\n",
    ),
];

#[tokio::test]
async fn issue_11_validate_escapes_file_names_keys_and_fields() {
    let tmp = tempfile::tempdir().unwrap();
    let mut files = EVIL.to_vec();
    // A broken file with a hostile name: its error names the file.
    files.push((
        "purpose/bad\u{1b}]0;x\u{7}\nFORGED.yaml",
        "name: [unclosed\n",
    ));
    let dir = write_tree(tmp.path(), "repo", &files);
    let out = run(&["validate", &dir.to_string_lossy()], &[]).await;
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(1), "{stdout}{stderr}");
    assert_clean("validate stdout", &stdout);
    assert_clean("validate stderr", &stderr);
    assert!(
        stdout.contains("bad\\x1b]0;x\\x07\\nFORGED.yaml"),
        "{stdout}"
    );
}

#[tokio::test]
async fn issue_11_plan_and_apply_escape_keys_and_fields() {
    let emu = emulator(None).await;
    let tmp = tempfile::tempdir().unwrap();
    let dir = write_tree(tmp.path(), "repo", EVIL);
    let repo = dir.to_string_lossy().to_string();
    let url = emu.url();
    for output in ["text", "markdown"] {
        let out = reconcile(&url, "--plan", &repo, &["--output", output], &[]).await;
        let (stdout, stderr) = text(&out);
        assert_eq!(out.status.code(), Some(0), "{stdout}{stderr}");
        assert_clean(output, &stdout);
        assert_clean(output, &stderr);
        assert!(
            stdout.contains("purpose/OSC\\x1b]0;pwned\\x07 title"),
            "{stdout}"
        );
        assert!(stdout.contains("LF\\nFORGED Plan: 0 to add"), "{stdout}");
        assert!(stdout.contains("BIDI \\u{202e}txt.exe"), "{stdout}");
    }
    let out = reconcile(&url, "--apply", &repo, &[], &[]).await;
    let (stdout, stderr) = text(&out);
    assert_clean("apply stdout", &stdout);
    assert_clean("apply stderr", &stderr);
    assert!(
        stdout.contains("purpose/CSI\\x1b[2J\\x1b[31m red"),
        "{stdout}"
    );
    emu.shutdown().await;
}

#[tokio::test]
async fn issue_11_reconcile_errors_are_escaped_one_per_line() {
    let emu = emulator(None).await;
    let tmp = tempfile::tempdir().unwrap();
    let mut files = EVIL.to_vec();
    files.push((
        "purpose/bad\u{1b}]0;x\u{7}\nFORGED.yaml",
        "name: [unclosed\n",
    ));
    files.push((
        "purpose/worse.yaml",
        "name: \"\\e[2JW\"\nkAnonNoiseReduction: \"\\a\\nFORGED\"\n",
    ));
    let dir = write_tree(tmp.path(), "repo", &files);
    let out = reconcile(&emu.url(), "--plan", &dir.to_string_lossy(), &[], &[]).await;
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(1), "{stdout}{stderr}");
    assert_clean("reconcile stderr", &stderr);
    assert!(
        stderr.contains("error: 1 invalid manifest(s):\n"),
        "{stderr}"
    );
    assert!(
        stderr.contains("\npurpose/bad\\x1b]0;x\\x07\\nFORGED.yaml:"),
        "{stderr}"
    );
    assert!(stderr.contains("\npurpose/worse.yaml:2:"), "{stderr}");
    assert!(emu.emulator.write_log().is_empty());
    emu.shutdown().await;
}
