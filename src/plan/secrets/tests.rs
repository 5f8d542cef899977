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
fn paths_read_like_plan_paths() {
    assert_eq!(display_path("/connection/password"), "connection.password");
    assert_eq!(
        display_path("/connection/userFiles/0/content"),
        "connection.userFiles[0].content"
    );
}

#[test]
fn the_key_file_is_made_once_and_private() {
    let dir = tempfile::tempdir().unwrap();
    assert!(load(dir.path()).unwrap().is_none(), "no record yet");
    let d = empty(dir.path()).unwrap();
    let key = std::fs::read_to_string(dir.path().join(KEY_FILE)).unwrap();
    assert_eq!(key.len(), 64);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(dir.path().join(KEY_FILE))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o077, 0, "{mode:o}");
    }
    save(dir.path(), &d).unwrap();
    let again = load(dir.path()).unwrap().unwrap();
    let v = Value::String("x".into());
    assert_eq!(again.digest("k", "/p", &v), d.digest("k", "/p", &v));
    std::fs::write(dir.path().join(KEY_FILE), "not hex").unwrap();
    assert!(
        load(dir.path()).is_err(),
        "a broken key is an error, not a new key"
    );
}
