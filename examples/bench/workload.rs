//! The generated workload: N objects in repository layout (60 % data sources, 25 %
//! policies, 10 % projects, 5 % purposes), and the edits the incremental figures make.

use std::collections::BTreeMap;
use std::path::Path;

use immuta_gitops::manifest::{self, DesiredSet};
use immuta_gitops::source::{FileEntry, Snapshot};

/// Manifest files for `n` objects, in repository layout.
pub fn generate(n: usize) -> BTreeMap<String, FileEntry> {
    let data = n * 60 / 100;
    let policies = n * 25 / 100;
    let projects = n * 10 / 100;
    let purposes = n - data - policies - projects;
    let mut files = BTreeMap::new();
    let mut put = |path: String, body: String| {
        files.insert(path, FileEntry::Blob(body.into_bytes()));
    };
    for i in 0..purposes {
        put(
            format!("purpose/p{i:05}.yaml"),
            format!("name: Purpose {i:05}\ndescription: Purpose number {i}\nsubpurposes:\n  - name: Purpose {i:05}.Child\n"),
        );
    }
    for i in 0..data {
        put(
            format!("data/ds{i:05}.yaml"),
            format!(
                "connectionKey: conn-{i:05}\nconnection:\n  handler: Snowflake\n  hostname: acct{h}.snowflakecomputing.com\n  port: 443\n  database: DB{i:05}\n  warehouse: WH\n  authenticationMethod: userPassword\n  username: svc\n  password: bench-password\nnameTemplate:\n  dataSourceFormat: \"DS {i:05} <Tablename>\"\nsources:\n  - table: orders\n    schema: public\n    tags:\n      table: [Bench.Table]\n",
                h = i % 7
            ),
        );
    }
    for i in 0..policies {
        put(format!("policy/pol{i:05}.yaml"), policy(i, i % 50));
    }
    for i in 0..projects {
        let p = if purposes > 0 { i % purposes } else { 0 };
        let d = if data > 0 { i % data } else { 0 };
        put(
            format!("project/prj{i:05}.yaml"),
            format!(
                "projectKey: project-{i:05}\nname: Project {i:05}\ndescription: Project number {i}\npurposes:\n  - Purpose {p:05}\ndatasources:\n  - DS {d:05} Orders\nsubscriptionPolicy:\n  type: anyone\n"
            ),
        );
    }
    files
}

/// Policy `i`, masking the columns tagged `Bench.Tag{tag}`.
fn policy(i: usize, tag: usize) -> String {
    format!(
        "policyKey: policy-{i:05}\nname: Policy {i:05}\ntype: data\nactions:\n  - rules:\n      - type: Masking\n        config:\n          fields:\n            - type: columnTags\n              columnTag: Bench.Tag{tag}\n          maskingConfig:\n            type: Hash\n        exceptions:\n          groups: [Admins]\ncircumstances:\n  - type: columnTags\n    columnTag: Bench.Tag{tag}\n"
    )
}

/// `files` after a commit that changes policy `i`: it masks another tag (`tag`).
pub fn change_policy(files: &mut BTreeMap<String, FileEntry>, i: usize, tag: usize) {
    files.insert(
        format!("policy/pol{i:05}.yaml"),
        FileEntry::Blob(policy(i, tag).into_bytes()),
    );
}

/// `generate(n)` with every data source's table tags changed.
pub fn every_connection_changed(n: usize) -> BTreeMap<String, FileEntry> {
    generate(n)
        .into_iter()
        .map(|(p, e)| match e {
            FileEntry::Blob(b) if p.starts_with("data/") => (
                p,
                FileEntry::Blob(
                    String::from_utf8(b)
                        .unwrap()
                        .replace("[Bench.Table]", "[Bench.Table, Bench.New]")
                        .into_bytes(),
                ),
            ),
            other => (p, other),
        })
        .collect()
}

/// Writes `files` under `dir` (a seed directory or a local repository).
pub fn write_dir(dir: &Path, files: &BTreeMap<String, FileEntry>) {
    for (rel, entry) in files {
        if let FileEntry::Blob(b) = entry {
            let p = dir.join(rel);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, b).unwrap();
        }
    }
}

/// The snapshot of `files` at revision `rev`.
pub fn snapshot(files: BTreeMap<String, FileEntry>, rev: &str) -> Snapshot {
    Snapshot::new("bench", rev, files)
}

/// The desired set of `files`.
pub fn load(files: BTreeMap<String, FileEntry>) -> DesiredSet {
    let snap = snapshot(files, "bench-rev");
    manifest::load(&snap, &BTreeMap::<String, String>::new()).unwrap_or_else(|d| panic!("{}", d[0]))
}
