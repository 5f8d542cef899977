//! Paging against a tiny list server over real HTTP: caps below the asked size, answers
//! with and without `count`, bare arrays and `hits`, and a server that ignores `offset`.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use axum::extract::{Query, State};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{json, Value};

use crate::client::{Client, ClientConfig};
use crate::redact::Secret;

#[derive(Clone, Copy)]
enum Shape {
    /// `[...]`, no count.
    Bare,
    /// `{hits, count}`.
    Hits,
    /// `{hits}` without a count.
    HitsNoCount,
}

#[derive(Clone)]
struct Server {
    items: usize,
    cap: usize,
    shape: Shape,
    ignores_offset: bool,
    /// Reported count minus served items (a server that promises more than it has).
    overcount: usize,
    requests: Arc<AtomicUsize>,
}

async fn page(State(s): State<Server>, Query(q): Query<HashMap<String, String>>) -> Json<Value> {
    s.requests.fetch_add(1, Ordering::SeqCst);
    let num = |k: &str, d: usize| q.get(k).and_then(|v| v.parse().ok()).unwrap_or(d);
    let offset = if s.ignores_offset {
        0
    } else {
        num("offset", 0)
    };
    let size = num("size", 10).min(s.cap);
    let items: Vec<Value> = (offset..s.items.min(offset + size))
        .map(|i| json!({"id": i, "name": format!("item {i}")}))
        .collect();
    Json(match s.shape {
        Shape::Bare => Value::Array(items),
        Shape::Hits => json!({"hits": items, "facets": {}, "count": s.items + s.overcount}),
        Shape::HitsNoCount => json!({"hits": items}),
    })
}

async fn serve(s: Server) -> (String, tokio::task::JoinHandle<()>) {
    let app = Router::new()
        .route("/policy/global", get(page))
        .with_state(s);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let task = tokio::spawn(async move {
        axum::serve(listener, app).await.unwrap();
    });
    (url, task)
}

fn server(items: usize, cap: usize, shape: Shape) -> Server {
    Server {
        items,
        cap,
        shape,
        ignores_offset: false,
        overcount: 0,
        requests: Arc::new(AtomicUsize::new(0)),
    }
}

async fn read(s: &Server) -> Result<Vec<Value>, crate::client::Error> {
    let (url, task) = serve(s.clone()).await;
    let mut cfg = ClientConfig::new(url, Secret::new("k"));
    cfg.retry.max_attempts = 1;
    let client = Client::new(cfg).unwrap();
    let out = client.list_policies().await;
    task.abort();
    out
}

fn ids(items: &[Value]) -> Vec<u64> {
    items.iter().map(|i| i["id"].as_u64().unwrap()).collect()
}

#[tokio::test]
async fn a_server_cap_below_the_asked_size_does_not_end_the_read() {
    for shape in [Shape::Bare, Shape::Hits, Shape::HitsNoCount] {
        for (items, cap) in [(23, 7), (21, 7), (7, 7), (1, 7), (0, 7), (5, 1)] {
            let s = server(items, cap, shape);
            let got = read(&s).await.unwrap();
            assert_eq!(ids(&got), (0..items as u64).collect::<Vec<_>>());
            let pages = items.div_ceil(cap);
            let want = match shape {
                // `count` says when to stop; an empty list still takes one request.
                Shape::Hits => pages.max(1),
                // Without a count only an empty page ends the read.
                Shape::Bare | Shape::HitsNoCount => pages + 1,
            };
            assert_eq!(s.requests.load(Ordering::SeqCst), want, "{items} by {cap}");
        }
    }
}

#[tokio::test]
async fn a_server_that_ignores_offset_is_refused_not_looped_on() {
    for shape in [Shape::Bare, Shape::Hits, Shape::HitsNoCount] {
        let mut s = server(20, 7, shape);
        s.ignores_offset = true;
        let err = read(&s).await.unwrap_err().to_string();
        assert!(err.contains("ignores offset"), "{err}");
        assert!(s.requests.load(Ordering::SeqCst) <= 3);
    }
}

#[tokio::test]
async fn a_count_larger_than_the_list_is_an_error_not_a_short_read() {
    let mut s = server(10, 4, Shape::Hits);
    s.overcount = 3;
    let err = read(&s).await.unwrap_err().to_string();
    assert!(err.contains("reports 13 items but served 10"), "{err}");
    let mut s = server(0, 4, Shape::Hits);
    s.overcount = 2;
    let err = read(&s).await.unwrap_err().to_string();
    assert!(err.contains("reports 2 items but served 0"), "{err}");
}

#[test]
fn an_answer_in_no_accepted_envelope_is_an_error() {
    let env = super::Envelope {
        bare: false,
        fields: &["hits", "projects"],
    };
    assert_eq!(
        env.decode(&json!({"results": []})).unwrap_err(),
        "expected {hits: [...], count} or {projects: [...], count}"
    );
    assert!(env.decode(&json!([])).is_err());
    let page = env.decode(&json!({"projects": [1], "count": 1})).unwrap();
    assert_eq!(page.count, Some(1));
}
