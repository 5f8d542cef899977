//! Object identity shared by every stage: [`Kind`] and [`ObjectKey`].
//!
//! One key type, displayed `kind/name` (`data/sales.orders`), is used verbatim in plan
//! lines, log fields, errors and the emulator store, so one grep follows an object from
//! YAML to HTTP.

use std::fmt;

use serde::{Deserialize, Serialize};

/// The four Immuta V2 object kinds. The declaration order is the apply order
/// (purposes → data sources → policies → projects); deletes run in reverse.
///
/// The names (`purpose`, `data`, `policy`, `project`) come from the derives alone: serde
/// writes them in plans and state files, strum gives [`Kind::as_str`] and [`Kind::ALL`];
/// a test pins that both spell every kind the same.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[derive(strum::IntoStaticStr, strum::VariantArray)]
#[strum(serialize_all = "lowercase")]
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
    /// Every kind, in apply order (the declaration order).
    pub const ALL: &'static [Kind] = <Kind as strum::VariantArray>::VARIANTS;

    /// The repository directory (as `immuta clone` writes it) and the V2 path segment.
    pub fn as_str(self) -> &'static str {
        self.into()
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
        Kind::ALL.iter().copied().find(|k| k.as_str() == name)
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What clap and `from_str` say about a word that names no kind.
fn unknown_kind(s: &str) -> String {
    format!("unknown kind {s:?} (expected purpose, data, policy or project)")
}

/// Exactly the directory names: clap parses `Kind` flag values and arguments through it.
impl std::str::FromStr for Kind {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Kind::from_dir(s).ok_or_else(|| unknown_kind(s))
    }
}

/// One value of a kind-list flag such as `--prune=policy,project`: a kind, or every
/// kind (`all`, or the empty value of a bare `--prune`). Surrounding spaces are ignored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KindChoice {
    /// `all` or an empty value.
    All,
    /// One kind.
    One(Kind),
}

impl KindChoice {
    /// The kinds a list of choices names.
    pub fn kinds(choices: &[KindChoice]) -> std::collections::BTreeSet<Kind> {
        choices
            .iter()
            .flat_map(|c| match c {
                KindChoice::All => Kind::ALL,
                KindChoice::One(k) => std::slice::from_ref(k),
            })
            .copied()
            .collect()
    }
}

impl std::str::FromStr for KindChoice {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim() {
            "all" | "" => Ok(KindChoice::All),
            t => Kind::from_dir(t)
                .map(KindChoice::One)
                .ok_or_else(|| unknown_kind(t)),
        }
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

impl ObjectKey {
    /// A key as a person writes it (`moved:` entries, `adopt` arguments): `kind/name`, the
    /// name not empty, without surrounding whitespace or control characters.
    ///
    /// # Errors
    /// A message naming the text and what is wrong.
    pub fn parse_written(s: &str) -> Result<ObjectKey, String> {
        let key: ObjectKey = s
            .parse()
            .map_err(|e: String| format!("{e} (e.g. policy/mask-ssn)"))?;
        let name = &key.name;
        if name.trim().is_empty() || name.trim() != name || name.chars().any(char::is_control) {
            return Err(format!(
                "{s:?}: the name must not be empty, carry surrounding whitespace or control characters"
            ));
        }
        Ok(key)
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

/// The inverse of `Display`: `kind/name`, split at the first `/` (a kind never holds
/// one; a name may).
impl std::str::FromStr for ObjectKey {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (kind, name) = s
            .split_once('/')
            .ok_or_else(|| format!("{s:?} is not an object key (kind/name)"))?;
        Ok(ObjectKey::new(kind.parse()?, name))
    }
}

/// Serde for maps keyed by [`ObjectKey`] in files (`#[serde(with = ...)]`): the keys are
/// written `kind/name`, as JSON object keys must be strings.
pub mod key_map {
    use std::collections::BTreeMap;

    use serde::de::Error as _;
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    use super::ObjectKey;

    /// Writes the keys as `kind/name`, in the order of those strings (as files written
    /// with string keys had them, so the bytes of a file do not change).
    ///
    /// # Errors
    /// The serializer's.
    pub fn serialize<S: Serializer, V: Serialize>(
        map: &BTreeMap<ObjectKey, V>,
        ser: S,
    ) -> Result<S::Ok, S::Error> {
        let by_text: BTreeMap<String, &V> = map.iter().map(|(k, v)| (k.to_string(), v)).collect();
        ser.collect_map(by_text)
    }

    /// Reads `kind/name` keys.
    ///
    /// # Errors
    /// A key that is not `kind/name` with a known kind, or the deserializer's.
    pub fn deserialize<'de, D: Deserializer<'de>, V: Deserialize<'de>>(
        de: D,
    ) -> Result<BTreeMap<ObjectKey, V>, D::Error> {
        BTreeMap::<String, V>::deserialize(de)?
            .into_iter()
            .map(|(k, v)| Ok((k.parse().map_err(D::Error::custom)?, v)))
            .collect()
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
        let k = ObjectKey::parse_written("policy/a/b").unwrap();
        assert_eq!(k, ObjectKey::new(Kind::Policy, "a/b"));
        for bad in [
            "policy",
            "policies/x",
            "policy/",
            "policy/ x",
            "policy/a\nb",
        ] {
            assert!(ObjectKey::parse_written(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn kind_names_are_pinned_and_serde_spells_them_the_same() {
        let names: Vec<&str> = Kind::ALL.iter().map(|k| k.as_str()).collect();
        assert_eq!(names, ["purpose", "data", "policy", "project"]);
        for &k in Kind::ALL {
            assert_eq!(serde_json::to_value(k).unwrap(), k.as_str());
            assert_eq!(k.to_string(), k.as_str());
            assert_eq!(k.as_str().parse::<Kind>(), Ok(k));
            let back: Kind = serde_json::from_value(k.as_str().into()).unwrap();
            assert_eq!(back, k);
        }
        for bad in ["Data", "policies", " data", ""] {
            let e = bad.parse::<Kind>().unwrap_err();
            assert!(
                e.contains("expected purpose, data, policy or project"),
                "{e}"
            );
        }
    }

    #[test]
    fn kind_choices_accept_all_empty_and_trimmed_names() {
        let parse = |s: &str| s.parse::<KindChoice>();
        assert_eq!(parse("all"), Ok(KindChoice::All));
        assert_eq!(parse(""), Ok(KindChoice::All));
        assert_eq!(parse(" policy "), Ok(KindChoice::One(Kind::Policy)));
        assert!(parse("policies")
            .unwrap_err()
            .starts_with("unknown kind \"policies\""));
        assert!(parse("ALL").is_err());
        let kinds = KindChoice::kinds(&[
            KindChoice::One(Kind::Project),
            KindChoice::One(Kind::Policy),
        ]);
        assert_eq!(
            kinds.into_iter().collect::<Vec<_>>(),
            [Kind::Policy, Kind::Project]
        );
        assert_eq!(
            KindChoice::kinds(&[KindChoice::One(Kind::Data), KindChoice::All]).len(),
            4
        );
        assert!(KindChoice::kinds(&[]).is_empty());
    }

    #[test]
    fn keys_parse_back_from_their_display() {
        for key in [
            ObjectKey::new(Kind::Data, "sales.orders"),
            ObjectKey::new(Kind::Purpose, "Research/Internal"),
            // Live objects are fingerprinted whatever their name.
            ObjectKey::new(Kind::Project, ""),
        ] {
            assert_eq!(key.to_string().parse::<ObjectKey>(), Ok(key));
        }
        for bad in ["sales.orders", "datum/x", "/x", ""] {
            assert!(bad.parse::<ObjectKey>().is_err(), "{bad}");
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
