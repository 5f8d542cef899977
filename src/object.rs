//! Object identity shared by every stage: [`Kind`] and [`ObjectKey`].
//!
//! One key type, displayed `kind/name` (`data/sales.orders`), is used verbatim in plan
//! lines, log fields, errors and the emulator store, so one grep follows an object from
//! YAML to HTTP.

use std::fmt;

use serde::{Deserialize, Serialize};

/// The four Immuta V2 object kinds. The declaration order is the apply order
/// (purposes → data sources → policies → projects); deletes run in reverse.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    /// `POST /api/v2/purpose`, identity `name`.
    Purpose,
    /// `POST /api/v2/data`, identity `connectionKey`.
    Data,
    /// `POST /api/v2/policy`, identity `policyKey`.
    Policy,
    /// `POST /api/v2/project`, identity `projectKey`.
    Project,
}

impl Kind {
    /// Every kind, in apply order.
    pub const ALL: [Kind; 4] = [Kind::Purpose, Kind::Data, Kind::Policy, Kind::Project];

    /// The repository directory (as `immuta clone` writes it) and the V2 path segment.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Purpose => "purpose",
            Kind::Data => "data",
            Kind::Policy => "policy",
            Kind::Project => "project",
        }
    }

    /// The payload field that names an object of this kind.
    pub fn identity_field(self) -> &'static str {
        match self {
            Kind::Purpose => "name",
            Kind::Data => "connectionKey",
            Kind::Policy => "policyKey",
            Kind::Project => "projectKey",
        }
    }

    /// Parses a directory name (`data`, `policy`, `project`, `purpose`).
    pub fn from_dir(name: &str) -> Option<Kind> {
        Kind::ALL.into_iter().find(|k| k.as_str() == name)
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for Kind {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Kind::from_dir(s).ok_or_else(|| {
            format!("unknown kind {s:?} (expected purpose, data, policy or project)")
        })
    }
}

/// The identity of one Immuta object: its kind and its natural key.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct ObjectKey {
    /// Which endpoint owns the object.
    pub kind: Kind,
    /// `connectionKey`, `policyKey`, `projectKey` or purpose `name`.
    pub name: String,
}

impl ObjectKey {
    /// Builds a key.
    pub fn new(kind: Kind, name: impl Into<String>) -> Self {
        ObjectKey {
            kind,
            name: name.into(),
        }
    }
}

impl std::str::FromStr for ObjectKey {
    type Err = String;
    /// Parses `kind/name` (the name may itself hold `/`).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (kind, name) = s
            .split_once('/')
            .ok_or_else(|| format!("{s:?} is not kind/name (e.g. policy/mask-ssn)"))?;
        let kind: Kind = kind.parse()?;
        if name.trim().is_empty() || name.trim() != name || name.chars().any(char::is_control) {
            return Err(format!(
                "{s:?}: the name must not be empty, carry surrounding whitespace or control characters"
            ));
        }
        Ok(ObjectKey::new(kind, name))
    }
}

/// A `moved` entry of `.immuta-gitops.yaml` (Terraform's `moved` block): the object Immuta
/// knows as `from` is `to` in Git, and is renamed instead of deleted and created anew.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Move {
    /// The key in Immuta before the rename.
    pub from: ObjectKey,
    /// The key in Git.
    pub to: ObjectKey,
}

impl fmt::Display for ObjectKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.kind, self.name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_sort_in_apply_order() {
        let mut v = vec![Kind::Project, Kind::Policy, Kind::Data, Kind::Purpose];
        v.sort();
        assert_eq!(v, Kind::ALL.to_vec());
    }

    #[test]
    fn keys_parse_from_kind_slash_name() {
        let k: ObjectKey = "policy/a/b".parse().unwrap();
        assert_eq!(k, ObjectKey::new(Kind::Policy, "a/b"));
        for bad in [
            "policy",
            "policies/x",
            "policy/",
            "policy/ x",
            "policy/a\nb",
        ] {
            assert!(bad.parse::<ObjectKey>().is_err(), "{bad:?}");
        }
    }

    #[test]
    fn key_displays_kind_slash_name() {
        assert_eq!(
            ObjectKey::new(Kind::Data, "sales.orders").to_string(),
            "data/sales.orders"
        );
    }
}
