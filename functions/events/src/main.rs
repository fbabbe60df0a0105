//! Lambda entry point for the table's DynamoDB Stream, as the event source mapping delivers it
//! (filtered to event items, with `ReportBatchItemFailures`).
use lambda_runtime::{service_fn, Error, LambdaEvent};
use serde_json::Value;

#[tokio::main]
async fn main() -> Result<(), Error> {
    let state = rapport::startup::state().await?;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| {
        let state = state.clone();
        async move { Ok::<Value, Error>(rapport_events::handle(&state, &event.payload).await) }
    }))
    .await
}
