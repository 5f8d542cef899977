//! Export, data connections: what a V2 `data/` document needs on top of the V1 reads.
//!
//! Input: a live connection in V2 shape (`live::tenant`, keyed by its connection
//! string). Output: the same body with every credential the connection's
//! `authenticationMethod` requires (000:15291-15337) as an `{{EnvVar "NAME"}}`
//! placeholder, the variables to set, and what the reads cannot give:
//!
//! - the **connection key**: V1 answers do not carry it (001:312-375), so the key written
//!   is the connection string the plan names the connection by, and the document is marked
//!   incomplete until a person writes the key it was created with (`immuta datasource list
//!   keys` lists them, 000:1660-1663); keys Immuta generated are kept that way, never
//!   invented;
//! - credentials that are files (`userFiles`) or that no rule names.
//!
//! Variable names are predictable: `IMMUTA_<CONNECTION>_<FIELD>`, the connection string
//! upper-cased with every other character run as `_`, cut at 60 characters. No secret
//! value is ever read, so none can be written. Pure functions.

use serde_json::{Map, Value};

use crate::live::LiveObject;
use crate::manifest::schema::{AUTH_RULES, HANDLERS, SENSITIVE_CONNECTION_KEYS};

/// A connection prepared for rendering.
#[derive(Debug, Clone, PartialEq)]
pub struct Prepared {
    /// The body with placeholders.
    pub object: LiveObject,
    /// `(variable, what it holds)` for every placeholder.
    pub variables: Vec<(String, String)>,
    /// What the reads could not give.
    pub missing: Vec<String>,
}

/// The environment variable for `field` of the connection named `group`.
pub fn variable(group: &str, field: &str) -> String {
    let upper = |text: &str| {
        let mut out = String::with_capacity(text.len());
        for c in text.chars() {
            if c.is_ascii_alphanumeric() {
                out.push(c.to_ascii_uppercase());
            } else if !out.ends_with('_') {
                out.push('_');
            }
        }
        out.trim_matches('_').to_string()
    };
    let mut connection = upper(group);
    // Every character kept is ASCII: any byte offset is a boundary.
    connection.truncate(60);
    let connection = connection.trim_end_matches('_');
    format!("IMMUTA_{connection}_{}", upper(field))
}

/// Adds the placeholders and says what is missing (see the module header).
pub fn prepare(live: &LiveObject) -> Prepared {
    let group = live.key.name.clone();
    let mut object = live.clone();
    let mut variables = Vec::new();
    let mut missing = vec![format!(
        "connectionKey: V1 reads do not give a connection's key; {group:?} is its connection string; write the key it was created with (`immuta datasource list keys`)"
    )];
    let Some(Value::Object(body)) = object.body.as_mut() else {
        return Prepared {
            object,
            variables,
            missing,
        };
    };
    let Some(Value::Object(conn)) = body.get_mut("connection") else {
        missing.push("connection: the handler metadata could not be read".into());
        return Prepared {
            object,
            variables,
            missing,
        };
    };
    let handler = str_of(conn, "handler");
    let method = str_of(conn, "authenticationMethod");
    let rules: Vec<_> = AUTH_RULES
        .iter()
        .filter(|r| Some(r.handler) == handler.as_deref() && Some(r.method) == method.as_deref())
        .filter(|r| r.use_certificate.is_none())
        .collect();
    // Fields the handler itself requires (000:14327-14331, 15260-15447) count too.
    let handler_required = HANDLERS
        .iter()
        .filter(|h| Some(h.handler) == handler.as_deref())
        .flat_map(|h| h.required.iter());
    let required: Vec<&str> = rules
        .iter()
        .flat_map(|r| r.required.iter())
        .chain(handler_required)
        .copied()
        .collect();
    if rules.is_empty()
        && !required
            .iter()
            .any(|f| SENSITIVE_CONNECTION_KEYS.contains(f))
    {
        missing.push(format!(
            "connection: the credentials of authenticationMethod {} for handler {} are not known to export; add them as {{{{EnvVar}}}} placeholders",
            method.as_deref().unwrap_or("(none read)"),
            handler.as_deref().unwrap_or("(none read)")
        ));
    }
    let mut seen = std::collections::BTreeSet::new();
    for field in required.iter().filter(|f| seen.insert(**f)) {
        if conn.contains_key(*field) {
            continue;
        }
        if SENSITIVE_CONNECTION_KEYS.contains(field) {
            let name = variable(&group, field);
            conn.insert(
                (*field).to_string(),
                Value::String(format!("{{{{EnvVar \"{name}\"}}}}")),
            );
            variables.push((name, format!("connection.{field} of {group}")));
        } else {
            missing.push(format!(
                "connection.{field}: required, and not in the V1 reads"
            ));
        }
    }
    Prepared {
        object,
        variables,
        missing,
    }
}

fn str_of(m: &Map<String, Value>, k: &str) -> Option<String> {
    m.get(k).and_then(Value::as_str).map(str::to_string)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::object::{Kind, ObjectKey};
    use serde_json::json;

    #[test]
    fn credentials_become_predictable_placeholders() {
        let group = "svc@acme.snowflakecomputing.com:443/CLAIMS";
        let live = LiveObject {
            key: ObjectKey::new(Kind::Data, group),
            id: None,
            system: false,
            body: Some(json!({"connectionKey": group, "connection": {
                "handler": "Snowflake", "authenticationMethod": "userPassword",
                "hostname": "acme.snowflakecomputing.com", "port": 443, "database": "CLAIMS",
                "warehouse": "WH", "username": "svc"}})),
        };
        let p = prepare(&live);
        let var = "IMMUTA_SVC_ACME_SNOWFLAKECOMPUTING_COM_443_CLAIMS_PASSWORD";
        assert_eq!(p.variables.len(), 1);
        assert_eq!(p.variables[0].0, var);
        assert_eq!(
            p.object.body.unwrap()["connection"]["password"],
            json!(format!("{{{{EnvVar \"{var}\"}}}}"))
        );
        assert!(
            p.missing[0].starts_with("connectionKey: "),
            "{:?}",
            p.missing
        );
        assert_eq!(p.missing.len(), 1, "{:?}", p.missing);
        let long = variable(&"x".repeat(200), "clientSecret");
        assert!(
            long.len() <= 60 + 7 + 1 + 12 && long.ends_with("_CLIENTSECRET"),
            "{long}"
        );
    }
}
