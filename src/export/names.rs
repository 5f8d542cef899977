//! Export, step 1: file names from object keys.
//!
//! Input: the keys being exported. Output: one relative path per key,
//! `<kind>/<name>.yaml`. A name is derived from the key alone, so it is the same on every
//! run: ASCII letters, digits, `.`, `_` and `-` are kept, every other run of characters
//! becomes one `-`, leading dots and dashes are dropped (a leading dot would hide the
//! file from the manifest loader), the stem is cut at [`MAX_STEM`] bytes, and an empty
//! stem or a device name Windows reserves (`con`, `nul`, `com1`, ...) gets a suffix.
//!
//! Two keys whose names would be equal ignoring ASCII case (case-insensitive file
//! systems would merge them) both get `-<8 hex digits of the key's SHA-256>`, so neither
//! depends on which other objects exist. A name can therefore hold no `/`, `\`, `..`,
//! NUL or control character: it never leaves its kind directory. Pure functions.

use std::collections::BTreeMap;

use sha2::{Digest, Sha256};

use crate::object::ObjectKey;

/// Longest stem, in bytes (file systems allow 255; room is left for a suffix).
pub const MAX_STEM: usize = 100;

const RESERVED: &[&str] = &[
    "con", "prn", "aux", "nul", "com1", "com2", "com3", "com4", "com5", "com6", "com7", "com8",
    "com9", "lpt1", "lpt2", "lpt3", "lpt4", "lpt5", "lpt6", "lpt7", "lpt8", "lpt9",
];

/// The file stem for one name, before collisions are resolved.
pub fn stem(name: &str) -> String {
    let mut out = String::with_capacity(name.len().min(MAX_STEM));
    let mut dash = false;
    for c in name.chars() {
        if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-') {
            out.push(c);
            dash = false;
        } else if !dash {
            out.push('-');
            dash = true;
        }
    }
    let mut s = out.trim_start_matches(['.', '-']).to_string();
    // Every kept character is ASCII, so any byte offset is a character boundary.
    s.truncate(MAX_STEM);
    let s = s.trim_end_matches(['.', '-']).to_string();
    let base = s.split('.').next().unwrap_or_default().to_ascii_lowercase();
    if s.is_empty() {
        "unnamed".to_string()
    } else if RESERVED.contains(&base.as_str()) {
        format!("{s}-object")
    } else {
        s
    }
}

fn short_digest(key: &ObjectKey) -> String {
    let d = Sha256::digest(key.to_string().as_bytes());
    hex::encode(d).chars().take(8).collect()
}

/// One relative path (`policy/mask-ssn.yaml`) per key.
pub fn paths(keys: &[ObjectKey]) -> BTreeMap<ObjectKey, String> {
    let mut groups: BTreeMap<(String, String), Vec<&ObjectKey>> = BTreeMap::new();
    for k in keys {
        groups
            .entry((k.kind.to_string(), stem(&k.name).to_ascii_lowercase()))
            .or_default()
            .push(k);
    }
    let mut out = BTreeMap::new();
    for members in groups.values() {
        let unique = members.len() == 1;
        for k in members {
            let s = stem(&k.name);
            let file = if unique {
                format!("{}/{s}.yaml", k.kind)
            } else {
                format!("{}/{s}-{}.yaml", k.kind, short_digest(k))
            };
            out.insert((*k).clone(), file);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::object::Kind;

    #[test]
    fn names_are_filesystem_safe() {
        for (name, want) in [
            ("mask-ssn", "mask-ssn"),
            ("Mask Passports", "Mask-Passports"),
            ("../../etc/passwd", "etc-passwd"),
            ("/abs/path", "abs-path"),
            ("a\0b", "a-b"),
            ("new\nline\u{1b}[2J", "new-line-2J"),
            ("..", "unnamed"),
            ("", "unnamed"),
            ("日本語", "unnamed"),
            (".hidden", "hidden"),
            ("C:\\x", "C-x"),
            ("con", "con-object"),
            ("NUL.txt", "NUL.txt-object"),
            ("Compliance Requirement #1", "Compliance-Requirement-1"),
        ] {
            assert_eq!(stem(name), want, "{name:?}");
        }
        let long = "x".repeat(500);
        assert_eq!(stem(&long).len(), MAX_STEM);
    }

    #[test]
    fn collisions_get_a_digest_of_their_own_key() {
        let keys = vec![
            ObjectKey::new(Kind::Policy, "Mask SSN"),
            ObjectKey::new(Kind::Policy, "mask/ssn"),
            ObjectKey::new(Kind::Policy, "other"),
            ObjectKey::new(Kind::Project, "Mask SSN"),
        ];
        let p = paths(&keys);
        let a = &p[&keys[0]];
        let b = &p[&keys[1]];
        assert_ne!(a, b);
        assert!(
            a.starts_with("policy/Mask-SSN-") && a.ends_with(".yaml"),
            "{a}"
        );
        assert!(b.starts_with("policy/mask-ssn-"), "{b}");
        assert_eq!(p[&keys[2]], "policy/other.yaml");
        // Another kind is another directory: no collision.
        assert_eq!(p[&keys[3]], "project/Mask-SSN.yaml");
        // The suffix depends only on the key.
        let again = paths(&[keys[1].clone(), keys[0].clone()]);
        assert_eq!(&again[&keys[0]], a);
        for path in p.values() {
            assert!(!path.contains(".."), "{path}");
            assert_eq!(path.matches('/').count(), 1, "{path}");
        }
    }
}
