//! Projects: the documented list (000:33780-33885), a project by id (000:33751-33774,
//! 000:33891-33953), its data sources (000:34126-34212), and the manual, approval,
//! automatic and policy subscriptions the docs show (000:14427-14549, 001:312-375,
//! 000:34126-34212) on that project.

use super::*;

/// `API Project` (000:33751-33774) listed by its own document (the docs show no list hit
/// for it), with the data sources of 000:34126-34212.
pub(super) fn api_project_tenant(project: Value) -> Tenant {
    let id = project["id"].as_u64().unwrap();
    Tenant {
        project_hits: vec![project.clone()],
        projects: BTreeMap::from([(id, project)]),
        project_sources: BTreeMap::from([(
            id,
            fixture("project-2-data-sources.json")["dataSources"]
                .as_array()
                .unwrap()
                .clone(),
        )]),
        cap: 2,
        ..Tenant::default()
    }
}

const API_PROJECT: &str = r#"projectKey: api project
name: API Project
description: project created with api
datasources:
  - Fake Medical Claims 2017
  - Tpc Randomized
  - Tpc Web Sales
"#;

#[tokio::test]
async fn a_manual_project_with_its_data_sources_has_no_changes() {
    let tenant = api_project_tenant(fixture("project-4-api-project.json"));
    // `subscriptionPolicy: null` in V1 (000:33761) is the manual default, whether the
    // manifest leaves it out or states it.
    let stated = format!("{API_PROJECT}subscriptionPolicy:\n  type: manual\n");
    for yaml in [API_PROJECT, stated.as_str()] {
        let (plan, replay) = plan_against(&tenant, &[("project/p.yaml", yaml)]).await;
        assert_no_changes(&plan, &[(Kind::Project, "api project")]);
        // Three data sources, two a page, `count` given: two pages.
        assert_eq!(pages(&replay, "/project/4/dataSources"), 2);
    }
}

#[tokio::test]
async fn one_changed_project_field_is_one_change() {
    let tenant = api_project_tenant(fixture("project-4-api-project.json"));
    let edited = API_PROJECT.replace("  - Tpc Web Sales\n", "  - Tpc Web Sales\n  - Tpc Zebra\n");
    let (plan, _r) = plan_against(&tenant, &[("project/p.yaml", &edited)]).await;
    assert_one_change(
        &plan,
        (Kind::Project, "api project"),
        "datasources[3]",
        None,
        Some(json!("Tpc Zebra")),
    );
    let edited = API_PROJECT.replace("project created with api", "created by hand");
    let (plan, _r) = plan_against(&tenant, &[("project/p.yaml", &edited)]).await;
    assert_one_change(
        &plan,
        (Kind::Project, "api project"),
        "description",
        Some(json!("project created with api")),
        Some(json!("created by hand")),
    );
}

/// `API Project` carrying the subscription of one documented data source answer.
fn with_subscription(source: &Value) -> Value {
    let mut p = fixture("project-4-api-project.json");
    p["subscriptionType"] = source["subscriptionType"].clone();
    p["subscriptionPolicy"] = source["subscriptionPolicy"].clone();
    p
}

#[tokio::test]
async fn documented_subscriptions_read_as_their_v2_twins() {
    let approval_list = fixture("data-source-list-approval-manual.json");
    let automatic_policy = fixture("data-source-list-automatic-policy.json");
    let project_sources = fixture("project-2-data-sources.json");
    let cases: Vec<(&str, Value, &str, &str, Value, Value)> = vec![
        (
            "approval (000:14435-14441)",
            approval_list["hits"][0].clone(),
            "subscriptionPolicy:\n  type: approval\n  approvals:\n    - requiredPermission: OWNER\n",
            "subscriptionPolicy.approvals[0].requiredPermission",
            json!("OWNER"),
            json!("GOVERNANCE"),
        ),
        (
            "automatic (001:319-322)",
            automatic_policy[0].clone(),
            "subscriptionPolicy:\n  type: anyone\n  automaticSubscription: true\n",
            "subscriptionPolicy.type",
            json!("anyone"),
            json!("approval"),
        ),
        (
            "policy, groups (001:343-358)",
            automatic_policy[1].clone(),
            "subscriptionPolicy:\n  type: entitlements\n  entitlements:\n    operator: all\n    groups: [alpha]\n  allowDiscovery: true\n  automaticSubscription: true\n",
            "subscriptionPolicy.entitlements.groups[0]",
            json!("alpha"),
            json!("beta"),
        ),
        (
            "policy, groups and attributes (000:34136-34160)",
            project_sources["dataSources"][0].clone(),
            "subscriptionPolicy:\n  type: entitlements\n  entitlements:\n    groups: [HR Department]\n    attributes:\n      - name: Manager\n        value: Receiving Surveys\n  automaticSubscription: true\n",
            "subscriptionPolicy.entitlements.attributes[0].value",
            json!("Receiving Surveys"),
            json!("Sending Surveys"),
        ),
    ];
    for (what, source, yaml, path, before, after) in cases {
        let tenant = api_project_tenant(with_subscription(&source));
        let doc = format!("{API_PROJECT}{yaml}");
        let (plan, _r) = plan_against(&tenant, &[("project/p.yaml", &doc)]).await;
        assert_no_changes(&plan, &[(Kind::Project, "api project")]);
        let old = before.as_str().unwrap();
        let new = after.as_str().unwrap();
        let edited = doc.replacen(old, new, 1);
        assert_ne!(edited, doc, "{what}");
        let (plan, _r) = plan_against(&tenant, &[("project/p.yaml", &edited)]).await;
        assert_one_change(
            &plan,
            (Kind::Project, "api project"),
            path,
            Some(before),
            Some(after),
        );
    }
}

#[tokio::test]
async fn the_documented_list_skips_schema_and_disabled_projects() {
    // The docs show no GET /project/8 or /6, so those hits are left out; 4 and 3 are
    // schema projects (never read by id), 2 says `deleted: true` when read by id.
    let list = fixture("project-list.json");
    let hits: Vec<Value> = list["hits"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|h| [2, 4, 3].contains(&h["id"].as_u64().unwrap()))
        .cloned()
        .collect();
    let tenant = Tenant {
        project_hits: hits,
        projects: BTreeMap::from([(2, fixture("project-2-test.json"))]),
        cap: 1,
        ..Tenant::default()
    };
    let (plan, replay) = plan_against(&tenant, &[]).await;
    assert_eq!(summary(&plan), vec![]);
    assert_eq!(pages(&replay, "/project"), 3);
    assert_eq!(pages(&replay, "/project/2"), 1);
    // Its data sources are read alongside it (concurrently) and then not used.
    assert!(pages(&replay, "/project/2/dataSources") <= 1);
    // A manifest for the disabled project plans a create: it is not live.
    let yaml = "projectKey: test\nname: test\n";
    let (plan, _r) = plan_against(&tenant, &[("project/t.yaml", yaml)]).await;
    assert_eq!(summary(&plan)[0].1, Action::Create);
}
