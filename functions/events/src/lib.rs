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
    // The webhook endpoints, read once for the batch when its first event needs them.
    let mut hooks = None;
    let mut failures = Vec::new();
    for (n, record) in records.iter().enumerate() {
        let stream = &record["dynamodb"];
        let sequence = sequence(record);
        // The mapping's filter passes inserts only; an update or a removal (TTL) is nothing to act on.
        if record["eventName"] != "INSERT" {
            continue;
        }
        let event = match rapport::store::event_from_image(&stream["NewImage"]) {
            Ok(event) => event,
            Err(why) => {
                tracing::error!(sequence, %why, "stream record not an event");
                failures.push(json!({"itemIdentifier": sequence}));
                continue;
            }
        };
        if hooks.is_none() {
            match rapport::app::webhooks::subscribers(st).await {
                Ok(h) => hooks = Some(h),
                Err(error) => {
                    // Without them no event can be handled: this record and the rest are retried.
                    tracing::error!(%error, "webhook endpoints not read");
                    failures.extend(records[n..].iter().map(|r| json!({"itemIdentifier": self::sequence(r)})));
                    break;
                }
            }
        }
        let Some(hooks) = &hooks else { break };
        if let Err(error) = dispatch(st, &event, hooks).await {
            tracing::error!(sequence, %error, "stream record not processed");
            failures.push(json!({"itemIdentifier": sequence}));
        }
    }
    json!({"batchItemFailures": failures})
}

fn sequence(record: &Value) -> &str {
    record["dynamodb"]["SequenceNumber"].as_str().unwrap_or_default()
}
