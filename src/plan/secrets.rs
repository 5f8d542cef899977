//! Connection credentials in a data-source plan (issue 13). Immuta never answers a
//! password, token or key back, so the plan can only know that one changed by comparing
//! it with what this tool last applied. It keeps, per connection key and credential
//! (its JSON pointer), a keyed digest of the value it applied: HMAC-SHA256 under a
//! random key of the state directory, never the value itself nor a plain hash of it (a
//! short password would fall to a dictionary).
//!
//! In a plan, a credential of a data source that will be written is shown as:
//! - `~ connection.password: (sensitive, will be sent)` when its digest differs from the
//!   one recorded (or none is recorded for that credential of a known connection);
//! - nothing when the digest matches;
//! - `? connection.password: (sensitive, cannot compare)` when nothing is recorded for
//!   the connection (no state directory, or never applied by this tool).
//!
//! The digests are kept in the state directory ([`crate::state::SecretDigests`]).
//! A credential the tool knows changed makes the data source an update even when the
//! dry run reports no change. A no-op without a record says nothing: the dry run was
//! sent the current credentials and Immuta reported no change.

use serde_json::Value;

use super::{Action, FieldChange, Plan};
use crate::manifest::DesiredSet;
use crate::object::Kind;
use crate::redact::MASK;
use crate::state::SecretDigests;

/// The note of a credential the tool knows changed.
pub const WILL_BE_SENT: &str = "sensitive, will be sent";

/// The note of a credential the tool cannot compare.
pub const CANNOT_COMPARE: &str = "sensitive, cannot compare";

/// The credentials of a desired data source: its sensitive pointers under
/// `/connection`, with their values as they will be sent.
pub(crate) fn credentials<'a>(
    body: &'a Value,
    sensitive: &'a std::collections::BTreeSet<String>,
) -> impl Iterator<Item = (&'a str, &'a Value)> + 'a {
    sensitive
        .iter()
        .filter(|p| p.starts_with("/connection/"))
        .filter_map(move |p| body.pointer(p).map(|v| (p.as_str(), v)))
}

/// `/connection/userFiles/0/content` → `connection.userFiles[0].content`.
fn display_path(pointer: &str) -> String {
    let mut out = String::new();
    for seg in pointer.trim_start_matches('/').split('/') {
        let seg = seg.replace("~1", "/").replace("~0", "~");
        if seg.chars().all(|c| c.is_ascii_digit()) && !seg.is_empty() {
            out.push_str(&format!("[{seg}]"));
        } else {
            if !out.is_empty() {
                out.push('.');
            }
            out.push_str(&seg);
        }
    }
    out
}

/// Adds the credential lines to the data sources of `plan` (module doc).
pub fn annotate(plan: &mut Plan, desired: &DesiredSet, digests: Option<&SecretDigests>) {
    for c in plan.changes.iter_mut().filter(|c| c.key.kind == Kind::Data) {
        let Some(m) = desired.objects.get(&c.key) else {
            continue;
        };
        if !matches!(c.action, Action::Update | Action::Refused | Action::NoOp) {
            continue;
        }
        let known = digests.and_then(|d| d.connections.get(&c.key.name).map(|k| (d, k)));
        let mut lines = Vec::new();
        for (pointer, value) in credentials(&m.body, &m.sensitive) {
            let note = match known {
                Some((d, k)) => {
                    if k.get(pointer) == Some(&d.digest(&c.key.name, pointer, value)) {
                        continue;
                    }
                    WILL_BE_SENT
                }
                None if c.action == Action::NoOp => continue,
                None => CANNOT_COMPARE,
            };
            lines.push(FieldChange {
                path: display_path(pointer),
                before: Some(Value::String(MASK.to_string())),
                after: Some(Value::String(MASK.to_string())),
                sensitive: true,
                note: Some(note.to_string()),
            });
        }
        if lines
            .iter()
            .any(|l| l.note.as_deref() == Some(WILL_BE_SENT))
            && c.action == Action::NoOp
        {
            c.action = Action::Update;
        }
        // Credentials first: they are what a reviewer cannot see anywhere else.
        lines.append(&mut c.fields);
        c.fields = lines;
    }
}

#[cfg(test)]
mod tests;
