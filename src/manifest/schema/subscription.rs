//! Manifest schema, shared by policies and projects: the subscription shape that a
//! subscription policy's `actions` (000:8587-8718) and a project's `subscriptionPolicy`
//! (000:1909-1950) both use.
//!
//! Input: nothing (tables). Output: [`SUBSCRIPTION`], used by the policy and project tables,
//! and [`OPERATOR`] / [`ATTRIBUTE`], which the policy rule tables reuse.
//! Data only: no logic lives here.

use super::{closed, obj, open, opt, req, Enum, Obj, Ty, STR_ARRAY};

static SUBSCRIPTION_TYPE: Enum = closed(&["anyone", "approval", "entitlements", "manual"]);
pub(super) static OPERATOR: Enum = open(&["any", "all"]);

static APPROVAL: Obj = obj(&[
    // "e.g. OWNER, GOVERNANCE" (000:8672-8674); ADMIN in 1930: not a closed set.
    opt("requiredPermission", Ty::Str),
    opt("specificApproverRequired", Ty::Bool),
]);

pub(super) static ATTRIBUTE: Obj = obj(&[req("name", Ty::Str), req("value", Ty::Str)]);

static ENTITLEMENTS: Obj = obj(&[
    opt("operator", Ty::Enum(&OPERATOR)),
    opt("groups", STR_ARRAY),
    opt("attributes", Ty::Array(&Ty::Object(&ATTRIBUTE))),
]);

/// Subscription policy `actions` (000:8587-8718) and project `subscriptionPolicy`
/// (000:1909-1950) share one shape.
/// `READ` or `WRITE` (002:602-605; write policies' answers, 000:3960-3975).
static ACCESS_GRANT: Enum = closed(&["READ", "WRITE"]);

pub(super) static SUBSCRIPTION: Obj = obj(&[
    req("type", Ty::Enum(&SUBSCRIPTION_TYPE)),
    // V1 members of a subscription action (002:770-790); the V2 docs list none of their
    // own, and a write access policy needs them (issue 10).
    opt("accessGrant", Ty::Enum(&ACCESS_GRANT)),
    opt("shareResponsibility", Ty::Bool),
    opt("automaticSubscription", Ty::Bool),
    opt("allowDiscovery", Ty::Bool),
    opt("description", Ty::Str),
    opt("approvals", Ty::Array(&Ty::Object(&APPROVAL))),
    opt("entitlements", Ty::Object(&ENTITLEMENTS)),
    opt("advanced", Ty::Str),
]);
