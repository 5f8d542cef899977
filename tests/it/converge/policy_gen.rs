//! Generators of global policies and projects (`src/manifest/schema/policy.rs`,
//! `project.rs`, `subscription.rs`): every modelled field present or absent, every closed
//! enum value, every documented rule, masking, selector and circumstance type, and
//! references to purposes and data sources of the same tenant.

use proptest::collection::vec;
use proptest::option;
use proptest::prelude::*;
use proptest::sample::select;
use serde_json::{json, Map, Value};

use super::gen::{put, some_of, text};

fn words() -> impl Strategy<Value = Vec<String>> {
    vec(text(true), 1..3)
}

fn tag() -> impl Strategy<Value = String> {
    prop_oneof![
        select(&["PII", "Discovered.PII", "Discovered.Person Name", "PHI"][..])
            .prop_map(str::to_string),
        text(true).prop_map(|t| format!("Tag.{t}")),
    ]
}

fn operator() -> impl Strategy<Value = Option<&'static str>> {
    option::of(select(&["any", "all"][..]))
}

fn attributes() -> impl Strategy<Value = Vec<Value>> {
    vec(
        (text(true), text(true)).prop_map(|(n, v)| json!({"name": n, "value": v})),
        1..3,
    )
}

/// A number the schema types as `Num`: whole or fractional.
fn num(lo: u32, hi: u32) -> impl Strategy<Value = Value> {
    prop_oneof![
        (lo..hi).prop_map(Value::from),
        (lo..hi).prop_map(|n| Value::from(f64::from(n) + 0.5)),
    ]
}

/// A subscription (policy `actions` or project `subscriptionPolicy`), any of the four
/// types, with the fields documented for it.
pub fn subscription() -> impl Strategy<Value = Value> {
    (
        select(&["anyone", "approval", "entitlements", "manual"][..]),
        option::of(any::<bool>()),
        option::of(any::<bool>()),
        option::of(text(true)),
        option::of(vec(
            (
                option::of(select(&["OWNER", "GOVERNANCE", "ADMIN"][..])),
                option::of(any::<bool>()),
            ),
            1..3,
        )),
        (
            operator(),
            option::of(words()),
            option::of(attributes()),
            option::of(text(true)),
        ),
        option::of(select(&["READ", "WRITE"][..])),
        option::of(any::<bool>()),
    )
        .prop_map(
            |(ty, auto, disc, desc, approvals, (op, groups, attrs, adv), grant, share)| {
                let mut m = Map::new();
                m.insert("type".into(), ty.into());
                put(&mut m, "accessGrant", grant.map(Value::from));
                put(&mut m, "shareResponsibility", share.map(Value::from));
                put(&mut m, "automaticSubscription", auto.map(Value::from));
                put(&mut m, "allowDiscovery", disc.map(Value::from));
                put(&mut m, "description", desc.map(Value::from));
                if ty == "approval" {
                    put(
                        &mut m,
                        "approvals",
                        approvals.map(|a| {
                            a.into_iter()
                                .map(|(perm, specific)| {
                                    let mut x = Map::new();
                                    put(&mut x, "requiredPermission", perm.map(Value::from));
                                    put(
                                        &mut x,
                                        "specificApproverRequired",
                                        specific.map(Value::from),
                                    );
                                    Value::Object(x)
                                })
                                .collect()
                        }),
                    );
                }
                if ty == "entitlements" {
                    let mut e = Map::new();
                    put(&mut e, "operator", op.map(Value::from));
                    put(&mut e, "groups", groups.map(Value::from));
                    put(&mut e, "attributes", attrs.map(Value::from));
                    m.insert("entitlements".into(), Value::Object(e));
                    put(
                        &mut m,
                        "advanced",
                        adv.map(|a| format!("@hasAttribute('dept', '{a}')").into()),
                    );
                }
                Value::Object(m)
            },
        )
}

/// A `columnRegex` circumstance or selector: `regex` of generated text, and
/// `caseInsensitive` present or absent.
fn column_regex(regex: fn(String) -> String) -> impl Strategy<Value = Value> {
    (text(true), option::of(any::<bool>())).prop_map(move |(r, ci)| {
        let mut m = json!({"type": "columnRegex", "regex": regex(r)});
        put(
            m.as_object_mut().unwrap(),
            "caseInsensitive",
            ci.map(Value::from),
        );
        m
    })
}

fn circumstance() -> impl Strategy<Value = Value> {
    prop_oneof![
        tag().prop_map(|t| json!({"type": "tags", "tag": t})),
        tag().prop_map(|t| json!({"type": "columnTags", "columnTag": t})),
        column_regex(|r| format!("^{r}$")),
        Just(json!({"type": "anyTag"})),
        Just(json!({"type": "noTags"})),
        (
            option::of(Just("2024-01-01T00:00:00.000Z")),
            option::of(Just("2030-12-31T23:59:59.000Z"))
        )
            .prop_map(|(s, e)| {
                let mut m = json!({"type": "time"});
                put(m.as_object_mut().unwrap(), "startDate", s.map(Value::from));
                put(m.as_object_mut().unwrap(), "endDate", e.map(Value::from));
                m
            }),
        (0..5u8).prop_map(
            |n| json!({"type": "server", "server": format!("db{n}.example.com:5432/tpc")})
        ),
        proptest::sample::subsequence(super::data_gen::DOMAINS, 1..=2)
            .prop_map(|ds| json!({"type": "domains", "domains": ds})),
    ]
}

fn selector() -> impl Strategy<Value = Value> {
    prop_oneof![
        tag().prop_map(|t| json!({"type": "columnTags", "columnTag": t})),
        column_regex(|r| format!("{r}.*")),
        Just(json!({"type": "anyTag"})),
        Just(json!({"type": "noTags"})),
        Just(json!({"type": "allColumns"})),
    ]
}

fn masking_config() -> impl Strategy<Value = Value> {
    let plain = select(&["Hash", "Null", "Format Preserving Masking", "Reversible"][..])
        .prop_map(|t| json!({"type": t}));
    prop_oneof![
        plain,
        prop_oneof![
            text(true).prop_map(Value::from),
            (0..100u32).prop_map(Value::from)
        ]
        .prop_map(|c| json!({"type": "Constant", "constant": c})),
        (option::of(2..20i64), option::of(num(0, 1))).prop_map(|(k, p)| {
            let mut m = json!({"type": "K-Anonymization"});
            put(m.as_object_mut().unwrap(), "kLevel", k.map(Value::from));
            put(m.as_object_mut().unwrap(), "reIdProbability", p);
            m
        }),
        (
            option::of(num(1, 100)),
            option::of(num(0, 10)),
            option::of(any::<bool>())
        )
            .prop_map(|(r, s, c)| {
                let mut m = json!({"type": "Randomized Response"});
                let o = m.as_object_mut().unwrap();
                put(o, "replacementRatePercent", r);
                put(o, "stddev", s);
                put(o, "clip", c.map(Value::from));
                m
            }),
        (
            text(true),
            option::of(text(true)),
            option::of(any::<bool>()),
            option::of(any::<bool>())
        )
            .prop_map(|(re, rep, ci, g)| {
                let mut m = json!({"type": "Regular Expression", "regex": format!("[{re}]+")});
                let o = m.as_object_mut().unwrap();
                put(o, "replacement", rep.map(Value::from));
                put(o, "caseInsensitive", ci.map(Value::from));
                put(o, "global", g.map(Value::from));
                m
            }),
        (
            option::of(select(&["MIN", "HOUR", "DAY", "WEEK", "MONTH", "YEAR"][..])),
            option::of(num(1, 1000))
        )
            .prop_map(|(tp, b)| {
                let mut m = json!({"type": "Grouping"});
                put(
                    m.as_object_mut().unwrap(),
                    "timePrecision",
                    tp.map(Value::from),
                );
                put(m.as_object_mut().unwrap(), "bucketSize", b);
                m
            }),
    ]
}

const RULE_TYPES: &[&str] = &[
    "Masking",
    "Minimization",
    "Purpose Restriction",
    "Time Restriction",
    "Row Restriction By User Entitlements",
    "Row Restriction by Custom Where Clause",
];

/// The `config` of one rule of type `ty`.
fn rule_config(ty: &'static str, purposes: Vec<String>) -> BoxedStrategy<Value> {
    match ty {
        "Masking" => (
            vec(selector(), 1..3),
            masking_config(),
            option::of(text(true)),
        )
            .prop_map(|(fields, mc, pred)| {
                let mut m = json!({"fields": fields, "maskingConfig": mc});
                put(
                    m.as_object_mut().unwrap(),
                    "conditionalPredicate",
                    pred.map(|p| format!("@columnTagged('{p}') = 'x'").into()),
                );
                m
            })
            .boxed(),
        "Minimization" => num(1, 100).prop_map(|p| json!({"percent": p})).boxed(),
        "Purpose Restriction" => {
            let n = purposes.len();
            (
                operator(),
                proptest::sample::subsequence(purposes, 1..=n.min(3)),
            )
                .prop_map(|(op, ps)| {
                    let mut m = json!({"purposes": ps});
                    put(m.as_object_mut().unwrap(), "operator", op.map(Value::from));
                    m
                })
                .boxed()
        }
        "Time Restriction" => (select(&["older", "newer"][..]), 1..100_000_000i64)
            .prop_map(|(o, t)| json!({"isOlderOrNewer": o, "time": t}))
            .boxed(),
        "Row Restriction By User Entitlements" => (operator(), option::of(tag()))
            .prop_map(|(op, t)| {
                let mut matches = json!({"type": "group"});
                put(matches.as_object_mut().unwrap(), "tag", t.map(Value::from));
                let mut m = json!({"matches": matches});
                put(m.as_object_mut().unwrap(), "operator", op.map(Value::from));
                m
            })
            .boxed(),
        _ => text(true)
            .prop_map(|t| json!({"predicate": format!("@columnTagged('Country') in ('{t}')")}))
            .boxed(),
    }
}

fn exceptions(purposes: Vec<String>) -> impl Strategy<Value = Value> {
    (
        operator(),
        option::of(words()),
        option::of(attributes()),
        option::of(some_of(purposes, 2)),
    )
        .prop_map(|(op, groups, attrs, ps)| {
            let mut m = Map::new();
            put(&mut m, "operator", op.map(Value::from));
            put(&mut m, "groups", groups.map(Value::from));
            put(&mut m, "attributes", attrs.map(Value::from));
            put(&mut m, "purposes", ps.map(Value::from));
            Value::Object(m)
        })
}

/// One rule of type `ty`, with or without exceptions and inclusions.
fn rule(ty: &'static str, purposes: Vec<String>) -> impl Strategy<Value = Value> {
    (
        rule_config(ty, purposes.clone()),
        option::of(exceptions(purposes)),
        option::of(option::of(words())),
    )
        .prop_map(move |(config, exc, inc)| {
            let mut m = Map::new();
            m.insert("type".into(), ty.into());
            m.insert("config".into(), config);
            put(&mut m, "exceptions", exc);
            put(
                &mut m,
                "inclusions",
                inc.map(|g| {
                    let mut i = Map::new();
                    put(&mut i, "groups", g.map(Value::from));
                    Value::Object(i)
                }),
            );
            Value::Object(m)
        })
}

/// A data policy's `actions`: 1-3 blocks, each of one rule type, as the docs show them
/// (000:9083-9109).
fn data_actions(purposes: Vec<String>) -> impl Strategy<Value = Value> {
    let types: Vec<&'static str> = RULE_TYPES
        .iter()
        .copied()
        .filter(|t| *t != "Purpose Restriction" || !purposes.is_empty())
        .collect();
    vec(
        (select(types), 1..3usize, option::of(text(true))).prop_flat_map(move |(ty, n, d)| {
            let rules: Vec<_> = (0..n).map(|_| rule(ty, purposes.clone())).collect();
            (rules, Just(d)).prop_map(|(rules, d)| {
                let mut m = json!({"rules": rules});
                put(
                    m.as_object_mut().unwrap(),
                    "description",
                    d.map(Value::from),
                );
                m
            })
        }),
        1..4,
    )
    .prop_map(Value::from)
}

fn owner_restrictions() -> impl Strategy<Value = Value> {
    (
        option::of(vec((option::of(text(true)), option::of(text(true))), 0..3)),
        option::of(words()),
    )
        .prop_map(|(users, groups)| {
            let mut m = Map::new();
            put(
                &mut m,
                "users",
                users.map(|us| {
                    us.into_iter()
                        .map(|(iam, u)| {
                            let mut x = Map::new();
                            put(&mut x, "iamid", iam.map(Value::from));
                            put(&mut x, "username", u.map(Value::from));
                            Value::Object(x)
                        })
                        .collect()
                }),
            );
            put(&mut m, "groups", groups.map(Value::from));
            Value::Object(m)
        })
}

fn certification() -> impl Strategy<Value = Value> {
    (
        option::of(text(true)),
        option::of(text(true)),
        option::of(vec(tag(), 0..3)),
        option::of(any::<bool>()),
    )
        .prop_map(|(t, l, tags, r)| {
            let mut m = Map::new();
            put(&mut m, "text", t.map(Value::from));
            put(&mut m, "label", l.map(Value::from));
            put(&mut m, "tags", tags.map(Value::from));
            put(&mut m, "recertify", r.map(Value::from));
            Value::Object(m)
        })
}

/// Global policy number `i`, subscription or data, naming only `purposes` that exist.
pub fn policy(i: usize, purposes: Vec<String>) -> impl Strategy<Value = Value> {
    (
        super::gen::name("pol ", i, true),
        super::gen::name("Policy ", i, true),
        prop_oneof![
            subscription().prop_map(|a| ("subscription", a)),
            data_actions(purposes).prop_map(|a| ("data", a)),
        ],
        option::of(owner_restrictions()),
        option::of(vec(circumstance(), 0..3)),
        option::of(select(&["all", "any", "ALL", "Any"][..])),
        option::of(any::<bool>()),
        option::of(certification()),
    )
        .prop_map(
            |(key, name, (ty, actions), owners, circs, op, staged, cert)| {
                let mut m = Map::new();
                m.insert("policyKey".into(), key.into());
                m.insert("name".into(), name.into());
                m.insert("type".into(), ty.into());
                m.insert("actions".into(), actions);
                put(&mut m, "ownerRestrictions", owners);
                put(&mut m, "circumstances", circs.map(Value::from));
                put(&mut m, "circumstanceOperator", op.map(Value::from));
                put(&mut m, "staged", staged.map(Value::from));
                put(&mut m, "certification", cert);
                Value::Object(m)
            },
        )
}

fn workspace() -> impl Strategy<Value = Value> {
    prop_oneof![
        option::of((
            option::of(text(true)),
            option::of(text(true)),
            option::of(text(true))
        ))
        .prop_map(|c| {
            let mut m = json!({"type": "databricks"});
            put(
                m.as_object_mut().unwrap(),
                "config",
                c.map(|(db, dir, wc)| {
                    let mut x = Map::new();
                    put(&mut x, "database", db.map(|d| format!("ws_{d}").into()));
                    put(&mut x, "directory", dir.map(|d| format!("/ws/{d}").into()));
                    put(&mut x, "workspaceConfigurationName", wc.map(Value::from));
                    Value::Object(x)
                }),
            );
            m
        }),
        option::of((option::of(text(true)), option::of(words()))).prop_map(|c| {
            let mut m = json!({"type": "snowflake"});
            put(
                m.as_object_mut().unwrap(),
                "config",
                c.map(|(schema, whs)| {
                    let mut x = Map::new();
                    put(&mut x, "schema", schema.map(|s| format!("WS_{s}").into()));
                    put(&mut x, "warehouses", whs.map(Value::from));
                    Value::Object(x)
                }),
            );
            m
        }),
    ]
}

/// Project number `i`, naming only `purposes` and data sources (`datasources`) that exist.
pub fn project(
    i: usize,
    purposes: Vec<String>,
    datasources: Vec<String>,
) -> impl Strategy<Value = Value> {
    (
        super::gen::name("proj ", i, true),
        super::gen::name("Project ", i, true),
        (
            option::of(text(true)),
            option::of(text(true)),
            option::of(any::<bool>()),
        ),
        option::of(some_of(purposes, 3)),
        option::of(some_of(datasources, 10)),
        option::of(subscription()),
        option::of(workspace()),
        option::of(any::<bool>()),
        option::of(vec(tag(), 0..3)),
    )
        .prop_map(
            |(key, name, (desc, doc, masked), ps, ds, sub, ws, eq, tags)| {
                let mut m = Map::new();
                m.insert("projectKey".into(), key.into());
                m.insert("name".into(), name.into());
                put(&mut m, "description", desc.map(Value::from));
                put(
                    &mut m,
                    "documentation",
                    doc.map(|d| format!("# {d}\n\nNotes.").into()),
                );
                put(&mut m, "allowMaskedJoins", masked.map(Value::from));
                put(&mut m, "purposes", ps.map(Value::from));
                put(&mut m, "datasources", ds.map(Value::from));
                put(&mut m, "subscriptionPolicy", sub);
                put(&mut m, "workspace", ws);
                put(&mut m, "equalization", eq.map(Value::from));
                put(&mut m, "tags", tags.map(Value::from));
                Value::Object(m)
            },
        )
}
