//! Credential lines.

use super::*;

#[test]
fn paths_read_like_plan_paths() {
    assert_eq!(display_path("/connection/password"), "connection.password");
    assert_eq!(
        display_path("/connection/userFiles/0/content"),
        "connection.userFiles[0].content"
    );
    assert_eq!(display_path("/connection/a~1b"), "connection.a/b");
}
