//! `immuta-gitops run`: the long-running reconciler. Composes the stages (through
//! `cycle`) on a schedule, on verified webhooks and on local file changes, and serves
//! `/healthz`, `/readyz`, `/metrics`, `/status` and `/hook`.
//!
//! Input: [`RunArgs`] and a shutdown future. Output: a clean exit after draining. Parts:
//!
//! - [`schedule`]: jittered interval, drift-check rule, failure [`schedule::Backoff`];
//! - [`trigger`]: why a cycle runs and the single-flight queue;
//! - [`runner`]: the loop (one cycle at a time, backoff, graceful shutdown);
//! - [`reconcile`]: one cycle — fetch, decide, plan, log the plan, apply or report drift;
//! - [`server`], [`webhook`], [`metrics`], [`status`]: the HTTP side;
//! - [`watch`]: file changes of a local `--repo`; [`state`]: what a restart remembers;
//! - [`window`]: apply windows (when writes are allowed); [`announce`]: what the
//!   notifications say (through [`crate::notify`]).
//!
//! It never writes to Immuta when the plan could not be completed, never logs a secret
//! (API key, Git token, webhook secret, templated values), and never prints to stdout.

use std::future::Future;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use clap::ValueEnum;
use tokio::sync::watch as channel;

use crate::client::{self, Client};
use crate::config::{self, ImmutaArgs, SourceArgs};
use crate::redact::{Redactor, Secret};
use crate::source::{self, SourceSpec};

pub mod announce;
pub mod memory;
pub mod metrics;
pub mod reconcile;
pub mod runner;
pub mod schedule;
pub mod server;
pub mod state;
pub mod status;
pub mod trigger;
pub mod watch;
pub mod webhook;
pub mod window;

/// The longest wait for queued notifications at shutdown.
const NOTIFY_DRAIN: Duration = Duration::from_secs(5);

/// Whether cycles write.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Mode {
    /// Plan, log the plan, apply it.
    Apply,
    /// Plan and log the plan; never write.
    PlanOnly,
}

impl Mode {
    /// The flag value.
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Apply => "apply",
            Mode::PlanOnly => "plan-only",
        }
    }
}

/// What to do when the tenant drifted from an already applied revision.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum DriftPolicy {
    /// Log it, count it in metrics and `/status`; write nothing.
    Report,
    /// Apply the plan again (revert the out-of-band change).
    Heal,
}

impl DriftPolicy {
    /// The flag value.
    pub fn as_str(self) -> &'static str {
        match self {
            DriftPolicy::Report => "report",
            DriftPolicy::Heal => "heal",
        }
    }
}

/// Log line format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line (structured fields kept as fields).
    Json,
}

/// Flags of `immuta-gitops run`. Each has an environment fallback.
#[derive(Debug, Clone, clap::Args)]
pub struct RunArgs {
    /// Where the manifests live.
    #[command(flatten)]
    pub repo: config::RepoFlags,
    /// Git cache and credentials.
    #[command(flatten)]
    pub git: config::GitFlags,
    /// How much of a revision may be read and parsed.
    #[command(flatten)]
    pub limits: crate::limits::LimitFlags,
    /// How to reach Immuta.
    #[command(flatten)]
    pub immuta: config::ImmutaFlags,
    /// Deletes of managed objects that left Git (off unless asked; needs --state-dir).
    #[command(flatten)]
    pub prune: config::PruneFlags,

    /// How often Git is polled.
    #[arg(long, env = "IMMUTA_GITOPS_INTERVAL", default_value = "5m", value_parser = crate::limits::parse_interval)]
    pub interval: Duration,
    /// Random spread of each wait: ±N percent of the interval.
    #[arg(long, env = "IMMUTA_GITOPS_JITTER", default_value = "10%", value_parser = parse_percent)]
    pub jitter: f64,
    /// How often the live tenant is compared with an unchanged revision (default: --interval).
    #[arg(long, env = "IMMUTA_GITOPS_DRIFT_INTERVAL", value_parser = crate::limits::parse_interval)]
    pub drift_interval: Option<Duration>,
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
    /// Address of the HTTP endpoints (/healthz, /readyz, /metrics, /status, /hook).
    #[arg(long, env = "IMMUTA_GITOPS_LISTEN", default_value = "0.0.0.0:8080")]
    pub listen: String,
    /// File holding the webhook secret (GitHub HMAC secret or GitLab token); enables POST /hook.
    #[arg(long, env = "IMMUTA_GITOPS_WEBHOOK_SECRET_FILE")]
    pub webhook_secret_file: Option<PathBuf>,
    /// Directory where the last applied revision and the inventory of managed objects
    /// (inventory.json, needed by --prune) are remembered across restarts.
    #[arg(long, env = "IMMUTA_GITOPS_STATE_DIR")]
    pub state_dir: Option<PathBuf>,
    /// Log format.
    #[arg(
        long,
        env = "IMMUTA_GITOPS_LOG_FORMAT",
        value_enum,
        default_value = "text"
    )]
    pub log_format: LogFormat,
    /// On SIGTERM/SIGINT, how long a running apply may take to finish its writes in flight.
    #[arg(long, env = "IMMUTA_GITOPS_GRACE_PERIOD", default_value = "30s", value_parser = crate::limits::parse_wait)]
    pub grace_period: Duration,
    /// Quiet time after a burst of file changes (local --repo) before a cycle starts.
    #[arg(long, env = "IMMUTA_GITOPS_DEBOUNCE", default_value = "2s", value_parser = crate::limits::parse_wait)]
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
    /// Parses `run` flags alone (program name first), for tests and embedders.
    ///
    /// # Errors
    /// clap's error for unknown or invalid flags.
    pub fn try_parse_from<I, T>(args: I) -> Result<RunArgs, clap::Error>
    where
        I: IntoIterator<Item = T>,
        T: Into<std::ffi::OsString> + Clone,
    {
        #[derive(clap::Parser)]
        struct Wrapper {
            #[command(flatten)]
            run: RunArgs,
        }
        <Wrapper as clap::Parser>::try_parse_from(args).map(|w| w.run)
    }

    fn source_args(&self) -> SourceArgs {
        let r = &self.repo;
        self.git.source_args(
            r.repo.clone(),
            r.reference.clone(),
            r.path.clone(),
            self.limits.limits(),
        )
    }

    fn immuta_args(&self) -> ImmutaArgs {
        self.immuta.args()
    }

    /// The drift-check interval in effect.
    pub fn effective_drift_interval(&self) -> Duration {
        self.drift_interval.unwrap_or(self.interval)
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

/// Daemon failures (all fatal at start-up; a failing cycle is not an error here).
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Flags, secret files or credentials are wrong.
    #[error(transparent)]
    Config(#[from] config::Error),
    /// The Immuta client cannot be built (bad URL, TLS setup).
    #[error(transparent)]
    Client(#[from] client::Error),
    /// A flag value is out of range.
    #[error("invalid --{flag}: {message}")]
    Invalid {
        /// The flag.
        flag: &'static str,
        /// What is wrong.
        message: String,
    },
    /// The HTTP listener cannot be bound.
    #[error("cannot listen on {addr}: {source}")]
    Listen {
        /// The address.
        addr: String,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The local repository cannot be watched.
    #[error("cannot watch {path} for changes: {source}")]
    Watch {
        /// The directory.
        path: PathBuf,
        /// The cause.
        #[source]
        source: notify::Error,
    },
}

/// Installs the global tracing subscriber: `filter` in `EnvFilter` syntax, lines on
/// stderr as text or JSON. Returns false when a subscriber was already installed.
pub fn init_tracing(filter: &str, format: LogFormat) -> bool {
    let filter = tracing_subscriber::EnvFilter::try_new(filter)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match format {
        // Text lines escape every field for the terminal; JSON escapes by construction.
        LogFormat::Text => builder
            .with_ansi(crate::config::stderr_colour())
            .fmt_fields(crate::terminal::log_fields())
            .try_init()
            .is_ok(),
        LogFormat::Json => builder.json().flatten_event(true).try_init().is_ok(),
    }
}

/// A configured daemon, listening but not yet reconciling.
#[derive(Debug)]
pub struct Daemon {
    args: RunArgs,
    spec: SourceSpec,
    client: Client,
    redactor: Redactor,
    webhook_secret: Option<Secret>,
    saved: Option<state::SavedState>,
    listener: tokio::net::TcpListener,
    addr: SocketAddr,
    windows: window::Windows,
    clock: window::Clock,
    receivers: Vec<crate::notify::Receiver>,
    delivery: crate::notify::send::Delivery,
}

impl Daemon {
    /// Validates flags, reads secret files and the state dir, builds the client and binds
    /// the HTTP listener.
    ///
    /// # Errors
    /// Any [`Error`]: these are fatal configuration problems (exit 1).
    pub async fn new(args: RunArgs) -> Result<Daemon, Error> {
        if args.interval.is_zero() {
            return Err(Error::Invalid {
                flag: "interval",
                message: "must be greater than 0".into(),
            });
        }
        if !args.prune.kinds()?.is_empty() && args.state_dir.is_none() {
            return Err(Error::Invalid {
                flag: "prune",
                message: "needs --state-dir, where the inventory of applied objects is kept (without it nothing could ever be deleted)".into(),
            });
        }
        let windows =
            window::Windows::parse(&args.apply_windows, &args.apply_window_tz).map_err(|e| {
                Error::Invalid {
                    flag: match e {
                        window::Error::TimeZone(_) => "apply-window-tz",
                        window::Error::Syntax { .. } => "apply-window",
                    },
                    message: e.to_string(),
                }
            })?;
        let receivers = args
            .notify
            .iter()
            .filter(|u| !u.expose().trim().is_empty())
            .enumerate()
            .map(|(i, u)| crate::notify::Receiver::parse(i + 1, u.expose()))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| Error::Invalid {
                flag: "notify",
                message: e.to_string(),
            })?;
        let spec = config::source_spec(&args.source_args())?;
        let cfg = config::client_config(&args.immuta_args())?;
        let webhook_secret = args
            .webhook_secret_file
            .as_deref()
            .map(|f| config::read_secret_file("webhook secret", f))
            .transpose()?;
        let mut redactor = Redactor::new();
        redactor.add(cfg.api_key.expose());
        for s in [&spec.auth.token, &spec.auth.ssh_passphrase, &webhook_secret]
            .into_iter()
            .flatten()
        {
            redactor.add(s.expose());
        }
        for s in crate::redact::url::secrets(&spec.repo)
            .into_iter()
            .chain(crate::redact::url::secrets(&cfg.base_url))
        {
            redactor.add(&s);
        }
        for s in receivers.iter().flat_map(|r| r.secrets()) {
            redactor.add(&s);
        }
        let client = Client::new(cfg)?;
        let saved = match args.state_dir.as_deref().map(state::load).transpose() {
            Ok(s) => s.flatten(),
            Err(e) => {
                tracing::warn!(error = %e, "ignoring the state file: the next cycle plans in full");
                None
            }
        };
        let listener = tokio::net::TcpListener::bind(&args.listen)
            .await
            .map_err(|source| Error::Listen {
                addr: args.listen.clone(),
                source,
            })?;
        let addr = listener.local_addr().map_err(|source| Error::Listen {
            addr: args.listen.clone(),
            source,
        })?;
        Ok(Daemon {
            args,
            spec,
            client,
            redactor,
            webhook_secret,
            saved,
            listener,
            addr,
            windows,
            clock: window::Clock::System,
            receivers,
            delivery: crate::notify::send::Delivery::default(),
        })
    }

    /// Delivers notifications with `delivery` instead of the defaults (4 attempts from
    /// 1 s, 10 s per attempt); tests shorten them.
    pub fn with_delivery(mut self, delivery: crate::notify::send::Delivery) -> Self {
        self.delivery = delivery;
        self
    }

    /// Reads window time from `clock` instead of the system clock (tests run the daemon
    /// on a paused Tokio clock with [`window::Clock::anchored`]).
    pub fn with_clock(mut self, clock: window::Clock) -> Self {
        self.clock = clock;
        self
    }

    /// The address the HTTP endpoints listen on (useful with port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// Whether file changes trigger cycles: a local path read from disk (no `--ref`).
    fn watches(&self) -> bool {
        !source::git::is_remote(&self.spec.repo) && self.spec.reference.is_none()
    }

    fn initial_status(&self) -> status::Status {
        let a = &self.args;
        status::Status {
            source: status::SourceStatus {
                origin: source::git::strip_credentials(&self.spec.repo),
                reference: self.spec.reference.clone(),
                path: self.spec.path.clone(),
                revision: None,
            },
            settings: status::Settings {
                mode: a.mode.as_str().into(),
                drift: a.drift.as_str().into(),
                interval_seconds: a.interval.as_secs_f64(),
                drift_interval_seconds: a.effective_drift_interval().as_secs_f64(),
                jitter_percent: a.jitter * 100.0,
                webhook: self.webhook_secret.is_some(),
                watch: self.watches(),
                notify_receivers: self.receivers.len(),
            },
            last_applied_revision: self.saved.as_ref().map(|s| s.revision.clone()),
            last_applied_at: self
                .saved
                .as_ref()
                .map(|s| status::timestamp(state::from_unix(s.applied_at))),
            ..Default::default()
        }
    }

    /// Reconciles until `shutdown` resolves, then drains: no new trigger is taken, the
    /// running apply starts no new object, writes in flight finish, and the call returns
    /// within `--grace-period`.
    ///
    /// # Errors
    /// [`Error::Watch`] when a local repository cannot be watched.
    pub async fn run(
        mut self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> Result<(), Error> {
        let queue = trigger::TriggerQueue::new();
        let stop = Arc::new(AtomicBool::new(false));
        let (stop_tx, stop_rx) = channel::channel(false);
        let metrics = metrics::Metrics::new(Some(self.client.clone()));
        if let Some(s) = &self.saved {
            metrics.set_revision(&s.revision);
        }
        let initial = self.initial_status();
        let notifier = crate::notify::Notifier::start(
            std::mem::take(&mut self.receivers),
            self.delivery.clone(),
            metrics.notification_counters(),
        )
        .map_err(|e| Error::Invalid {
            flag: "notify",
            message: format!("cannot build the HTTP client: {}", e.without_url()),
        })?;
        let shared = Arc::new(server::Shared {
            status: Mutex::new(initial),
            metrics,
            triggers: queue.clone(),
            webhook_secret: self.webhook_secret.clone(),
            gate: window::Gate {
                windows: self.windows.clone(),
                clock: self.clock.clone(),
            },
        });

        {
            let (queue, stop) = (queue.clone(), stop.clone());
            tokio::spawn(async move {
                shutdown.await;
                tracing::info!("shutdown requested: no new cycle will start");
                queue.close();
                stop.store(true, Ordering::SeqCst);
                let _ = stop_tx.send(true);
            });
        }

        let _watch = if self.watches() {
            let root = std::path::Path::new(&self.spec.repo);
            Some(
                watch::spawn(root, self.args.debounce, queue.clone()).map_err(|source| {
                    Error::Watch {
                        path: root.to_path_buf(),
                        source,
                    }
                })?,
            )
        } else {
            None
        };

        let server = {
            let mut rx = stop_rx.clone();
            let app = server::app(shared.clone());
            let listener = self.listener;
            tokio::spawn(async move {
                axum::serve(listener, app)
                    .with_graceful_shutdown(async move {
                        let _ = rx.wait_for(|s| *s).await;
                    })
                    .await
            })
        };
        tracing::info!(
            listen = %self.addr,
            repo = %source::git::strip_credentials(&self.spec.repo),
            mode = self.args.mode.as_str(),
            drift = self.args.drift.as_str(),
            interval = %humantime::format_duration(self.args.interval),
            "daemon started"
        );

        let runner = runner::Runner {
            schedule: schedule::Schedule::new(
                self.args.interval,
                self.args.jitter,
                self.args.effective_drift_interval(),
            ),
            backoff: schedule::Backoff::default(),
            queue,
            shared: shared.clone(),
            stop,
            shutdown: stop_rx,
            grace: self.args.grace_period,
        };
        let mut step = reconcile::Cycle::new(reconcile::CycleConfig {
            spec: self.spec,
            client: self.client,
            mode: self.args.mode,
            drift: self.args.drift,
            drift_rule: runner.schedule.drift_rule(),
            prune: self.args.prune,
            state_dir: self.args.state_dir,
            saved: self.saved,
            redactor: self.redactor,
            shared,
            announcer: announce::Announcer::new(notifier),
        });
        runner.run(&mut step).await;
        // Messages of the last cycles may still be queued: a bounded wait, then drop them.
        step.into_announcer()
            .close(self.args.grace_period.min(NOTIFY_DRAIN))
            .await;

        // The server has been draining since the shutdown signal; give it one more second.
        match tokio::time::timeout(Duration::from_secs(1), server).await {
            Ok(Ok(Err(e))) => tracing::warn!(error = %e, "HTTP server ended with an error"),
            Ok(_) => {}
            Err(_) => tracing::warn!("HTTP server did not drain in time"),
        }
        tracing::info!("daemon stopped");
        Ok(())
    }
}

/// Runs the daemon until `shutdown` resolves (the binary passes SIGTERM/SIGINT).
///
/// # Errors
/// Fatal configuration problems (see [`Error`]); a failing cycle is logged, counted and
/// retried with backoff, never returned.
pub async fn run(
    args: RunArgs,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    Daemon::new(args).await?.run(shutdown).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

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
        let a = RunArgs::try_parse_from(["run", "--repo", "/tmp/x"]).unwrap();
        assert_eq!(a.interval, Duration::from_secs(300));
        assert!((a.jitter - 0.1).abs() < 1e-9);
        assert_eq!(a.effective_drift_interval(), a.interval);
        assert_eq!(a.mode, Mode::Apply);
        assert_eq!(a.drift, DriftPolicy::Report);
        assert_eq!(a.listen, "0.0.0.0:8080");
        assert_eq!(a.grace_period, Duration::from_secs(30));
        assert_eq!(a.debounce, Duration::from_secs(2));
        assert!(a.prune.prune.is_empty());
        assert_eq!(a.prune.max_deletions, 5);
        assert!(!a.prune.allow_empty);
        assert_eq!(a.immuta.retry.policy(), client::RetryPolicy::default());
        let b = RunArgs::try_parse_from([
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
        ])
        .unwrap();
        assert_eq!(b.mode, Mode::PlanOnly);
        assert_eq!(b.drift, DriftPolicy::Heal);
        assert_eq!(b.effective_drift_interval(), Duration::from_secs(3600));
        assert!(RunArgs::try_parse_from(["run", "--repo", "r", "--mode", "yolo"]).is_err());
        let c = RunArgs::try_parse_from([
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
        assert_eq!(
            c.prune.kinds().unwrap(),
            [crate::object::Kind::Policy, crate::object::Kind::Project].into()
        );
        assert_eq!(c.prune.max_deletions, 2);
        assert!(c.prune.allow_empty);
        assert_eq!(c.immuta.retry.policy().max_attempts, 3);
        assert_eq!(c.immuta.retry.policy().max_elapsed, Duration::from_secs(5));
        let all = RunArgs::try_parse_from(["run", "--repo", "r", "--prune"]).unwrap();
        assert_eq!(all.prune.kinds().unwrap().len(), 4);
    }
}
