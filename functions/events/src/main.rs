//! Lambda entry point for the table's DynamoDB Stream, as the event source mapping delivers it
//! (filtered to event items, with `ReportBatchItemFailures`).
use lambda_runtime::{service_fn, Error, LambdaEvent};
use serde_json::Value;

#[tokio::main]
async fn main() -> Result<(), Error> {
    let started = rapport::startup::start().await?;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| {
        let started = started.clone();
        // Without the keys, the whole batch fails and the mapping delivers it again.
        async move { Ok::<Value, Error>(rapport_events::handle(started.state().await?, &event.payload).await) }
    }))
    .await
}
