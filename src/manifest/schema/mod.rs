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
    /// The live read can see it, so plan compares it. A field that is not observable is
    /// still sent, but never diffed: comparing it would plan an update forever.
    pub observable: bool,
}

impl Field {
    /// The same field, marked as not observable by the live read.
    const fn unobservable(self) -> Field {
        Field {
            observable: false,
            ..self
        }
    }
}

const fn opt(name: &'static str, ty: Ty) -> Field {
    Field {
        name,
        ty,
        required: false,
        warning: None,
        observable: true,
    }
}

const fn req(name: &'static str, ty: Ty) -> Field {
    Field {
        name,
        ty,
        required: true,
        warning: None,
        observable: true,
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

impl Obj {
    /// The field named `name` when the object's tag (if any) has `tag_value`: common
    /// fields first, then the variant's. A tag value no variant has (validation refuses
    /// or warns about it) selects the field of whichever variant declares it.
    pub fn field(&'static self, name: &str, tag_value: Option<&str>) -> Option<&'static Field> {
        let common = self.fields.iter().find(|f| f.name == name);
        let known_tag = self.variants.iter().any(|v| Some(v.value) == tag_value);
        common.or_else(|| {
            self.variants
                .iter()
                .filter(|v| !known_tag || Some(v.value) == tag_value)
                .flat_map(|v| v.fields.iter())
                .find(|f| f.name == name)
        })
    }
}

/// Every field of `kind`'s payload the live read can observe, as paths (`actions`,
/// `actions[].rules[].type`, `circumstances[].columnTag`), sorted and without
/// duplicates. Variant fields are included whatever their tag; `Ty::Any` values are
/// leaves.
pub fn observable_paths(kind: Kind) -> Vec<String> {
    fn walk(obj: &'static Obj, prefix: &str, out: &mut Vec<String>, depth: usize) {
        // Shapes are finite today; the bound only guards a future recursive table.
        if depth > 16 {
            return;
        }
        let fields = obj
            .fields
            .iter()
            .chain(obj.variants.iter().flat_map(|v| v.fields.iter()));
        for f in fields.filter(|f| f.observable) {
            let path = if prefix.is_empty() {
                f.name.to_string()
            } else {
                format!("{prefix}.{}", f.name)
            };
            let mut ty = &f.ty;
            let mut inner = path.clone();
            while let Ty::Array(item) = ty {
                inner.push_str("[]");
                ty = item;
            }
            out.push(path);
            if let Ty::Object(o) = ty {
                walk(o, &inner, out, depth + 1);
            }
        }
    }
    let mut out = Vec::new();
    walk(root(kind), "", &mut out, 0);
    out.sort();
    out.dedup();
    out
}

/// The payload shape of one kind.
pub fn root(kind: Kind) -> &'static Obj {
    match kind {
        Kind::Purpose => &PURPOSE,
        Kind::Data => &DATA,
        Kind::Policy => &POLICY,
        Kind::Project => &PROJECT,
    }
}
