//! Manifest stage, validation: "did you mean" for a field the schema does not know.

pub(super) fn hint(suggestion: Option<&str>) -> String {
    suggestion.map_or_else(String::new, |s| format!(" (did you mean {s}?)"))
}

/// The known field spelled closest to `unknown`, when exactly one is close: at most two
/// edits (transpositions count as one, case is ignored) and fewer than a third of the
/// name's letters, so short names are not "corrected" into unrelated ones.
pub fn nearest<'k>(unknown: &str, known: &[&'k str]) -> Option<&'k str> {
    let lower = unknown.to_lowercase();
    let limit = (lower.chars().count() / 3).clamp(1, 2);
    let mut best: Option<(usize, &'k str)> = None;
    let mut tie = false;
    for k in known {
        let d = strsim::damerau_levenshtein(&lower, &k.to_lowercase());
        if d > limit {
            continue;
        }
        match best {
            Some((b, _)) if d > b => {}
            Some((b, _)) if d == b => tie = true,
            _ => {
                best = Some((d, k));
                tie = false;
            }
        }
    }
    best.filter(|_| !tie).map(|(_, k)| k)
}
