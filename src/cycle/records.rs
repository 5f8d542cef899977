//! The per-object records of a plan (issue 15): which objects an incremental plan may
//! carry, chosen from `objects.json` ([`super::scope::choose`]), and what the records
//! become after a plan is reported ([`Reconciler::record_check`]) or applied.

use std::collections::BTreeMap;

use super::{scope, Planned, Reconciler, Scope};
use crate::apply::ApplyReport;
use crate::manifest::DesiredSet;
use crate::object::ObjectKey;
use crate::plan::prune::PruneOptions;
use crate::state::{self, Inventory, StateDir};

impl Reconciler {
    /// What `scope` reads, from the loaded records.
    pub(super) fn choose(
        &self,
        scope: &Scope,
        desired: &DesiredSet,
        loaded: Option<&Result<Option<state::AppliedObjects>, state::Error>>,
        fingerprints: Option<&state::objects::Fingerprints>,
        inventory: Option<&Inventory>,
        prune: &PruneOptions,
    ) -> Result<Option<scope::Chosen>, scope::Fallback> {
        if *scope == Scope::Full {
            return Ok(None);
        }
        let records = match loaded {
            None => {
                return Err(scope::Fallback {
                    reason:
                        "no state directory (--state-dir) to hold the records of the last check"
                            .into(),
                    is_warning: false,
                })
            }
            Some(Ok(r)) => Ok(r.as_ref()),
            Some(Err(e)) => Err(e.to_string()),
        };
        let prints: Option<BTreeMap<ObjectKey, String>> = fingerprints.map(|f| f.desired(desired));
        scope::choose(
            scope,
            records,
            &scope::Inputs {
                desired,
                fingerprints: prints.as_ref(),
                inventory,
                prune,
                now: unix_now(),
            },
        )
    }

    /// Records in `objects.json` that the objects `planned` compared with Immuta were
    /// checked now (when, the live digest, in sync or not), without writing to Immuta:
    /// the daemon calls it after a plan it only reports. [`Reconciler::apply`] records
    /// the same for what it covered. Carried objects keep their record.
    ///
    /// # Errors
    /// A state file that cannot be read or written (nothing without a state directory).
    pub fn record_check(&self, planned: &Planned) -> Result<(), state::Error> {
        let Some(dir) = &self.settings.state else {
            return Ok(());
        };
        let records = self.next_records(dir, planned, None)?;
        dir.save_objects(&records)
    }

    /// The records after `planned` (and its apply, with `report`).
    pub(super) fn next_records(
        &self,
        dir: &StateDir,
        planned: &Planned,
        report: Option<&ApplyReport>,
    ) -> Result<state::AppliedObjects, state::Error> {
        let fingerprints = match &planned.fingerprints {
            Some(f) => f.clone(),
            None => dir.fingerprints_or_new()?,
        };
        Ok(state::objects::next(
            planned.objects.as_ref(),
            &state::objects::Checked {
                desired: &planned.desired,
                plan: &planned.plan,
                live: &planned.live,
                carried: &planned.carried,
                fingerprints: Some(&fingerprints),
                now: unix_now(),
            },
            report,
        ))
    }
}

/// Unix seconds now (0 before 1970).
pub(super) fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}
