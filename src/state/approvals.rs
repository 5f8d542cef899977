//! `approvals.json`: the uses of `Immuta-Approve` trailers (issue 16), so that one
//! approval approves exactly the change it was first used for (see
//! [`crate::plan::risk::approve`]).
//!
//! Only uses whose commit is still since the last applied revision are kept: once the
//! applied revision moves past a commit, its trailer can never count again.

use serde::{Deserialize, Serialize};

use crate::plan::risk::approve::Used;
use crate::source::SourceId;

/// Format version of `approvals.json`.
pub const VERSION: u32 = 1;

/// The content of `approvals.json`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Approvals {
    /// [`VERSION`].
    pub version: u32,
    /// The source the approvals were read from (approvals of another source are ignored).
    pub source: Option<SourceId>,
    /// Every use, in order.
    pub used: Vec<Used>,
}

impl Approvals {
    /// The uses recorded for `source` (none when the file is for another source or of
    /// another format).
    pub fn for_source(&self, source: &SourceId) -> Vec<Used> {
        if self.version != VERSION || self.source.as_ref() != Some(source) {
            return Vec::new();
        }
        self.used.clone()
    }
}
