//! Prior-applicant imports as resumable work: the run's progress (where in the file it stands, what
//! it counted), the new prospects of a page written together, and the consent emails it leaves to be
//! sent at SES's pace.
use super::consents::record_in;
use super::prospects::Pending;
use super::prospects::{consent_attribute, prospect_item};
use super::tx::{Item, Tx, TxError};
use super::{key, n, s, store_error, to_doc, Store};
use crate::clock::rfc3339;
use crate::consent::Consent;
use crate::email::EmailHash;
use crate::error::StoreError;
use crate::prospect::{LineError, Prospect};
use aws_sdk_dynamodb::types::AttributeValue;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

const RUNNING: &str = "IMPORTS#running";
const ASKS: &str = "ASKS#import";
/// Line errors kept with a run (all are counted).
pub const MAX_KEPT_ERRORS: usize = 200;

crate::choice!(ImportStatus { Running = "running", Done = "done", Failed = "failed" });

/// One import: the file in the bucket, how far it has been read, and what it did.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ImportRun {
    pub import_id: String,
    #[serde(skip)]
    pub key: String,
    pub status: ImportStatus,
    /// The next byte of the file to read, and its line number.
    pub offset: u64,
    pub next_line: u64,
    pub size: u64,
    /// The header row's names, once read.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub header: Option<Vec<String>>,
    pub imported: u64,
    pub updated: u64,
    pub skipped: u64,
    /// The first [`MAX_KEPT_ERRORS`] line errors; `error_count` counts them all.
    pub errors: Vec<LineError>,
    pub error_count: u64,
    /// The most bytes of the file held at once.
    pub largest_buffer_bytes: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub failure: Option<String>,
    pub by: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl ImportRun {
    pub fn new(import_id: String, key: String, by: String, now: DateTime<Utc>) -> Self {
        Self {
            import_id,
            key,
            status: ImportStatus::Running,
            offset: 0,
            next_line: 1,
            size: 0,
            header: None,
            imported: 0,
            updated: 0,
            skipped: 0,
            errors: Vec::new(),
            error_count: 0,
            largest_buffer_bytes: 0,
            failure: None,
            by,
            created_at: now,
            updated_at: now,
        }
    }

    pub fn error(&mut self, e: LineError) {
        self.error_count += 1;
        if self.errors.len() < MAX_KEPT_ERRORS {
            self.errors.push(e);
        }
    }
}

/// A new prospect an import brings, with what goes with it.
#[derive(Clone)]
pub struct NewImported {
    pub prospect: Prospect,
    /// Attributes kept beside the person: consent evidence, or what is pending for them.
    extra: Vec<(&'static str, AttributeValue)>,
    pub consents: Vec<Consent>,
    /// Leave a consent email to be sent (the person has no consent evidence).
    pub ask: bool,
    /// A change to a known person, made only if their record was last updated then; `None`: new.
    pub seen: Option<DateTime<Utc>>,
    /// A new person's `prospect.created`, written with them.
    pub event: Option<crate::event::Event>,
}

impl NewImported {
    /// A person new to the pool with the consent records the row brings (the first is kept on the
    /// item as its evidence) or, without any, what their confirmation link will make theirs (the
    /// double opt-in's second step); `ask`: leave them the consent email.
    pub fn new(prospect: Prospect, consents: Vec<Consent>, ask: bool, event: crate::event::Event) -> Self {
        let extra = match consents.first() {
            Some(c) => vec![consent_attribute(c)],
            None => vec![
                ("pending_interests", s(serde_json::to_string(&prospect.interests).unwrap_or_default())),
                ("pending_credentials", s(serde_json::to_string(&prospect.credentials).unwrap_or_default())),
                ("pending_origin", s("imported")),
            ],
        };
        NewImported { prospect, extra, consents, ask, seen: None, event: Some(event) }
    }

    /// A change to a known person, made only if their record is still as it was read; what it held
    /// pending is carried over.
    pub fn change(prospect: Prospect, pending: Pending, consents: Vec<Consent>) -> Self {
        let seen = prospect.updated_at;
        NewImported { prospect, extra: pending.0, consents, ask: false, seen, event: None }
    }
}

impl Store {
    /// Saves a run's progress. `expected`: the offset it was read at (`None`: a new run), so two
    /// runners never both move one run on; `Ok(false)`: another got there first.
    pub async fn save_import(&self, run: &ImportRun, expected: Option<u64>) -> Result<bool, StoreError> {
        let mut item = key(format!("IMPORT#{}", run.import_id), "IMPORT");
        item.insert("doc".into(), to_doc(run)?);
        item.insert("file_key".into(), s(&run.key));
        item.insert("offset".into(), n(run.offset));
        if run.status == ImportStatus::Running {
            item.insert("gsi1pk".into(), s(RUNNING));
            item.insert("gsi1sk".into(), s(format!("{}#{}", rfc3339(run.created_at), run.import_id)));
        }
        let req = self.db.put_item().table_name(&self.table).set_item(Some(item));
        let req = match expected {
            None => req.condition_expression("attribute_not_exists(pk)"),
            Some(o) => req
                .condition_expression("#o = :o")
                .expression_attribute_names("#o", "offset")
                .expression_attribute_values(":o", n(o)),
        };
        match req.send().await.map_err(store_error) {
            Ok(_) => Ok(true),
            Err(StoreError::ConditionFailed) => Ok(false),
            Err(e) => Err(e),
        }
    }

    pub async fn import_run(&self, import_id: &str) -> Result<Option<ImportRun>, StoreError> {
        let Some(item) = self.get(format!("IMPORT#{import_id}"), "IMPORT").await? else { return Ok(None) };
        let mut run: ImportRun = super::doc(&item)?;
        run.key = item.get("file_key").and_then(|v| v.as_s().ok()).cloned().unwrap_or_default();
        Ok(Some(run))
    }

    /// Runs not finished yet, oldest first (one query).
    pub async fn running_imports(&self, limit: i32) -> Result<Vec<String>, StoreError> {
        self.listed(RUNNING, "IMPORT#", limit).await
    }

    /// The ids a sparse GSI1 list holds, oldest first: its items' `pk` less `prefix` (one query).
    async fn listed(&self, list: &str, prefix: &str, limit: i32) -> Result<Vec<String>, StoreError> {
        let out = self.list(list).limit(limit).send().await.map_err(store_error)?;
        Ok(out
            .items()
            .iter()
            .filter_map(|i| i.get("pk")?.as_s().ok()?.strip_prefix(prefix).map(str::to_string))
            .collect())
    }

    /// Prospects of one page, written together: each new one only if the address is still unknown,
    /// each change only if the record is as it was read, with its consent records and, without them,
    /// the consent email left to send. One transaction (at most 100 items: the caller sizes the group).
    pub async fn write_imported(&self, group: &[NewImported], now: DateTime<Utc>) -> Result<(), TxError> {
        let t = &self.table;
        let mut tx = Tx::default();
        for p in group {
            let item = prospect_item(&p.prospect, p.extra.clone(), now);
            match p.seen {
                None => tx.put("prospect", t, item, Some("attribute_not_exists(pk)")),
                Some(at) => tx.put_if("prospect", t, item, Some("updated_at = :seen"), vec![(":seen", s(rfc3339(at)))]),
            }
            record_in(&mut tx, t, &p.prospect.id, &p.consents).map_err(TxError::Store)?;
            if p.ask {
                tx.put("ask", t, ask_item(&p.prospect.id, now), None);
            }
            if let Some(e) = &p.event {
                super::events::record(&mut tx, t, std::slice::from_ref(e));
            }
        }
        tx.commit(self).await
    }

    /// Leaves the consent email for one person to be sent.
    pub async fn leave_ask(&self, email_hash: &EmailHash, now: DateTime<Utc>) -> Result<(), StoreError> {
        self.db
            .put_item()
            .table_name(&self.table)
            .set_item(Some(ask_item(email_hash, now)))
            .send()
            .await
            .map_err(store_error)?;
        Ok(())
    }

    /// Consent emails left to send, oldest first: the people's email hashes (one query).
    pub async fn pending_asks(&self, limit: i32) -> Result<Vec<EmailHash>, StoreError> {
        let listed = self.listed(ASKS, "EMAIL#", limit).await?;
        listed.iter().map(|h| h.parse().map_err(|_| StoreError::Corrupt("an ask without a hash".into()))).collect()
    }

    pub async fn clear_ask(&self, email_hash: &EmailHash) -> Result<(), StoreError> {
        self.delete(key(format!("EMAIL#{email_hash}"), "ASK#import")).await
    }
}

fn ask_item(email_hash: &EmailHash, now: DateTime<Utc>) -> Item {
    let mut item = key(format!("EMAIL#{email_hash}"), "ASK#import");
    item.insert("gsi1pk".into(), s(ASKS));
    item.insert("gsi1sk".into(), s(format!("{}#{email_hash}", rfc3339(now))));
    item
}
