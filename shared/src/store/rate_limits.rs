//! Rate-limit windows: `RATE#<who>/W#<minute>`, a hit count per fixed one-minute window.
use super::{key, n, store_error, Store};
use crate::error::StoreError;
use chrono::{DateTime, Utc};

impl Store {
    /// Counts one request in a fixed one-minute window; `Ok(false)` once `limit` is reached. One
    /// conditional write; the window's item expires by TTL (nothing depends on that).
    pub async fn count_request(&self, who: &str, window_start: DateTime<Utc>, limit: u32) -> Result<bool, StoreError> {
        let res = self
            .db
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key(format!("RATE#{who}"), format!("W#{}", window_start.timestamp()))))
            .update_expression("ADD hits :one SET #ttl = :ttl")
            .condition_expression("attribute_not_exists(hits) OR hits < :limit")
            .expression_attribute_names("#ttl", "ttl")
            .expression_attribute_values(":one", n(1))
            .expression_attribute_values(":limit", n(limit))
            .expression_attribute_values(":ttl", n(window_start.timestamp() + 120))
            .send()
            .await
            .map_err(store_error);
        match res {
            Ok(_) => Ok(true),
            Err(StoreError::ConditionFailed) => Ok(false),
            Err(e) => Err(e),
        }
    }
}
