//! Resource limits shared by the stages, and the ranges flag values must fall in.
//!
//! A repository or a server must not be able to exhaust the machine (issue 11): every
//! input the tool reads whole has a cap, checked before the bytes are loaded where the
//! size is known in advance (file metadata, a Git blob's header) and enforced again by
//! the read itself (a file can grow while it is read, a server can stream forever).
//!
//! | limit | default | flag |
//! |---|---|---|
//! | manifest file | 4 MiB | `--max-manifest-bytes` |
//! | `{{ReadFile}}` target | 1 MiB | `--max-read-file-bytes` |
//! | YAML nodes per file (aliases counted expanded) | 1,000,000 | `--max-yaml-nodes` |
//! | YAML nesting depth | 64 | `--max-yaml-depth` |
//! | HTTP response body | 16 MiB | `--max-response-bytes` |
//! | secret file (API key, Git token, passphrase, webhook secret) | 64 KiB | fixed |
//! | state-directory file (`inventory.json`, `state.json`, `objects.json`) | 64 MiB | fixed |
//! | object key or name | 255 characters | fixed |
//! | commits read for approval trailers | 500 | fixed |
//! | commit object whose message is read | 64 KiB | fixed |
//! | commit subject in a notification | 200 characters | fixed |
//!
//! This module never reads anything itself: it holds the numbers and the value parsers
//! the command line's flags use.

use std::time::Duration;

/// The most bytes a secret file (API key, Git token, SSH passphrase, webhook secret) may
/// hold: a secret is one line; anything larger is the wrong file.
pub const MAX_SECRET_FILE_BYTES: u64 = 64 * 1024;

/// The largest file of the state directory (`inventory.json`, `state.json`, `objects.json`) read: far
/// above any real inventory, so a wrong directory (a device, a huge log named
/// `state.json`) cannot exhaust memory.
pub const MAX_STATE_FILE_BYTES: u64 = 64 * 1024 * 1024;

/// The longest object key or name (`policyKey`, `connectionKey`, `projectKey`, a
/// purpose's full dotted name, a policy's or project's `name`), in characters. The Immuta
/// documentation gives no maximum; 255 is our choice (the common bound of a database
/// `varchar` name column), written down in the README's Limits table.
pub const MAX_NAME_CHARS: usize = 255;

/// The most commits read between the last applied revision and the head for their
/// `Immuta-Approve` trailers (issue 16); with more, only the head commit counts.
pub const MAX_LOG_COMMITS: usize = 500;

/// The largest commit object whose message is read for trailers; a larger one carries
/// none (its size comes from the object header, so it is never loaded).
pub const MAX_COMMIT_MESSAGE_BYTES: u64 = 64 * 1024;
/// The most characters of a commit subject carried into notifications (issue 16); the
/// rest is cut (after redaction, so a cut never leaves part of a secret).
pub const MAX_SUBJECT_CHARS: usize = 200;

/// Default of `--max-manifest-bytes`.
pub const DEFAULT_MANIFEST_BYTES: u64 = 4 * 1024 * 1024;
/// Default of `--max-read-file-bytes`.
pub const DEFAULT_READ_FILE_BYTES: u64 = 1024 * 1024;
/// Default of `--max-yaml-nodes`.
pub const DEFAULT_YAML_NODES: u64 = 1_000_000;
/// Default of `--max-yaml-depth`.
pub const DEFAULT_YAML_DEPTH: u32 = 64;
/// Default of `--max-response-bytes`.
pub const DEFAULT_RESPONSE_BYTES: u64 = 16 * 1024 * 1024;

/// Limits on what a source revision may make the tool read and parse.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Largest manifest file, in bytes.
    pub manifest_bytes: u64,
    /// Largest `{{ReadFile}}` target, in bytes.
    pub read_file_bytes: u64,
    /// Most YAML nodes in one file, every alias counted as the nodes it expands to.
    pub yaml_nodes: u64,
    /// Deepest nesting of mappings and sequences in one document.
    pub yaml_depth: u32,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            manifest_bytes: DEFAULT_MANIFEST_BYTES,
            read_file_bytes: DEFAULT_READ_FILE_BYTES,
            yaml_nodes: DEFAULT_YAML_NODES,
            yaml_depth: DEFAULT_YAML_DEPTH,
        }
    }
}

/// `n`, `nB`, `nKiB`, `nMiB`, `nGiB` (also `K`/`KB`/`M`/`MB`/`G`/`GB`, all binary) →
/// bytes, within `min..=max`.
///
/// # Errors
/// A message for clap naming the valid range.
pub fn parse_bytes_between(s: &str, min: u64, max: u64) -> Result<u64, String> {
    let t = s.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (digits, unit) = (
        t.get(..split).unwrap_or_default(),
        t.get(split..).unwrap_or_default(),
    );
    let range = || format!("{} to {}", show_bytes(min), show_bytes(max));
    let n: u64 = digits
        .parse()
        .map_err(|_| format!("{s:?} is not a size (e.g. 4MiB); valid: {}", range()))?;
    let factor: u64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" | "kb" | "kib" => 1024,
        "m" | "mb" | "mib" => 1024 * 1024,
        "g" | "gb" | "gib" => 1024 * 1024 * 1024,
        _ => return Err(format!("{s:?} has an unknown unit; use B, KiB, MiB or GiB")),
    };
    match n.checked_mul(factor) {
        Some(v) if (min..=max).contains(&v) => Ok(v),
        _ => Err(format!("{s:?} is out of range; valid: {}", range())),
    }
}

/// `--max-manifest-bytes` and `--max-read-file-bytes`: 1 KiB to 1 GiB.
///
/// # Errors
/// A message for clap naming the valid range.
pub fn parse_file_bytes(s: &str) -> Result<u64, String> {
    parse_bytes_between(s, 1024, 1024 * 1024 * 1024)
}

/// `--max-response-bytes`: 64 KiB to 1 GiB (a page of 1000 objects needs a few MiB).
///
/// # Errors
/// A message for clap naming the valid range.
pub fn parse_response_bytes(s: &str) -> Result<u64, String> {
    parse_bytes_between(s, 64 * 1024, 1024 * 1024 * 1024)
}

/// A byte count for messages: `4 MiB`, `1536 bytes`.
pub fn show_bytes(n: u64) -> String {
    const UNITS: [(u64, &str); 3] = [(1 << 30, "GiB"), (1 << 20, "MiB"), (1 << 10, "KiB")];
    for (size, unit) in UNITS {
        if n >= size && n % size == 0 {
            return format!("{} {unit}", n / size);
        }
    }
    format!("{n} bytes")
}

/// A humantime duration within `min..=max`.
///
/// # Errors
/// A message for clap naming the valid range.
pub fn parse_duration_between(s: &str, min: Duration, max: Duration) -> Result<Duration, String> {
    let range = || {
        format!(
            "{} to {}",
            humantime::format_duration(min),
            humantime::format_duration(max)
        )
    };
    let d = humantime::parse_duration(s.trim())
        .map_err(|e| format!("{s:?} is not a duration ({e}); valid: {}", range()))?;
    if (min..=max).contains(&d) {
        Ok(d)
    } else {
        Err(format!("{s:?} is out of range; valid: {}", range()))
    }
}

const HOUR: Duration = Duration::from_secs(3600);
const DAY: Duration = Duration::from_secs(24 * 3600);

/// `--timeout`: 100ms to 1h (a zero timeout fails every request).
///
/// # Errors
/// A message for clap naming the valid range.
pub fn parse_timeout(s: &str) -> Result<Duration, String> {
    parse_duration_between(s, Duration::from_millis(100), HOUR)
}

/// `--retry-max-delay`, `--grace-period`, `--debounce`, the emulator's `--latency`:
/// 0s to 1h.
///
/// # Errors
/// A message for clap naming the valid range.
pub fn parse_wait(s: &str) -> Result<Duration, String> {
    parse_duration_between(s, Duration::ZERO, HOUR)
}

/// `--retry-max-elapsed`: 100ms to 24h (zero would give up before the first answer).
///
/// # Errors
/// A message for clap naming the valid range.
pub fn parse_total_time(s: &str) -> Result<Duration, String> {
    parse_duration_between(s, Duration::from_millis(100), DAY)
}

/// `--interval` and `--drift-interval`: 100ms to 30 days.
///
/// # Errors
/// A message for clap naming the valid range.
pub fn parse_interval(s: &str) -> Result<Duration, String> {
    parse_duration_between(s, Duration::from_millis(100), DAY.saturating_mul(30))
}

/// `now + wait` for an [`Instant`](tokio::time::Instant) or a
/// [`SystemTime`](std::time::SystemTime), never past the clock's range: where the sum
/// would overflow (where `+` panics), the wait is halved until it fits.
/// `checked_add` is the type's own (`Instant::checked_add`, `SystemTime::checked_add`).
pub fn later<T: Copy>(now: T, wait: Duration, checked_add: fn(&T, Duration) -> Option<T>) -> T {
    let mut w = wait;
    loop {
        if let Some(t) = checked_add(&now, w) {
            return t;
        }
        if w.is_zero() {
            return now;
        }
        w /= 2;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_parse_with_units_and_ranges() {
        assert_eq!(parse_file_bytes("4MiB"), Ok(4 << 20));
        assert_eq!(parse_file_bytes("1 KiB"), Ok(1024));
        assert_eq!(parse_file_bytes("2048"), Ok(2048));
        assert_eq!(parse_file_bytes("1g"), Ok(1 << 30));
        for bad in [
            "0",
            "1023",
            "2GiB",
            "",
            "MiB",
            "4 parsecs",
            "-1",
            "99999999999999999999G",
        ] {
            let e = parse_file_bytes(bad).unwrap_err();
            assert!(
                e.contains("valid: 1 KiB to 1 GiB") || e.contains("unknown unit"),
                "{bad}: {e}"
            );
        }
        assert!(parse_response_bytes("16MiB").is_ok());
        assert!(parse_response_bytes("1KiB").is_err());
        assert_eq!(show_bytes(1536), "1536 bytes");
        assert_eq!(show_bytes(16 << 20), "16 MiB");
    }

    #[test]
    fn deadlines_saturate_instead_of_panicking() {
        let now = tokio::time::Instant::now();
        let wait = Duration::from_secs(90);
        assert_eq!(
            later(now, wait, tokio::time::Instant::checked_add),
            now + wait
        );
        let far = later(now, Duration::MAX, tokio::time::Instant::checked_add);
        assert!(far > now + Duration::from_secs(100 * 365 * 24 * 3600));
        let wall = std::time::SystemTime::now();
        let far = later(wall, Duration::MAX, std::time::SystemTime::checked_add);
        assert!(far > wall);
        assert_eq!(
            later(wall, Duration::ZERO, std::time::SystemTime::checked_add),
            wall
        );
    }

    #[test]
    fn durations_outside_their_range_are_refused_with_the_range() {
        assert_eq!(parse_timeout("2s"), Ok(Duration::from_secs(2)));
        for (f, bad, range) in [
            (
                parse_timeout as fn(&str) -> Result<Duration, String>,
                "0s",
                "100ms to 1h",
            ),
            (parse_timeout, "2h", "100ms to 1h"),
            (parse_interval, "0s", "100ms to 30days"),
            (parse_interval, "300000000000y", "100ms to 30days"),
            (
                parse_interval,
                "99999999999999999999999y",
                "100ms to 30days",
            ),
            (parse_total_time, "0ms", "100ms to 1day"),
            (parse_wait, "2h", "0s to 1h"),
            (parse_wait, "soon", "0s to 1h"),
        ] {
            let e = f(bad).unwrap_err();
            assert!(e.contains(&format!("valid: {range}")), "{bad}: {e}");
        }
        assert_eq!(parse_wait("0s"), Ok(Duration::ZERO));
        assert_eq!(parse_interval("200ms"), Ok(Duration::from_millis(200)));
    }
}
