//! Everything held on one person, found through keys and indexes (never a scan), for an export or
//! an erasure; the erasure's tombstone; the audit log.
//!
//! A person's personal data lives in few places: the candidate (`CAND#<id>`), their email's partition
//! (`EMAIL#<hash>`: the candidate lock, the (email, job) locks, the prospect, enrolments, the send
//! ledger), each application's partition (`APP#<id>`: the application, interviews, feedback, send
//! claims; found through GSI2 `CANDAPPS#<candidate>`), interview pointers, drafts (GSI2
//! `DRAFTS#<hash>`) and resumes in the bucket. Counters hold numbers only and are never touched.
use super::{key, s, store_error, Store};
use crate::clock::rfc3339;
use crate::error::StoreError;
use crate::ids::CandidateId;
use aws_sdk_dynamodb::types::{AttributeValue, DeleteRequest, WriteRequest};
use chrono::{DateTime, Utc};
use std::collections::{HashMap, HashSet};

type Item = HashMap<String, AttributeValue>;

fn text(item: &Item, k: &str) -> Option<String> {
    item.get(k).and_then(|v| v.as_s().ok()).cloned()
}

/// Who a person is, in keys.
#[derive(Debug, Clone, PartialEq)]
pub struct PersonKeys {
    pub email_hash: String,
    pub candidate_id: Option<CandidateId>,
}

/// Every item held on a person, grouped by where it lives.
#[derive(Debug, Default)]
pub struct Holdings {
    pub candidate: Option<Item>,
    /// The email's partition.
    pub email_items: Vec<Item>,
    /// Each application's partition, the application item first.
    pub applications: Vec<Vec<Item>>,
    pub interview_pointers: Vec<Item>,
    pub drafts: Vec<Item>,
    /// Demographic answers, one item per application, kept apart from it.
    pub demographics: Vec<Item>,
    /// The candidate behind the email, as found (also when the person was named by email only).
    pub candidate_id: Option<CandidateId>,
}

impl Holdings {
    /// The bucket keys of the person's files.
    pub fn files(&self) -> Vec<String> {
        self.applications
            .iter()
            .flatten()
            .filter(|i| text(i, "sk").as_deref() == Some("APP"))
            .filter_map(|i| text(i, "doc"))
            .filter_map(|d| serde_json::from_str::<serde_json::Value>(&d).ok())
            .filter_map(|d| d["resume_key"].as_str().map(str::to_string))
            .collect()
    }

    /// Every item's key, except the suppression entry (kept, as the keyed hash only).
    fn keys(&self) -> Vec<Item> {
        let all = self
            .candidate
            .iter()
            .chain(&self.email_items)
            .chain(self.applications.iter().flatten())
            .chain(&self.interview_pointers)
            .chain(&self.drafts)
            .chain(&self.demographics);
        all.filter(|i| text(i, "sk").as_deref() != Some("SUPPRESS"))
            .filter_map(|i| Some(key(text(i, "pk")?, text(i, "sk")?)))
            .collect()
    }
}

/// An erasure under way or done: it names the person by keys only.
#[derive(Debug, Clone, PartialEq)]
pub struct Tombstone {
    pub person: PersonKeys,
    pub started_at: DateTime<Utc>,
    pub done_at: Option<DateTime<Utc>>,
}

fn tombstone_of(item: &Item) -> Option<Tombstone> {
    let time =
        |k: &str| text(item, k).and_then(|t| DateTime::parse_from_rfc3339(&t).ok()).map(|t| t.with_timezone(&Utc));
    Some(Tombstone {
        person: PersonKeys {
            email_hash: text(item, "email_hash")?,
            candidate_id: text(item, "candidate_id").and_then(|c| c.parse().ok()),
        },
        started_at: time("started_at")?,
        done_at: time("done_at"),
    })
}

/// The retention index: one item per person who applied, by their last activity (an application
/// or a move), so the retention task reads the stalest first and never scans.
const RETAIN: &str = "RETAIN";

/// Marks the person active now, in the transaction of the event that makes them so.
pub(super) fn touch_retention(
    tx: &mut super::tx::Tx,
    table: &str,
    h: &str,
    candidate: &CandidateId,
    now: DateTime<Utc>,
) {
    let mut item = key(format!("EMAIL#{h}"), "RETAIN");
    item.insert("candidate_id".into(), s(candidate.to_string()));
    item.insert("last_activity".into(), s(rfc3339(now)));
    item.insert("gsi1pk".into(), s(RETAIN));
    item.insert("gsi1sk".into(), s(format!("{}#{h}", rfc3339(now))));
    tx.put("retention", table, item, None);
}

/// Submitted and abandoned drafts sit in a sparse index by creation time until retention erases them.
pub(super) const CLOSED_DRAFTS: &str = "DRAFTS#closed";

/// Open tombstones sit in a sparse index until their erasure completes (the retention task
/// finishes any a crash left half done).
const OPEN_ERASURES: &str = "ERASURES#open";

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
                    .ok_or_else(|| StoreError::Corrupt(format!("candidate {cid} without hash")))?;
                return Ok(Some((PersonKeys { email_hash: h, candidate_id: Some(cid) }, unfinished(tomb))));
            }
            return Ok(tomb.map(|t| (t.person.clone(), Some(t))));
        }
        if id.len() != 40 || !id.chars().all(|c| c.is_ascii_hexdigit()) {
            return Ok(None);
        }
        // A person by email is a candidate or a prospect: one batch read of those two items.
        let items = self
            .batch_get(vec![key(format!("EMAIL#{id}"), "CANDIDATE"), key(format!("EMAIL#{id}"), "PROSPECT")])
            .await?;
        let candidate_id = items.iter().find_map(|i| text(i, "candidate_id")).and_then(|c| c.parse().ok());
        let held = !items.is_empty();
        match (held, tomb) {
            (true, tomb) => Ok(Some((PersonKeys { email_hash: id.to_string(), candidate_id }, unfinished(tomb)))),
            (false, Some(t)) => Ok(Some((t.person.clone(), Some(t)))),
            (false, None) => Ok(None),
        }
    }

    /// Everything held on the person: a query per partition, one on each of two indexes.
    pub async fn holdings(&self, p: &PersonKeys) -> Result<Holdings, StoreError> {
        let mut h = Holdings {
            email_items: self.with_prefix(&format!("EMAIL#{}", p.email_hash), "").await?,
            ..Default::default()
        };
        // Whoever named the person by their email only: the candidate behind it, if any, is theirs too.
        let candidate_id = p.candidate_id.or_else(|| {
            h.email_items
                .iter()
                .find(|i| text(i, "sk").as_deref() == Some("CANDIDATE"))
                .and_then(|i| text(i, "candidate_id"))
                .and_then(|c| c.parse().ok())
        });
        h.candidate_id = candidate_id;
        if let Some(cid) = &candidate_id {
            h.candidate = self.get(format!("CAND#{cid}"), "CAND").await?;
            for app in self.index_keys("GSI2", "gsi2pk", &format!("CANDAPPS#{cid}")).await? {
                let Some(pk) = text(&app, "pk") else { continue };
                let mut items = self.with_prefix(&pk, "").await?;
                items.sort_by_key(|i| text(i, "sk").as_deref() != Some("APP"));
                for i in &items {
                    let sk = text(i, "sk").unwrap_or_default();
                    if let Some(int) = sk.strip_prefix("INT#").filter(|s| !s.contains("#FB#")) {
                        if let Some(ptr) = self.get(format!("INTERVIEW#{int}"), "INTERVIEW").await? {
                            h.interview_pointers.push(ptr);
                        }
                    }
                }
                if let Some(d) =
                    self.get(format!("DEMOGRAPHICS#{}", pk.trim_start_matches("APP#")), "DEMOGRAPHICS").await?
                {
                    h.demographics.push(d);
                }
                h.applications.push(items);
            }
        }
        // The index projects every attribute: its items are the drafts, a page a query however many
        // there are (anyone can start drafts under an address).
        h.drafts = self.index_keys("GSI2", "gsi2pk", &format!("DRAFTS#{}", p.email_hash)).await?;
        h.drafts.retain(|d| text(d, "pk").is_some_and(|pk| pk.starts_with("DRAFT#")));
        Ok(h)
    }

    /// Every item of one index partition (keys and what the index projects).
    async fn index_keys(&self, index: &str, attr: &str, value: &str) -> Result<Vec<Item>, StoreError> {
        let mut out = Vec::new();
        let mut start = None;
        loop {
            let res = self
                .db
                .query()
                .table_name(&self.table)
                .index_name(index)
                .key_condition_expression("#k = :v")
                .expression_attribute_names("#k", attr)
                .expression_attribute_values(":v", s(value))
                .set_exclusive_start_key(start)
                .send()
                .await
                .map_err(store_error)?;
            out.extend(res.items().iter().cloned());
            start = res.last_evaluated_key().cloned();
            if start.is_none() {
                return Ok(out);
            }
        }
    }

    /// Starts (or rejoins) an erasure: the tombstone, under both ids, before anything is removed.
    pub async fn begin_erasure(&self, p: &PersonKeys, by: &str, now: DateTime<Utc>) -> Result<(), StoreError> {
        let mut ids = vec![p.email_hash.clone()];
        if let Some(c) = &p.candidate_id {
            ids.push(c.to_string());
        }
        for id in ids {
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
            let res = self
                .db
                .put_item()
                .table_name(&self.table)
                .set_item(Some(item))
                .condition_expression("attribute_not_exists(pk) OR attribute_exists(done_at)")
                .send()
                .await
                .map_err(store_error);
            match res {
                Ok(_) | Err(StoreError::ConditionFailed) => {}
                Err(e) => return Err(e),
            }
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
    /// campaign never finds the person again), and the tombstones close.
    pub async fn finish_erasure(&self, p: &PersonKeys, now: DateTime<Utc>) -> Result<(), StoreError> {
        self.db
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key(format!("EMAIL#{}", p.email_hash), "SUPPRESS")))
            .update_expression("SET reason = if_not_exists(reason, :erased), suppressed_at = if_not_exists(suppressed_at, :now), erased_at = :now")
            .expression_attribute_values(":erased", s("erased"))
            .expression_attribute_values(":now", s(rfc3339(now)))
            .send()
            .await
            .map_err(store_error)?;
        let mut ids = vec![p.email_hash.clone()];
        if let Some(c) = &p.candidate_id {
            ids.push(c.to_string());
        }
        for id in ids {
            self.db
                .update_item()
                .table_name(&self.table)
                .set_key(Some(key(format!("TOMB#{id}"), "TOMB")))
                .update_expression("SET done_at = if_not_exists(done_at, :now) REMOVE gsi1pk, gsi1sk")
                .condition_expression("attribute_exists(pk)")
                .expression_attribute_values(":now", s(rfc3339(now)))
                .send()
                .await
                .map_err(store_error)?;
        }
        Ok(())
    }

    /// Erasures a crash (or a failure) left unfinished, oldest first: one query a page, from `after`
    /// (the page's last key, `None` at the end).
    pub async fn open_erasures(
        &self,
        limit: i32,
        after: Option<Item>,
    ) -> Result<(Vec<Tombstone>, Option<Item>), StoreError> {
        let out = self
            .db
            .query()
            .table_name(&self.table)
            .index_name("GSI1")
            .key_condition_expression("gsi1pk = :open")
            .expression_attribute_values(":open", s(OPEN_ERASURES))
            .limit(limit)
            .set_exclusive_start_key(after)
            .send()
            .await
            .map_err(store_error)?;
        Ok((out.items().iter().filter_map(tombstone_of).collect(), out.last_evaluated_key))
    }

    /// People whose last activity is before `cutoff`, stalest first: one query a page, from `after`.
    pub async fn stale_people(
        &self,
        cutoff: DateTime<Utc>,
        limit: i32,
        after: Option<Item>,
    ) -> Result<(Vec<PersonKeys>, Option<Item>), StoreError> {
        let out = self
            .db
            .query()
            .table_name(&self.table)
            .index_name("GSI1")
            .key_condition_expression("gsi1pk = :r AND gsi1sk < :cutoff")
            .expression_attribute_values(":r", s(RETAIN))
            .expression_attribute_values(":cutoff", s(rfc3339(cutoff)))
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
                    email_hash: text(i, "pk")?.strip_prefix("EMAIL#")?.to_string(),
                    candidate_id: text(i, "candidate_id").and_then(|c| c.parse().ok()),
                })
            })
            .collect();
        Ok((people, out.last_evaluated_key))
    }

    /// The keys of submitted and abandoned drafts created before `cutoff`, oldest first: one query a
    /// page, from `after`.
    pub async fn closed_drafts(
        &self,
        cutoff: DateTime<Utc>,
        limit: i32,
        after: Option<Item>,
    ) -> Result<(Vec<Item>, Option<Item>), StoreError> {
        let out = self
            .db
            .query()
            .table_name(&self.table)
            .index_name("GSI1")
            .key_condition_expression("gsi1pk = :d AND gsi1sk < :cutoff")
            .expression_attribute_values(":d", s(CLOSED_DRAFTS))
            .expression_attribute_values(":cutoff", s(rfc3339(cutoff)))
            .projection_expression("pk, sk")
            .limit(limit)
            .set_exclusive_start_key(after)
            .send()
            .await
            .map_err(store_error)?;
        let keys = out.items().iter().filter_map(|i| Some(key(text(i, "pk")?, text(i, "sk")?))).collect();
        Ok((keys, out.last_evaluated_key))
    }

    /// Whether any of the candidate's applications is still open: one query.
    pub async fn has_open_application(&self, candidate: &CandidateId) -> Result<bool, StoreError> {
        let apps = self.index_keys("GSI2", "gsi2pk", &format!("CANDAPPS#{candidate}")).await?;
        Ok(apps.iter().any(|a| text(a, "status").as_deref() == Some("active")))
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

    /// Where the retention task's pass over the pool got to.
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

    /// Which of these applications exist (reads of 100 keys at a time).
    pub async fn existing_applications(&self, ids: &[String]) -> Result<HashSet<String>, StoreError> {
        let mut out = HashSet::new();
        for chunk in ids.chunks(100) {
            let keys = chunk.iter().map(|id| key(format!("APP#{id}"), "APP")).collect();
            for item in self.batch_get(keys).await? {
                if let Some(id) = text(&item, "pk").and_then(|pk| pk.strip_prefix("APP#").map(str::to_string)) {
                    out.insert(id);
                }
            }
        }
        Ok(out)
    }

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
