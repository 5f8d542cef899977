//! Manifest schema, data sources: the documented shape of a V2 data source payload, and
//! the `connection` requirements that depend on `handler` and `authenticationMethod`
//! (000:4587-4609, 14315-14420, 15260-16080).
//!
//! Input: nothing (tables). Output: [`DATA`], read through [`super::root`], plus the public
//! handler, authentication and sensitivity tables re-exported by [`super`]. Data only: no
//! logic lives here.

use super::{closed, obj, open, opt, req, Enum, Obj, Ty, STR_ARRAY};

static HANDLER: Enum = open(&[
    "Snowflake",
    "Databricks",
    "Redshift",
    "Google BigQuery",
    "Presto",
    "Trino",
    "Athena",
    "Apache Impala",
]);

/// Every documented `authenticationMethod`, across handlers.
pub static AUTH_METHOD: Enum = open(&[
    "userPassword",
    "keyPair",
    "oAuthClientCredentials",
    "oAuthM2M",
    "token",
    "okta",
    "keyFile",
    "auto",
    "none",
    "accessKey",
    "instanceRole",
    "kerberos",
    "No Authentication",
    "LDAP Authentication",
    "Kerberos Authentication",
]);

static USER_FILE: Obj = obj(&[
    req("keyName", Ty::Str),
    req("content", Ty::Str),
    opt("userFilename", Ty::Str),
]);

/// Observable: the members the handler metadata shows under the same name
/// (000:11223-11243: ssl, port, database, hostname, username, warehouse,
/// authenticationMethod; `handler` is the hit's `blobHandlerType`, 001:327) and `httpPath`
/// (chosen). `schema` is the table's schema in that metadata, not the connection's; the
/// credentials are never read back (see `SENSITIVE_CONNECTION_KEYS`).
static CONNECTION: Obj = obj(&[
    req("handler", Ty::Enum(&HANDLER)),
    opt("ssl", Ty::Bool),
    opt("database", Ty::Str),
    opt("schema", Ty::Str).unobservable(),
    opt("hostname", Ty::Str),
    opt("port", Ty::Int),
    opt("warehouse", Ty::Str),
    opt("connectionStringOptions", Ty::Str).unobservable(),
    opt("authenticationMethod", Ty::Enum(&AUTH_METHOD)),
    opt("username", Ty::Str),
    opt("password", Ty::Str).unobservable(),
    opt("useCertificate", Ty::Bool).unobservable(),
    opt("userFiles", Ty::Array(&Ty::Object(&USER_FILE))).unobservable(),
    opt("token", Ty::Str).unobservable(),
    opt("clientId", Ty::Str).unobservable(),
    opt("audience", Ty::Str).unobservable(),
    opt("clientSecret", Ty::Str).unobservable(),
    opt("certificateThumbprint", Ty::Str).unobservable(),
    opt("scope", Ty::Str).unobservable(),
    opt("httpPath", Ty::Str),
    opt("idpHost", Ty::Str).unobservable(),
    opt("appID", Ty::Str).unobservable(),
    opt("role", Ty::Str).unobservable(),
    opt("sid", Ty::Str).unobservable(),
    opt("region", Ty::Str).unobservable(),
    opt("queryResultLocationBucket", Ty::Str).unobservable(),
    opt("queryResultLocationDirectory", Ty::Str).unobservable(),
]);

/// Not observable as a whole (the `DATA` root marks it): V1 shows the names it made,
/// not the template (000:11201-11206 is a write payload).
static NAME_TEMPLATE: Obj = obj(&[
    opt("dataSourceFormat", Ty::Str),
    opt("schemaFormat", Ty::Str),
    opt("tableFormat", Ty::Str),
    opt("schemaProjectNameFormat", Ty::Str),
    // Redshift Spectrum (000:2502-2503).
    opt("nativeSchemaFormat", Ty::Str),
    opt("nativeViewFormat", Ty::Str),
]);

static OPTIONS: Obj = obj(&[
    opt("staleDataTolerance", Ty::Int),
    // No V1 read shows these two.
    opt("disableSensitiveDataDiscovery", Ty::Bool).unobservable(),
    opt("domainCollectionId", Ty::Str),
    opt("hardDelete", Ty::Bool).unobservable(),
    opt("tableTags", STR_ARRAY),
]);

static OWNER_TYPE: Enum = closed(&["group", "user"]);
static OWNER: Obj = obj(&[
    req("type", Ty::Enum(&OWNER_TYPE)),
    req("name", Ty::Str),
    // The access list names each owner's `iamid` (001:1040-1100), but a missing `iam`
    // means "any IdP" (000:15491), so the two cannot be compared.
    opt("iam", Ty::Str).unobservable(),
]);

static NAMING: Obj = obj(&[
    opt("datasource", Ty::Str),
    opt("table", Ty::Str),
    opt("schema", Ty::Str),
]);

static COLUMN: Obj = obj(&[
    req("name", Ty::Str),
    opt("dataType", Ty::Str),
    opt("nullable", Ty::Bool),
    opt("remoteType", Ty::Str),
    opt("primaryKey", Ty::Bool),
    opt("description", Ty::Str),
]);

static COLUMN_DESCRIPTION: Obj = obj(&[req("columnName", Ty::Str), opt("description", Ty::Str)]);

static COLUMN_TAGS: Obj = obj(&[req("columnName", Ty::Str), opt("tags", STR_ARRAY)]);

static SOURCE_TAGS: Obj = obj(&[
    opt("table", STR_ARRAY),
    opt("columns", Ty::Array(&Ty::Object(&COLUMN_TAGS))),
]);

/// `{all: true}`, `{query, naming}` or `{table, schema}` plus options (000:14362-14420).
static SOURCE: Obj = Obj {
    fields: &[
        opt("all", Ty::Bool),
        opt("table", Ty::Str),
        opt("schema", Ty::Str),
        // The query text is in the handler metadata of each query source, which is not
        // read (one handler read per connection); documentation would cost a
        // `GET /dataSource/{id}` per source.
        opt("query", Ty::Str).unobservable(),
        opt("naming", Ty::Object(&NAMING)),
        opt("description", Ty::Str),
        opt("documentation", Ty::Str).unobservable(),
        opt("owners", Ty::Array(&Ty::Object(&OWNER))),
        opt("columns", Ty::Array(&Ty::Object(&COLUMN))),
        opt(
            "columnDescriptions",
            Ty::Array(&Ty::Object(&COLUMN_DESCRIPTION)),
        ),
        opt("tags", Ty::Object(&SOURCE_TAGS)),
    ],
    tag: None,
    variants: &[],
    one_of: &["all", "table", "query"],
    // "naming ... is required for query-based sources" (000:15511).
    requires: &[("query", "naming")],
};

/// Observable where the V1 reads of issue 13 show it (docs/fidelity.md, "Data sources"):
/// the connection without secrets, options, owners and sources with their tags, columns
/// and descriptions. `nameTemplate` is not: V1 shows the names it made, and those are
/// judged by the server's dry run (000:1657-1658), which stays beside the field diff.
pub(super) static DATA: Obj = obj(&[
    req("connectionKey", Ty::Str),
    req("connection", Ty::Object(&CONNECTION)),
    opt("nameTemplate", Ty::Object(&NAME_TEMPLATE)).unobservable(),
    opt("options", Ty::Object(&OPTIONS)),
    // The table says "object"; the description and `owners[]` entries say array (000:4603-4605, 15485-15495).
    opt("owners", Ty::Array(&Ty::Object(&OWNER))),
    opt("sources", Ty::Array(&Ty::Object(&SOURCE))),
]);

/// What one handler requires of `connection`.
#[derive(Debug)]
pub struct HandlerSpec {
    /// The `handler` value.
    pub handler: &'static str,
    /// Documented `authenticationMethod` values for this handler (warning otherwise).
    pub auth_methods: &'static [&'static str],
    /// Missing is an error.
    pub required: &'static [&'static str],
    /// Documented as required, but seed examples omit them: missing is a warning.
    pub expected: &'static [&'static str],
}

/// The authentication methods BigQuery and Presto document (000:15260-15447).
const EVERY_AUTH_METHOD: &[&str] = &[
    "userPassword",
    "keyPair",
    "oAuthClientCredentials",
    "token",
    "oAuthM2M",
    "keyFile",
    "auto",
    "okta",
];

/// Handler requirements (000:14327-14331, 15260-15447, 15925-16077). `hostname` is
/// required for every handler except Google BigQuery and Athena, including unknown ones.
pub static HANDLERS: &[HandlerSpec] = &[
    HandlerSpec {
        handler: "Snowflake",
        auth_methods: &["userPassword", "keyPair", "oAuthClientCredentials"],
        required: &["hostname", "database"],
        // The CLI demo (000:1647-1656) has no warehouse; no Snowflake example sets authenticationMethod.
        expected: &["warehouse", "authenticationMethod"],
    },
    HandlerSpec {
        handler: "Databricks",
        auth_methods: &["oAuthM2M", "token"],
        required: &["hostname", "httpPath"],
        // PAT examples use username: token + password and no authenticationMethod (000:2377-2386).
        expected: &["authenticationMethod"],
    },
    HandlerSpec {
        handler: "Redshift",
        auth_methods: &["userPassword", "okta"],
        required: &["hostname", "schema", "username", "password"],
        expected: &["authenticationMethod"],
    },
    HandlerSpec {
        handler: "Google BigQuery",
        auth_methods: EVERY_AUTH_METHOD,
        required: &["sid", "userFiles"],
        expected: &[],
    },
    HandlerSpec {
        handler: "Presto",
        auth_methods: EVERY_AUTH_METHOD,
        required: &["hostname"],
        expected: &[],
    },
    HandlerSpec {
        handler: "Trino",
        auth_methods: &[
            "userPassword",
            "keyPair",
            "oAuthClientCredentials",
            "token",
            "oAuthM2M",
            "keyFile",
            "auto",
            "okta",
            "No Authentication",
            "LDAP Authentication",
            "Kerberos Authentication",
        ],
        required: &["hostname"],
        expected: &[],
    },
    HandlerSpec {
        handler: "Athena",
        auth_methods: &["none", "accessKey", "instanceRole"],
        required: &["region", "queryResultLocationBucket"],
        expected: &[],
    },
    HandlerSpec {
        handler: "Apache Impala",
        // Only seen in the example at 000:2463-2486.
        auth_methods: &["kerberos"],
        required: &["hostname"],
        expected: &[],
    },
];

/// Handlers that do not need `hostname` (000:14329-14331).
pub static NO_HOSTNAME: &[&str] = &["Google BigQuery", "Athena"];

/// What one authentication method requires of `connection`.
#[derive(Debug)]
pub struct AuthRule {
    /// The handler it applies to.
    pub handler: &'static str,
    /// The `authenticationMethod` value.
    pub method: &'static str,
    /// Only when `useCertificate` has this value (`None`: always).
    pub use_certificate: Option<bool>,
    /// Missing is an error.
    pub required: &'static [&'static str],
}

/// Method-dependent requirements (000:15291-15337, 15941-15991, 16017-16051).
pub static AUTH_RULES: &[AuthRule] = &[
    AuthRule {
        handler: "Snowflake",
        method: "userPassword",
        use_certificate: None,
        required: &["username", "password"],
    },
    AuthRule {
        handler: "Snowflake",
        method: "keyPair",
        use_certificate: None,
        required: &["username", "userFiles"],
    },
    AuthRule {
        handler: "Snowflake",
        method: "oAuthClientCredentials",
        use_certificate: None,
        required: &["useCertificate"],
    },
    AuthRule {
        handler: "Snowflake",
        method: "oAuthClientCredentials",
        use_certificate: Some(true),
        required: &["userFiles"],
    },
    AuthRule {
        handler: "Databricks",
        method: "token",
        use_certificate: None,
        required: &["token"],
    },
    AuthRule {
        handler: "Databricks",
        method: "oAuthM2M",
        use_certificate: None,
        required: &["useCertificate", "clientId", "audience"],
    },
    AuthRule {
        handler: "Databricks",
        method: "oAuthM2M",
        use_certificate: Some(false),
        required: &["clientSecret"],
    },
    AuthRule {
        handler: "Databricks",
        method: "oAuthM2M",
        use_certificate: Some(true),
        required: &["certificateThumbprint"],
    },
    AuthRule {
        handler: "Redshift",
        method: "okta",
        use_certificate: None,
        required: &["idpHost", "appID", "role"],
    },
];

/// Connection keys that are always sensitive; any key containing one of
/// [`SENSITIVE_WORDS`] (ignoring case) is too, as is `userFiles[*].content`.
pub static SENSITIVE_CONNECTION_KEYS: &[&str] = &["password", "token", "clientSecret"];

/// Substrings that make a connection key sensitive (compared lowercase).
pub static SENSITIVE_WORDS: &[&str] = &["password", "secret", "token"];
