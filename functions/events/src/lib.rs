//! The `events` function: the table's stream, filtered by the event source mapping to the outbox's
//! items (`sk = EVENT`, inserts), in the batches Lambda sends (`{"Records": [...]}`). Each record's
//! event goes to every consumer (`app::events`); the answer names the records that failed
//! (`{"batchItemFailures": [{"itemIdentifier": <sequence number>}]}`), so Lambda retries from the
//! first of them and the others are not lost. Consumers are idempotent on the event id, so a record
//! delivered again does nothing twice.
use rapport::api::AppState;
use rapport::app::events::dispatch;
use serde_json::{json, Value};

pub async fn handle(st: &AppState, batch: &Value) -> Value {
    let records = batch["Records"].as_array().map(Vec::as_slice).unwrap_or_default();
    // The webhook endpoints, once for the batch; without them no record can be handled.
    let hooks = match rapport::app::webhooks::subscribers(st).await {
        Ok(h) => h,
        Err(error) => {
            tracing::error!(%error, "webhook endpoints not read: the batch is retried");
            let all: Vec<Value> = records.iter().map(|r| json!({"itemIdentifier": sequence(r)})).collect();
            return json!({"batchItemFailures": all});
        }
    };
    let mut failures = Vec::new();
    for record in records {
        let stream = &record["dynamodb"];
        let sequence = sequence(record);
        // The mapping's filter passes inserts only; an update or a removal (TTL) is nothing to act on.
        if record["eventName"] != "INSERT" {
            continue;
        }
        let done = match rapport::store::event_from_image(&stream["NewImage"]) {
            Ok(event) => dispatch(st, &event, &hooks).await.map_err(|e| e.to_string()),
            Err(why) => Err(format!("not an event: {why}")),
        };
        if let Err(error) = done {
            tracing::error!(sequence, %error, "stream record not processed");
            failures.push(json!({"itemIdentifier": sequence}));
        }
    }
    json!({"batchItemFailures": failures})
}

fn sequence(record: &Value) -> &str {
    record["dynamodb"]["SequenceNumber"].as_str().unwrap_or_default()
}
