//! Manifest schema, purposes: the documented shape of a V2 purpose payload and its
//! subpurposes (000:4683-4697, 623-636, 751-760).
//!
//! Input: nothing (tables). Output: [`PURPOSE`], read through [`super::root`]. Data only: no
//! logic lives here.

use super::{obj, open, opt, req, Enum, Obj, Ty};

static K_ANON_NOISE: Enum = open(&["Medium"]);

static SUBPURPOSE: Obj = obj(&[
    req("name", Ty::Str),
    opt("description", Ty::Str),
    opt("acknowledgement", Ty::Str),
    opt("kAnonNoiseReduction", Ty::Enum(&K_ANON_NOISE)),
]);

pub(super) static PURPOSE: Obj = obj(&[
    req("name", Ty::Str),
    opt("description", Ty::Str),
    opt("acknowledgement", Ty::Str),
    opt("kAnonNoiseReduction", Ty::Enum(&K_ANON_NOISE)),
    opt("subpurposes", Ty::Array(&Ty::Object(&SUBPURPOSE))),
]);
