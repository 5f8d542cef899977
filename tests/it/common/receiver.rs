//! A notification receiver on 127.0.0.1 (axum) that records what it is sent, always
//! fails, or never answers. It runs on its own thread and runtime, so a test on a paused
//! clock can use it too.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use axum::http::StatusCode;
use serde_json::Value;

/// How the receiver answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// 200, and the body is kept.
    Record,
    /// 500, always.
    Fail,
    /// No answer, ever.
    Hang,
}

/// The token in every receiver's URL path (as Slack's URLs carry one).
pub const TOKEN: &str = "rcv-T0KEN-4f8e2d1c9b7a6e5f";

/// A running receiver.
pub struct Receiver {
    /// `http://127.0.0.1:<port>/services/T000/B000/<TOKEN>`.
    pub url: String,
    bodies: Arc<Mutex<Vec<Value>>>,
    hits: Arc<AtomicUsize>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
}

impl Receiver {
    /// Starts a receiver answering as `mode`.
    pub fn start(mode: Mode) -> Receiver {
        let bodies = Arc::new(Mutex::new(Vec::new()));
        let hits = Arc::new(AtomicUsize::new(0));
        let (b, h) = (bodies.clone(), hits.clone());
        let (addr_tx, addr_rx) = std::sync::mpsc::channel();
        let (stop, stop_rx) = tokio::sync::oneshot::channel::<()>();
        std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async move {
                let app = axum::Router::new().route(
                    "/services/T000/B000/{token}",
                    axum::routing::post(move |body: axum::body::Bytes| {
                        let (b, h) = (b.clone(), h.clone());
                        async move {
                            h.fetch_add(1, Ordering::SeqCst);
                            match mode {
                                Mode::Hang => std::future::pending().await,
                                Mode::Fail => StatusCode::INTERNAL_SERVER_ERROR,
                                Mode::Record => {
                                    let v = serde_json::from_slice(&body).unwrap_or(Value::Null);
                                    b.lock().unwrap().push(v);
                                    StatusCode::OK
                                }
                            }
                        }
                    }),
                );
                let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
                addr_tx.send(l.local_addr().unwrap()).unwrap();
                axum::serve(l, app)
                    .with_graceful_shutdown(async move {
                        let _ = stop_rx.await;
                    })
                    .await
                    .unwrap();
            });
        });
        let addr = addr_rx.recv().unwrap();
        Receiver {
            url: format!("http://{addr}/services/T000/B000/{TOKEN}"),
            bodies,
            hits,
            stop: Some(stop),
        }
    }

    /// Every body received, in order.
    pub fn bodies(&self) -> Vec<Value> {
        self.bodies.lock().unwrap().clone()
    }

    /// The `event` of every generic body received, in order.
    pub fn events(&self) -> Vec<String> {
        self.bodies()
            .iter()
            .map(|b| b["event"].as_str().unwrap_or("?").to_string())
            .collect()
    }

    /// Requests received (every attempt).
    pub fn hits(&self) -> usize {
        self.hits.load(Ordering::SeqCst)
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
    }
}
