//! The state directory (`--state-dir`): what this tool remembers between runs.
//!
//! Input: a directory. Output: typed files, one load/save pair per file:
//!
//! - `inventory.json` ([`Inventory`]): which keys this tool applied from which source;
//!   prune deletes only keys it lists (see [`inventory`]).
//! - `state.json` ([`AppliedState`]): the daemon's last applied revision and when the
//!   tenant was last checked against it (see [`applied`]).
//! - `approvals.json` ([`Approvals`]): which `Immuta-Approve` trailer approved which
//!   weakening change (see [`approvals`]).
//! - `objects.json` ([`AppliedObjects`]): per object, the revision and the (secret-free)
//!   digest of the document it was last applied with, which tells drift from a change,
//!   and the keyed fingerprints and check times incremental plans carry objects by
//!   (see [`objects`]).
//! - `secret-digests.json` and `secret-digest-key.json` ([`SecretDigests`]): keyed
//!   digests of the connection credentials last applied, so a plan can say whether one
//!   changed (see [`secrets`]). They hold digests and a key, never a credential.
//!
//! Every file is JSON carrying its format version (`format_version` in `inventory.json`,
//! `version` in `state.json`: the names files already on disk use, so existing state
//! directories keep working), read through one bounded reader and written through one
//! atomic writer. A file of another version is never trusted: an inventory is refused by
//! [`Inventory::check`] (nothing is deleted, a note says why), a `state.json` is ignored
//! (one full plan). Every write is atomic: a temp file
//! in the same directory, fsync, rename over the old file, fsync of the directory. A
//! crash leaves the old or the new file, never half of one. Every error names the file.
//! No file holds a secret (origins are stored without credentials, credentials only as
//! keyed digests).
//!
//! A new kind of per-object record gets its own file here, with its own typed pair of
//! methods on [`StateDir`]: the directory is not a key-value store.

use std::io::Write;
use std::path::{Path, PathBuf};

use serde::de::DeserializeOwned;
use serde::Serialize;

pub mod applied;
pub mod approvals;
pub mod inventory;
pub mod objects;
pub mod secrets;

pub use applied::AppliedState;
pub use approvals::Approvals;
pub use inventory::{next_inventory, Inventory, InventoryError, INVENTORY_FORMAT_VERSION};
pub use objects::{AppliedObjects, Drifted};
pub use secrets::SecretDigests;

/// File name of the inventory inside the state directory.
pub const INVENTORY_FILE: &str = "inventory.json";
/// File name of the applied state inside the state directory.
pub const APPLIED_FILE: &str = "state.json";
/// File name of the approval uses inside the state directory.
pub const APPROVALS_FILE: &str = "approvals.json";
/// File name of the per-object records inside the state directory.
pub const OBJECTS_FILE: &str = "objects.json";

/// Largest state file read ([`crate::limits::MAX_STATE_FILE_BYTES`]).
pub const MAX_FILE_BYTES: u64 = crate::limits::MAX_STATE_FILE_BYTES;

/// A state-directory failure; every variant names the file.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The file exists but cannot be read.
    #[error("cannot read {}: {source}", .path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The directory or file could not be created, written, synced or renamed.
    #[error("cannot write {}: {source}", .path.display())]
    Write {
        /// The file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The file is not JSON of the expected shape (or is larger than [`MAX_FILE_BYTES`]).
    #[error("{} is corrupt: {message}", .path.display())]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
}

/// The state directory. Creating the value touches nothing; the directory is created by
/// the first save.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StateDir {
    dir: PathBuf,
}

impl StateDir {
    /// The state directory at `dir`.
    pub fn new(dir: impl Into<PathBuf>) -> StateDir {
        StateDir { dir: dir.into() }
    }

    /// The directory.
    pub fn path(&self) -> &Path {
        &self.dir
    }

    /// Reads `inventory.json` (`None` when absent). A file of another format version is
    /// returned as read: [`Inventory::check`] refuses it and says why.
    ///
    /// # Errors
    /// [`Error::Read`] or [`Error::Corrupt`]; callers then delete nothing.
    pub fn load_inventory(&self) -> Result<Option<Inventory>, Error> {
        self.read(INVENTORY_FILE)
    }

    /// Writes `inventory.json` atomically.
    ///
    /// # Errors
    /// [`Error::Write`].
    pub fn save_inventory(&self, inventory: &Inventory) -> Result<(), Error> {
        self.write(INVENTORY_FILE, inventory)
    }

    /// Reads `state.json`. Absent, or of another format version: `None` (which costs one
    /// full plan).
    ///
    /// # Errors
    /// [`Error::Read`] or [`Error::Corrupt`].
    pub fn load_applied(&self) -> Result<Option<AppliedState>, Error> {
        let Some(state) = self.read::<AppliedState>(APPLIED_FILE)? else {
            return Ok(None);
        };
        if state.version != applied::VERSION {
            tracing::info!(
                path = %self.dir.join(APPLIED_FILE).display(),
                found = state.version,
                expected = applied::VERSION,
                "ignoring a state file of another format: the next cycle plans in full"
            );
            return Ok(None);
        }
        Ok(Some(state))
    }

    /// Writes `state.json` atomically.
    ///
    /// # Errors
    /// [`Error::Write`].
    pub fn save_applied(&self, state: &AppliedState) -> Result<(), Error> {
        self.write(APPLIED_FILE, state)
    }

    /// Reads `approvals.json` (`None` when absent).
    ///
    /// # Errors
    /// [`Error::Read`] or [`Error::Corrupt`]; the daemon then approves nothing that needs
    /// a recorded use to be approved again.
    pub fn load_approvals(&self) -> Result<Option<Approvals>, Error> {
        self.read(APPROVALS_FILE)
    }

    /// Writes `approvals.json` atomically.
    ///
    /// # Errors
    /// [`Error::Write`].
    pub fn save_approvals(&self, approvals: &Approvals) -> Result<(), Error> {
        self.write(APPROVALS_FILE, approvals)
    }

    /// Reads `objects.json` (`None` when absent).
    ///
    /// # Errors
    /// [`Error::Read`] or [`Error::Corrupt`]; callers then report no drift.
    pub fn load_objects(&self) -> Result<Option<AppliedObjects>, Error> {
        self.read(OBJECTS_FILE)
    }

    /// Writes `objects.json` atomically.
    ///
    /// # Errors
    /// [`Error::Write`].
    pub fn save_objects(&self, objects: &AppliedObjects) -> Result<(), Error> {
        self.write(OBJECTS_FILE, objects)
    }

    /// Keyed digests under this directory's digest key, when it has one (nothing is
    /// written: a plan never creates state files).
    ///
    /// # Errors
    /// A key file that is not a key.
    pub fn fingerprints(&self) -> Result<Option<objects::Fingerprints>, Error> {
        Ok(self.existing_digest_key()?.map(objects::Fingerprints::new))
    }

    /// Keyed digests under this directory's digest key, made when there is none.
    ///
    /// # Errors
    /// A key file that is not a key, or a new key that cannot be written.
    pub fn fingerprints_or_new(&self) -> Result<objects::Fingerprints, Error> {
        Ok(objects::Fingerprints::new(self.digest_key()?))
    }

    fn read<T: DeserializeOwned>(&self, name: &str) -> Result<Option<T>, Error> {
        use std::io::Read as _;
        let path = self.dir.join(name);
        let file = match std::fs::File::open(&path) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(source) => return Err(Error::Read { path, source }),
        };
        let mut bytes = Vec::new();
        if let Err(source) = file.take(MAX_FILE_BYTES + 1).read_to_end(&mut bytes) {
            return Err(Error::Read { path, source });
        }
        if u64::try_from(bytes.len()).unwrap_or(u64::MAX) > MAX_FILE_BYTES {
            return Err(Error::Corrupt {
                path,
                message: format!("larger than {}", crate::limits::show_bytes(MAX_FILE_BYTES)),
            });
        }
        serde_json::from_slice(&bytes)
            .map(Some)
            .map_err(|e| Error::Corrupt {
                path,
                message: e.to_string(),
            })
    }

    /// The one atomic write: temp file in the directory, fsync, rename, fsync directory.
    fn write<T: Serialize>(&self, name: &str, value: &T) -> Result<(), Error> {
        let path = self.dir.join(name);
        let werr = |source| Error::Write {
            path: path.clone(),
            source,
        };
        let mut json = serde_json::to_vec_pretty(value).map_err(|e| werr(e.into()))?;
        json.push(b'\n');
        std::fs::create_dir_all(&self.dir).map_err(werr)?;
        let mut tmp = tempfile::Builder::new()
            .prefix(&format!(".{name}."))
            .tempfile_in(&self.dir)
            .map_err(werr)?;
        tmp.write_all(&json).map_err(werr)?;
        tmp.as_file().sync_all().map_err(werr)?;
        tmp.persist(&path).map_err(|e| werr(e.error))?;
        sync_dir(&self.dir).map_err(werr)?;
        Ok(())
    }
}

/// Makes a rename in `dir` durable (a no-op where directories cannot be opened).
fn sync_dir(dir: &Path) -> std::io::Result<()> {
    #[cfg(unix)]
    {
        std::fs::File::open(dir)?.sync_all()
    }
    #[cfg(not(unix))]
    {
        let _ = dir;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::object::{Kind, ObjectKey};
    use crate::source::SourceId;

    fn id() -> SourceId {
        SourceId {
            location: "/srv/repo".into(),
            path: String::new(),
        }
    }

    fn names(dir: &Path) -> Vec<String> {
        let mut v: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        v.sort();
        v
    }

    #[test]
    fn both_files_round_trip_and_leave_no_temp_file() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = StateDir::new(tmp.path().join("nested"));
        assert_eq!(dir.load_inventory().unwrap(), None);
        assert_eq!(dir.load_applied().unwrap(), None);
        let inv = Inventory::new("r1", "x", id(), [ObjectKey::new(Kind::Policy, "a")].into());
        dir.save_inventory(&inv).unwrap();
        dir.save_inventory(&inv).unwrap();
        assert_eq!(dir.load_inventory().unwrap(), Some(inv));
        let state = AppliedState {
            version: applied::VERSION,
            origin: "file:///srv/repo".into(),
            source: Some(id()),
            path: None,
            revision: "r1".into(),
            applied_at: 1,
            checked_at: 2,
        };
        dir.save_applied(&state).unwrap();
        assert_eq!(dir.load_applied().unwrap(), Some(state));
        let approvals = Approvals {
            version: approvals::VERSION,
            source: Some(id()),
            used: vec![crate::plan::risk::approve::Used {
                commit: "c".repeat(40),
                key: ObjectKey::new(Kind::Policy, "a"),
                change: "d".repeat(64),
            }],
        };
        dir.save_approvals(&approvals).unwrap();
        assert_eq!(dir.load_approvals().unwrap(), Some(approvals.clone()));
        assert_eq!(approvals.for_source(&id()).len(), 1);
        let other = SourceId {
            location: "/srv/other".into(),
            path: String::new(),
        };
        assert!(approvals.for_source(&other).is_empty());
        assert_eq!(
            names(dir.path()),
            [APPROVALS_FILE, INVENTORY_FILE, APPLIED_FILE]
        );
    }

    #[test]
    fn every_error_names_the_file() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = StateDir::new(tmp.path());
        std::fs::write(tmp.path().join(INVENTORY_FILE), "{not json").unwrap();
        std::fs::write(tmp.path().join(APPLIED_FILE), "[]").unwrap();
        for e in [
            dir.load_inventory().unwrap_err(),
            dir.load_applied().unwrap_err(),
        ] {
            assert!(matches!(e, Error::Corrupt { .. }), "{e}");
            assert!(
                e.to_string().contains(&tmp.path().display().to_string()),
                "{e}"
            );
        }
        assert!(dir
            .load_inventory()
            .unwrap_err()
            .to_string()
            .contains(INVENTORY_FILE));
        // A file where the directory should be: the write error names the target file.
        let blocked = tmp.path().join("blocked");
        std::fs::write(&blocked, "").unwrap();
        let e = StateDir::new(&blocked)
            .save_inventory(&Inventory::default())
            .unwrap_err();
        assert!(matches!(e, Error::Write { .. }), "{e}");
        assert!(e.to_string().contains("blocked/inventory.json"), "{e}");
    }

    #[test]
    fn an_oversized_file_is_refused_without_reading_it_all() {
        let tmp = tempfile::tempdir().unwrap();
        let f = std::fs::File::create(tmp.path().join(INVENTORY_FILE)).unwrap();
        f.set_len(MAX_FILE_BYTES + 10).unwrap();
        let e = StateDir::new(tmp.path()).load_inventory().unwrap_err();
        assert!(e.to_string().contains("larger than"), "{e}");
    }
}
