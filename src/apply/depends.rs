//! Apply, dependencies: the names of objects whose write did not land (failed, skipped
//! or held for approval), so that an object naming one is skipped — or held with it —
//! instead of being sent half-valid (guarantee 3 of [`super`]).

use std::collections::BTreeMap;

use serde_json::Value;

use super::{ObjectResult, Outcome};
use crate::object::Kind;
use crate::plan::Plan;

/// Names of objects whose write did not land, for dependency skipping, each with
/// whether it is only held for approval (a dependent then waits too).
#[derive(Default)]
pub(super) struct Failed {
    purposes: BTreeMap<String, bool>,
    data_sources: BTreeMap<String, bool>,
}

impl Failed {
    pub(super) fn record(&mut self, r: &ObjectResult, plan: &Plan) {
        let held = matches!(r.outcome, Outcome::Held { .. });
        // A name both failed and held counts as failed.
        let put = |m: &mut BTreeMap<String, bool>, name: String| {
            let e = m.entry(name).or_insert(held);
            *e = *e && held;
        };
        match r.key.kind {
            Kind::Purpose => {
                put(&mut self.purposes, r.key.name.clone());
            }
            Kind::Data => {
                if let Some(dry) = plan
                    .changes
                    .iter()
                    .find(|c| c.key == r.key)
                    .and_then(|c| c.data.as_ref())
                {
                    for n in dry.creating.iter().chain(&dry.updating) {
                        put(&mut self.data_sources, n.clone());
                    }
                }
            }
            Kind::Policy | Kind::Project => {}
        }
    }

    /// The first failed (or held) object that `body` names, if any, and whether it is
    /// only held.
    pub(super) fn blocking(&self, body: &Value, kind: Kind) -> Option<(String, bool)> {
        let names = |field: &str| -> Vec<String> {
            body.get(field)
                .and_then(Value::as_array)
                .map(|a| {
                    a.iter()
                        .filter_map(Value::as_str)
                        .map(str::to_string)
                        .collect()
                })
                .unwrap_or_default()
        };
        let purpose_hit = |p: &str| {
            self.purposes
                .iter()
                .find(|(f, _)| p == f.as_str() || p.starts_with(&format!("{f}.")))
                .map(|(_, held)| *held)
        };
        match kind {
            Kind::Project => {
                for p in names("purposes") {
                    if let Some(held) = purpose_hit(&p) {
                        return Some((format!("purpose/{p}"), held));
                    }
                }
                names("datasources").into_iter().find_map(|d| {
                    self.data_sources
                        .get(&d)
                        .map(|held| (format!("data source {d:?}"), *held))
                })
            }
            Kind::Policy => {
                let mut found = None;
                visit_purposes(body, &mut |p| {
                    if found.is_none() {
                        found = purpose_hit(p).map(|held| (format!("purpose/{p}"), held));
                    }
                });
                found
            }
            Kind::Purpose | Kind::Data => None,
        }
    }
}

/// Calls `f` for every string inside any `purposes` array of a policy body.
fn visit_purposes(v: &Value, f: &mut dyn FnMut(&str)) {
    match v {
        Value::Object(map) => {
            for (k, v) in map {
                if k == "purposes" {
                    for p in v.as_array().into_iter().flatten().filter_map(Value::as_str) {
                        f(p);
                    }
                } else {
                    visit_purposes(v, f);
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|i| visit_purposes(i, f)),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::object::ObjectKey;
    use crate::plan::Action;
    use serde_json::json;

    #[test]
    fn dependents_of_failed_objects_are_named() {
        let mut f = Failed::default();
        f.purposes.insert("Research".into(), false);
        f.data_sources.insert("Sales Orders".into(), true);
        let project = json!({"purposes":["Research.Clinical"],"datasources":[]});
        assert_eq!(
            f.blocking(&project, Kind::Project),
            Some(("purpose/Research.Clinical".into(), false))
        );
        let project2 = json!({"purposes":["Other"],"datasources":["Sales Orders"]});
        assert_eq!(
            f.blocking(&project2, Kind::Project),
            Some(("data source \"Sales Orders\"".into(), true)),
            "a held data source holds what names it"
        );
        let policy = json!({"actions":[{"rules":[{"type":"Purpose Restriction","config":{"purposes":["Research"]}}]}]});
        assert_eq!(
            f.blocking(&policy, Kind::Policy),
            Some(("purpose/Research".into(), false))
        );
        assert_eq!(
            f.blocking(&json!({"purposes":["Researcher"]}), Kind::Project),
            None
        );
    }

    #[test]
    fn a_failure_beats_a_hold_for_the_same_name() {
        let r = |outcome| ObjectResult {
            key: ObjectKey::new(Kind::Purpose, "P"),
            action: Action::Update,
            outcome,
        };
        let mut f = Failed::default();
        let plan = Plan::default();
        f.record(&r(Outcome::Held { reason: "x".into() }), &plan);
        assert_eq!(f.purposes.get("P"), Some(&true));
        f.record(&r(Outcome::Failed { error: "x".into() }), &plan);
        assert_eq!(f.purposes.get("P"), Some(&false));
    }
}
