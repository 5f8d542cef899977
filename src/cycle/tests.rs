//! The reconciler against the emulator: plan, apply, inventory, prune, and the settings
//! it refuses.

use super::*;
use crate::client::ClientConfig;
use crate::manifest::ProcessEnv;
use crate::object::ObjectKey;
use crate::redact::Secret;
use std::path::Path;

const KEY: &str = "cycle-test-key";

fn client(url: &str) -> Client {
    Client::new(ClientConfig::new(url, Secret::new(KEY))).unwrap()
}

fn purposes(dir: &Path, names: &[&str]) -> Snapshot {
    let _ = std::fs::remove_dir_all(dir.join("purpose"));
    std::fs::create_dir_all(dir.join("purpose")).unwrap();
    for n in names {
        std::fs::write(
            dir.join("purpose").join(format!("{n}.yaml")),
            format!("name: {n}\n"),
        )
        .unwrap();
    }
    crate::source::local::read_dir(dir, None, &Default::default()).unwrap()
}

fn prune(kinds: &[Kind]) -> PruneSettings {
    PruneSettings {
        kinds: kinds.iter().copied().collect(),
        ..Default::default()
    }
}

/// A reconciler against `url` with `prune` and the state dir `state`.
fn reconciler(url: &str, prune: PruneSettings, state: &StateDir) -> Reconciler {
    Reconciler::new(Settings {
        client: client(url),
        prune,
        state: Some(state.clone()),
    })
    .unwrap()
}

async fn emulator() -> immuta_emulator::Handle {
    immuta_emulator::spawn(immuta_emulator::Options {
        api_key: KEY.into(),
        ..Default::default()
    })
    .await
    .unwrap()
}

#[test]
fn prune_without_a_state_dir_is_refused_with_the_reason() {
    let c = client("http://127.0.0.1:9");
    let e = Reconciler::new(Settings {
        client: c.clone(),
        prune: prune(&[Kind::Policy]),
        state: None,
    })
    .unwrap_err();
    assert!(matches!(e, Error::PruneNeedsStateDir));
    assert!(
        e.to_string().starts_with("--prune needs --state-dir:"),
        "{e}"
    );
    for (kinds, state) in [
        (&[][..], None),
        (&[][..], Some(StateDir::new("/s"))),
        (&[Kind::Policy][..], Some(StateDir::new("/s"))),
    ] {
        let ok = Reconciler::new(Settings {
            client: c.clone(),
            prune: prune(kinds),
            state,
        });
        assert!(ok.is_ok(), "{kinds:?}");
    }
}

#[tokio::test]
async fn plan_apply_records_the_inventory_and_prune_deletes_only_from_it() {
    let emu = emulator().await;
    let tmp = tempfile::tempdir().unwrap();
    let repo = tmp.path().join("repo");
    let state = StateDir::new(tmp.path().join("state"));
    let r = reconciler(&emu.url(), prune(&[Kind::Purpose]), &state);

    let snap = purposes(&repo, &["Alpha", "Beta"]);
    let planned = r.plan(&snap, &ProcessEnv).await.unwrap();
    assert_eq!(planned.plan.summary().add, 2);
    assert!(
        planned
            .notes
            .iter()
            .any(|n| matches!(n, Note::Prune(prune::Note::NoInventory))),
        "{:?}",
        planned.notes
    );
    let applied = r.apply(&planned, CancellationToken::new()).await;
    assert!(applied.report.is_success());
    assert!(applied.inventory_error.is_none());
    let inv = state.load_inventory().unwrap().unwrap();
    assert_eq!(Some(&inv), applied.inventory.as_ref());
    assert_eq!(
        inv.keys,
        [
            ObjectKey::new(Kind::Purpose, "Alpha"),
            ObjectKey::new(Kind::Purpose, "Beta")
        ]
        .into()
    );

    let snap = purposes(&repo, &["Alpha"]);
    let planned = r.plan(&snap, &ProcessEnv).await.unwrap();
    assert_eq!(planned.plan.summary().destroy, 1, "{:?}", planned.plan);
    let applied = r.apply(&planned, CancellationToken::new()).await;
    assert!(applied.report.is_success());
    let again = r.plan(&snap, &ProcessEnv).await.unwrap();
    assert!(!again.plan.has_changes(), "{:?}", again.plan);
    assert_eq!(
        state.load_inventory().unwrap().unwrap().keys,
        [ObjectKey::new(Kind::Purpose, "Alpha")].into()
    );
    emu.shutdown().await;
}

#[tokio::test]
async fn an_unreadable_inventory_deletes_nothing_and_says_so() {
    let emu = emulator().await;
    let tmp = tempfile::tempdir().unwrap();
    let repo = tmp.path().join("repo");
    let state = StateDir::new(tmp.path().join("state"));
    let r = reconciler(&emu.url(), prune(&[Kind::Purpose]), &state);
    let planned = r
        .plan(&purposes(&repo, &["Alpha", "Beta"]), &ProcessEnv)
        .await
        .unwrap();
    r.apply(&planned, CancellationToken::new()).await;
    std::fs::write(state.path().join(crate::state::INVENTORY_FILE), "{").unwrap();
    let planned = r
        .plan(&purposes(&repo, &["Alpha"]), &ProcessEnv)
        .await
        .unwrap();
    assert_eq!(planned.plan.summary().destroy, 0);
    let warning = planned.notes.iter().find(|n| n.is_warning()).unwrap();
    assert!(matches!(warning, Note::InventoryUnreadable(_)));
    assert!(
        warning.to_string().contains("inventory.json is corrupt"),
        "{warning}"
    );
    emu.shutdown().await;
}

#[tokio::test]
async fn a_cancelled_apply_starts_nothing_and_keeps_the_inventory_honest() {
    let emu = emulator().await;
    let tmp = tempfile::tempdir().unwrap();
    let state = StateDir::new(tmp.path().join("state"));
    let r = reconciler(&emu.url(), PruneSettings::default(), &state);
    let planned = r
        .plan(&purposes(&tmp.path().join("repo"), &["Alpha"]), &ProcessEnv)
        .await
        .unwrap();
    let cancel = CancellationToken::new();
    cancel.cancel();
    let applied = r.apply(&planned, cancel).await;
    let (done, failed, skipped) = applied.report.counts();
    assert_eq!((done, failed, skipped), (0, 0, 1));
    assert!(emu.emulator.write_log().iter().all(|w| w.dry_run));
    emu.shutdown().await;
}
