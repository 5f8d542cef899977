//! The `immuta-gitops` binary: parse arguments, run, map the outcome to an exit code.
fn main() -> std::process::ExitCode {
    immuta_gitops::cli::main()
}
