//! Erasures: the tombstone `TOMB#<id>` (under the email hash and the candidate id), written before
//! anything is removed and closed when all is gone, so a crash half way is finished later; it names
//! the person by keys only. What is removed is what [`Holdings`] found.
use super::holdings::{Holdings, PersonKeys};
use super::tx::Item;
use super::{key, s, store_error, text, time, Store};
use crate::clock::rfc3339;
use crate::email::EmailHash;
use crate::error::StoreError;
use crate::ids::CandidateId;
use aws_sdk_dynamodb::types::{DeleteRequest, WriteRequest};
use chrono::{DateTime, Utc};

/// An erasure under way or done: it names the person by keys only.
#[derive(Debug, Clone, PartialEq)]
pub struct Tombstone {
    pub person: PersonKeys,
    pub started_at: DateTime<Utc>,
    pub done_at: Option<DateTime<Utc>>,
}

fn tombstone_of(item: &Item) -> Option<Tombstone> {
    Some(Tombstone {
        person: PersonKeys {
            email_hash: text(item, "email_hash")?.parse().ok()?,
            candidate_id: text(item, "candidate_id").and_then(|c| c.parse().ok()),
        },
        started_at: time(item, "started_at")?,
        done_at: time(item, "done_at"),
    })
}

/// Open tombstones sit in a sparse index until their erasure completes (the retention task
/// finishes any a crash left half done).
const OPEN_ERASURES: &str = "ERASURES#open";

/// The ids a person's tombstones are kept under.
fn tomb_ids(p: &PersonKeys) -> Vec<String> {
    let mut ids = vec![p.email_hash.to_string()];
    if let Some(c) = &p.candidate_id {
        ids.push(c.to_string());
    }
    ids
}

impl Store {
    /// A person by candidate id or prospect id (the email's keyed hash), or by the tombstone of an
    /// erasure. `None`: nobody.
    pub async fn resolve_person(&self, id: &str) -> Result<Option<(PersonKeys, Option<Tombstone>)>, StoreError> {
        let tomb = self.get(format!("TOMB#{id}"), "TOMB").await?.as_ref().and_then(tombstone_of);
        // Data held again after a finished erasure (the person came back) is a person again: only an
        // unfinished tombstone goes with it.
        let unfinished = |t: Option<Tombstone>| t.filter(|t| t.done_at.is_none());
        if let Ok(cid) = id.parse::<CandidateId>() {
            if let Some(c) = self.get(format!("CAND#{cid}"), "CAND").await? {
                let h = text(&c, "email_hash")
                    .and_then(|h| h.parse().ok())
                    .ok_or_else(|| StoreError::Corrupt(format!("candidate {cid} without hash")))?;
                return Ok(Some((PersonKeys { email_hash: h, candidate_id: Some(cid) }, unfinished(tomb))));
            }
            return Ok(tomb.map(|t| (t.person.clone(), Some(t))));
        }
        let Ok(id) = id.parse::<EmailHash>() else {
            return Ok(None);
        };
        // A person by email is a candidate or a prospect: one batch read of those two items.
        let items = self
            .batch_get(vec![key(format!("EMAIL#{id}"), "CANDIDATE"), key(format!("EMAIL#{id}"), "PROSPECT")])
            .await?;
        let candidate_id = items.iter().find_map(|i| text(i, "candidate_id")).and_then(|c| c.parse().ok());
        let held = !items.is_empty();
        match (held, tomb) {
            (true, tomb) => Ok(Some((PersonKeys { email_hash: id, candidate_id }, unfinished(tomb)))),
            (false, Some(t)) => Ok(Some((t.person.clone(), Some(t)))),
            (false, None) => Ok(None),
        }
    }

    /// Starts (or rejoins) an erasure: the tombstone, under both ids, before anything is removed.
    pub async fn begin_erasure(&self, p: &PersonKeys, by: &str, now: DateTime<Utc>) -> Result<(), StoreError> {
        for id in tomb_ids(p) {
            let mut item = key(format!("TOMB#{id}"), "TOMB");
            item.insert("email_hash".into(), s(&p.email_hash));
            if let Some(c) = &p.candidate_id {
                item.insert("candidate_id".into(), s(c.to_string()));
            }
            item.insert("started_at".into(), s(rfc3339(now)));
            item.insert("by".into(), s(by));
            item.insert("gsi1pk".into(), s(OPEN_ERASURES));
            item.insert("gsi1sk".into(), s(format!("{}#{id}", rfc3339(now))));
            // A retried erasure keeps its tombstone; one after a finished erasure (the person came
            // back) starts a new one.
            self.put_when(item, "attribute_not_exists(pk) OR attribute_exists(done_at)", vec![]).await?;
        }
        Ok(())
    }

    /// Removes items by key, 25 a batch, retrying what DynamoDB leaves unprocessed.
    pub async fn delete_keys(&self, keys: Vec<Item>) -> Result<usize, StoreError> {
        let n = keys.len();
        let requests = keys
            .into_iter()
            .map(|k| {
                let d = DeleteRequest::builder()
                    .set_key(Some(k))
                    .build()
                    .map_err(|e| StoreError::Corrupt(e.to_string()))?;
                Ok(WriteRequest::builder().delete_request(d).build())
            })
            .collect::<Result<Vec<_>, StoreError>>()?;
        self.batch_write(requests).await?;
        Ok(n)
    }

    /// Removes every item held on the person (the suppression entry excepted).
    pub async fn erase_items(&self, h: &Holdings) -> Result<usize, StoreError> {
        self.delete_keys(h.keys()).await
    }

    /// Ends an erasure: the address stays suppressed as its keyed hash alone (an import or a
    /// campaign never finds the person again), and the tombstones close; the candidate's closes in
    /// one transaction with its `candidate.erased` event, so a repeated finish writes none.
    pub async fn finish_erasure(
        &self,
        p: &PersonKeys,
        erased: Option<&crate::event::Event>,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        self.suppress_erased(&p.email_hash, now).await?;
        let close = |id: &str, condition: &'static str| super::tx::Change {
            key: key(format!("TOMB#{id}"), "TOMB"),
            expression: "SET done_at = if_not_exists(done_at, :now) REMOVE gsi1pk, gsi1sk".into(),
            names: &[],
            values: vec![(":now", s(rfc3339(now)))],
            condition: Some(condition),
        };
        let mut tx = super::tx::Tx::default();
        tx.update("tomb", &self.table, close(p.email_hash.as_str(), "attribute_exists(pk)"));
        if let Some(c) = &p.candidate_id {
            let condition = match erased {
                Some(_) => "attribute_exists(pk) AND attribute_not_exists(done_at)",
                None => "attribute_exists(pk)",
            };
            tx.update("candidate tomb", &self.table, close(&c.to_string(), condition));
            if let Some(e) = erased {
                super::events::record(&mut tx, &self.table, std::slice::from_ref(e));
            }
        }
        match tx.commit(self).await {
            Ok(()) => Ok(()),
            // Closed already, by an earlier run of this erasure: nothing more to say.
            Err(super::tx::TxError::Failed(labels)) if labels == ["candidate tomb"] => Ok(()),
            Err(super::tx::TxError::Failed(_)) => Err(StoreError::ConditionFailed),
            Err(super::tx::TxError::Store(e)) => Err(e),
        }
    }

    /// Erasures a crash (or a failure) left unfinished, oldest first: one query a page, from `after`
    /// (the page's last key, `None` at the end).
    pub async fn open_erasures(
        &self,
        limit: i32,
        after: Option<Item>,
    ) -> Result<(Vec<Tombstone>, Option<Item>), StoreError> {
        let out =
            self.list(OPEN_ERASURES).limit(limit).set_exclusive_start_key(after).send().await.map_err(store_error)?;
        Ok((out.items().iter().filter_map(tombstone_of).collect(), out.last_evaluated_key))
    }
}
