//! Apply windows (issue 16): when the daemon may write to Immuta. Argo CD's sync windows,
//! for a governance tenant: a change freeze at quarter end, writes only at night.
//!
//! Input: the `--apply-window` specs and `--apply-window-tz`, then an instant. Output:
//! a [`Verdict`] — are writes blocked, why, and when that next changes. Pure: no clock is
//! read here (the caller passes the instant), so every rule is tested on literal instants.
//!
//! A spec is `<allow|deny> <cron> <duration>`: `allow 0 22 * * 1-5 4h` opens a window at
//! 22:00 every weekday for four hours. The cron expression has the five POSIX fields
//! (minute hour day-of-month month day-of-week) or is one of `@hourly`, `@daily`,
//! `@weekly`, `@monthly`, `@yearly`; the duration is humantime (`90m`, `4h`, `1h30m`),
//! 1 minute to 31 days.
//!
//! Semantics (Argo CD's): a window is active from each time its cron expression matches,
//! for its duration. Writes are blocked when any `deny` window is active, or when at
//! least one `allow` window exists and none is active. With no window at all, nothing is
//! blocked. Deny wins over allow.
//!
//! Time zones and daylight saving time: the cron expression is matched against the wall
//! clock of `--apply-window-tz` (an IANA name, default `UTC`); the duration is elapsed
//! time. So `allow 0 1 * * * 3h` in `Europe/Berlin` on the night clocks go back runs from
//! 01:00 CEST to 03:00 CET (three real hours, the clock shows two). A start time the clock
//! skips (02:30 on the night clocks go forward) starts the window at the first instant
//! after the gap (03:00); a start time the clock shows twice (02:30 on the night clocks go
//! back) starts the window once, at its first occurrence. Both follow the cron library
//! (croner, the Open Cron Pattern Specification's rules for fixed-time jobs).

use std::fmt;
use std::time::Duration;

use croner::parser::{CronParser, Seconds};
use croner::Cron;
use jiff::tz::TimeZone;
use jiff::{SignedDuration, Timestamp, Zoned};

/// The shortest window.
pub const MIN_DURATION: Duration = Duration::from_secs(60);
/// The longest window.
pub const MAX_DURATION: Duration = Duration::from_secs(31 * 24 * 3600);
/// How far ahead [`Windows::at`] looks for the next change.
const HORIZON: SignedDuration = SignedDuration::from_hours(400 * 24);
/// How many overlapping runs of one window are followed to find where it closes.
const MAX_CHAIN: usize = 1_000;
/// How many boundaries [`Windows::at`] walks before giving up on a next change (windows
/// that flip without changing the verdict cost one step each).
const MAX_STEPS: usize = 1_000;

/// Whether a window lets writes through or stops them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Writes happen only inside some allow window (when any exists).
    Allow,
    /// No write happens inside a deny window.
    Deny,
}

impl Kind {
    /// The word of the spec.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Allow => "allow",
            Kind::Deny => "deny",
        }
    }
}

/// A spec that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// The spec is not `<allow|deny> <cron> <duration>`.
    #[error("{spec:?}: {message} (expected `allow|deny <cron expression> <duration>`, e.g. `allow 0 22 * * 1-5 4h`)")]
    Syntax {
        /// The spec as given.
        spec: String,
        /// What is wrong.
        message: String,
    },
    /// `--apply-window-tz` names no time zone of the database.
    #[error("unknown time zone {0:?} (expected an IANA name such as Europe/Berlin or UTC)")]
    TimeZone(String),
}

/// One window.
#[derive(Debug, Clone)]
pub struct Window {
    kind: Kind,
    cron: Cron,
    expression: String,
    /// The duration as written (`4h`, `90m`), shown back in `/status` and messages.
    duration: String,
    span: SignedDuration,
}

impl Window {
    /// Parses `<allow|deny> <cron> <duration>`.
    ///
    /// # Errors
    /// [`Error::Syntax`] naming the spec and the part that is wrong.
    pub fn parse(spec: &str) -> Result<Window, Error> {
        let bad = |message: String| Error::Syntax {
            spec: spec.to_string(),
            message,
        };
        let words: Vec<&str> = spec.split_whitespace().collect();
        let (Some(first), Some(last)) = (words.first(), words.last()) else {
            return Err(bad("empty".into()));
        };
        let kind = match first.to_ascii_lowercase().as_str() {
            "allow" => Kind::Allow,
            "deny" => Kind::Deny,
            other => return Err(bad(format!("{other:?} is neither allow nor deny"))),
        };
        let fields = words.get(1..words.len().saturating_sub(1)).unwrap_or(&[]);
        let is_macro = fields.len() == 1 && fields.iter().all(|f| f.starts_with('@'));
        if fields.len() != 5 && !is_macro {
            return Err(bad(format!(
                "the cron expression has {} fields; it needs the five minute hour day-of-month month day-of-week (or @daily, @weekly, …)",
                fields.len()
            )));
        }
        let expression = fields.join(" ");
        let cron = CronParser::builder()
            .seconds(Seconds::Disallowed)
            .build()
            .parse(&expression)
            .map_err(|e| bad(format!("cron expression {expression:?}: {e}")))?;
        let duration =
            humantime::parse_duration(last).map_err(|e| bad(format!("duration {last:?}: {e}")))?;
        if !(MIN_DURATION..=MAX_DURATION).contains(&duration) {
            return Err(bad(format!("duration {last:?} must be between 1m and 31d")));
        }
        let span = SignedDuration::try_from(duration)
            .map_err(|e| bad(format!("duration {last:?}: {e}")))?;
        let w = Window {
            kind,
            cron,
            expression,
            duration: (*last).to_string(),
            span,
        };
        // A pattern that never matches (`0 0 30 2 *`) would block or allow nothing, silently.
        let probe = Timestamp::UNIX_EPOCH.to_zoned(TimeZone::UTC);
        if w.cron.find_next_occurrence(&probe, true).is_err() {
            return Err(bad(format!(
                "cron expression {:?} never matches",
                w.expression
            )));
        }
        Ok(w)
    }

    /// `allow` or `deny`.
    pub fn kind(&self) -> Kind {
        self.kind
    }

    /// The latest start at or before `t`, if one exists within the search limit.
    fn last_start(&self, t: &Zoned) -> Option<Timestamp> {
        self.cron
            .find_previous_occurrence(t, true)
            .ok()
            .map(|z| z.timestamp())
    }

    /// The first start after `t`.
    fn next_start(&self, t: &Zoned) -> Option<Zoned> {
        self.cron.find_next_occurrence(t, false).ok()
    }

    /// Whether the window is open at `t`: some start `s` with `s <= t < s + duration`.
    /// The latest start has the latest end, so it alone decides.
    fn is_active(&self, t: &Zoned) -> bool {
        self.last_start(t)
            .and_then(|s| s.checked_add(self.span).ok())
            .is_some_and(|end| t.timestamp() < end)
    }

    /// The first instant after `t` where [`Window::is_active`] flips, if one comes within
    /// the horizon. An active window closes at the end of its last overlapping run.
    fn next_flip(&self, t: &Zoned) -> Option<Timestamp> {
        let limit = t.timestamp().checked_add(HORIZON).ok()?;
        if !self.is_active(t) {
            return self.next_start(t).map(|z| z.timestamp());
        }
        let mut end = self.last_start(t)?.checked_add(self.span).ok()?;
        let mut cursor = t.clone();
        for _ in 0..MAX_CHAIN {
            let next = self.next_start(&cursor)?;
            if next.timestamp() > end {
                return Some(end);
            }
            end = next.timestamp().checked_add(self.span).ok()?;
            if end > limit {
                return None;
            }
            cursor = next;
        }
        None
    }
}

impl fmt::Display for Window {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {} {}",
            self.kind.as_str(),
            self.expression,
            self.duration
        )
    }
}

/// Whether writes are blocked at one instant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verdict {
    /// No write may be sent now.
    pub blocked: bool,
    /// Why writes are blocked (`inside deny window …`, `outside every allow window`).
    pub reason: Option<String>,
    /// When `blocked` next flips, if within about a year.
    pub next_change: Option<Timestamp>,
}

/// Where the daemon reads the wall clock for window decisions. [`Windows::at`] stays
/// pure; this is the one place that reads a clock.
#[derive(Debug, Clone, Default)]
pub enum Clock {
    /// The system clock.
    #[default]
    System,
    /// A wall-clock instant at a moment of Tokio's clock, moving with Tokio's clock: on a
    /// paused test runtime, window time moves only when the test advances it.
    Anchored {
        /// The wall-clock time at `at`.
        wall: Timestamp,
        /// Tokio's time at `wall`.
        at: tokio::time::Instant,
    },
}

impl Clock {
    /// A clock that reads `wall` now and moves with Tokio's clock.
    pub fn anchored(wall: Timestamp) -> Clock {
        Clock::Anchored {
            wall,
            at: tokio::time::Instant::now(),
        }
    }

    /// The current wall-clock instant.
    pub fn now(&self) -> Timestamp {
        match self {
            Clock::System => Timestamp::now(),
            Clock::Anchored { wall, at } => SignedDuration::try_from(at.elapsed())
                .ok()
                .and_then(|d| wall.checked_add(d).ok())
                .unwrap_or(*wall),
        }
    }
}

/// The windows and the clock they are read with: what the daemon asks before a write.
#[derive(Debug, Clone, Default)]
pub struct Gate {
    /// The configured windows (none: never blocked).
    pub windows: Windows,
    /// Where "now" comes from.
    pub clock: Clock,
}

impl Gate {
    /// The verdict now.
    pub fn verdict(&self) -> Verdict {
        self.windows.at(self.clock.now())
    }

    /// How long until the verdict next changes, if it does within the horizon.
    pub fn until_next_change(&self) -> Option<Duration> {
        let now = self.clock.now();
        let next = self.windows.at(now).next_change?;
        Duration::try_from(now.duration_until(next)).ok()
    }

    /// What `/status` shows; `None` when no window is configured.
    pub fn status(&self) -> Option<super::status::WindowStatus> {
        if self.windows.is_empty() {
            return None;
        }
        let v = self.verdict();
        Some(super::status::WindowStatus {
            windows: self.windows.specs(),
            time_zone: self.windows.time_zone().to_string(),
            writes_blocked: v.blocked,
            reason: v.reason,
            next_change_at: v.next_change.map(timestamp),
        })
    }
}

/// RFC 3339 UTC, seconds precision (as `/status` writes every time).
pub fn timestamp(t: Timestamp) -> String {
    t.strftime("%Y-%m-%dT%H:%M:%SZ").to_string()
}

/// Every configured window, in one time zone.
#[derive(Debug, Clone)]
pub struct Windows {
    windows: Vec<Window>,
    tz: TimeZone,
    tz_name: String,
}

impl Default for Windows {
    fn default() -> Self {
        Windows {
            windows: Vec::new(),
            tz: TimeZone::UTC,
            tz_name: "UTC".into(),
        }
    }
}

impl Windows {
    /// Parses every spec; `tz` is an IANA name (`UTC`, `Europe/Berlin`).
    ///
    /// # Errors
    /// The first spec that is wrong, or an unknown time zone.
    pub fn parse<S: AsRef<str>>(specs: &[S], tz: &str) -> Result<Windows, Error> {
        let zone = TimeZone::get(tz.trim()).map_err(|_| Error::TimeZone(tz.to_string()))?;
        let windows = specs
            .iter()
            .map(|s| Window::parse(s.as_ref()))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Windows {
            windows,
            tz: zone,
            tz_name: tz.trim().to_string(),
        })
    }

    /// Whether no window is configured (nothing is ever blocked).
    pub fn is_empty(&self) -> bool {
        self.windows.is_empty()
    }

    /// The windows as written back (`allow 0 22 * * 1-5 4h`), for `/status`.
    pub fn specs(&self) -> Vec<String> {
        self.windows.iter().map(ToString::to_string).collect()
    }

    /// The time zone's name.
    pub fn time_zone(&self) -> &str {
        &self.tz_name
    }

    fn has_allow(&self) -> bool {
        self.windows.iter().any(|w| w.kind == Kind::Allow)
    }

    /// Why writes are blocked at `t`, or `None` when they are not.
    fn block_reason(&self, t: &Zoned) -> Option<String> {
        if let Some(d) = self
            .windows
            .iter()
            .find(|w| w.kind == Kind::Deny && w.is_active(t))
        {
            return Some(format!("inside deny window `{d}`"));
        }
        let allowed = self
            .windows
            .iter()
            .any(|w| w.kind == Kind::Allow && w.is_active(t));
        (self.has_allow() && !allowed).then(|| "outside every allow window".to_string())
    }

    /// The verdict at `now`.
    pub fn at(&self, now: Timestamp) -> Verdict {
        let t = now.to_zoned(self.tz.clone());
        let reason = self.block_reason(&t);
        let blocked = reason.is_some();
        Verdict {
            blocked,
            reason,
            next_change: self.next_change(&t, blocked),
        }
    }

    /// The first boundary after `t` where the blocked state differs from `blocked`.
    fn next_change(&self, t: &Zoned, blocked: bool) -> Option<Timestamp> {
        if self.windows.is_empty() {
            return None;
        }
        let limit = t.timestamp().checked_add(HORIZON).ok()?;
        // Each window's next flip stays valid until the walk reaches it: only the windows
        // that flipped at the current boundary are searched again.
        let mut flips: Vec<Option<Timestamp>> =
            self.windows.iter().map(|w| w.next_flip(t)).collect();
        for _ in 0..MAX_STEPS {
            let next = flips.iter().flatten().min().copied()?;
            if next > limit {
                return None;
            }
            let at = next.to_zoned(self.tz.clone());
            if self.block_reason(&at).is_some() != blocked {
                return Some(next);
            }
            for (w, f) in self.windows.iter().zip(flips.iter_mut()) {
                if *f == Some(next) {
                    *f = w.next_flip(&at);
                }
            }
        }
        None
    }
}

#[cfg(test)]
mod tests;
