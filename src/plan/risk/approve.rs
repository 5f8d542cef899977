//! Approvals of weakening changes: the `Immuta-Approve` trailer (issue 16).
//!
//! A commit since the last applied revision whose message ends with the trailer
//! `Immuta-Approve: <kind/name>[, <kind/name>...]` or `Immuta-Approve: all` (key
//! case-insensitive; trailers parsed Git's way, [`crate::source::git::log::trailers`])
//! approves the weakening changes to those objects. The rules that keep one approval from
//! approving something its author did not see:
//!
//! 1. Only commits since the last applied revision count (none applied yet, or history
//!    rewritten: only the head commit; [`crate::source::git::log`]).
//! 2. A trailer counts only in a commit that "sees the head": no other commit of the
//!    range changes the source after it (its author reviewed what the head holds).
//! 3. The first time a trailer approves a change, the use is recorded ([`Used`]: commit,
//!    object, digest of the change as planned). While the commit stays in range (a failed
//!    apply is retried from the same revision), the same trailer approves that object
//!    again only when its planned change is exactly the recorded one; a different change
//!    to the same object needs a new approval.
//!
//! Input: commits and the recorded uses. Output: which changes are approved, and the uses
//! to record. Pure.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::super::Change;
use crate::object::{Kind, ObjectKey};
use crate::source::git::log::{trailers, Commit};

/// The trailer key (matched case-insensitively).
pub const TRAILER: &str = "Immuta-Approve";

/// What one trailer value approves.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum Target {
    /// `all`: every weakening change.
    All,
    /// `kind/name`.
    Key(ObjectKey),
}

/// One approval: a target named in one commit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Grant {
    /// The commit carrying the trailer.
    pub commit: String,
    /// What it approves.
    pub target: Target,
}

/// One use of an approval, kept in the state directory.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Used {
    /// The commit carrying the trailer.
    pub commit: String,
    /// The object it approved.
    pub key: ObjectKey,
    /// Digest of the change it approved ([`digest`]).
    pub change: String,
}

/// The approvals in `commits`, and a warning for each trailer value that names nothing
/// (`kind/name` with an unknown kind) or sits in a commit that does not see the head.
pub fn grants(commits: &[Commit]) -> (Vec<Grant>, Vec<String>) {
    let mut out = Vec::new();
    let mut warnings = Vec::new();
    for c in commits {
        let short = c.id.get(..12).unwrap_or(&c.id);
        for (key, value) in trailers(&c.message) {
            if !key.eq_ignore_ascii_case(TRAILER) {
                continue;
            }
            if !c.sees_head {
                warnings.push(format!(
                    "{TRAILER} in commit {short} does not count: a later commit changes the source, so it approves changes its author did not see"
                ));
                continue;
            }
            for item in value.split(',').map(str::trim).filter(|s| !s.is_empty()) {
                match parse_target(item) {
                    Some(target) => out.push(Grant {
                        commit: c.id.clone(),
                        target,
                    }),
                    None => warnings.push(format!(
                        "{TRAILER} in commit {short}: {} is not kind/name or all; ignored",
                        super::quote(item)
                    )),
                }
            }
        }
    }
    (out, warnings)
}

fn parse_target(item: &str) -> Option<Target> {
    if item.eq_ignore_ascii_case("all") {
        return Some(Target::All);
    }
    let (kind, name) = item.split_once('/')?;
    let kind = Kind::from_dir(kind.trim())?;
    let name = name.trim();
    (!name.is_empty()).then(|| Target::Key(ObjectKey::new(kind, name)))
}

/// Digest of a change as planned (action, field values, dry-run answer): two different
/// changes to one object never share it. Values are the plan's masked ones, so a
/// changed secret alone does not change it.
pub fn digest(c: &Change) -> String {
    let doc = serde_json::json!({
        "key": c.key,
        "action": c.action,
        "fields": c.fields,
        "data": c.data,
    });
    hex::encode(Sha256::digest(doc.to_string().as_bytes()))
}

/// Decides approvals for one cycle.
pub struct Approver {
    grants: Vec<Grant>,
    used: BTreeSet<Used>,
}

impl Approver {
    /// From this cycle's grants and the uses recorded before (uses of commits no longer
    /// in range are dropped: their trailers can never count again).
    pub fn new(grants: Vec<Grant>, recorded: impl IntoIterator<Item = Used>) -> Self {
        let in_range: BTreeSet<&str> = grants.iter().map(|g| g.commit.as_str()).collect();
        let used = recorded
            .into_iter()
            .filter(|u| in_range.contains(u.commit.as_str()))
            .collect();
        Approver { grants, used }
    }

    /// True when a grant approves `c`; records the use.
    pub fn approves(&mut self, c: &Change) -> bool {
        let d = digest(c);
        for g in &self.grants {
            let names = match &g.target {
                Target::All => true,
                Target::Key(k) => *k == c.key,
            };
            if !names {
                continue;
            }
            let earlier = self
                .used
                .iter()
                .find(|u| u.commit == g.commit && u.key == c.key);
            match earlier {
                Some(u) if u.change == d => return true,
                // Spent on another change to this object.
                Some(_) => continue,
                None => {
                    self.used.insert(Used {
                        commit: g.commit.clone(),
                        key: c.key.clone(),
                        change: d,
                    });
                    return true;
                }
            }
        }
        false
    }

    /// The uses to record.
    pub fn into_used(self) -> Vec<Used> {
        self.used.into_iter().collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::{Action, FieldChange};
    use serde_json::json;

    fn commit(id: &str, message: &str, sees_head: bool) -> Commit {
        Commit {
            id: id.repeat(40 / id.len()),
            message: message.into(),
            sees_head,
        }
    }

    fn change(name: &str, after: &str) -> Change {
        Change {
            key: ObjectKey::new(Kind::Policy, name),
            action: Action::Update,
            fields: vec![FieldChange {
                path: "staged".into(),
                before: None,
                after: Some(json!(after)),
                sensitive: false,
                note: None,
            }],
            data: None,
            id: None,
            note: None,
            moved_from: None,
        }
    }

    #[test]
    fn trailers_name_objects_or_all() {
        let (g, w) = grants(&[
            commit(
                "a",
                "s\n\nimmuta-approve: policy/mask-ssn, purpose/A.B\n",
                true,
            ),
            commit("b", "s\n\nIMMUTA-APPROVE: All\n", true),
            commit("c", "s\n\nImmuta-Approve: widget/x, policy/\n", true),
            commit("d", "Immuta-Approve: all", true),
        ]);
        let targets: Vec<&Target> = g.iter().map(|g| &g.target).collect();
        assert_eq!(
            targets,
            vec![
                &Target::Key(ObjectKey::new(Kind::Policy, "mask-ssn")),
                &Target::Key(ObjectKey::new(Kind::Purpose, "A.B")),
                &Target::All,
            ]
        );
        assert_eq!(w.len(), 2, "{w:?}");
        assert!(w[0].contains("\"widget/x\""), "{w:?}");
    }

    #[test]
    fn a_trailer_behind_a_later_change_does_not_count() {
        let (g, w) = grants(&[commit("a", "s\n\nImmuta-Approve: all", false)]);
        assert!(g.is_empty());
        assert!(w[0].contains("does not count"), "{w:?}");
    }

    #[test]
    fn an_approval_is_spent_on_the_change_it_first_approved() {
        let (g, _) = grants(&[commit("a", "s\n\nImmuta-Approve: policy/x", true)]);
        let mut first = Approver::new(g.clone(), []);
        assert!(first.approves(&change("x", "v1")));
        assert!(!first.approves(&change("y", "v1")), "names x only");
        let used = first.into_used();
        assert_eq!(used.len(), 1);
        // The apply failed; the next cycle plans the same revision: the same change is
        // approved again, a different one to the same object is not.
        let mut again = Approver::new(g.clone(), used.clone());
        assert!(again.approves(&change("x", "v1")));
        let mut later = Approver::new(g, used.clone());
        assert!(!later.approves(&change("x", "v2")));
        // Once the commit is out of range its uses are dropped.
        let (other, _) = grants(&[commit("b", "s\n\nImmuta-Approve: all", true)]);
        assert!(Approver::new(other, used).into_used().is_empty());
    }
}
