//! The selection rules on literal records.

use super::*;
use crate::manifest::{Manifest, Span};
use crate::object::Move;
use crate::source::SourceId;
use crate::state::objects::ObjectRecord;

const NOW: u64 = 1_796_137_200; // 2026-12-01T15:00:00Z
const HOUR: Duration = Duration::from_secs(3600);

fn src() -> SourceId {
    SourceId {
        location: "/srv/repo".into(),
        path: String::new(),
    }
}

fn key(kind: Kind, name: &str) -> ObjectKey {
    ObjectKey::new(kind, name)
}

fn desired(keys: &[ObjectKey]) -> DesiredSet {
    let mut d = DesiredSet {
        source: src(),
        revision: "r2".into(),
        ..Default::default()
    };
    for k in keys {
        d.objects.insert(
            k.clone(),
            Manifest {
                key: k.clone(),
                span: Span {
                    path: format!("{}.yaml", k.name),
                    line: 1,
                    col: 1,
                },
                body: serde_json::json!({"name": k.name}),
                sensitive: Default::default(),
            },
        );
    }
    d
}

fn record(fp: &str, checked_at: u64, in_sync: bool) -> ObjectRecord {
    ObjectRecord {
        revision: "r1".into(),
        digest: "d".into(),
        fingerprint: Some(fp.into()),
        live: None,
        checked_at,
        in_sync,
        names: vec!["wh.sales".into()],
        id: None,
    }
}

struct Case {
    desired: DesiredSet,
    prints: BTreeMap<ObjectKey, String>,
    records: AppliedObjects,
    prune: PruneOptions,
    inventory: Option<Inventory>,
}

impl Case {
    /// Four carried-looking objects: a data source, a project, a policy, a purpose.
    fn new() -> Case {
        let keys = [
            key(Kind::Data, "wh"),
            key(Kind::Project, "P1"),
            key(Kind::Policy, "mask"),
            key(Kind::Purpose, "Ads"),
        ];
        let desired = desired(&keys);
        let prints = keys
            .iter()
            .map(|k| (k.clone(), format!("fp-{k}")))
            .collect();
        let mut records = AppliedObjects {
            version: VERSION,
            source: Some(src()),
            ..Default::default()
        };
        for k in &keys {
            let mut r = record(&format!("fp-{k}"), NOW - 60, true);
            if k.kind == Kind::Project {
                r.id = Some(7);
                r.names.clear();
            }
            records.objects.insert(k.to_string(), r);
        }
        records.project_ids.insert(7, "P1".into());
        Case {
            desired,
            prints,
            records,
            prune: PruneOptions {
                kinds: BTreeSet::new(),
                ..PruneOptions::default()
            },
            inventory: None,
        }
    }

    fn choose(&self, scope: &Scope) -> Result<Option<Chosen>, Fallback> {
        choose(
            scope,
            Ok(Some(&self.records)),
            &Inputs {
                desired: &self.desired,
                fingerprints: Some(&self.prints),
                inventory: self.inventory.as_ref(),
                prune: &self.prune,
                now: NOW,
            },
        )
    }

    fn carried(&self, scope: &Scope) -> Vec<String> {
        self.choose(scope)
            .unwrap()
            .unwrap()
            .carried()
            .iter()
            .map(ToString::to_string)
            .collect()
    }

    fn record(&mut self, k: &str) -> &mut ObjectRecord {
        self.records.objects.get_mut(k).unwrap()
    }
}

fn changed() -> Scope {
    Scope::Changed { max_age: HOUR }
}

#[test]
fn unchanged_data_and_projects_are_carried_policies_and_purposes_compared() {
    let c = Case::new();
    let chosen = c.choose(&changed()).unwrap().unwrap();
    assert_eq!(c.carried(&changed()), ["data/wh", "project/P1"]);
    assert_eq!(chosen.planned, 2);
    assert_eq!(chosen.oldest_check, Some(NOW - 60));
    assert_eq!(
        chosen.selection.carried[&key(Kind::Data, "wh")].names,
        ["wh.sales"]
    );
    assert_eq!(chosen.selection.known_projects[&7], "P1");
    assert_eq!(c.choose(&Scope::Full), Ok(None));
}

#[test]
fn each_rule_plans_the_object() {
    // Fingerprint differs (Git, a ReadFile file or an EnvVar value changed).
    let mut c = Case::new();
    c.prints.insert(key(Kind::Data, "wh"), "other".into());
    assert_eq!(c.carried(&changed()), ["project/P1"]);
    // No record.
    let mut c = Case::new();
    c.records.objects.remove("data/wh");
    assert_eq!(c.carried(&changed()), ["project/P1"]);
    // A record without a fingerprint (its write failed).
    let mut c = Case::new();
    c.record("data/wh").fingerprint = None;
    assert_eq!(c.carried(&changed()), ["project/P1"]);
    // Older than max_age.
    let mut c = Case::new();
    c.record("data/wh").checked_at = NOW - 3601;
    assert_eq!(c.carried(&changed()), ["project/P1"]);
    // Exactly max_age old is still fresh.
    let mut c = Case::new();
    c.record("data/wh").checked_at = NOW - 3600;
    assert_eq!(c.carried(&changed()), ["data/wh", "project/P1"]);
    // The last check found it out of sync.
    let mut c = Case::new();
    c.record("project/P1").in_sync = false;
    assert_eq!(c.carried(&changed()), ["data/wh"]);
    // A project whose id is not recorded, or not known as this project.
    let mut c = Case::new();
    c.record("project/P1").id = None;
    assert_eq!(c.carried(&changed()), ["data/wh"]);
    let mut c = Case::new();
    c.records.project_ids.insert(7, "Other".into());
    assert_eq!(c.carried(&changed()), ["data/wh"]);
    // Named by a `moved` entry: both keys are read.
    let mut c = Case::new();
    c.desired.moved.push(Move {
        from: key(Kind::Project, "Old"),
        to: key(Kind::Project, "P1"),
    });
    let chosen = c.choose(&changed()).unwrap().unwrap();
    assert_eq!(c.carried(&changed()), ["data/wh"]);
    assert!(chosen
        .selection
        .read_anyway
        .contains(&key(Kind::Project, "Old")));
}

#[test]
fn a_recheck_reads_its_keys_and_has_no_age_limit() {
    let mut c = Case::new();
    c.record("project/P1").checked_at = 0;
    let scope = Scope::Recheck {
        keys: [key(Kind::Data, "wh")].into(),
    };
    assert_eq!(c.carried(&scope), ["project/P1"]);
    // Every record old: Changed falls back, a recheck does not.
    for k in ["data/wh", "project/P1", "policy/mask", "purpose/Ads"] {
        c.record(k).checked_at = 0;
    }
    assert!(c.choose(&scope).is_ok());
    let fb = c.choose(&changed()).unwrap_err();
    assert_eq!(
        fb.reason,
        "the state directory is older than the drift interval (1h)"
    );
    assert!(!fb.is_warning);
}

#[test]
fn unusable_records_fall_back_with_the_reason() {
    let c = Case::new();
    let inputs = Inputs {
        desired: &c.desired,
        fingerprints: Some(&c.prints),
        inventory: None,
        prune: &c.prune,
        now: NOW,
    };
    let reason = |records: Records<'_>, inputs: &Inputs<'_>| {
        choose(&changed(), records, inputs).unwrap_err()
    };
    let fb = reason(Ok(None), &inputs);
    assert!(fb.reason.contains("no object records yet"), "{}", fb.reason);
    let fb = reason(
        Err("objects.json is corrupt: expected value".into()),
        &inputs,
    );
    assert!(fb.is_warning && fb.reason.contains("corrupt"), "{fb:?}");
    let mut v1 = c.records.clone();
    v1.version = 1;
    let fb = reason(Ok(Some(&v1)), &inputs);
    assert!(fb.reason.contains("format version 1"), "{}", fb.reason);
    let mut other = c.records.clone();
    other.source = Some(SourceId {
        location: "/srv/other".into(),
        path: String::new(),
    });
    let fb = reason(Ok(Some(&other)), &inputs);
    assert!(fb.reason.contains("another source"), "{}", fb.reason);
    let no_key = Inputs {
        fingerprints: None,
        ..inputs
    };
    let fb = reason(Ok(Some(&c.records)), &no_key);
    assert!(fb.reason.contains("no digest key"), "{}", fb.reason);
}

#[test]
fn prune_with_a_managed_key_gone_from_git_plans_in_full() {
    let mut c = Case::new();
    let mut managed: BTreeSet<ObjectKey> = c.desired.objects.keys().cloned().collect();
    managed.insert(key(Kind::Policy, "gone"));
    c.inventory = Some(Inventory::new("r1", "o", src(), managed));
    // Prune off: the key is shown as unmanaged by an incremental plan, never deleted.
    assert!(c.choose(&changed()).is_ok());
    c.prune.kinds = [Kind::Policy].into();
    let fb = c.choose(&changed()).unwrap_err();
    assert_eq!(
        fb.reason,
        "prune is on and policy/gone left Git: a delete needs a full plan"
    );
    // Prune on for other kinds only: nothing of theirs left Git.
    c.prune.kinds = [Kind::Data].into();
    assert!(c.choose(&changed()).is_ok());
}
