//! Intake: applications, candidates, drafts, and the counters reports read, written together.
use super::tx::{Change, Item, Tx, TxError};
use super::{doc, key, n, s, store_error, to_doc, Store};
use crate::application::{Application, Candidate};
use crate::attribution::Attribution;
use crate::clock::rfc3339;
use crate::draft::{Draft, DraftStatus};
use crate::error::StoreError;
use crate::ids::{ApplicationId, CandidateId, DraftId, JobId};
use crate::job::Job;
use aws_sdk_dynamodb::types::{AttributeValue, KeysAndAttributes};
use chrono::{DateTime, NaiveDate, Utc};
use std::collections::HashMap;

/// A draft's document with its status from the `status` attribute, which submission and abandonment
/// update in place (the document keeps the status it was created with).
pub fn draft_of(item: &Item) -> Result<Draft, StoreError> {
    let mut d: Draft = doc(item)?;
    if let Some(status) = attr(item, "status") {
        d.status = status.parse().map_err(StoreError::Corrupt)?;
    }
    Ok(d)
}

/// A draft's place in the open and closed drafts' indexes: by creation time.
fn draft_index_sk(d: &Draft) -> String {
    format!("{}#{}", rfc3339(d.created_at), d.id)
}

fn attr(item: &Item, name: &str) -> Option<String> {
    item.get(name).and_then(|v| v.as_s().ok()).cloned()
}

/// What an application needs to know before it writes, read in one `BatchGetItem`.
#[derive(Debug, Default)]
pub struct ApplicationLookup {
    pub job: Option<Job>,
    /// The candidate who owns this email, if any.
    pub candidate_id: Option<CandidateId>,
    /// This email has already applied to this job.
    pub existing: Option<(ApplicationId, CandidateId)>,
    /// This Idempotency-Key was used before: (application, candidate, request fingerprint).
    pub replay: Option<(ApplicationId, CandidateId, String)>,
    pub draft: Option<Draft>,
    /// The person's status in the CRM pool, if they are in it.
    pub prospect_status: Option<String>,
    /// Why this address must not be mailed, if it must not.
    pub suppressed: Option<String>,
}

/// Everything one new application writes, in one transaction.
pub struct NewApplication<'a> {
    pub application: &'a Application,
    /// `Some` when the candidate is new and must be created.
    pub new_candidate: Option<&'a Candidate>,
    pub email_hash: &'a str,
    pub idempotency: Option<(&'a str, &'a str)>,
    /// An open draft of the same person and job, completed by this submission.
    pub draft: Option<&'a Draft>,
    /// The person's prospect record, if any: `Some(true)` when still nurtured, which applying ends
    /// (status `applied`); either way the prospect is linked to the candidate.
    pub prospect: Option<bool>,
    /// What the form's consent boxes recorded, per purpose.
    pub consents: &'a [crate::consent::Consent],
    /// Voluntary EEO answers: their own item (never the application's), and the counters.
    pub demographics: Option<&'a crate::demographics::Demographics>,
}

#[derive(Debug)]
pub enum NotCreated {
    /// The same email applied to the same job first.
    Duplicate,
    /// Another request created the candidate, completed the draft or used the key first: read again.
    Raced,
    Store(StoreError),
}

fn day_key(day: NaiveDate) -> String {
    day.format("%Y-%m-%d").to_string()
}

/// An application's item: the document, the keys of its two lists, and what list filters read.
pub(super) fn application_item(app: &Application) -> Result<Item, StoreError> {
    let mut item = key(format!("APP#{}", app.id), "APP");
    item.insert("doc".into(), to_doc(app)?);
    item.insert("gsi1pk".into(), s(format!("JOBAPPS#{}", app.job_id)));
    item.insert("gsi1sk".into(), s(app.id.to_string()));
    item.insert("gsi2pk".into(), s(format!("CANDAPPS#{}", app.candidate_id)));
    item.insert("gsi2sk".into(), s(app.id.to_string()));
    item.insert("version".into(), n(app.version));
    item.insert("stage".into(), s(&app.stage));
    item.insert("status".into(), s(&app.status));
    Ok(item)
}

/// A hire, counted on the same per-day, channel and source items as applicants.
pub(super) fn count_hire(tx: &mut Tx, table: &str, job: &JobId, day: NaiveDate, a: &Attribution) {
    count_on_source_items(tx, table, job, day, a, "hires");
}

/// Counter items: `STATS#JOB#<job>` and `STATS#ALL`, one item per day, channel and source.
fn count_applicant(tx: &mut Tx, table: &str, job: &JobId, day: NaiveDate, a: &Attribution) {
    count_on_source_items(tx, table, job, day, a, "applicants");
}

fn count_on_source_items(tx: &mut Tx, table: &str, job: &JobId, day: NaiveDate, a: &Attribution, field: &str) {
    for pk in [format!("STATS#JOB#{job}"), "STATS#ALL".to_string()] {
        tx.update(
            "counter",
            table,
            Change {
                key: key(pk, format!("DAY#{}#{}#{}", day_key(day), a.channel, a.source)),
                expression: format!("ADD {field} :one SET #day = :day, channel = :ch, #source = :src"),
                names: &[("#day", "day"), ("#source", "source")],
                values: vec![
                    (":one", n(1)),
                    (":day", s(day_key(day))),
                    (":ch", s(a.channel.as_str())),
                    (":src", s(&a.source)),
                ],
                condition: None,
            },
        );
    }
}

/// Funnel counters per job and day: `started`, `submitted`, `dropped`.
fn count_funnel(tx: &mut Tx, table: &str, job: &JobId, day: NaiveDate, fields: &[&str]) {
    let expression =
        format!("ADD {} SET #day = :day", fields.iter().map(|f| format!("{f} :one")).collect::<Vec<_>>().join(", "));
    tx.update(
        "funnel",
        table,
        Change {
            key: key(format!("STATS#JOB#{job}"), format!("FUNNEL#{}", day_key(day))),
            expression,
            names: &[("#day", "day")],
            values: vec![(":one", n(1)), (":day", s(day_key(day)))],
            condition: None,
        },
    );
}

impl Store {
    /// One `BatchGetItem` for the job, the email's candidate and application, the idempotency key
    /// and the draft.
    pub async fn application_lookup(
        &self,
        job: &JobId,
        email_hash: &str,
        idempotency_hash: Option<&str>,
        draft: Option<&DraftId>,
    ) -> Result<ApplicationLookup, StoreError> {
        let mut keys = vec![
            key(format!("JOB#{job}"), "JOB"),
            key(format!("EMAIL#{email_hash}"), "CANDIDATE"),
            key(format!("EMAIL#{email_hash}"), format!("APPLIED#{job}")),
            key(format!("EMAIL#{email_hash}"), "PROSPECT"),
            key(format!("EMAIL#{email_hash}"), "SUPPRESS"),
        ];
        if let Some(h) = idempotency_hash {
            keys.push(key(format!("IDEM#{h}"), "IDEM"));
        }
        if let Some(d) = draft {
            keys.push(key(format!("DRAFT#{d}"), "DRAFT"));
        }
        let items = self.batch_get(keys).await?;
        let mut out = ApplicationLookup::default();
        for item in &items {
            let (pk, sk) = (attr(item, "pk").unwrap_or_default(), attr(item, "sk").unwrap_or_default());
            let ids = || -> Option<(ApplicationId, CandidateId)> {
                Some((attr(item, "application_id")?.parse().ok()?, attr(item, "candidate_id")?.parse().ok()?))
            };
            if pk.starts_with("JOB#") {
                out.job = Some(doc(item)?);
            } else if sk == "CANDIDATE" {
                out.candidate_id = attr(item, "candidate_id").and_then(|c| c.parse().ok());
            } else if sk == "PROSPECT" {
                out.prospect_status = attr(item, "status");
            } else if sk == "SUPPRESS" {
                out.suppressed = attr(item, "reason");
            } else if sk.starts_with("APPLIED#") {
                out.existing = ids();
            } else if pk.starts_with("IDEM#") {
                out.replay = ids().map(|(a, c)| (a, c, attr(item, "fingerprint").unwrap_or_default()));
            } else if pk.starts_with("DRAFT#") {
                out.draft = Some(draft_of(item)?);
            }
        }
        Ok(out)
    }

    pub(super) async fn batch_get(&self, keys: Vec<Item>) -> Result<Vec<Item>, StoreError> {
        let mut pending = Some(
            KeysAndAttributes::builder()
                .set_keys(Some(keys))
                .consistent_read(true)
                .build()
                .map_err(|e| StoreError::Corrupt(e.to_string()))?,
        );
        let mut items = Vec::new();
        // Unprocessed keys come back only under throttling; the SDK has already backed off.
        for _ in 0..5 {
            let Some(req) = pending.take() else { break };
            let out = self.db.batch_get_item().request_items(&self.table, req).send().await.map_err(store_error)?;
            if let Some(mut got) = out.responses {
                items.extend(got.remove(&self.table).unwrap_or_default());
            }
            pending = out.unprocessed_keys.and_then(|mut u| u.remove(&self.table)).filter(|k| !k.keys.is_empty());
        }
        if pending.is_some() {
            return Err(StoreError::Unavailable("batch get left keys unprocessed".into()));
        }
        Ok(items)
    }

    /// One `TransactWriteItems`: candidate and email lock (if new), the (email, job) lock, the
    /// application, the confirmation email's send claim, the idempotency key, the draft's completion
    /// and the report counters. All or nothing.
    pub async fn create_application(&self, new: NewApplication<'_>) -> Result<(), NotCreated> {
        let app = new.application;
        let t = &self.table;
        let mut tx = Tx::default();
        let email_pk = format!("EMAIL#{}", new.email_hash);
        let ids = |item: &mut Item| {
            item.insert("application_id".into(), s(app.id.to_string()));
            item.insert("candidate_id".into(), s(app.candidate_id.to_string()));
        };
        let store = |e: StoreError| NotCreated::Store(e);
        if let Some(c) = new.new_candidate {
            let mut lock = key(email_pk.clone(), "CANDIDATE");
            lock.insert("candidate_id".into(), s(c.id.to_string()));
            tx.put("email", t, lock, Some("attribute_not_exists(pk)"));
            let mut item = key(format!("CAND#{}", c.id), "CAND");
            item.insert("doc".into(), to_doc(c).map_err(store)?);
            item.insert("email_hash".into(), s(new.email_hash));
            tx.put("candidate", t, item, Some("attribute_not_exists(pk)"));
        }
        let mut applied = key(email_pk, format!("APPLIED#{}", app.job_id));
        ids(&mut applied);
        tx.put("applied", t, applied, Some("attribute_not_exists(pk)"));

        tx.put("application", t, application_item(app).map_err(store)?, Some("attribute_not_exists(pk)"));

        // The confirmation email is claimed here, so only the request that created the application sends it.
        let mut claim = key(format!("APP#{}", app.id), "SEND#confirmation");
        claim.insert("status".into(), s("claimed"));
        claim.insert("claimed_at".into(), s(rfc3339(app.created_at)));
        tx.put("claim", t, claim, Some("attribute_not_exists(pk)"));

        if let Some((hash, fingerprint)) = new.idempotency {
            let mut item = key(format!("IDEM#{hash}"), "IDEM");
            ids(&mut item);
            item.insert("fingerprint".into(), s(fingerprint));
            // Kept a day; TTL only tidies up, the key's meaning does not depend on it.
            item.insert("ttl".into(), n(app.created_at.timestamp() + 86_400));
            tx.put("idempotency", t, item, Some("attribute_not_exists(pk)"));
        }
        let day = app.created_at.date_naive();
        if let Some(d) = new.draft {
            tx.update(
                "draft",
                t,
                Change {
                    key: key(format!("DRAFT#{}", d.id), "DRAFT"),
                    // Out of the open drafts, into the closed ones that retention erases.
                    expression: "SET #status = :submitted, gsi1pk = :closed, gsi1sk = :created".into(),
                    names: &[("#status", "status")],
                    values: vec![
                        (":submitted", s(DraftStatus::Submitted.as_str())),
                        (":open", s(DraftStatus::Open.as_str())),
                        (":closed", s(super::privacy::CLOSED_DRAFTS)),
                        (":created", s(draft_index_sk(d))),
                    ],
                    condition: Some("#status = :open"),
                },
            );
            count_funnel(&mut tx, t, &app.job_id, day, &["submitted"]);
        } else {
            // Applied without a draft: started and submitted at once.
            count_funnel(&mut tx, t, &app.job_id, day, &["started", "submitted"]);
        }
        count_applicant(&mut tx, t, &app.job_id, day, &app.attribution);
        super::privacy::touch_retention(&mut tx, t, new.email_hash, &app.candidate_id, app.created_at);
        super::consents::record_in(&mut tx, t, new.email_hash, new.consents).map_err(store)?;
        if let Some(d) = new.demographics {
            let mut item = key(format!("DEMOGRAPHICS#{}", app.id), "DEMOGRAPHICS");
            item.insert("doc".into(), to_doc(d).map_err(store)?);
            item.insert("job_id".into(), s(app.job_id.to_string()));
            tx.put("demographics", t, item, None);
            super::pipeline::count_demographics(&mut tx, t, &app.job_id, d, "applicants");
        }
        if let (crate::attribution::Channel::CrmCampaign, Some(c)) =
            (app.attribution.channel, &app.attribution.campaign)
        {
            super::crm::count_campaign(&mut tx, t, c, "applied");
        }
        if let Some(nurtured) = new.prospect {
            let (marks, mut values) = super::crm::pool_marks(new.email_hash, app.created_at);
            values.push((":now", s(rfc3339(app.created_at))));
            values.push((":cid", s(app.candidate_id.to_string())));
            let status = if nurtured {
                values.push((":applied", s("applied")));
                "#status = :applied, "
            } else {
                ""
            };
            tx.update(
                "prospect",
                t,
                Change {
                    key: key(format!("EMAIL#{}", new.email_hash), "PROSPECT"),
                    expression: format!("SET {status}candidate_id = :cid, updated_at = :now{marks}"),
                    names: if nurtured { &[("#status", "status")] } else { &[] },
                    values,
                    // Erased since the lookup: the retry reads again and leaves it be.
                    condition: Some("attribute_exists(pk)"),
                },
            );
        }

        match tx.commit(self).await {
            Ok(()) => Ok(()),
            Err(TxError::Failed(labels)) if labels.contains(&"applied") => Err(NotCreated::Duplicate),
            Err(TxError::Failed(_)) | Err(TxError::Conflict) => Err(NotCreated::Raced),
            Err(TxError::Store(e)) => Err(NotCreated::Store(e)),
        }
    }

    /// Records what SES answered for a claimed send (the second of at most two writes per email).
    pub async fn record_send(
        &self,
        pk: String,
        kind: &str,
        message_id: &str,
        at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        self.db
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key(pk, format!("SEND#{kind}"))))
            .update_expression("SET #status = :sent, message_id = :m, sent_at = :at")
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(":sent", s("sent"))
            .expression_attribute_values(":m", s(message_id))
            .expression_attribute_values(":at", s(rfc3339(at)))
            .send()
            .await
            .map_err(store_error)?;
        Ok(())
    }

    pub async fn get_application(&self, id: &ApplicationId) -> Result<Option<Application>, StoreError> {
        self.get(format!("APP#{id}"), "APP").await?.as_ref().map(doc).transpose()
    }

    /// Counts one job's applications (a query on the job's partition of GSI1, keys only).
    pub async fn count_applications(&self, job: &JobId) -> Result<usize, StoreError> {
        let mut count = 0;
        let mut start = None;
        loop {
            let out = self
                .db
                .query()
                .table_name(&self.table)
                .index_name("GSI1")
                .key_condition_expression("gsi1pk = :pk")
                .expression_attribute_values(":pk", s(format!("JOBAPPS#{job}")))
                .select(aws_sdk_dynamodb::types::Select::Count)
                .set_exclusive_start_key(start)
                .send()
                .await
                .map_err(store_error)?;
            count += out.count as usize;
            start = out.last_evaluated_key;
            if start.is_none() {
                return Ok(count);
            }
        }
    }

    /// A new draft and the funnel's `started` count: one transaction.
    pub async fn create_draft(&self, d: &Draft, email_hash: &str) -> Result<(), StoreError> {
        let mut tx = Tx::default();
        let mut item = key(format!("DRAFT#{}", d.id), "DRAFT");
        item.insert("doc".into(), to_doc(d)?);
        item.insert("status".into(), s(d.status.as_str()));
        // The person's drafts, so an export or an erasure finds them.
        item.insert("gsi2pk".into(), s(format!("DRAFTS#{email_hash}")));
        item.insert("gsi2sk".into(), s(d.id.to_string()));
        // Open drafts sit in a sparse index by creation time until they are submitted or abandoned;
        // then in the closed drafts', by the same key, until retention erases them.
        item.insert("gsi1pk".into(), s("DRAFTS#open"));
        item.insert("gsi1sk".into(), s(draft_index_sk(d)));
        tx.put("draft", &self.table, item, Some("attribute_not_exists(pk)"));
        count_funnel(&mut tx, &self.table, &d.job_id, d.created_at.date_naive(), &["started"]);
        tx.commit(self).await.map_err(|e| match e {
            TxError::Store(e) => e,
            other => StoreError::Unavailable(format!("{other:?}")),
        })
    }

    /// Open drafts created before `cutoff`, oldest first, one page (one query).
    pub async fn stale_drafts(&self, cutoff: DateTime<Utc>, limit: i32) -> Result<Vec<Draft>, StoreError> {
        let out = self
            .db
            .query()
            .table_name(&self.table)
            .index_name("GSI1")
            .key_condition_expression("gsi1pk = :pk AND gsi1sk < :cutoff")
            .expression_attribute_values(":pk", s("DRAFTS#open"))
            .expression_attribute_values(":cutoff", s(rfc3339(cutoff)))
            .limit(limit)
            .send()
            .await
            .map_err(store_error)?;
        out.items().iter().map(draft_of).collect()
    }

    /// Marks a draft abandoned and counts the drop-off: one transaction, conditional on the draft still
    /// being open, so a repeated run changes nothing (and the opt-in that may follow goes once for
    /// the draft). `Ok(false)`: someone else got there first.
    pub async fn abandon_draft(&self, d: &Draft) -> Result<bool, StoreError> {
        let t = &self.table;
        let mut tx = Tx::default();
        tx.update(
            "draft",
            t,
            Change {
                key: key(format!("DRAFT#{}", d.id), "DRAFT"),
                expression: "SET #status = :abandoned, gsi1pk = :closed, gsi1sk = :created".into(),
                names: &[("#status", "status")],
                values: vec![
                    (":abandoned", s(DraftStatus::Abandoned.as_str())),
                    (":open", s(DraftStatus::Open.as_str())),
                    (":closed", s(super::privacy::CLOSED_DRAFTS)),
                    (":created", s(draft_index_sk(d))),
                ],
                condition: Some("#status = :open"),
            },
        );
        count_funnel(&mut tx, t, &d.job_id, d.created_at.date_naive(), &["dropped"]);
        match tx.commit(self).await {
            Ok(()) => Ok(true),
            Err(TxError::Failed(_)) | Err(TxError::Conflict) => Ok(false),
            Err(TxError::Store(e)) => Err(e),
        }
    }

    /// The CRM record for an email, if any (origins and status), for tests and the CRM.
    pub async fn prospect_by_email_hash(
        &self,
        email_hash: &str,
    ) -> Result<Option<HashMap<String, AttributeValue>>, StoreError> {
        let out = self
            .db
            .get_item()
            .table_name(&self.table)
            .set_key(Some(key(format!("EMAIL#{email_hash}"), "PROSPECT")))
            .consistent_read(true)
            .send()
            .await
            .map_err(store_error)?;
        Ok(out.item)
    }
}
