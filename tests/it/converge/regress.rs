//! Plain regression tests: one literal tenant per bug the property test found, each run
//! through the same harness ([`super::converges`]).

use super::Harness;

/// Runs `files` (path, YAML) through the harness and panics with its message.
async fn assert_converges(files: &[(&str, &str)]) {
    let harness = Harness::start().await;
    let files: Vec<(String, String)> = files
        .iter()
        .map(|(p, y)| (p.to_string(), y.to_string()))
        .collect();
    if let Err(why) = harness.converges(&[super::gen::Revision::new(files)]).await {
        panic!("{why}");
    }
}

/// `circumstanceOperator` with no circumstance has nowhere to live in V1 (the operator
/// is kept on each circumstance): it planned an update forever.
#[tokio::test(flavor = "multi_thread")]
async fn operator_without_circumstances_converges() {
    assert_converges(&[(
        "policy/a.yaml",
        "policyKey: pol a\nname: Policy A\ntype: subscription\nactions:\n  type: anyone\ncircumstanceOperator: all\ncircumstances: []\n",
    )])
    .await;
}

/// The attribute table types V1 `equalization` as an array (004:58-59) and the emulator
/// answers `[]` for an equalized project; the reader only took an object as equalized.
#[tokio::test(flavor = "multi_thread")]
async fn equalized_project_converges() {
    assert_converges(&[(
        "project/a.yaml",
        "projectKey: proj a\nname: Project A\nequalization: true\n",
    )])
    .await;
}

/// V1 answers a manual project subscription as `subscriptionPolicy: null` (000:33761):
/// a description on it could never be read back, and planned an update forever.
#[tokio::test(flavor = "multi_thread")]
async fn manual_project_subscription_with_description_converges() {
    assert_converges(&[(
        "project/a.yaml",
        "projectKey: proj a\nname: Project A\nsubscriptionPolicy:\n  type: manual\n  description: why\n  allowDiscovery: true\n",
    )])
    .await;
}

/// `matches.tag` is optional: without it the emulator answers the condition with
/// `field: null`, which the reader did not map back, so the rule planned an update forever.
#[tokio::test(flavor = "multi_thread")]
async fn user_entitlements_rule_without_tag_converges() {
    assert_converges(&[(
        "policy/a.yaml",
        "policyKey: pol a\nname: Policy A\ntype: data\nactions:\n- rules:\n  - type: Row Restriction By User Entitlements\n    config:\n      matches:\n        type: group\n",
    )])
    .await;
}

/// A connection whose database has no table (here: Athena, which the catalog does not
/// hold) dry-runs with nothing to create, update or delete; it was planned as a create on
/// every run. The first bug the property test met (fixed with issue 10 item 4).
#[tokio::test(flavor = "multi_thread")]
async fn connection_matching_no_tables_converges() {
    assert_converges(&[(
        "data/a.yaml",
        "connectionKey: conn a\nconnection:\n  handler: Athena\n  region: us-east-1\n  queryResultLocationBucket: bucket-1\n",
    )])
    .await;
}
