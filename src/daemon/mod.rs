//! `immuta-gitops run`: the long-running reconciler. Composes the stages (through
//! `cycle`) on a schedule, on verified webhooks and on local file changes, and serves
//! `/healthz`, `/readyz`, `/metrics`, `/status` and `/hook`.
//!
//! Input: [`Options`] and a shutdown future. Output: a clean exit after draining. Parts:
//!
//! - [`schedule`]: jittered interval, drift-check rule, failure [`schedule::Backoff`];
//! - [`trigger`]: why a cycle runs and the single-flight queue;
//! - [`runner`]: the loop (one cycle at a time, backoff, graceful shutdown);
//! - [`reconcile`]: one cycle — fetch, decide, plan, log the plan, apply or report drift,
//!   through [`crate::cycle::Reconciler`]; [`decide`]: its decision table, pure;
//! - [`sweep`]: the paced drift sweep (which keys each cycle re-reads, when the next
//!   sweep starts, its progress), pure;
//! - [`server`], [`webhook`], [`metrics`], [`status`]: the HTTP side;
//! - [`watch`]: file changes of a local `--repo`. What a restart remembers is in
//!   [`crate::state`]; [`window`]: apply windows (when writes are allowed);
//!   [`announce`]: what the notifications say (through [`crate::notify`]).
//!
//! It never writes to Immuta when the plan could not be completed, never logs a secret
//! (API key, Git token, webhook secret, templated values), and never prints to stdout.

use std::future::Future;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use clap::ValueEnum;
use strum::{IntoStaticStr, VariantArray};
use tokio_util::sync::CancellationToken;

use crate::client::{self, Client};
use crate::config;
use crate::cycle::{self, Reconciler};
use crate::redact::{Redactor, Secret};
use crate::source::{self, SourceSpec};
use crate::state::{applied, AppliedState, StateDir};

pub mod announce;
pub mod credentials;
pub mod decide;
pub mod events;
pub mod hold;
pub mod memory;
pub mod metrics;
pub mod reconcile;
pub mod runner;
pub mod schedule;
pub mod server;
pub mod status;
pub mod sweep;
pub mod trigger;
pub mod watch;
pub mod webhook;
pub mod window;

/// The longest wait for queued notifications at shutdown.
const NOTIFY_DRAIN: Duration = Duration::from_secs(5);

/// Whether cycles write. The names (flag values, `/status` settings) come from the
/// derives: clap's kebab-case and strum's [`Mode::as_str`] agree, which a test pins.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, IntoStaticStr, VariantArray)]
#[strum(serialize_all = "kebab-case")]
pub enum Mode {
    /// Plan, log the plan, apply it.
    Apply,
    /// Plan and log the plan; never write.
    PlanOnly,
}

impl Mode {
    /// The flag value.
    pub fn as_str(self) -> &'static str {
        self.into()
    }
}

/// What to do when the tenant drifted from an already applied revision.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, IntoStaticStr, VariantArray)]
#[strum(serialize_all = "kebab-case")]
pub enum DriftPolicy {
    /// Log it, count it in metrics and `/status`; write nothing.
    Report,
    /// Apply the plan again (revert the out-of-band change).
    Heal,
}

impl DriftPolicy {
    /// The flag value.
    pub fn as_str(self) -> &'static str {
        self.into()
    }
}

/// What the daemon does with changes that weaken data protection (issue 16).
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum WeakeningPolicy {
    /// Apply everything else; keep them pending until a commit approves them
    /// (`Immuta-Approve:` trailer).
    Hold,
    /// Apply them like any other change.
    Allow,
}

impl WeakeningPolicy {
    /// The flag value.
    pub fn as_str(self) -> &'static str {
        match self {
            WeakeningPolicy::Hold => "hold",
            WeakeningPolicy::Allow => "allow",
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

/// The daemon's settings (`immuta-gitops run`'s flags, as the command line parsed them).
#[derive(Debug, Clone)]
pub struct Options {
    /// Source, Immuta, prune and state directory, before any file is read.
    pub flags: config::Flags,
    /// How often Git is polled.
    pub interval: Duration,
    /// Random spread of each wait, as a fraction of the interval (0.1: ±10 %).
    pub jitter: f64,
    /// How often the live tenant is compared with an unchanged revision (default: the
    /// interval).
    pub drift_interval: Option<Duration>,
    /// At most this many data-source dry runs per period in drift sweeps
    /// (`--dry-run-budget`; each one makes Immuta query the warehouse).
    pub dry_run_budget: client::Budget,
    /// Whether cycles write.
    pub mode: Mode,
    /// What to do on drift from an applied revision.
    pub drift: DriftPolicy,
    /// What to do with changes that weaken data protection.
    pub weakening: WeakeningPolicy,
    /// Address of the HTTP endpoints.
    pub listen: String,
    /// File holding the webhook secret; enables `POST /hook`.
    pub webhook_secret_file: Option<PathBuf>,
    /// Directory of optional credential files (see [`credentials`]).
    pub credentials_dir: Option<PathBuf>,
    /// How long a running apply may take to finish its writes in flight on shutdown.
    pub grace_period: Duration,
    /// Quiet time after a burst of file changes before a cycle starts.
    pub debounce: Duration,
    /// Apply windows, each `allow|deny <cron> <duration>` (see [`window`]).
    pub apply_windows: Vec<String>,
    /// The IANA time zone of the apply windows' cron expressions.
    pub apply_window_tz: String,
    /// Notification receivers: URLs, `slack:<URL>` for Slack's format (see
    /// [`crate::notify`]). Secrets: a URL may hold a token.
    pub notify: Vec<Secret>,
}

impl Options {
    /// The drift-check interval in effect.
    pub fn effective_drift_interval(&self) -> Duration {
        self.drift_interval.unwrap_or(self.interval)
    }
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
    /// The reconciler refuses the settings (prune without a state directory).
    #[error(transparent)]
    Settings(#[from] cycle::Error),
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

/// Installs the global tracing subscriber (the one log setup of every command): `filter`
/// in `EnvFilter` syntax (`fallback` when it does not parse), lines on stderr as text or
/// JSON. Text lines are coloured only when stderr is a terminal and `colour` allows it.
/// Returns false when a subscriber was already installed.
pub fn init_tracing(
    filter: &str,
    fallback: &str,
    format: LogFormat,
    colour: crate::terminal::colour::ColourChoice,
) -> bool {
    let filter = tracing_subscriber::EnvFilter::try_new(filter)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(fallback));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match format {
        // Text lines escape every field for the terminal; JSON escapes by construction.
        LogFormat::Text => builder
            .with_ansi(crate::config::stderr_colour(colour))
            .fmt_fields(crate::terminal::log_fields())
            .try_init()
            .is_ok(),
        LogFormat::Json => builder.json().flatten_event(true).try_init().is_ok(),
    }
}

/// A configured daemon, listening but not yet reconciling.
#[derive(Debug)]
pub struct Daemon {
    args: Options,
    spec: SourceSpec,
    client: Client,
    reconciler: Reconciler,
    sweeper: Reconciler,
    redactor: Redactor,
    webhook_secret: Option<Secret>,
    saved: Option<AppliedState>,
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
    pub async fn new(mut args: Options) -> Result<Daemon, Error> {
        if let Some(dir) = args.credentials_dir.clone() {
            let src = &mut args.flags.source;
            let found = credentials::fill(
                &dir,
                [
                    (credentials::TOKEN, &mut src.git_token_file),
                    (credentials::SSH_KEY, &mut src.ssh_key_file),
                    (credentials::SSH_PASSPHRASE, &mut src.ssh_passphrase_file),
                    (credentials::WEBHOOK_SECRET, &mut args.webhook_secret_file),
                ],
            );
            tracing::info!(dir = %dir.display(), found = ?found, "credentials directory read");
        }
        if args.interval.is_zero() {
            return Err(Error::Invalid {
                flag: "interval",
                message: "must be greater than 0".into(),
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
        let config::Config {
            source: spec,
            client: cfg,
            prune,
            state,
        } = config::Config::from_flags(&args.flags)?;
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
        let reconciler = Reconciler::new(cycle::Settings {
            client: client.clone(),
            prune: prune.clone(),
            state: state.clone(),
        })?;
        // One pacer for the daemon's life, shared by every sweep chunk.
        let sweeper = Reconciler::new(cycle::Settings {
            client: client
                .clone()
                .with_pacer(client::Pacer::new(args.dry_run_budget)),
            prune,
            state: state.clone(),
        })?;
        let saved = match state.as_ref().map(StateDir::load_applied).transpose() {
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
            reconciler,
            sweeper,
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
                weakening: a.weakening.as_str().into(),
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
                .map(|s| status::timestamp(applied::from_unix(s.applied_at))),
            drift_sweep: sweep::SweepStatus {
                state: "idle",
                budget: a.dry_run_budget.to_string(),
                ..Default::default()
            },
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
        let stop = CancellationToken::new();
        let queue = trigger::TriggerQueue::closing_on(stop.clone());
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
            follow: events::Follow::of(
                source::git::is_remote(&self.spec.repo),
                self.spec.reference.as_deref(),
            ),
        });

        {
            let stop = stop.clone();
            tokio::spawn(async move {
                shutdown.await;
                tracing::info!("shutdown requested: no new cycle will start");
                stop.cancel();
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
            let stop = stop.clone();
            let app = server::app(shared.clone());
            let listener = self.listener;
            tokio::spawn(async move {
                axum::serve(listener, app)
                    .with_graceful_shutdown(stop.cancelled_owned())
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
            shutdown: stop,
            grace: self.args.grace_period,
        };
        let mut step = reconcile::Cycle::new(reconcile::CycleConfig {
            spec: self.spec,
            reconciler: self.reconciler,
            sweeper: self.sweeper,
            budget: self.args.dry_run_budget,
            mode: self.args.mode,
            drift: self.args.drift,
            weakening: self.args.weakening,
            drift_rule: runner.schedule.drift_rule(),
            poll: self.args.interval,
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
    args: Options,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), Error> {
    Daemon::new(args).await?.run(shutdown).await
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The names in `/status`, logs and `--help` are byte-identical to what they were,
    /// and clap accepts exactly the names strum prints.
    #[test]
    fn mode_and_drift_names_are_pinned_and_match_the_flag_values() {
        fn flag_values<T: ValueEnum>() -> Vec<String> {
            T::value_variants()
                .iter()
                .filter_map(|v| v.to_possible_value())
                .map(|p| p.get_name().to_string())
                .collect()
        }
        let modes: Vec<&str> = Mode::VARIANTS.iter().map(|m| m.as_str()).collect();
        assert_eq!(modes, ["apply", "plan-only"]);
        assert_eq!(flag_values::<Mode>(), modes);
        let drifts: Vec<&str> = DriftPolicy::VARIANTS.iter().map(|d| d.as_str()).collect();
        assert_eq!(drifts, ["report", "heal"]);
        assert_eq!(flag_values::<DriftPolicy>(), drifts);
        assert_eq!(flag_values::<LogFormat>(), ["text", "json"]);
    }
}
