//! The `immuta-emulator` binary: serve the local Immuta API on a socket until Ctrl-C or
//! SIGTERM. The same server as `immuta-gitops emulator`, for test setups that do not
//! build the main binary with its `emulator` feature.
//!
//! Input: flags (the API key also from `IMMUTA_EMULATOR_API_KEY`). Output: the line
//! `listening on http://ADDR` on stdout, then the server. Exit 2 on bad flags, 1 when the
//! socket or the seed cannot be used.

use std::process::ExitCode;

use clap::Parser;
use immuta_emulator::flags::{self, Flags};

/// Serve the local Immuta API emulator until interrupted.
#[derive(Debug, Parser)]
#[command(name = "immuta-emulator", version)]
struct Args {
    #[command(flatten)]
    flags: Flags,
}

/// Ctrl-C or SIGTERM.
async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {}
        () = term => {}
    }
}

fn main() -> ExitCode {
    let args = Args::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the runtime: {e}");
            return ExitCode::from(1);
        }
    };
    match runtime.block_on(flags::run(&args.flags, shutdown_signal())) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(1)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use immuta_emulator::routes;
    use std::time::Duration;

    #[test]
    fn flags_parse_with_the_documented_defaults_and_ranges() {
        let a = Args::try_parse_from(["immuta-emulator"]).unwrap();
        assert_eq!(
            usize::try_from(a.flags.max_page_size).unwrap(),
            routes::MAX_PAGE
        );
        assert_eq!(a.flags.latency, Duration::ZERO);
        assert_eq!(a.flags.listen, "127.0.0.1:0");
        let a = Args::try_parse_from(["immuta-emulator", "--latency", "250ms"]).unwrap();
        assert_eq!(a.flags.latency, Duration::from_millis(250));
        for (flag, value) in [
            ("--fault-rate", "2"),
            ("--fault-rate", "x"),
            ("--latency", "2h"),
            ("--latency", "300000000000y"),
            ("--max-page-size", "0"),
        ] {
            let err = Args::try_parse_from(["immuta-emulator", flag, value]);
            assert!(err.is_err(), "{flag} {value}");
        }
    }
}
