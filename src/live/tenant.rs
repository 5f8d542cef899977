//! Stage 3, whole-tenant read (for `export`): every policy, project, purpose and data
//! connection the tenant holds, in V2 shape, one object at a time.
//!
//! Input: a [`Client`] and the kinds asked for. Output: [`TenantRead`]. Unlike
//! [`super::read_live`], which refuses a partial live set (a plan built on one could
//! mistake unread objects for missing ones), this read keeps going when one object cannot
//! be read or normalised and reports it in [`TenantRead::failures`]: an export writes
//! what it could and names what it could not. A list that cannot be read at all is still
//! an error. This stage only reads.

use std::collections::BTreeSet;

use futures::stream::{self, StreamExt};
use serde_json::Value;

use super::{normalize, to_live, Error, LiveObject};
use crate::client::Client;
use crate::object::Kind;

/// Everything read from the tenant.
#[derive(Debug, Clone, Default)]
pub struct TenantRead {
    /// Live objects in V2 shape (system ones included, marked `system`).
    pub objects: Vec<LiveObject>,
    /// Objects that were listed but could not be read or normalised.
    pub failures: Vec<ReadFailure>,
}

/// One listed object that could not be turned into a V2 document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReadFailure {
    /// Its kind.
    pub kind: Kind,
    /// How it is named in the V1 answer (`policy 12 (Mask SSN)`).
    pub object: String,
    /// Why (never a secret: V1 reads of these kinds carry none).
    pub message: String,
}

/// Reads every object of `kinds`.
///
/// # Errors
/// [`Error::Client`] when a list itself cannot be read.
pub async fn read_tenant(client: &Client, kinds: &BTreeSet<Kind>) -> Result<TenantRead, Error> {
    // The three lists are read concurrently, as a plan reads them.
    let (purposes, policies, projects, data) = tokio::try_join!(
        purposes(client, kinds.contains(&Kind::Purpose)),
        policies(client, kinds.contains(&Kind::Policy)),
        projects(client, kinds.contains(&Kind::Project)),
        data(client, kinds.contains(&Kind::Data)),
    )?;
    let mut out = TenantRead::default();
    for part in [purposes, data, policies, projects] {
        out.objects.extend(part.objects);
        out.failures.extend(part.failures);
    }
    Ok(out)
}

/// Every live connection, grouped the way V1 groups one (by `schemaEvolutionId`, else by
/// connection string: [`super::data::connection_groups`]) and read through the documented
/// V1 data-source reads ([`super::data::read_connection`]). V1 does not expose connection
/// keys, so each object is keyed by its group's name (the connection string); export
/// marks that key as one a person must fill in.
async fn data(client: &Client, wanted: bool) -> Result<TenantRead, Error> {
    let mut out = TenantRead::default();
    if !wanted {
        return Ok(out);
    }
    let hits = client.list_data_sources().await?;
    let groups = super::data::connection_groups(&hits);
    let read: Vec<(String, Result<Value, crate::client::Error>)> = stream::iter(groups)
        .map(|(group, members)| async move {
            let body = super::data::read_connection(client, &group, &members).await;
            (group, body)
        })
        .buffer_unordered(client.concurrency().max(1))
        .collect()
        .await;
    for (group, body) in read {
        match body {
            Ok(body) => out.objects.push(LiveObject {
                key: crate::object::ObjectKey::new(Kind::Data, group),
                id: None,
                system: false,
                body: Some(body),
            }),
            Err(e) => out.failures.push(ReadFailure {
                kind: Kind::Data,
                object: format!("data sources of {group:?}"),
                message: e.to_string(),
            }),
        }
    }
    out.objects.sort_by(|a, b| a.key.cmp(&b.key));
    Ok(out)
}

async fn policies(client: &Client, wanted: bool) -> Result<TenantRead, Error> {
    let mut out = TenantRead::default();
    if !wanted {
        return Ok(out);
    }
    for p in client.list_policies().await? {
        if p.get("deleted").and_then(Value::as_bool) == Some(true) {
            continue;
        }
        match normalize::policy(&p) {
            Ok(n) => out.objects.push(to_live(Kind::Policy, n)),
            Err(e) => out.failures.push(failure(Kind::Policy, &p, &e.to_string())),
        }
    }
    Ok(out)
}

fn failure(kind: Kind, v1: &Value, message: &str) -> ReadFailure {
    let id = v1.get("id").and_then(Value::as_u64);
    let name = v1.get("name").and_then(Value::as_str);
    let object = match (id, name) {
        (Some(id), Some(n)) => format!("{kind} {id} ({n})"),
        (Some(id), None) => format!("{kind} {id}"),
        (None, Some(n)) => format!("{kind} {n:?}"),
        (None, None) => kind.to_string(),
    };
    ReadFailure {
        kind,
        object,
        message: message.to_string(),
    }
}

async fn purposes(client: &Client, wanted: bool) -> Result<TenantRead, Error> {
    let mut out = TenantRead::default();
    if !wanted {
        return Ok(out);
    }
    let (named, unnamed): (Vec<Value>, Vec<Value>) = client
        .list_purposes()
        .await?
        .into_iter()
        .filter(|p| p.get("deleted").and_then(Value::as_bool) != Some(true))
        .partition(|p| p.get("name").and_then(Value::as_str).is_some());
    for p in &unnamed {
        out.failures.push(failure(
            Kind::Purpose,
            p,
            "member \"name\" is missing or not a string",
        ));
    }
    let normalized = normalize::purposes(&named).map_err(|source| Error::Normalize {
        kind: Kind::Purpose,
        source,
    })?;
    out.objects
        .extend(normalized.into_iter().map(|n| to_live(Kind::Purpose, n)));
    Ok(out)
}

async fn projects(client: &Client, wanted: bool) -> Result<TenantRead, Error> {
    let mut out = TenantRead::default();
    if !wanted {
        return Ok(out);
    }
    let hits = client.list_projects().await?;
    let listed: Vec<&Value> = hits
        .iter()
        .filter(|h| h.get("deleted").and_then(Value::as_bool) != Some(true))
        .collect();
    let mut read: Vec<(usize, Result<Option<LiveObject>, ReadFailure>)> =
        stream::iter(listed.into_iter().enumerate())
            .map(|(i, hit)| async move { (i, project(client, hit).await) })
            .buffer_unordered(client.concurrency())
            .collect()
            .await;
    // Keep the list's order, whatever order the reads finished in.
    read.sort_by_key(|(i, _)| *i);
    for (_, r) in read {
        match r {
            Ok(Some(o)) => out.objects.push(o),
            Ok(None) => {}
            Err(f) => out.failures.push(f),
        }
    }
    Ok(out)
}

async fn project(client: &Client, hit: &Value) -> Result<Option<LiveObject>, ReadFailure> {
    let Some(id) = hit.get("id").and_then(Value::as_u64) else {
        return Err(failure(
            Kind::Project,
            hit,
            "member \"id\" is missing or not a number",
        ));
    };
    let (project, sources) =
        match tokio::try_join!(client.get_project(id), client.project_data_sources(id)) {
            Ok(pair) => pair,
            // Deleted between the list and the read: not live.
            Err(e) if e.is_not_found() => return Ok(None),
            Err(e) => return Err(failure(Kind::Project, hit, &e.to_string())),
        };
    // A disabled project is not live (000:33843-33847 vs 000:33898).
    if project.get("deleted").and_then(Value::as_bool) == Some(true) {
        return Ok(None);
    }
    normalize::project(&project, &sources)
        .map(|n| Some(to_live(Kind::Project, n)))
        .map_err(|e| failure(Kind::Project, &project, &e.to_string()))
}
