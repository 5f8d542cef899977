//! The integration tests, linked once: one module per area (ripgrep's layout), shared
//! helpers in [`common`]. Fixtures stay in `tests/fixtures/`. Run one area with
//! `cargo test --test it daemon::` (the module name is the test-name prefix).

mod common;

mod adopt;
mod bad_input;
mod ci_recipe;
mod commands;
mod concurrency;
mod converge;
mod daemon;
mod data_diff;
mod deploy;
mod examples;
mod export;
mod faults;
mod flags;
mod golden;
mod incremental;
mod limits;
mod markdown;
mod notify;
mod ownership;
mod pipeline;
mod plan_scope;
mod prune;
mod rename;
mod replay;
mod risk;
mod saved_plan;
mod secrets;
mod table_removal;
mod terminal;
mod tty;
