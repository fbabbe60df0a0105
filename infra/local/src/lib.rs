//! The local stack: every function of Rapport behind a faithful local API Gateway, against the AWS
//! APIs served by the emulator (moto server). `make dev` runs it; the integration tests spawn it.
pub mod bootstrap;
pub mod emails;
pub mod gateway;
pub mod token;

use anyhow::Context as _;
use aws_sdk_dynamodb::config::{Credentials, Region};
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use gateway::Gateway;
use http::StatusCode;
use rapport::api::{json, AppState};
use rapport::aws::{timeouts, Aws};
use rapport::clock::{Clock, SystemClock};
use rapport::{ApiError, Config};
use std::collections::HashMap;
use std::sync::Arc;
use token::{Issuer, TokenRequest};
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

pub struct Options {
    /// Where the emulator listens, e.g. `http://127.0.0.1:4566`.
    pub moto_url: String,
    /// Prefix of the table and bucket names, so several stacks can share one emulator.
    pub name_prefix: String,
    /// 0 picks a free port.
    pub port: u16,
    /// Signs cursors and email tokens (the functions' `SIGNING_KEY`).
    pub signing_key: Vec<u8>,
    /// Signs the local JWTs (Cognito's keys in AWS).
    pub jwt_key: Vec<u8>,
    pub seed: bool,
    pub allowed_origins: Vec<String>,
    pub draft_abandon_after: chrono::Duration,
    pub rate_limit_per_minute: u32,
    /// The functions' clock; the system clock when `None` (tests set a fixed one to spread history over days).
    pub clock: Option<rapport::SharedClock>,
    /// Run the EventBridge schedules here (make dev); tests run tasks through `/_local/run` instead.
    pub run_schedules: bool,
}

pub struct Stack {
    pub url: String,
    pub state: AppState,
    pub issuer: Issuer,
    pub moto_url: String,
    shutdown: Option<oneshot::Sender<()>>,
    server: JoinHandle<()>,
    schedules: Vec<JoinHandle<()>>,
}

/// Each function's router, by the name the route table and the template use.
pub fn functions(state: &AppState) -> HashMap<&'static str, Router> {
    HashMap::from([
        ("jobs", rapport_jobs::router(state.clone())),
        ("intake", rapport_intake::router(state.clone())),
        ("pipeline", rapport_pipeline::router(state.clone())),
        ("reports", rapport_reports::router(state.clone())),
        ("crm", rapport_crm::router(state.clone())),
    ])
}

/// The AWS SDK pointed at the emulator, with the same timeouts and retries as in Lambda.
pub async fn emulator_aws(moto_url: &str, config: &Config) -> Aws {
    let sdk = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .endpoint_url(moto_url)
        .credentials_provider(Credentials::new("local", "local", None, None, "rapport-local"))
        .timeout_config(timeouts())
        .load()
        .await;
    Aws::from_sdk(&sdk, config)
}

#[derive(Clone)]
struct Local {
    issuer: Issuer,
    state: AppState,
    http: reqwest::Client,
    moto_url: String,
}

pub async fn spawn(opts: Options) -> anyhow::Result<Stack> {
    let listener =
        TcpListener::bind(("127.0.0.1", opts.port)).await.with_context(|| format!("binding port {}", opts.port))?;
    let url = format!("http://{}", listener.local_addr()?);
    let prefix = opts.name_prefix.to_ascii_lowercase();
    let config = Config {
        table: format!("{prefix}-main"),
        bucket: format!("{prefix}-files"),
        sender: "Acme Health Careers <careers@acme-health.example>".into(),
        ses_configuration_set: Some(format!("{prefix}-email")),
        company_name: "Acme Health".into(),
        careers_url: url.clone(),
        public_api_url: url.clone(),
        allowed_origins: opts.allowed_origins.clone(),
        signing_key: opts.signing_key.clone(),
        s3_force_path_style: true,
        draft_abandon_after: opts.draft_abandon_after,
        rate_limit_per_minute: opts.rate_limit_per_minute,
        exit_reasons: rapport::stage::ReasonCodes::default(),
        dashboard_login_url: None,
        postal_address: "Acme Health, 1 Infirmary Street, Leeds LS1 2AA, United Kingdom".into(),
        // The emulator has no quota; pacing is still exercised, just quickly.
        ses_max_send_rate: 50.0,
        import_asks_consent: true,
        retention_days: 730,
    };
    let aws = emulator_aws(&opts.moto_url, &config).await;
    let clock: Arc<dyn Clock> = opts.clock.clone().unwrap_or_else(|| Arc::new(SystemClock));
    let state = AppState::new(config, aws, clock);
    bootstrap::resources(&state).await?;
    let seeded = if opts.seed { bootstrap::seed(&state).await? > 0 } else { false };
    let issuer = Issuer::new(opts.jwt_key.clone(), format!("{url}/_local"));
    let functions = functions(&state);
    for name in rapport::routes::functions() {
        anyhow::ensure!(functions.contains_key(name), "no router for function {name}");
    }
    let gw = Arc::new(Gateway { functions, issuer: issuer.clone(), allowed_origins: opts.allowed_origins.clone() });
    let local = Local {
        issuer: issuer.clone(),
        state: state.clone(),
        http: reqwest::Client::new(),
        moto_url: opts.moto_url.clone(),
    };
    let app = Router::new()
        .route("/", get(demo_page))
        .route("/_local/token", post(issue_token))
        .route("/_local/emails", get(list_emails))
        .route("/_local/run/{task}", post(run_task))
        .route("/_local/ses-events", post(ses_event))
        .with_state(local)
        .merge(gateway::router(gw));
    let schedules = if opts.run_schedules { start_schedules(state.clone()) } else { Vec::new() };
    let (tx, rx) = oneshot::channel::<()>();
    let server = tokio::spawn(async move {
        let _ = axum::serve(listener, app)
            .with_graceful_shutdown(async {
                let _ = rx.await;
            })
            .await;
    });
    if seeded {
        // Through the public routes, as visitors and recruiters would, so the dashboard has something to show.
        let token = issuer
            .issue(&TokenRequest {
                role: "recruiter".into(),
                sub: None,
                email: None,
                ttl_seconds: Some(600),
                aud: None,
            })
            .map_err(|e| anyhow::anyhow!(e))?
            .token;
        bootstrap::demo_activity(&url, &token).await.context("seeding demo activity")?;
    }
    Ok(Stack { url, state, issuer, moto_url: opts.moto_url, shutdown: Some(tx), server, schedules })
}

impl Stack {
    pub async fn stop(mut self) {
        for s in &self.schedules {
            s.abort();
        }
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        let _ = (&mut self.server).await;
    }
}

/// A demo career page that embeds the widget (local only; employers embed it on their own site).
async fn demo_page() -> Response {
    axum::response::Html(include_str!("../demo.html")).into_response()
}

async fn issue_token(
    State(l): State<Local>,
    body: Result<Json<TokenRequest>, axum::extract::rejection::JsonRejection>,
) -> Response {
    let Json(req) = match body {
        Ok(b) => b,
        Err(e) => return ApiError::field("body", e.body_text()).into_response(),
    };
    match l.issuer.issue(&req) {
        Ok(issued) => json(StatusCode::OK, &issued),
        Err(msg) => ApiError::field("role", msg).into_response(),
    }
}

async fn list_emails(State(l): State<Local>) -> Response {
    match emails::list(&l.http, &l.moto_url).await {
        Ok(v) => json(StatusCode::OK, &v),
        Err(e) => ApiError::Unavailable(e.to_string()).into_response(),
    }
}

/// What EventBridge Scheduler does in AWS: invoke the task's function with `{"task", "scheduled_time"}`.
async fn run_task(
    State(l): State<Local>,
    Path(task): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let now = q.get("now").cloned().unwrap_or_else(|| rapport::clock::rfc3339(l.state.clock.now()));
    let payload = serde_json::json!({"task": task, "scheduled_time": now});
    let task = match rapport_nurture::Task::parse(&payload) {
        Ok(t) => t,
        Err(e) => return rename_field(e, "scheduled_time", "now").into_response(),
    };
    let budget = match q.get("budget_ms").map(|b| b.parse::<u64>()) {
        None => std::time::Duration::from_secs(60),
        Some(Ok(ms)) => std::time::Duration::from_millis(ms),
        Some(Err(_)) => return ApiError::field("budget_ms", "must be a whole number of milliseconds").into_response(),
    };
    let (result, calls) = rapport::aws::count_calls(rapport_nurture::run(&l.state, &task, budget)).await;
    let mut res = match result {
        Ok(report) => json(StatusCode::OK, &report),
        Err(e) => e.into_response(),
    };
    // Like the gateway: the AWS operations the run made, so tests can hold tasks to their budgets.
    if let Ok(v) = http::HeaderValue::from_str(&calls.summary()) {
        res.headers_mut().insert(gateway::CALLS_HEADER, v);
    }
    res
}

/// What EventBridge does in AWS with a configuration set's events: hand them to the nurture function.
async fn ses_event(State(l): State<Local>, body: axum::Json<serde_json::Value>) -> Response {
    match rapport_nurture::handle(&l.state, &body.0, std::time::Duration::from_secs(60)).await {
        Ok(report) => json(StatusCode::OK, &report),
        Err(e) => e.into_response(),
    }
}

/// The payload's `scheduled_time` is this route's `?now=`.
fn rename_field(e: ApiError, from: &str, to: &str) -> ApiError {
    match e {
        ApiError::Validation(mut errors) => {
            for err in &mut errors {
                if err.field == from {
                    err.field = to.to_string();
                }
            }
            ApiError::Validation(errors)
        }
        other => other,
    }
}

/// Runs each schedule at its rate, as EventBridge Scheduler would, until the stack stops.
fn start_schedules(state: AppState) -> Vec<JoinHandle<()>> {
    rapport::routes::SCHEDULES
        .iter()
        .filter_map(|s| Some((*s, s.period()?)))
        .map(|(schedule, period)| {
            let state = state.clone();
            tokio::spawn(async move {
                let mut tick = tokio::time::interval(period);
                loop {
                    tick.tick().await;
                    let task = rapport_nurture::Task { name: schedule.task.to_string(), now: state.clock.now() };
                    match rapport_nurture::run(&state, &task, period).await {
                        Ok(report) => tracing::info!(task = schedule.task, %report, "scheduled run"),
                        Err(e) => tracing::warn!(task = schedule.task, error = %e, "scheduled run failed"),
                    }
                }
            })
        })
        .collect()
}
