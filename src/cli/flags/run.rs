//! The flags of `immuta-gitops run`; each has an environment fallback.

use std::path::PathBuf;
use std::time::Duration;

use std::str::FromStr;

use immuta_gitops::client::Budget;
use immuta_gitops::daemon::{DriftPolicy, Mode, Options, WeakeningPolicy};
use immuta_gitops::limits;
use immuta_gitops::redact::Secret;

use super::{Common, GitFlags, ImmutaFlags, LimitFlags, PruneFlags, RepoFlags, StateFlags};

/// Flags of `immuta-gitops run`. Each has an environment fallback.
#[derive(Debug, Clone, clap::Args)]
pub struct RunArgs {
    /// Where the manifests live.
    #[command(flatten)]
    pub repo: RepoFlags,
    /// Git cache and credentials.
    #[command(flatten)]
    pub git: GitFlags,
    /// How much of a revision may be read and parsed.
    #[command(flatten)]
    pub limits: LimitFlags,
    /// How to reach Immuta.
    #[command(flatten)]
    pub immuta: ImmutaFlags,
    /// Deletes of managed objects that left Git (off unless asked; needs --state-dir).
    #[command(flatten)]
    pub prune: PruneFlags,

    /// How often Git is polled.
    #[arg(long, env = "IMMUTA_GITOPS_INTERVAL", default_value = "5m", value_parser = limits::parse_interval)]
    pub interval: Duration,
    /// Random spread of each wait: ±N percent of the interval.
    #[arg(long, env = "IMMUTA_GITOPS_JITTER", default_value = "10%", value_parser = parse_percent)]
    pub jitter: f64,
    /// How often the live tenant is compared with an unchanged revision (default: --interval).
    #[arg(long, env = "IMMUTA_GITOPS_DRIFT_INTERVAL", value_parser = limits::parse_interval)]
    pub drift_interval: Option<Duration>,
    /// At most COUNT data-source dry runs per PERIOD in drift sweeps (`300/min`, `5/s`,
    /// `1000/h`, `300/90s`). The default sweeps 1,200 connections in 4 minutes while a
    /// warehouse sees at most 5 new metadata queries a second, under the 8 statements an
    /// X-Small Snowflake warehouse runs at once before it queues.
    #[arg(long, env = "IMMUTA_GITOPS_DRY_RUN_BUDGET", value_name = "COUNT/PERIOD", default_value = "300/min", value_parser = Budget::from_str)]
    pub dry_run_budget: Budget,
    /// `apply` writes; `plan-only` only logs plans.
    #[arg(long, env = "IMMUTA_GITOPS_MODE", value_enum, default_value = "apply")]
    pub mode: Mode,
    /// On drift from an applied revision: `report` (log and count) or `heal` (re-apply).
    #[arg(
        long,
        env = "IMMUTA_GITOPS_DRIFT",
        value_enum,
        default_value = "report"
    )]
    pub drift: DriftPolicy,
    /// Changes that weaken data protection: `hold` (apply the rest, keep them pending
    /// until a commit carries `Immuta-Approve: <kind/name>` or `Immuta-Approve: all`) or
    /// `allow` (apply them like any other change).
    #[arg(
        long,
        env = "IMMUTA_GITOPS_WEAKENING",
        value_enum,
        default_value = "hold"
    )]
    pub weakening: WeakeningPolicy,
    /// Address of the HTTP endpoints (/healthz, /readyz, /metrics, /status, /hook).
    #[arg(long, env = "IMMUTA_GITOPS_LISTEN", default_value = "0.0.0.0:8080")]
    pub listen: String,
    /// File holding the webhook secret (GitHub HMAC secret or GitLab token); enables POST /hook.
    #[arg(long, env = "IMMUTA_GITOPS_WEBHOOK_SECRET_FILE")]
    pub webhook_secret_file: Option<PathBuf>,
    /// Directory of optional credential files `token`, `ssh-key`, `ssh-passphrase`,
    /// `webhook-secret` (a mounted Secret): each present file is used, each missing one
    /// leaves its feature off. Explicit --*-file flags win.
    #[arg(long, env = "IMMUTA_GITOPS_CREDENTIALS_DIR")]
    pub credentials_dir: Option<PathBuf>,
    /// Where the last applied revision and the inventory are remembered.
    #[command(flatten)]
    pub state: StateFlags,
    /// Log format.
    #[command(flatten)]
    pub log: super::LogFlags,
    /// On SIGTERM/SIGINT, how long a running apply may take to finish its writes in flight.
    #[arg(long, env = "IMMUTA_GITOPS_GRACE_PERIOD", default_value = "30s", value_parser = limits::parse_wait)]
    pub grace_period: Duration,
    /// Quiet time after a burst of file changes (local --repo) before a cycle starts.
    #[arg(long, env = "IMMUTA_GITOPS_DEBOUNCE", default_value = "2s", value_parser = limits::parse_wait)]
    pub debounce: Duration,
    /// An apply window, `allow|deny <cron> <duration>` (e.g. `allow 0 22 * * 1-5 4h`):
    /// outside every allow window, or inside a deny window, cycles plan but do not write.
    /// Repeatable; in the environment variable, separated by `;`.
    #[arg(
        long = "apply-window",
        env = "IMMUTA_GITOPS_APPLY_WINDOW",
        value_name = "SPEC",
        value_delimiter = ';'
    )]
    pub apply_windows: Vec<String>,
    /// The IANA time zone of the apply windows' cron expressions.
    #[arg(
        long,
        env = "IMMUTA_GITOPS_APPLY_WINDOW_TZ",
        value_name = "ZONE",
        default_value = "UTC"
    )]
    pub apply_window_tz: String,
    /// Where to post notifications: a URL for the generic JSON body, `slack:<URL>` for
    /// Slack's incoming-webhook format. Repeatable; in the environment variable (better:
    /// a URL may hold a token), separated by spaces. Never logged.
    #[arg(
        long = "notify",
        env = "IMMUTA_GITOPS_NOTIFY",
        value_name = "URL",
        value_delimiter = ' ',
        value_parser = parse_secret,
        hide_env_values = true
    )]
    pub notify: Vec<Secret>,
}

/// Keeps a flag value that may hold a token out of `Debug` output.
fn parse_secret(s: &str) -> Result<Secret, String> {
    Ok(Secret::new(s))
}

impl RunArgs {
    /// The daemon's settings these flags describe.
    pub fn options(&self) -> Options {
        let common = Common {
            git: &self.git,
            limits: &self.limits,
            immuta: &self.immuta,
            guards: &self.prune.guards,
            state: &self.state,
        };
        let r = &self.repo;
        Options {
            flags: common.flags(
                r.repo.clone(),
                r.reference.clone(),
                r.path.clone(),
                self.prune.kinds(),
            ),
            interval: self.interval,
            jitter: self.jitter,
            drift_interval: self.drift_interval,
            dry_run_budget: self.dry_run_budget,
            mode: self.mode,
            drift: self.drift,
            weakening: self.weakening,
            listen: self.listen.clone(),
            webhook_secret_file: self.webhook_secret_file.clone(),
            credentials_dir: self.credentials_dir.clone(),
            grace_period: self.grace_period,
            debounce: self.debounce,
            apply_windows: self.apply_windows.clone(),
            apply_window_tz: self.apply_window_tz.clone(),
            notify: self.notify.clone(),
        }
    }
}

/// `--jitter`: `10%` or `10` (percent, 0–100) → `0.1`.
///
/// # Errors
/// A message for clap when the value is not a number in 0–100.
pub fn parse_percent(s: &str) -> Result<f64, String> {
    let t = s.trim();
    let n = t.strip_suffix('%').unwrap_or(t).trim();
    let v: f64 = n
        .parse()
        .map_err(|_| format!("{s:?} is not a percentage (e.g. 10%)"))?;
    if !(0.0..=100.0).contains(&v) {
        return Err(format!("{s:?} must be between 0% and 100%"));
    }
    Ok(v / 100.0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use immuta_gitops::client::RetryPolicy;
    use immuta_gitops::object::Kind;

    /// Parses `run` flags alone (program name first).
    fn parse(args: &[&str]) -> Result<RunArgs, clap::Error> {
        #[derive(clap::Parser)]
        struct Wrapper {
            #[command(flatten)]
            run: RunArgs,
        }
        <Wrapper as clap::Parser>::try_parse_from(args).map(|w| w.run)
    }

    #[test]
    fn the_library_default_connection_settings_are_the_flags_defaults() {
        let flags = parse(&[
            "run",
            "--repo",
            "r",
            "--immuta-url",
            "https://t.example",
            "--api-key-file",
            "k",
        ])
        .unwrap()
        .immuta
        .args();
        let lib = immuta_gitops::config::ImmutaArgs::new("https://t.example", "k");
        assert_eq!(format!("{flags:?}"), format!("{lib:?}"));
    }

    #[test]
    fn percent_parses_with_or_without_sign() {
        let cases = [
            ("10%", Some(0.1)),
            ("0", Some(0.0)),
            (" 25 % ", Some(0.25)),
            ("100%", Some(1.0)),
            ("101%", None),
            ("-1", None),
            ("ten", None),
        ];
        for (s, want) in cases {
            assert_eq!(parse_percent(s).ok(), want, "{s}");
        }
    }

    #[test]
    fn flags_have_documented_defaults() {
        let a = parse(&["run", "--repo", "/tmp/x"]).unwrap();
        assert_eq!(a.interval, Duration::from_secs(300));
        assert!((a.jitter - 0.1).abs() < 1e-9);
        assert_eq!(a.options().effective_drift_interval(), a.interval);
        assert_eq!(
            a.dry_run_budget,
            immuta_gitops::client::pace::DEFAULT_BUDGET
        );
        assert_eq!(a.mode, Mode::Apply);
        assert_eq!(a.drift, DriftPolicy::Report);
        assert_eq!(a.listen, "0.0.0.0:8080");
        assert_eq!(a.grace_period, Duration::from_secs(30));
        assert_eq!(a.debounce, Duration::from_secs(2));
        assert!(a.prune.prune.is_empty());
        assert_eq!(a.state.state_dir, None);
        assert_eq!(a.prune.guards.max_deletions, 5);
        assert!(!a.prune.guards.allow_empty);
        assert_eq!(a.immuta.retry.policy(), RetryPolicy::default());
        let b = parse(&[
            "run",
            "--repo",
            "r",
            "--mode",
            "plan-only",
            "--drift",
            "heal",
            "--drift-interval",
            "1h",
            "--jitter",
            "0%",
            "--dry-run-budget",
            "5/s",
        ])
        .unwrap();
        assert_eq!(b.options().dry_run_budget.to_string(), "5/s");
        assert!(parse(&["run", "--repo", "r", "--dry-run-budget", "0/min"]).is_err());
        assert_eq!(b.mode, Mode::PlanOnly);
        assert_eq!(b.drift, DriftPolicy::Heal);
        assert_eq!(
            b.options().effective_drift_interval(),
            Duration::from_secs(3600)
        );
        assert!(parse(&["run", "--repo", "r", "--mode", "yolo"]).is_err());
        let c = parse(&[
            "run",
            "--repo",
            "r",
            "--prune=policy,project",
            "--max-deletions",
            "2",
            "--allow-empty",
            "--retry-attempts",
            "3",
            "--retry-max-elapsed",
            "5s",
        ])
        .unwrap();
        assert_eq!(c.prune.kinds(), [Kind::Policy, Kind::Project].into());
        assert_eq!(c.prune.guards.max_deletions, 2);
        assert!(c.prune.guards.allow_empty);
        assert_eq!(c.immuta.retry.policy().max_attempts, 3);
        assert_eq!(c.immuta.retry.policy().max_elapsed, Duration::from_secs(5));
        let all = parse(&["run", "--repo", "r", "--prune"]).unwrap();
        assert_eq!(all.prune.kinds().len(), 4);
    }

    #[test]
    fn windows_and_receivers_repeat_and_keep_urls_out_of_debug() {
        let a = parse(&[
            "run",
            "--repo",
            "r",
            "--apply-window",
            "allow 0 22 * * 1-5 4h",
            "--apply-window",
            "deny @daily 1h",
            "--apply-window-tz",
            "Europe/Berlin",
            "--notify",
            "https://h.example/x?token=t0k3n-abc",
            "--notify",
            "slack:https://hooks.slack.com/services/T/B/s3cr3t-xyz",
        ])
        .unwrap();
        let o = a.options();
        assert_eq!(o.apply_windows, ["allow 0 22 * * 1-5 4h", "deny @daily 1h"]);
        assert_eq!(o.apply_window_tz, "Europe/Berlin");
        assert_eq!(o.notify.len(), 2);
        let debug = format!("{a:?} {o:?}");
        assert!(
            !debug.contains("t0k3n") && !debug.contains("s3cr3t"),
            "{debug}"
        );
        let d = parse(&["run", "--repo", "r"]).unwrap().options();
        assert!(d.apply_windows.is_empty() && d.notify.is_empty());
        assert_eq!(d.apply_window_tz, "UTC");
    }
}
