//! Records that cannot be trusted make the plan full, with a note naming the reason;
//! prune with a managed object gone from Git plans its delete in a full plan.

use immuta_gitops::cycle::Note;
use immuta_gitops::object::Kind;
use immuta_gitops::plan::{Action, PlanScope};

use super::{changed, Tenant};

/// The fallback reason of a full plan (and its note).
fn fallback(planned: &immuta_gitops::cycle::Planned) -> String {
    let PlanScope::Full {
        fallback: Some(why),
    } = &planned.scope
    else {
        panic!("not a fallback: {:?}", planned.scope);
    };
    assert_eq!(planned.plan.scope, planned.scope);
    let note = planned
        .notes
        .iter()
        .find(|n| matches!(n, Note::FullPlan(_)))
        .expect("a note says why")
        .to_string();
    assert!(note.contains(why.as_str()), "{note}");
    why.clone()
}

#[tokio::test(flavor = "multi_thread")]
async fn corrupt_foreign_and_old_records_plan_in_full() {
    let t = Tenant::applied(&[]).await;
    let path = t.state.join("objects.json");
    let good = t.records();
    let mut doc: serde_json::Value = serde_json::from_str(&good).unwrap();

    std::fs::write(&path, b"\x00\xffnot json{{").unwrap();
    let (r, planned) = t.plan(changed()).await;
    let why = fallback(&planned);
    assert!(why.contains("objects.json is corrupt"), "{why}");
    // Every data source was dry-run again.
    assert_eq!(super::requests(&r).get("POST /api/v2/data"), Some(&3));

    doc["version"] = 1.into();
    std::fs::write(&path, doc.to_string()).unwrap();
    let (_, planned) = t.plan(changed()).await;
    assert!(fallback(&planned).contains("format version 1"));

    doc["version"] = 2.into();
    doc["source"]["location"] = "/srv/another-repository".into();
    std::fs::write(&path, doc.to_string()).unwrap();
    let (_, planned) = t.plan(changed()).await;
    assert!(fallback(&planned).contains("another source"));

    // Written back by the next apply of a full plan, as version 2.
    let (r, planned) = t.plan(changed()).await;
    r.apply(&planned, Default::default()).await;
    let (_, planned) = t.plan(changed()).await;
    assert!(planned.scope.is_incremental(), "{:?}", planned.scope);

    // Every record older than the drift interval.
    let mut old: serde_json::Value = serde_json::from_str(&t.records()).unwrap();
    for (_, r) in old["objects"].as_object_mut().unwrap() {
        r["checked_at"] = 1_000.into();
    }
    std::fs::write(&path, old.to_string()).unwrap();
    let (_, planned) = t.plan(changed()).await;
    assert_eq!(
        fallback(&planned),
        "the state directory is older than the drift interval (1h)"
    );
}

/// Prune on and a managed policy removed from Git: the plan is full and deletes it, as
/// a full plan always did.
#[tokio::test(flavor = "multi_thread")]
async fn prune_with_a_managed_object_removed_plans_in_full_with_its_delete() {
    let mut t = Tenant::applied(&[]).await;
    t.prune = [Kind::Policy].into();
    t.repo.commit(&[("policy/extra-mask-3.yaml", None)]);
    let (_, planned) = t.plan(changed()).await;
    assert_eq!(
        fallback(&planned),
        "prune is on and policy/extra-mask-3 left Git: a delete needs a full plan"
    );
    let deletes: Vec<String> = planned
        .plan
        .changes
        .iter()
        .filter(|c| c.action == Action::Delete)
        .map(|c| c.key.to_string())
        .collect();
    assert_eq!(deletes, ["policy/extra-mask-3"]);
}
