//! A function's start. What is needed to answer at all is checked at init: a bad configuration is
//! reported to the Lambda Runtime API as an init error (`POST /2018-06-01/runtime/init/error`), with
//! every bad variable in its message, so the failed invocation and the console name them all; then
//! `main` returns the error and the process exits non-zero, as Lambda expects of a runtime that
//! cannot start.
//!
//! What can wait does not hold up init: the two secrets are read, and a first connection to DynamoDB
//! is opened, by a task started at init that runs while Lambda hands over the first event; only what
//! signs or hashes waits for that read, so an event that needs neither (a bad query, a refused role,
//! the widget's script) is answered meanwhile. A secret that cannot be read is logged with its
//! variable and answered 503; the next need reads again, so a fixed permission needs no restart.
use crate::app::AppState;
use crate::aws::Aws;
use crate::config::{Config, ConfigError};
use crate::keys::LazyKeys;
use lambda_runtime_api_client::{body::Body, build_request, PooledClient};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

/// The `Lambda-Runtime-Function-Error-Type` of a configuration error (`Category.Reason`).
pub const CONFIG_ERROR_TYPE: &str = "Runtime.ConfigError";

/// A started function: its config; its AWS clients, state and keys are built by the warm-up (or by
/// the first event, whichever comes first), off the init path.
#[derive(Clone)]
pub struct Started(Arc<Parts>);

struct Parts {
    config: Arc<Config>,
    aws: OnceLock<Aws>,
    keys: OnceLock<LazyKeys>,
    state: OnceLock<AppState>,
}

/// What each `main.rs` calls first: logging and the typed config (or an init error), then the
/// warm-up task (the AWS clients and the state, the keys, a DynamoDB connection) left running.
pub async fn start() -> Result<Started, ConfigError> {
    crate::logging::init();
    let config = match Config::from_env() {
        Ok(config) => config,
        Err(e) => {
            tracing::error!(error = %e, "the function cannot start");
            report_init_error(CONFIG_ERROR_TYPE, "ConfigError", &e.to_string()).await;
            return Err(e);
        }
    };
    let parts = Parts { config: Arc::new(config), aws: OnceLock::new(), keys: OnceLock::new(), state: OnceLock::new() };
    let started = Started(Arc::new(parts));
    let warm = started.clone();
    tokio::spawn(async move { warm.warm_up().await });
    Ok(started)
}

impl Started {
    /// The state: the keys in it are awaited by what signs or hashes, not by every request.
    pub fn state(&self) -> &AppState {
        self.0.state.get_or_init(|| {
            let clock = Arc::new(crate::clock::SystemClock);
            AppState::with_keys((*self.0.config).clone(), self.aws(), self.keys().clone(), clock)
        })
    }

    fn aws(&self) -> &Aws {
        self.0.aws.get_or_init(|| Aws::load(&self.0.config))
    }

    fn keys(&self) -> &LazyKeys {
        self.0.keys.get_or_init(|| LazyKeys::reading(self.0.config.clone(), self.aws().secrets()))
    }

    /// Builds the state, then reads the keys and opens a DynamoDB connection side by side, so that in
    /// AWS the first request finds both TLS handshakes done (the HTTPS client's pool is shared by
    /// every client). The read is of a key no item has: half a read unit, answered empty. A failed
    /// key read is logged by the keys and tried again by the first request that needs them.
    async fn warm_up(&self) {
        self.state();
        let dynamo = self.aws().dynamo();
        let key = aws_sdk_dynamodb::types::AttributeValue::S("WARMUP".into());
        let prime = dynamo
            .get_item()
            .table_name(&self.0.config.table)
            .key("pk", key.clone())
            .key("sk", key)
            .projection_expression("pk")
            .send();
        let (_, primed) = tokio::join!(self.keys().get(), prime);
        if let Err(e) = primed {
            tracing::warn!(error = %crate::aws::code(&e), "the warm-up read of DynamoDB failed");
        }
    }
}

/// An HTTP function's `main`: start, then serve API Gateway events with the router `app` builds,
/// beside the runtime's first wait for an event rather than before it.
pub async fn serve_http(app: fn(AppState) -> axum::Router) -> Result<(), lambda_http::Error> {
    use tower::ServiceExt;
    let started = start().await?;
    let router: Arc<OnceLock<axum::Router>> = Arc::new(OnceLock::new());
    let (early, s) = (router.clone(), started.clone());
    tokio::spawn(async move {
        early.get_or_init(|| app(s.state().clone()));
    });
    lambda_http::run(tower::service_fn(move |req: lambda_http::Request| {
        let routes = router.get_or_init(|| app(started.state().clone())).clone();
        routes.oneshot(req)
    }))
    .await
}

/// Posts `{"errorType", "errorMessage"}` to `/init/error` of the Runtime API named by
/// `AWS_LAMBDA_RUNTIME_API`. Outside Lambda (no such variable) or if the post fails, the error is
/// only logged: the caller exits non-zero either way.
pub async fn report_init_error(header_type: &str, error_type: &str, message: &str) {
    let Some(api) = std::env::var("AWS_LAMBDA_RUNTIME_API").ok().filter(|v| !v.is_empty()) else {
        tracing::warn!("AWS_LAMBDA_RUNTIME_API is not set: the init error is only logged");
        return;
    };
    let endpoint = match format!("http://{api}").parse() {
        Ok(uri) => uri,
        Err(e) => {
            tracing::error!(error = %e, api, "AWS_LAMBDA_RUNTIME_API is not a host:port");
            return;
        }
    };
    let body = serde_json::json!({ "errorType": error_type, "errorMessage": message }).to_string();
    let req = build_request()
        .method(http::Method::POST)
        .uri("/2018-06-01/runtime/init/error")
        .header("Lambda-Runtime-Function-Error-Type", header_type)
        .header(http::header::CONTENT_TYPE, "application/json")
        .body(Body::from(body));
    let req = match req {
        Ok(req) => req,
        Err(e) => {
            tracing::error!(error = %e, "building the init error report");
            return;
        }
    };
    let client = PooledClient::builder().with_endpoint(endpoint).build();
    match tokio::time::timeout(Duration::from_secs(5), client.call(req)).await {
        Ok(Ok(res)) if res.status().is_success() => {}
        Ok(Ok(res)) => tracing::error!(status = %res.status(), "the Runtime API refused the init error"),
        Ok(Err(e)) => tracing::error!(error = %e, "reporting the init error"),
        Err(_) => tracing::error!("reporting the init error timed out"),
    }
}
