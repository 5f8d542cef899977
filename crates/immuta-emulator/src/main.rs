//! The `immuta-emulator` binary: serve the local Immuta API on a socket until Ctrl-C or
//! SIGTERM. The same server as `immuta-gitops emulator`, for test setups that do not
//! build the main binary with its `emulator` feature.
//!
//! Input: flags (the API key also from `IMMUTA_EMULATOR_API_KEY`). Output: the line
//! `listening on http://ADDR` on stdout, then the server. Exit 2 on bad flags, 1 when the
//! socket or the seed cannot be used.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use immuta_emulator::{routes, serve, Options};

/// Serve the local Immuta API emulator until interrupted.
#[derive(Debug, Parser)]
#[command(name = "immuta-emulator", version)]
struct Args {
    /// Address to listen on; port 0 picks a free port.
    #[arg(long, default_value = "127.0.0.1:0")]
    listen: String,
    /// The API key clients must send.
    #[arg(long, env = "IMMUTA_EMULATOR_API_KEY", default_value = "emulator-key")]
    api_key: String,
    /// Directory in repository layout to load as the initial tenant.
    #[arg(long)]
    seed: Option<PathBuf>,
    /// Latency added to every request (0s to 1h).
    #[arg(long, default_value = "0s", value_parser = parse_latency)]
    latency: Duration,
    /// Probability of a 500/503 answer.
    #[arg(long, default_value_t = 0.0, value_parser = parse_probability)]
    fault_rate: f64,
    /// Probability of a 429 answer with Retry-After.
    #[arg(long, default_value_t = 0.0, value_parser = parse_probability)]
    throttle_rate: f64,
    /// Probability of a dropped connection before the request is handled.
    #[arg(long, default_value_t = 0.0, value_parser = parse_probability)]
    reset_rate: f64,
    /// Probability that a write lands but its answer is lost (connection dropped after
    /// the handler ran).
    #[arg(long, default_value_t = 0.0, value_parser = parse_probability)]
    lost_answer_rate: f64,
    /// Seed of the fault generator, so runs reproduce.
    #[arg(long, default_value_t = 0)]
    seed_rng: u64,
    /// Largest page a V1 list answers, whatever `size` the client asks for.
    #[arg(long, default_value_t = 1000, value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
    max_page_size: u32,
}

/// A duration from 0s to 1h (`humantime` syntax).
fn parse_latency(s: &str) -> Result<Duration, String> {
    match humantime::parse_duration(s.trim()) {
        Ok(d) if d <= Duration::from_secs(3600) => Ok(d),
        Ok(_) => Err(format!("{s:?} is out of range; valid: 0s to 1h")),
        Err(e) => Err(format!("{s:?} is not a duration ({e}); valid: 0s to 1h")),
    }
}

/// A number from 0 to 1.
fn parse_probability(s: &str) -> Result<f64, String> {
    match s.trim().parse::<f64>() {
        Ok(p) if (0.0..=1.0).contains(&p) => Ok(p),
        _ => Err(format!("{s:?} is not a probability; valid: 0 to 1")),
    }
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

async fn run(args: Args) -> Result<(), String> {
    let listener = tokio::net::TcpListener::bind(&args.listen)
        .await
        .map_err(|e| format!("cannot listen on {}: {e}", args.listen))?;
    let addr = listener
        .local_addr()
        .map_err(|e| format!("cannot read the listening address: {e}"))?;
    let opts = Options {
        api_key: args.api_key,
        seed: args.seed,
        latency: args.latency,
        fault_rate: args.fault_rate,
        throttle_rate: args.throttle_rate,
        reset_rate: args.reset_rate,
        lost_answer_rate: args.lost_answer_rate,
        rng_seed: args.seed_rng,
        max_page_size: usize::try_from(args.max_page_size).unwrap_or(routes::MAX_PAGE),
    };
    {
        let mut out = std::io::stdout().lock();
        writeln!(out, "listening on http://{addr}").map_err(|e| e.to_string())?;
        out.flush().map_err(|e| e.to_string())?;
    }
    serve(opts, listener, shutdown_signal())
        .await
        .map_err(|e| e.to_string())
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
    match runtime.block_on(run(args)) {
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

    #[test]
    fn flags_parse_with_the_documented_defaults_and_ranges() {
        let a = Args::try_parse_from(["immuta-emulator"]).unwrap();
        assert_eq!(usize::try_from(a.max_page_size).unwrap(), routes::MAX_PAGE);
        assert_eq!(a.latency, Duration::ZERO);
        assert_eq!(a.listen, "127.0.0.1:0");
        let a = Args::try_parse_from(["immuta-emulator", "--latency", "250ms"]).unwrap();
        assert_eq!(a.latency, Duration::from_millis(250));
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
