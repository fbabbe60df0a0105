//! A function's start: build the state once. A bad configuration is reported to the Lambda Runtime
//! API as an init error (`POST /2018-06-01/runtime/init/error`), with every bad variable in its
//! message, so the failed invocation and the console name them all; then `main` returns the error
//! and the process exits non-zero, as Lambda expects of a runtime that cannot start.
use crate::app::AppState;
use crate::config::ConfigError;
use lambda_runtime_api_client::{body::Body, build_request, PooledClient};
use std::time::Duration;

/// The `Lambda-Runtime-Function-Error-Type` of a configuration error (`Category.Reason`).
pub const CONFIG_ERROR_TYPE: &str = "Runtime.ConfigError";

/// What each `main.rs` calls first: logging, the typed config and the AWS clients, or an init error.
pub async fn state() -> Result<AppState, ConfigError> {
    match AppState::from_env().await {
        Ok(state) => Ok(state),
        Err(e) => {
            tracing::error!(error = %e, "the function cannot start");
            report_init_error(CONFIG_ERROR_TYPE, "ConfigError", &e.to_string()).await;
            Err(e)
        }
    }
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
