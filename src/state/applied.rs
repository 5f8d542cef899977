//! What a daemon restart remembers, in `state.json`: the last applied revision, when it
//! was applied, and when the tenant was last checked against it.
//!
//! It holds no secret: origin (already without credentials), the source's canonical
//! identity, path, revision and times only. A file of another format version (1: no
//! canonical identity) is ignored by [`super::StateDir::load_applied`], which costs one
//! full plan.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

use crate::source::SourceId;

/// The format version written; other versions are ignored on load.
pub const VERSION: u32 = 2;

/// The remembered state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AppliedState {
    /// Format version ([`VERSION`]).
    pub version: u32,
    /// `Snapshot::origin` of the applied revision (no credentials), for messages.
    pub origin: String,
    /// The source, canonically (what [`AppliedState::is_for`] compares).
    #[serde(default)]
    pub source: Option<SourceId>,
    /// `--path` in effect.
    pub path: Option<String>,
    /// The last revision applied completely (or found already in sync).
    pub revision: String,
    /// When it was applied, seconds since the Unix epoch.
    pub applied_at: u64,
    /// When the tenant was last planned against it, seconds since the Unix epoch.
    pub checked_at: u64,
}

impl AppliedState {
    /// Whether this state describes `source` (its canonical identity, sub-path included).
    pub fn is_for(&self, source: &SourceId) -> bool {
        self.source.as_ref() == Some(source)
    }

    /// Time since the last check, `None` when the clock went backwards.
    pub fn since_check(&self, now: SystemTime) -> Option<Duration> {
        now.duration_since(from_unix(self.checked_at)).ok()
    }
}

/// Seconds since the Unix epoch (0 for times before it).
pub fn unix(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

/// The inverse of [`unix`]; a time past the clock's range (a damaged file) saturates
/// instead of panicking as `UNIX_EPOCH + secs` would.
pub fn from_unix(secs: u64) -> SystemTime {
    crate::limits::later(
        UNIX_EPOCH,
        Duration::from_secs(secs),
        SystemTime::checked_add,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::{Error, StateDir, APPLIED_FILE};

    fn id(location: &str, path: &str) -> SourceId {
        SourceId {
            location: location.into(),
            path: path.into(),
        }
    }

    fn sample() -> AppliedState {
        AppliedState {
            version: VERSION,
            origin: "file:///repo".into(),
            source: Some(id("/repo", "tenants/a")),
            path: Some("tenants/a".into()),
            revision: "abc123".into(),
            applied_at: 1_700_000_000,
            checked_at: 1_700_000_100,
        }
    }

    #[test]
    fn round_trips_and_overwrites_atomically() {
        let dir = tempfile::tempdir().unwrap();
        let sub = StateDir::new(dir.path().join("nested"));
        assert_eq!(sub.load_applied().unwrap(), None);
        sub.save_applied(&sample()).unwrap();
        assert_eq!(sub.load_applied().unwrap(), Some(sample()));
        let mut next = sample();
        next.revision = "def456".into();
        sub.save_applied(&next).unwrap();
        assert_eq!(sub.load_applied().unwrap(), Some(next));
        let names: Vec<_> = std::fs::read_dir(sub.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, [APPLIED_FILE], "no temp file left behind");
    }

    #[test]
    fn corrupt_and_foreign_versions() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = StateDir::new(tmp.path());
        std::fs::write(tmp.path().join(APPLIED_FILE), "{not json").unwrap();
        assert!(matches!(dir.load_applied(), Err(Error::Corrupt { .. })));
        for version in [1, 99] {
            let mut s = sample();
            s.version = version;
            dir.save_applied(&s).unwrap();
            assert_eq!(dir.load_applied().unwrap(), None, "{version}");
        }
    }

    #[test]
    fn matches_only_the_same_source() {
        let s = sample();
        assert!(s.is_for(&id("/repo", "tenants/a")));
        assert!(!s.is_for(&id("/repo", "")));
        assert!(!s.is_for(&id("/other", "tenants/a")));
        let mut legacy = s.clone();
        legacy.source = None;
        assert!(!legacy.is_for(&id("/repo", "tenants/a")));
        let now = from_unix(1_700_000_160);
        assert_eq!(s.since_check(now), Some(Duration::from_secs(60)));
        assert_eq!(s.since_check(from_unix(0)), None);
    }
}
