//! Manifest stage, step 1a: the event scan. Walks one file's YAML as a stream of
//! `yaml_rust2` events, before any value tree is built.
//!
//! Input: the text, the kind's identity field and the [`Limits`]. Output: [`Scan`]: a
//! [`SpanMap`] per document, each document's object key, and the first problem found.
//! It stops at the first node that breaks a limit (node count, every alias counted as
//! the nodes it repeats; nesting depth, aliases expanded) or repeats a mapping key, so a
//! hostile file costs a bounded walk and no more (issue 11: a 50 MB file once took
//! 5.5 GiB before its syntax error; an alias bomb expands exponentially). It never
//! stores values, only positions and keys.

use std::collections::HashMap;

use yaml_rust2::parser::{Event, Parser};
use yaml_rust2::scanner::Marker;

use super::parse::{push_child, push_index, Error, Pos, SpanMap};
use crate::limits::Limits;

/// What the scan of one file found.
#[derive(Debug, Default)]
pub(super) struct Scan {
    /// One span map per document, complete when [`Scan::complete`].
    pub docs: Vec<SpanMap>,
    /// The whole text was walked without a syntax error or a problem.
    pub complete: bool,
    /// The first limit broken or duplicate key, where.
    pub problem: Option<(Pos, Error)>,
    /// Each document's start and its top-level identity value, as far as the walk got.
    identities: Vec<(Pos, Option<String>)>,
    /// The alias that repeats the most nodes, and how many: where a parser that gives up
    /// on repetition without a position should point.
    pub largest_alias: Option<(Pos, u64)>,
}

impl Scan {
    /// The object key of the document that holds `pos`, when it was read.
    pub fn identity_at(&self, pos: Pos) -> Option<String> {
        self.identities
            .iter()
            .rev()
            .find(|(start, _)| *start <= pos)
            .or_else(|| self.identities.first())
            .and_then(|(_, id)| id.clone())
    }
}

/// Walks `text`; `identity_field` is the top-level key naming the object.
pub(super) fn scan(path: &str, text: &str, identity_field: &str, limits: &Limits) -> Scan {
    let mut walker = SpanWalker {
        path: path.to_string(),
        identity_field: identity_field.to_string(),
        limits: *limits,
        ..SpanWalker::default()
    };
    let mut parser = Parser::new_from_str(text);
    let complete = loop {
        match parser.next_token() {
            Ok((Event::StreamEnd, _)) => break true,
            Ok((ev, mark)) => {
                walker.on_event(ev, mark);
                if walker.problem.is_some() {
                    break false;
                }
            }
            Err(_) => break false,
        }
    };
    Scan {
        docs: walker.docs,
        complete,
        problem: walker.problem,
        identities: walker.identities,
        largest_alias: walker.largest_alias,
    }
}

#[derive(Debug)]
enum Frame {
    Map {
        pointer: String,
        key: Option<String>,
        expect_key: bool,
        /// Keys seen so far, with the line they were written on.
        seen: HashMap<String, usize>,
    },
    Seq {
        pointer: String,
        next: usize,
    },
}

/// A mapping or sequence still open, for alias sizes.
#[derive(Debug)]
struct Open {
    anchor: usize,
    /// Nodes counted before it started.
    nodes_before: u64,
    /// Depth of the collection itself.
    depth: u32,
    /// Deepest level reached inside it so far.
    deepest: u32,
}

#[derive(Debug, Default)]
struct SpanWalker {
    path: String,
    identity_field: String,
    limits: Limits,
    docs: Vec<SpanMap>,
    current: Option<SpanMap>,
    stack: Vec<Frame>,
    /// Depth of a complex (non-scalar) mapping key being skipped.
    skip: usize,
    /// A block mapping's start marker is unreliable: its position is taken from its
    /// first key instead.
    pending_first_key: Option<String>,
    /// Nodes so far in the file, aliases expanded.
    nodes: u64,
    /// Collections open now.
    depth: u32,
    open: Vec<Open>,
    /// Anchor id → (nodes it expands to, levels it adds).
    anchors: HashMap<usize, (u64, u32)>,
    problem: Option<(Pos, Error)>,
    identities: Vec<(Pos, Option<String>)>,
    /// The identity key was just read at the top level: the next scalar is its value.
    identity_next: bool,
    largest_alias: Option<(Pos, u64)>,
}

fn pos(m: Marker) -> Pos {
    Pos {
        line: m.line().max(1),
        col: m.col() + 1,
    }
}

impl SpanWalker {
    fn record(&mut self, pointer: &str, at: Pos) {
        record_in(&mut self.current, pointer, at);
    }

    /// Counts `n` more nodes reaching `depth` levels; records a problem past a limit.
    fn count(&mut self, n: u64, depth: u32, at: Pos) {
        self.nodes = self.nodes.saturating_add(n);
        if let Some(top) = self.open.last_mut() {
            top.deepest = top.deepest.max(depth);
        }
        if self.problem.is_some() {
            return;
        }
        if self.nodes > self.limits.yaml_nodes {
            self.problem = Some((at, Error::TooManyNodes(self.limits.yaml_nodes)));
        } else if depth > self.limits.yaml_depth {
            self.problem = Some((at, Error::TooDeep(self.limits.yaml_depth)));
        }
    }

    /// Node counting and alias sizes, for every event.
    fn measure(&mut self, ev: &Event, at: Pos) {
        match ev {
            Event::Scalar(_, _, anchor, _) => {
                self.count(1, self.depth, at);
                if *anchor > 0 {
                    self.anchors.insert(*anchor, (1, 0));
                }
            }
            Event::Alias(id) => {
                let (n, levels) = self.anchors.get(id).copied().unwrap_or((1, 0));
                if self.largest_alias.is_none_or(|(_, most)| n > most) {
                    self.largest_alias = Some((at, n));
                }
                self.count(n, self.depth.saturating_add(levels), at);
            }
            Event::MappingStart(anchor, _) | Event::SequenceStart(anchor, _) => {
                self.depth = self.depth.saturating_add(1);
                self.count(1, self.depth, at);
                self.open.push(Open {
                    anchor: *anchor,
                    nodes_before: self.nodes.saturating_sub(1),
                    depth: self.depth,
                    deepest: self.depth,
                });
            }
            Event::MappingEnd | Event::SequenceEnd => {
                self.depth = self.depth.saturating_sub(1);
                if let Some(done) = self.open.pop() {
                    if done.anchor > 0 {
                        let size = self.nodes.saturating_sub(done.nodes_before);
                        let levels = done.deepest.saturating_sub(done.depth) + 1;
                        self.anchors.insert(done.anchor, (size, levels));
                    }
                    if let Some(parent) = self.open.last_mut() {
                        parent.deepest = parent.deepest.max(done.deepest);
                    }
                }
            }
            _ => {}
        }
    }

    /// The pointer of the node that starts now, if it is a value (not a key).
    fn node_pointer(&mut self, ev: &Event, at: Pos) -> Option<String> {
        let top_level = self.stack.len() == 1;
        match self.stack.last_mut() {
            None => Some(String::new()),
            Some(Frame::Seq { pointer, next }) => {
                let mut p = String::with_capacity(pointer.len() + 4);
                p.push_str(pointer);
                push_index(&mut p, *next);
                *next += 1;
                Some(p)
            }
            Some(Frame::Map {
                pointer,
                key,
                expect_key,
                seen,
            }) => {
                if *expect_key {
                    *expect_key = false;
                    if let Some(doc) = self.current.as_mut() {
                        doc.keys.entry(pointer.clone()).or_default().push(at);
                    }
                    *key = match ev {
                        Event::Scalar(k, ..) => {
                            if let Some(first) = seen.insert(k.clone(), at.line) {
                                self.problem
                                    .get_or_insert((at, Error::DuplicateKey(k.clone(), first)));
                            }
                            self.identity_next = top_level && *k == self.identity_field;
                            let mut p = String::with_capacity(pointer.len() + k.len() + 1);
                            p.push_str(pointer);
                            push_child(&mut p, k);
                            Some(p)
                        }
                        _ => None,
                    };
                    if let Some(parent) = self.pending_first_key.take() {
                        record_in(&mut self.current, &parent, at);
                    }
                    if let Some(k) = key.as_deref() {
                        record_in(&mut self.current, k, at);
                    }
                    None
                } else {
                    *expect_key = true;
                    if std::mem::take(&mut self.identity_next) {
                        if let (Event::Scalar(v, ..), Some(last)) = (ev, self.identities.last_mut())
                        {
                            last.1 = Some(v.clone());
                        }
                    }
                    Some(key.take().unwrap_or_else(|| format!("{pointer}/?")))
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

    fn on_event(&mut self, ev: Event, mark: Marker) {
        let at = pos(mark);
        self.measure(&ev, at);
        if self.skip > 0 {
            match ev {
                Event::MappingStart(..) | Event::SequenceStart(..) => self.skip += 1,
                Event::MappingEnd | Event::SequenceEnd => self.skip -= 1,
                _ => {}
            }
            return;
        }
        match ev {
            Event::DocumentStart => {
                self.current = Some(SpanMap {
                    path: self.path.clone(),
                    ..SpanMap::default()
                });
                self.stack.clear();
                self.pending_first_key = None;
                self.identities.push((at, None));
            }
            Event::DocumentEnd => {
                if let Some(doc) = self.current.take() {
                    self.docs.push(doc);
                }
            }
            Event::Scalar(..) | Event::Alias(..) => {
                if let Some(p) = self.node_pointer(&ev, at) {
                    self.record(&p, at);
                }
            }
            Event::MappingStart(..) | Event::SequenceStart(..) => {
                if self.is_key_position() {
                    let _ = self.node_pointer(&ev, at);
                    self.skip = 1;
                    return;
                }
                let Some(p) = self.node_pointer(&ev, at) else {
                    return;
                };
                if matches!(ev, Event::MappingStart(..)) {
                    // Flow mappings (`{`) have a reliable marker; block ones do not.
                    self.pending_first_key = Some(p.clone());
                    self.stack.push(Frame::Map {
                        pointer: p,
                        key: None,
                        expect_key: true,
                        seen: HashMap::new(),
                    });
                } else {
                    self.record(&p, at);
                    self.stack.push(Frame::Seq {
                        pointer: p,
                        next: 0,
                    });
                }
            }
            Event::MappingEnd | Event::SequenceEnd => {
                if let Some(Frame::Map { pointer, .. }) = self.stack.pop() {
                    if self.pending_first_key.as_deref() == Some(pointer.as_str()) {
                        self.pending_first_key = None;
                        self.record(&pointer, at);
                    }
                }
            }
            Event::Nothing | Event::StreamStart | Event::StreamEnd => {}
        }
    }
}

/// Records the first position seen for `pointer` in the document being walked.
fn record_in(current: &mut Option<SpanMap>, pointer: &str, at: Pos) {
    if let Some(doc) = current.as_mut() {
        if !doc.positions.contains_key(pointer) {
            doc.positions.insert(pointer.to_string(), at);
        }
        if pointer.is_empty() && doc.start.is_none() {
            doc.start = Some(at);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::parse::parse_file_with;
    use super::super::Diagnostic;
    use crate::limits::Limits;
    use crate::object::Kind;

    fn first_error(text: &str, limits: &Limits) -> Diagnostic {
        let errs = parse_file_with(Kind::Policy, "policy/p.yaml", text, limits).unwrap_err();
        errs.into_iter().next().unwrap()
    }

    #[test]
    fn issue_11_yaml_level_errors_name_their_node_and_the_object() {
        let limits = Limits::default();
        let cases: &[(&str, &str, &str)] = &[
            (
                "policyKey: p1\nname: a\nname: b\n",
                "policy/p.yaml:3:1: policy p1: duplicate mapping key \"name\" (first written at line 2)",
                "",
            ),
            (
                "policyKey: p2\nactions:\n  - rules:\n      - type: x\n        type: y\n",
                "policy/p.yaml:5:9: policy p2: duplicate mapping key \"type\"",
                "",
            ),
            (
                "policyKey: p3\nstaged: false\nx:\n  a: 1\n  true: 2\n",
                "policy/p.yaml:5:3: policy p3: mapping keys must be strings; found boolean true",
                "",
            ),
            (
                "policyKey: p4\nx:\n  ? [a, b]\n  : 1\n",
                "policy/p.yaml:3:5: policy p4: mapping keys must be strings; found a sequence",
                "",
            ),
            (
                "policyKey: first\n---\npolicyKey: second\nx:\n  1: y\n",
                "policy/p.yaml:5:3: policy second: mapping keys must be strings",
                "",
            ),
            (
                "policyKey: p5\nname: [unclosed\n",
                "policy/p.yaml:3:1: policy p5: invalid YAML",
                "",
            ),
            (
                "name: no key here\na: 1\na: 2\n",
                "policy/p.yaml:3:1: policy -: duplicate mapping key",
                "",
            ),
        ];
        for (text, want, _) in cases {
            let shown = first_error(text, &limits).to_string();
            assert!(
                shown.starts_with(want),
                "{text:?}\n got {shown}\nwant {want}"
            );
        }
    }

    #[test]
    fn issue_11_yaml_limits_stop_the_walk_with_a_position() {
        let small = Limits {
            yaml_nodes: 1000,
            yaml_depth: 8,
            ..Limits::default()
        };
        // The classic alias bomb: nine levels of ten aliases each.
        let mut bomb = String::from("policyKey: bomb\na: &a [x, x, x, x, x, x, x, x, x, x]\n");
        for (prev, name) in ["a", "b", "c", "d", "e", "f", "g", "h"]
            .iter()
            .zip(["b", "c", "d", "e", "f", "g", "h", "i"])
        {
            let refs = vec![format!("*{prev}"); 10].join(", ");
            bomb.push_str(&format!("{name}: &{name} [{refs}]\n"));
        }
        let d = first_error(&bomb, &Limits::default());
        assert_eq!((d.span.line, d.key.as_deref()), (7, Some("bomb")), "{d}");
        assert!(d.message.contains("more than 1000000 YAML nodes"), "{d}");
        let d = first_error(&bomb, &small);
        assert_eq!(d.span.line, 4, "{d}");
        assert!(d.message.contains("--max-yaml-nodes"), "{d}");
        // A smaller bomb, under the node limit: the YAML parser's own repetition limit
        // stops it, reported at the alias that repeats the most.
        let small_bomb: String = bomb.lines().take(6).map(|l| format!("{l}\n")).collect();
        let d = first_error(&small_bomb, &Limits::default());
        assert!(d.message.contains("repetition limit exceeded"), "{d}");
        assert_eq!(
            (d.span.line, d.span.col, d.key.as_deref()),
            (6, 8, Some("bomb")),
            "{d}"
        );
        // Many plain nodes, no alias.
        let many = format!("policyKey: many\nitems:\n{}", "  - x\n".repeat(2000));
        let d = first_error(&many, &small);
        assert!(d.message.contains("more than 1000 YAML nodes"), "{d}");
        assert_eq!((d.span.line, d.span.col), (998, 5), "{d}");
        // Deep nesting, written out or reached through an alias.
        let deep = format!("policyKey: deep\nx: {}{}\n", "[".repeat(20), "]".repeat(20));
        let d = first_error(&deep, &small);
        assert!(d.message.contains("deeper than 8 levels"), "{d}");
        assert_eq!(
            (d.span.line, d.span.col, d.key.as_deref()),
            (2, 11, Some("deep")),
            "{d}"
        );
        let via_alias = "policyKey: via\nbase: &b [[[[[[1]]]]]]\nuse: [[[*b]]]\n";
        let d = first_error(via_alias, &small);
        assert!(d.message.contains("deeper than 8 levels"), "{d}");
        assert_eq!(d.span.line, 3, "{d}");
        // Under the limits, the same shapes parse.
        assert!(
            parse_file_with(Kind::Policy, "policy/p.yaml", via_alias, &Limits::default()).is_ok()
        );
        let fine = format!("policyKey: many\nitems:\n{}", "  - x\n".repeat(900));
        assert!(parse_file_with(Kind::Policy, "policy/p.yaml", &fine, &small).is_ok());
    }
}
