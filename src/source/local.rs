//! Local directory sources (placeholder: being implemented).
use std::path::Path;

use super::{Error, Snapshot};
/// Reads a local directory.
///
/// # Errors
/// Always, until implemented.
pub fn read_dir(root: &Path, _sub: Option<&str>) -> Result<Snapshot, Error> {
    Err(Error::Io {
        path: root.to_path_buf(),
        source: std::io::Error::other("not implemented yet"),
    })
}
