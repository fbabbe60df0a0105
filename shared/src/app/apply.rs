//! Applying from the career site: the resume's upload link, a draft (the start of an application, for
//! drop-off capture), and the application itself: idempotency, the one lookup, the resume's check and
//! copy, the one transaction, and the confirmation email.
use crate::app::AppState;
use crate::application::{taking_applications, Applicant, ApplicationInput, Filing, NotTaking};
use crate::attribution::{attribute, Attribution, Touchpoint};
use crate::draft::DraftInput;
use crate::email::EmailHash;
use crate::error::ApiError;
use crate::files::{UploadLink, UPLOAD_URL_TTL};
use crate::ids::{ApplicationId, CandidateId, DraftId, JobId};
use crate::job::Job;
use crate::prospect::ProspectStatus;
use crate::store::{NewApplication, NotCreated};
use crate::upload::{UploadKey, UploadRequest, MAX_RESUME_BYTES};
use chrono::{DateTime, Utc};

/// Where the browser PUTs a resume, under which key the application will name it, and until when.
pub struct ResumeUpload {
    pub key: UploadKey,
    pub link: UploadLink,
    pub expires_at: DateTime<Utc>,
}

/// A presigned upload for the file `req` describes (its type and size are signed).
pub async fn resume_upload(st: &AppState, req: &UploadRequest) -> Result<ResumeUpload, ApiError> {
    let key = UploadKey::new(ulid::Ulid::from_datetime(st.clock.now().into()), req.file_type);
    let link = st.files.resume_upload_link(&key, req.file_type, req.size, st.clock.now()).await?;
    let expires_at = st.clock.now() + chrono::Duration::from_std(UPLOAD_URL_TTL).unwrap_or_default();
    Ok(ResumeUpload { key, link, expires_at })
}

/// The job a career-site form posts to: a draft or unknown job is 404, a closed or expired one 410.
fn live_job(job: Option<Job>, now: DateTime<Utc>) -> Result<Job, ApiError> {
    taking_applications(job, now).map_err(|n| match n {
        NotTaking::Unknown => ApiError::NotFound,
        NotTaking::Closed => ApiError::Gone("this job is closed".into()),
        NotTaking::Expired => ApiError::Gone("this job has expired".into()),
    })
}

/// Where a form's visitor came from: a signed link's claims, else the UTM fields and referrer.
async fn touch(st: &AppState, source: &Touchpoint, now: DateTime<Utc>) -> Result<Attribution, ApiError> {
    let signer = st.signer().await?;
    Ok(attribute(source, &st.own_hosts, |t| signer.verify("attribution", t, now)))
}

/// Records that someone started applying to a live job; answers the draft's id.
pub async fn start_draft(st: &AppState, job_id: JobId, input: DraftInput) -> Result<DraftId, ApiError> {
    let now = st.clock.now();
    live_job(st.store.get_job(&job_id).await?, now)?;
    let id = DraftId::new(st.clock.as_ref());
    let attribution = touch(st, &input.source, now).await?;
    let draft = input.draft(id, job_id, attribution, now);
    st.store.create_draft(&draft, &st.email_hash(&draft.email).await?).await?;
    Ok(draft.id)
}

/// One application as the career site posted it.
pub struct Submitted<'a> {
    pub job_id: JobId,
    pub input: &'a ApplicationInput,
    /// The body as received, before parsing: a reused Idempotency-Key must come with the same body.
    pub body: &'a str,
    /// The request's Idempotency-Key, if it had one.
    pub idempotency_key: Option<&'a str>,
}

/// Files an application (its event has the confirmation sent); answers (application, candidate). A repeat (the
/// same person and job, or the same Idempotency-Key) answers exactly as the first request was
/// answered, so the answer never tells whether that person had applied already.
pub async fn apply(st: &AppState, s: Submitted<'_>) -> Result<(ApplicationId, CandidateId), ApiError> {
    let hasher = st.hasher().await?;
    let mut attempt = Attempt {
        st,
        fingerprint: hasher.keyed_hash("idempotency-body", s.body),
        idem: s.idempotency_key.map(|k| hasher.keyed_hash("idempotency-key", k)),
        email_hash: hasher.email(&s.input.email),
        id: ApplicationId::new(st.clock.as_ref()),
        resume: None,
        s,
    };
    let mut outcome = None;
    for _ in 0..4 {
        outcome = attempt.once().await?;
        if outcome.is_some() {
            break;
        }
    }
    match outcome {
        Some(Outcome::Created(a, c)) => Ok((a, c)),
        Some(Outcome::Existing(a, c)) => {
            drop_copy(st, attempt.resume.as_deref()).await;
            Ok((a, c))
        }
        None => {
            drop_copy(st, attempt.resume.as_deref()).await;
            Err(ApiError::Unavailable("the application kept changing under this request".into()))
        }
    }
}

enum Outcome {
    Created(ApplicationId, CandidateId),
    Existing(ApplicationId, CandidateId),
}

/// One request's tries at filing its application, with what they share.
struct Attempt<'a> {
    st: &'a AppState,
    s: Submitted<'a>,
    /// The keyed hash of the body, stored with the Idempotency-Key.
    fingerprint: String,
    idem: Option<String>,
    email_hash: EmailHash,
    /// The new application's id, the same on every try (the kept resume is named after it).
    id: ApplicationId,
    /// This request's copy of the resume, made on the first try that needs it.
    resume: Option<String>,
}

impl Attempt<'_> {
    /// Reads, then writes in one transaction; `Ok(None)`: someone got there first, so read again and
    /// answer as they were answered.
    async fn once(&mut self) -> Result<Option<Outcome>, ApiError> {
        let (st, input, job_id) = (self.st, self.s.input, self.s.job_id);
        let now = st.clock.now();
        let lookup = st
            .store
            .application_lookup(&job_id, &self.email_hash, self.idem.as_deref(), input.draft_id.as_ref())
            .await?;
        let job = live_job(lookup.job, now)?;
        crate::demographics::check(
            input.demographics.as_ref(),
            job.spec.asks_demographics,
            input.demographics_consent,
        )?;
        if let Some((a, c, fp)) = lookup.replay {
            if fp != self.fingerprint {
                return Err(ApiError::Conflict("this Idempotency-Key was used for a different request".into()));
            }
            return Ok(Some(Outcome::Existing(a, c)));
        }
        if let Some((a, c)) = lookup.existing {
            return Ok(Some(Outcome::Existing(a, c)));
        }
        if self.resume.is_none() {
            if let Some(key) = &input.resume_key {
                self.resume = Some(take_resume(st, key, &self.id).await?);
            }
        }
        let draft = lookup.draft.filter(|d| d.completed_by(&job_id, &input.email));
        let applicant = match lookup.candidate_id {
            Some(c) => Applicant::Known(c),
            None => Applicant::New(CandidateId::new(st.clock.as_ref())),
        };
        let filing = Filing {
            id: self.id,
            applicant,
            attribution: touch(st, &input.source, now).await?,
            resume_key: self.resume.clone(),
            draft_id: draft.as_ref().map(|d| d.id),
            at: now,
        };
        let (application, new_candidate) = input.file(&job, filing);
        let consents = input.consent_records(now);
        let events = [crate::event::application_created(st.clock.as_ref(), &application)];
        let created = st
            .store
            .create_application(NewApplication {
                application: &application,
                new_candidate: new_candidate.as_ref(),
                email_hash: &self.email_hash,
                idempotency: self.idem.as_deref().map(|h| (h, self.fingerprint.as_str())),
                draft: draft.as_ref(),
                prospect: lookup.prospect_status.map(ProspectStatus::nurtured),
                consents: &consents,
                demographics: input.demographics.as_ref(),
                events: &events,
            })
            .await;
        match created {
            Ok(()) => {
                // The confirmation goes from the event's consumer (`app::events`): no request waits on SES.
                if let Some(key) = &input.resume_key {
                    forget_upload(st, key).await;
                }
                Ok(Some(Outcome::Created(application.id, application.candidate_id)))
            }
            Err(NotCreated::Duplicate) | Err(NotCreated::Raced) => Ok(None),
            Err(NotCreated::Store(e)) => {
                drop_copy(st, self.resume.as_deref()).await;
                Err(e.into())
            }
        }
    }
}

/// Checks an upload an application references and copies it under `resumes/`. The size and the
/// first bytes are checked here because a presigned PUT cannot prove what was sent.
async fn take_resume(st: &AppState, key: &UploadKey, application: &ApplicationId) -> Result<String, ApiError> {
    let missing = || ApiError::field("resume_key", "no such upload; upload the file first");
    let size = st.files.upload_size(key).await?.ok_or_else(missing)?;
    if size == 0 || size > MAX_RESUME_BYTES {
        return Err(ApiError::field("resume_key", format!("the file must be from 1 to {MAX_RESUME_BYTES} bytes")));
    }
    let file_type = key.file_type().ok_or_else(missing)?;
    let head_bytes = st.files.upload_start(key, 64).await?;
    if !file_type.sniff(&head_bytes) {
        return Err(ApiError::field("resume_key", format!("the file is not a valid {}", file_type.extension())));
    }
    Ok(st.files.keep_resume(key, application, file_type).await?)
}

/// The upload a stored resume was copied from goes at once (not a day later by lifecycle): the fewer
/// copies of personal data, the fewer to erase. Every version, since the bucket keeps versions.
async fn forget_upload(st: &AppState, key: &UploadKey) {
    if let Err(e) = st.files.delete_all_versions(&key.0).await {
        tracing::warn!(error = %e, "upload not deleted; the lifecycle rule will");
    }
}

/// This request's copy of a resume when no application came to reference it: removed with every
/// version, since nothing would ever find it again.
async fn drop_copy(st: &AppState, copy: Option<&str>) {
    if let Some(key) = copy {
        if let Err(e) = st.files.delete_all_versions(key).await {
            tracing::warn!(error = %e, "an unreferenced resume copy was not deleted");
        }
    }
}
