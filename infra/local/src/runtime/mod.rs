//! A local Lambda Runtime API, as Lambda serves it to a custom runtime (`provided.al2023`): a
//! function's real binary is started with exactly the environment it gets in AWS plus
//! `AWS_LAMBDA_RUNTIME_API` pointing here, and it pulls its events from
//! `GET /2018-06-01/runtime/invocation/next` and posts each answer to `.../invocation/{id}/response`
//! or `.../invocation/{id}/error`, or, when it cannot start, to `/2018-06-01/runtime/init/error`.
//!
//! Used by the tests (the binaries start and answer, a bad configuration is an init error) and by
//! `make bench` (init and first-response times). Every wait is bounded, and a binary that exits
//! before answering is an error with its exit status and the tail of its output, never a hang.
use anyhow::{bail, Context as _};
use axum::body::{to_bytes, Body};
use axum::extract::{DefaultBodyLimit, Path, Request, State};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use bytes::Bytes;
use http::{header, HeaderMap, StatusCode};
use serde_json::{json, Value};
use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use tokio::net::TcpListener;
use tokio::sync::Notify;
use tokio::task::JoinHandle;

mod environment;
mod http_event;
mod process;
pub use environment::*;
pub use http_event::*;
pub use process::*;
/// How long any wait on a binary may take: generous, since CI machines are busy (nothing is timed here).
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(60);
/// Lambda's limit on a synchronous invocation's payload and response.
pub const MAX_PAYLOAD_BYTES: usize = 6 * 1024 * 1024;
/// The deadline of an invocation when none is given (the template's Globals `Timeout`); functions
/// started from the template get their own (`SamFunction::timeout`).
pub const FUNCTION_TIMEOUT: Duration = Duration::from_secs(15);
/// The template's Globals `MemorySize`, likewise.
pub const FUNCTION_MEMORY_MB: u64 = 256;
const ACCOUNT: &str = "123456789012";
const REGION: &str = "us-east-1";

/// What a function posted to `/init/error`.
#[derive(Debug, Clone)]
pub struct InitError {
    /// The `Lambda-Runtime-Function-Error-Type` header, when sent.
    pub header_type: Option<String>,
    pub error_type: String,
    pub error_message: String,
    pub at: Instant,
}

/// How an invocation ended.
#[derive(Debug, Clone)]
pub enum Outcome {
    /// The body posted to `.../response` (the function's JSON answer).
    Response(Bytes),
    /// The body posted to `.../error` (`{"errorType", "errorMessage"}`) and its error-type header.
    Error { header_type: Option<String>, body: Value },
}

/// One event and its answer, with the instants the bench needs.
#[derive(Debug, Clone)]
pub struct Invocation {
    pub request_id: String,
    pub outcome: Outcome,
    pub queued_at: Instant,
    /// When `GET .../invocation/next` handed it to the function.
    pub delivered_at: Instant,
    /// When the function's answer had arrived in full.
    pub answered_at: Instant,
}

impl Invocation {
    /// The response body; a function error is an `Err` with what the function posted.
    pub fn response(&self) -> anyhow::Result<&[u8]> {
        match &self.outcome {
            Outcome::Response(b) => Ok(b),
            Outcome::Error { header_type, body } => {
                bail!("the function answered invocation {} with an error ({header_type:?}): {body}", self.request_id)
            }
        }
    }

    pub fn json(&self) -> anyhow::Result<Value> {
        let body = self.response()?;
        serde_json::from_slice(body)
            .with_context(|| format!("the response is not JSON: {}", String::from_utf8_lossy(body)))
    }

    /// The response as the payload-2.0 HTTP response API Gateway would turn into HTTP.
    pub fn http(&self) -> anyhow::Result<HttpResponse> {
        HttpResponse::from_payload(self.response()?)
    }
}

struct Queued {
    id: String,
    payload: Bytes,
    queued_at: Instant,
}

#[derive(Default)]
struct Inner {
    queue: VecDeque<Queued>,
    /// Delivered, not answered: (queued, delivered).
    in_flight: HashMap<String, (Instant, Instant)>,
    done: HashMap<String, Invocation>,
    first_next: Option<Instant>,
    init_error: Option<InitError>,
    closed: bool,
}

struct Shared {
    inner: Mutex<Inner>,
    /// Woken on every change: an event queued, delivered or answered, an init error, the API closing.
    changed: Notify,
    function_arn: String,
    /// The function's `Timeout`: each invocation's deadline is this far from its delivery.
    timeout: Duration,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// The Runtime API of one execution environment (one process), on a free 127.0.0.1 port.
pub struct RuntimeApi {
    addr: SocketAddr,
    shared: Arc<Shared>,
    server: JoinHandle<()>,
}

impl RuntimeApi {
    /// Serves the Runtime API for the function named `function_name` (used in its ARN).
    pub async fn start(function_name: &str) -> anyhow::Result<Self> {
        Self::start_with_timeout(function_name, FUNCTION_TIMEOUT).await
    }

    /// A Runtime API whose invocations have `timeout` to run, as the function's `Timeout` gives them.
    pub async fn start_with_timeout(function_name: &str, timeout: Duration) -> anyhow::Result<Self> {
        let listener = TcpListener::bind(("127.0.0.1", 0)).await.context("binding the Runtime API")?;
        let addr = listener.local_addr()?;
        let shared = Arc::new(Shared {
            inner: Mutex::new(Inner::default()),
            changed: Notify::new(),
            function_arn: format!("arn:aws:lambda:{REGION}:{ACCOUNT}:function:{function_name}"),
            timeout,
        });
        let app = Router::new()
            .route("/2018-06-01/runtime/invocation/next", get(next))
            .route("/2018-06-01/runtime/invocation/{id}/response", post(response))
            .route("/2018-06-01/runtime/invocation/{id}/error", post(invocation_error))
            .route("/2018-06-01/runtime/init/error", post(init_error))
            .layer(DefaultBodyLimit::disable())
            .with_state(shared.clone());
        let server = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Ok(Self { addr, shared, server })
    }

    /// The value of `AWS_LAMBDA_RUNTIME_API` (`host:port`).
    pub fn address(&self) -> String {
        self.addr.to_string()
    }

    /// Queues an event for the next `GET .../invocation/next`; returns its request id.
    pub fn queue(&self, payload: &Value) -> String {
        let id = request_id();
        let payload = Bytes::from(serde_json::to_vec(payload).unwrap_or_default());
        self.shared.lock().queue.push_back(Queued { id: id.clone(), payload, queued_at: Instant::now() });
        self.shared.changed.notify_waiters();
        id
    }

    /// When the function first asked for an event (the end of its init).
    pub fn first_next(&self) -> Option<Instant> {
        self.shared.lock().first_next
    }

    /// What the function posted to `/init/error`, if anything.
    pub fn init_error(&self) -> Option<InitError> {
        self.shared.lock().init_error.clone()
    }
}

impl Drop for RuntimeApi {
    fn drop(&mut self) {
        // A `GET next` still waiting is answered (its connection task ends), and the server stops.
        self.shared.lock().closed = true;
        self.shared.changed.notify_waiters();
        self.server.abort();
    }
}

/// A UUID like Lambda's request ids.
fn request_id() -> String {
    let n: u128 = rand::random();
    let h = format!("{n:032x}");
    format!("{}-{}-4{}-a{}-{}", &h[0..8], &h[8..12], &h[13..16], &h[17..20], &h[20..32])
}

fn status(code: StatusCode, body: Value) -> Response {
    (code, [(header::CONTENT_TYPE, "application/json")], body.to_string()).into_response()
}

fn accepted() -> Response {
    status(StatusCode::ACCEPTED, json!({"status": "OK"}))
}

async fn next(State(s): State<Arc<Shared>>) -> Response {
    s.lock().first_next.get_or_insert_with(Instant::now);
    s.changed.notify_waiters();
    loop {
        let notified = s.changed.notified();
        tokio::pin!(notified);
        notified.as_mut().enable();
        let event = {
            let mut inner = s.lock();
            if inner.closed {
                return status(StatusCode::GONE, json!({"errorType": "ShuttingDown", "errorMessage": "closed"}));
            }
            let event = inner.queue.pop_front();
            if let Some(q) = &event {
                inner.in_flight.insert(q.id.clone(), (q.queued_at, Instant::now()));
            }
            event
        };
        if let Some(q) = event {
            s.changed.notify_waiters();
            let deadline = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default() + s.timeout;
            let epoch = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default().as_secs();
            let (root, parent): (u128, u64) = (rand::random(), rand::random());
            let trace = format!("Root=1-{epoch:08x}-{:024x};Parent={parent:016x};Sampled=0", root >> 32);
            return Response::builder()
                .status(StatusCode::OK)
                .header(header::CONTENT_TYPE, "application/json")
                .header("Lambda-Runtime-Aws-Request-Id", &q.id)
                .header("Lambda-Runtime-Deadline-Ms", deadline.as_millis().to_string())
                .header("Lambda-Runtime-Invoked-Function-Arn", &s.function_arn)
                .header("Lambda-Runtime-Trace-Id", trace)
                .body(Body::from(q.payload))
                .unwrap_or_else(|_| StatusCode::INTERNAL_SERVER_ERROR.into_response());
        }
        notified.await;
    }
}

fn error_type_header(headers: &HeaderMap) -> Option<String> {
    headers.get("lambda-runtime-function-error-type").and_then(|v| v.to_str().ok()).map(str::to_string)
}

fn finish(s: &Shared, id: &str, outcome: Outcome, answered_at: Instant) -> Response {
    let done = {
        let mut inner = s.lock();
        match inner.in_flight.remove(id) {
            Some((queued_at, delivered_at)) => {
                let inv = Invocation { request_id: id.to_string(), outcome, queued_at, delivered_at, answered_at };
                inner.done.insert(id.to_string(), inv);
                true
            }
            None => false,
        }
    };
    if !done {
        return status(
            StatusCode::BAD_REQUEST,
            json!({"errorType": "InvalidRequestID", "errorMessage": format!("no invocation {id} is waiting")}),
        );
    }
    s.changed.notify_waiters();
    accepted()
}

async fn response(State(s): State<Arc<Shared>>, Path(id): Path<String>, req: Request) -> Response {
    let Ok(body) = to_bytes(req.into_body(), MAX_PAYLOAD_BYTES + 1).await else {
        let outcome = Outcome::Error {
            header_type: Some("Function.ResponseSizeTooLarge".into()),
            body: json!({"errorType": "Function.ResponseSizeTooLarge",
                         "errorMessage": format!("the response is larger than {MAX_PAYLOAD_BYTES} bytes")}),
        };
        finish(&s, &id, outcome, Instant::now());
        return status(
            StatusCode::PAYLOAD_TOO_LARGE,
            json!({"errorType": "RequestEntityTooLarge", "errorMessage": "the response is too large"}),
        );
    };
    finish(&s, &id, Outcome::Response(body), Instant::now())
}

fn json_or_text(body: &[u8]) -> Value {
    serde_json::from_slice(body).unwrap_or_else(|_| Value::String(String::from_utf8_lossy(body).into_owned()))
}

async fn invocation_error(State(s): State<Arc<Shared>>, Path(id): Path<String>, req: Request) -> Response {
    let header_type = error_type_header(req.headers());
    let body = to_bytes(req.into_body(), MAX_PAYLOAD_BYTES).await.unwrap_or_default();
    finish(&s, &id, Outcome::Error { header_type, body: json_or_text(&body) }, Instant::now())
}

async fn init_error(State(s): State<Arc<Shared>>, req: Request) -> Response {
    let header_type = error_type_header(req.headers());
    let body = json_or_text(&to_bytes(req.into_body(), MAX_PAYLOAD_BYTES).await.unwrap_or_default());
    let field = |k: &str| body.get(k).and_then(Value::as_str).unwrap_or_default().to_string();
    let error = InitError {
        header_type,
        error_type: field("errorType"),
        error_message: if body.is_string() {
            body.as_str().unwrap_or_default().to_string()
        } else {
            field("errorMessage")
        },
        at: Instant::now(),
    };
    s.lock().init_error = Some(error);
    s.changed.notify_waiters();
    accepted()
}
