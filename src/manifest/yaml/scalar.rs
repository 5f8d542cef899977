//! Manifest stage, YAML walk: scalar resolution. What one scalar's text, style and tag
//! mean as JSON, the way `serde_yaml` 0.9 resolved them (its `visit_untagged_scalar`,
//! `parse_unsigned_int`, `parse_negative_int` and `parse_f64`), so moving to one walk
//! changed no value. Pure functions.

use serde_json::{Number, Value};
use yaml_rust2::parser::Tag;
use yaml_rust2::scanner::TScalarStyle;

use super::super::parse::Error;

/// Why a scalar has no JSON value.
#[derive(Debug)]
pub(super) enum Problem {
    /// A local tag (`!Ref`), named without its `!`.
    Tag(String),
    /// A float JSON cannot carry (`.inf`, `.nan`), as written by YAML.
    Number(String),
    /// A core tag whose text does not fit it (`!!int x`): not YAML.
    Fatal(Error),
}

/// The handle `yaml_rust2` gives `!!` tags.
const CORE: &str = "tag:yaml.org,2002:";

/// A local tag (`!Ref`), named without its `!`; core and verbatim tags are not local.
pub(super) fn local_tag(tag: &Tag) -> Option<String> {
    tag.handle.starts_with('!').then(|| {
        format!("{}{}", tag.handle, tag.suffix)
            .trim_start_matches('!')
            .to_string()
    })
}

/// The value of one scalar.
pub(super) fn scalar(text: &str, style: TScalarStyle, tag: &Option<Tag>) -> Result<Value, Problem> {
    if let Some(tag) = tag {
        if let Some(local) = local_tag(tag) {
            return Err(Problem::Tag(local));
        }
        if tag.handle == CORE {
            let invalid = |want: &str| {
                Problem::Fatal(Error::Yaml(format!(
                    "invalid value: string {text:?}, expected {want}"
                )))
            };
            return match tag.suffix.as_str() {
                "bool" => parse_bool(text)
                    .map(Value::Bool)
                    .ok_or_else(|| invalid("a boolean")),
                "int" => int(text).ok_or_else(|| invalid("an integer"))?,
                "float" => parse_f64(text)
                    .map(float)
                    .ok_or_else(|| invalid("a float"))?,
                "null" => is_null(text)
                    .then_some(Value::Null)
                    .ok_or_else(|| invalid("null")),
                _ => Ok(Value::String(text.to_string())),
            };
        }
    }
    if style != TScalarStyle::Plain {
        return Ok(Value::String(text.to_string()));
    }
    plain(text)
}

/// A plain scalar by the core schema, as `serde_yaml` 0.9 resolved it.
fn plain(text: &str) -> Result<Value, Problem> {
    if text.is_empty() || is_null(text) {
        return Ok(Value::Null);
    }
    if let Some(b) = parse_bool(text) {
        return Ok(Value::Bool(b));
    }
    if let Some(v) = int(text) {
        return v;
    }
    if !digits_but_not_number(text) {
        if let Some(f) = parse_f64(text) {
            return float(f);
        }
    }
    Ok(Value::String(text.to_string()))
}

fn is_null(text: &str) -> bool {
    matches!(text, "null" | "Null" | "NULL" | "~")
}

fn parse_bool(text: &str) -> Option<bool> {
    match text {
        "true" | "True" | "TRUE" => Some(true),
        "false" | "False" | "FALSE" => Some(false),
        _ => None,
    }
}

fn float(f: f64) -> Result<Value, Problem> {
    Number::from_f64(f).map(Value::Number).ok_or_else(|| {
        Problem::Number(
            if f.is_nan() {
                ".nan"
            } else if f.is_sign_negative() {
                "-.inf"
            } else {
                ".inf"
            }
            .to_string(),
        )
    })
}

/// An integer (`None`: not one). One past `u64`/`i64` is refused: JSON numbers here
/// are 64-bit.
fn int(text: &str) -> Option<Result<Value, Problem>> {
    if let Some(u) = unsigned(text, u64::from_str_radix) {
        return Some(Ok(Value::Number(u.into())));
    }
    if let Some(i) = negative(text, i64::from_str_radix) {
        return Some(Ok(Value::Number(i.into())));
    }
    if unsigned(text, u128::from_str_radix).is_some()
        || negative(text, i128::from_str_radix).is_some()
    {
        return Some(Err(Problem::Fatal(Error::Yaml(format!(
            "integer {text} is out of range"
        )))));
    }
    None
}

type Radix<T> = fn(&str, u32) -> Result<T, std::num::ParseIntError>;

/// `serde_yaml`'s `parse_unsigned_int`: `+`, `0x`, `0o`, `0b`, decimal.
fn unsigned<T>(text: &str, from: Radix<T>) -> Option<T> {
    let rest = text.strip_prefix('+').unwrap_or(text);
    for (prefix, radix) in [("0x", 16), ("0o", 8), ("0b", 2)] {
        if let Some(digits) = rest.strip_prefix(prefix) {
            if digits.starts_with(['+', '-']) {
                return None;
            }
            if let Ok(v) = from(digits, radix) {
                return Some(v);
            }
        }
    }
    if rest.starts_with(['+', '-']) || digits_but_not_number(text) {
        return None;
    }
    from(rest, 10).ok()
}

/// `serde_yaml`'s `parse_negative_int`: `-0x`, `-0o`, `-0b`, decimal.
fn negative<T>(text: &str, from: Radix<T>) -> Option<T> {
    for (prefix, radix) in [("-0x", 16), ("-0o", 8), ("-0b", 2)] {
        if let Some(digits) = text.strip_prefix(prefix) {
            if let Ok(v) = from(&format!("-{digits}"), radix) {
                return Some(v);
            }
        }
    }
    if digits_but_not_number(text) {
        return None;
    }
    from(text, 10).ok()
}

/// `serde_yaml`'s `parse_f64`.
fn parse_f64(text: &str) -> Option<f64> {
    let rest = match text.strip_prefix('+') {
        Some(r) if r.starts_with(['+', '-']) => return None,
        Some(r) => r,
        None => text,
    };
    match rest {
        ".inf" | ".Inf" | ".INF" => return Some(f64::INFINITY),
        _ => {}
    }
    match text {
        "-.inf" | "-.Inf" | "-.INF" => return Some(f64::NEG_INFINITY),
        ".nan" | ".NaN" | ".NAN" => return Some(f64::NAN),
        _ => {}
    }
    rest.parse::<f64>().ok().filter(|f| f.is_finite())
}

/// A leading zero followed by digits is a string in YAML 1.2 (`0123`).
fn digits_but_not_number(text: &str) -> bool {
    let t = text.strip_prefix(['-', '+']).unwrap_or(text);
    t.len() > 1 && t.starts_with('0') && t.bytes().skip(1).all(|b| b.is_ascii_digit())
}

pub(super) fn describe(v: &Value) -> String {
    match v {
        Value::Null => "null".into(),
        Value::Bool(b) => format!("boolean {b}"),
        Value::Number(n) => format!("number {n}"),
        Value::String(s) => format!("string {s:?}"),
        Value::Array(_) => "a sequence".into(),
        Value::Object(_) => "a mapping".into(),
    }
}
