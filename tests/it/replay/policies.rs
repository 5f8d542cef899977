//! Global policies: masking (000:27381-27430, 000:28234-28292), the system policy
//! (000:27735-27789), the write-access template (000:3991-4027), and the purpose and row
//! restriction rules the docs show inside data-source policies (000:27820-27888,
//! 000:27894-27936), each in the envelope of a documented global policy.

use super::*;

const MASK_8: &str = r#"policyKey: Mask Passports
name: Mask Passports
type: data
actions:
  - rules:
      - type: Masking
        config:
          fields:
            - type: columnTags
              columnTag: Discovered.Passport
          maskingConfig:
            type: Hash
circumstances:
  - type: columnTags
    columnTag: Discovered.Passport
certification:
  text: This certifies that all columns containing passports in this data source have been tagged appropriately.
  label: Certified
  recertify: true
"#;

const MASK_6: &str = r#"policyKey: mask-passports
name: Mask Passports
type: data
actions:
  - description: This policy masks all passports for data sources with columns tagged Discovered.Passport.
    rules:
      - type: Masking
        config:
          fields:
            - type: columnTags
              columnTag: Discovered.Passport
          maskingConfig:
            type: Hash
circumstanceOperator: any
circumstances:
  - type: columnTags
    columnTag: Discovered.Passport
certification:
  tags: [string]
  text: string
  label: string
"#;

pub(super) fn masking_tenant(cap: usize, as_hits: bool) -> Tenant {
    Tenant {
        policies: vec![
            fixture("policy-global-8-mask-passports.json"),
            fixture("policy-global-1-new-column-added.json"),
            fixture("policy-global-6-mask-passports.json"),
        ],
        policies_as_hits: as_hits,
        cap,
        ..Tenant::default()
    }
}

/// Every page of `/policy/global` the reader asked for said `templates=false`.
fn assert_templates_left_out(replay: &Replay) {
    let reads = replay.reads();
    let policy_reads: Vec<&String> = reads
        .iter()
        .filter(|r| r.starts_with("/policy/global"))
        .collect();
    assert!(
        policy_reads.iter().all(|r| r.contains("templates=false")),
        "{policy_reads:?}"
    );
}

#[tokio::test]
async fn masking_policies_read_as_hash_in_both_list_envelopes() {
    for (cap, as_hits) in [(1, false), (2, true), (1000, false)] {
        let tenant = masking_tenant(cap, as_hits);
        let files = [("policy/p8.yaml", MASK_8), ("policy/p6.yaml", MASK_6)];
        let (plan, replay) = plan_against(&tenant, &files).await;
        assert_no_changes(
            &plan,
            &[
                (Kind::Policy, "Mask Passports"),
                (Kind::Policy, "mask-passports"),
            ],
        );
        // The system policy is neither written nor listed as unmanaged.
        assert_eq!(plan.changes.len(), 2, "{:#?}", summary(&plan));
        let want_pages = 3_usize.div_ceil(cap) + usize::from(!as_hits);
        assert_eq!(pages(&replay, "/policy/global"), want_pages, "cap {cap}");
        assert_templates_left_out(&replay);
    }
}

#[tokio::test]
async fn one_changed_masking_type_is_one_change() {
    let edited = MASK_8.replace("type: Hash", "type: Reversible");
    let files = [
        ("policy/p8.yaml", edited.as_str()),
        ("policy/p6.yaml", MASK_6),
    ];
    let (plan, _r) = plan_against(&masking_tenant(1, false), &files).await;
    assert_one_change(
        &plan,
        (Kind::Policy, "Mask Passports"),
        "actions[0].rules[0].config.maskingConfig.type",
        Some(json!("Hash")),
        Some(json!("Reversible")),
    );
}

const WRITE_TEMPLATE: &str = r#"policyKey: Manual global write policy
name: Manual global write policy
type: subscription
actions:
  type: manual
  accessGrant: WRITE
circumstances:
  - type: columnTags
    columnTag: Discovered.Person Name
"#;

fn template_tenant(honour: bool) -> Tenant {
    Tenant {
        policies: vec![
            fixture("policy-global-4-write-template-column-tags.json"),
            fixture("policy-global-8-mask-passports.json"),
        ],
        honour_templates: honour,
        cap: 1,
        ..Tenant::default()
    }
}

#[tokio::test]
async fn a_template_is_not_a_live_policy() {
    // The tenant honours `templates=false` (002:1566-1573), so the template is not read:
    // the desired policy of the same key does not exist yet.
    let (plan, replay) =
        plan_against(&template_tenant(true), &[("policy/w.yaml", WRITE_TEMPLATE)]).await;
    let s = summary(&plan);
    assert_eq!(
        s.iter().map(|c| (c.0.as_str(), c.1)).collect::<Vec<_>>(),
        [
            ("policy/Manual global write policy", Action::Create),
            ("policy/Mask Passports", Action::Unmanaged)
        ]
    );
    // The template without circumstances (000:3961-3990) stays out the same way.
    let tenant = Tenant {
        policies: vec![fixture("policy-global-4-write-template.json")],
        ..Tenant::default()
    };
    let (plan, _r) = plan_against(&tenant, &[]).await;
    assert_eq!(summary(&plan), vec![]);
    assert_templates_left_out(&replay);
}

#[tokio::test]
async fn access_grant_write_is_read_and_compared() {
    // The only documented V1 subscription policy with `accessGrant` is a template; a
    // tenant that ignores `templates` serves it, which is what lets the mapping of
    // `accessGrant` (000:4003) and `shareResponsibility` (000:4007) be planned here.
    let tenant = template_tenant(false);
    let (plan, _r) = plan_against(&tenant, &[("policy/w.yaml", WRITE_TEMPLATE)]).await;
    assert_no_changes(&plan, &[(Kind::Policy, "Manual global write policy")]);

    let read = WRITE_TEMPLATE.replace("accessGrant: WRITE", "accessGrant: READ");
    let (plan, _r) = plan_against(&tenant, &[("policy/w.yaml", read.as_str())]).await;
    // READ is the default grant, so asking for it means leaving WRITE behind.
    assert_one_change(
        &plan,
        (Kind::Policy, "Manual global write policy"),
        "actions.accessGrant",
        Some(json!("WRITE")),
        None,
    );
}

/// A global policy in the envelope of 000:27381-27430 (policy 8) whose `actions` are one
/// documented action block, under a new id and key.
pub(super) fn composed(id: u64, key: &str, block: Value) -> Value {
    let mut p = fixture("policy-global-8-mask-passports.json");
    p["id"] = json!(id);
    p["policyKey"] = json!(key);
    p["name"] = json!(key);
    p["actions"] = json!([block]);
    p
}

const CERTIFIED_TAIL: &str = r#"circumstances:
  - type: columnTags
    columnTag: Discovered.Passport
certification:
  text: This certifies that all columns containing passports in this data source have been tagged appropriately.
  label: Certified
  recertify: true
"#;

pub(super) fn rule_tenant() -> Tenant {
    let prerequisite = fixture("policy-data-source-2-rules.json")[2].clone();
    let visibility = fixture("policy-diff-3-row-restriction.json")["current"][0].clone();
    Tenant {
        policies: vec![
            composed(101, "purpose restriction", prerequisite),
            composed(102, "row restriction", visibility),
        ],
        cap: 1,
        ..Tenant::default()
    }
}

fn purpose_restriction(purpose: &str) -> String {
    format!(
        "policyKey: purpose restriction\nname: purpose restriction\ntype: data\nactions:\n  - rules:\n      - type: Purpose Restriction\n        config:\n          operator: all\n          purposes:\n            - {purpose}\n{CERTIFIED_TAIL}"
    )
}

fn row_restriction(tag: &str) -> String {
    format!(
        "policyKey: row restriction\nname: row restriction\ntype: data\nactions:\n  - rules:\n      - type: Row Restriction By User Entitlements\n        config:\n          operator: all\n          matches:\n            type: group\n            tag: {tag}\n{CERTIFIED_TAIL}"
    )
}

#[tokio::test]
async fn purpose_and_row_restrictions_read_from_their_v1_configs() {
    let tenant = rule_tenant();
    let (p, r) = (
        purpose_restriction("Re-identification Prohibited"),
        row_restriction("city"),
    );
    let (plan, _r) = plan_against(&tenant, &[("policy/p.yaml", &p), ("policy/r.yaml", &r)]).await;
    assert_no_changes(
        &plan,
        &[
            (Kind::Policy, "purpose restriction"),
            (Kind::Policy, "row restriction"),
        ],
    );

    let p2 = purpose_restriction("Use Case Outside De-identification");
    let (plan, _r) = plan_against(&tenant, &[("policy/p.yaml", &p2), ("policy/r.yaml", &r)]).await;
    assert_one_change(
        &plan,
        (Kind::Policy, "purpose restriction"),
        "actions[0].rules[0].config.purposes[0]",
        Some(json!("Re-identification Prohibited")),
        Some(json!("Use Case Outside De-identification")),
    );

    let r2 = row_restriction("state");
    let (plan, _r) = plan_against(&tenant, &[("policy/p.yaml", &p), ("policy/r.yaml", &r2)]).await;
    assert_one_change(
        &plan,
        (Kind::Policy, "row restriction"),
        "actions[0].rules[0].config.matches.tag",
        Some(json!("city")),
        Some(json!("state")),
    );
}
