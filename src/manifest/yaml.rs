//! Manifest stage, step 1a: the YAML walk. One pass over one file's `yaml_rust2` events
//! builds each document's value, records where every node was written, and enforces the
//! YAML limits.
//!
//! Input: the text, the kind's identity field and the [`Limits`]. Output: one [`Loaded`]
//! per document (value, [`SpanMap`], the problems that leave the rest readable), or the
//! [`Fatal`] problem that stops the file. The walk stops at the first node that breaks a
//! limit (node count, every alias counted as the nodes it repeats; nesting depth, aliases
//! expanded), repeats a mapping key, or is not YAML, so a hostile file costs a bounded
//! walk and no more (issue 11: a 50 MB file once took 5.5 GiB before its syntax error;
//! an alias bomb expands exponentially).
//!
//! Values follow what `serde_yaml` 0.9 made of the same text before (issue 12 folded the
//! two parsers into this one walk; `yaml::tests` compares them):
//! - plain scalars resolve by the YAML 1.2 core schema: `null`/`Null`/`NULL`/`~`/empty,
//!   `true`/`True`/`TRUE` and the `false` forms, integers (decimal, `0x`, `0o`, `0b`,
//!   a leading zero makes a string), floats (`1.5`, `1e3`, `.inf`, `.nan`); quoted and
//!   block scalars are strings;
//! - `!!str`, `!!int`, `!!float`, `!!bool`, `!!null` are honoured; another core tag
//!   (`!!map`, `!!binary`) is ignored; a local tag (`!Ref`) is an error;
//! - merge keys (`<<: *base`, `<<: [*a, *b]`) copy the entries the mapping does not
//!   write itself; the first source wins;
//! - an alias repeats its anchor's value; more than 100 alias expansions per event of a
//!   document is refused (`serde_yaml`'s repetition limit, kept).

use std::collections::HashMap;

use serde_json::{Map, Value};
use yaml_rust2::parser::{Event, Parser};
use yaml_rust2::scanner::Marker;

mod meter;
mod repeat;
mod scalar;
use meter::Meter;
use repeat::{record_in, record_tree};
use scalar::{describe, local_tag, scalar, Problem};

use super::parse::Error;
use super::spans::{push_child, push_index, Pos, SpanMap};
use crate::limits::Limits;

/// One document of a file, as walked.
#[derive(Debug)]
pub(super) struct Loaded {
    /// The value (`Null` for an empty document, or when values were not asked for).
    pub value: Value,
    /// Where every node was written.
    pub spans: SpanMap,
    /// Problems that leave the rest of the file readable: non-string keys, tags, numbers
    /// JSON cannot carry.
    pub problems: Vec<(Pos, Error)>,
}

/// The problem that stopped the walk: a syntax error, a limit, a duplicate key.
#[derive(Debug)]
pub(super) struct Fatal {
    /// Where.
    pub pos: Pos,
    /// What.
    pub error: Error,
    /// The object key of the document it is in, when the walk had read it.
    pub identity: Option<String>,
}

/// Walks `text`; `identity_field` is the top-level key naming the object. With `values`
/// false only positions and limits are worked out (the JSON reader brings its own
/// values).
pub(super) fn load(
    path: &str,
    text: &str,
    identity_field: &str,
    limits: &Limits,
    values: bool,
) -> Result<Vec<Loaded>, Fatal> {
    let mut w = Walker {
        path: path.to_string(),
        identity_field: identity_field.to_string(),
        meter: Meter::new(*limits),
        values,
        ..Walker::default()
    };
    let mut parser = Parser::new_from_str(text);
    loop {
        match parser.next_token() {
            Ok((Event::StreamEnd, _)) => break,
            Ok((ev, mark)) => {
                w.on_event(ev, mark);
                if w.fatal.is_some() {
                    break;
                }
            }
            Err(e) => {
                w.fatal = Some((pos(*e.marker()), Error::Yaml(e.info().to_string())));
                break;
            }
        }
    }
    match w.fatal.take() {
        Some((pos, error)) => Err(Fatal {
            pos,
            identity: w.identity_at(pos),
            error,
        }),
        None => Ok(w.docs),
    }
}

/// Where the value of the node being read goes.
#[derive(Debug)]
enum Slot {
    /// The document's root.
    Root,
    /// The next item of the sequence on top of the stack.
    Item,
    /// The entry of the mapping on top of the stack.
    Entry(String),
    /// A merge source (`<<`) of the mapping on top of the stack.
    Merge,
    /// Nowhere: the value of a key that is not a string.
    Discard,
}

/// The key of the mapping entry being read.
#[derive(Debug)]
enum Key {
    Str(String),
    Merge,
    Bad,
}

#[derive(Debug)]
enum Frame {
    Map {
        pointer: String,
        slot: Slot,
        anchor: usize,
        tag: Option<String>,
        key: Option<Key>,
        expect_key: bool,
        /// Keys seen so far, with the line they were written on.
        seen: HashMap<String, usize>,
        map: Map<String, Value>,
        merges: Vec<(Value, Pos)>,
    },
    Seq {
        pointer: String,
        slot: Slot,
        anchor: usize,
        tag: Option<String>,
        next: usize,
        items: Vec<Value>,
    },
}

#[derive(Debug, Default)]
struct Walker {
    path: String,
    identity_field: String,
    values: bool,
    docs: Vec<Loaded>,
    current: Option<Loaded>,
    stack: Vec<Frame>,
    /// Depth of a complex (non-scalar) mapping key being skipped.
    skip: usize,
    /// A block mapping's start marker is unreliable: its position is taken from its
    /// first key instead.
    pending_first_key: Option<String>,
    /// Node counts, depth and alias sizes against the limits.
    meter: Meter,
    /// Anchor id → the value an alias to it repeats.
    anchors: HashMap<usize, Value>,
    fatal: Option<(Pos, Error)>,
    identities: Vec<(Pos, Option<String>)>,
    /// The identity key was just read at the top level: the next scalar is its value.
    identity_next: bool,
}

fn pos(m: Marker) -> Pos {
    Pos {
        line: m.line().max(1),
        col: m.col() + 1,
    }
}

impl Walker {
    /// The object key of the document that holds `pos`, when it was read.
    fn identity_at(&self, pos: Pos) -> Option<String> {
        self.identities
            .iter()
            .rev()
            .find(|(start, _)| *start <= pos)
            .or_else(|| self.identities.first())
            .and_then(|(_, id)| id.clone())
    }

    fn record(&mut self, pointer: &str, at: Pos) {
        if let Some(doc) = self.current.as_mut() {
            record_in(&mut doc.spans, pointer, at);
        }
    }

    /// Where `pointer` was recorded (its key, for a mapping entry), else `at`.
    fn at_pointer(&self, pointer: &str, at: Pos) -> Pos {
        self.current
            .as_ref()
            .and_then(|d| d.spans.positions.get(pointer).copied())
            .unwrap_or(at)
    }

    fn problem(&mut self, at: Pos, e: Error) {
        if let Some(doc) = self.current.as_mut() {
            doc.problems.push((at, e));
        }
    }

    /// A key of the mapping on top of the stack starts now: records it and checks it.
    fn on_key(&mut self, ev: &Event, at: Pos) {
        let top_level = self.stack.len() == 1;
        let resolved = match ev {
            Event::Scalar(k, style, _, tag) => Some((Some(k.as_str()), scalar(k, *style, tag))),
            Event::Alias(id) => self.anchors.get(id).cloned().map(|v| (None, Ok(v))),
            _ => None,
        };
        let key = match resolved {
            Some((raw, Ok(Value::String(s)))) => {
                if let Some(Frame::Map { seen, .. }) = self.stack.last_mut() {
                    if let Some(first) = seen.insert(raw.unwrap_or(&s).to_string(), at.line) {
                        self.fatal
                            .get_or_insert((at, Error::DuplicateKey(s.clone(), first)));
                    }
                }
                self.identity_next = top_level && s == self.identity_field;
                if s == "<<" {
                    Key::Merge
                } else {
                    Key::Str(s)
                }
            }
            Some((_, Ok(other))) => {
                self.problem(at, Error::NonStringKey(describe(&other)));
                Key::Bad
            }
            Some((_, Err(Problem::Tag(_)))) => {
                self.problem(at, Error::NonStringKey("a tagged value".into()));
                Key::Bad
            }
            Some((_, Err(Problem::Number(n)))) => {
                self.problem(at, Error::NonStringKey(format!("number {n}")));
                Key::Bad
            }
            Some((_, Err(Problem::Fatal(e)))) => {
                self.fatal.get_or_insert((at, e));
                Key::Bad
            }
            None => {
                let what = match ev {
                    Event::SequenceStart(..) => "a sequence",
                    Event::MappingStart(..) => "a mapping",
                    _ => "null",
                };
                self.problem(at, Error::NonStringKey(what.into()));
                Key::Bad
            }
        };
        let pointer = match (&key, self.stack.last()) {
            (Key::Str(_) | Key::Merge, Some(Frame::Map { pointer, .. })) => {
                let mut p = String::with_capacity(pointer.len() + 8);
                p.push_str(pointer);
                push_child(&mut p, if let Key::Str(k) = &key { k } else { "<<" });
                Some(p)
            }
            _ => None,
        };
        if let Some(parent) = self.pending_first_key.take() {
            self.record(&parent, at);
        }
        if let Some(p) = &pointer {
            self.record(p, at);
        }
        if let Some(Frame::Map {
            key: k, expect_key, ..
        }) = self.stack.last_mut()
        {
            *k = Some(key);
            *expect_key = false;
        }
    }

    /// A value node starts now: its pointer and where its value goes. A scalar that is
    /// the top-level identity value is noted as the document's object key.
    fn on_value(&mut self, identity: Option<&str>) -> (String, Slot) {
        let value_of_identity = std::mem::take(&mut self.identity_next);
        match self.stack.last_mut() {
            None => (String::new(), Slot::Root),
            Some(Frame::Seq { pointer, next, .. }) => {
                let mut p = String::with_capacity(pointer.len() + 4);
                p.push_str(pointer);
                push_index(&mut p, *next);
                *next += 1;
                (p, Slot::Item)
            }
            Some(Frame::Map {
                pointer,
                key,
                expect_key,
                ..
            }) => {
                *expect_key = true;
                if value_of_identity {
                    if let (Some(v), Some(last)) = (identity, self.identities.last_mut()) {
                        last.1 = Some(v.to_string());
                    }
                }
                let mut p = String::with_capacity(pointer.len() + 8);
                p.push_str(pointer);
                match key.take() {
                    Some(Key::Str(k)) => {
                        push_child(&mut p, &k);
                        (p, Slot::Entry(k))
                    }
                    Some(Key::Merge) => {
                        push_child(&mut p, "<<");
                        (p, Slot::Merge)
                    }
                    _ => {
                        p.push_str("/?");
                        (p, Slot::Discard)
                    }
                }
            }
        }
    }

    fn is_key_position(&self) -> bool {
        matches!(
            self.stack.last(),
            Some(Frame::Map {
                expect_key: true,
                ..
            })
        )
    }

    /// Puts a finished value where it goes.
    fn place(&mut self, slot: Slot, value: Value, at: Pos) {
        match (slot, self.stack.last_mut()) {
            (Slot::Root, _) => {
                if let Some(doc) = self.current.as_mut() {
                    doc.value = value;
                }
            }
            (Slot::Item, Some(Frame::Seq { items, .. })) => items.push(value),
            (Slot::Entry(k), Some(Frame::Map { map, .. })) => {
                map.insert(k, value);
            }
            (Slot::Merge, Some(Frame::Map { merges, .. })) => merges.push((value, at)),
            _ => {}
        }
    }

    fn on_event(&mut self, ev: Event, mark: Marker) {
        let at = pos(mark);
        if let Some(broken) = self.meter.event(&ev, at) {
            self.fatal.get_or_insert(broken);
        }
        if self.skip > 0 {
            match ev {
                Event::MappingStart(..) | Event::SequenceStart(..) => self.skip += 1,
                Event::MappingEnd | Event::SequenceEnd => self.skip -= 1,
                _ => {}
            }
            return;
        }
        if self.is_key_position()
            && matches!(
                ev,
                Event::Scalar(..)
                    | Event::Alias(..)
                    | Event::MappingStart(..)
                    | Event::SequenceStart(..)
            )
        {
            if let Event::Scalar(k, style, anchor, tag) = &ev {
                if *anchor > 0 && self.values {
                    let v = scalar(k, *style, tag).unwrap_or(Value::Null);
                    self.anchors.insert(*anchor, v);
                }
            }
            self.on_key(&ev, at);
            if matches!(ev, Event::MappingStart(..) | Event::SequenceStart(..)) {
                self.skip = 1;
            }
            return;
        }
        match ev {
            Event::DocumentStart => {
                self.current = Some(Loaded {
                    value: Value::Null,
                    spans: SpanMap {
                        path: self.path.clone(),
                        ..SpanMap::default()
                    },
                    problems: Vec::new(),
                });
                self.stack.clear();
                self.pending_first_key = None;
                self.identities.push((at, None));
                self.meter.start_document();
            }
            Event::DocumentEnd => {
                if let Some(broken) = self.meter.end_document(at) {
                    self.fatal.get_or_insert(broken);
                }
                if let Some(doc) = self.current.take() {
                    self.docs.push(doc);
                }
            }
            Event::Scalar(text, style, anchor, tag) => {
                let (p, slot) = self.on_value(Some(&text));
                self.record(&p, at);
                if !self.values {
                    return;
                }
                let value = match scalar(&text, style, &tag) {
                    Ok(v) => v,
                    Err(Problem::Tag(t)) => {
                        self.problem(self.at_pointer(&p, at), Error::Tag(t));
                        Value::Null
                    }
                    Err(Problem::Number(n)) => {
                        self.problem(self.at_pointer(&p, at), Error::BadNumber(n));
                        Value::Null
                    }
                    Err(Problem::Fatal(e)) => {
                        self.fatal.get_or_insert((at, e));
                        Value::Null
                    }
                };
                if anchor > 0 {
                    self.anchors.insert(anchor, value.clone());
                }
                self.place(slot, value, at);
            }
            Event::Alias(id) => {
                let (p, slot) = self.on_value(None);
                self.record(&p, at);
                if !self.values {
                    return;
                }
                let value = self.anchors.get(&id).cloned().unwrap_or(Value::Null);
                if let Some(doc) = self.current.as_mut() {
                    record_tree(&mut doc.spans, &mut p.clone(), &value, at);
                }
                self.place(slot, value, at);
            }
            Event::MappingStart(anchor, ref tag) | Event::SequenceStart(anchor, ref tag) => {
                let is_map = matches!(ev, Event::MappingStart(..));
                let (p, slot) = self.on_value(None);
                let tag = tag.as_ref().and_then(local_tag);
                if is_map {
                    // Flow mappings (`{`) have a reliable marker; block ones do not.
                    self.pending_first_key = Some(p.clone());
                    self.stack.push(Frame::Map {
                        pointer: p,
                        slot,
                        anchor,
                        tag,
                        key: None,
                        expect_key: true,
                        seen: HashMap::new(),
                        map: Map::new(),
                        merges: Vec::new(),
                    });
                } else {
                    self.record(&p, at);
                    self.stack.push(Frame::Seq {
                        pointer: p,
                        slot,
                        anchor,
                        tag,
                        next: 0,
                        items: Vec::new(),
                    });
                }
            }
            Event::MappingEnd | Event::SequenceEnd => self.close(at),
            Event::Nothing | Event::StreamStart | Event::StreamEnd => {}
        }
    }

    /// The collection on top of the stack ends: builds its value and places it.
    fn close(&mut self, at: Pos) {
        let Some(frame) = self.stack.pop() else {
            return;
        };
        let (pointer, slot, anchor, tag, value) = match frame {
            Frame::Map {
                pointer,
                slot,
                anchor,
                tag,
                mut map,
                merges,
                ..
            } => {
                if self.pending_first_key.as_deref() == Some(pointer.as_str()) {
                    self.pending_first_key = None;
                    self.record(&pointer, at);
                }
                for (source, from) in merges {
                    self.merge(&mut map, &pointer, source, from);
                }
                (pointer, slot, anchor, tag, Value::Object(map))
            }
            Frame::Seq {
                pointer,
                slot,
                anchor,
                tag,
                items,
                ..
            } => (pointer, slot, anchor, tag, Value::Array(items)),
        };
        if !self.values {
            return;
        }
        let value = match tag {
            Some(t) => {
                self.problem(self.at_pointer(&pointer, at), Error::Tag(t));
                Value::Null
            }
            None => value,
        };
        if anchor > 0 {
            self.anchors.insert(anchor, value.clone());
        }
        self.place(slot, value, at);
    }
}

#[cfg(test)]
mod tests;
