//! `--credentials-dir`: optional credential files in one directory, the shape of a
//! Kubernetes Secret mounted as a volume. Each well-known file that is there is used as
//! if its `--*-file` flag had named it; each that is missing leaves its feature off, so
//! a Deployment starts without a Git token or a webhook secret when none is configured.
//!
//! Input: the directory and the flags. Output: the flags with the found files filled in,
//! and the names found (for one log line). A flag given explicitly always wins and stays
//! strict: a missing file it names is still a start-up error. Only paths are handled
//! here; the files are read (bounded, never logged) by [`crate::config`].

use std::path::{Path, PathBuf};

/// The token for HTTPS Git (`--git-token-file`).
pub const TOKEN: &str = "token";
/// The SSH private key (`--ssh-key-file`).
pub const SSH_KEY: &str = "ssh-key";
/// The SSH key's passphrase (`--ssh-passphrase-file`).
pub const SSH_PASSPHRASE: &str = "ssh-passphrase";
/// The webhook secret (`--webhook-secret-file`), which enables `POST /hook`.
pub const WEBHOOK_SECRET: &str = "webhook-secret";

/// Fills each unset slot whose file exists in `dir`; returns the names used.
pub fn fill(dir: &Path, slots: [(&'static str, &mut Option<PathBuf>); 4]) -> Vec<&'static str> {
    let mut found = Vec::new();
    for (name, slot) in slots {
        let path = dir.join(name);
        if slot.is_none() && path.is_file() {
            *slot = Some(path);
            found.push(name);
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn present_files_are_used_missing_ones_stay_off_and_flags_win() {
        let d = tempfile::tempdir().unwrap();
        std::fs::write(d.path().join(TOKEN), "t").unwrap();
        std::fs::write(d.path().join(SSH_KEY), "k").unwrap();
        std::fs::create_dir(d.path().join(WEBHOOK_SECRET)).unwrap();
        let explicit = PathBuf::from("/etc/explicit-key");
        let (mut token, mut key, mut pass, mut hook) = (None, Some(explicit.clone()), None, None);
        let found = fill(
            d.path(),
            [
                (TOKEN, &mut token),
                (SSH_KEY, &mut key),
                (SSH_PASSPHRASE, &mut pass),
                (WEBHOOK_SECRET, &mut hook),
            ],
        );
        assert_eq!(found, [TOKEN]);
        assert_eq!(token, Some(d.path().join(TOKEN)));
        assert_eq!(key, Some(explicit), "an explicit flag wins");
        assert_eq!(pass, None);
        assert_eq!(hook, None, "a directory is not a secret file");

        let mut none = None;
        let missing = d.path().join("absent");
        let mut a = None;
        let mut b = None;
        let mut c = None;
        assert!(fill(
            &missing,
            [
                (TOKEN, &mut none),
                (SSH_KEY, &mut a),
                (SSH_PASSPHRASE, &mut b),
                (WEBHOOK_SECRET, &mut c)
            ]
        )
        .is_empty());
    }
}
