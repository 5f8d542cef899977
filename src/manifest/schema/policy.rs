//! Manifest schema, global policies: the documented shape of a V2 subscription or data
//! policy payload, down to masking configurations and row rules (000:4619-4641, 8587-9115).
//!
//! Input: nothing (tables). Output: [`POLICY`], read through [`super::root`]. Data only: no
//! logic lives here.

use super::subscription::{ATTRIBUTE, OPERATOR, SUBSCRIPTION};
use super::{closed, obj, open, opt, req, tagged, Enum, Obj, Ty, Variant, STR_ARRAY};

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

/// Selector variants that circumstances and masking fields share (000:8587-9115).
const COLUMN_TAGS: Variant = Variant {
    value: "columnTags",
    fields: &[req("columnTag", Ty::Str)],
};
const COLUMN_REGEX: Variant = Variant {
    value: "columnRegex",
    fields: &[req("regex", Ty::Str), opt("caseInsensitive", Ty::Bool)],
};
const ANY_TAG: Variant = Variant {
    value: "anyTag",
    fields: &[],
};
const NO_TAGS: Variant = Variant {
    value: "noTags",
    fields: &[],
};

static CIRCUMSTANCE_TYPE: Enum = open(&[
    "tags",
    "columnTags",
    "columnRegex",
    "anyTag",
    "noTags",
    "time",
    "server",
    "domains",
]);

static CIRCUMSTANCE: Obj = tagged(
    &[req("type", Ty::Enum(&CIRCUMSTANCE_TYPE))],
    "type",
    &[
        Variant {
            value: "tags",
            fields: &[req("tag", Ty::Str)],
        },
        COLUMN_TAGS,
        COLUMN_REGEX,
        ANY_TAG,
        NO_TAGS,
        Variant {
            value: "time",
            fields: &[opt("startDate", Ty::Str), opt("endDate", Ty::Str)],
        },
        Variant {
            value: "server",
            fields: &[req("server", Ty::Str)],
        },
        // Not in the seeds; seen in tenant exports. The ids are the ones a data source's
        // `options.domainCollectionId` gives (000:15473-15475). Shape: docs/fidelity.md.
        Variant {
            value: "domains",
            fields: &[req("domains", STR_ARRAY)],
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
        COLUMN_TAGS,
        COLUMN_REGEX,
        ANY_TAG,
        NO_TAGS,
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

pub(super) static POLICY: Obj = tagged(
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
