//! Lambda entry point: build the state once, then serve API Gateway events.
use rapport::{api::AppState, aws::Aws, clock::SystemClock, Config};
use std::sync::Arc;

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    rapport::logging::init();
    let config = Config::from_env()?;
    let aws = Aws::load(&config).await;
    let state = AppState::new(config, aws, Arc::new(SystemClock));
    lambda_http::run(rapport_intake::router(state)).await
}
