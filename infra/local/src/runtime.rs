//! A local Lambda Runtime API, as Lambda serves it to a custom runtime (`provided.al2023`): a
//! function's real binary is started with exactly the environment it gets in AWS plus
//! `AWS_LAMBDA_RUNTIME_API` pointing here, and it pulls its events from
//! `GET /2018-06-01/runtime/invocation/next` and posts each answer to `.../invocation/{id}/response`
//! or `.../invocation/{id}/error`, or, when it cannot start, to `/2018-06-01/runtime/init/error`.
//!
//! Used by the tests (the binaries start and answer, a bad configuration is an init error) and by
//! `make bench` (init and first-response times). Every wait is bounded, and a binary that exits
//! before answering is an error with its exit status and the tail of its output, never a hang.
use crate::sam::SamFunction;
use anyhow::{bail, Context as _};
use axum::body::{to_bytes, Body};
use axum::extract::{DefaultBodyLimit, Path, Request, State};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use base64::{engine::general_purpose::STANDARD as B64, Engine};
use bytes::Bytes;
use http::{header, HeaderMap, StatusCode};
use rapport::routes::{Route, ROUTES};
use rapport::Config;
use serde_json::{json, Map, Value};
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::net::SocketAddr;
use std::path::{Path as FsPath, PathBuf};
use std::process::{ExitStatus, Stdio};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use tokio::net::TcpListener;
use tokio::process::{Child, Command};
use tokio::sync::Notify;
use tokio::task::JoinHandle;

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

/// A function's binary running against its own [`RuntimeApi`].
pub struct Function {
    pub name: String,
    /// Bounds every wait below.
    pub timeout: Duration,
    /// Just before the process was spawned.
    pub spawned_at: Instant,
    api: RuntimeApi,
    child: Child,
    exit: Option<ExitStatus>,
    log: PathBuf,
}

enum Woke {
    Changed,
    Exited(std::io::Result<ExitStatus>),
    TimedOut,
}

impl Function {
    /// Starts `binary` with exactly `env` (the parent's environment is cleared) plus
    /// `AWS_LAMBDA_RUNTIME_API` pointing at `api`. Its stdout and stderr go to a file, shown in errors.
    pub fn spawn(name: &str, api: RuntimeApi, binary: &FsPath, env: &BTreeMap<String, String>) -> anyhow::Result<Self> {
        if !binary.is_file() {
            bail!("{name}: no binary at {}", binary.display());
        }
        let log = std::env::temp_dir().join(format!("rapport-{name}-{}.log", ulid::Ulid::generate()));
        let out = std::fs::File::create(&log).with_context(|| format!("creating {}", log.display()))?;
        let err = out.try_clone()?;
        let mut cmd = Command::new(binary);
        cmd.env_clear()
            .envs(env)
            .env("AWS_LAMBDA_RUNTIME_API", api.address())
            .stdin(Stdio::null())
            .stdout(Stdio::from(out))
            .stderr(Stdio::from(err))
            .kill_on_drop(true);
        let spawned_at = Instant::now();
        let child = cmd.spawn().with_context(|| format!("{name}: starting {}", binary.display()))?;
        Ok(Self { name: name.to_string(), timeout: DEFAULT_TIMEOUT, spawned_at, api, child, exit: None, log })
    }

    pub fn api(&self) -> &RuntimeApi {
        &self.api
    }

    /// What the binary has written to stdout and stderr so far (the last 8 KiB).
    pub fn output(&self) -> String {
        let text = std::fs::read(&self.log).unwrap_or_default();
        let tail = &text[text.len().saturating_sub(8 * 1024)..];
        String::from_utf8_lossy(tail).into_owned()
    }

    fn exited(&self, status: ExitStatus, what: &str) -> anyhow::Error {
        let init = match self.api.init_error() {
            Some(e) => format!(" after posting init error {:?}: {}", e.error_type, e.error_message),
            None => String::new(),
        };
        anyhow::anyhow!("{} exited ({status}) before {what}{init}; its output:\n{}", self.name, self.output())
    }

    /// Waits until `check` finds what it looks for, the process exits, or the timeout passes.
    async fn wait_for<T>(&mut self, what: &str, mut check: impl FnMut(&mut Inner) -> Option<T>) -> anyhow::Result<T> {
        let deadline = tokio::time::Instant::now() + self.timeout;
        loop {
            let shared = self.api.shared.clone();
            let notified = shared.changed.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if let Some(found) = check(&mut shared.lock()) {
                return Ok(found);
            }
            if let Some(status) = self.exit {
                return Err(self.exited(status, what));
            }
            let woke = tokio::select! {
                biased;
                _ = &mut notified => Woke::Changed,
                status = self.child.wait() => Woke::Exited(status),
                _ = tokio::time::sleep_until(deadline) => Woke::TimedOut,
            };
            match woke {
                Woke::Changed => {}
                // Checked once more above: what it posted before exiting counts.
                Woke::Exited(status) => self.exit = Some(status.with_context(|| format!("waiting for {}", self.name))?),
                Woke::TimedOut => {
                    bail!("{}: no {what} within {:?}; its output:\n{}", self.name, self.timeout, self.output())
                }
            }
        }
    }

    /// Waits for the first `GET .../invocation/next`: the end of init.
    pub async fn ready(&mut self) -> anyhow::Result<Instant> {
        self.wait_for("asking for an event", |i| i.first_next).await
    }

    /// Queues `payload` and waits for its answer.
    pub async fn invoke(&mut self, payload: &Value) -> anyhow::Result<Invocation> {
        let id = self.api.queue(payload);
        self.result(&id).await
    }

    /// Waits for the answer to an event queued with [`RuntimeApi::queue`].
    pub async fn result(&mut self, request_id: &str) -> anyhow::Result<Invocation> {
        self.wait_for(&format!("answering invocation {request_id}"), |i| i.done.remove(request_id)).await
    }

    /// Waits for a post to `/init/error`.
    pub async fn init_error(&mut self) -> anyhow::Result<InitError> {
        self.wait_for("posting an init error", |i| i.init_error.clone()).await
    }

    /// Waits for the process to exit (a function that failed its init must).
    pub async fn exit_status(&mut self) -> anyhow::Result<ExitStatus> {
        if let Some(status) = self.exit {
            return Ok(status);
        }
        match tokio::time::timeout(self.timeout, self.child.wait()).await {
            Ok(status) => {
                let status = status?;
                self.exit = Some(status);
                Ok(status)
            }
            Err(_) => bail!("{} did not exit within {:?}; its output:\n{}", self.name, self.timeout, self.output()),
        }
    }

    /// Ends the process (as Lambda does when it retires an environment) and the Runtime API.
    pub async fn stop(mut self) {
        if self.exit.is_none() {
            let _ = self.child.start_kill();
            let _ = tokio::time::timeout(self.timeout, self.child.wait()).await;
        }
    }
}

impl Drop for Function {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.log);
    }
}

/// Cargo's target directory: the ancestor of this executable that holds `CACHEDIR.TAG`, else
/// `CARGO_TARGET_DIR`.
pub fn target_dir() -> anyhow::Result<PathBuf> {
    let exe = std::env::current_exe().context("locating this executable")?;
    if let Some(dir) = exe.ancestors().skip(1).find(|d| d.join("CACHEDIR.TAG").is_file()) {
        return Ok(dir.to_path_buf());
    }
    // A target directory something else created first has no CACHEDIR.TAG: find the profile's
    // directory (`<target>/<profile>/deps/<test>`, `…/examples/<bench>`) by what cargo keeps in it.
    if let Some(profile) = exe.ancestors().skip(1).find(|d| d.join("deps").is_dir() && d.join(".fingerprint").is_dir())
    {
        if let Some(dir) = profile.parent() {
            return Ok(dir.to_path_buf());
        }
    }
    match std::env::var_os("CARGO_TARGET_DIR") {
        Some(dir) => Ok(PathBuf::from(dir)),
        None => bail!("cannot find cargo's target directory from {}; set CARGO_TARGET_DIR", exe.display()),
    }
}

/// A function's binary name (`[[bin]]` in functions/<name>/Cargo.toml): the function's own name.
pub const BINARIES: &[&str] = &["jobs", "intake", "pipeline", "reports", "crm", "nurture", "events"];

/// The binary `name` of a cargo profile (`debug`, `release`); an error says how to build it.
pub fn binary(profile: &str, name: &str) -> anyhow::Result<PathBuf> {
    let path = target_dir()?.join(profile).join(name);
    if !path.is_file() {
        let flag = if profile == "release" { " --release" } else { "" };
        bail!("no {} binary at {}: run `cargo build --workspace --bins{flag}` first", name, path.display());
    }
    Ok(path)
}

/// What Lambda itself puts in every function's environment (less `AWS_LAMBDA_RUNTIME_API`, which
/// [`Function::spawn`] sets), for the deployed function called `function_name`.
pub fn lambda_environment(function_name: &str, memory_mb: u64) -> BTreeMap<String, String> {
    let day = chrono::Utc::now().format("%Y/%m/%d");
    let stream = format!("{day}/[$LATEST]{:032x}", rand::random::<u128>());
    [
        ("AWS_LAMBDA_FUNCTION_NAME", function_name.to_string()),
        ("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", memory_mb.to_string()),
        ("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST".to_string()),
        ("AWS_LAMBDA_LOG_GROUP_NAME", format!("/aws/lambda/{function_name}")),
        ("AWS_LAMBDA_LOG_STREAM_NAME", stream),
        ("AWS_LAMBDA_INITIALIZATION_TYPE", "on-demand".to_string()),
        ("AWS_REGION", REGION.to_string()),
        ("AWS_DEFAULT_REGION", REGION.to_string()),
        ("_HANDLER", "bootstrap".to_string()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect()
}

/// What running against the emulator adds: its endpoint for every client, dummy credentials (a
/// role's in AWS) and path-style S3.
pub fn emulator_environment(endpoint: &str) -> BTreeMap<String, String> {
    [
        ("AWS_ENDPOINT_URL", endpoint),
        ("AWS_ACCESS_KEY_ID", "local"),
        ("AWS_SECRET_ACCESS_KEY", "local"),
        ("S3_FORCE_PATH_STYLE", "true"),
        // A busy machine slows the emulator: no attempt timeout for it to trip (Lambda keeps 5 s).
        ("RAPPORT_AWS_ATTEMPT_TIMEOUT", "none"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect()
}

fn duration_parameter(d: chrono::Duration) -> String {
    let s = d.num_seconds();
    match s {
        s if s > 0 && s % 86_400 == 0 => format!("{}d", s / 86_400),
        s if s > 0 && s % 3_600 == 0 => format!("{}h", s / 3_600),
        s if s > 0 && s % 60 == 0 => format!("{}m", s / 60),
        s => format!("{s}s"),
    }
}

/// The values of the template's `{{Name}}` placeholders (resources and parameters) that give a
/// function the same settings as the local stack whose config this is.
pub fn template_values(config: &Config) -> anyhow::Result<HashMap<&'static str, String>> {
    let secret = |source: &rapport::config::KeySource, name: &str| match source {
        rapport::config::KeySource::Secret(arn) => Ok(arn.clone()),
        rapport::config::KeySource::Value(_) => anyhow::bail!("the template reads {name} from a secret: give its ARN"),
    };
    let exit_reasons = if config.exit_reasons == rapport::stage::ReasonCodes::default() {
        String::new()
    } else {
        let map: BTreeMap<&str, &Vec<String>> = config.exit_reasons.0.iter().map(|(c, v)| (c.as_str(), v)).collect();
        serde_json::to_string(&map).unwrap_or_default()
    };
    Ok(HashMap::from([
        ("MainTable", config.table.clone()),
        ("FilesBucket", config.bucket.clone()),
        ("EmailConfigurationSet", config.ses_configuration_set.clone().unwrap_or_default()),
        ("CompanyName", config.company_name.clone()),
        ("PostalAddress", config.postal_address.clone()),
        ("CareersUrl", config.careers_url.clone()),
        ("PublicApiUrl", config.public_api_url.clone()),
        ("Sender", config.sender.clone()),
        ("AllowedOrigins", config.allowed_origins.join(",")),
        ("SigningKeys", secret(&config.signing_keys, "SigningKeys")?),
        ("EmailHashKey", secret(&config.email_hash_key, "EmailHashKey")?),
        ("SesMaxSendRate", config.ses_max_send_rate.to_string()),
        ("DraftAbandonAfter", duration_parameter(config.draft_abandon_after)),
        ("RateLimitPerMinute", config.rate_limit_per_minute.to_string()),
        ("CounterShards", config.counter_shards.to_string()),
        ("ExitReasons", exit_reasons),
        ("DashboardLoginUrl", config.dashboard_login_url.clone().unwrap_or_default()),
        ("ImportConsentPolicy", if config.import_asks_consent { "ask" } else { "none" }.to_string()),
        ("RetentionDays", config.retention_days.to_string()),
        ("AdminEmail", config.admin_email.as_ref().map(|e| e.0.clone()).unwrap_or_default()),
        ("LogLevel", "info".to_string()),
    ]))
}

/// A function's whole environment: the template's variables with their placeholders filled from
/// `values`, plus [`emulator_environment`] and [`lambda_environment`].
pub fn function_environment(
    function: &SamFunction,
    values: &HashMap<&str, String>,
    endpoint: &str,
) -> anyhow::Result<BTreeMap<String, String>> {
    let mut env = BTreeMap::new();
    for (k, v) in &function.environment {
        let filled = crate::sam::fill(v, values).with_context(|| format!("{}: {k}", function.logical_id))?;
        env.insert(k.clone(), filled);
    }
    env.extend(emulator_environment(endpoint));
    env.extend(lambda_environment(&format!("rapport-{}", function.logical_id), function.memory_size));
    Ok(env)
}

/// An API Gateway HTTP API request (payload format 2.0), as the gateway hands it to a function.
#[derive(Debug, Clone)]
pub struct HttpEvent {
    pub method: String,
    /// Path and query, e.g. `/careers/jobs?limit=5`.
    pub target: String,
    pub headers: Vec<(String, String)>,
    pub body: Option<Vec<u8>>,
    /// What the JWT authorizer passes on (`requestContext.authorizer.jwt.claims`).
    pub claims: Option<BTreeMap<String, String>>,
}

impl HttpEvent {
    pub fn new(method: &str, target: &str) -> Self {
        Self { method: method.to_string(), target: target.to_string(), headers: Vec::new(), body: None, claims: None }
    }

    pub fn get(target: &str) -> Self {
        Self::new("GET", target)
    }

    pub fn post(target: &str) -> Self {
        Self::new("POST", target)
    }

    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.to_ascii_lowercase(), value.to_string()));
        self
    }

    pub fn json(self, body: &Value) -> Self {
        let mut ev = self.header("content-type", "application/json");
        ev.body = Some(body.to_string().into_bytes());
        ev
    }

    /// The claims of a Cognito ID token for a member of the group `role`, as API Gateway's JWT
    /// authorizer flattens them (every value a string, lists as `[a b]`).
    pub fn signed_in(mut self, role: &str, sub: &str) -> Self {
        let now = chrono::Utc::now().timestamp();
        self.claims = Some(BTreeMap::from([
            ("sub".to_string(), sub.to_string()),
            ("cognito:groups".to_string(), format!("[{role}]")),
            ("token_use".to_string(), "id".to_string()),
            ("aud".to_string(), "rapport".to_string()),
            ("iss".to_string(), format!("https://cognito-idp.{REGION}.amazonaws.com/{REGION}_local")),
            ("iat".to_string(), now.to_string()),
            ("exp".to_string(), (now + 3600).to_string()),
        ]));
        self
    }

    /// The route of the API this request matches (the most literal one), and its path parameters.
    pub fn route(&self) -> anyhow::Result<(Route, Map<String, Value>)> {
        let path = self.target.split('?').next().unwrap_or_default();
        let segments: Vec<&str> = path.split('/').collect();
        let mut best: Option<(usize, Route, Map<String, Value>)> = None;
        for route in ROUTES.iter().filter(|r| r.method.eq_ignore_ascii_case(&self.method)) {
            let pattern: Vec<&str> = route.path.split('/').collect();
            if pattern.len() != segments.len() {
                continue;
            }
            let mut params = Map::new();
            let mut literal = 0;
            let matched = pattern.iter().zip(&segments).all(|(p, s)| {
                if let Some(name) = p.strip_prefix('{').and_then(|p| p.strip_suffix('}')) {
                    params.insert(name.to_string(), Value::String(s.to_string()));
                    !s.is_empty()
                } else {
                    literal += 1;
                    p == s
                }
            });
            if matched && best.as_ref().is_none_or(|(l, _, _)| literal > *l) {
                best = Some((literal, *route, params));
            }
        }
        best.map(|(_, r, p)| (r, p)).with_context(|| format!("no route of the API matches {} {path}", self.method))
    }

    /// The event JSON, shaped as API Gateway sends it.
    pub fn to_event(&self) -> anyhow::Result<Value> {
        let (route, params) = self.route()?;
        let (path, raw_query) = self.target.split_once('?').unwrap_or((&self.target, ""));
        let mut query: Map<String, Value> = Map::new();
        for (k, v) in url::form_urlencoded::parse(raw_query.as_bytes()) {
            match query.get_mut(k.as_ref()) {
                Some(Value::String(prev)) => {
                    prev.push(',');
                    prev.push_str(&v);
                }
                _ => {
                    query.insert(k.into_owned(), Value::String(v.into_owned()));
                }
            }
        }
        let now = chrono::Utc::now();
        let host = "abcdef1234.execute-api.us-east-1.amazonaws.com";
        let body = self.body.clone().unwrap_or_default();
        let mut headers: Map<String, Value> = Map::new();
        for (k, v) in [
            ("host", host.to_string()),
            ("user-agent", "rapport-tests".to_string()),
            ("x-forwarded-for", "203.0.113.7".to_string()),
            ("x-forwarded-port", "443".to_string()),
            ("x-forwarded-proto", "https".to_string()),
            ("content-length", body.len().to_string()),
        ] {
            headers.insert(k.to_string(), Value::String(v));
        }
        for (k, v) in &self.headers {
            headers.insert(k.clone(), Value::String(v.clone()));
        }
        let text =
            self.headers.iter().find(|(k, _)| k == "content-type").is_some_and(|(_, v)| {
                v.starts_with("text/") || v.contains("json") || v.contains("x-www-form-urlencoded")
            });
        let (body, b64) = match (body.is_empty(), text, String::from_utf8(body.clone())) {
            (true, _, _) => (Value::Null, false),
            (false, true, Ok(s)) => (Value::String(s), false),
            _ => (Value::String(B64.encode(&body)), true),
        };
        let mut ctx = json!({
            "accountId": ACCOUNT,
            "apiId": "abcdef1234",
            "domainName": host,
            "domainPrefix": "abcdef1234",
            "http": {"method": self.method, "path": path, "protocol": "HTTP/1.1", "sourceIp": "203.0.113.7",
                     "userAgent": "rapport-tests"},
            "requestId": ulid::Ulid::generate().to_string(),
            "routeKey": route.key(),
            "stage": "$default",
            "time": now.format("%d/%b/%Y:%H:%M:%S %z").to_string(),
            "timeEpoch": now.timestamp_millis(),
        });
        if let Some(claims) = &self.claims {
            ctx["authorizer"] = json!({"jwt": {"claims": claims, "scopes": null}});
        }
        let mut ev = json!({
            "version": "2.0",
            "routeKey": route.key(),
            "rawPath": path,
            "rawQueryString": raw_query,
            "headers": headers,
            "requestContext": ctx,
            "isBase64Encoded": b64,
        });
        if !query.is_empty() {
            ev["queryStringParameters"] = Value::Object(query);
        }
        if !params.is_empty() {
            ev["pathParameters"] = Value::Object(params);
        }
        if !body.is_null() {
            ev["body"] = body;
        }
        Ok(ev)
    }
}

/// A function's payload-2.0 response.
#[derive(Debug, Clone)]
pub struct HttpResponse {
    pub status: u16,
    /// Header names in lower case.
    pub headers: BTreeMap<String, String>,
    pub cookies: Vec<String>,
    pub body: Vec<u8>,
}

impl HttpResponse {
    pub fn from_payload(payload: &[u8]) -> anyhow::Result<Self> {
        let v: Value = serde_json::from_slice(payload)
            .with_context(|| format!("the response is not JSON: {}", String::from_utf8_lossy(payload)))?;
        let status = v["statusCode"].as_u64().with_context(|| format!("no statusCode in {v}"))? as u16;
        let headers = v["headers"]
            .as_object()
            .map(|h| {
                h.iter().map(|(k, v)| (k.to_ascii_lowercase(), v.as_str().unwrap_or_default().to_string())).collect()
            })
            .unwrap_or_default();
        let cookies = v["cookies"]
            .as_array()
            .map(|c| c.iter().filter_map(Value::as_str).map(str::to_string).collect())
            .unwrap_or_default();
        let body = match (v["body"].as_str(), v["isBase64Encoded"].as_bool().unwrap_or(false)) {
            (None, _) => Vec::new(),
            (Some(b), false) => b.as_bytes().to_vec(),
            (Some(b), true) => B64.decode(b).context("the body is not base64")?,
        };
        Ok(Self { status, headers, cookies, body })
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(&name.to_ascii_lowercase()).map(String::as_str)
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    pub fn json(&self) -> anyhow::Result<Value> {
        serde_json::from_slice(&self.body).with_context(|| format!("the body is not JSON: {}", self.text()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_name_their_route_and_parameters() {
        let ev = HttpEvent::get("/api/applications/01ARZ3NDEKTSV4RRFFQ69G5FAV?x=1&x=2")
            .signed_in("recruiter", "u1")
            .to_event()
            .unwrap();
        assert_eq!(ev["routeKey"], "GET /api/applications/{id}");
        assert_eq!(ev["pathParameters"]["id"], "01ARZ3NDEKTSV4RRFFQ69G5FAV");
        assert_eq!(ev["queryStringParameters"]["x"], "1,2");
        assert_eq!(ev["requestContext"]["authorizer"]["jwt"]["claims"]["cognito:groups"], "[recruiter]");
        let literal = HttpEvent::post("/api/prospects/import").to_event().unwrap();
        assert_eq!(literal["routeKey"], "POST /api/prospects/import");
        assert!(HttpEvent::get("/nowhere").to_event().is_err());
        let parsed: lambda_http::request::LambdaRequest = serde_json::from_value(ev).unwrap();
        assert!(matches!(parsed, lambda_http::request::LambdaRequest::ApiGatewayV2(_)));
    }

    #[tokio::test]
    async fn a_binary_that_exits_before_answering_is_an_error_not_a_hang() {
        let binary = FsPath::new("/bin/false");
        if !binary.is_file() {
            return;
        }
        let api = RuntimeApi::start("quitter").await.unwrap();
        let mut f = Function::spawn("quitter", api, binary, &BTreeMap::new()).unwrap();
        let err = f.invoke(&json!({})).await.unwrap_err().to_string();
        assert!(err.starts_with("quitter exited (exit status: 1) before answering invocation"), "{err}");
        assert!(f.ready().await.is_err());
        assert!(f.init_error().await.is_err());
        assert!(!f.exit_status().await.unwrap().success());
    }

    #[test]
    fn template_values_round_trip_through_the_config() {
        assert_eq!(duration_parameter(chrono::Duration::hours(24)), "1d");
        assert_eq!(duration_parameter(chrono::Duration::minutes(90)), "90m");
        assert_eq!(duration_parameter(chrono::Duration::seconds(61)), "61s");
        assert_eq!(request_id().len(), 36);
    }
}
