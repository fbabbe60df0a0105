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
}

pub struct Stack {
    pub url: String,
    pub state: AppState,
    pub issuer: Issuer,
    pub moto_url: String,
    shutdown: Option<oneshot::Sender<()>>,
    server: JoinHandle<()>,
}

/// Each function's router, by the name the route table and the template use.
pub fn functions(state: &AppState) -> HashMap<&'static str, Router> {
    HashMap::from([("jobs", rapport_jobs::router(state.clone()))])
}

/// The AWS SDK pointed at the emulator, with the same timeouts and retries as in Lambda.
pub async fn emulator_aws(moto_url: &str, config: &Config) -> Aws {
    let sdk = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .endpoint_url(moto_url)
        .credentials_provider(Credentials::new(
            "local",
            "local",
            None,
            None,
            "rapport-local",
        ))
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
    let listener = TcpListener::bind(("127.0.0.1", opts.port))
        .await
        .with_context(|| format!("binding port {}", opts.port))?;
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
    };
    let aws = emulator_aws(&opts.moto_url, &config).await;
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let state = AppState::new(config, aws, clock);
    bootstrap::resources(&state).await?;
    if opts.seed {
        bootstrap::seed(&state).await?;
    }
    let issuer = Issuer::new(opts.jwt_key.clone(), format!("{url}/_local"));
    let functions = functions(&state);
    for name in rapport::routes::functions() {
        anyhow::ensure!(
            functions.contains_key(name),
            "no router for function {name}"
        );
    }
    let gw = Arc::new(Gateway {
        functions,
        issuer: issuer.clone(),
        allowed_origins: opts.allowed_origins.clone(),
    });
    let local = Local {
        issuer: issuer.clone(),
        state: state.clone(),
        http: reqwest::Client::new(),
        moto_url: opts.moto_url.clone(),
    };
    let app = Router::new()
        .route("/_local/token", post(issue_token))
        .route("/_local/emails", get(list_emails))
        .route("/_local/run/{task}", post(run_task))
        .with_state(local)
        .merge(gateway::router(gw));
    let (tx, rx) = oneshot::channel::<()>();
    let server = tokio::spawn(async move {
        let _ = axum::serve(listener, app)
            .with_graceful_shutdown(async {
                let _ = rx.await;
            })
            .await;
    });
    Ok(Stack {
        url,
        state,
        issuer,
        moto_url: opts.moto_url,
        shutdown: Some(tx),
        server,
    })
}

impl Stack {
    pub async fn stop(mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        let _ = (&mut self.server).await;
    }
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

/// The scheduled tasks the local stack can run; each arrives with the capability that needs it.
pub const TASKS: &[&str] = &[];

async fn run_task(
    State(l): State<Local>,
    Path(task): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let now = match q
        .get("now")
        .map(|s| chrono::DateTime::parse_from_rfc3339(s))
    {
        None => l.state.clock.now(),
        Some(Ok(t)) => t.with_timezone(&chrono::Utc),
        Some(Err(_)) => {
            return ApiError::field("now", "must be an RFC 3339 date-time").into_response()
        }
    };
    let _ = now;
    let known = if TASKS.is_empty() {
        "none yet".to_string()
    } else {
        TASKS.join(", ")
    };
    ApiError::field("task", format!("unknown task {task}; known: {known}")).into_response()
}
