//! Table removals: a data-source update whose server dry run lists names under
//! `deleting` (tables dropped from `sources`, or a connection change that makes Immuta
//! replace the data sources) deletes or disables data sources in Immuta. Those are
//! destroys: they are counted in the summary and by `--max-deletions`, and they are
//! sent only when allowed — by `--prune` covering `data` (and the key matching no prune
//! exclude), or by `dataSources.<connectionKey>.allowTableRemoval: true` in
//! `.immuta-gitops.yaml`. Otherwise the change becomes [`Action::Refused`]: nothing is
//! sent for that data source, and the run says why and fails.

use super::prune::PruneOptions;
use super::{Action, Change, Plan};
use crate::object::Kind;

impl Change {
    /// Immuta objects this change deletes: one for a policy, project or purpose delete;
    /// every data source for a data-source delete (at least one) or for the tables an
    /// update drops (`deleting` of the server's dry run). Refused changes delete nothing.
    pub fn destroys(&self) -> usize {
        let tables = self.data.as_ref().map_or(0, |d| d.deleting.len());
        match self.action {
            Action::Delete => tables.max(1),
            Action::Update => tables,
            Action::Create | Action::NoOp | Action::Unmanaged | Action::Refused => 0,
        }
    }
}

/// Why an [`Action::Refused`] change is not sent (one line, naming how to allow it): a
/// data-source update that would remove data sources, or a rename no documented call makes.
pub fn refusal_reason(c: &Change) -> String {
    if let (Some(_), Some(note)) = (&c.moved_from, &c.note) {
        return format!("refused: {note}");
    }
    let names: Vec<String> = c
        .data
        .iter()
        .flat_map(|d| &d.deleting)
        .map(|n| serde_json::to_string(n).unwrap_or_default())
        .collect();
    format!(
        "refused: the update would delete or disable {} data source(s) ({}), dropped from its sources or replaced by a connection change; allow it with --prune (or --prune=data), or with dataSources.{}.allowTableRemoval: true in .immuta-gitops.yaml",
        names.len(),
        names.join(", "),
        serde_json::to_string(&c.key.name).unwrap_or_default()
    )
}

/// Marks every data-source update that would remove data sources and is not allowed as
/// [`Action::Refused`] (a note explains a refusal caused by an exclude), and returns how many data sources the allowed
/// ones remove. `excluded` tells whether a key matches a prune exclude.
pub fn gate(
    plan: &mut Plan,
    opts: &PruneOptions,
    excluded: &dyn Fn(&Change) -> bool,
    notes: &mut Vec<super::prune::Note>,
) -> usize {
    let mut allowed_tables = 0;
    for c in &mut plan.changes {
        let tables = c.data.as_ref().map_or(0, |d| d.deleting.len());
        if c.key.kind != Kind::Data || c.action != Action::Update || tables == 0 {
            continue;
        }
        let by_setting = opts.allow_table_removal.contains(&c.key.name);
        let by_prune = opts.kinds.contains(&Kind::Data) && !excluded(c);
        if by_setting || by_prune {
            allowed_tables += tables;
            continue;
        }
        c.action = Action::Refused;
        // The refusal itself is reported with the plan; only the exclude needs saying.
        if opts.kinds.contains(&Kind::Data) {
            notes.push(super::prune::Note::TablesExcluded(c.key.clone()));
        }
    }
    allowed_tables
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::live::{DataDryRun, LiveSet};
    use crate::manifest::DesiredSet;
    use crate::object::ObjectKey;
    use crate::plan::prune::{add_deletes, Refusal};
    use crate::plan::render;

    fn data_change(name: &str, deleting: &[&str], creating: &[&str]) -> Change {
        Change {
            key: ObjectKey::new(Kind::Data, name),
            action: Action::Update,
            fields: Vec::new(),
            data: Some(DataDryRun {
                creating: creating.iter().map(|s| s.to_string()).collect(),
                deleting: deleting.iter().map(|s| s.to_string()).collect(),
                no_change: vec!["Kept".into()],
                ..Default::default()
            }),
            id: None,
            note: None,
            moved_from: None,
        }
    }

    /// A plan with a dropped table (`shrink`), a connection change that replaces two data
    /// sources (`moved`), and a harmless update (`grow`).
    fn plan() -> Plan {
        Plan {
            origin: "o".into(),
            revision: "r".into(),
            changes: vec![
                data_change("grow", &[], &["New"]),
                data_change("moved", &["A", "B"], &["A", "B"]),
                data_change("shrink", &["Old"], &[]),
            ],
            held: Vec::new(),
            scope: Default::default(),
        }
    }

    fn opts(kinds: &[Kind], allow: &[&str], exclude: &[&str], max: usize) -> PruneOptions {
        PruneOptions {
            kinds: kinds.iter().copied().collect(),
            max_deletions: max,
            exclude: exclude.iter().map(|s| s.to_string()).collect(),
            allow_table_removal: allow.iter().map(|s| s.to_string()).collect(),
            ..Default::default()
        }
    }

    fn run(o: &PruneOptions) -> Result<(Plan, Vec<String>), Refusal> {
        let mut p = plan();
        let notes = add_deletes(&mut p, &DesiredSet::default(), &LiveSet::default(), None, o)?;
        Ok((p, notes.iter().map(ToString::to_string).collect()))
    }

    fn actions(p: &Plan) -> Vec<Action> {
        p.changes.iter().map(|c| c.action).collect()
    }

    #[test]
    fn table_removals_are_refused_unless_prune_covers_data_or_the_key_allows_it() {
        use Action::{Refused, Update};
        let cases: Vec<(&str, PruneOptions, [Action; 3], usize)> = vec![
            (
                "prune off",
                opts(&[], &[], &[], 5),
                [Update, Refused, Refused],
                0,
            ),
            (
                "prune of other kinds",
                opts(&[Kind::Policy, Kind::Project], &[], &[], 5),
                [Update, Refused, Refused],
                0,
            ),
            (
                "prune=data",
                opts(&[Kind::Data], &[], &[], 5),
                [Update, Update, Update],
                3,
            ),
            (
                "prune=all",
                opts(Kind::ALL, &[], &[], 5),
                [Update, Update, Update],
                3,
            ),
            (
                "prune=all, one key excluded",
                opts(Kind::ALL, &[], &["data/mov*"], 5),
                [Update, Refused, Update],
                1,
            ),
            (
                "allowTableRemoval without prune",
                opts(&[], &["shrink"], &[], 5),
                [Update, Refused, Update],
                1,
            ),
            (
                "allowTableRemoval beats an exclude",
                opts(Kind::ALL, &["moved"], &["data/*"], 5),
                [Update, Update, Refused],
                2,
            ),
        ];
        for (what, o, want, destroy) in cases {
            let (p, notes) = run(&o).unwrap();
            assert_eq!(actions(&p), want, "{what}");
            let s = p.summary();
            assert_eq!(s.destroy, destroy, "{what}");
            let refused = want.iter().filter(|a| **a == Refused).count();
            assert_eq!(s.refused, refused, "{what}");
            let by_exclude = if o.kinds.contains(&Kind::Data) {
                refused
            } else {
                0
            };
            assert_eq!(
                notes
                    .iter()
                    .filter(|n| n.contains("matches a prune exclude"))
                    .count(),
                by_exclude,
                "{what}: {notes:?}"
            );
            assert!(!p.has_changes() || p.changes.iter().any(|c| c.action == Update));
        }
    }

    #[test]
    fn allowed_table_removals_count_against_max_deletions_with_or_without_prune() {
        for o in [
            opts(&[Kind::Data], &[], &[], 2),
            opts(&[], &["moved", "shrink"], &[], 2),
        ] {
            assert_eq!(run(&o).unwrap_err(), Refusal::TooMany { count: 3, max: 2 });
        }
        assert!(run(&opts(&[], &["moved", "shrink"], &[], 3)).is_ok());
        // Refused ones are not sent, so they do not count.
        assert!(run(&opts(&[], &[], &[], 0)).is_ok());
    }

    #[test]
    fn refusals_and_table_destroys_show_in_every_output() {
        let (p, _) = run(&opts(&[], &["shrink"], &[], 5)).unwrap();
        let mut text = Vec::new();
        render::text(&p, &mut text).unwrap();
        let text = String::from_utf8(text).unwrap();
        assert!(
            text.contains("  ! data/moved will NOT be updated"),
            "{text}"
        );
        assert!(text.contains("allowTableRemoval"), "{text}");
        assert!(
            text.contains("      - data source \"Old\" (deleted or disabled"),
            "{text}"
        );
        assert!(
            text.trim_end()
                .ends_with("Plan: 0 to add, 2 to change, 1 to destroy, 1 refused. 1 change weakens data protection."),
            "{text}"
        );
        let mut md = Vec::new();
        render::markdown(&p, &mut md).unwrap();
        let md = String::from_utf8(md).unwrap();
        assert!(
            md.starts_with("**Plan: 0 to add, 2 to change, 1 to destroy, 1 refused. 1 change weakens data protection.**"),
            "{md}"
        );
        assert!(
            md.contains("<b>data</b>: 2 to change, 1 to destroy, 1 refused</summary>"),
            "{md}"
        );
        let mut json = Vec::new();
        render::json(&p, &mut json).unwrap();
        let v: serde_json::Value = serde_json::from_slice(&json).unwrap();
        assert_eq!(v["summary"]["destroy"], 1);
        assert_eq!(v["summary"]["refused"], 1);
        assert_eq!(v["changes"][1]["action"], "refused");
        // Only refusals left: not "No changes".
        let (only, _) = run(&opts(&[], &[], &[], 5)).unwrap();
        let mut only_refused = only.clone();
        only_refused.changes.retain(|c| c.action == Action::Refused);
        let mut text = Vec::new();
        render::text(&only_refused, &mut text).unwrap();
        let text = String::from_utf8(text).unwrap();
        assert!(!text.contains("No changes"), "{text}");
        assert!(text.contains("2 refused."), "{text}");
    }
}
