//! A pass-through in front of the emulator that counts the items DynamoDB reads for each request: a
//! query's `ScannedCount` (what it read before any filter, which is what DynamoDB bills and spends time
//! on), the items a `GetItem`, `BatchGetItem` or `TransactGetItems` found. Unlike the emulator's time,
//! that count is what the same request costs in DynamoDB, whatever else the table holds.
use axum::body::Body;
use axum::extract::{Request, State};
use axum::response::{IntoResponse, Response};
use http::{header, Method, StatusCode};
use serde_json::Value;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use tokio::task::JoinHandle;

struct Upstream {
    url: String,
    http: reqwest::Client,
    items: AtomicU64,
}

pub struct Reads {
    pub url: String,
    upstream: Arc<Upstream>,
    server: JoinHandle<()>,
}

impl Reads {
    /// Listens on a free port and relays every request to `moto_url`.
    pub async fn start(moto_url: &str) -> anyhow::Result<Self> {
        let upstream =
            Arc::new(Upstream { url: moto_url.to_string(), http: reqwest::Client::new(), items: AtomicU64::new(0) });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let url = format!("http://{}", listener.local_addr()?);
        let app = axum::Router::new().fallback(relay).with_state(upstream.clone());
        let server = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Ok(Reads { url, upstream, server })
    }

    /// Items read through this relay so far.
    pub fn items(&self) -> u64 {
        self.upstream.items.load(Ordering::SeqCst)
    }

    pub fn stop(self) {
        self.server.abort();
    }
}

async fn relay(State(up): State<Arc<Upstream>>, req: Request) -> Response {
    match forward(&up, req).await {
        Ok(res) => res,
        Err(e) => (StatusCode::BAD_GATEWAY, format!("relay: {e:#}")).into_response(),
    }
}

async fn forward(up: &Upstream, req: Request) -> anyhow::Result<Response> {
    let (parts, body) = req.into_parts();
    let body = axum::body::to_bytes(body, usize::MAX).await?;
    let operation = parts
        .headers
        .get("x-amz-target")
        .and_then(|v| v.to_str().ok())
        .and_then(|t| t.strip_prefix("DynamoDB_20120810."))
        .map(str::to_string);
    let mut headers = parts.headers;
    // The body is whole now; the client sets its own length, and moto never needs the host it was signed for.
    for h in [header::HOST, header::CONTENT_LENGTH, header::TRANSFER_ENCODING, header::EXPECT, header::CONNECTION] {
        headers.remove(h);
    }
    let path = parts.uri.path_and_query().map(|p| p.as_str()).unwrap_or("/");
    let res =
        up.http.request(parts.method.clone(), format!("{}{path}", up.url)).headers(headers).body(body).send().await?;
    let status = res.status();
    let mut headers = res.headers().clone();
    let bytes = res.bytes().await?;
    if let Some(op) = operation.filter(|_| status.is_success()) {
        up.items.fetch_add(items_read(&op, &bytes), Ordering::SeqCst);
    }
    headers.remove(header::TRANSFER_ENCODING);
    headers.remove(header::CONNECTION);
    // A HEAD answer's length is the object's, not its (empty) body's.
    if parts.method != Method::HEAD {
        headers.remove(header::CONTENT_LENGTH);
    }
    let mut out = Response::new(Body::from(bytes));
    *out.status_mut() = status;
    *out.headers_mut() = headers;
    Ok(out)
}

/// The items one DynamoDB answer says were read.
fn items_read(operation: &str, body: &[u8]) -> u64 {
    let Ok(v) = serde_json::from_slice::<Value>(body) else { return 0 };
    let found = |v: &Value| v.as_array().map(|a| a.iter().filter(|r| r.get("Item").is_some()).count()).unwrap_or(0);
    match operation {
        "Query" | "Scan" => v["ScannedCount"].as_u64().unwrap_or(0),
        "GetItem" => u64::from(v.get("Item").is_some()),
        "BatchGetItem" => v["Responses"]
            .as_object()
            .map(|t| t.values().filter_map(Value::as_array).map(Vec::len).sum::<usize>())
            .unwrap_or(0) as u64,
        "TransactGetItems" => found(&v["Responses"]) as u64,
        _ => 0,
    }
}
