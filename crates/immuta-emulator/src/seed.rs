//! Emulator: loads a seed directory (the repository layout) into a fresh store.
//!
//! Input: a directory with `purpose/ data/ policy/ project/` holding `*.yaml`, `*.yml` or
//! `*.json` (multi-document YAML allowed), and optionally `remote.yaml` describing the fake
//! remote databases. Output: the store after applying every document through the same
//! upsert path as a POST, in the order purpose → data → policy → project (files in name
//! order). Any bad file is an error naming it; templates are not expanded.

use std::path::{Path, PathBuf};

use serde::Deserialize;
use serde_json::Value;

use super::store::Store;
use super::Error;

/// `remote.yaml`: `databases: [{hostname, database, schemas: {schema: [table, ...]}}]`.
#[derive(Debug, Deserialize)]
struct Remote {
    #[serde(default)]
    databases: Vec<RemoteDb>,
}

#[derive(Debug, Deserialize)]
struct RemoteDb {
    hostname: String,
    #[serde(default)]
    database: String,
    #[serde(default)]
    schemas: std::collections::BTreeMap<String, Vec<String>>,
}

fn files(dir: &Path) -> Result<Vec<PathBuf>, Error> {
    if !dir.is_dir() {
        return Ok(Vec::new());
    }
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let rd = std::fs::read_dir(&d).map_err(|e| Error::Seed {
            path: d.clone(),
            message: e.to_string(),
        })?;
        for entry in rd {
            let p = entry
                .map_err(|e| Error::Seed {
                    path: d.clone(),
                    message: e.to_string(),
                })?
                .path();
            if p.is_dir() {
                stack.push(p);
            } else if p
                .extension()
                .and_then(|e| e.to_str())
                .is_some_and(|e| matches!(e, "yaml" | "yml" | "json"))
            {
                out.push(p);
            }
        }
    }
    out.sort();
    Ok(out)
}

fn documents(path: &Path) -> Result<Vec<Value>, Error> {
    let err = |message: String| Error::Seed {
        path: path.to_path_buf(),
        message,
    };
    let text = std::fs::read_to_string(path).map_err(|e| err(e.to_string()))?;
    if path.extension().and_then(|e| e.to_str()) == Some("json") {
        return serde_json::from_str(&text)
            .map(|v| vec![v])
            .map_err(|e| err(format!("invalid JSON at line {}", e.line())));
    }
    let mut out = Vec::new();
    for doc in serde_yaml::Deserializer::from_str(&text) {
        let v = Value::deserialize(doc).map_err(|e| {
            let at = e
                .location()
                .map(|l| format!(" at line {}, column {}", l.line(), l.column()))
                .unwrap_or_default();
            err(format!("invalid YAML{at}"))
        })?;
        if !v.is_null() {
            out.push(v);
        }
    }
    Ok(out)
}

/// Applies a seed directory to `store`.
///
/// # Errors
/// [`Error::Seed`] naming the first file that cannot be read, parsed or applied.
pub fn load(store: &mut Store, dir: &Path) -> Result<(), Error> {
    if !dir.is_dir() {
        return Err(Error::Seed {
            path: dir.to_path_buf(),
            message: "not a directory".into(),
        });
    }
    for name in ["remote.yaml", "remote.yml"] {
        let p = dir.join(name);
        if p.is_file() {
            let text = std::fs::read_to_string(&p).map_err(|e| Error::Seed {
                path: p.clone(),
                message: e.to_string(),
            })?;
            let remote: Remote = serde_yaml::from_str(&text).map_err(|e| Error::Seed {
                path: p.clone(),
                message: e.to_string(),
            })?;
            for db in remote.databases {
                for (schema, tables) in db.schemas {
                    store.add_remote(&db.hostname, &db.database, &schema, &tables);
                }
            }
        }
    }
    for kind in ["purpose", "data", "policy", "project"] {
        for path in files(&dir.join(kind))? {
            for doc in documents(&path)? {
                let r = match kind {
                    "purpose" => store.upsert_purpose(&doc, false),
                    "data" => store.upsert_data(&doc, false),
                    "policy" => store.upsert_policy(&doc, false),
                    _ => store.upsert_project(&doc, false),
                };
                r.map_err(|e| Error::Seed {
                    path: path.clone(),
                    message: e.message,
                })?;
            }
        }
    }
    Ok(())
}
