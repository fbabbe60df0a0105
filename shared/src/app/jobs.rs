//! A recruiter's writes to a job: its edit, its status, its description file. Every write is checked
//! against the version read (optimistic concurrency), and a write to a job that is or was open marks
//! the feeds for the next build.
use crate::app::AppState;
use crate::description::{check, Refused};
use crate::error::{ApiError, StoreError};
use crate::ids::JobId;
use crate::job::{CloseReason, DescriptionFile, Job, JobSpec, JobStatus, MAX_DESCRIPTION, MAX_DESCRIPTION_FILE};
use bytes::Bytes;
use serde_json::Value;

/// Creates a draft job from `spec`.
pub async fn create(st: &AppState, spec: JobSpec) -> Result<Job, ApiError> {
    let now = st.clock.now();
    let job = Job::new(JobId::new(st.clock.as_ref()), spec, now);
    st.store.create_job(&job).await?;
    Ok(job)
}

/// The job `id`, if `allowed` lets the caller act on it; otherwise the error they should see.
pub async fn load(
    st: &AppState,
    id: &JobId,
    allowed: impl FnOnce(&Job) -> Result<(), ApiError>,
) -> Result<Job, ApiError> {
    let job = st.store.get_job(id).await?.ok_or(ApiError::NotFound)?;
    allowed(&job)?;
    Ok(job)
}

/// Applies the JSON merge patch `body` (with its `expected_version`) to `job`; answers the job as saved.
pub async fn edit(st: &AppState, job: Job, body: Value) -> Result<Job, ApiError> {
    let Value::Object(mut patch) = body else {
        return Err(ApiError::BadRequest("the body must be a JSON object".into()));
    };
    let expected = match patch.remove("expected_version") {
        Some(v) => v.as_u64().ok_or_else(|| ApiError::field("expected_version", "must be a whole number"))?,
        None => return Err(ApiError::field("expected_version", "is required")),
    };
    let spec = job.spec.patched(patch)?;
    if expected != job.version {
        return Err(stale(&job));
    }
    let updated = job.with_spec(spec, st.clock.now());
    match save(st, &job, &updated).await {
        Ok(()) => Ok(updated),
        Err(StoreError::ConditionFailed) => {
            Err(ApiError::Conflict("the job changed since that version; reload and retry".into()))
        }
        Err(e) => Err(e.into()),
    }
}

/// Opens (or reopens) the job `id`, if `allowed`.
pub async fn publish(
    st: &AppState,
    id: &JobId,
    allowed: impl Fn(&Job) -> Result<(), ApiError>,
) -> Result<Job, ApiError> {
    let now = st.clock.now();
    change_status(st, id, allowed, |job| job.publish(now)).await
}

/// Closes the job `id` for `reason`, if `allowed`.
pub async fn close(
    st: &AppState,
    id: &JobId,
    reason: CloseReason,
    allowed: impl Fn(&Job) -> Result<(), ApiError>,
) -> Result<Job, ApiError> {
    let now = st.clock.now();
    change_status(st, id, allowed, |job| job.close(reason, now)).await
}

/// Applies a status change, re-reading and retrying if another writer got there first. A change that
/// is already in effect answers with the job as it is, so a retried request is harmless.
async fn change_status(
    st: &AppState,
    id: &JobId,
    allowed: impl Fn(&Job) -> Result<(), ApiError>,
    change: impl Fn(&Job) -> Option<Job>,
) -> Result<Job, ApiError> {
    for _ in 0..3 {
        let job = load(st, id, &allowed).await?;
        let Some(next) = change(&job) else {
            return Ok(job);
        };
        match save(st, &job, &next).await {
            Ok(()) => return Ok(next),
            Err(StoreError::ConditionFailed) => continue,
            Err(e) => return Err(e.into()),
        }
    }
    Err(ApiError::Conflict("the job is changing; retry".into()))
}

/// Stores `body`, sent as `content_type`, as `job`'s description file; Markdown and HTML also become
/// its sanitised `description_html`. Everything is checked before anything is written; the bytes go
/// to a key of their own, which becomes the job's only through its version-checked save, so a refused
/// or conflicting upload changes nothing.
pub async fn put_description(
    st: &AppState,
    job: Job,
    body: Bytes,
    content_type: Option<&str>,
) -> Result<Job, ApiError> {
    let checked = check(content_type, &body).map_err(refusal)?;
    let now = st.clock.now();
    let file = DescriptionFile::of(checked.kind, &body, now);
    // A file is kept under its hash: the one replaced is another object only when its bytes differ.
    let previous = job.description_file.clone().filter(|f| f.sha256 != file.sha256);
    st.files.put_description(&job.id, &file, body).await?;
    let mut spec = job.spec.clone();
    if let Some(html) = checked.html {
        spec.description_html = html;
    }
    let mut updated = job.with_spec(spec, now);
    updated.description_file = Some(file.clone());
    let saved = save(st, &job, &updated).await;
    // The file replaced, or this upload's own bytes when it lost, belong to no job: best effort, as an
    // object left behind holds nothing personal. The same bytes may have won through another request
    // (a double click): then the job refers to them, and they stay.
    let orphan = match &saved {
        Ok(()) => previous,
        Err(_) => match st.store.get_job(&job.id).await {
            Ok(Some(now)) if now.description_file.as_ref().is_some_and(|f| f.sha256 == file.sha256) => None,
            Ok(_) => Some(file),
            Err(_) => None,
        },
    };
    if let Some(orphan) = orphan {
        let _ = st.files.delete_description(&job.id, &orphan).await;
    }
    match saved {
        Ok(()) => Ok(updated),
        Err(StoreError::ConditionFailed) => Err(stale(&job)),
        Err(e) => Err(e.into()),
    }
}

/// The job's description file and its bytes; not found if it has none.
pub async fn description(st: &AppState, job: &Job) -> Result<(DescriptionFile, Bytes), ApiError> {
    let file = job.description_file.clone().ok_or(ApiError::NotFound)?;
    let bytes = st.files.description(&job.id, &file).await?;
    Ok((file, bytes))
}

fn refusal(r: Refused) -> ApiError {
    match r {
        Refused::UnsupportedType => {
            ApiError::UnsupportedMediaType("send text/markdown, text/html, application/pdf or a .docx".into())
        }
        Refused::Empty => ApiError::field("body", "the file is empty"),
        Refused::TooLarge => {
            ApiError::PayloadTooLarge(format!("the file must be at most {MAX_DESCRIPTION_FILE} bytes"))
        }
        Refused::NotDeclaredType(essence) => ApiError::field("body", format!("the file is not {essence}")),
        Refused::NoContent => ApiError::field("body", "has no content once unsafe HTML is removed"),
        Refused::HtmlTooLarge => {
            ApiError::PayloadTooLarge(format!("the file makes a description of more than {MAX_DESCRIPTION} bytes"))
        }
    }
}

/// Writes `next` over `current` if nobody changed it meanwhile, with its event. A job that is or was
/// open changes what the boards see, so its write also marks the feeds for the next build.
async fn save(st: &AppState, current: &Job, next: &Job) -> Result<(), StoreError> {
    let on_boards = current.status == JobStatus::Open || next.status == JobStatus::Open;
    let event = crate::event::job_saved(st.clock.as_ref(), current, next);
    st.store.replace_job(next, current.version, &event, on_boards).await
}

fn stale(job: &Job) -> ApiError {
    ApiError::Conflict(format!("the job is at version {}; reload and retry", job.version))
}
