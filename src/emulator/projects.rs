//! Emulator: projects (`POST /api/v2/project`, `DELETE /api/v2/project/{key}`, V1 views).
//!
//! Input: a validated V2 project body. Output: the documented summary and the V1 project
//! object (004:176-242, 000:33886-33953). References to purposes and data sources are by
//! name and must exist (422 otherwise). A dry run never mutates.

use std::collections::HashSet;

use serde_json::{json, Value};

use super::error::ApiError;
use super::store::Store;
use super::v1;
use super::validate;

/// One stored project.
#[derive(Debug, Clone)]
pub struct ProjectRec {
    /// Immuta id.
    pub id: u64,
    /// `projectKey`.
    pub key: String,
    /// The V2 body as last posted (generated for schema projects).
    pub raw: Value,
    /// The caller's membership id (`subscriptionId`).
    pub subscription_id: u64,
    /// For a schema project: the connection key that made it.
    pub schema_of: Option<String>,
    /// Data source names, in the body's order.
    pub datasources: Vec<String>,
    /// Disabled by a plain `DELETE /api/v2/project/{key}` (V1 `deleted: true`).
    pub deleted: bool,
    /// Creation time.
    pub created_at: String,
    /// Last update.
    pub updated_at: String,
}

fn names(v: &Value, field: &str) -> Vec<String> {
    v.get(field)
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .map(str::to_string)
        .collect()
}

/// Equalized: `equalization: true`, or any workspace project, which "will automatically be
/// equalized" (000:4564-4566). V1 gives the equalization as an array of policy conditions,
/// or null (004:58-59, 004:75); the emulator models no conditions, so an equalized project
/// reads `equalization: []` (choice) and `isEqualized: true` (004:102-103).
fn is_equalized(raw: &Value) -> bool {
    raw.get("equalization").and_then(Value::as_bool) == Some(true)
        || raw.get("workspace").is_some_and(|w| !w.is_null())
}

impl Store {
    /// `POST /api/v2/project`.
    ///
    /// # Errors
    /// 400 bad shape; 409 when the key belongs to a schema project; 422 when a purpose
    /// or data source it names does not exist.
    pub fn upsert_project(&mut self, body: &Value, dry: bool) -> Result<Value, ApiError> {
        validate::project(body)?;
        let key = body
            .get("projectKey")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string();
        for p in names(body, "purposes") {
            if !self.purpose_names.contains_key(&p) {
                return Err(ApiError::unprocessable(format!(
                    "Purpose \"{p}\" does not exist"
                )));
            }
        }
        let wanted = names(body, "datasources");
        for d in &wanted {
            let live = self
                .source_names
                .get(d)
                .and_then(|id| self.sources.get(id))
                .is_some_and(|s| !s.disabled);
            if !live {
                return Err(ApiError::unprocessable(format!(
                    "Data source \"{d}\" does not exist"
                )));
            }
        }
        let existing = self
            .project_keys
            .get(&key)
            .and_then(|id| self.projects.get(id));
        if existing.is_some_and(|p| p.schema_of.is_some()) {
            return Err(ApiError::conflict(format!(
                "project key \"{key}\" belongs to a schema project"
            )));
        }
        let creating = existing.is_none();
        // A disabled project posted again is enabled again (choice: docs/emulator.md).
        let updating = existing.is_some_and(|p| p.raw != *body || p.deleted);
        let before: HashSet<&str> = existing
            .map(|p| p.datasources.iter().map(String::as_str).collect())
            .unwrap_or_default();
        let after: HashSet<&str> = wanted.iter().map(String::as_str).collect();
        let added = after.difference(&before).count();
        let removed = before.difference(&after).count();
        let had_ws = existing.is_some_and(|p| p.raw.get("workspace").is_some_and(|w| !w.is_null()));
        let has_ws = body.get("workspace").is_some_and(|w| !w.is_null());
        let mut id = existing.map(|p| p.id);
        if !dry && (creating || updating) {
            let now = self.tick();
            match id.and_then(|pid| self.projects.get_mut(&pid)) {
                Some(p) => {
                    p.raw = body.clone();
                    p.datasources = wanted;
                    p.deleted = false;
                    p.updated_at = now;
                }
                None => {
                    let pid = Self::next(&mut self.ids.project);
                    let sub = Self::next(&mut self.ids.subscription);
                    self.project_keys.insert(key.clone(), pid);
                    self.projects.insert(
                        pid,
                        ProjectRec {
                            id: pid,
                            key,
                            raw: body.clone(),
                            subscription_id: sub,
                            schema_of: None,
                            datasources: wanted,
                            deleted: false,
                            created_at: now.clone(),
                            updated_at: now,
                        },
                    );
                    id = Some(pid);
                }
            }
            for t in names(body, "tags") {
                if !self.tags.contains_key(&t) {
                    let tid = Self::next(&mut self.ids.tag);
                    self.tags.insert(t, tid);
                }
            }
        }
        Ok(json!({
            "dryRun": dry, "creating": creating, "updating": updating,
            "numberOfDataSourcesAdded": added, "numberOfDataSourcesRemoved": removed,
            "creatingWorkspace": has_ws && !had_ws, "deletingWorkspace": had_ws && !has_ws,
            "projectId": id,
        }))
    }

    /// `DELETE /api/v2/project/{projectKey}[?hardDelete=true]`: without `hardDelete` the
    /// project is only disabled (it still lists, `deleted: true`), as the CLI documents for
    /// `immuta project delete` (000:1497-1500, 1732-1743); with it, it is removed.
    ///
    /// # Errors
    /// 404 for an unknown key.
    pub fn delete_project(&mut self, key: &str, hard: bool, dry: bool) -> Result<Value, ApiError> {
        let id = *self.project_keys.get(key).ok_or_else(|| {
            ApiError::not_found(format!("The project key \"{key}\" was not found"))
        })?;
        let name = self
            .projects
            .get(&id)
            .and_then(|p| p.raw.get("name").cloned())
            .unwrap_or(Value::Null);
        if !dry {
            if hard {
                self.projects.remove(&id);
                self.project_keys.remove(key);
                self.tick();
            } else if self.projects.get(&id).is_some_and(|p| !p.deleted) {
                let now = self.tick();
                if let Some(p) = self.projects.get_mut(&id) {
                    p.deleted = true;
                    p.updated_at = now;
                }
            }
        }
        Ok(json!({"dryRun": dry, "deleting": name}))
    }

    fn project_subscription(raw: &Value) -> (Value, &'static str) {
        v1::project_subscription(raw.get("subscriptionPolicy").and_then(Value::as_object))
    }

    /// The list hit of `GET /project` (004:114-175: no `projectKey`).
    pub fn project_hit(&self, p: &ProjectRec) -> Value {
        let (sp, st) = Self::project_subscription(&p.raw);
        json!({
            "id": p.id, "name": p.raw.get("name"), "status": "open", "description": p.raw.get("description"),
            "deleted": p.deleted, "updatedAt": p.updated_at, "subscriptionPolicy": sp, "createdAt": p.created_at,
            "filterId": p.id, "subscriptionType": st,
            "isEqualized": is_equalized(&p.raw),
            "acknowledgeRequired": false, "subscriptionStatus": "owner",
            "purposeCount": names(&p.raw, "purposes").len(), "hasDeletedPurposes": false,
            "workspace": p.raw.get("workspace"), "type": if p.schema_of.is_some() { json!("Schema") } else { Value::Null },
            "allowMaskedJoins": p.raw.get("allowMaskedJoins").and_then(Value::as_bool).unwrap_or(false),
        })
    }

    /// The V1 object of `GET /project/{id}`.
    pub fn project_v1(&self, p: &ProjectRec) -> Value {
        let (sp, st) = Self::project_subscription(&p.raw);
        let name = p
            .raw
            .get("name")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let purposes: Vec<Value> = names(&p.raw, "purposes")
            .iter()
            .filter_map(|n| {
                self.purpose_names
                    .get(n)
                    .and_then(|id| self.purposes.get(id))
            })
            .map(Store::purpose_v1)
            .collect();
        let tags: Vec<Value> = names(&p.raw, "tags")
            .iter()
            .map(|t| {
                json!({"id": self.tags.get(t), "name": t, "displayName": t.replace('.', " > "),
                "source": "curated", "context": "project", "addedBy": 2, "deleted": false})
            })
            .collect();
        let equalization = if is_equalized(&p.raw) {
            json!([])
        } else {
            Value::Null
        };
        let schema = p
            .schema_of
            .as_ref()
            .map(|_| json!(name.to_lowercase()))
            .unwrap_or(Value::Null);
        json!({
            "id": p.id, "projectKey": p.key, "name": name, "status": "open",
            "description": p.raw.get("description"),
            "documentation": p.raw.get("documentation").cloned().unwrap_or_else(|| json!(format!("# {name}"))),
            "deleted": p.deleted,
            "allowMaskedJoins": p.raw.get("allowMaskedJoins").and_then(Value::as_bool).unwrap_or(false),
            "subscriptionType": st, "subscriptionPolicy": sp, "equalization": equalization,
            "workspace": p.raw.get("workspace"), "snowflake": null,
            "type": if p.schema_of.is_some() { json!("Schema") } else { Value::Null },
            "schema": schema, "createdBy": 2, "updatedBy": 2, "createdAt": p.created_at, "updatedAt": p.updated_at,
            "schemaEvolutionId": p.schema_of.as_ref().and_then(|k| self.connections.get(k)).map(|c| c.evolution_id),
            "subscribedAsUser": true, "subscriptionId": p.subscription_id, "acknowledgeRequired": false,
            "subscriptionStatus": "owner", "requestedState": "owner", "approved": true,
            "subscriptionExpiration": null, "filterId": p.id, "purposeCount": purposes.len(),
            "purposes": purposes, "stagedPurposes": [], "tags": tags,
        })
    }

    /// The project's data sources as `GET /project/{id}/dataSources` items (000:34121-34212).
    pub fn project_sources(&self, p: &ProjectRec) -> Vec<Value> {
        p.datasources
            .iter()
            .filter_map(|n| self.source_names.get(n).and_then(|id| self.sources.get(id)))
            .map(|s| {
                let conn = self.connections.get(&s.key);
                json!({
                    "addedBy": "Emulator Admin", "dataSourceName": s.name, "policyHandlerType": "None",
                    "addedOn": p.updated_at, "dataSourceId": s.id, "addedByProfile": 2, "deleted": s.disabled,
                    "subscriptionType": "manual", "subscriptionStatus": "owner", "subscriptionPolicy": null,
                    "connectionString": conn.map(|c| super::data::connection_string(&c.raw)),
                    "blobHandlerType": conn.and_then(|c| c.raw.get("connection")).and_then(|c| c.get("handler")),
                    "derivedInThisProject": false,
                })
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references_must_exist_and_ids_are_stable() {
        let mut s = Store::new();
        let e = s
            .upsert_project(
                &json!({"projectKey": "p", "name": "P", "purposes": ["Nope"]}),
                false,
            )
            .unwrap_err();
        assert_eq!(e.status.as_u16(), 422);
        assert!(e.message.contains("Nope"));
        let body = json!({"projectKey": "p", "name": "P", "purposes": ["Use Case Outside De-identification"],
            "subscriptionPolicy": {"type": "anyone", "automaticSubscription": true}});
        let a = s.upsert_project(&body, false).unwrap();
        let b = s.upsert_project(&body, false).unwrap();
        assert_eq!(a["projectId"], b["projectId"]);
        assert_eq!(
            (b["creating"].clone(), b["updating"].clone()),
            (json!(false), json!(false))
        );
        let p = s.projects.values().next().unwrap();
        let v = s.project_v1(p);
        assert_eq!(v["documentation"], "# P");
        assert_eq!(v["subscriptionType"], "automatic");
        assert_eq!(
            v["purposes"][0]["name"],
            "Use Case Outside De-identification"
        );
        let id = a["projectId"].as_u64().unwrap();
        assert_eq!(
            s.delete_project("p", false, true).unwrap(),
            json!({"dryRun": true, "deleting": "P"})
        );
        assert!(!s.projects[&id].deleted, "a dry run changes nothing");
        assert_eq!(
            s.delete_project("p", false, false).unwrap(),
            json!({"dryRun": false, "deleting": "P"})
        );
        let v = s.project_v1(&s.projects[&id]);
        assert_eq!(v["deleted"], json!(true), "a plain delete only disables");
        assert_eq!(s.project_hit(&s.projects[&id])["deleted"], json!(true));
        let again = s.upsert_project(&body, false).unwrap();
        assert_eq!(again["projectId"], json!(id), "posting it again enables it");
        assert_eq!(again["updating"], json!(true));
        assert!(!s.projects[&id].deleted);
        s.delete_project("p", true, false).unwrap();
        assert_eq!(
            s.delete_project("p", false, false)
                .unwrap_err()
                .status
                .as_u16(),
            404,
            "hardDelete removes it"
        );
    }
}
