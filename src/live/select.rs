//! Stage 3, selective read (issue 15): which objects an incremental plan reads one by
//! one. The four bulk lists (policies, projects, purposes, `GET /dataSource`) are read
//! every time; the per-object reads — a data source's dry run (which makes Immuta query
//! the customer's warehouse), its V1 detail reads, a project's `GET /project/{id}` and
//! data-source list — only for the objects a [`Selection`] does not carry.
//!
//! A carried connection gets a [`DataDryRun`] whose `noChange` is the names recorded
//! for it, so it still claims its data sources (they are not listed as unmanaged) and a
//! project naming one still resolves. A carried project is the listed id with the
//! desired body (in sync by its record). A listed id the records know as another,
//! unmanaged project is listed without a body (only its key and id are shown); a listed
//! id the records never saw is read.
//!
//! Input: the [`Selection`] the cycle built from its records. Output: the parts of the
//! [`super::LiveSet`]. This stage only reads.

use std::collections::{BTreeMap, BTreeSet};

use futures::stream::{self, StreamExt, TryStreamExt};
use serde_json::Value;

use super::{normalize, to_live, DataDryRun, Error, LiveObject};
use crate::client::Client;
use crate::manifest::DesiredSet;
use crate::object::{Kind, ObjectKey};

/// What a carried object is known by, from its record.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Carried {
    /// Data sources: the names the connection holds.
    pub names: Vec<String>,
    /// Projects: Immuta's id, when recorded.
    pub id: Option<u64>,
}

/// The objects a plan does not read one by one.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Selection {
    /// Desired data sources and projects carried as in sync, with their records.
    pub carried: BTreeMap<ObjectKey, Carried>,
    /// Project id → `projectKey` of every project the last read resolved.
    pub known_projects: BTreeMap<u64, String>,
    /// Projects read although not desired (the old key of a `moved` entry).
    pub read_anyway: BTreeSet<ObjectKey>,
}

impl Selection {
    /// Whether `key` is carried (not read one by one).
    pub fn is_carried(&self, key: &ObjectKey) -> bool {
        self.carried.contains_key(key)
    }
}

/// Dry runs of the desired connections `selection` does not carry; carried ones answer
/// with their recorded names.
pub(super) async fn read_data(
    client: &Client,
    desired: &DesiredSet,
    selection: Option<&Selection>,
) -> Result<BTreeMap<ObjectKey, DataDryRun>, Error> {
    let mut out = BTreeMap::new();
    let mut manifests = Vec::new();
    for m in desired
        .objects
        .values()
        .filter(|m| m.key.kind == Kind::Data)
    {
        match selection.and_then(|s| s.carried.get(&m.key)) {
            Some(c) => {
                out.insert(
                    m.key.clone(),
                    DataDryRun {
                        no_change: c.names.clone(),
                        ..Default::default()
                    },
                );
            }
            None => manifests.push(m),
        }
    }
    out.extend(dry_run_each(client, manifests).await?);
    Ok(out)
}

/// Dry runs of the desired connections `keys` names.
pub(super) async fn dry_run(
    client: &Client,
    desired: &DesiredSet,
    keys: &BTreeSet<ObjectKey>,
) -> Result<BTreeMap<ObjectKey, DataDryRun>, Error> {
    dry_run_each(
        client,
        keys.iter().filter_map(|k| desired.objects.get(k)).collect(),
    )
    .await
}

async fn dry_run_each(
    client: &Client,
    manifests: Vec<&crate::manifest::Manifest>,
) -> Result<BTreeMap<ObjectKey, DataDryRun>, Error> {
    stream::iter(manifests)
        .map(|m| async move {
            let answer = client.upsert(&m.key, &m.body, true).await?;
            let dry: DataDryRun = serde_json::from_value(answer).map_err(|e| Error::DryRun {
                key: m.key.clone(),
                message: e.to_string(),
            })?;
            Ok::<_, Error>((m.key.clone(), dry))
        })
        .buffer_unordered(64)
        .try_collect()
        .await
}

/// What the project read found: the live projects, and id → key of each.
pub(super) struct Projects {
    pub objects: Vec<LiveObject>,
    pub ids: BTreeMap<u64, String>,
}

/// Lists the projects and reads those `selection` does not carry (every one without a
/// selection).
pub(super) async fn read_projects(
    client: &Client,
    desired: &DesiredSet,
    selection: Option<&Selection>,
) -> Result<Projects, Error> {
    let hits = client.list_projects().await?;
    let listed = hits
        .iter()
        .filter(|h| h.get("type").and_then(Value::as_str) != Some("Schema"))
        .filter(|h| !h.get("deleted").and_then(Value::as_bool).unwrap_or(false))
        .filter_map(|h| h.get("id").and_then(Value::as_u64));
    let mut known = Vec::new();
    let mut to_read = Vec::new();
    for id in listed {
        match selection.and_then(|s| known_project(s, desired, id)) {
            Some(o) => known.push(o),
            None => to_read.push(id),
        }
    }
    let read: Vec<LiveObject> = stream::iter(to_read)
        .map(|id| async move { read_project(client, id).await })
        .buffer_unordered(64)
        .try_collect::<Vec<Option<LiveObject>>>()
        .await?
        .into_iter()
        .flatten()
        .collect();
    let objects: Vec<LiveObject> = known.into_iter().chain(read).collect();
    let ids = objects
        .iter()
        .filter_map(|o| Some((o.id?, o.key.name.clone())))
        .collect();
    Ok(Projects { objects, ids })
}

/// The live object of a listed project `id` that need not be read: a carried desired
/// project (its desired body), or a project the records know as unmanaged (no body).
fn known_project(s: &Selection, desired: &DesiredSet, id: u64) -> Option<LiveObject> {
    let key = ObjectKey::new(Kind::Project, s.known_projects.get(&id)?.as_str());
    let body = match desired.objects.get(&key) {
        Some(m) if s.is_carried(&key) => Some(m.body.clone()),
        Some(_) => return None,
        None if s.read_anyway.contains(&key) => return None,
        None => None,
    };
    Some(LiveObject {
        key,
        id: Some(id),
        system: false,
        body,
    })
}

async fn read_project(client: &Client, id: u64) -> Result<Option<LiveObject>, Error> {
    let (project, sources) =
        tokio::try_join!(client.get_project(id), client.project_data_sources(id))?;
    // The list can say `deleted: false` while the project itself says `true`
    // (000:33843-33847 vs 000:33898): a disabled project is not live.
    if project.get("deleted").and_then(Value::as_bool) == Some(true) {
        return Ok(None);
    }
    normalize::project(&project, &sources)
        .map(|n| Some(to_live(Kind::Project, n)))
        .map_err(|source| Error::Normalize {
            kind: Kind::Project,
            source,
        })
}
