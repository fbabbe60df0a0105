//! Applications: `APP#<id>/APP`, listed by job (GSI1 `JOBAPPS#<job>`) and by candidate (GSI2
//! `CANDAPPS#<candidate>`), with the items only an application writes: the (email, job) lock
//! `EMAIL#<h>/APPLIED#<job>`, the idempotency key `IDEM#<k>` and the demographic answers
//! `DEMOGRAPHICS#<id>`. Creating and moving one are each one conditional transaction that also adds
//! to what the other files keep (candidate, draft, counters, prospect, retention mark).
use super::tx::{Item, Tx, TxError};
use super::{
    campaigns, candidates, consents, counters, doc, drafts, events, funnel, key, n, prospects, retention, s, sends,
    store_error, text, to_doc, Page, PageRequest, Store,
};
use crate::application::{Application, Candidate};
use crate::draft::{Draft, DraftStatus};
use crate::email::EmailHash;
use crate::error::{ApiError, StoreError};
use crate::ids::{ApplicationId, CandidateId, DraftId, JobId};
use crate::job::Job;
use crate::prospect::{ProspectStatus, SuppressionReason};
use crate::stage::ApplicationStatus;
use chrono::{DateTime, Utc};
use std::collections::HashSet;

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
    pub prospect_status: Option<ProspectStatus>,
    /// Why this address must not be mailed, if it must not.
    pub suppressed: Option<SuppressionReason>,
}

/// Everything one new application writes, in one transaction.
/// A move to write: the application as moved, the version it was read at, and what the move adds to
/// the counters, the pool and the outbox.
pub struct MovedApplication<'a> {
    pub moved: &'a Application,
    pub email_hash: &'a EmailHash,
    pub expected: u64,
    pub left_stage: &'a str,
    pub seconds_in_stage: i64,
    pub hired: bool,
    pub keep: Option<prospects::KeepInTouch<'a>>,
    pub exact: counters::ExactSamples,
    pub demographics: Option<&'a crate::demographics::Demographics>,
    pub events: &'a [crate::event::Event],
    /// The request's audit entry, written with the move (see `api::audited`).
    pub audit: Option<&'a super::AuditEntry>,
}

pub struct NewApplication<'a> {
    pub application: &'a Application,
    /// `Some` when the candidate is new and must be created.
    pub new_candidate: Option<&'a Candidate>,
    pub email_hash: &'a EmailHash,
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
    /// What the outbox records of it (`application.created`).
    pub events: &'a [crate::event::Event],
}

#[derive(Debug)]
pub enum NotCreated {
    /// The same email applied to the same job first.
    Duplicate,
    /// Another request created the candidate, completed the draft or used the key first: read again.
    Raced,
    Store(StoreError),
}

/// An application with its job and candidate.
pub struct ApplicationContext {
    pub application: Application,
    pub job: Job,
    pub candidate: Candidate,
    /// Exact durations so far in the exact-sample items (the current stage's, and time to hire's) of
    /// the counter shard the next move adds to: while fewer than `EXACT_SAMPLES`, the move also records
    /// its exact duration, so small sets get exact quantiles (see `counters::exact_keys`).
    pub samples_in_stage: u64,
    pub samples_to_hire: u64,
    /// The applicant's demographic answers, read only so a hire is counted in the aggregate; never
    /// shown (no view reads this field).
    pub demographics: Option<crate::demographics::Demographics>,
}

/// An application's item: the document, the keys of its two lists, and what list filters read.
fn application_item(app: &Application) -> Result<Item, StoreError> {
    let mut item = key(format!("APP#{}", app.id), "APP");
    item.insert("doc".into(), to_doc(app)?);
    item.insert("gsi1pk".into(), s(format!("JOBAPPS#{}", app.job_id)));
    item.insert("gsi1sk".into(), s(app.id.to_string()));
    item.insert("gsi2pk".into(), s(format!("CANDAPPS#{}", app.candidate_id)));
    item.insert("gsi2sk".into(), s(app.id.to_string()));
    item.insert("version".into(), n(app.version));
    item.insert("stage".into(), s(&app.stage));
    item.insert("status".into(), s(app.status.as_str()));
    Ok(item)
}

impl Store {
    /// One `BatchGetItem` for the job, the email's candidate and application, the idempotency key
    /// and the draft.
    pub async fn application_lookup(
        &self,
        job: &JobId,
        email_hash: &EmailHash,
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
            let (pk, sk) = (text(item, "pk").unwrap_or_default(), text(item, "sk").unwrap_or_default());
            let ids = || -> Option<(ApplicationId, CandidateId)> {
                Some((text(item, "application_id")?.parse().ok()?, text(item, "candidate_id")?.parse().ok()?))
            };
            if pk.starts_with("JOB#") {
                out.job = Some(doc(item)?);
            } else if sk == "CANDIDATE" {
                out.candidate_id = text(item, "candidate_id").and_then(|c| c.parse().ok());
            } else if sk == "PROSPECT" {
                out.prospect_status = text(item, "status").and_then(|s| s.parse().ok());
            } else if sk == "SUPPRESS" {
                out.suppressed = super::reason_of(item)?;
            } else if sk.starts_with("APPLIED#") {
                out.existing = ids();
            } else if pk.starts_with("IDEM#") {
                out.replay = ids().map(|(a, c)| (a, c, text(item, "fingerprint").unwrap_or_default()));
            } else if pk.starts_with("DRAFT#") {
                out.draft = Some(drafts::draft_of(item)?);
            }
        }
        Ok(out)
    }

    /// One `TransactWriteItems`: candidate and email lock (if new), the (email, job) lock, the
    /// application, the confirmation email's send claim, the idempotency key, the draft's completion
    /// and the report counters. All or nothing.
    pub async fn create_application(&self, new: NewApplication<'_>) -> Result<(), NotCreated> {
        let app = new.application;
        let t = &self.table;
        let mut tx = Tx::default();
        let ids = |item: &mut Item| {
            item.insert("application_id".into(), s(app.id.to_string()));
            item.insert("candidate_id".into(), s(app.candidate_id.to_string()));
        };
        let store = |e: StoreError| NotCreated::Store(e);
        if let Some(c) = new.new_candidate {
            candidates::add_candidate(&mut tx, t, c, new.email_hash).map_err(store)?;
        }
        let mut applied = key(format!("EMAIL#{}", new.email_hash), format!("APPLIED#{}", app.job_id));
        ids(&mut applied);
        tx.put("applied", t, applied, Some("attribute_not_exists(pk)"));

        tx.put("application", t, application_item(app).map_err(store)?, Some("attribute_not_exists(pk)"));
        sends::claim_confirmation(&mut tx, t, app);

        if let Some((hash, fingerprint)) = new.idempotency {
            let mut item = key(format!("IDEM#{hash}"), "IDEM");
            ids(&mut item);
            item.insert("fingerprint".into(), s(fingerprint));
            // Kept a day; TTL only tidies up, the key's meaning does not depend on it.
            item.insert("ttl".into(), n(app.created_at.timestamp() + 86_400));
            tx.put("idempotency", t, item, Some("attribute_not_exists(pk)"));
        }
        let day = app.created_at.date_naive();
        // Every counter of the creation on one shard.
        let at = self.counters(self.application_shard(&app.id, 0));
        if let Some(d) = new.draft {
            drafts::close_draft(&mut tx, t, d, DraftStatus::Submitted);
            funnel::count_funnel(&mut tx, at, &app.job_id, day, &["submitted"]);
        } else {
            // Applied without a draft: started and submitted at once.
            funnel::count_funnel(&mut tx, at, &app.job_id, day, &["started", "submitted"]);
        }
        counters::count_applicant(&mut tx, at, &app.job_id, day, &app.attribution);
        retention::touch_retention(&mut tx, t, new.email_hash, &app.candidate_id, app.created_at);
        consents::record_in(&mut tx, t, new.email_hash, new.consents).map_err(store)?;
        if let Some(d) = new.demographics {
            let mut item = key(format!("DEMOGRAPHICS#{}", app.id), "DEMOGRAPHICS");
            item.insert("doc".into(), to_doc(d).map_err(store)?);
            item.insert("job_id".into(), s(app.job_id.to_string()));
            tx.put("demographics", t, item, None);
            counters::count_demographics(&mut tx, at, &app.job_id, d, "applicants");
        }
        campaigns::count_attributed(&mut tx, at, &app.attribution, "applied");
        if let Some(nurtured) = new.prospect {
            prospects::link_candidate(&mut tx, t, new.email_hash, &app.candidate_id, nurtured, app.created_at);
        }

        events::record(&mut tx, t, new.events);
        match tx.commit(self).await {
            Ok(()) => Ok(()),
            Err(TxError::Failed(labels)) if labels.contains(&"applied") => Err(NotCreated::Duplicate),
            Err(TxError::Failed(_)) => Err(NotCreated::Raced),
            Err(TxError::Store(e)) => Err(NotCreated::Store(e)),
        }
    }

    pub async fn get_application(&self, id: &ApplicationId) -> Result<Option<Application>, StoreError> {
        self.get(format!("APP#{id}"), "APP").await?.as_ref().map(doc).transpose()
    }

    /// A job and a candidate, as a notification about an application needs them: one batch read.
    /// `None` when either is gone (a closed job stays; an erased candidate does not).
    pub async fn job_and_candidate(
        &self,
        job: &JobId,
        candidate: &CandidateId,
    ) -> Result<Option<(Job, Candidate)>, StoreError> {
        let items =
            self.batch_get(vec![key(format!("JOB#{job}"), "JOB"), key(format!("CAND#{candidate}"), "CAND")]).await?;
        let (mut j, mut c) = (None, None);
        for item in &items {
            match text(item, "sk").as_deref() {
                Some("JOB") => j = Some(doc::<Job>(item)?),
                Some("CAND") => c = Some(doc::<Candidate>(item)?),
                _ => {}
            }
        }
        Ok(j.zip(c))
    }

    /// Counts one job's applications (a query on the job's partition of GSI1, keys only).
    pub async fn count_applications(&self, job: &JobId) -> Result<usize, StoreError> {
        let req = self.list(&format!("JOBAPPS#{job}")).select(aws_sdk_dynamodb::types::Select::Count);
        Ok(self.pages(req).await?.iter().map(|p| p.count as usize).sum())
    }

    /// A job's applications, newest first, optionally by stage or status: one query a page.
    pub async fn list_applications(
        &self,
        job: &JobId,
        stage: Option<&str>,
        status: Option<ApplicationStatus>,
        page: &PageRequest,
    ) -> Result<Page<Application>, ApiError> {
        let status = status.map(ApplicationStatus::as_str);
        let scope = format!("apps|{job}|{stage:?}|{status:?}");
        let mut req = self
            .list(&format!("JOBAPPS#{job}"))
            .scan_index_forward(false)
            .limit(page.limit)
            .set_exclusive_start_key(self.start_key(&scope, page).await?);
        let mut filters = vec![];
        if let Some(st) = stage {
            filters.push("#stage = :stage");
            req = req.expression_attribute_names("#stage", "stage").expression_attribute_values(":stage", s(st));
        }
        if let Some(st) = status {
            filters.push("#status = :status");
            req = req.expression_attribute_names("#status", "status").expression_attribute_values(":status", s(st));
        }
        if !filters.is_empty() {
            req = req.filter_expression(filters.join(" AND "));
        }
        let out = req.send().await.map_err(store_error)?;
        let items = out.items().iter().map(doc).collect::<Result<Vec<Application>, _>>()?;
        Ok(Page { items, next_cursor: self.next_cursor(&scope, out.last_evaluated_key.as_ref()).await? })
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

    /// Whether any of the candidate's applications is still open: one query.
    pub async fn has_open_application(&self, candidate: &CandidateId) -> Result<bool, StoreError> {
        let apps = self.index_items("GSI2", "gsi2pk", &format!("CANDAPPS#{candidate}")).await?;
        Ok(apps.iter().any(|a| text(a, "status").as_deref() == Some(ApplicationStatus::Active.as_str())))
    }

    /// The application (one read), then its job and candidate (one batch read), with the exact
    /// samples of the counter shard its next move adds to.
    pub async fn application_context(&self, id: &ApplicationId) -> Result<Option<ApplicationContext>, StoreError> {
        let Some(item) = self.get(format!("APP#{id}"), "APP").await? else { return Ok(None) };
        let application: Application = doc(&item)?;
        let shard = self.application_shard(&application.id, application.version);
        let [in_stage, to_hire] = counters::exact_keys(&application.job_id, &application.stage, shard);
        let (in_stage_sk, to_hire_sk) = (text(&in_stage, "sk"), text(&to_hire, "sk"));
        let items = self
            .batch_get(vec![
                key(format!("JOB#{}", application.job_id), "JOB"),
                key(format!("CAND#{}", application.candidate_id), "CAND"),
                in_stage,
                to_hire,
                key(format!("DEMOGRAPHICS#{id}"), "DEMOGRAPHICS"),
            ])
            .await?;
        let (mut job, mut candidate, mut samples_in_stage, mut samples_to_hire) = (None, None, 0, 0);
        let mut demographics = None;
        for item in &items {
            let sk = text(item, "sk");
            match sk.as_deref() {
                Some("JOB") => job = Some(doc::<Job>(item)?),
                Some("CAND") => candidate = Some(doc::<Candidate>(item)?),
                Some("DEMOGRAPHICS") => demographics = Some(doc(item)?),
                _ if sk == in_stage_sk => samples_in_stage = counters::exact_samples(item),
                _ if sk == to_hire_sk => samples_to_hire = counters::exact_samples(item),
                _ => {}
            }
        }
        match (job, candidate) {
            (Some(job), Some(candidate)) => Ok(Some(ApplicationContext {
                application,
                job,
                candidate,
                samples_in_stage,
                samples_to_hire,
                demographics,
            })),
            _ => Err(StoreError::Corrupt(format!("application {id} without its job or candidate"))),
        }
    }

    /// Writes a moved application if its version is still `expected`, with the stage, hire and
    /// time-in-stage counters, its events and, for a consenting silver medalist, the prospect: one
    /// transaction.
    pub async fn move_application(&self, m: MovedApplication<'_>) -> Result<(), StoreError> {
        let MovedApplication {
            moved,
            email_hash,
            expected,
            left_stage,
            seconds_in_stage,
            hired,
            keep,
            exact,
            demographics,
            events: outbox,
            audit,
        } = m;
        let t = &self.table;
        let mut tx = Tx::default();
        tx.put_if("application", t, application_item(moved)?, Some("version = :v"), vec![(":v", n(expected))]);
        let now: DateTime<Utc> = moved.history.last().map(|h| h.at).unwrap_or(moved.created_at);
        retention::touch_retention(&mut tx, t, email_hash, &moved.candidate_id, now);
        // The shard whose exact samples `application_context` read: the move from version `expected`.
        let at = self.counters(self.application_shard(&moved.id, expected));
        funnel::count_entered(&mut tx, at, &moved.job_id, now.date_naive(), &moved.stage);
        counters::count_time_in_stage(&mut tx, at, &moved.job_id, left_stage, seconds_in_stage, exact.in_stage);
        if hired {
            counters::count_hire(&mut tx, at, &moved.job_id, now.date_naive(), &moved.attribution);
            campaigns::count_attributed(&mut tx, at, &moved.attribution, "hired");
            if let Some(d) = demographics {
                counters::count_demographics(&mut tx, at, &moved.job_id, d, "hires");
            }
            counters::count_time_to_hire(&mut tx, at, moved, now, exact.to_hire);
        }
        if let Some(k) = keep {
            prospects::keep_in_touch(&mut tx, t, &k, now);
        }
        events::record(&mut tx, t, outbox);
        if let Some(entry) = audit {
            tx.put("audit", t, super::audit::audit_item(entry), None);
        }
        match tx.commit(self).await {
            Ok(()) => Ok(()),
            Err(TxError::Failed(labels)) if labels.contains(&"application") => Err(StoreError::ConditionFailed),
            Err(TxError::Failed(_)) => Err(StoreError::ConditionFailed),
            Err(TxError::Store(e)) => Err(e),
        }
    }
}
