//! Incremental plans (issue 15): which objects a plan reads from Immuta, chosen from the
//! per-object records of the state directory ([`crate::state::objects`]).
//!
//! Input: the revision's [`DesiredSet`], the records (or why there are none), the
//! inventory and the prune options, a [`Scope`] and the time now. Output: a
//! [`crate::live::Selection`] for the live stage and the counts of the plan header, or a
//! [`Fallback`] saying why the plan must read everything.
//!
//! Rules (pure functions, tested on literal records):
//! - Policies and purposes come whole from the bulk lists every plan, so they are always
//!   compared; only data sources (whose dry run makes Immuta query the warehouse) and
//!   projects (one `GET /project/{id}` and one data-source list each) can be carried.
//! - A data source or project is read when it has no record, its fingerprint differs
//!   from the recorded one (its templated document changed: Git, a `{{ReadFile}}` file,
//!   an `{{EnvVar}}` value), its record is older than `max_age`, its last check found
//!   it out of sync, a `moved` entry names it, or (projects) its id is not known. Every
//!   other one is carried as in sync from its record.
//! - Fallback to a full plan when there is no state directory, the records are missing,
//!   corrupt, of another version or source, the digest key is missing, every record is
//!   older than `max_age`, or prune is on and a managed key left Git (a delete needs a
//!   full plan). An incremental plan never deletes.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use crate::live::{Carried, Selection};
use crate::manifest::DesiredSet;
use crate::object::{Kind, ObjectKey};
use crate::plan::prune::PruneOptions;
use crate::state::objects::VERSION;
use crate::state::{AppliedObjects, Inventory};

/// Which objects a plan reads from Immuta.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Scope {
    /// Every object read from Immuta (today's plan; the CLI default).
    #[default]
    Full,
    /// Only objects whose fingerprint changed since their record, new ones, and ones
    /// whose record is older than `max_age` or whose last check found them out of
    /// sync; everything else carried as in sync. Falls back to Full (with a note saying
    /// why) when the records are missing, corrupt, of another source/version, all older
    /// than `max_age`, or when prune is on and a managed object left Git.
    Changed {
        /// How old a record may be and still be trusted (`--drift-interval`).
        max_age: Duration,
    },
    /// A drift-sweep chunk on an applied revision: what `Changed` would plan (without
    /// an age limit: the sweep itself renews old records), plus `keys` re-read from
    /// Immuta although unchanged. Never deletes either: should it fall back to a full
    /// plan, its deletes are withheld ([`crate::plan::prune::withhold_deletes`]).
    Recheck {
        /// Data sources and projects to re-read ([`super::Planned::sweepable`]).
        keys: BTreeSet<ObjectKey>,
    },
}

/// Why a plan asked to be incremental reads everything.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fallback {
    /// The reason, for the log, the note and the plan header.
    pub reason: String,
    /// The records are damaged or unusable (not merely absent or old).
    pub is_warning: bool,
}

impl Fallback {
    fn info(reason: impl Into<String>) -> Fallback {
        Fallback {
            reason: reason.into(),
            is_warning: false,
        }
    }

    fn warning(reason: impl Into<String>) -> Fallback {
        Fallback {
            reason: reason.into(),
            is_warning: true,
        }
    }
}

/// What an incremental plan reads and carries.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Chosen {
    /// For the live stage.
    pub selection: Selection,
    /// Desired objects compared with Immuta.
    pub planned: usize,
    /// Unix seconds of the oldest check among the carried objects.
    pub oldest_check: Option<u64>,
}

impl Chosen {
    /// The carried keys.
    pub fn carried(&self) -> BTreeSet<ObjectKey> {
        self.selection.carried.keys().cloned().collect()
    }
}

/// What the records may be: loaded, absent, or unreadable (the message names the file).
pub type Records<'a> = Result<Option<&'a AppliedObjects>, String>;

/// The inputs of [`choose`] besides the scope.
#[derive(Debug, Clone, Copy)]
pub struct Inputs<'a> {
    /// The revision.
    pub desired: &'a DesiredSet,
    /// Fingerprint of every desired object (`None`: the digest key is missing).
    pub fingerprints: Option<&'a BTreeMap<ObjectKey, String>>,
    /// The inventory, when it could be read.
    pub inventory: Option<&'a Inventory>,
    /// Prune in effect.
    pub prune: &'a PruneOptions,
    /// Unix seconds now.
    pub now: u64,
}

/// Chooses what a plan of `scope` reads; `Ok(None)` for [`Scope::Full`].
///
/// # Errors
/// A [`Fallback`] when an incremental plan is not possible.
pub fn choose(
    scope: &Scope,
    records: Records<'_>,
    inputs: &Inputs<'_>,
) -> Result<Option<Chosen>, Fallback> {
    let (max_age, forced) = match scope {
        Scope::Full => return Ok(None),
        Scope::Changed { max_age } => (Some(*max_age), BTreeSet::new()),
        Scope::Recheck { keys } => (None, keys.clone()),
    };
    let desired = inputs.desired;
    let records = usable(records, desired)?;
    let Some(fingerprints) = inputs.fingerprints else {
        return Err(Fallback::warning(
            "the state directory has no digest key (secret-digest-key.json), so no fingerprint can be compared",
        ));
    };
    let too_old = |checked_at: u64| {
        max_age.is_some_and(|age| inputs.now.saturating_sub(checked_at) > age.as_secs())
    };
    if max_age.is_some() && records.objects.values().all(|r| too_old(r.checked_at)) {
        return Err(Fallback::info(format!(
            "the state directory is older than the drift interval ({})",
            humantime::format_duration(max_age.unwrap_or_default())
        )));
    }
    leaving_git(inputs)?;
    let moved: BTreeSet<&ObjectKey> = desired
        .moved
        .iter()
        .flat_map(|m| [&m.from, &m.to])
        .collect();
    let mut chosen = Chosen {
        selection: Selection {
            known_projects: records.project_ids.clone(),
            read_anyway: moved
                .iter()
                .filter(|k| k.kind == Kind::Project && !desired.objects.contains_key(*k))
                .map(|k| (*k).clone())
                .collect(),
            ..Default::default()
        },
        ..Default::default()
    };
    for key in desired.objects.keys() {
        let carried = matches!(key.kind, Kind::Data | Kind::Project)
            && !forced.contains(key)
            && !moved.contains(key)
            && records.get(key).is_some_and(|r| {
                r.in_sync
                    && !too_old(r.checked_at)
                    && r.fingerprint.is_some()
                    && r.fingerprint.as_ref() == fingerprints.get(key)
                    && (key.kind != Kind::Project
                        || r.id
                            .is_some_and(|id| records.project_ids.get(&id) == Some(&key.name)))
            });
        match records.get(key).filter(|_| carried) {
            Some(r) => {
                chosen.oldest_check = Some(
                    chosen
                        .oldest_check
                        .map_or(r.checked_at, |t| t.min(r.checked_at)),
                );
                chosen.selection.carried.insert(
                    key.clone(),
                    Carried {
                        names: r.names.clone(),
                        id: r.id,
                    },
                );
            }
            None => chosen.planned += 1,
        }
    }
    Ok(Some(chosen))
}

/// The records, if they can be trusted for `desired`'s source.
fn usable<'a>(records: Records<'a>, desired: &DesiredSet) -> Result<&'a AppliedObjects, Fallback> {
    let records = match records {
        Ok(Some(r)) => r,
        Ok(None) => {
            return Err(Fallback::info(
                "the state directory holds no object records yet (objects.json)",
            ))
        }
        Err(e) => return Err(Fallback::warning(e)),
    };
    if records.version != VERSION {
        return Err(Fallback::warning(format!(
            "objects.json is of format version {}, this version reads {VERSION}; the next apply rewrites it",
            records.version
        )));
    }
    if records.source.as_ref() != Some(&desired.source) {
        let then = records
            .source
            .as_ref()
            .map_or_else(|| "no source".to_string(), ToString::to_string);
        return Err(Fallback::warning(format!(
            "objects.json records another source ({then}), not {}",
            desired.source
        )));
    }
    if records.objects.is_empty() {
        return Err(Fallback::info(
            "the state directory holds no object records yet (objects.json)",
        ));
    }
    Ok(records)
}

/// With prune on, a managed key that left Git is a delete, which needs a full plan.
fn leaving_git(inputs: &Inputs<'_>) -> Result<(), Fallback> {
    if inputs.prune.kinds.is_empty() {
        return Ok(());
    }
    let Some(inv) = inputs
        .inventory
        .filter(|i| i.check(&inputs.desired.source).is_ok())
    else {
        // An untrusted inventory owns nothing: prune deletes nothing anyway.
        return Ok(());
    };
    match inv
        .keys
        .iter()
        .find(|k| inputs.prune.kinds.contains(&k.kind) && !inputs.desired.objects.contains_key(*k))
    {
        Some(k) => Err(Fallback::info(format!(
            "prune is on and {k} left Git: a delete needs a full plan"
        ))),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests;
