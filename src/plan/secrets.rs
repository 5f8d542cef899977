//! Connection credentials in a data-source plan (issue 13). Immuta never answers a
//! password, token or key back, so the plan can only know that one changed by comparing
//! it with what this tool last applied. It keeps, per connection key and credential
//! (its JSON pointer), a keyed digest of the value it applied: HMAC-SHA256 under a
//! random key of the state directory, never the value itself nor a plain hash of it (a
//! short password would fall to a dictionary).
//!
//! In a plan, a credential of a data source that will be written is shown as:
//! - `~ connection.password: (sensitive, will be sent)` when its digest differs from the
//!   one recorded (or none is recorded for that credential of a known connection);
//! - nothing when the digest matches;
//! - `? connection.password: (sensitive, cannot compare)` when nothing is recorded for
//!   the connection (no state directory, or never applied by this tool).
//!
//! A credential the tool knows changed makes the data source an update even when the
//! dry run reports no change. A no-op without a record says nothing: the dry run was
//! sent the current credentials and Immuta reported no change.

use std::collections::BTreeMap;

use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::Sha256;

use super::{Action, FieldChange, Plan};
use crate::apply::{ApplyReport, Outcome};
use crate::manifest::DesiredSet;
use crate::object::Kind;
use crate::redact::MASK;

/// Version of the digest file format.
pub const DIGESTS_FORMAT_VERSION: u32 = 1;

/// The note of a credential the tool knows changed.
pub const WILL_BE_SENT: &str = "sensitive, will be sent";

/// The note of a credential the tool cannot compare.
pub const CANNOT_COMPARE: &str = "sensitive, cannot compare";

/// The digests of the credentials last applied, per connection key and pointer.
#[derive(Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SecretDigests {
    /// [`DIGESTS_FORMAT_VERSION`].
    pub format_version: u32,
    /// connection key → credential pointer (`/connection/password`) → hex digest.
    pub connections: BTreeMap<String, BTreeMap<String, String>>,
    /// The HMAC key (kept in its own file, never serialised with the digests).
    #[serde(skip)]
    key: Vec<u8>,
}

impl std::fmt::Debug for SecretDigests {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SecretDigests")
            .field("connections", &self.connections.len())
            .finish_non_exhaustive()
    }
}

/// The credentials of a desired data source: its sensitive pointers under
/// `/connection`, with their values as they will be sent.
fn credentials<'a>(
    body: &'a Value,
    sensitive: &'a std::collections::BTreeSet<String>,
) -> impl Iterator<Item = (&'a str, &'a Value)> + 'a {
    sensitive
        .iter()
        .filter(|p| p.starts_with("/connection/"))
        .filter_map(move |p| body.pointer(p).map(|v| (p.as_str(), v)))
}

/// `/connection/userFiles/0/content` → `connection.userFiles[0].content`.
fn display_path(pointer: &str) -> String {
    let mut out = String::new();
    for seg in pointer.trim_start_matches('/').split('/') {
        let seg = seg.replace("~1", "/").replace("~0", "~");
        if seg.chars().all(|c| c.is_ascii_digit()) && !seg.is_empty() {
            out.push_str(&format!("[{seg}]"));
        } else {
            if !out.is_empty() {
                out.push('.');
            }
            out.push_str(&seg);
        }
    }
    out
}

impl SecretDigests {
    /// An empty record under `key` (at least 16 bytes).
    pub fn new(key: Vec<u8>) -> SecretDigests {
        SecretDigests {
            format_version: DIGESTS_FORMAT_VERSION,
            connections: BTreeMap::new(),
            key,
        }
    }

    /// The keyed digest of one credential value.
    pub fn digest(&self, connection: &str, pointer: &str, value: &Value) -> String {
        // HMAC takes keys of any length. Were it to refuse one, no digest would match
        // and every credential would read "will be sent": the safe side.
        let Ok(mut mac) = <Hmac<Sha256> as Mac>::new_from_slice(&self.key) else {
            return String::new();
        };
        for part in [
            connection.as_bytes(),
            pointer.as_bytes(),
            value.to_string().as_bytes(),
        ] {
            mac.update(&(part.len() as u64).to_be_bytes());
            mac.update(part);
        }
        hex::encode(mac.finalize().into_bytes())
    }

    /// Records the credentials of every data source `report` applied, and forgets those
    /// of data sources whose write failed (their state is unknown now) or was deleted.
    pub fn record(&mut self, desired: &DesiredSet, report: &ApplyReport) {
        for r in report.results.iter().filter(|r| r.key.kind == Kind::Data) {
            match (&r.outcome, r.action, desired.objects.get(&r.key)) {
                (Outcome::Applied { .. }, Action::Create | Action::Update, Some(m)) => {
                    let d: BTreeMap<String, String> = credentials(&m.body, &m.sensitive)
                        .map(|(p, v)| (p.to_string(), self.digest(&r.key.name, p, v)))
                        .collect();
                    self.connections.insert(r.key.name.clone(), d);
                }
                (Outcome::Skipped { .. }, _, _) => {}
                _ => {
                    self.connections.remove(&r.key.name);
                }
            }
        }
    }

    /// Adds the credential lines to the data sources of `plan` (module doc).
    pub fn annotate(plan: &mut Plan, desired: &DesiredSet, digests: Option<&SecretDigests>) {
        for c in plan.changes.iter_mut().filter(|c| c.key.kind == Kind::Data) {
            let Some(m) = desired.objects.get(&c.key) else {
                continue;
            };
            if !matches!(c.action, Action::Update | Action::Refused | Action::NoOp) {
                continue;
            }
            let known = digests.and_then(|d| d.connections.get(&c.key.name).map(|k| (d, k)));
            let mut lines = Vec::new();
            for (pointer, value) in credentials(&m.body, &m.sensitive) {
                let note = match known {
                    Some((d, k)) => {
                        if k.get(pointer) == Some(&d.digest(&c.key.name, pointer, value)) {
                            continue;
                        }
                        WILL_BE_SENT
                    }
                    None if c.action == Action::NoOp => continue,
                    None => CANNOT_COMPARE,
                };
                lines.push(FieldChange {
                    path: display_path(pointer),
                    before: Some(Value::String(MASK.to_string())),
                    after: Some(Value::String(MASK.to_string())),
                    sensitive: true,
                    note: Some(note.to_string()),
                });
            }
            if lines
                .iter()
                .any(|l| l.note.as_deref() == Some(WILL_BE_SENT))
                && c.action == Action::NoOp
            {
                c.action = Action::Update;
            }
            // Credentials first: they are what a reviewer cannot see anywhere else.
            lines.append(&mut c.fields);
            c.fields = lines;
        }
    }
}

/// The digest file of a state directory.
pub const DIGESTS_FILE: &str = "secret-digests.json";

/// The HMAC key file of a state directory (32 random bytes, hex; mode 0600).
pub const KEY_FILE: &str = "secret-digest.key";

/// Reads the record of a state directory, creating its key when there is none. A
/// missing or unreadable record is `None`: every credential then reads "cannot compare".
///
/// # Errors
/// The key cannot be read or created.
pub fn load(dir: &std::path::Path) -> std::io::Result<Option<SecretDigests>> {
    let key = load_key(dir)?;
    let record = match std::fs::read(dir.join(DIGESTS_FILE)) {
        Ok(bytes) => serde_json::from_slice::<SecretDigests>(&bytes)
            .ok()
            .filter(|d| d.format_version == DIGESTS_FORMAT_VERSION),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => return Err(e),
    };
    Ok(record.map(|mut d| {
        d.key = key;
        d
    }))
}

/// An empty record under the state directory's key.
///
/// # Errors
/// The key cannot be read or created.
pub fn empty(dir: &std::path::Path) -> std::io::Result<SecretDigests> {
    Ok(SecretDigests::new(load_key(dir)?))
}

fn load_key(dir: &std::path::Path) -> std::io::Result<Vec<u8>> {
    let path = dir.join(KEY_FILE);
    match std::fs::read_to_string(&path) {
        Ok(text) => hex::decode(text.trim())
            .ok()
            .filter(|k| k.len() >= 16)
            .ok_or_else(|| {
                std::io::Error::other(format!("{} is not a digest key", path.display()))
            }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            std::fs::create_dir_all(dir)?;
            let key: [u8; 32] = rand::random();
            write_private(&path, hex::encode(key).as_bytes())?;
            Ok(key.to_vec())
        }
        Err(e) => Err(e),
    }
}

fn write_private(path: &std::path::Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    opts.open(path)?.write_all(bytes)
}

/// Writes the record atomically (temp file + rename).
///
/// # Errors
/// I/O errors.
pub fn save(dir: &std::path::Path, d: &SecretDigests) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    let tmp = dir.join(format!(".{DIGESTS_FILE}.tmp"));
    std::fs::write(
        &tmp,
        serde_json::to_vec_pretty(d).map_err(std::io::Error::other)?,
    )?;
    std::fs::rename(tmp, dir.join(DIGESTS_FILE))
}

#[cfg(test)]
mod tests;
