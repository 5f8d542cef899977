//! Issue 13: `export` of the documented V1 answers. The replay tenant serves the
//! verbatim fixtures; export reads it with the real client and reader, and the files it
//! writes must plan "No changes" against the same tenant. A V1 shape V2 cannot say is
//! exported with the incomplete marker, which validation refuses at its line.

use std::collections::BTreeSet;

use immuta_gitops::export::{self, Export, Options};
use immuta_gitops::live::tenant::read_tenant;
use immuta_gitops::manifest::validate::INCOMPLETE_MARKER;

use super::*;

/// Every fixture the replay tests plan against, in one tenant: the masking policies and
/// the system policy, the purpose and row restrictions, `API Project` with its data
/// sources, and the purpose list with two user purposes.
fn everything() -> Tenant {
    let mut policies = policies::masking_tenant(1000, false).policies;
    policies.extend(policies::rule_tenant().policies);
    let projects = projects::api_project_tenant(fixture("project-4-api-project.json"));
    Tenant {
        policies,
        project_hits: projects.project_hits,
        projects: projects.projects,
        project_sources: projects.project_sources,
        purposes: purposes::tenant().purposes,
        cap: 2,
        ..Tenant::default()
    }
}

async fn export_of(tenant: &Tenant) -> Export {
    let replay = Replay::start(tenant.clone()).await;
    let client = Client::new(ClientConfig::new(replay.url.clone(), Secret::new(KEY))).unwrap();
    let kinds: BTreeSet<Kind> = [Kind::Purpose, Kind::Policy, Kind::Project].into();
    let read = read_tenant(&client, &kinds).await.unwrap();
    assert_eq!(replay.writes(), Vec::<String>::new(), "export only reads");
    // Each list once, paged (two items a page): 3 purpose pages (6 purposes), 3 policy
    // pages and the closing empty page of the bare array (5 policies), 1 project list
    // page, and per project its object and 2 pages of data sources (3 sources).
    if tenant.cap == 2 && tenant.policies.len() == 5 {
        assert_eq!(
            replay.reads().len(),
            3 + 4 + 1 + 1 + 2,
            "{:#?}",
            replay.reads()
        );
    }
    let opts = Options {
        kinds,
        matches: Vec::new(),
        max_file_bytes: 1 << 20,
    };
    export::build(&read, &opts).unwrap()
}

#[tokio::test]
async fn issue_13_the_documented_answers_round_trip_through_export() {
    let tenant = everything();
    let exported = export_of(&tenant).await;
    assert!(exported.failed.is_empty(), "{:#?}", exported.failed);
    let paths: Vec<&str> = exported.files.iter().map(|f| f.path.as_str()).collect();
    // `Mask Passports` and `mask-passports` differ only in case: both carry a digest.
    assert_eq!(paths.len(), 7, "{paths:#?}");
    assert!(paths[0].starts_with("policy/Mask-Passports-"), "{paths:#?}");
    assert!(paths[1].starts_with("policy/mask-passports-"), "{paths:#?}");
    assert_eq!(
        paths[2..],
        [
            "policy/purpose-restriction.yaml",
            "policy/row-restriction.yaml",
            "project/api-project.yaml",
            "purpose/Compliance-Requirement-1.yaml",
            "purpose/Compliance-Requirement-2.yaml",
        ]
    );
    for f in &exported.files {
        assert!(f.missing.is_empty(), "{}: {:#?}", f.path, f.missing);
    }
    let files: Vec<(&str, &str)> = exported
        .files
        .iter()
        .map(|f| (f.path.as_str(), f.text.as_str()))
        .collect();
    let (plan, _replay) = plan_against(&tenant, &files).await;
    assert_no_changes(
        &plan,
        &[
            (Kind::Policy, "Mask Passports"),
            (Kind::Policy, "mask-passports"),
            (Kind::Policy, "purpose restriction"),
            (Kind::Policy, "row restriction"),
            (Kind::Project, "api project"),
            (Kind::Purpose, "Compliance Requirement #1"),
        ],
    );
    // Nothing of the tenant is left out: no unmanaged object, no system one exported.
    assert!(
        plan.changes.iter().all(|c| c.action == Action::NoOp),
        "{:#?}",
        summary(&plan)
    );
}

#[tokio::test]
async fn issue_13_a_v1_rule_without_a_v2_spelling_is_exported_incomplete() {
    // The documented row restriction (000:27896-27912) with a second condition: V2's
    // `matches` holds one group match, so the reader keeps the V1 config.
    let mut visibility = fixture("policy-diff-3-row-restriction.json")["current"][0].clone();
    let conditions = visibility["rules"][0]["config"]["qualifications"]["conditions"]
        .as_array_mut()
        .unwrap();
    let second = conditions[0].clone();
    conditions.push(second);
    let tenant = Tenant {
        policies: vec![policies::composed(103, "two conditions", visibility)],
        ..Tenant::default()
    };
    let exported = export_of(&tenant).await;
    let [file] = exported.files.as_slice() else {
        panic!("{:#?}", exported.files);
    };
    assert!(!file.missing.is_empty());
    assert!(file.text.contains("# INCOMPLETE"), "{}", file.text);
    let line = file
        .text
        .lines()
        .position(|l| l.starts_with(INCOMPLETE_MARKER))
        .unwrap()
        + 1;
    let map = BTreeMap::from([(
        file.path.clone(),
        FileEntry::Blob(file.text.clone().into_bytes()),
    )]);
    let env: BTreeMap<String, String> = BTreeMap::new();
    let errors = manifest::load(&Snapshot::new("t", "t", map), &env).unwrap_err();
    let want = format!(
        "{}:{line}:1: policy two conditions: incomplete export: ",
        file.path
    );
    assert!(
        errors.iter().any(|d| d.to_string().starts_with(&want)),
        "{errors:#?}"
    );
}
