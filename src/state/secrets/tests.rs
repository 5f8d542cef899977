//! Credential digests: keyed, stable, private.

use super::*;

#[test]
fn digests_are_keyed_and_bound_to_their_place() {
    let a = SecretDigests::new(vec![1; 32]);
    let b = SecretDigests::new(vec![2; 32]);
    let v = Value::String("hunter2".into());
    let d = a.digest("k", "/connection/password", &v);
    assert_eq!(d.len(), 64);
    assert_eq!(d, a.digest("k", "/connection/password", &v), "stable");
    assert_ne!(d, b.digest("k", "/connection/password", &v), "keyed");
    assert_ne!(d, a.digest("k2", "/connection/password", &v));
    assert_ne!(d, a.digest("k", "/connection/token", &v));
    // Length-prefixed parts: moving a byte between parts changes the digest.
    assert_ne!(a.digest("ab", "/c", &v), a.digest("a", "b/c", &v));
    assert!(!format!("{a:?}").contains('1'), "no key in Debug");
}

#[test]
fn the_key_is_made_once_and_private() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = StateDir::new(tmp.path());
    assert!(
        dir.load_secret_digests().unwrap().is_none(),
        "no record yet"
    );
    let d = dir.new_secret_digests().unwrap();
    let key_file = tmp.path().join(KEY_FILE);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&key_file).unwrap().permissions().mode();
        assert_eq!(mode & 0o077, 0, "{mode:o}");
    }
    dir.save_secret_digests(&d).unwrap();
    let again = dir.load_secret_digests().unwrap().unwrap();
    let v = Value::String("x".into());
    assert_eq!(again.digest("k", "/p", &v), d.digest("k", "/p", &v));
    std::fs::write(&key_file, r#"{"version": 1, "key": "not hex"}"#).unwrap();
    let e = dir.load_secret_digests().unwrap_err();
    assert!(e.to_string().contains(KEY_FILE), "{e}");
}
