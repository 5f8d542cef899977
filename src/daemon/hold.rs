//! The daemon's hold on changes that weaken data protection (issue 16, `--weakening
//! hold`): after each plan, the weakening changes that no `Immuta-Approve` trailer
//! approves are held ([`crate::plan::risk::hold`]); the rest of the plan is applied.
//!
//! Input: the plan, the revision's Git history, the last applied revision and the
//! recorded approval uses. Output: the held changes (for `/status`, the metric and the
//! log) and the uses to record.
//!
//! - The trailers come from the commits since the last applied revision
//!   ([`crate::source::git::log`]); a local directory has no commits, so nothing is
//!   approved there (use `--weakening allow`).
//! - The uses are kept in `approvals.json` in the state directory, or in memory without
//!   one (then a restart forgets them, and a trailer still in range approves again only
//!   the change it approves then).
//! - Reading the commits can fail (a repository removed under the daemon): then nothing
//!   is approved this cycle, and the failure is logged.

use crate::plan::risk::approve::{self, Approver, Used};
use crate::plan::risk::{self, Held};
use crate::plan::Plan;
use crate::source::git::log::History;
use crate::source::SourceId;
use crate::state::{approvals, Approvals, StateDir};

/// The approval uses the daemon remembers between cycles.
#[derive(Debug, Default)]
pub struct Holds {
    /// Loaded from the state directory on first use.
    used: Option<Vec<Used>>,
}

impl Holds {
    /// Holds the weakening changes of `plan` that no trailer in the commits since
    /// `since` approves; records the uses. Logs what it held and what it let through.
    pub async fn hold(
        &mut self,
        state: Option<&StateDir>,
        source: &SourceId,
        history: Option<History>,
        since: Option<String>,
        plan: &mut Plan,
    ) -> Vec<Held> {
        if plan.weakening().is_empty() {
            return Vec::new();
        }
        let local = history.is_none();
        let commits = match history {
            None => Vec::new(),
            Some(h) => {
                let read =
                    tokio::task::spawn_blocking(move || h.commits_since(since.as_deref())).await;
                match read {
                    Ok(Ok(c)) => c,
                    Ok(Err(e)) => {
                        tracing::warn!(error = %e, "cannot read the commits since the last applied revision: nothing is approved this cycle");
                        Vec::new()
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, "reading commits did not finish: nothing is approved this cycle");
                        Vec::new()
                    }
                }
            }
        };
        let (mut grants, warnings) = approve::grants(&commits);
        for w in &warnings {
            tracing::warn!(warning = %crate::terminal::escape(w), "approval");
        }
        let recorded = match self.recorded(state, source) {
            Some(r) => r,
            None => {
                // Without the recorded uses a trailer could approve a change it was not
                // first used for: approve nothing until the file reads again.
                grants.clear();
                Vec::new()
            }
        };
        let mut approver = Approver::new(grants, recorded);
        let held = risk::hold(plan, &mut |c, a| {
            let ok = approver.approves(c);
            if ok {
                tracing::info!(key = %c.key, reason = %a.reason, "weakening change approved by an Immuta-Approve trailer");
            }
            ok
        });
        let used = approver.into_used();
        if let (Some(dir), Some(_)) = (state, &self.used) {
            let file = Approvals {
                version: approvals::VERSION,
                source: Some(source.clone()),
                used: used.clone(),
            };
            if let Err(e) = dir.save_approvals(&file) {
                tracing::warn!(error = %e, "cannot record the approvals used");
            }
        }
        if self.used.is_some() {
            self.used = Some(used);
        }
        for h in &held {
            tracing::warn!(key = %h.key, action = ?h.action, reason = %h.reason, "held for approval: weakens data protection; approve with an Immuta-Approve trailer");
        }
        if local && !held.is_empty() {
            tracing::warn!("a local directory has no commits, so no trailer can approve these changes: run with --weakening allow to apply them");
        }
        held
    }

    /// The recorded uses; `None` when the state file cannot be read (it is read again
    /// next cycle).
    fn recorded(&mut self, state: Option<&StateDir>, source: &SourceId) -> Option<Vec<Used>> {
        if let Some(used) = &self.used {
            return Some(used.clone());
        }
        let loaded = match state.map(StateDir::load_approvals) {
            Some(Ok(Some(a))) => a.for_source(source),
            Some(Ok(None)) | None => Vec::new(),
            Some(Err(e)) => {
                tracing::warn!(error = %e, "cannot read the approvals used: nothing is approved this cycle");
                return None;
            }
        };
        self.used = Some(loaded.clone());
        Some(loaded)
    }
}
