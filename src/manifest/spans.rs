//! Manifest stage: positions. Where each value of a document was written, addressed by
//! JSON pointer, and the helpers that build those pointers.
//!
//! Input: positions recorded by the YAML walk ([`super::yaml`]). Output: [`Span`]s for
//! diagnostics. No parsing happens here.

use std::collections::HashMap;

use super::Span;

/// A 1-based line and column inside one file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Pos {
    /// 1-based line.
    pub line: usize,
    /// 1-based column.
    pub col: usize,
}

/// Where each value of one document was written: JSON pointer → position of its key
/// (mapping entries) or of the item itself (sequence items). `""` is the document root.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SpanMap {
    pub(super) path: String,
    pub(super) start: Option<Pos>,
    pub(super) positions: HashMap<String, Pos>,
}

impl SpanMap {
    /// The span of `pointer`, or of its nearest recorded ancestor, or of the document.
    pub fn span(&self, pointer: &str) -> Span {
        let mut p = pointer;
        loop {
            if let Some(pos) = self.positions.get(p) {
                return self.at(*pos);
            }
            match p.rfind('/') {
                Some(i) => p = p.get(..i).unwrap_or_default(),
                None => break,
            }
        }
        self.at(self.start.unwrap_or(Pos { line: 1, col: 1 }))
    }

    fn at(&self, pos: Pos) -> Span {
        Span {
            path: self.path.clone(),
            line: pos.line,
            col: pos.col,
        }
    }
}

/// Escapes one JSON-pointer reference token (`~` → `~0`, `/` → `~1`).
pub fn escape_token(token: &str) -> String {
    let mut out = String::with_capacity(token.len());
    push_token(&mut out, token);
    out
}

/// Appends the escaped `token` (no leading `/`) to `pointer`, allocating only to grow it.
pub fn push_token(pointer: &mut String, token: &str) {
    if !token.contains(['~', '/']) {
        pointer.push_str(token);
        return;
    }
    for c in token.chars() {
        match c {
            '~' => pointer.push_str("~0"),
            '/' => pointer.push_str("~1"),
            c => pointer.push(c),
        }
    }
}

/// Appends `/` and the escaped `token` to `pointer`.
pub fn push_child(pointer: &mut String, token: &str) {
    pointer.push('/');
    push_token(pointer, token);
}

/// Appends `/` and the decimal `index` to `pointer`.
pub fn push_index(pointer: &mut String, index: usize) {
    use std::fmt::Write as _;
    let _ = write!(pointer, "/{index}");
}
