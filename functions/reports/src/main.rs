//! Lambda entry point: build the state once (a bad configuration is an init error), then serve API
//! Gateway events.
#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    let state = rapport::startup::state().await?;
    lambda_http::run(rapport_reports::router(state)).await
}
