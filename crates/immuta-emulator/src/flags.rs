//! The emulator's command-line flags and its serve-until-stopped entry point, shared by
//! the `immuta-emulator` binary and `immuta-gitops emulator` so both take the same flags
//! with the same ranges.
//!
//! Output: the line `listening on http://ADDR` on stdout once the socket is bound (tests
//! and scripts wait for it), then the server until `shutdown` resolves.

use std::future::Future;
use std::io::Write;
use std::path::PathBuf;
use std::time::Duration;

use crate::{routes, serve, Options};

/// Serve the local Immuta API emulator until interrupted.
#[derive(Debug, Clone, clap::Args)]
pub struct Flags {
    /// Address to listen on; port 0 picks a free port.
    #[arg(long, default_value = "127.0.0.1:0")]
    pub listen: String,
    /// The API key clients must send.
    #[arg(long, env = "IMMUTA_EMULATOR_API_KEY", default_value = "emulator-key")]
    pub api_key: String,
    /// Directory in repository layout to load as the initial tenant.
    #[arg(long)]
    pub seed: Option<PathBuf>,
    /// Latency added to every request (0s to 1h).
    #[arg(long, default_value = "0s", value_parser = parse_latency)]
    pub latency: Duration,
    /// Probability of a 500/503 answer.
    #[arg(long, default_value_t = 0.0, value_parser = parse_probability)]
    pub fault_rate: f64,
    /// Probability of a 429 answer with Retry-After.
    #[arg(long, default_value_t = 0.0, value_parser = parse_probability)]
    pub throttle_rate: f64,
    /// Probability of a dropped connection before the request is handled.
    #[arg(long, default_value_t = 0.0, value_parser = parse_probability)]
    pub reset_rate: f64,
    /// Probability that a write lands but its answer is lost (connection dropped after
    /// the handler ran).
    #[arg(long, default_value_t = 0.0, value_parser = parse_probability)]
    pub lost_answer_rate: f64,
    /// Seed of the fault generator, so runs reproduce.
    #[arg(long, default_value_t = 0)]
    pub seed_rng: u64,
    /// Largest page a V1 list answers, whatever `size` the client asks for (the docs
    /// give no maximum; a small value makes clients read every list over several pages).
    #[arg(long, default_value_t = 1000, value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
    pub max_page_size: u32,
}

impl Flags {
    /// The server options these flags describe.
    pub fn options(&self) -> Options {
        Options {
            api_key: self.api_key.clone(),
            seed: self.seed.clone(),
            latency: self.latency,
            fault_rate: self.fault_rate,
            throttle_rate: self.throttle_rate,
            reset_rate: self.reset_rate,
            lost_answer_rate: self.lost_answer_rate,
            rng_seed: self.seed_rng,
            max_page_size: usize::try_from(self.max_page_size).unwrap_or(routes::MAX_PAGE),
            // The request-time log is read in-process only (no route serves it): off here.
            request_log_capacity: 0,
        }
    }
}

/// Binds `--listen`, prints `listening on http://ADDR`, and serves until `shutdown`.
///
/// # Errors
/// A message naming what failed: the socket, stdout, or the seed tenant.
pub async fn run(
    flags: &Flags,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), String> {
    let listener = tokio::net::TcpListener::bind(&flags.listen)
        .await
        .map_err(|e| format!("cannot listen on {}: {e}", flags.listen))?;
    let addr = listener
        .local_addr()
        .map_err(|e| format!("cannot read the listening address: {e}"))?;
    {
        let mut out = std::io::stdout().lock();
        writeln!(out, "listening on http://{addr}").map_err(|e| e.to_string())?;
        out.flush().map_err(|e| e.to_string())?;
    }
    serve(flags.options(), listener, shutdown)
        .await
        .map_err(|e| e.to_string())
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn probabilities_are_between_zero_and_one() {
        assert_eq!(parse_probability("0.5"), Ok(0.5));
        for bad in ["-0.1", "1.5", "NaN", "x"] {
            assert!(
                parse_probability(bad).unwrap_err().contains("0 to 1"),
                "{bad}"
            );
        }
    }
}
