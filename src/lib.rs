//! immuta-gitops: keeps an Immuta tenant equal to a Git repository of V2 YAML files.
//!
//! The module tree is the data flow:
//!
//! ```text
//! config ─► source ─► manifest ─► live ─► plan ─► apply
//!  (flags)   (Snapshot) (DesiredSet) (LiveSet) (Plan) (ApplyReport)
//! ```
//!
//! [`cycle::Reconciler`] is the one place that sequences the stages (and records the
//! inventory in the [`state::StateDir`]); the command line (in the binary, not this
//! library), [`daemon`] and [`demo`] only decide when to call it and how to show the
//! result. [`client`] is the one way to talk HTTP to Immuta; the local Immuta API server
//! used by the tests, the benchmark and the demo is its own crate, `immuta-emulator` (in
//! the binary behind the default `emulator` feature).
//!
//! ```no_run
//! # async fn example(client: immuta_gitops::client::Client) -> Result<(), Box<dyn std::error::Error>> {
//! use immuta_gitops::{Reconciler, Settings, SourceSpec};
//! let reconciler = Reconciler::new(Settings {
//!     client,
//!     prune: Default::default(),
//!     state: None,
//! })?;
//! let spec = SourceSpec { repo: "/srv/tenant".into(), ..Default::default() };
//! let snapshot = Reconciler::fetch(&spec).await?;
//! let planned = reconciler.plan(&snapshot, &immuta_gitops::manifest::ProcessEnv).await?;
//! let applied = reconciler
//!     .apply(&planned, tokio_util::sync::CancellationToken::new())
//!     .await;
//! assert!(applied.report.is_success());
//! # Ok(()) }
//! ```
#![cfg_attr(
    not(test),
    deny(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)
)]
#![warn(clippy::print_stdout, clippy::dbg_macro)]

pub mod apply;
pub mod canonical;
pub mod client;
pub mod config;
pub mod cycle;
pub mod daemon;
pub mod demo;
pub mod export;
pub mod limits;
pub mod live;
pub mod manifest;
pub mod notify;
pub mod object;
pub mod plan;
pub mod redact;
pub mod source;
pub mod state;
pub mod terminal;

pub use cycle::{Applied, Planned, Reconciler, Settings};
pub use plan::Plan;
pub use source::SourceSpec;
pub use state::StateDir;
