//! `secret-digests.json` ([`SecretDigests`]): keyed digests of the connection
//! credentials this tool last applied, per connection key and credential pointer
//! (issue 13). Immuta never reads credentials back, so this is the only way a plan can
//! know that one changed ([`crate::plan::secrets`] shows it).
//!
//! A digest is HMAC-SHA256 under a random 32-byte key of this directory
//! (`secret-digest-key.json`), over the connection key, the pointer and the value, each
//! length-prefixed. Neither file holds a credential: without the key a digest cannot
//! be tested against guesses, and the key alone says nothing. Both files are written
//! like every state file (atomically, mode 0600 by the temp file). A missing or
//! unreadable digest file is no record ("cannot compare"); a key file that is not a key
//! is an error (a new key would silently make every record useless).

use std::collections::BTreeMap;

use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::Sha256;

use super::{Error, StateDir};
use crate::apply::{ApplyReport, Outcome};
use crate::manifest::DesiredSet;
use crate::object::Kind;
use crate::plan::secrets::credentials;
use crate::plan::Action;

/// File name of the credential digests inside the state directory.
pub const DIGESTS_FILE: &str = "secret-digests.json";
/// File name of the digest key inside the state directory.
pub const KEY_FILE: &str = "secret-digest-key.json";
/// Version of both files.
pub const VERSION: u32 = 1;

/// The digests of the credentials last applied.
#[derive(Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SecretDigests {
    /// [`VERSION`].
    pub format_version: u32,
    /// connection key → credential pointer (`/connection/password`) → hex digest.
    pub connections: BTreeMap<String, BTreeMap<String, String>>,
    /// The HMAC key (its own file; never serialised with the digests).
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

#[derive(Serialize, Deserialize)]
struct KeyFile {
    version: u32,
    key: String,
}

impl SecretDigests {
    /// An empty record under `key`.
    pub fn new(key: Vec<u8>) -> SecretDigests {
        SecretDigests {
            format_version: VERSION,
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
}

impl StateDir {
    /// The digest key of this directory, made (32 random bytes) when there is none.
    ///
    /// # Errors
    /// [`Error::Read`]/[`Error::Corrupt`] for a key file that is not a key,
    /// [`Error::Write`] when a new one cannot be saved.
    pub(crate) fn digest_key(&self) -> Result<Vec<u8>, Error> {
        if let Some(k) = self.existing_digest_key()? {
            return Ok(k);
        }
        let key: [u8; 32] = rand::random();
        self.write(
            KEY_FILE,
            &KeyFile {
                version: VERSION,
                key: hex::encode(key),
            },
        )?;
        Ok(key.to_vec())
    }

    /// The digest key of this directory, when it has one (nothing is written).
    ///
    /// # Errors
    /// As [`StateDir::load_secret_digests`].
    pub(crate) fn existing_digest_key(&self) -> Result<Option<Vec<u8>>, Error> {
        let path = self.dir.join(KEY_FILE);
        let Some(k) = self.read::<KeyFile>(KEY_FILE)? else {
            return Ok(None);
        };
        hex::decode(k.key.trim())
            .ok()
            .filter(|k| k.len() >= 16)
            .map(Some)
            .ok_or(Error::Corrupt {
                path,
                message: "not a digest key".into(),
            })
    }

    /// Reads `secret-digests.json` (`None` when absent or of another version).
    ///
    /// # Errors
    /// A key or digest file that cannot be read.
    pub fn load_secret_digests(&self) -> Result<Option<SecretDigests>, Error> {
        let Some(mut d) = self.read::<SecretDigests>(DIGESTS_FILE)? else {
            return Ok(None);
        };
        if d.format_version != VERSION {
            return Ok(None);
        }
        d.key = self.digest_key()?;
        Ok(Some(d))
    }

    /// An empty record under this directory's key (made when there is none).
    ///
    /// # Errors
    /// As [`StateDir::load_secret_digests`].
    pub fn new_secret_digests(&self) -> Result<SecretDigests, Error> {
        Ok(SecretDigests::new(self.digest_key()?))
    }

    /// Writes `secret-digests.json` atomically.
    ///
    /// # Errors
    /// [`Error::Write`].
    pub fn save_secret_digests(&self, d: &SecretDigests) -> Result<(), Error> {
        self.write(DIGESTS_FILE, d)
    }
}

#[cfg(test)]
mod tests;
