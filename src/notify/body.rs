//! The bodies of a notification: the generic JSON body ([`generic`], `version` 1) and
//! Slack's incoming-webhook format ([`slack`]). Pure functions of a [`Notice`] and the
//! [`Redactor`]; the README documents both.
//!
//! Every text from outside (commit subject, error texts, keys, Immuta's messages) is
//! redacted, written with visible escapes for control characters ([`terminal::escape`]),
//! and cut to a bounded length after redaction; Slack text also escapes `&`, `<` and `>`
//! (Slack's rule), so a commit subject cannot mention `<!channel>` or forge a link.
//! Finally every string of the built body is redacted once more ([`redact_value`]).

use serde_json::{json, Value};

use super::{redact_value, ChangeRef, Event, Notice, ObjectResult, MAX_ERROR_CHARS, MAX_OBJECTS};
use crate::limits::MAX_SUBJECT_CHARS;
use crate::redact::Redactor;
use crate::terminal;

/// The `version` of the generic body. It changes when a field changes meaning or goes
/// away; new fields may be added within a version.
pub const VERSION: u32 = 1;

/// Lines of objects a Slack message lists (Slack cuts a section at 3,000 characters).
const SLACK_LINES: usize = 20;
/// The longest text of one Slack section.
const SLACK_SECTION_CHARS: usize = 2_900;

/// A text from outside, made safe to show: redacted, cut, control characters escaped.
fn clean(redactor: &Redactor, text: &str, max_chars: usize) -> String {
    terminal::escape(&redactor.redact_cut(text, max_chars)).into_owned()
}

/// The notice with every text cleaned once, shared by both formats.
struct Clean {
    event: &'static str,
    summary: String,
    origin: String,
    revision: Option<String>,
    subject: Option<String>,
    objects: Vec<Value>,
    omitted: usize,
    weakening: Vec<ChangeRef>,
    error: Option<String>,
    window: Option<(String, Option<String>)>,
    cleared: Vec<&'static str>,
}

fn clean_results(r: &Redactor, objects: &[ObjectResult]) -> Vec<ObjectResult> {
    objects
        .iter()
        .map(|o| ObjectResult {
            key: clean(r, &o.key, 300),
            action: o.action.clone(),
            result: o.result.clone(),
            error: o.error.as_deref().map(|e| clean(r, e, MAX_ERROR_CHARS)),
        })
        .collect()
}

fn clean_changes(r: &Redactor, changes: &[ChangeRef]) -> Vec<ChangeRef> {
    changes
        .iter()
        .map(|c| ChangeRef {
            key: clean(r, &c.key, 300),
            action: c.action.clone(),
            reason: c.reason.as_deref().map(|e| clean(r, e, 300)),
        })
        .collect()
}

/// The first [`MAX_OBJECTS`] as JSON values, and how many were left out.
fn listed<T: serde::Serialize>(items: &[T]) -> (Vec<Value>, usize) {
    let shown = items
        .iter()
        .take(MAX_OBJECTS)
        .filter_map(|i| serde_json::to_value(i).ok())
        .collect();
    (shown, items.len().saturating_sub(MAX_OBJECTS))
}

/// A revision short enough for a sentence: 12 hex digits (`dir:` kept).
pub fn short_revision(rev: &str) -> String {
    let (prefix, rest) = rev.split_at(if rev.starts_with("dir:") { 4 } else { 0 });
    format!("{prefix}{}", rest.chars().take(12).collect::<String>())
}

fn plural(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

fn prepare(n: &Notice, r: &Redactor) -> Clean {
    let rev = n
        .revision
        .as_deref()
        .map(short_revision)
        .unwrap_or_else(|| "(unknown)".into());
    let mut c = Clean {
        event: n.event.name(),
        summary: String::new(),
        origin: clean(r, &n.origin, 500),
        revision: n.revision.as_deref().map(|v| clean(r, v, 100)),
        subject: n.subject.as_deref().map(|s| clean(r, s, MAX_SUBJECT_CHARS)),
        objects: Vec::new(),
        omitted: 0,
        weakening: Vec::new(),
        error: None,
        window: None,
        cleared: Vec::new(),
    };
    c.summary =
        match &n.event {
            Event::Applied { objects, weakening } => {
                let objects = clean_results(r, objects);
                (c.objects, c.omitted) = listed(&objects);
                c.weakening = clean_changes(r, weakening);
                let mut s = format!(
                    "Applied revision {rev}: {} written.",
                    plural(objects.len(), "object", "objects")
                );
                if !weakening.is_empty() {
                    s.push_str(&format!(
                        " {} data protection.",
                        plural(weakening.len(), "change weakens", "changes weaken")
                    ));
                }
                s
            }
            Event::Failed { error, objects } => {
                let error = clean(r, error, MAX_ERROR_CHARS);
                (c.objects, c.omitted) = listed(&clean_results(r, objects));
                let s = format!(
                    "Reconcile failed at revision {rev}: {}",
                    r.redact_cut(&error, 300)
                );
                c.error = Some(error);
                s
            }
            Event::DriftDetected { objects } => {
                let objects = clean_changes(r, objects);
                (c.objects, c.omitted) = listed(&objects);
                format!(
                "Drift: {} in Immuta {} from revision {rev} (changed outside Git); not reverted.",
                plural(objects.len(), "object", "objects"),
                if objects.len() == 1 { "differs" } else { "differ" }
            )
            }
            Event::Held { changes } => {
                c.weakening = clean_changes(r, changes);
                format!(
                "{} data protection {} held for approval (an Immuta-Approve trailer releases {}).",
                plural(changes.len(), "change that weakens", "changes that weaken"),
                if changes.len() == 1 { "is" } else { "are" },
                if changes.len() == 1 { "it" } else { "them" }
            )
            }
            Event::WindowBlocked {
                reason,
                next_change_at,
                pending,
            } => {
                let pending = clean_changes(r, pending);
                (c.objects, c.omitted) = listed(&pending);
                let reason = clean(r, reason, 300);
                let next = next_change_at
                    .as_deref()
                    .map(|t| format!("; writes are allowed from {t}"))
                    .unwrap_or_default();
                let s = format!(
                    "Writes blocked at revision {rev} ({reason}): {} {}{next}.",
                    plural(pending.len(), "change", "changes"),
                    if pending.len() == 1 { "waits" } else { "wait" }
                );
                c.window = Some((reason, next_change_at.clone()));
                s
            }
            Event::Recovered { cleared } => {
                c.cleared = cleared.clone();
                format!(
                    "Recovered at revision {rev}: {} cleared.",
                    cleared.join(" and ")
                )
            }
        };
    c
}

/// The generic JSON body (`version` 1). Every field is always present (`null` or `[]`
/// when the event has none), so receivers can rely on the shape.
pub fn generic(n: &Notice, r: &Redactor) -> Value {
    let c = prepare(n, r);
    let mut v = json!({
        "version": VERSION,
        "event": c.event,
        "at": n.at,
        "trigger": n.trigger.as_str(),
        "source": {
            "origin": c.origin,
            "revision": c.revision,
            "subject": c.subject,
        },
        "summary": c.summary,
        "objects": c.objects,
        "objects_omitted": c.omitted,
        "weakening": c.weakening,
        "error": c.error,
        "window": c.window.as_ref().map(|(reason, next)| json!({
            "reason": reason,
            "next_change_at": next,
        })),
        "cleared": c.cleared,
    });
    redact_value(&mut v, r);
    v
}

/// Slack's escaping of message text: `&`, `<`, `>`.
fn slack_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

fn section(text: &str) -> Value {
    let text: String = text.chars().take(SLACK_SECTION_CHARS).collect();
    json!({"type": "section", "text": {"type": "mrkdwn", "text": text}})
}

fn object_line(o: &Value) -> String {
    let s = |k: &str| o.get(k).and_then(Value::as_str).map(slack_escape);
    let mut line = format!(
        "• `{}` {}",
        s("key").unwrap_or_default(),
        s("action").unwrap_or_default()
    );
    if let Some(result) = s("result") {
        line.push_str(&format!(": {result}"));
    }
    if let Some(reason) = s("reason").or_else(|| s("error")) {
        line.push_str(&format!(" — {reason}"));
    }
    line
}

fn lines(items: &[String], omitted: usize) -> String {
    let mut out: Vec<String> = items.iter().take(SLACK_LINES).cloned().collect();
    let more = items.len().saturating_sub(SLACK_LINES) + omitted;
    if more > 0 {
        out.push(format!("… and {more} more"));
    }
    out.join("\n")
}

/// Slack's incoming-webhook body: `text` (the summary, shown in notifications) and
/// `blocks`: the summary, the changes that weaken data protection (first, when any), the
/// objects, the error, and a context line with trigger, revision and commit subject.
pub fn slack(n: &Notice, r: &Redactor) -> Value {
    let c = prepare(n, r);
    let summary = slack_escape(&c.summary);
    let mut blocks = vec![section(&format!("*immuta-gitops {}*\n{summary}", c.event))];
    if !c.weakening.is_empty() {
        let items: Vec<String> = c
            .weakening
            .iter()
            .filter_map(|w| serde_json::to_value(w).ok())
            .map(|v| object_line(&v))
            .collect();
        blocks.push(section(&format!(
            "*Changes that weaken data protection*\n{}",
            lines(&items, 0)
        )));
    }
    if !c.objects.is_empty() {
        let items: Vec<String> = c.objects.iter().map(object_line).collect();
        blocks.push(section(&lines(&items, c.omitted)));
    }
    if let Some(e) = &c.error {
        blocks.push(section(&format!("*Error*\n{}", slack_escape(e))));
    }
    let mut context = format!("trigger: {}", n.trigger.as_str());
    if let Some(rev) = &c.revision {
        context.push_str(&format!(
            " · revision `{}`",
            slack_escape(&short_revision(rev))
        ));
    }
    if let Some(s) = &c.subject {
        context.push_str(&format!(" · {}", slack_escape(s)));
    }
    context.push_str(&format!(" · {}", slack_escape(&c.origin)));
    blocks.push(json!({"type": "context", "elements": [{"type": "mrkdwn", "text": context}]}));
    let mut v = json!({
        "text": format!("immuta-gitops: {summary}"),
        "blocks": blocks,
    });
    redact_value(&mut v, r);
    v
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::notify::Trigger;

    const SECRET: &str = "hunter2-\"quoted\"\\-s3cr3t";

    fn redactor() -> Redactor {
        let mut r = Redactor::new();
        r.add(SECRET);
        r
    }

    fn notice(event: Event) -> Notice {
        Notice {
            event,
            trigger: Trigger::Interval,
            origin: "https://git.example.com/acme/immuta".into(),
            revision: Some("0123456789abcdef0123456789abcdef01234567".into()),
            subject: Some(format!(
                "Rotate the key {SECRET}\x1b]0;pwned\x07 <!channel>"
            )),
            at: "2026-12-01T12:00:00Z".into(),
        }
    }

    fn applied() -> Event {
        Event::Applied {
            objects: vec![ObjectResult {
                key: "policy/mask-pii".into(),
                action: "update".into(),
                result: "applied".into(),
                error: None,
            }],
            weakening: vec![ChangeRef {
                key: "policy/mask-pii".into(),
                action: "update".into(),
                reason: Some("masking type Hash replaced by none".into()),
            }],
        }
    }

    #[test]
    fn the_generic_body_has_every_field_and_no_secret() {
        let v = generic(&notice(applied()), &redactor());
        assert_eq!(
            v,
            json!({
                "version": 1,
                "event": "applied",
                "at": "2026-12-01T12:00:00Z",
                "trigger": "interval",
                "source": {
                    "origin": "https://git.example.com/acme/immuta",
                    "revision": "0123456789abcdef0123456789abcdef01234567",
                    "subject": "Rotate the key (sensitive)\\x1b]0;pwned\\x07 <!channel>",
                },
                "summary": "Applied revision 0123456789ab: 1 object written. 1 change weakens data protection.",
                "objects": [{"key": "policy/mask-pii", "action": "update", "result": "applied", "error": null}],
                "objects_omitted": 0,
                "weakening": [{"key": "policy/mask-pii", "action": "update", "reason": "masking type Hash replaced by none"}],
                "error": null,
                "window": null,
                "cleared": [],
            })
        );
    }

    #[test]
    fn a_failure_carries_its_redacted_error() {
        let e = Event::Failed {
            error: format!("POST /api/v2/data: 500: {{\"password\": \"{SECRET}\"}}"),
            objects: vec![],
        };
        let v = generic(&notice(e), &redactor());
        let text = v.to_string();
        assert!(!text.contains("s3cr3t"), "{text}");
        assert_eq!(
            v["error"],
            json!("POST /api/v2/data: 500: {\"password\": \"(sensitive)\"}")
        );
        assert!(v["summary"]
            .as_str()
            .unwrap()
            .starts_with("Reconcile failed at revision 0123456789ab: POST"));
    }

    #[test]
    fn slack_gets_text_blocks_and_the_weakening_changes_first() {
        let v = slack(&notice(applied()), &redactor());
        let text = v.to_string();
        assert!(!text.contains("s3cr3t"), "{text}");
        assert!(
            !text.contains("<!channel>"),
            "Slack mentions are escaped: {text}"
        );
        assert!(!text.contains('\x1b'), "{text}");
        assert_eq!(
            v["text"],
            json!("immuta-gitops: Applied revision 0123456789ab: 1 object written. 1 change weakens data protection.")
        );
        let blocks = v["blocks"].as_array().unwrap();
        assert_eq!(blocks.len(), 4);
        assert_eq!(
            blocks[1]["text"]["text"],
            json!("*Changes that weaken data protection*\n• `policy/mask-pii` update — masking type Hash replaced by none")
        );
        assert_eq!(
            blocks[2]["text"]["text"],
            json!("• `policy/mask-pii` update: applied")
        );
        assert_eq!(
            blocks[3]["elements"][0]["text"],
            json!("trigger: interval · revision `0123456789ab` · Rotate the key (sensitive)\\x1b]0;pwned\\x07 &lt;!channel&gt; · https://git.example.com/acme/immuta")
        );
    }

    #[test]
    fn long_lists_are_cut_and_counted() {
        let pending: Vec<ChangeRef> = (0..60)
            .map(|i| ChangeRef {
                key: format!("purpose/p{i}"),
                action: "create".into(),
                reason: None,
            })
            .collect();
        let e = Event::WindowBlocked {
            reason: "outside every allow window".into(),
            next_change_at: Some("2026-12-01T22:00:00Z".into()),
            pending,
        };
        let v = generic(&notice(e.clone()), &Redactor::new());
        assert_eq!(v["objects"].as_array().unwrap().len(), MAX_OBJECTS);
        assert_eq!(v["objects_omitted"], json!(10));
        assert_eq!(
            v["summary"],
            json!("Writes blocked at revision 0123456789ab (outside every allow window): 60 changes wait; writes are allowed from 2026-12-01T22:00:00Z.")
        );
        assert_eq!(
            v["window"],
            json!({"reason": "outside every allow window", "next_change_at": "2026-12-01T22:00:00Z"})
        );
        let s = slack(&notice(e), &Redactor::new());
        let list = s["blocks"][1]["text"]["text"].as_str().unwrap();
        assert_eq!(list.lines().count(), SLACK_LINES + 1);
        assert!(list.ends_with("… and 40 more"), "{list}");
    }

    #[test]
    fn summaries_of_the_other_events() {
        let cases = [
            (
                Event::DriftDetected {
                    objects: vec![ChangeRef {
                        key: "purpose/Marketing".into(),
                        action: "update".into(),
                        reason: None,
                    }],
                },
                "Drift: 1 object in Immuta differs from revision 0123456789ab (changed outside Git); not reverted.",
            ),
            (
                Event::Held {
                    changes: vec![
                        ChangeRef {
                            key: "policy/a".into(),
                            action: "delete".into(),
                            reason: Some("deletes a policy".into()),
                        };
                        2
                    ],
                },
                "2 changes that weaken data protection are held for approval (an Immuta-Approve trailer releases them).",
            ),
            (
                Event::Recovered {
                    cleared: vec!["failed", "drift"],
                },
                "Recovered at revision 0123456789ab: failed and drift cleared.",
            ),
        ];
        for (event, want) in cases {
            let v = generic(&notice(event), &Redactor::new());
            assert_eq!(v["summary"], json!(want));
        }
    }

    #[test]
    fn subjects_are_cut_after_redaction() {
        let mut n = notice(Event::Recovered {
            cleared: vec!["failed"],
        });
        n.subject = Some(format!("{}{SECRET}", "x".repeat(MAX_SUBJECT_CHARS - 5)));
        let v = generic(&n, &redactor());
        let s = v["source"]["subject"].as_str().unwrap();
        assert!(!s.contains("hunt"), "{s}");
        assert!(s.chars().count() <= MAX_SUBJECT_CHARS + 1, "{s}");
        assert_eq!(short_revision("dir:abcdef0123456789"), "dir:abcdef012345");
    }
}
