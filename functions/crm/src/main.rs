//! Lambda entry point: build the state once, then serve API Gateway events.
#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    let state = rapport::api::AppState::from_env().await?;
    lambda_http::run(rapport_crm::router(state)).await
}
