//! Manifest stage, YAML walk: the limits. Counts nodes (every alias as the nodes it
//! repeats), nesting depth (aliases expanded) and alias expansions per document, and
//! says which event broke a limit first (issue 11). It sees events only, never values.

use std::collections::HashMap;

use yaml_rust2::parser::Event;

use super::super::parse::Error;
use super::super::spans::Pos;
use crate::limits::Limits;

/// A mapping or sequence still open, for alias sizes.
#[derive(Debug)]
struct Open {
    anchor: usize,
    /// Nodes counted before it started.
    nodes_before: u64,
    /// Alias expansions counted before it started.
    jumps_before: u64,
    /// Depth of the collection itself.
    depth: u32,
    /// Deepest level reached inside it so far.
    deepest: u32,
}

/// What an alias to one anchor repeats.
#[derive(Debug, Default)]
struct Size {
    nodes: u64,
    levels: u32,
    jumps: u64,
}

/// The counters of one file.
#[derive(Debug, Default)]
pub(super) struct Meter {
    limits: Limits,
    /// Nodes so far in the file, aliases expanded.
    nodes: u64,
    /// Collections open now.
    depth: u32,
    open: Vec<Open>,
    /// Anchor id → what an alias to it repeats.
    sizes: HashMap<usize, Size>,
    /// Events and alias expansions in the current document.
    doc_events: u64,
    doc_jumps: u64,
    /// The alias that repeats the most nodes, and how many.
    largest_alias: Option<(Pos, u64)>,
    broken: Option<(Pos, Error)>,
}

impl Meter {
    pub(super) fn new(limits: Limits) -> Meter {
        Meter {
            limits,
            ..Meter::default()
        }
    }

    /// A document starts: its own event and expansion counts start at zero.
    pub(super) fn start_document(&mut self) {
        (self.doc_events, self.doc_jumps) = (0, 0);
    }

    /// A document ends at `at`: `serde_yaml`'s repetition limit (more than 100 alias
    /// expansions per event), reported at the alias that repeats the most.
    pub(super) fn end_document(&self, at: Pos) -> Option<(Pos, Error)> {
        (self.doc_jumps > self.doc_events.saturating_mul(100)).then(|| {
            let where_ = self.largest_alias.map_or(at, |(p, _)| p);
            (where_, Error::Yaml("repetition limit exceeded".into()))
        })
    }

    /// Counts `n` more nodes reaching `depth` levels; stops the walk past a limit.
    fn count(&mut self, n: u64, depth: u32, at: Pos) {
        self.nodes = self.nodes.saturating_add(n);
        if let Some(top) = self.open.last_mut() {
            top.deepest = top.deepest.max(depth);
        }
        if self.broken.is_some() {
            return;
        }
        if self.nodes > self.limits.yaml_nodes {
            self.broken = Some((at, Error::TooManyNodes(self.limits.yaml_nodes)));
        } else if depth > self.limits.yaml_depth {
            self.broken = Some((at, Error::TooDeep(self.limits.yaml_depth)));
        }
    }

    /// Counts one event; the first limit broken so far, if any.
    pub(super) fn event(&mut self, ev: &Event, at: Pos) -> Option<(Pos, Error)> {
        self.doc_events = self.doc_events.saturating_add(1);
        match ev {
            Event::Scalar(_, _, anchor, _) => {
                self.count(1, self.depth, at);
                if *anchor > 0 {
                    let a = self.sizes.entry(*anchor).or_default();
                    (a.nodes, a.levels, a.jumps) = (1, 0, 0);
                }
            }
            Event::Alias(id) => {
                let (n, levels, jumps) = self
                    .sizes
                    .get(id)
                    .map_or((1, 0, 0), |a| (a.nodes, a.levels, a.jumps));
                if self.largest_alias.is_none_or(|(_, most)| n > most) {
                    self.largest_alias = Some((at, n));
                }
                self.doc_jumps = self.doc_jumps.saturating_add(jumps.saturating_add(1));
                self.count(n, self.depth.saturating_add(levels), at);
            }
            Event::MappingStart(anchor, _) | Event::SequenceStart(anchor, _) => {
                self.depth = self.depth.saturating_add(1);
                self.count(1, self.depth, at);
                self.open.push(Open {
                    anchor: *anchor,
                    nodes_before: self.nodes.saturating_sub(1),
                    jumps_before: self.doc_jumps,
                    depth: self.depth,
                    deepest: self.depth,
                });
            }
            Event::MappingEnd | Event::SequenceEnd => {
                self.depth = self.depth.saturating_sub(1);
                if let Some(done) = self.open.pop() {
                    if done.anchor > 0 {
                        let a = self.sizes.entry(done.anchor).or_default();
                        a.nodes = self.nodes.saturating_sub(done.nodes_before);
                        a.levels = done.deepest.saturating_sub(done.depth) + 1;
                        a.jumps = self.doc_jumps.saturating_sub(done.jumps_before);
                    }
                    if let Some(parent) = self.open.last_mut() {
                        parent.deepest = parent.deepest.max(done.deepest);
                    }
                }
            }
            _ => {}
        }
        self.broken.clone()
    }
}
