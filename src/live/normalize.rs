//! V1 → V2 normalizers (placeholder until the emulator work lands).
use serde_json::Value;
/// A V1 object in V2 shape.
pub struct Normalized {
    /// key
    pub key: String,
    /// id
    pub id: Option<u64>,
    /// system
    pub system: bool,
    /// body
    pub body: Value,
}
/// Errors.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// not yet
    #[error("not implemented")]
    Todo,
}
/// policy
pub fn policy(_v1: &Value) -> Result<Normalized, Error> {
    Err(Error::Todo)
}
/// project
pub fn project(_v1: &Value, _ds: &[Value]) -> Result<Normalized, Error> {
    Err(Error::Todo)
}
/// purposes
pub fn purposes(_l: &[Value]) -> Result<Vec<Normalized>, Error> {
    Err(Error::Todo)
}
