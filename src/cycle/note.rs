//! The notes of a plan: what its reader should know that is not a change (why prune did
//! not delete, that `--target` cut it, why it is full although it was asked to be
//! incremental, ...). Shown by the CLI, logged by the daemon.

use super::scope;
use crate::plan::prune;
use crate::state;

/// Something a plan's reader should know that is not a change.
#[derive(Debug)]
pub enum Note {
    /// Why prune did not delete something.
    Prune(prune::Note),
    /// The inventory could not be read: nothing is deleted this time.
    InventoryUnreadable(state::Error),
    /// `--target` is in effect: the plan is partial.
    Targeted(Vec<String>),
    /// A `--target` pattern matches no object of Git or the tenant.
    TargetUnmatched(String),
    /// The credential digests could not be read: credentials cannot be compared.
    DigestsUnreadable(state::Error),
    /// An incremental plan was asked for but every object was read (issue 15).
    FullPlan(scope::Fallback),
}

impl Note {
    /// Whether the note is a warning (prune is disabled for this run).
    pub fn is_warning(&self) -> bool {
        match self {
            Note::Prune(n) => n.is_warning(),
            Note::InventoryUnreadable(_)
            | Note::DigestsUnreadable(_)
            | Note::Targeted(_)
            | Note::TargetUnmatched(_) => true,
            Note::FullPlan(f) => f.is_warning,
        }
    }
}

impl std::fmt::Display for Note {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Note::Prune(n) => n.fmt(f),
            Note::InventoryUnreadable(e) => {
                write!(f, "prune disabled: {e}; nothing will be deleted")
            }
            Note::Targeted(patterns) => write!(
                f,
                "resource targeting is in effect ({}): this plan covers only the targeted objects and what they depend on, so it may be incomplete; changes outside them, deletes included, are neither shown nor applied. Use --target for exceptional cases, not routine operation",
                patterns.join(", ")
            ),
            Note::TargetUnmatched(p) => {
                write!(f, "--target {p} matches no object in Git or in Immuta")
            }
            Note::DigestsUnreadable(e) => {
                write!(f, "{e}; connection credentials cannot be compared")
            }
            Note::FullPlan(fb) => write!(
                f,
                "planning in full, every object read from Immuta: {}",
                fb.reason
            ),
        }
    }
}
