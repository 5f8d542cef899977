//! Notifications (issue 16): the daemon tells people what it did, beside the daemon stage.
//!
//! Input: a [`Notice`] per event the daemon decided to announce (which events, and when,
//! is [`track::Tracker`]'s pure decision) and the [`Redactor`] that knows this cycle's
//! secrets. Output: HTTP POSTs to every `--notify` receiver, in the generic JSON body
//! ([`body::generic`], `version` 1) or Slack's incoming-webhook format
//! ([`body::slack`], for a URL given as `slack:https://hooks.slack.com/…`).
//!
//! Guarantees:
//! 1. A receiver never blocks or fails a cycle: [`Notifier::notify`] only puts the body
//!    on the receiver's bounded queue ([`QUEUE`]); one task per receiver sends it, so a
//!    receiver that hangs delays only its own messages. A full queue drops the message,
//!    and every message that is dropped or not accepted after its retries counts in
//!    `immuta_gitops_notifications_failed_total`.
//! 2. No secret is sent: every string of a body passes through the [`Redactor`] after
//!    the body is built (the commit subject and error texts before, too), and the
//!    commit subject and errors are cut to bounded lengths after redaction.
//! 3. A receiver URL is never logged, shown in `/status` or in an error: it may hold a
//!    token (Slack's do, in the path). Logs name a receiver by its position and host.

use std::fmt;

use serde::Serialize;

use crate::redact::Redactor;

pub mod body;
pub mod send;
pub mod track;

pub use send::Notifier;

/// Messages waiting per receiver; more are dropped (and counted) rather than held.
pub const QUEUE: usize = 32;

/// The most objects one message lists; the rest are counted (`… and 12 more`).
pub const MAX_OBJECTS: usize = 50;

/// The most characters of an error text in a message (after redaction).
pub const MAX_ERROR_CHARS: usize = 1_000;

/// The body format of a receiver.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// The documented JSON body (`version` 1).
    Generic,
    /// Slack's incoming-webhook format (`text` and `blocks`).
    Slack,
}

impl Format {
    /// The label in logs.
    pub fn as_str(self) -> &'static str {
        match self {
            Format::Generic => "json",
            Format::Slack => "slack",
        }
    }
}

/// A `--notify` value that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// Not an `http://` or `https://` URL (the value itself is not repeated: it may hold
    /// a token).
    #[error("--notify #{index}: {message} (expected an http(s) URL, or slack:https://…)")]
    Url {
        /// The receiver's position among the `--notify` flags, from 1.
        index: usize,
        /// What is wrong.
        message: String,
    },
}

/// One `--notify` receiver.
#[derive(Clone)]
pub struct Receiver {
    url: reqwest::Url,
    format: Format,
    label: String,
}

impl Receiver {
    /// Parses the `index`-th (from 1) `--notify` value: a URL, or `slack:` and a URL.
    ///
    /// # Errors
    /// [`Error::Url`] without the value (it may hold a token).
    pub fn parse(index: usize, value: &str) -> Result<Receiver, Error> {
        let value = value.trim();
        let (format, raw) = match value.strip_prefix("slack:") {
            Some(rest) => (Format::Slack, rest),
            None => (Format::Generic, value),
        };
        let bad = |message: &str| Error::Url {
            index,
            message: message.to_string(),
        };
        let url = reqwest::Url::parse(raw).map_err(|_| bad("not a URL"))?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(bad("the scheme is not http or https"));
        }
        let host = url.host_str().ok_or_else(|| bad("the URL has no host"))?;
        let label = format!("#{index} {} {host}", format.as_str());
        Ok(Receiver { url, format, label })
    }

    /// The body format.
    pub fn format(&self) -> Format {
        self.format
    }

    /// How logs name this receiver: position, format and host, never the URL.
    pub fn label(&self) -> &str {
        &self.label
    }

    /// The URL, for the one place that posts to it.
    pub(crate) fn url(&self) -> &reqwest::Url {
        &self.url
    }

    /// Every part of the URL that may be a token, for the redactor: the URL itself, its
    /// userinfo and query values, and each path segment of 16 characters or more
    /// (Slack's `/services/T…/B…/<token>`).
    pub fn secrets(&self) -> Vec<String> {
        let mut out = vec![self.url.to_string()];
        out.extend(crate::redact::url::secrets(self.url.as_str()));
        if let Some(segments) = self.url.path_segments() {
            out.extend(
                segments
                    .filter(|s| s.chars().count() >= 16)
                    .map(str::to_string),
            );
        }
        out
    }
}

/// Never prints the URL.
impl fmt::Debug for Receiver {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Receiver")
            .field("label", &self.label)
            .finish_non_exhaustive()
    }
}

/// Why the cycle that produced a notice ran, in the words of the message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Trigger {
    /// The first cycle after start.
    Startup,
    /// The poll interval.
    Interval,
    /// A verified `POST /hook`.
    Webhook,
    /// Files of a local `--repo` changed.
    FileChange,
    /// The drift check of an unchanged, already planned revision.
    DriftCheck,
}

impl Trigger {
    /// The JSON value, also used in Slack text.
    pub fn as_str(self) -> &'static str {
        match self {
            Trigger::Startup => "startup",
            Trigger::Interval => "interval",
            Trigger::Webhook => "webhook",
            Trigger::FileChange => "file_change",
            Trigger::DriftCheck => "drift_check",
        }
    }
}

/// One object of an apply, as announced.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ObjectResult {
    /// `kind/name`.
    pub key: String,
    /// The planned action (`create`, `update`, `delete`).
    pub action: String,
    /// `applied`, `failed` or `skipped`.
    pub result: String,
    /// Immuta's message or the skip reason, when not applied.
    pub error: Option<String>,
}

/// One planned change, as announced (drift, held, waiting for a window).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ChangeRef {
    /// `kind/name`.
    pub key: String,
    /// The planned action.
    pub action: String,
    /// Why it weakens data protection, for weakening changes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// What happened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// An apply wrote every planned object (per-object results).
    Applied {
        /// Each object written.
        objects: Vec<ObjectResult>,
        /// The applied changes that weaken data protection.
        weakening: Vec<ChangeRef>,
    },
    /// The cycle failed: the error, and the per-object results when an apply ran.
    Failed {
        /// The error text.
        error: String,
        /// Each object of an incomplete apply (empty when nothing was written).
        objects: Vec<ObjectResult>,
    },
    /// The tenant differs from the applied revision and was left alone (`--drift report`).
    DriftDetected {
        /// The objects that differ.
        objects: Vec<ChangeRef>,
    },
    /// Changes that weaken data protection wait for an `Immuta-Approve` trailer.
    Held {
        /// The held changes, with their reasons.
        changes: Vec<ChangeRef>,
    },
    /// An apply window kept the daemon from writing.
    WindowBlocked {
        /// Why (`outside every allow window`, `inside deny window …`).
        reason: String,
        /// When writes are next allowed (RFC 3339), if known.
        next_change_at: Option<String>,
        /// The changes that wait.
        pending: Vec<ChangeRef>,
    },
    /// A failing state cleared: the cycle succeeded again, or the drift is gone.
    Recovered {
        /// What cleared: `failed`, `drift`.
        cleared: Vec<&'static str>,
    },
}

impl Event {
    /// The `event` value of the body.
    pub fn name(&self) -> &'static str {
        match self {
            Event::Applied { .. } => "applied",
            Event::Failed { .. } => "failed",
            Event::DriftDetected { .. } => "drift_detected",
            Event::Held { .. } => "held",
            Event::WindowBlocked { .. } => "window_blocked",
            Event::Recovered { .. } => "recovered",
        }
    }
}

/// One message: the event and the cycle it came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notice {
    /// What happened.
    pub event: Event,
    /// Why the cycle ran.
    pub trigger: Trigger,
    /// The repository, without credentials.
    pub origin: String,
    /// The revision planned, when the fetch got that far.
    pub revision: Option<String>,
    /// The commit subject (not yet redacted: the body builders redact and cut it).
    pub subject: Option<String>,
    /// When (RFC 3339).
    pub at: String,
}

/// Replaces every string in `v` (keys are ours and left alone) by its redacted form:
/// the last pass over every body, whatever a builder put in it.
pub fn redact_value(v: &mut serde_json::Value, redactor: &Redactor) {
    match v {
        serde_json::Value::String(s) => {
            let r = redactor.redact(s);
            if r != *s {
                *s = r;
            }
        }
        serde_json::Value::Array(items) => {
            for i in items {
                redact_value(i, redactor);
            }
        }
        serde_json::Value::Object(map) => {
            for (_, i) in map.iter_mut() {
                redact_value(i, redactor);
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn receivers_parse_without_repeating_the_url() {
        let r = Receiver::parse(1, "https://hooks.example.com/x").unwrap();
        assert_eq!(r.format(), Format::Generic);
        assert_eq!(r.label(), "#1 json hooks.example.com");
        let token = "XXXXXXXXXXXXXXXXXXXXXXXX";
        let s = Receiver::parse(
            2,
            &format!("slack:https://hooks.slack.com/services/T000/B000/{token}"),
        )
        .unwrap();
        assert_eq!(s.format(), Format::Slack);
        assert_eq!(s.label(), "#2 slack hooks.slack.com");
        assert!(!format!("{s:?}").contains(token));
        assert!(s.secrets().iter().any(|x| x == token));
        for bad in ["ftp://x/y", "not a url", "slack:mailto:a@b"] {
            let e = Receiver::parse(3, &format!("{bad}-t0ken")).unwrap_err();
            assert!(!e.to_string().contains("t0ken"), "{e}");
            assert!(e.to_string().starts_with("--notify #3:"), "{e}");
        }
    }

    #[test]
    fn every_string_of_a_value_is_redacted() {
        let mut r = Redactor::new();
        r.add("s3cret-value");
        let mut v =
            serde_json::json!({"a": "x s3cret-value y", "b": [{"c": "s3cret-value"}], "n": 1});
        redact_value(&mut v, &r);
        assert_eq!(
            v,
            serde_json::json!({"a": "x (sensitive) y", "b": [{"c": "(sensitive)"}], "n": 1})
        );
    }
}
