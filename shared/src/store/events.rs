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
