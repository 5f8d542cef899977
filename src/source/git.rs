//! Git sources (placeholder: being implemented).
use super::{Error, Snapshot, SourceSpec};
/// Whether `repo` is a Git URL.
pub fn is_remote(repo: &str) -> bool {
    repo.contains("://") || repo.starts_with("git@")
}
/// Fetches a Git source.
///
/// # Errors
/// Always, until implemented.
pub fn fetch(spec: &SourceSpec) -> Result<Snapshot, Error> {
    Err(Error::Git {
        op: "clone",
        origin: spec.repo.clone(),
        message: "not implemented yet".into(),
    })
}
