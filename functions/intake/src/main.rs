//! Lambda entry point: check the configuration (a bad one is an init error), then serve API Gateway
//! events; the keys are read meanwhile (see `rapport::startup`).
#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    rapport::startup::serve_http(rapport_intake::router).await
}
