//! Manifest stage: the documented shape of the four V2 payloads, as static data.
//!
//! Input: nothing (tables). Output: [`root`] per [`Kind`], read by `validate`. This module
//! holds no logic; every rule a payload is checked against is a row here, with the seed
//! lines it comes from (`000:N` = `seeds/000_5087c12400834af8.txt` line N, digested in
//! `immuta-api.md` §3).
//!
//! Conventions:
//! - Closed value sets ([`Enum::closed`]) are errors when violated; open ones (masking
//!   types, rule types, circumstance types, field selectors, handlers, authentication
//!   methods, `kAnonNoiseReduction`) only warn, since Immuta documents them by example.
//! - An object may be a tagged union: the value of [`Obj::tag`] selects a [`Variant`]
//!   whose fields are allowed on top of the common ones.
//! - Data source `connection` requirements depend on `handler` and
//!   `authenticationMethod`: [`HANDLERS`] and [`AUTH_RULES`].

use crate::object::Kind;

/// The type a value must have.
#[derive(Debug, Clone, Copy)]
pub enum Ty {
    /// Anything; kept unchanged and not checked.
    Any,
    /// A string.
    Str,
    /// `true` / `false`.
    Bool,
    /// A whole number.
    Int,
    /// Any number.
    Num,
    /// A string or a number (`constant: REDACTED` or `constant: 0`).
    StrOrNum,
    /// A string from a value set.
    Enum(&'static Enum),
    /// An array of one type.
    Array(&'static Ty),
    /// An object with known fields.
    Object(&'static Obj),
}

/// A set of documented string values.
#[derive(Debug)]
pub struct Enum {
    /// The documented values.
    pub values: &'static [&'static str],
    /// True: another value is an error. False: another value is a warning.
    pub closed: bool,
    /// Compare ignoring ASCII case (`circumstanceOperator: ANY`, 000:9068).
    pub ignore_case: bool,
}

/// An object's fields and constraints.
#[derive(Debug)]
pub struct Obj {
    /// Fields allowed on every object of this shape.
    pub fields: &'static [Field],
    /// The field whose value selects one of [`Obj::variants`].
    pub tag: Option<&'static str>,
    /// Extra fields per tag value.
    pub variants: &'static [Variant],
    /// When not empty, exactly one of these fields must be present.
    pub one_of: &'static [&'static str],
    /// `(a, b)`: when `a` is present, `b` is required.
    pub requires: &'static [(&'static str, &'static str)],
}

/// The fields a tag value adds.
#[derive(Debug)]
pub struct Variant {
    /// The tag value.
    pub value: &'static str,
    /// Fields allowed (and possibly required) for it.
    pub fields: &'static [Field],
}

/// One documented field.
#[derive(Debug)]
pub struct Field {
    /// The payload key.
    pub name: &'static str,
    /// Its type.
    pub ty: Ty,
    /// Missing is an error.
    pub required: bool,
    /// When set, a present field is reported with this warning (misspellings the docs
    /// themselves use).
    pub warning: Option<&'static str>,
}

const fn opt(name: &'static str, ty: Ty) -> Field {
    Field {
        name,
        ty,
        required: false,
        warning: None,
    }
}

const fn req(name: &'static str, ty: Ty) -> Field {
    Field {
        name,
        ty,
        required: true,
        warning: None,
    }
}

const fn obj(fields: &'static [Field]) -> Obj {
    Obj {
        fields,
        tag: None,
        variants: &[],
        one_of: &[],
        requires: &[],
    }
}

const fn tagged(fields: &'static [Field], tag: &'static str, variants: &'static [Variant]) -> Obj {
    Obj {
        fields,
        tag: Some(tag),
        variants,
        one_of: &[],
        requires: &[],
    }
}

const fn open(values: &'static [&'static str]) -> Enum {
    Enum {
        values,
        closed: false,
        ignore_case: false,
    }
}

const fn closed(values: &'static [&'static str]) -> Enum {
    Enum {
        values,
        closed: true,
        ignore_case: false,
    }
}

static STRINGS: Ty = Ty::Str;
static STR_ARRAY: Ty = Ty::Array(&STRINGS);

/// The payload shape of one kind.
pub fn root(kind: Kind) -> &'static Obj {
    match kind {
        Kind::Purpose => &PURPOSE,
        Kind::Data => &DATA,
        Kind::Policy => &POLICY,
        Kind::Project => &PROJECT,
    }
}

// ---------------------------------------------------------------- purpose (000:4683-4697, 623-636, 751-760)

static K_ANON_NOISE: Enum = open(&["Medium"]);

static SUBPURPOSE: Obj = obj(&[
    req("name", Ty::Str),
    opt("description", Ty::Str),
    opt("acknowledgement", Ty::Str),
    opt("kAnonNoiseReduction", Ty::Enum(&K_ANON_NOISE)),
]);

static PURPOSE: Obj = obj(&[
    req("name", Ty::Str),
    opt("description", Ty::Str),
    opt("acknowledgement", Ty::Str),
    opt("kAnonNoiseReduction", Ty::Enum(&K_ANON_NOISE)),
    opt("subpurposes", Ty::Array(&Ty::Object(&SUBPURPOSE))),
]);

// ---------------------------------------------------------------- shared by policies and projects

static SUBSCRIPTION_TYPE: Enum = closed(&["anyone", "approval", "entitlements", "manual"]);
static OPERATOR: Enum = open(&["any", "all"]);

static APPROVAL: Obj = obj(&[
    // "e.g. OWNER, GOVERNANCE" (000:8672-8674); ADMIN in 1930: not a closed set.
    opt("requiredPermission", Ty::Str),
    opt("specificApproverRequired", Ty::Bool),
]);

static ATTRIBUTE: Obj = obj(&[req("name", Ty::Str), req("value", Ty::Str)]);

static ENTITLEMENTS: Obj = obj(&[
    opt("operator", Ty::Enum(&OPERATOR)),
    opt("groups", STR_ARRAY),
    opt("attributes", Ty::Array(&Ty::Object(&ATTRIBUTE))),
]);

/// Subscription policy `actions` (000:8587-8718) and project `subscriptionPolicy`
/// (000:1909-1950) share one shape.
static SUBSCRIPTION: Obj = obj(&[
    req("type", Ty::Enum(&SUBSCRIPTION_TYPE)),
    opt("automaticSubscription", Ty::Bool),
    opt("allowDiscovery", Ty::Bool),
    opt("description", Ty::Str),
    opt("approvals", Ty::Array(&Ty::Object(&APPROVAL))),
    opt("entitlements", Ty::Object(&ENTITLEMENTS)),
    opt("advanced", Ty::Str),
]);

// ---------------------------------------------------------------- policy (000:4619-4641, 8587-9115)

static POLICY_TYPE: Enum = closed(&["subscription", "data"]);
static CIRCUMSTANCE_OPERATOR: Enum = Enum {
    values: &["all", "any"],
    closed: true,
    ignore_case: true,
};

static OWNER_USER: Obj = obj(&[opt("iamid", Ty::Str), opt("username", Ty::Str)]);
static OWNER_RESTRICTIONS: Obj = obj(&[
    opt("users", Ty::Array(&Ty::Object(&OWNER_USER))),
    opt("groups", STR_ARRAY),
]);

/// V2 shape undocumented; V1's `{text, label, tags[], recertify}` (000:27373-27378).
static CERTIFICATION: Obj = obj(&[
    opt("text", Ty::Str),
    opt("label", Ty::Str),
    opt("tags", STR_ARRAY),
    opt("recertify", Ty::Bool),
]);

static CIRCUMSTANCE_TYPE: Enum = open(&[
    "tags",
    "columnTags",
    "columnRegex",
    "anyTag",
    "noTags",
    "time",
    "server",
]);

static CIRCUMSTANCE: Obj = tagged(
    &[req("type", Ty::Enum(&CIRCUMSTANCE_TYPE))],
    "type",
    &[
        Variant {
            value: "tags",
            fields: &[req("tag", Ty::Str)],
        },
        Variant {
            value: "columnTags",
            fields: &[req("columnTag", Ty::Str)],
        },
        Variant {
            value: "columnRegex",
            fields: &[req("regex", Ty::Str), opt("caseInsensitive", Ty::Bool)],
        },
        Variant {
            value: "anyTag",
            fields: &[],
        },
        Variant {
            value: "noTags",
            fields: &[],
        },
        Variant {
            value: "time",
            fields: &[opt("startDate", Ty::Str), opt("endDate", Ty::Str)],
        },
        Variant {
            value: "server",
            fields: &[req("server", Ty::Str)],
        },
    ],
);

static FIELD_SELECTOR_TYPE: Enum = open(&[
    "columnTags",
    "columnRegex",
    "anyTag",
    "noTags",
    "allColumns",
]);

static FIELD_SELECTOR: Obj = tagged(
    &[req("type", Ty::Enum(&FIELD_SELECTOR_TYPE))],
    "type",
    &[
        Variant {
            value: "columnTags",
            fields: &[req("columnTag", Ty::Str)],
        },
        Variant {
            value: "columnRegex",
            fields: &[req("regex", Ty::Str), opt("caseInsensitive", Ty::Bool)],
        },
        Variant {
            value: "anyTag",
            fields: &[],
        },
        Variant {
            value: "noTags",
            fields: &[],
        },
        Variant {
            value: "allColumns",
            fields: &[],
        },
    ],
);

static MASKING_TYPE: Enum = open(&[
    "Hash",
    "Null",
    "Constant",
    "Format Preserving Masking",
    "K-Anonymization",
    "Randomized Response",
    "Regular Expression",
    "Reversible",
    "Grouping",
]);

/// `MIN|HOUR|DAY|WEEK|MONTH|YEAR` per V1 (002:1172-1178).
static TIME_PRECISION: Enum = open(&["MIN", "HOUR", "DAY", "WEEK", "MONTH", "YEAR"]);

static MASKING_CONFIG: Obj = tagged(
    &[req("type", Ty::Enum(&MASKING_TYPE))],
    "type",
    &[
        Variant {
            value: "Hash",
            fields: &[],
        },
        Variant {
            value: "Null",
            fields: &[],
        },
        Variant {
            value: "Constant",
            fields: &[req("constant", Ty::StrOrNum)],
        },
        Variant {
            value: "Format Preserving Masking",
            fields: &[],
        },
        Variant {
            value: "K-Anonymization",
            fields: &[opt("kLevel", Ty::Int), opt("reIdProbability", Ty::Num)],
        },
        Variant {
            value: "Randomized Response",
            fields: &[
                opt("replacementRatePercent", Ty::Num),
                opt("stddev", Ty::Num),
                opt("clip", Ty::Bool),
            ],
        },
        Variant {
            value: "Regular Expression",
            fields: &[
                req("regex", Ty::Str),
                opt("replacement", Ty::Str),
                opt("caseInsensitive", Ty::Bool),
                opt("global", Ty::Bool),
            ],
        },
        Variant {
            value: "Reversible",
            fields: &[],
        },
        Variant {
            value: "Grouping",
            fields: &[
                opt("timePrecision", Ty::Enum(&TIME_PRECISION)),
                opt("bucketSize", Ty::Num),
            ],
        },
    ],
);

static MASKING_RULE_CONFIG: Obj = obj(&[
    req("fields", Ty::Array(&Ty::Object(&FIELD_SELECTOR))),
    req("maskingConfig", Ty::Object(&MASKING_CONFIG)),
    opt("conditionalPredicate", Ty::Str),
]);

static MINIMIZATION_CONFIG: Obj = obj(&[req("percent", Ty::Num)]);

static PURPOSE_RESTRICTION_CONFIG: Obj = obj(&[
    opt("operator", Ty::Enum(&OPERATOR)),
    req("purposes", STR_ARRAY),
]);

static OLDER_OR_NEWER: Enum = open(&["older", "newer"]);
static TIME_RESTRICTION_CONFIG: Obj = obj(&[
    req("isOlderOrNewer", Ty::Enum(&OLDER_OR_NEWER)),
    req("time", Ty::Int),
]);

static MATCH_TYPE: Enum = open(&["group"]);
static MATCHES: Obj = obj(&[req("type", Ty::Enum(&MATCH_TYPE)), opt("tag", Ty::Str)]);
static USER_ENTITLEMENTS_CONFIG: Obj = obj(&[
    opt("operator", Ty::Enum(&OPERATOR)),
    req("matches", Ty::Object(&MATCHES)),
]);

static CUSTOM_WHERE_CONFIG: Obj = obj(&[req("predicate", Ty::Str)]);

/// Rule type strings are case-exact as printed ("By" vs "by", 000:9062, 9077).
static RULE_TYPE: Enum = open(&[
    "Masking",
    "Minimization",
    "Purpose Restriction",
    "Time Restriction",
    "Row Restriction By User Entitlements",
    "Row Restriction by Custom Where Clause",
]);

static EXCEPTIONS: Obj = obj(&[
    opt("operator", Ty::Enum(&OPERATOR)),
    opt("groups", STR_ARRAY),
    opt("attributes", Ty::Array(&Ty::Object(&ATTRIBUTE))),
    opt("purposes", STR_ARRAY),
]);

static INCLUSIONS: Obj = obj(&[opt("groups", STR_ARRAY)]);

static RULE: Obj = tagged(
    &[
        req("type", Ty::Enum(&RULE_TYPE)),
        opt("exceptions", Ty::Object(&EXCEPTIONS)),
        opt("inclusions", Ty::Object(&INCLUSIONS)),
    ],
    "type",
    &[
        Variant {
            value: "Masking",
            fields: &[req("config", Ty::Object(&MASKING_RULE_CONFIG))],
        },
        Variant {
            value: "Minimization",
            fields: &[req("config", Ty::Object(&MINIMIZATION_CONFIG))],
        },
        Variant {
            value: "Purpose Restriction",
            fields: &[req("config", Ty::Object(&PURPOSE_RESTRICTION_CONFIG))],
        },
        Variant {
            value: "Time Restriction",
            fields: &[req("config", Ty::Object(&TIME_RESTRICTION_CONFIG))],
        },
        Variant {
            value: "Row Restriction By User Entitlements",
            fields: &[req("config", Ty::Object(&USER_ENTITLEMENTS_CONFIG))],
        },
        Variant {
            value: "Row Restriction by Custom Where Clause",
            fields: &[req("config", Ty::Object(&CUSTOM_WHERE_CONFIG))],
        },
    ],
);

/// One block of a data policy's `actions` array (000:9083-9109).
static DATA_ACTION: Obj = obj(&[
    req("rules", Ty::Array(&Ty::Object(&RULE))),
    opt("description", Ty::Str),
]);

static POLICY: Obj = tagged(
    &[
        req("policyKey", Ty::Str),
        req("name", Ty::Str),
        req("type", Ty::Enum(&POLICY_TYPE)),
        opt("ownerRestrictions", Ty::Object(&OWNER_RESTRICTIONS)),
        opt("circumstances", Ty::Array(&Ty::Object(&CIRCUMSTANCE))),
        opt("circumstanceOperator", Ty::Enum(&CIRCUMSTANCE_OPERATOR)),
        opt("staged", Ty::Bool),
        opt("certification", Ty::Object(&CERTIFICATION)),
    ],
    "type",
    &[
        Variant {
            value: "subscription",
            fields: &[req("actions", Ty::Object(&SUBSCRIPTION))],
        },
        Variant {
            value: "data",
            fields: &[req("actions", Ty::Array(&Ty::Object(&DATA_ACTION)))],
        },
    ],
);

// ---------------------------------------------------------------- project (000:4651-4673, 4556-4574, 1862-1979)

static WORKSPACE_TYPE: Enum = open(&["databricks", "snowflake"]);

static WORKSPACE_DATABRICKS: Obj = obj(&[
    opt("database", Ty::Str),
    opt("directory", Ty::Str),
    opt("workspaceConfigurationName", Ty::Str),
]);

static WORKSPACE_SNOWFLAKE: Obj = obj(&[opt("schema", Ty::Str), opt("warehouses", STR_ARRAY)]);

static WORKSPACE: Obj = tagged(
    &[req("type", Ty::Enum(&WORKSPACE_TYPE))],
    "type",
    &[
        Variant {
            value: "databricks",
            fields: &[opt("config", Ty::Object(&WORKSPACE_DATABRICKS))],
        },
        Variant {
            value: "snowflake",
            fields: &[opt("config", Ty::Object(&WORKSPACE_SNOWFLAKE))],
        },
    ],
);

static PROJECT: Obj = obj(&[
    req("projectKey", Ty::Str),
    req("name", Ty::Str),
    opt("description", Ty::Str),
    // The table says object (000:4663-4665); every example writes a markdown string.
    opt("documentation", Ty::Str),
    opt("allowMaskedJoins", Ty::Bool),
    Field {
        name: "allowedMaskedJoins",
        ty: Ty::Bool,
        required: false,
        warning: Some(
            "allowedMaskedJoins is the attribute table's spelling (000:4667); every example uses allowMaskedJoins; it is sent unchanged",
        ),
    },
    opt("purposes", STR_ARRAY),
    opt("datasources", STR_ARRAY),
    opt("subscriptionPolicy", Ty::Object(&SUBSCRIPTION)),
    opt("workspace", Ty::Object(&WORKSPACE)),
    opt("equalization", Ty::Bool),
    opt("tags", STR_ARRAY),
]);

// ---------------------------------------------------------------- data source (000:4587-4609, 14315-14420, 15260-16080)

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

static CONNECTION: Obj = obj(&[
    req("handler", Ty::Enum(&HANDLER)),
    opt("ssl", Ty::Bool),
    opt("database", Ty::Str),
    opt("schema", Ty::Str),
    opt("hostname", Ty::Str),
    opt("port", Ty::Int),
    opt("warehouse", Ty::Str),
    opt("connectionStringOptions", Ty::Str),
    opt("authenticationMethod", Ty::Enum(&AUTH_METHOD)),
    opt("username", Ty::Str),
    opt("password", Ty::Str),
    opt("useCertificate", Ty::Bool),
    opt("userFiles", Ty::Array(&Ty::Object(&USER_FILE))),
    opt("token", Ty::Str),
    opt("clientId", Ty::Str),
    opt("audience", Ty::Str),
    opt("clientSecret", Ty::Str),
    opt("certificateThumbprint", Ty::Str),
    opt("scope", Ty::Str),
    opt("httpPath", Ty::Str),
    opt("idpHost", Ty::Str),
    opt("appID", Ty::Str),
    opt("role", Ty::Str),
    opt("sid", Ty::Str),
    opt("region", Ty::Str),
    opt("queryResultLocationBucket", Ty::Str),
    opt("queryResultLocationDirectory", Ty::Str),
]);

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
    opt("disableSensitiveDataDiscovery", Ty::Bool),
    opt("domainCollectionId", Ty::Str),
    opt("hardDelete", Ty::Bool),
    opt("tableTags", STR_ARRAY),
]);

static OWNER_TYPE: Enum = closed(&["group", "user"]);
static OWNER: Obj = obj(&[
    req("type", Ty::Enum(&OWNER_TYPE)),
    req("name", Ty::Str),
    opt("iam", Ty::Str),
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
        opt("query", Ty::Str),
        opt("naming", Ty::Object(&NAMING)),
        opt("description", Ty::Str),
        opt("documentation", Ty::Str),
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

static DATA: Obj = obj(&[
    req("connectionKey", Ty::Str),
    req("connection", Ty::Object(&CONNECTION)),
    opt("nameTemplate", Ty::Object(&NAME_TEMPLATE)),
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
        auth_methods: &[
            "userPassword",
            "keyPair",
            "oAuthClientCredentials",
            "token",
            "oAuthM2M",
            "keyFile",
            "auto",
            "okta",
        ],
        required: &["sid", "userFiles"],
        expected: &[],
    },
    HandlerSpec {
        handler: "Presto",
        auth_methods: &[
            "userPassword",
            "keyPair",
            "oAuthClientCredentials",
            "token",
            "oAuthM2M",
            "keyFile",
            "auto",
            "okta",
        ],
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
