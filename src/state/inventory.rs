//! The inventory: which keys this tool applied from which source, persisted in
//! `--state-dir/inventory.json` between runs (see [`super::StateDir`]). Prune deletes
//! only keys it lists.
//!
//! An inventory is trusted only when [`Inventory::check`] passes: the current format
//! version, a source identity equal to the one being reconciled (see
//! [`crate::source::SourceId`]), well-formed keys, and a digest over all of that which
//! still matches (a hand-edited file fails it). An inventory that fails owns nothing:
//! prune deletes nothing and says why, and the next apply writes a fresh one holding only
//! the desired keys (it never carries over the keys of an untrusted file).
//!
//! Files of format 1 (no version field, the origin as typed on the command line) cannot
//! prove which source they belong to and are refused, not migrated: two repositories
//! both given as `--repo .` shared such an origin.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::manifest::DesiredSet;
use crate::object::ObjectKey;
use crate::source::SourceId;

/// Version of the inventory file format written.
pub const INVENTORY_FORMAT_VERSION: u32 = 2;

/// The keys this tool applied, as of one revision.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Inventory {
    /// [`INVENTORY_FORMAT_VERSION`]; absent (read as 1) in files written before it.
    #[serde(default = "legacy_version")]
    pub format_version: u32,
    /// The last revision applied.
    pub revision: String,
    /// The source as shown in messages (its canonical identity, so no credentials).
    #[serde(default)]
    pub origin: String,
    /// The source, canonically: the inventory owns nothing for any other.
    #[serde(default)]
    pub source: Option<SourceId>,
    /// Keys present in Git at that revision (plus earlier managed keys whose delete has
    /// not happened yet).
    pub keys: BTreeSet<ObjectKey>,
    /// SHA-256 over version, source, revision and keys.
    #[serde(default)]
    pub digest: String,
}

fn legacy_version() -> u32 {
    1
}

/// Why an inventory is not trusted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InventoryError {
    /// Another format version (1: written before sources were identified canonically).
    #[error("inventory format {found} is not {INVENTORY_FORMAT_VERSION}: it cannot prove which source it belongs to")]
    Version {
        /// The version in the file.
        found: u32,
    },
    /// No source recorded.
    #[error("the inventory names no source")]
    NoSource,
    /// Written for another source.
    #[error("the inventory belongs to {theirs}, not {ours}")]
    Foreign {
        /// The source in the file.
        theirs: SourceId,
        /// The source being reconciled.
        ours: SourceId,
    },
    /// A key that no manifest could have produced.
    #[error("the inventory holds a malformed key {key:?}: {why}")]
    BadKey {
        /// The key.
        key: String,
        /// What is wrong.
        why: &'static str,
    },
    /// The digest does not match the contents.
    #[error("the inventory's digest does not match its contents (edited by hand?)")]
    Digest,
}

impl Inventory {
    /// A current-format inventory with its digest.
    pub fn new(
        revision: impl Into<String>,
        origin: impl Into<String>,
        source: SourceId,
        keys: BTreeSet<ObjectKey>,
    ) -> Inventory {
        let mut inv = Inventory {
            format_version: INVENTORY_FORMAT_VERSION,
            revision: revision.into(),
            origin: origin.into(),
            source: Some(source),
            keys,
            digest: String::new(),
        };
        inv.digest = inv.compute_digest();
        inv
    }

    fn compute_digest(&self) -> String {
        let covered = (
            self.format_version,
            &self.source,
            &self.revision,
            &self.keys,
        );
        let bytes = serde_json::to_vec(&covered).unwrap_or_default();
        hex::encode(Sha256::digest(bytes))
    }

    /// Whether this inventory may be trusted for `source`.
    ///
    /// # Errors
    /// The first [`InventoryError`] found.
    pub fn check(&self, source: &SourceId) -> Result<(), InventoryError> {
        if self.format_version != INVENTORY_FORMAT_VERSION {
            return Err(InventoryError::Version {
                found: self.format_version,
            });
        }
        let theirs = match &self.source {
            Some(s) if !s.location.is_empty() => s,
            _ => return Err(InventoryError::NoSource),
        };
        if theirs != source {
            return Err(InventoryError::Foreign {
                theirs: theirs.clone(),
                ours: source.clone(),
            });
        }
        for k in &self.keys {
            if let Some(why) = malformed(&k.name) {
                return Err(InventoryError::BadKey {
                    key: k.to_string(),
                    why,
                });
            }
        }
        if self.digest != self.compute_digest() {
            return Err(InventoryError::Digest);
        }
        Ok(())
    }
}

/// Why an object name cannot come from a manifest, if it cannot.
fn malformed(name: &str) -> Option<&'static str> {
    if name.trim().is_empty() {
        Some("empty name")
    } else if name.chars().any(char::is_control) {
        Some("control character in the name")
    } else if name.trim() != name {
        Some("leading or trailing whitespace")
    } else {
        None
    }
}

/// The inventory after an apply: every desired key, plus the managed keys of a trusted
/// `previous` whose delete did not happen (so a later run can still delete them). An
/// untrusted `previous` contributes nothing.
pub fn next_inventory(
    revision: &str,
    desired: &DesiredSet,
    previous: Option<&Inventory>,
    deleted: &BTreeSet<ObjectKey>,
) -> Inventory {
    let mut keys: BTreeSet<ObjectKey> = desired.objects.keys().cloned().collect();
    if let Some(prev) = previous.filter(|p| p.check(&desired.source).is_ok()) {
        keys.extend(prev.keys.iter().filter(|k| !deleted.contains(*k)).cloned());
    }
    // The canonical identity is shown, never the typed origin (which may carry a token).
    Inventory::new(
        revision,
        desired.source.to_string(),
        desired.source.clone(),
        keys,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::object::Kind;
    use crate::state::StateDir;

    fn id(loc: &str, path: &str) -> SourceId {
        SourceId {
            location: loc.into(),
            path: path.into(),
        }
    }

    fn sample() -> Inventory {
        Inventory::new(
            "r1",
            ".",
            id("/srv/repo-a", ""),
            [
                ObjectKey::new(Kind::Policy, "mask"),
                ObjectKey::new(Kind::Purpose, "Research"),
            ]
            .into(),
        )
    }

    #[test]
    fn a_fresh_inventory_is_trusted_only_for_its_own_source() {
        let inv = sample();
        assert_eq!(inv.check(&id("/srv/repo-a", "")), Ok(()));
        for other in [
            id("/srv/repo-b", ""),
            id("/srv/repo-a", "tenants/a"),
            id("https://git.example/repo-a", ""),
        ] {
            assert!(
                matches!(inv.check(&other), Err(InventoryError::Foreign { .. })),
                "{other}"
            );
        }
    }

    #[test]
    fn every_kind_of_tampering_or_staleness_is_refused() {
        let ours = id("/srv/repo-a", "");
        type Edit = Box<dyn Fn(&mut Inventory)>;
        let variants: Vec<(&str, Edit, &str)> = vec![
            ("legacy", Box::new(|i| i.format_version = 1), "format 1"),
            ("future", Box::new(|i| i.format_version = 3), "format 3"),
            (
                "no source",
                Box::new(|i| i.source = None),
                "names no source",
            ),
            (
                "empty source",
                Box::new(|i| i.source = Some(id("", ""))),
                "names no source",
            ),
            (
                "hand-added key",
                Box::new(|i| {
                    i.keys.insert(ObjectKey::new(Kind::Purpose, "Hand made"));
                }),
                "digest",
            ),
            (
                "hand-removed key",
                Box::new(|i| {
                    i.keys.pop_first();
                }),
                "digest",
            ),
            ("revision", Box::new(|i| i.revision = "r2".into()), "digest"),
            ("no digest", Box::new(|i| i.digest.clear()), "digest"),
            (
                "empty name",
                Box::new(|i| {
                    i.keys.insert(ObjectKey::new(Kind::Policy, ""));
                }),
                "empty name",
            ),
            (
                "control character",
                Box::new(|i| {
                    i.keys.insert(ObjectKey::new(Kind::Policy, "a\nb"));
                }),
                "control character",
            ),
            (
                "padded",
                Box::new(|i| {
                    i.keys.insert(ObjectKey::new(Kind::Policy, " a"));
                }),
                "whitespace",
            ),
        ];
        for (what, edit, expect) in variants {
            let mut inv = sample();
            edit(&mut inv);
            let err = inv.check(&ours).expect_err(what);
            assert!(err.to_string().contains(expect), "{what}: {err}");
        }
    }

    #[test]
    fn a_legacy_file_reads_as_format_1_and_is_refused() {
        let legacy =
            r#"{"revision":"r","origin":"","keys":[{"kind":"purpose","name":"Hand made"}]}"#;
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("inventory.json"), legacy).unwrap();
        let inv = StateDir::new(dir.path()).load_inventory().unwrap().unwrap();
        assert_eq!(inv.format_version, 1);
        assert_eq!(
            inv.check(&id("/srv/repo-a", "")),
            Err(InventoryError::Version { found: 1 })
        );
    }

    #[test]
    fn round_trips_and_never_carries_keys_of_an_untrusted_inventory() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = StateDir::new(tmp.path());
        assert_eq!(dir.load_inventory().unwrap(), None);
        let inv = sample();
        dir.save_inventory(&inv).unwrap();
        let back = dir.load_inventory().unwrap().unwrap();
        assert_eq!(back, inv);
        assert_eq!(back.check(&id("/srv/repo-a", "")), Ok(()));
        let desired = DesiredSet {
            source: id("/srv/repo-b", ""),
            ..Default::default()
        };
        let next = next_inventory("r2", &desired, Some(&inv), &BTreeSet::new());
        assert!(next.keys.is_empty(), "{next:?}");
        assert_eq!(next.check(&id("/srv/repo-b", "")), Ok(()));
        let same = DesiredSet {
            source: id("/srv/repo-a", ""),
            ..Default::default()
        };
        let deleted: BTreeSet<ObjectKey> = [ObjectKey::new(Kind::Policy, "mask")].into();
        let next = next_inventory("r2", &same, Some(&inv), &deleted);
        assert_eq!(
            next.keys,
            [ObjectKey::new(Kind::Purpose, "Research")].into()
        );
    }
}
