//! The audit log: `AUDIT#<date>/<time>#<ulid>`, one entry per access to people's data (who did
//! what to whose data, when; ids only), in its own partition per day.
use super::tx::Item;
use super::{key, s, store_error, Store};
use crate::clock::rfc3339;
use crate::error::StoreError;
use chrono::{DateTime, Utc};

/// One audit entry: who did what to whose data, when; ids only.
#[derive(Debug, Clone)]
pub struct AuditEntry {
    pub who: String,
    pub role: String,
    /// The route, as `METHOD /path/{param}`.
    pub action: String,
    /// The path (ids only; never the query or body).
    pub target: String,
    pub at: DateTime<Utc>,
}

/// The entry's item: kept apart in its own partition per day, never mixed with the records it is about.
pub(super) fn audit_item(e: &AuditEntry) -> Item {
    let mut item =
        key(format!("AUDIT#{}", e.at.format("%Y-%m-%d")), format!("{}#{}", rfc3339(e.at), ulid::Ulid::generate()));
    item.insert("who".into(), s(&e.who));
    item.insert("role".into(), s(&e.role));
    item.insert("action".into(), s(&e.action));
    item.insert("target".into(), s(&e.target));
    item.insert("at".into(), s(rfc3339(e.at)));
    item
}

impl Store {
    /// Writes one audit entry: one put.
    pub async fn audit(&self, e: &AuditEntry) -> Result<(), StoreError> {
        self.db.put_item().table_name(&self.table).set_item(Some(audit_item(e))).send().await.map_err(store_error)?;
        Ok(())
    }

    /// One day of the audit log, oldest first.
    pub async fn audit_day(&self, day: chrono::NaiveDate) -> Result<Vec<Item>, StoreError> {
        self.with_prefix(&format!("AUDIT#{}", day.format("%Y-%m-%d")), "").await
    }
}
