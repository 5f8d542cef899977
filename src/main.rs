//! The `immuta-gitops` binary: parse arguments, run, map the outcome to an exit code. The
//! command line ([`cli`]) lives here, outside the library.
#![cfg_attr(
    not(test),
    deny(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)
)]
#![warn(clippy::print_stdout, clippy::dbg_macro)]

mod cli;

fn main() -> std::process::ExitCode {
    cli::main()
}
