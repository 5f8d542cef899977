//! immuta-gitops: keeps an Immuta tenant equal to a Git repository of V2 YAML files.
//!
//! The module tree is the data flow:
//!
//! ```text
//! config ─► source ─► manifest ─► live ─► plan ─► apply
//!  (flags)   (Snapshot) (DesiredSet) (LiveSet) (Plan) (ApplyReport)
//! ```
//!
//! [`client`] is the one way to talk HTTP to Immuta; the local Immuta API server used by
//! the tests, the benchmark and the demo is its own crate, `immuta-emulator` (in the
//! binary behind the default `emulator` feature). [`daemon`] composes the stages on a
//! schedule.
#![cfg_attr(
    not(test),
    deny(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)
)]
#![warn(clippy::print_stdout, clippy::dbg_macro)]

pub mod apply;
pub mod canonical;
pub mod cli;
pub mod client;
pub mod config;
pub mod cycle;
pub mod daemon;
pub mod demo;
pub mod limits;
pub mod live;
pub mod manifest;
pub mod notify;
pub mod object;
pub mod plan;
pub mod redact;
pub mod source;
pub mod terminal;
