//! Which objects a plan read from Immuta (issue 15): every one ([`PlanScope::Full`]),
//! or only those changed since their last check, the others carried as in sync from
//! their record ([`PlanScope::Incremental`]). Carried with the [`super::Plan`], so the
//! text, Markdown and JSON plans say which mode made them.
//!
//! JSON: a plain full plan writes nothing (plans saved before issue 15 read as full);
//! otherwise `"scope": {"full": {"fallback": "…"}}` or
//! `"scope": {"incremental": {"planned": 1, "carried": 39, "oldest_check": 1796133600}}`.
//! `"scope": "full"` is read too.

use serde::{Deserialize, Deserializer, Serialize};

/// How much of the tenant a plan read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PlanScope {
    /// Every object was read from Immuta.
    Full {
        /// Why an incremental plan was asked for but not possible.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        fallback: Option<String>,
    },
    /// Only the changed objects (and the policies and purposes, which the bulk lists
    /// bring whole) were compared with Immuta.
    Incremental {
        /// Objects compared with Immuta in this plan.
        planned: usize,
        /// Objects carried as in sync from their last check, without a read.
        carried: usize,
        /// Unix seconds of the oldest last check among the carried objects.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        oldest_check: Option<u64>,
    },
}

impl Default for PlanScope {
    fn default() -> Self {
        PlanScope::Full { fallback: None }
    }
}

impl PlanScope {
    /// A full plan that nobody asked to be incremental (omitted from JSON).
    pub fn is_plain_full(&self) -> bool {
        matches!(self, PlanScope::Full { fallback: None })
    }

    /// Whether objects were carried without a read.
    pub fn is_incremental(&self) -> bool {
        matches!(self, PlanScope::Incremental { .. })
    }

    /// The header line of the text and Markdown plans, without a trailing newline.
    pub fn header(&self) -> String {
        match self {
            PlanScope::Full { fallback: None } => "Refresh: full — every object read".into(),
            PlanScope::Full {
                fallback: Some(why),
            } => format!("Refresh: full — every object read ({why})"),
            PlanScope::Incremental {
                planned,
                carried,
                oldest_check,
            } => {
                let oldest = oldest_check
                    .map(|t| format!(" (oldest {})", rfc3339(t)))
                    .unwrap_or_default();
                format!(
                    "Refresh: changed — {} compared with Immuta, {} carried as in sync from {} last check{oldest}",
                    count(*planned),
                    thousands(*carried),
                    if *carried == 1 { "its" } else { "their" }
                )
            }
        }
    }
}

/// RFC 3339 UTC of unix seconds, clamped to what RFC 3339 can write (a damaged state
/// file must not make `Display` fail).
fn rfc3339(secs: u64) -> String {
    const LAST: u64 = 253_402_300_799; // 9999-12-31T23:59:59Z
    let t = std::time::SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(secs.min(LAST));
    humantime::format_rfc3339_seconds(t).to_string()
}

fn count(n: usize) -> String {
    format!("{} object{}", thousands(n), if n == 1 { "" } else { "s" })
}

/// `1999` → `1,999`.
fn thousands(n: usize) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

#[derive(Deserialize)]
#[serde(rename_all = "snake_case")]
enum Tagged {
    Full {
        #[serde(default)]
        fallback: Option<String>,
    },
    Incremental {
        planned: usize,
        carried: usize,
        #[serde(default)]
        oldest_check: Option<u64>,
    },
}

#[derive(Deserialize)]
#[serde(untagged)]
enum Written {
    Word(String),
    Tagged(Tagged),
}

impl<'de> Deserialize<'de> for PlanScope {
    fn deserialize<D: Deserializer<'de>>(de: D) -> Result<Self, D::Error> {
        match Written::deserialize(de)? {
            Written::Word(w) if w == "full" => Ok(PlanScope::default()),
            Written::Word(w) => Err(serde::de::Error::custom(format!(
                "unknown plan scope {w:?}; expected \"full\" or an object"
            ))),
            Written::Tagged(Tagged::Full { fallback }) => Ok(PlanScope::Full { fallback }),
            Written::Tagged(Tagged::Incremental {
                planned,
                carried,
                oldest_check,
            }) => Ok(PlanScope::Incremental {
                planned,
                carried,
                oldest_check,
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_say_the_mode() {
        assert_eq!(
            PlanScope::default().header(),
            "Refresh: full — every object read"
        );
        let s = PlanScope::Incremental {
            planned: 1,
            carried: 1999,
            oldest_check: Some(1_796_133_600),
        };
        assert_eq!(
            s.header(),
            "Refresh: changed — 1 object compared with Immuta, 1,999 carried as in sync from their last check (oldest 2026-12-01T14:00:00Z)"
        );
        let f = PlanScope::Full {
            fallback: Some("no state directory".into()),
        };
        assert_eq!(
            f.header(),
            "Refresh: full — every object read (no state directory)"
        );
    }

    #[test]
    fn json_round_trips_and_reads_the_word() {
        for s in [
            PlanScope::default(),
            PlanScope::Full {
                fallback: Some("x".into()),
            },
            PlanScope::Incremental {
                planned: 2,
                carried: 3,
                oldest_check: None,
            },
        ] {
            let text = serde_json::to_string(&s).unwrap();
            assert_eq!(
                serde_json::from_str::<PlanScope>(&text).unwrap(),
                s,
                "{text}"
            );
        }
        assert_eq!(
            serde_json::from_str::<PlanScope>("\"full\"").unwrap(),
            PlanScope::default()
        );
        assert!(serde_json::from_str::<PlanScope>("\"partial\"").is_err());
    }
}
