//! Lambda entry point for the table's DynamoDB Stream, as the event source mapping delivers it
//! (filtered to event items, with `ReportBatchItemFailures`).
// The stream's work is a deep nest of futures (a record, its email, the keys it signs with).
#![recursion_limit = "256"]

use lambda_runtime::{service_fn, Error, LambdaEvent};
use serde_json::Value;

#[tokio::main]
async fn main() -> Result<(), Error> {
    let started = rapport::startup::start().await?;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| {
        let started = started.clone();
        // A record whose work needs keys that cannot be read is reported failed and delivered again.
        async move { Ok::<Value, Error>(rapport_events::handle(started.state(), &event.payload).await) }
    }))
    .await
}
