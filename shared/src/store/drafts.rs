//! Drafts: `DRAFT#<id>/DRAFT`, an application started and not yet submitted. Each sits in a sparse
//! GSI1 list by creation time, `DRAFTS#open` until it is submitted or abandoned, then
//! `DRAFTS#closed` until retention erases it; GSI2 `DRAFTS#<h>` lists a person's drafts.
use super::funnel::count_funnel;
use super::tx::{Change, Item, Tx, TxError};
use super::{doc, key, s, store_error, text, to_doc, Store};
use crate::clock::rfc3339;
use crate::draft::{Draft, DraftStatus};
use crate::email::EmailHash;
use crate::error::StoreError;
use chrono::{DateTime, Utc};

const OPEN_DRAFTS: &str = "DRAFTS#open";

/// Submitted and abandoned drafts sit in a sparse index by creation time until retention erases them.
const CLOSED_DRAFTS: &str = "DRAFTS#closed";

/// A draft's document with its status from the `status` attribute, which submission and abandonment
/// update in place (the document keeps the status it was created with).
pub fn draft_of(item: &Item) -> Result<Draft, StoreError> {
    let mut d: Draft = doc(item)?;
    if let Some(status) = text(item, "status") {
        d.status = status.parse().map_err(StoreError::Corrupt)?;
    }
    Ok(d)
}

/// A draft's place in the open and closed drafts' indexes: by creation time.
fn draft_index_sk(d: &Draft) -> String {
    format!("{}#{}", rfc3339(d.created_at), d.id)
}

/// Closes an open draft (submitted or abandoned) in a transaction, conditional on it being open.
pub(super) fn close_draft(tx: &mut Tx, table: &str, d: &Draft, status: DraftStatus) {
    tx.update(
        "draft",
        table,
        Change {
            key: key(format!("DRAFT#{}", d.id), "DRAFT"),
            // Out of the open drafts, into the closed ones that retention erases.
            expression: "SET #status = :closing, gsi1pk = :closed, gsi1sk = :created".into(),
            names: &[("#status", "status")],
            values: vec![
                (":closing", s(status.as_str())),
                (":open", s(DraftStatus::Open.as_str())),
                (":closed", s(CLOSED_DRAFTS)),
                (":created", s(draft_index_sk(d))),
            ],
            condition: Some("#status = :open"),
        },
    );
}

impl Store {
    /// A new draft and the funnel's `started` count: one transaction.
    pub async fn create_draft(&self, d: &Draft, email_hash: &EmailHash) -> Result<(), StoreError> {
        let mut tx = Tx::default();
        let mut item = key(format!("DRAFT#{}", d.id), "DRAFT");
        item.insert("doc".into(), to_doc(d)?);
        item.insert("status".into(), s(d.status.as_str()));
        // The person's drafts, so an export or an erasure finds them.
        item.insert("gsi2pk".into(), s(format!("DRAFTS#{email_hash}")));
        item.insert("gsi2sk".into(), s(d.id.to_string()));
        // Open drafts sit in a sparse index by creation time until they are submitted or abandoned;
        // then in the closed drafts', by the same key, until retention erases them.
        item.insert("gsi1pk".into(), s(OPEN_DRAFTS));
        item.insert("gsi1sk".into(), s(draft_index_sk(d)));
        tx.put("draft", &self.table, item, Some("attribute_not_exists(pk)"));
        let at = self.counters(self.shard(&format!("{}#started", d.id)));
        count_funnel(&mut tx, at, &d.job_id, d.created_at.date_naive(), &["started"]);
        tx.commit(self).await.map_err(|e| match e {
            TxError::Store(e) => e,
            other => StoreError::Unavailable(format!("{other:?}")),
        })
    }

    /// Open drafts created before `cutoff`, oldest first, one page (one query).
    pub async fn stale_drafts(&self, cutoff: DateTime<Utc>, limit: i32) -> Result<Vec<Draft>, StoreError> {
        let out = self.list_before(OPEN_DRAFTS, cutoff).limit(limit).send().await.map_err(store_error)?;
        out.items().iter().map(draft_of).collect()
    }

    /// Marks a draft abandoned and counts the drop-off: one transaction, conditional on the draft still
    /// being open, so a repeated run changes nothing (and the opt-in that may follow goes once for
    /// the draft). `Ok(false)`: someone else got there first.
    pub async fn abandon_draft(&self, d: &Draft) -> Result<bool, StoreError> {
        let mut tx = Tx::default();
        close_draft(&mut tx, &self.table, d, DraftStatus::Abandoned);
        let at = self.counters(self.shard(&format!("{}#dropped", d.id)));
        count_funnel(&mut tx, at, &d.job_id, d.created_at.date_naive(), &["dropped"]);
        match tx.commit(self).await {
            Ok(()) => Ok(true),
            Err(TxError::Failed(_)) => Ok(false),
            Err(TxError::Store(e)) => Err(e),
        }
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
            .list_before(CLOSED_DRAFTS, cutoff)
            .projection_expression("pk, sk")
            .limit(limit)
            .set_exclusive_start_key(after)
            .send()
            .await
            .map_err(store_error)?;
        let keys = out.items().iter().filter_map(|i| Some(key(text(i, "pk")?, text(i, "sk")?))).collect();
        Ok((keys, out.last_evaluated_key))
    }
}
