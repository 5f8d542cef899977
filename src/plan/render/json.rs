//! The JSON plan: one versioned document (`format_version`), each change with its risk,
//! the reason and whether it is held for approval.

use std::io::{self, Write};

use serde::Serialize;

use super::JSON_FORMAT_VERSION;
use crate::plan::risk::{Assessment, Risk};
use crate::plan::{Change, Plan, PlanScope, Summary};

/// One change of the JSON plan: the change itself, its risk and the reason, and whether
/// it is held for approval.
#[derive(Serialize)]
struct JsonChange<'a> {
    #[serde(flatten)]
    change: &'a Change,
    risk: Risk,
    risk_reason: String,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    held: bool,
}

#[derive(Serialize)]
struct JsonPlan<'a> {
    format_version: u32,
    origin: &'a str,
    revision: &'a str,
    #[serde(skip_serializing_if = "PlanScope::is_plain_full")]
    scope: &'a PlanScope,
    has_changes: bool,
    summary: Summary,
    changes: Vec<JsonChange<'a>>,
}

/// Writes the plan as one JSON document (schema in README, `format_version` 1).
///
/// # Errors
/// Only I/O errors of `out`.
pub fn json(plan: &Plan, out: &mut dyn Write) -> io::Result<()> {
    let doc = JsonPlan {
        format_version: JSON_FORMAT_VERSION,
        origin: &plan.origin,
        revision: &plan.revision,
        scope: &plan.scope,
        has_changes: plan.has_changes(),
        summary: plan.summary(),
        changes: plan
            .changes
            .iter()
            .map(|c| {
                let Assessment { risk, reason } = c.risk();
                JsonChange {
                    change: c,
                    risk,
                    risk_reason: reason,
                    held: plan.held_of(c).is_some(),
                }
            })
            .collect(),
    };
    serde_json::to_writer_pretty(&mut *out, &doc)?;
    writeln!(out)
}
