//! Structured logs: JSON on Lambda (one line an event, with the request id from the runtime's span),
//! readable text elsewhere. Never log personal data beyond ids.
use tracing_subscriber::{fmt, EnvFilter};

pub fn init() {
    let filter = EnvFilter::try_from_env("RUST_LOG").unwrap_or_else(|_| EnvFilter::new("info"));
    let on_lambda = std::env::var_os("AWS_LAMBDA_FUNCTION_NAME").is_some();
    let builder = fmt().with_env_filter(filter).with_target(false);
    let _ =
        if on_lambda { builder.json().with_current_span(true).without_time().try_init() } else { builder.try_init() };
}
