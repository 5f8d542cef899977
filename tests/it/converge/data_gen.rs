//! Generators of data-source documents (`src/manifest/schema/data.rs`): every handler
//! with what it requires, one documented authentication method with what that requires,
//! name templates, options, and `sources` entries of every shape (a table of the remote
//! catalog, a table only the document names, a query, `{all: true}`, or none at all).

use proptest::collection::vec;
use proptest::option;
use proptest::prelude::*;
use proptest::sample::select;
use serde_json::{json, Map, Value};

use super::gen::{name, prose, put, tag, text};

/// One generated data-source document and the data-source names a project may list.
#[derive(Debug, Clone)]
pub struct Data {
    /// The V2 body.
    pub body: Value,
    /// Names set explicitly with `naming.datasource` (the only names whose spelling
    /// does not depend on Immuta's name templates).
    pub names: Vec<String>,
}

/// The remote catalog every emulator of the test is seeded with: database `i` holds
/// schemas `s<i>a` (two tables) and `s<i>b` (one table), all names unique.
pub fn remote_yaml(n: usize) -> String {
    let mut s = String::from("databases:\n");
    for i in 0..n {
        s.push_str(&format!(
            "  - hostname: h{i}.example.com\n    database: warehouse{i}\n    schemas:\n      s{i}a: [t{i}_one, t{i}_two]\n      s{i}b: [t{i}_three]\n"
        ));
    }
    s
}

/// Domain ids: what `options.domainCollectionId` and `domains` circumstances name.
pub const DOMAINS: &[&str] = &["4b1c2e", "domain Ω/2", "d-3"];

/// How many connections a tenant may have (and databases the catalog holds).
pub const MAX_DATA: usize = 3;

fn secret(i: usize, what: &'static str) -> impl Strategy<Value = Value> {
    prop_oneof![
        text(true).prop_map(move |t| Value::from(format!("{what}-{t}-{i}"))),
        Just(Value::from(format!(
            "{{{{EnvVar \"SECRET_{i}_{}\"}}}}",
            what.to_uppercase()
        ))),
        Just(Value::from(format!(
            "${{SECRET_{i}_{}}}",
            what.to_uppercase()
        ))),
    ]
}

fn user_files(i: usize) -> impl Strategy<Value = Value> {
    (secret(i, "key"), option::of(text(true))).prop_map(|(content, file)| {
        let mut m = Map::new();
        m.insert("keyName".into(), "private_key".into());
        m.insert("content".into(), content);
        put(
            &mut m,
            "userFilename",
            file.map(|f| format!("{f}.p8").into()),
        );
        json!([m])
    })
}

/// The connection: the handler, what it requires, and one documented authentication method
/// with what that requires (`HANDLERS`, `AUTH_RULES`).
fn connection(i: usize) -> impl Strategy<Value = (Map<String, Value>, Option<String>)> {
    let host = format!("h{i}.example.com");
    let db = format!("warehouse{i}");
    let handler = select(
        &[
            "Snowflake",
            "Databricks",
            "Redshift",
            "Google BigQuery",
            "Presto",
            "Trino",
            "Athena",
            "Apache Impala",
        ][..],
    );
    (
        handler,
        any::<u8>(),
        secret(i, "password"),
        user_files(i),
        any::<bool>(),
        option::of(any::<bool>()),
        option::of(1u16..65535),
        option::of(any::<bool>()),
        (option::of(text(true)), option::of(text(true))),
    )
        .prop_map(
            move |(handler, pick, password, files, flag, ssl, port, schema_scope, (opts, dir))| {
                let mut c = Map::new();
                c.insert("handler".into(), handler.into());
                let mut schema = None;
                let auth: &[&str] = match handler {
                    "Snowflake" => {
                        c.insert("hostname".into(), host.clone().into());
                        c.insert("database".into(), db.clone().into());
                        c.insert("warehouse".into(), format!("WH_{i}").into());
                        &["userPassword", "keyPair", "oAuthClientCredentials"]
                    }
                    "Databricks" => {
                        c.insert("hostname".into(), host.clone().into());
                        c.insert("database".into(), db.clone().into());
                        c.insert(
                            "httpPath".into(),
                            format!("/sql/1.0/warehouses/w{i}").into(),
                        );
                        &["token", "oAuthM2M"]
                    }
                    "Redshift" => {
                        c.insert("hostname".into(), host.clone().into());
                        c.insert("database".into(), db.clone().into());
                        c.insert("username".into(), format!("user{i}").into());
                        c.insert("password".into(), password.clone());
                        schema = Some(format!("s{i}a"));
                        &["userPassword", "okta"]
                    }
                    "Google BigQuery" => {
                        c.insert("sid".into(), host.clone().into());
                        c.insert("database".into(), db.clone().into());
                        c.insert("userFiles".into(), files.clone());
                        &["keyFile"]
                    }
                    "Athena" => {
                        c.insert("region".into(), "us-east-1".into());
                        c.insert(
                            "queryResultLocationBucket".into(),
                            format!("bucket-{i}").into(),
                        );
                        c.insert("database".into(), db.clone().into());
                        put(
                            &mut c,
                            "queryResultLocationDirectory",
                            dir.clone().map(|d| format!("results/{d}").into()),
                        );
                        &["none", "accessKey", "instanceRole"]
                    }
                    "Apache Impala" => {
                        c.insert("hostname".into(), host.clone().into());
                        c.insert("database".into(), db.clone().into());
                        &["kerberos"]
                    }
                    _ => {
                        c.insert("hostname".into(), host.clone().into());
                        c.insert("database".into(), db.clone().into());
                        &["userPassword", "token", "auto"]
                    }
                };
                let method = auth[usize::from(pick) % auth.len()];
                c.insert("authenticationMethod".into(), method.into());
                match (handler, method) {
                    (_, "userPassword") => {
                        c.insert("username".into(), format!("user{i}").into());
                        c.insert("password".into(), password);
                    }
                    ("Snowflake", "keyPair") => {
                        c.insert("username".into(), format!("user{i}").into());
                        c.insert("userFiles".into(), files);
                    }
                    ("Snowflake", "oAuthClientCredentials") => {
                        c.insert("useCertificate".into(), flag.into());
                        c.insert("clientId".into(), format!("client-{i}").into());
                        put(
                            &mut c,
                            "scope",
                            dir.clone().map(|s| format!("session:role:{s}").into()),
                        );
                        if flag {
                            c.insert("userFiles".into(), files);
                        } else {
                            c.insert("clientSecret".into(), password);
                        }
                    }
                    (_, "token") => {
                        c.insert("token".into(), password);
                    }
                    ("Databricks", "oAuthM2M") => {
                        c.insert("useCertificate".into(), flag.into());
                        c.insert("clientId".into(), format!("client-{i}").into());
                        c.insert("audience".into(), "https://example.invalid".into());
                        if flag {
                            c.insert("certificateThumbprint".into(), password);
                        } else {
                            c.insert("clientSecret".into(), password);
                        }
                    }
                    ("Redshift", "okta") => {
                        c.insert("idpHost".into(), "okta.example.invalid".into());
                        c.insert("appID".into(), format!("app{i}").into());
                        c.insert("role".into(), "analyst".into());
                    }
                    _ => {}
                }
                if schema.is_none() && schema_scope == Some(true) {
                    schema = Some(format!("s{i}b"));
                }
                if let Some(s) = &schema {
                    c.insert("schema".into(), s.clone().into());
                }
                put(&mut c, "ssl", ssl.map(Value::from));
                put(
                    &mut c,
                    "connectionStringOptions",
                    opts.map(|o| format!("application=gitops&note={o}").into()),
                );
                put(&mut c, "port", port.map(Value::from));
                (c, schema)
            },
        )
}

fn owner() -> impl Strategy<Value = Value> {
    (
        select(&["group", "user"][..]),
        text(true),
        option::of(text(true)),
    )
        .prop_map(|(ty, name, iam)| {
            let mut m = Map::new();
            m.insert("type".into(), ty.into());
            m.insert("name".into(), name.into());
            put(&mut m, "iam", iam.map(Value::from));
            Value::Object(m)
        })
}

fn column(j: usize) -> impl Strategy<Value = Value> {
    (
        option::of(select(&["text", "integer", "timestamp"][..])),
        option::of(any::<bool>()),
        option::of(select(&["VARCHAR(255)", "NUMBER(38,0)"][..])),
        option::of(any::<bool>()),
        option::of(prose()),
    )
        .prop_map(move |(dt, nullable, remote, pk, d)| {
            let mut m = Map::new();
            m.insert("name".into(), format!("col_{j}").into());
            put(&mut m, "dataType", dt.map(Value::from));
            put(&mut m, "nullable", nullable.map(Value::from));
            put(&mut m, "remoteType", remote.map(Value::from));
            put(&mut m, "primaryKey", pk.map(Value::from));
            put(&mut m, "description", d.map(Value::from));
            Value::Object(m)
        })
}

/// The optional fields every `sources[]` entry may carry.
fn source_extras() -> impl Strategy<Value = Map<String, Value>> {
    (
        option::of(prose()),
        option::of(prose()),
        option::of(vec(owner(), 0..3)),
        option::of((0..3usize).prop_flat_map(|n| (0..n).map(column).collect::<Vec<_>>())),
        option::of(vec(prose(), 1..3)),
        option::of((option::of(vec(tag(), 0..3)), vec(vec(tag(), 0..2), 0..2))),
    )
        .prop_map(|(d, doc, owners, cols, col_desc, tags)| {
            let mut m = Map::new();
            put(&mut m, "description", d.map(Value::from));
            put(&mut m, "documentation", doc.map(Value::from));
            put(&mut m, "owners", owners.map(Value::from));
            put(&mut m, "columns", cols.map(Value::from));
            put(
                &mut m,
                "columnDescriptions",
                col_desc.map(|ds| {
                    ds.into_iter()
                        .enumerate()
                        .map(|(j, d)| json!({"columnName": format!("col_{j}"), "description": d}))
                        .collect()
                }),
            );
            put(
                &mut m,
                "tags",
                tags.map(|(table, cols)| {
                    let mut t = Map::new();
                    put(&mut t, "table", table.map(Value::from));
                    if !cols.is_empty() {
                        let cols: Vec<Value> = cols
                            .into_iter()
                            .enumerate()
                            .map(
                                |(j, tags)| json!({"columnName": format!("col_{j}"), "tags": tags}),
                            )
                            .collect();
                        t.insert("columns".into(), cols.into());
                    }
                    Value::Object(t)
                }),
            );
            m
        })
}

/// One `sources[]` entry: a table of the catalog, a table only we name, or a query.
/// Returns the entry and the explicit data-source name, when it sets one.
/// With `named`, the entry is a table named with `naming.datasource`.
fn source(
    i: usize,
    j: usize,
    schema: String,
    named: bool,
) -> impl Strategy<Value = (Value, Option<String>)> {
    let name = name("ds ", i * 100 + j, true);
    (
        if named {
            Just(2u8).boxed()
        } else {
            (0..4u8).boxed()
        },
        if named {
            name.prop_map(Some).boxed()
        } else {
            option::of(name).boxed()
        },
        option::of(text(true)),
        source_extras(),
    )
        .prop_map(move |(shape, ds_name, naming_table, extras)| {
            let mut m = Map::new();
            let mut named = None;
            match shape {
                // A table of the catalog (only `s<i>a` tables exist in every scope),
                // listed once.
                0 if j == 0 && schema == format!("s{i}a") => {
                    m.insert("table".into(), format!("t{i}_one").into());
                    m.insert("schema".into(), schema.clone().into());
                }
                0..=2 => {
                    m.insert("table".into(), format!("x{i}_{j}").into());
                    m.insert("schema".into(), schema.clone().into());
                }
                _ => {
                    let ds = ds_name.clone().unwrap_or_else(|| format!("query {i}.{j}"));
                    m.insert(
                        "query".into(),
                        format!("SELECT * FROM {schema}.t{i}_one WHERE n > {j}").into(),
                    );
                    let mut naming = Map::new();
                    naming.insert("datasource".into(), ds.clone().into());
                    put(
                        &mut naming,
                        "table",
                        naming_table.as_ref().map(|_| format!("q{i}_{j}").into()),
                    );
                    put(
                        &mut naming,
                        "schema",
                        naming_table
                            .filter(|t| t.len() % 2 == 0)
                            .map(|_| format!("qs{i}").into()),
                    );
                    m.insert("naming".into(), Value::Object(naming));
                    named = Some(ds);
                }
            }
            if shape == 2 {
                if let Some(ds) = ds_name {
                    m.insert("naming".into(), json!({"datasource": ds}));
                    named = Some(ds);
                }
            }
            m.extend(extras);
            (Value::Object(m), named)
        })
}

pub fn data(i: usize) -> impl Strategy<Value = Data> {
    (
        name("conn ", i, true),
        connection(i),
        option::of(select(
            &[
                "<Schema> <Tablename>",
                "<tablename>",
                "<Database> <Schema> <Tablename>",
                "<schema>-<tablename> (custom)",
            ][..],
        )),
        option::of(select(&["<schema>", "<Schema>_x"][..])),
        option::of(select(&["<tablename>", "<Tablename>_t"][..])),
        (
            option::of(select(&["Schema <Schema>", "<schema> project"][..])),
            option::of((
                option::of(Just("<schema>_native")),
                option::of(Just("<tablename>_view")),
            )),
        ),
        (
            option::of(0..10_000i64),
            option::of(any::<bool>()),
            option::of(any::<u8>()),
            option::of(any::<bool>()),
            option::of(vec(tag(), 0..3)),
        ),
        option::of(vec(owner(), 0..3)),
        // Mostly a few entries of any shape, sometimes enough named tables for a project
        // to list more than a page of them.
        prop_oneof![3 => (0..4usize, Just(false)), 1 => (8..11usize, Just(true))],
        any::<bool>(),
    )
        .prop_flat_map(
            move |(key, (conn, schema), dsf, sf, tf, (spf, native), opts, owners, n, all)| {
                let schema = schema.unwrap_or_else(|| format!("s{i}a"));
                let entries: Vec<_> = (0..n.0)
                    .map(|j| source(i, j, schema.clone(), n.1))
                    .collect();
                (
                    Just((key, conn, dsf, sf, tf, spf, native, opts, owners)),
                    entries,
                    Just(all),
                    Just(n.0),
                )
            },
        )
        .prop_map(
            move |((key, conn, dsf, sf, tf, spf, native, opts, owners), entries, all, n)| {
                let mut m = Map::new();
                m.insert("connectionKey".into(), key.into());
                m.insert("connection".into(), Value::Object(conn));
                let mut nt = Map::new();
                put(&mut nt, "dataSourceFormat", dsf.map(Value::from));
                put(&mut nt, "schemaFormat", sf.map(Value::from));
                put(&mut nt, "tableFormat", tf.map(Value::from));
                put(
                    &mut nt,
                    "schemaProjectNameFormat",
                    spf.map(|f| format!("{f} {i}").into()),
                );
                if let Some((schema_f, view_f)) = native {
                    put(
                        &mut nt,
                        "nativeSchemaFormat",
                        schema_f.map(|f| format!("{f}_{i}").into()),
                    );
                    put(&mut nt, "nativeViewFormat", view_f.map(Value::from));
                }
                if !nt.is_empty() {
                    m.insert("nameTemplate".into(), Value::Object(nt));
                }
                let (stale, sdd, domain, hard, table_tags) = opts;
                let mut o = Map::new();
                put(&mut o, "staleDataTolerance", stale.map(Value::from));
                put(
                    &mut o,
                    "disableSensitiveDataDiscovery",
                    sdd.map(Value::from),
                );
                put(
                    &mut o,
                    "domainCollectionId",
                    domain.map(|d| DOMAINS[usize::from(d) % DOMAINS.len()].into()),
                );
                put(&mut o, "hardDelete", hard.map(Value::from));
                put(&mut o, "tableTags", table_tags.map(Value::from));
                if !o.is_empty() {
                    m.insert("options".into(), Value::Object(o));
                }
                put(&mut m, "owners", owners.map(Value::from));
                let mut names = Vec::new();
                let mut sources: Vec<Value> = Vec::new();
                for (e, named) in entries {
                    sources.push(e);
                    names.extend(named);
                }
                if all {
                    sources.push(json!({"all": true}));
                }
                // No `sources` at all means every table, like `{all: true}` (000:14362).
                if n > 0 || all {
                    m.insert("sources".into(), Value::Array(sources));
                }
                Data {
                    body: Value::Object(m),
                    names,
                }
            },
        )
}
