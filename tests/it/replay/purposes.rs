//! Purposes: the documented list of system purposes with sub-purposes
//! (000:14870-14926) and two purposes made by users, as create and update answer them
//! (000:14851-14864, 000:14993-15005), served in one `{purposes, count}` list.

use super::*;

pub(super) fn tenant() -> Tenant {
    let mut purposes = fixture("purpose-list.json")["purposes"]
        .as_array()
        .unwrap()
        .clone();
    purposes.push(fixture("purpose-10-created.json"));
    purposes.push(fixture("purpose-8-updated.json"));
    Tenant {
        purposes,
        cap: 2,
        ..Tenant::default()
    }
}

const REQ_1: &str = "name: 'Compliance Requirement #1'\ndescription: This requirement has been amended to include an updated model.\n";
const REQ_2: &str = "name: 'Compliance Requirement #2'\n";

#[tokio::test]
async fn user_purposes_have_no_changes_and_system_ones_are_left_alone() {
    let (plan, replay) = plan_against(
        &tenant(),
        &[("purpose/1.yaml", REQ_1), ("purpose/2.yaml", REQ_2)],
    )
    .await;
    assert_no_changes(
        &plan,
        &[
            (Kind::Purpose, "Compliance Requirement #1"),
            (Kind::Purpose, "Compliance Requirement #2"),
        ],
    );
    // The system purposes and their sub-purposes are neither written nor unmanaged.
    assert_eq!(plan.changes.len(), 2, "{:#?}", summary(&plan));
    // Six purposes, two a page, `count` given: three pages.
    assert_eq!(pages(&replay, "/governance/purpose"), 3);
}

#[tokio::test]
async fn one_changed_purpose_field_is_one_change() {
    let edited = format!("{REQ_2}acknowledgement: I agree.\n");
    let (plan, _r) = plan_against(
        &tenant(),
        &[("purpose/1.yaml", REQ_1), ("purpose/2.yaml", &edited)],
    )
    .await;
    assert_one_change(
        &plan,
        (Kind::Purpose, "Compliance Requirement #2"),
        "acknowledgement",
        None,
        Some(json!("I agree.")),
    );
}

#[tokio::test]
async fn a_system_purpose_with_sub_purposes_is_read_as_one_document() {
    // "Re-identification Prohibited" with ".CCPA" and ".Safe Harbor Method"
    // (000:14870-14926, as GET .../1?includeSubpurposes=true groups them, 000:14932-14983).
    let yaml = "name: Re-identification Prohibited\n";
    let (plan, _r) = plan_against(&tenant(), &[("purpose/r.yaml", yaml)]).await;
    assert_no_changes(&plan, &[(Kind::Purpose, "Re-identification Prohibited")]);
    // Its sub-purposes belong to its document and are not listed on their own.
    let listed: Vec<String> = summary(&plan).into_iter().map(|c| c.0).collect();
    assert!(!listed.iter().any(|k| k.contains(".CCPA")), "{listed:#?}");
}
