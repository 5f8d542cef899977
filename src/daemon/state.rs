//! What a restart remembers (`--state-dir`): the last applied revision, when it was
//! applied, and when the tenant was last checked against it, in `state.json`.
//!
//! Input: a directory. Output: [`SavedState`]. The file is written atomically (a temp
//! file in the same directory, then rename), so a crash leaves the old or the new state,
//! never half of one. It holds no secret: origin (already without credentials), the
//! source's canonical identity, path, revision and times only. A file of another format
//! version (1: no canonical identity) is ignored, which costs one full plan.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

use crate::source::SourceId;

/// The file name inside `--state-dir`.
pub const FILE_NAME: &str = "state.json";
/// The format version written; other versions are ignored on load.
pub const VERSION: u32 = 2;

/// State-file failures.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The directory or file could not be created, written or renamed.
    #[error("cannot write state file {path}: {source}")]
    Write {
        /// The file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The file exists but cannot be read.
    #[error("cannot read state file {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The file is not valid JSON of the expected shape.
    #[error("state file {path} is corrupt: {message}")]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// The decoder's message.
        message: String,
    },
}

/// The remembered state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SavedState {
    /// Format version ([`VERSION`]).
    pub version: u32,
    /// `Snapshot::origin` of the applied revision (no credentials), for messages.
    pub origin: String,
    /// The source, canonically (what [`SavedState::is_for`] compares).
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

impl SavedState {
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

/// The inverse of [`unix`]; a time past the clock's range (a damaged file) saturates.
pub fn from_unix(secs: u64) -> SystemTime {
    super::schedule::later(
        UNIX_EPOCH,
        Duration::from_secs(secs),
        SystemTime::checked_add,
    )
}

/// Reads `dir/state.json`. A missing file, or one of another version, is `Ok(None)`.
///
/// # Errors
/// [`Error::Read`] when the file exists but cannot be read, [`Error::Corrupt`] when it
/// does not decode.
pub fn load(dir: &Path) -> Result<Option<SavedState>, Error> {
    let path = dir.join(FILE_NAME);
    let bytes = match std::fs::read(&path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(source) => return Err(Error::Read { path, source }),
    };
    let state: SavedState = serde_json::from_slice(&bytes).map_err(|e| Error::Corrupt {
        path: path.clone(),
        message: e.to_string(),
    })?;
    if state.version != VERSION {
        tracing::info!(
            path = %path.display(),
            found = state.version,
            expected = VERSION,
            "ignoring a state file of another format: the next cycle plans in full"
        );
        return Ok(None);
    }
    Ok(Some(state))
}

/// Writes `dir/state.json` atomically, creating `dir` when needed.
///
/// # Errors
/// [`Error::Write`].
pub fn save(dir: &Path, state: &SavedState) -> Result<(), Error> {
    let path = dir.join(FILE_NAME);
    let werr = |source| Error::Write {
        path: path.clone(),
        source,
    };
    std::fs::create_dir_all(dir).map_err(werr)?;
    let mut tmp = tempfile::NamedTempFile::new_in(dir).map_err(werr)?;
    let json = serde_json::to_vec_pretty(state).map_err(|e| werr(std::io::Error::other(e)))?;
    tmp.write_all(&json).map_err(werr)?;
    tmp.write_all(b"\n").map_err(werr)?;
    tmp.as_file().sync_all().map_err(werr)?;
    tmp.persist(&path).map_err(|e| werr(e.error))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(location: &str, path: &str) -> SourceId {
        SourceId {
            location: location.into(),
            path: path.into(),
        }
    }

    fn sample() -> SavedState {
        SavedState {
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
        let sub = dir.path().join("nested");
        assert_eq!(load(&sub).unwrap(), None);
        save(&sub, &sample()).unwrap();
        assert_eq!(load(&sub).unwrap(), Some(sample()));
        let mut next = sample();
        next.revision = "def456".into();
        save(&sub, &next).unwrap();
        assert_eq!(load(&sub).unwrap(), Some(next));
        let names: Vec<_> = std::fs::read_dir(&sub)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, [FILE_NAME], "no temp file left behind");
    }

    #[test]
    fn corrupt_and_foreign_versions() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(FILE_NAME), "{not json").unwrap();
        assert!(matches!(load(dir.path()), Err(Error::Corrupt { .. })));
        for version in [1, 99] {
            let mut s = sample();
            s.version = version;
            save(dir.path(), &s).unwrap();
            assert_eq!(load(dir.path()).unwrap(), None, "{version}");
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
