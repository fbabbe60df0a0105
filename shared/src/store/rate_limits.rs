//! Rate-limit windows: `RATE#<who>/W#<minute>`, a hit count per fixed one-minute window.
use super::tx::Change;
use super::{key, n, Store};
use crate::error::StoreError;
use chrono::{DateTime, Utc};

impl Store {
    /// Counts one request in a fixed one-minute window; `Ok(false)` once `limit` is reached. One
    /// conditional write; the window's item expires by TTL (nothing depends on that).
    pub async fn count_request(&self, who: &str, window_start: DateTime<Utc>, limit: u32) -> Result<bool, StoreError> {
        self.update_when(Change {
            key: key(format!("RATE#{who}"), format!("W#{}", window_start.timestamp())),
            expression: "ADD hits :one SET #ttl = :ttl".into(),
            names: &[("#ttl", "ttl")],
            values: vec![(":one", n(1)), (":limit", n(limit)), (":ttl", n(window_start.timestamp() + 120))],
            condition: Some("attribute_not_exists(hits) OR hits < :limit"),
        })
        .await
    }
}
