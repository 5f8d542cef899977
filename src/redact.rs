//! Secret handling shared by every stage: [`Secret`] wraps a value that must never be
//! printed, and [`Redactor`] masks known secret values in any text before it leaves the
//! process (logs, plans, status pages, error messages).

use std::cmp::Reverse;
use std::collections::BTreeSet;
use std::fmt;

/// The text shown wherever a secret value would otherwise appear.
pub const MASK: &str = "(sensitive)";

/// A value that must never reach a log, a plan or an error message.
/// `Debug` and `Display` print [`MASK`]; use [`Secret::expose`] to send it.
#[derive(Clone, PartialEq, Eq, Default)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret value.
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }

    /// The value itself, for the one place that must send it (an HTTP header, a payload).
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(MASK)
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(MASK)
    }
}

/// Masks every known secret value in a piece of text.
///
/// Values shorter than 4 characters are not masked (they would mangle ordinary words);
/// they are still kept out of plans by the sensitive-path rules of the manifest stage.
#[derive(Clone, Default)]
pub struct Redactor {
    /// Ordered longest first (then by text), without duplicates: insertion is O(log n)
    /// however many secrets a revision holds.
    values: BTreeSet<(Reverse<usize>, String)>,
}

impl Redactor {
    /// An empty redactor.
    pub fn new() -> Self {
        Redactor::default()
    }

    /// Adds a value to mask. Longer values are masked first so a secret that contains
    /// another is hidden whole.
    pub fn add(&mut self, value: &str) {
        if value.len() < 4 {
            return;
        }
        self.values
            .insert((Reverse(value.len()), value.to_string()));
    }

    /// Adds every value of another redactor.
    pub fn extend(&mut self, other: &Redactor) {
        self.values.extend(other.values.iter().cloned());
    }

    /// Returns `text` with every known secret replaced by [`MASK`].
    pub fn redact(&self, text: &str) -> String {
        let mut out = text.to_string();
        for (_, v) in &self.values {
            if out.contains(v.as_str()) {
                out = out.replace(v.as_str(), MASK);
            }
        }
        out
    }

    /// How many values are known.
    pub fn len(&self) -> usize {
        self.values.len()
    }

    /// True when no value is known.
    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }
}

/// Never prints the values it knows, only how many.
impl fmt::Debug for Redactor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Redactor")
            .field("values", &self.values.len())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_never_formats_its_value() {
        let s = Secret::new("hunter22");
        assert_eq!(format!("{s} {s:?}"), "(sensitive) (sensitive)");
        assert_eq!(s.expose(), "hunter22");
    }

    #[test]
    fn redactor_masks_longest_first() {
        let mut r = Redactor::new();
        r.add("abcd");
        r.add("abcdefgh");
        r.add("xy");
        assert_eq!(
            r.redact("k=abcdefgh j=abcd xy"),
            "k=(sensitive) j=(sensitive) xy"
        );
    }
}
