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

mod data;
mod policy;
mod project;
mod purpose;
mod subscription;

use data::DATA;
pub use data::{
    AuthRule, HandlerSpec, AUTH_METHOD, AUTH_RULES, HANDLERS, NO_HOSTNAME,
    SENSITIVE_CONNECTION_KEYS, SENSITIVE_WORDS,
};
use policy::POLICY;
use project::PROJECT;
use purpose::PURPOSE;

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
