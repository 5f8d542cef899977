//! Emulator: the in-memory tenant. Raw V2 documents plus the bookkeeping (ids, clocks,
//! name indexes) the V1 reads need.
//!
//! Input: validated V2 bodies (from routes or seed files). Output: the documented V2
//! summaries, and V1 objects for reads. Never does I/O; a dry run never mutates.
//! Ids are stable integers per kind; timestamps come from a logical clock so runs repeat.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use serde_json::{json, Value};

use super::error::ApiError;
use super::v1;
use super::validate;

/// Logical clock origin: 2024-01-01T00:00:00Z.
const EPOCH: u64 = 1_704_067_200;

/// A stored global policy.
#[derive(Debug, Clone)]
pub struct PolicyRec {
    /// Immuta id.
    pub id: u64,
    /// `policyKey`.
    pub key: String,
    /// The V2 body as last posted (`Null` for built-ins).
    pub raw: Value,
    /// The V1 object reads return.
    pub v1: Value,
}

/// A stored purpose (roots and sub-purposes alike).
#[derive(Debug, Clone)]
pub struct PurposeRec {
    /// Immuta id.
    pub id: u64,
    /// Fully-qualified name.
    pub name: String,
    /// Name of the purpose document that declared it (itself for a root).
    pub root: String,
    /// `{description?, acknowledgement?, kAnonNoiseReduction?}` from the body.
    pub fields: Value,
    /// Built in.
    pub system: bool,
    /// Creation time.
    pub created_at: String,
    /// Last update.
    pub updated_at: String,
}

/// Monotonic id counters, one per kind.
#[derive(Debug, Clone)]
pub struct Ids {
    pub(super) policy: u64,
    pub(super) purpose: u64,
    pub(super) project: u64,
    pub(super) source: u64,
    pub(super) subscription: u64,
    pub(super) evolution: u64,
    pub(super) tag: u64,
}

/// The whole tenant.
#[derive(Debug, Clone)]
pub struct Store {
    clock: u64,
    pub(super) ids: Ids,
    /// Policies by id.
    pub policies: BTreeMap<u64, PolicyRec>,
    policy_keys: HashMap<String, u64>,
    /// Purposes by id.
    pub purposes: BTreeMap<u64, PurposeRec>,
    /// Purpose name → id (also the name-ordered listing).
    pub purpose_names: BTreeMap<String, u64>,
    /// Deleted purposes by id: a real tenant keeps them, listed only with
    /// `includeDeleted=true` (000:14069-14115) and answered with `deleted: true`.
    pub deleted_purposes: BTreeMap<u64, PurposeRec>,
    /// Projects by id.
    pub projects: BTreeMap<u64, super::projects::ProjectRec>,
    pub(super) project_keys: HashMap<String, u64>,
    /// Connection key → ids of the schema projects it generated (may name projects
    /// deleted since; readers check), so a data upsert never scans every project.
    pub(super) schema_projects: HashMap<String, BTreeSet<u64>>,
    /// Data-source groups by connection key.
    pub connections: BTreeMap<String, super::data::ConnRec>,
    /// Data sources by id.
    pub sources: BTreeMap<u64, super::data::SourceRec>,
    pub(super) source_names: HashMap<String, u64>,
    /// The fake remote databases: (hostname, database) → schema → tables.
    pub catalog: super::data::Catalog,
    pub(super) tags: HashMap<String, u64>,
}

const REID_ACK: &str = "I agree to use the data associated with this project for the stated purpose of the project, and for that purpose only, as listed in the project's homepage, and to refrain from sharing that data outside of the project or Immuta. I also agree not to re-identify or take any steps to re-identify the individuals whose personal information is contained in the data sources attached to the project. In the event that these individuals have been identified or that I discover risks that I believe could lead to their identification, I agree to immediately notify the project owner or governance team and take immediate action to address and mitigate such risks. I further agree to refrain from contacting any individuals who might be identified.";
const HIPAA_ACK: &str = "I agree to use the data associated with this project for the stated purpose of the project, and for that purpose only, as listed in the project's homepage, and to refrain from sharing that data outside of the project or Immuta. I also agree not to re-identify or take any steps to re-identify the individuals whose health information is contained in the data sources attached to the project. In the event that these individuals have been identified or that I discover risks that I believe could lead to their identification, I agree to immediately notify the project owner or governance team and take immediate action to address and mitigate such risks. I further agree to refrain from contacting any individuals who might be identified.";
const OUTSIDE_ACK: &str = "I agree to use the data associated with this project for the stated purpose of the project, and for that purpose only, as listed in the project's homepage, and to refrain from sharing that data outside of the project or Immuta. In the event that I discover risks that I believe could lead to unauthorized access, I agree to immediately notify the project owner or governance team and take immediate action to address and mitigate such risks.";

impl Default for Store {
    fn default() -> Self {
        Self::new()
    }
}

impl Store {
    /// A fresh tenant with the built-ins every tenant ships with (000:27730, 000:14870).
    pub fn new() -> Self {
        let mut s = Store {
            clock: 0,
            ids: Ids {
                policy: 1,
                purpose: 0,
                project: 0,
                source: 0,
                subscription: 0,
                evolution: 0,
                tag: 0,
            },
            policies: BTreeMap::new(),
            policy_keys: HashMap::new(),
            purposes: BTreeMap::new(),
            purpose_names: BTreeMap::new(),
            deleted_purposes: BTreeMap::new(),
            projects: BTreeMap::new(),
            project_keys: HashMap::new(),
            schema_projects: HashMap::new(),
            connections: BTreeMap::new(),
            sources: BTreeMap::new(),
            source_names: HashMap::new(),
            catalog: BTreeMap::new(),
            tags: HashMap::new(),
        };
        let nca = v1::new_column_added();
        s.policies.insert(
            1,
            PolicyRec {
                id: 1,
                key: "New Column Added".into(),
                raw: Value::Null,
                v1: nca,
            },
        );
        s.policy_keys.insert("New Column Added".into(), 1);
        let reid = "Re-identification Prohibited";
        for (name, ack) in [
            (reid.to_string(), REID_ACK),
            (format!("{reid}.Safe Harbor Method"), HIPAA_ACK),
            (format!("{reid}.CCPA"), REID_ACK),
            (
                "Use Case Outside De-identification".to_string(),
                OUTSIDE_ACK,
            ),
        ] {
            let root = name.split('.').next().unwrap_or(&name).to_string();
            let at = "2021-08-16T20:25:44.423Z".to_string();
            s.insert_purpose(&name, &root, json!({"acknowledgement": ack}), true, at);
        }
        s
    }

    /// Advances the logical clock and returns the new time.
    pub fn tick(&mut self) -> String {
        self.clock += 1;
        v1::rfc3339(EPOCH + self.clock)
    }

    /// Next id of a counter.
    pub(super) fn next(counter: &mut u64) -> u64 {
        *counter += 1;
        *counter
    }

    // ---- policies ----

    /// `POST /api/v2/policy`.
    ///
    /// # Errors
    /// 400 when the body is not the documented shape.
    pub fn upsert_policy(&mut self, body: &Value, dry: bool) -> Result<Value, ApiError> {
        validate::policy(body)?;
        let key = body
            .get("policyKey")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string();
        let existing = self
            .policy_keys
            .get(&key)
            .and_then(|id| self.policies.get(id));
        let creating = existing.is_none();
        let updating = existing.is_some_and(|p| p.raw != *body);
        let prior = existing.map(|p| {
            (
                p.id,
                p.v1.get("createdAt")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_string(),
            )
        });
        let mut id = prior.as_ref().map(|(id, _)| *id);
        if !dry && (creating || updating) {
            let now = self.tick();
            let (pid, created) = match prior {
                Some(p) => p,
                None => (Self::next(&mut self.ids.policy), now.clone()),
            };
            let v1 = v1::policy(
                body,
                &v1::Meta {
                    id: pid,
                    created_at: &created,
                    updated_at: &now,
                },
            );
            self.policies.insert(
                pid,
                PolicyRec {
                    id: pid,
                    key: key.clone(),
                    raw: body.clone(),
                    v1,
                },
            );
            self.policy_keys.insert(key, pid);
            id = Some(pid);
        }
        Ok(json!({"dryRun": dry, "creating": creating, "updating": updating, "policyId": id}))
    }

    /// `PUT /policy/global/{id}` ("Update the specified policy", 002:1401-1413): the body
    /// is a whole V1 global policy object (002:743 lists `policyKey` among its members).
    /// The stored V1 object becomes the body, with the server's own members (`id`,
    /// `createdAt`, `createdBy`, `createdByName`, `systemGenerated`, `deleted`) kept and
    /// `updatedAt` advanced; a new `policyKey` renames the policy under the same id.
    /// The answer is the stored object ("returns the body of the request payload").
    ///
    /// Choice (emulator.md, "Policy updates by id"): the stored V2 document follows a
    /// change of `policyKey` or `name` only; when any other member differs from the
    /// stored V1 object, the V2 document is forgotten, so the next V2 upsert of that key
    /// reports `updating: true` and re-derives the V1 object from V2.
    ///
    /// # Errors
    /// 404 for an unknown id; 400 when the body is not an object with a non-empty string
    /// `policyKey`; 422 (the unique-name answer clients.md §8 records) when another
    /// policy has that key.
    pub fn put_policy(&mut self, id: u64, body: &Value) -> Result<Value, ApiError> {
        let Some(p) = self.policies.get(&id) else {
            return Err(ApiError::not_found(format!("Policy {id} was not found")));
        };
        let Some(new) = body.as_object() else {
            return Err(ApiError::bad_request("the policy must be a JSON object"));
        };
        let key = match new.get("policyKey") {
            Some(Value::String(k)) if !k.trim().is_empty() => k.clone(),
            _ => {
                return Err(ApiError::bad_request(
                    "policyKey must be a non-empty string",
                ))
            }
        };
        if self.policy_keys.get(&key).is_some_and(|other| *other != id) {
            return Err(ApiError::unprocessable(format!(
                "A policy with the policyKey {key:?} already exists"
            )));
        }
        const SERVER: [&str; 7] = [
            "id",
            "createdAt",
            "updatedAt",
            "createdBy",
            "createdByName",
            "systemGenerated",
            "deleted",
        ];
        let mut v1 = p.v1.clone();
        let old = p.v1.as_object().cloned().unwrap_or_default();
        let only_names = new
            .iter()
            .filter(|(k, _)| {
                !SERVER.contains(&k.as_str()) && !matches!(k.as_str(), "policyKey" | "name")
            })
            .all(|(k, v)| old.get(k) == Some(v));
        let mut raw = if only_names {
            p.raw.clone()
        } else {
            Value::Null
        };
        let old_key = p.key.clone();
        if let Some(o) = v1.as_object_mut() {
            for (k, v) in new {
                if !SERVER.contains(&k.as_str()) {
                    o.insert(k.clone(), v.clone());
                }
            }
        }
        if let Some(r) = raw.as_object_mut() {
            r.insert("policyKey".into(), json!(key));
            if let Some(n) = new.get("name") {
                r.insert("name".into(), n.clone());
            }
        }
        let now = self.tick();
        if let Some(o) = v1.as_object_mut() {
            o.insert("updatedAt".into(), json!(now));
        }
        self.policy_keys.remove(&old_key);
        self.policy_keys.insert(key.clone(), id);
        self.policies.insert(
            id,
            PolicyRec {
                id,
                key,
                raw,
                v1: v1.clone(),
            },
        );
        Ok(v1)
    }

    /// `DELETE /policy/global/{id}`: removes it and returns the V1 object.
    ///
    /// # Errors
    /// 404 for an unknown id.
    pub fn delete_policy(&mut self, id: u64) -> Result<Value, ApiError> {
        let p = self
            .policies
            .remove(&id)
            .ok_or_else(|| ApiError::not_found(format!("Policy {id} was not found")))?;
        self.policy_keys.remove(&p.key);
        Ok(p.v1)
    }

    // ---- purposes ----

    fn insert_purpose(
        &mut self,
        name: &str,
        root: &str,
        fields: Value,
        system: bool,
        at: String,
    ) -> u64 {
        let id = Self::next(&mut self.ids.purpose);
        self.purposes.insert(
            id,
            PurposeRec {
                id,
                name: name.into(),
                root: root.into(),
                fields,
                system,
                created_at: at.clone(),
                updated_at: at,
            },
        );
        self.purpose_names.insert(name.into(), id);
        id
    }

    /// The V1 object of one purpose.
    pub fn purpose_v1(p: &PurposeRec) -> Value {
        let s = |k: &str| p.fields.get(k).and_then(Value::as_str);
        v1::purpose(&v1::PurposeView {
            id: p.id,
            name: &p.name,
            acknowledgement: s("acknowledgement"),
            description: s("description"),
            k_anon: s("kAnonNoiseReduction"),
            system: p.system,
            created_at: &p.created_at,
            updated_at: &p.updated_at,
        })
    }

    /// `POST /api/v2/purpose`. Sub-purposes omitted from a later POST are removed (the
    /// document is the full state of its hierarchy).
    ///
    /// # Errors
    /// 400 bad shape or a sub-purpose without its parent; 409 when a name belongs to
    /// another purpose document.
    pub fn upsert_purpose(&mut self, body: &Value, dry: bool) -> Result<Value, ApiError> {
        validate::purpose(body)?;
        let root = body
            .get("name")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string();
        let mut wanted: Vec<(String, Value)> = vec![(root.clone(), own_fields(body))];
        for s in body
            .get("subpurposes")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let name = s
                .get("name")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string();
            if wanted.iter().any(|(n, _)| *n == name) {
                return Err(ApiError::bad_request(format!(
                    "sub-purpose \"{name}\" is listed twice"
                )));
            }
            let parent = name.rsplit_once('.').map(|(p, _)| p).unwrap_or_default();
            if !wanted.iter().any(|(n, _)| n == parent) {
                return Err(ApiError::bad_request(format!(
                    "the parent of sub-purpose \"{name}\" is not listed before it"
                )));
            }
            wanted.push((name, own_fields(s)));
        }
        for (name, _) in &wanted {
            if let Some(p) = self
                .purpose_names
                .get(name)
                .and_then(|id| self.purposes.get(id))
            {
                if p.root != root {
                    return Err(ApiError::conflict(format!(
                        "purpose \"{name}\" is defined by purpose \"{}\"",
                        p.root
                    )));
                }
            }
        }
        // Every purpose a document owns is named `root` or `root.…` (each sub-purpose's
        // parent must be listed), so the owned set is one name range, not a full scan.
        let owned: Vec<u64> = self
            .purpose_names
            .range(root.clone()..)
            .take_while(|(n, _)| n.starts_with(root.as_str()))
            .filter_map(|(_, id)| self.purposes.get(id))
            .filter(|p| p.root == root)
            .map(|p| p.id)
            .collect();
        let creating = !self.purpose_names.contains_key(&root);
        let mut updating = !creating && owned.len() != wanted.len();
        for (name, fields) in &wanted {
            match self
                .purpose_names
                .get(name)
                .and_then(|id| self.purposes.get(id))
            {
                Some(p) if p.fields == *fields => {}
                Some(_) => updating = true,
                None => updating |= !creating,
            }
        }
        if dry || !(creating || updating) {
            let id = self.purpose_names.get(&root).copied();
            return Ok(
                json!({"dryRun": dry, "creating": creating, "updating": updating, "purposeId": id}),
            );
        }
        let now = self.tick();
        let keep: Vec<&str> = wanted.iter().map(|(n, _)| n.as_str()).collect();
        for id in owned {
            if self
                .purposes
                .get(&id)
                .is_some_and(|p| !keep.contains(&p.name.as_str()))
            {
                if let Some(p) = self.purposes.remove(&id) {
                    self.purpose_names.remove(&p.name);
                }
            }
        }
        for (name, fields) in wanted {
            let existing = self.purpose_names.get(&name).copied();
            match existing.and_then(|id| self.purposes.get_mut(&id)) {
                Some(p) if p.fields != fields => {
                    p.fields = fields;
                    p.updated_at = now.clone();
                }
                Some(_) => {}
                None => {
                    self.insert_purpose(&name, &root, fields, false, now.clone());
                }
            }
        }
        let id = self.purpose_names.get(&root).copied();
        Ok(json!({"dryRun": false, "creating": creating, "updating": updating, "purposeId": id}))
    }

    /// `DELETE /governance/purpose/{id}`: the purpose and every sub-purpose under it. They
    /// stay readable as deleted (by id, and listed with `includeDeleted=true`); a purpose
    /// posted again under a deleted name is a new purpose with a new id (choice).
    ///
    /// # Errors
    /// 404 for an unknown id.
    pub fn delete_purpose(&mut self, id: u64) -> Result<Value, ApiError> {
        let name = self
            .purposes
            .get(&id)
            .map(|p| p.name.clone())
            .ok_or_else(|| ApiError::not_found(format!("Purpose {id} was not found")))?;
        let mut ids = vec![id];
        ids.extend(self.descendants(&name).iter().map(|p| p.id));
        let now = self.tick();
        let mut out = Vec::new();
        for pid in ids {
            if let Some(mut p) = self.purposes.remove(&pid) {
                self.purpose_names.remove(&p.name);
                p.updated_at = now.clone();
                out.push(Self::deleted_purpose_v1(&p));
                self.deleted_purposes.insert(pid, p);
            }
        }
        Ok(Value::Array(out))
    }

    /// The V1 object of a deleted purpose: `deleted: true` (000:15006-15025).
    pub fn deleted_purpose_v1(p: &PurposeRec) -> Value {
        let mut v = Self::purpose_v1(p);
        if let Some(o) = v.as_object_mut() {
            o.insert("deleted".into(), json!(true));
        }
        v
    }

    /// Sub-purposes (all descendants) of a purpose, name order.
    pub fn descendants(&self, name: &str) -> Vec<&PurposeRec> {
        let prefix = format!("{name}.");
        self.purpose_names
            .range(prefix.clone()..)
            .take_while(|(n, _)| n.starts_with(&prefix))
            .filter_map(|(_, id)| self.purposes.get(id))
            .collect()
    }
}

/// The fields of one purpose entry the store keeps (everything but `name`/`subpurposes`).
fn own_fields(v: &Value) -> Value {
    let mut m = v.as_object().cloned().unwrap_or_default();
    m.remove("name");
    m.remove("subpurposes");
    Value::Object(m)
}

#[cfg(test)]
mod tests;
