//! What the generated tenants covered: every object key and every value of the closed
//! and documented value sets that the run produced. The property test fails when one
//! listed here never appeared, so the generator cannot quietly stop covering it.

use std::collections::BTreeSet;

use serde_json::Value;

use super::gen::Tenant;

/// Keys whose string values are recorded as `key=value`.
const VALUED: &[&str] = &[
    "type",
    "handler",
    "authenticationMethod",
    "accessGrant",
    "circumstanceOperator",
    "isOlderOrNewer",
    "timePrecision",
    "requiredPermission",
    "operator",
    "kAnonNoiseReduction",
];

/// Every key and `key=value` the whole run must have produced at least once.
pub const REQUIRED: &[&str] = &[
    "(multi-document files)",
    "({{EnvVar}} secrets)",
    "(${NAME} secrets)",
    "(sub-purposes two levels deep)",
    // Purposes.
    "subpurposes",
    "acknowledgement",
    "kAnonNoiseReduction=Medium",
    // Data sources: every handler and the fields each may carry.
    "handler=Snowflake",
    "handler=Databricks",
    "handler=Redshift",
    "handler=Google BigQuery",
    "handler=Presto",
    "handler=Trino",
    "handler=Athena",
    "handler=Apache Impala",
    "authenticationMethod=userPassword",
    "authenticationMethod=keyPair",
    "authenticationMethod=oAuthClientCredentials",
    "authenticationMethod=oAuthM2M",
    "authenticationMethod=token",
    "authenticationMethod=okta",
    "authenticationMethod=keyFile",
    "authenticationMethod=none",
    "authenticationMethod=accessKey",
    "authenticationMethod=instanceRole",
    "authenticationMethod=kerberos",
    "ssl",
    "port",
    "schema",
    "warehouse",
    "connectionStringOptions",
    "useCertificate",
    "userFiles",
    "userFilename",
    "token",
    "clientId",
    "audience",
    "clientSecret",
    "certificateThumbprint",
    "scope",
    "httpPath",
    "idpHost",
    "appID",
    "role",
    "sid",
    "region",
    "queryResultLocationBucket",
    "queryResultLocationDirectory",
    "dataSourceFormat",
    "schemaFormat",
    "tableFormat",
    "schemaProjectNameFormat",
    "nativeSchemaFormat",
    "nativeViewFormat",
    "staleDataTolerance",
    "disableSensitiveDataDiscovery",
    "domainCollectionId",
    "hardDelete",
    "tableTags",
    "all",
    "table",
    "query",
    "naming",
    "datasource",
    "documentation",
    "owners",
    "iam",
    "type=group",
    "type=user",
    "columns",
    "dataType",
    "nullable",
    "remoteType",
    "primaryKey",
    "columnDescriptions",
    "columnName",
    "tags",
    // Policies.
    "type=subscription",
    "type=data",
    "ownerRestrictions",
    "users",
    "iamid",
    "username",
    "groups",
    "circumstances",
    "circumstanceOperator=all",
    "circumstanceOperator=any",
    "circumstanceOperator=ALL",
    "circumstanceOperator=Any",
    "staged",
    "certification",
    "text",
    "label",
    "recertify",
    "type=tags",
    "type=columnTags",
    "type=columnRegex",
    "type=anyTag",
    "type=noTags",
    "type=time",
    "type=server",
    "type=domains",
    "startDate",
    "endDate",
    "caseInsensitive",
    "type=allColumns",
    "type=anyone",
    "type=approval",
    "type=entitlements",
    "type=manual",
    "accessGrant=READ",
    "accessGrant=WRITE",
    "shareResponsibility",
    "automaticSubscription",
    "allowDiscovery",
    "approvals",
    "requiredPermission=OWNER",
    "requiredPermission=GOVERNANCE",
    "requiredPermission=ADMIN",
    "specificApproverRequired",
    "entitlements",
    "attributes",
    "advanced",
    "operator=any",
    "operator=all",
    "type=Masking",
    "type=Minimization",
    "type=Purpose Restriction",
    "type=Time Restriction",
    "type=Row Restriction By User Entitlements",
    "type=Row Restriction by Custom Where Clause",
    "exceptions",
    "inclusions",
    "purposes",
    "conditionalPredicate",
    "percent",
    "isOlderOrNewer=older",
    "isOlderOrNewer=newer",
    "matches",
    "predicate",
    "type=Hash",
    "type=Null",
    "type=Constant",
    "type=Format Preserving Masking",
    "type=K-Anonymization",
    "type=Randomized Response",
    "type=Regular Expression",
    "type=Reversible",
    "type=Grouping",
    "constant",
    "kLevel",
    "reIdProbability",
    "replacementRatePercent",
    "stddev",
    "clip",
    "replacement",
    "global",
    "timePrecision=MIN",
    "timePrecision=HOUR",
    "timePrecision=DAY",
    "timePrecision=WEEK",
    "timePrecision=MONTH",
    "timePrecision=YEAR",
    "bucketSize",
    // Projects.
    "allowMaskedJoins",
    "datasources",
    "subscriptionPolicy",
    "workspace",
    "type=databricks",
    "type=snowflake",
    "config",
    "directory",
    "workspaceConfigurationName",
    "warehouses",
    "database",
    "equalization",
];

fn observe(v: &Value, seen: &mut BTreeSet<String>) {
    match v {
        Value::Object(m) => {
            for (k, child) in m {
                seen.insert(k.clone());
                if let (true, Value::String(s)) = (VALUED.contains(&k.as_str()), child) {
                    seen.insert(format!("{k}={s}"));
                }
                observe(child, seen);
            }
        }
        Value::Array(items) => items.iter().for_each(|i| observe(i, seen)),
        _ => {}
    }
}

/// Adds what `t` holds to `seen`.
pub fn record(t: &Tenant, seen: &mut BTreeSet<String>) {
    let yaml = t.yaml();
    if yaml.contains("{{EnvVar") {
        seen.insert("({{EnvVar}} secrets)".into());
    }
    if yaml.contains("${SECRET_") {
        seen.insert("(${NAME} secrets)".into());
    }
    if t.multi_doc {
        seen.insert("(multi-document files)".into());
    }
    let deep = t.purposes.iter().any(|p| {
        let root = p["name"].as_str().unwrap_or_default().matches('.').count();
        p["subpurposes"].as_array().is_some_and(|subs| {
            subs.iter()
                .any(|s| s["name"].as_str().unwrap_or_default().matches('.').count() > root + 1)
        })
    });
    if deep {
        seen.insert("(sub-purposes two levels deep)".into());
    }
    for doc in t
        .purposes
        .iter()
        .chain(&t.data)
        .chain(&t.policies)
        .chain(&t.projects)
    {
        observe(doc, seen);
    }
}

/// [`REQUIRED`] entries missing from `seen`.
pub fn missing(seen: &BTreeSet<String>) -> Vec<&'static str> {
    REQUIRED
        .iter()
        .copied()
        .filter(|r| !seen.contains(*r))
        .collect()
}
