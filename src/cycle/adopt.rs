//! `adopt` (issue 13): a plan of the source against the tenant, then the objects that
//! match it recorded in the inventory, so prune may later delete them. The decision is
//! [`crate::plan::adopt::choose`] (pure); this step only reads the inventory the plan was
//! made with and writes the new one. Nothing is sent to Immuta.

use crate::plan::adopt::{self, Adoption, Selection};
use crate::state::{self, Inventory};

use super::{Planned, Reconciler};

/// The outcome of [`Reconciler::adopt`].
#[derive(Debug)]
pub struct Adopted {
    /// What was adopted, what differs from Git, what was not adopted and why.
    pub decision: Adoption,
    /// The inventory written (`None` when nothing new was adopted).
    pub inventory: Option<Inventory>,
}

/// Why nothing could be adopted.
#[derive(Debug, thiserror::Error)]
pub enum AdoptError {
    /// There is no state directory to record ownership in.
    #[error("adopt needs --state-dir: ownership is recorded in its inventory")]
    NoStateDir,
    /// The inventory there belongs to another source or fails its checks.
    #[error("the inventory in {dir} is not this source's ({why}); adopt never replaces it")]
    Untrusted {
        /// The state directory.
        dir: String,
        /// Why it is not trusted.
        why: state::InventoryError,
    },
    /// The inventory file exists but cannot be read.
    #[error("the inventory in {dir} cannot be read ({why}); adopt never replaces it")]
    Unreadable {
        /// The state directory.
        dir: String,
        /// Why.
        why: String,
    },
    /// The inventory could not be saved.
    #[error("cannot save the inventory in {dir}: {source}")]
    Save {
        /// The state directory.
        dir: String,
        /// Why.
        #[source]
        source: state::Error,
    },
}

impl Reconciler {
    /// Records the objects of `planned` that `selection` names and that exist both in Git
    /// and in Immuta in the inventory (objects that differ from Git only with `force`),
    /// keeping every key the inventory already owns. `planned` must come from
    /// [`Reconciler::plan`] of this reconciler, without prune.
    ///
    /// # Errors
    /// [`AdoptError`]; nothing is written then.
    pub fn adopt(
        &self,
        planned: &Planned,
        selection: &Selection,
        force: bool,
    ) -> Result<Adopted, AdoptError> {
        let dir = self.state().ok_or(AdoptError::NoStateDir)?;
        let shown = || dir.path().display().to_string();
        if let Some(super::Note::InventoryUnreadable(e)) = planned
            .notes
            .iter()
            .find(|n| matches!(n, super::Note::InventoryUnreadable(_)))
        {
            return Err(AdoptError::Unreadable {
                dir: shown(),
                why: e.to_string(),
            });
        }
        let previous = planned.inventory.as_ref();
        let owned = previous
            .filter(|i| i.check(&planned.desired.source).is_ok())
            .map(|i| i.keys.clone())
            .unwrap_or_default();
        let decision = adopt::choose(&planned.plan, &planned.live, &owned, selection, force);
        let inv = adopt::adopted_inventory(&planned.desired, previous, &decision.adopt)
            .map_err(|why| AdoptError::Untrusted { dir: shown(), why })?;
        if decision.adopt.is_empty() {
            return Ok(Adopted {
                decision,
                inventory: None,
            });
        }
        dir.save_inventory(&inv)
            .map_err(|source| AdoptError::Save {
                dir: shown(),
                source,
            })?;
        Ok(Adopted {
            decision,
            inventory: Some(inv),
        })
    }
}
