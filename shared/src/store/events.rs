//! The outbox: each event an item of its own (`EVENT#<id>` / `EVENT`), put in the transaction of the
//! change it records, so there is no change without its event and no event without its change. The
//! table's stream carries the items to the events function; they stay a week (TTL) to be replayed.
use super::tx::{Item, Tx};
use super::{key, n, s};
use crate::clock::rfc3339;
use crate::event::Event;

/// How long an event item is kept after its time (TTL tidies up; nothing reads it for correctness).
const KEEP_SECONDS: i64 = 7 * 86_400;

/// The item of an event.
pub(super) fn event_item(e: &Event) -> Item {
    let mut item = key(format!("EVENT#{}", e.id), "EVENT");
    item.insert("type".into(), s(e.kind.as_str()));
    item.insert("at".into(), s(rfc3339(e.at)));
    item.insert("data".into(), s(e.data.to_string()));
    item.insert("ttl".into(), n(e.at.timestamp() + KEEP_SECONDS));
    item
}

/// Puts the events into `tx`, each only once (an id is never reused).
pub(super) fn record(tx: &mut Tx, table: &str, events: &[Event]) {
    for e in events {
        tx.put("event", table, event_item(e), Some("attribute_not_exists(pk)"));
    }
}

/// How long a consumer's mark that it handled an event is kept: longer than the stream keeps
/// records (24 hours), so no redelivery finds it gone.
const DONE_KEEP_SECONDS: i64 = 7 * 86_400;

/// An event as the stream carries its item: `NewImage` in DynamoDB's JSON (`{"pk": {"S": …}, …}`).
/// `Err` says why it is not an event this code reads (a poison record: reported, never guessed at).
pub fn from_image(image: &serde_json::Value) -> Result<Event, String> {
    let text = |k: &str| image[k]["S"].as_str().ok_or_else(|| format!("no string attribute {k}"));
    let id = text("pk")?.strip_prefix("EVENT#").ok_or("the key is not an event's")?;
    if text("sk")? != "EVENT" {
        return Err("the item is not an event".into());
    }
    let at = chrono::DateTime::parse_from_rfc3339(text("at")?).map_err(|e| format!("at: {e}"))?;
    Ok(Event {
        id: id.parse().map_err(|e| format!("id: {e}"))?,
        kind: text("type")?.parse().map_err(|e| format!("type: {e}"))?,
        at: at.with_timezone(&chrono::Utc),
        data: serde_json::from_str(text("data")?).map_err(|e| format!("data: {e}"))?,
    })
}

/// The mark that `consumer` took `event` on: `EVENT#<id>/DONE#<consumer>` (the stream's filter passes
/// only `sk = EVENT`, so marks never come back as events).
fn done_key(event: &crate::ids::EventId, consumer: &str) -> Item {
    key(format!("EVENT#{event}"), format!("DONE#{consumer}"))
}

impl super::Store {
    /// Claims `event` for `consumer`: `Ok(true)` for the first claim, `Ok(false)` when it was taken
    /// before (the stream delivers at least once). One conditional write.
    pub async fn claim_event(
        &self,
        event: &Event,
        consumer: &str,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Result<bool, crate::error::StoreError> {
        let mut item = done_key(&event.id, consumer);
        item.insert("at".into(), s(rfc3339(now)));
        item.insert("ttl".into(), n(now.timestamp() + DONE_KEEP_SECONDS));
        let put = self
            .db
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression("attribute_not_exists(pk)")
            .send()
            .await;
        match put.map_err(super::store_error) {
            Ok(_) => Ok(true),
            Err(crate::error::StoreError::ConditionFailed) => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// Gives a claim back after the consumer failed before acting, so the stream's retry acts.
    pub async fn release_event(&self, event: &Event, consumer: &str) -> Result<(), crate::error::StoreError> {
        self.delete(done_key(&event.id, consumer)).await
    }
}
