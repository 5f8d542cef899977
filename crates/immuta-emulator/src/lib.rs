//! A local Immuta API emulator: a real HTTP server on 127.0.0.1 that tests, the benchmark
//! and the demo run against.
//!
//! Input: [`Options`] (API key, optional seed directory, fault knobs). Output: an axum
//! [`Router`] ([`Emulator::app`]) or a served socket ([`spawn`], [`serve`]). It answers with
//! the shapes, status codes and error bodies Immuta documents (docs/emulator.md lists every
//! endpoint and every choice made where the docs are silent). It stores raw JSON documents
//! and checks them itself: it never imports the client's or the manifest's types, so a
//! wrong shape on one side is not mirrored by the other. It never logs secret values.
//!
//! Its own crate (a dev-dependency of `immuta-gitops`'s tests and benchmark, and an optional
//! dependency behind its default `emulator` feature), so the production build carries none
//! of it.
#![cfg_attr(
    not(test),
    deny(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)
)]

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::connect_info::ConnectInfo;
use axum::extract::DefaultBodyLimit;
use axum::extract::{Request, State};
use axum::http::{header, HeaderValue, Method, StatusCode};
use axum::middleware::{from_fn, from_fn_with_state, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde::{Deserialize, Serialize};
use subtle::ConstantTimeEq;
use tokio::net::TcpListener;

pub mod body;
mod conn;
pub mod data;
pub mod echo;
pub mod error;
pub mod flags;
pub mod projects;
pub mod requests;
pub mod routes;
pub mod rules;
pub mod seed;
pub mod source_reads;
pub mod store;
pub mod v1;
pub mod validate;

use conn::{KillListener, KillSwitch};
use error::ApiError;
use requests::RequestLog;
pub use requests::RequestRecord;
use store::Store;

/// How to run the emulator.
#[derive(Clone)]
pub struct Options {
    /// The only accepted API key (raw or as `Bearer <key>`).
    pub api_key: String,
    /// A seed directory in the repository layout, applied at start.
    pub seed: Option<PathBuf>,
    /// Added to every API request.
    pub latency: Duration,
    /// Probability of a 500 or 503 answer.
    pub fault_rate: f64,
    /// Probability of a 429 with `Retry-After: 1`.
    pub throttle_rate: f64,
    /// Probability of dropping the connection without an answer.
    pub reset_rate: f64,
    /// Probability that a non-GET request that reached its handler (the write landed and
    /// was logged) loses its answer: the connection is dropped instead of answering.
    pub lost_answer_rate: f64,
    /// Seed of the fault dice, so runs reproduce.
    pub rng_seed: u64,
    /// The largest page any V1 list answers, whatever `size` asks for (default
    /// [`routes::MAX_PAGE`]). The docs give no maximum, so a real tenant may cap lower: tests
    /// set a small cap so every list is read over several pages.
    pub max_page_size: usize,
    /// Records kept by the request-time log ([`Emulator::request_log`]), a ring buffer;
    /// 0 turns it off. Default [`requests::DEFAULT_CAPACITY`].
    pub request_log_capacity: usize,
}

impl Options {
    /// These options with V1 pages capped at `n` items (at least 1).
    #[must_use]
    pub fn with_max_page_size(mut self, n: usize) -> Self {
        self.max_page_size = n.max(1);
        self
    }
}

impl Default for Options {
    fn default() -> Self {
        Options {
            api_key: "emulator-key".into(),
            seed: None,
            latency: Duration::ZERO,
            fault_rate: 0.0,
            throttle_rate: 0.0,
            reset_rate: 0.0,
            lost_answer_rate: 0.0,
            rng_seed: 0,
            max_page_size: routes::MAX_PAGE,
            request_log_capacity: requests::DEFAULT_CAPACITY,
        }
    }
}

impl std::fmt::Debug for Options {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Options")
            .field("api_key", &"(sensitive)")
            .field("seed", &self.seed)
            .field("latency", &self.latency)
            .field("fault_rate", &self.fault_rate)
            .field("throttle_rate", &self.throttle_rate)
            .field("reset_rate", &self.reset_rate)
            .field("lost_answer_rate", &self.lost_answer_rate)
            .field("rng_seed", &self.rng_seed)
            .field("max_page_size", &self.max_page_size)
            .field("request_log_capacity", &self.request_log_capacity)
            .finish()
    }
}

/// Emulator start-up failures.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A seed file (or the seed directory) could not be read, parsed or applied.
    #[error("cannot load emulator seed {}: {message}", path.display())]
    Seed {
        /// The offending file or directory.
        path: PathBuf,
        /// Why.
        message: String,
    },
    /// A fault rate outside `[0, 1]`, or rates summing to more than 1.
    #[error("invalid emulator option: {0}")]
    Options(String),
    /// Binding or serving the socket failed.
    #[error("emulator socket error: {0}")]
    Io(#[from] std::io::Error),
}

/// One non-GET request that reached a handler.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WriteRecord {
    /// Order of arrival, from 1.
    pub seq: u64,
    /// HTTP method.
    pub method: String,
    /// Request path (no query string).
    pub path: String,
    /// The object key (connectionKey, policyKey, projectKey, purpose name, or the id in the path).
    pub key: String,
    /// Answer status.
    pub status: u16,
    /// `dryRun=true` was in the query string.
    pub dry_run: bool,
    /// The handler ran but its answer was never sent (`lost_answer_rate`).
    #[serde(default)]
    pub answer_lost: bool,
}

/// Put on a handler's response by [`Emulator::record`]: the `seq` of its write record.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Recorded(pub(crate) u64);

/// The lost-answer dice: one stream per write target, so which answers are lost does not
/// depend on how concurrent requests for different objects interleave.
struct LostDice {
    rate: f64,
    seed: u64,
    streams: HashMap<String, StdRng>,
}

impl LostDice {
    /// The next draw of `target`'s stream, seeded from `rng_seed` and the target.
    fn lose(&mut self, target: &str) -> bool {
        let seed = self.seed;
        let rng = self
            .streams
            .entry(target.to_string())
            .or_insert_with(|| StdRng::seed_from_u64(stream_seed(seed, target)));
        rng.random::<f64>() < self.rate
    }
}

/// `path` with every all-digit segment (an id the emulator assigned) replaced by `{id}`,
/// so a target's stream does not depend on the order in which objects were created.
pub(crate) fn route(path: &str) -> String {
    path.split('/')
        .map(|seg| {
            if !seg.is_empty() && seg.bytes().all(|b| b.is_ascii_digit()) {
                "{id}"
            } else {
                seg
            }
        })
        .collect::<Vec<_>>()
        .join("/")
}

/// FNV-1a over `rng_seed` (little endian), a salt and `target`: stable across builds and
/// platforms, and independent of the main fault stream (seeded with `rng_seed` itself).
fn stream_seed(rng_seed: u64, target: &str) -> u64 {
    const SALT: &[u8] = b"lost-answer";
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in rng_seed
        .to_le_bytes()
        .iter()
        .chain(SALT)
        .chain(target.as_bytes())
    {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

struct Inner {
    api_key: String,
    latency: Duration,
    rates: (f64, f64, f64),
    store: Mutex<Store>,
    log: Mutex<Vec<WriteRecord>>,
    /// Arrival times of API requests (measuring only; no handler reads it).
    requests: Mutex<RequestLog>,
    seq: AtomicU64,
    rng: Mutex<StdRng>,
    lost_rate: f64,
    lost: Mutex<LostDice>,
    max_page: usize,
    /// The seed directory, applied again by [`Emulator::reset`].
    seed: Option<PathBuf>,
}

/// The emulator state; cheap to clone (clones share it).
#[derive(Clone)]
pub struct Emulator {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Emulator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Emulator").finish_non_exhaustive()
    }
}

enum Fault {
    None,
    Reset,
    Throttle,
    Status(StatusCode),
}

impl Emulator {
    /// Builds the state and applies the seed directory, if any.
    ///
    /// # Errors
    /// [`Error::Options`] for bad rates, [`Error::Seed`] naming a bad seed file.
    pub fn new(opts: Options) -> Result<Self, Error> {
        let rates = (opts.reset_rate, opts.throttle_rate, opts.fault_rate);
        for (name, r) in [
            ("reset_rate", rates.0),
            ("throttle_rate", rates.1),
            ("fault_rate", rates.2),
            ("lost_answer_rate", opts.lost_answer_rate),
        ] {
            if !(0.0..=1.0).contains(&r) {
                return Err(Error::Options(format!("{name} must be between 0 and 1")));
            }
        }
        if opts.max_page_size == 0 {
            return Err(Error::Options("max_page_size must be at least 1".into()));
        }
        if rates.0 + rates.1 + rates.2 > 1.0 {
            return Err(Error::Options(
                "reset, throttle and fault rates must sum to at most 1".into(),
            ));
        }
        let mut store = Store::new();
        if let Some(dir) = &opts.seed {
            seed::load(&mut store, dir)?;
        }
        Ok(Emulator {
            inner: Arc::new(Inner {
                api_key: opts.api_key,
                latency: opts.latency,
                rates,
                store: Mutex::new(store),
                log: Mutex::new(Vec::new()),
                requests: Mutex::new(RequestLog::new(opts.request_log_capacity)),
                seq: AtomicU64::new(0),
                rng: Mutex::new(StdRng::seed_from_u64(opts.rng_seed)),
                lost_rate: opts.lost_answer_rate,
                lost: Mutex::new(LostDice {
                    rate: opts.lost_answer_rate,
                    seed: opts.rng_seed,
                    streams: HashMap::new(),
                }),
                max_page: opts.max_page_size,
                seed: opts.seed,
            }),
        })
    }

    /// Puts the emulator back as it started: the seed applied to an empty store, an
    /// empty write log and request-time log, the fault dice at their first draw. Requests in flight may land
    /// on either side of it; callers reset between runs, not during one.
    ///
    /// # Errors
    /// [`Error::Seed`] when the seed directory no longer loads (the state is unchanged).
    pub fn reset(&self) -> Result<(), Error> {
        let mut store = Store::new();
        if let Some(dir) = &self.inner.seed {
            seed::load(&mut store, dir)?;
        }
        let poisoned = |what: &str| Error::Options(format!("emulator {what} is unavailable"));
        *self.inner.store.lock().map_err(|_| poisoned("state"))? = store;
        let mut log = self.inner.log.lock().map_err(|_| poisoned("write log"))?;
        let mut lost = self.inner.lost.lock().map_err(|_| poisoned("fault dice"))?;
        log.clear();
        self.inner.seq.store(0, Ordering::SeqCst);
        lost.streams.clear();
        self.inner
            .requests
            .lock()
            .map_err(|_| poisoned("request log"))?
            .clear();
        *self.inner.rng.lock().map_err(|_| poisoned("fault dice"))? =
            StdRng::seed_from_u64(lost.seed);
        Ok(())
    }

    /// The router: `/_emulator/*` (no auth, never faulted) plus the authenticated API.
    /// Every request's body is read to its end before any layer answers ([`body`]).
    pub fn app(&self) -> Router {
        let api = routes::api()
            .layer(from_fn_with_state(self.clone(), auth))
            .layer(from_fn_with_state(self.clone(), faults))
            .layer(from_fn_with_state(self.clone(), requests::record));
        Router::new()
            .route("/_emulator/writes", get(routes::writes))
            .merge(api)
            .fallback(routes::fallback)
            .layer(DefaultBodyLimit::max(body::MAX_BODY))
            .layer(from_fn(body::read_first))
            .with_state(self.clone())
    }

    /// The largest page a V1 list answers ([`Options::max_page_size`]).
    pub fn max_page_size(&self) -> usize {
        self.inner.max_page
    }

    /// Every non-GET request that reached a handler, in arrival order.
    pub fn write_log(&self) -> Vec<WriteRecord> {
        self.inner.log.lock().map(|l| l.clone()).unwrap_or_default()
    }

    /// Every API request kept by the request-time log, in arrival order (see
    /// [`requests`]), and how many older ones the ring buffer dropped.
    pub fn request_log(&self) -> (Vec<RequestRecord>, u64) {
        self.inner
            .requests
            .lock()
            .map(|l| (l.records(), l.dropped()))
            .unwrap_or_default()
    }

    /// Appends to the request-time log.
    pub(crate) fn log_request(&self, method: &str, route: String, dry_run: bool) {
        if let Ok(mut l) = self.inner.requests.lock() {
            l.push(method, route, dry_run);
        }
    }

    /// Runs `f` on the store under its lock.
    pub(crate) fn with_store<T>(
        &self,
        f: impl FnOnce(&mut Store) -> Result<T, ApiError>,
    ) -> Result<T, ApiError> {
        let mut guard = self
            .inner
            .store
            .lock()
            .map_err(|_| ApiError::internal("emulator state is unavailable"))?;
        f(&mut guard)
    }

    /// Appends a write record; returns the marker the handler puts on its response.
    pub(crate) fn record(
        &self,
        method: &str,
        path: &str,
        key: &str,
        status: u16,
        dry_run: bool,
    ) -> Recorded {
        let seq = self.inner.seq.fetch_add(1, Ordering::SeqCst) + 1;
        if let Ok(mut log) = self.inner.log.lock() {
            log.push(WriteRecord {
                seq,
                method: method.into(),
                path: path.into(),
                key: key.into(),
                status,
                dry_run,
                answer_lost: false,
            });
        }
        Recorded(seq)
    }

    /// Rolls the lost-answer dice for the logged write `seq`; when they hit, marks the
    /// record `answer_lost` and returns true. No draw (and no lock) when the rate is 0.
    fn lose_answer(&self, seq: u64) -> bool {
        if self.inner.lost_rate <= 0.0 {
            return false;
        }
        // The only place holding both locks; always in this order.
        let Ok(mut log) = self.inner.log.lock() else {
            return false;
        };
        let Ok(mut dice) = self.inner.lost.lock() else {
            return false;
        };
        let Some(w) = log.iter_mut().rev().find(|w| w.seq == seq) else {
            return false;
        };
        let target = format!("{} {} {} {}", w.method, route(&w.path), w.key, w.dry_run);
        w.answer_lost = dice.lose(&target);
        w.answer_lost
    }

    fn key_matches(&self, header: &str) -> bool {
        let presented = header.strip_prefix("Bearer ").unwrap_or(header);
        let want = self.inner.api_key.as_bytes();
        !want.is_empty() && bool::from(presented.as_bytes().ct_eq(want))
    }

    fn roll(&self) -> Fault {
        let (reset, throttle, fault) = self.inner.rates;
        if reset + throttle + fault <= 0.0 {
            return Fault::None;
        }
        let Ok(mut rng) = self.inner.rng.lock() else {
            return Fault::None;
        };
        let u: f64 = rng.random();
        if u < reset {
            Fault::Reset
        } else if u < reset + throttle {
            Fault::Throttle
        } else if u < reset + throttle + fault {
            if rng.random_bool(0.5) {
                Fault::Status(StatusCode::INTERNAL_SERVER_ERROR)
            } else {
                Fault::Status(StatusCode::SERVICE_UNAVAILABLE)
            }
        } else {
            Fault::None
        }
    }
}

async fn auth(State(emu): State<Emulator>, req: Request, next: Next) -> Response {
    let ok = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| emu.key_matches(v));
    if !ok {
        return ApiError::unauthorized().into_response();
    }
    next.run(req).await
}

async fn faults(State(emu): State<Emulator>, req: Request, next: Next) -> Response {
    if !emu.inner.latency.is_zero() {
        tokio::time::sleep(emu.inner.latency).await;
    }
    match emu.roll() {
        Fault::None => {
            let write = req.method() != Method::GET && req.method() != Method::HEAD;
            let kill = req
                .extensions()
                .get::<ConnectInfo<KillSwitch>>()
                .map(|ConnectInfo(k)| k.clone());
            let mut resp = next.run(req).await;
            let recorded = resp.extensions_mut().remove::<Recorded>();
            match recorded {
                Some(Recorded(seq)) if write && emu.lose_answer(seq) => match kill {
                    Some(kill) => {
                        kill.0.store(true, Ordering::SeqCst);
                        resp
                    }
                    None => ApiError::new(
                        StatusCode::SERVICE_UNAVAILABLE,
                        "answer lost after the write (injected)",
                    )
                    .into_response(),
                },
                _ => resp,
            }
        }
        Fault::Reset => {
            if let Some(ConnectInfo(kill)) = req.extensions().get::<ConnectInfo<KillSwitch>>() {
                kill.0.store(true, Ordering::SeqCst);
            }
            ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "connection reset (injected)",
            )
            .into_response()
        }
        Fault::Throttle => {
            let mut r = ApiError::new(
                StatusCode::TOO_MANY_REQUESTS,
                "Rate limit exceeded, retry later (injected)",
            )
            .into_response();
            r.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
            r
        }
        Fault::Status(code) => {
            ApiError::new(code, "The server had a problem, retry later (injected)").into_response()
        }
    }
}

async fn run(
    emu: Emulator,
    listener: TcpListener,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> Result<(), Error> {
    let app = emu
        .app()
        .into_make_service_with_connect_info::<KillSwitch>();
    axum::serve(KillListener(listener), app)
        .with_graceful_shutdown(shutdown)
        .await?;
    Ok(())
}

/// Serves the emulator on `listener` until `shutdown` completes.
///
/// # Errors
/// Bad options or seed, or a socket failure.
pub async fn serve(
    opts: Options,
    listener: TcpListener,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> Result<(), Error> {
    let emu = Emulator::new(opts)?;
    run(emu, listener, shutdown).await
}

/// A running emulator on 127.0.0.1.
#[derive(Debug)]
pub struct Handle {
    /// Where it listens.
    pub addr: SocketAddr,
    /// Its state (write log, store).
    pub emulator: Emulator,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<Result<(), Error>>>,
}

impl Handle {
    /// `http://127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The request-time log of this emulator ([`Emulator::request_log`]).
    pub fn requests(&self) -> Vec<RequestRecord> {
        self.emulator.request_log().0
    }

    /// Stops accepting, lets in-flight requests finish, and waits for the server task.
    pub async fn shutdown(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

/// Binds `127.0.0.1:0` and serves the emulator in a tokio task.
///
/// # Errors
/// Bad options or seed, or the bind failed.
pub async fn spawn(opts: Options) -> Result<Handle, Error> {
    let emu = Emulator::new(opts)?;
    let listener = TcpListener::bind(("127.0.0.1", 0)).await?;
    let addr = listener.local_addr()?;
    let (stop, rx) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(run(emu.clone(), listener, async move {
        let _ = rx.await;
    }));
    Ok(Handle {
        addr,
        emulator: emu,
        stop: Some(stop),
        task: Some(task),
    })
}

#[cfg(test)]
mod fidelity_tests;
#[cfg(test)]
mod requests_tests;
#[cfg(test)]
mod source_reads_tests;
#[cfg(test)]
mod tests;
