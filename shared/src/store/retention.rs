//! Retention: the mark `EMAIL#<h>/RETAIN` of each person who applied, in the GSI1 list `RETAIN` by
//! their last activity, so the retention task reads the stalest first and never scans; and where a
//! retention pass over the pool stopped, `RETENTION/STATE`.
use super::holdings::PersonKeys;
use super::tx::{Item, Tx};
use super::{key, s, store_error, text, Store};
use crate::clock::rfc3339;
use crate::error::StoreError;
use crate::ids::CandidateId;
use chrono::{DateTime, Utc};

/// The retention index: one item per person who applied, by their last activity (an application
/// or a move), so the retention task reads the stalest first and never scans.
const RETAIN: &str = "RETAIN";

/// Marks the person active now, in the transaction of the event that makes them so.
pub(super) fn touch_retention(tx: &mut Tx, table: &str, h: &str, candidate: &CandidateId, now: DateTime<Utc>) {
    let mut item = key(format!("EMAIL#{h}"), "RETAIN");
    item.insert("candidate_id".into(), s(candidate.to_string()));
    item.insert("last_activity".into(), s(rfc3339(now)));
    item.insert("gsi1pk".into(), s(RETAIN));
    item.insert("gsi1sk".into(), s(format!("{}#{h}", rfc3339(now))));
    tx.put("retention", table, item, None);
}

impl Store {
    /// People whose last activity is before `cutoff`, stalest first: one query a page, from `after`.
    pub async fn stale_people(
        &self,
        cutoff: DateTime<Utc>,
        limit: i32,
        after: Option<Item>,
    ) -> Result<(Vec<PersonKeys>, Option<Item>), StoreError> {
        let out = self
            .list_before(RETAIN, cutoff)
            .limit(limit)
            .set_exclusive_start_key(after)
            .send()
            .await
            .map_err(store_error)?;
        let people = out
            .items()
            .iter()
            .filter_map(|i| {
                Some(PersonKeys {
                    email_hash: text(i, "pk")?.strip_prefix("EMAIL#")?.parse().ok()?,
                    candidate_id: text(i, "candidate_id").and_then(|c| c.parse().ok()),
                })
            })
            .collect();
        Ok((people, out.last_evaluated_key))
    }

    /// Puts a person back at the end of the retention index (an open application keeps them).
    pub async fn defer_retention(&self, p: &PersonKeys, now: DateTime<Utc>) -> Result<(), StoreError> {
        self.db
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key(format!("EMAIL#{}", p.email_hash), "RETAIN")))
            .update_expression("SET gsi1sk = :k")
            .condition_expression("attribute_exists(pk)")
            .expression_attribute_values(":k", s(format!("{}#{}", rfc3339(now), p.email_hash)))
            .send()
            .await
            .map_err(store_error)?;
        Ok(())
    }

    /// Where a retention pass stopped (`pool_after`, `resumes_after`), so the next run goes on from there.
    pub async fn retention_cursor(&self, pass: &str) -> Result<String, StoreError> {
        Ok(self.get("RETENTION", "STATE").await?.and_then(|i| text(&i, pass)).unwrap_or_default())
    }

    pub async fn set_retention_cursor(&self, pass: &str, after: &str) -> Result<(), StoreError> {
        self.db
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key("RETENTION", "STATE")))
            .update_expression("SET #p = :a")
            .expression_attribute_names("#p", pass)
            .expression_attribute_values(":a", s(after))
            .send()
            .await
            .map_err(store_error)?;
        Ok(())
    }
}
