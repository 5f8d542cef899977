//! Manifest schema, projects: the documented shape of a V2 project payload and its
//! workspace (000:4651-4673, 4556-4574, 1862-1979).
//!
//! Input: nothing (tables). Output: [`PROJECT`], read through [`super::root`]. Data only: no
//! logic lives here.

use super::subscription::SUBSCRIPTION;
use super::{obj, open, opt, req, tagged, Enum, Field, Obj, Ty, Variant, STR_ARRAY};

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

pub(super) static PROJECT: Obj = obj(&[
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
        // V1 answers `allowMaskedJoins` only (000:33747): this spelling is never read back.
        observable: false,
    },
    opt("purposes", STR_ARRAY),
    opt("datasources", STR_ARRAY),
    opt("subscriptionPolicy", Ty::Object(&SUBSCRIPTION)),
    opt("workspace", Ty::Object(&WORKSPACE)),
    opt("equalization", Ty::Bool),
    opt("tags", STR_ARRAY),
]);
