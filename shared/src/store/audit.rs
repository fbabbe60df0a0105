//! The audit log: `AUDIT#<date>/<time>#<ulid>`, one entry per access to people's data (who did
//! what to whose data, when; ids only), in its own partition per day.
use super::tx::Item;
use super::{key, s, store_error, Store};
use crate::clock::rfc3339;
use crate::error::StoreError;
use chrono::{DateTime, Utc};

impl Store {
    /// One audit entry: who did what to whose data, when; ids only. Kept apart in its own partition
    /// per day, never mixed with the records it is about.
    pub async fn audit(
        &self,
        who: &str,
        role: &str,
        action: &str,
        target: &str,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let mut item =
            key(format!("AUDIT#{}", now.format("%Y-%m-%d")), format!("{}#{}", rfc3339(now), ulid::Ulid::generate()));
        item.insert("who".into(), s(who));
        item.insert("role".into(), s(role));
        item.insert("action".into(), s(action));
        item.insert("target".into(), s(target));
        item.insert("at".into(), s(rfc3339(now)));
        self.db.put_item().table_name(&self.table).set_item(Some(item)).send().await.map_err(store_error)?;
        Ok(())
    }

    /// One day of the audit log, oldest first.
    pub async fn audit_day(&self, day: chrono::NaiveDate) -> Result<Vec<Item>, StoreError> {
        self.with_prefix(&format!("AUDIT#{}", day.format("%Y-%m-%d")), "").await
    }
}
