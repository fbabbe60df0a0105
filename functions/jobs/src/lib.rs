//! The `jobs` function: job setup for recruiters (`/api/jobs*`) and the public career-site listing
//! (`/careers/jobs*`).
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use axum::Router;
use http::{header, StatusCode};
use rapport::api::{check, json, no_route, AppState, JsonBody, PathId, QueryMap};
use rapport::auth::{Caller, JobAction};
use rapport::error::{ApiError, FieldError, StoreError};
use rapport::feed::{job_posting, script_safe_json};
use rapport::ids::JobId;
use rapport::job::{
    CloseReason, DescriptionFile, DescriptionType, Job, JobSpec, JobStatus, MAX_DESCRIPTION, MAX_DESCRIPTION_FILE,
};
use rapport::parse::Fields;
use rapport::store::{JobFilter, Page};
use serde_json::Value;

mod feeds;

pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/feeds/indeed.xml", get(feed))
        .route("/feeds/linkedin.xml", get(feed))
        .route("/feeds/jobs.json", get(feed))
        .route("/api/jobs", post(create).get(list))
        .route("/api/jobs/{id}", get(read).patch(edit))
        .route(
            "/api/jobs/{id}/description",
            put(put_description)
                .get(get_description)
                .layer(axum::extract::DefaultBodyLimit::max(MAX_DESCRIPTION_FILE + 1)),
        )
        .route("/api/jobs/{id}/publish", post(publish))
        .route("/api/jobs/{id}/close", post(close))
        .route("/careers/jobs", get(careers_list))
        .route("/careers/jobs/{id}", get(careers_read))
        .fallback(no_route)
        .with_state(state)
}

async fn create(State(st): State<AppState>, caller: Caller, JsonBody(body): JsonBody) -> Result<Response, ApiError> {
    caller.require_staff()?;
    let spec = JobSpec::parse(body)?;
    let now = st.clock.now();
    let job = Job::new(JobId::new(st.clock.as_ref()), spec, now);
    st.store.create_job(&job).await?;
    let mut res = json(StatusCode::CREATED, &job);
    if let Ok(loc) = format!("/api/jobs/{}", job.id).parse() {
        res.headers_mut().insert(header::LOCATION, loc);
    }
    Ok(res)
}

async fn list(State(st): State<AppState>, caller: Caller, q: QueryMap) -> Result<Response, ApiError> {
    let mut errors = Vec::new();
    let status = q.parse::<JobStatus>("status", &mut errors);
    let page = q.page(&mut errors);
    check(errors)?;
    // A hiring manager's list holds only the jobs whose team names them.
    let team_member = (!caller.is_staff()).then(|| caller.sub.clone());
    let filter = JobFilter { status, team_member, ..Default::default() };
    Ok(json(StatusCode::OK, &st.store.list_jobs(&filter, &page).await?))
}

/// Loads a job the caller may act on, or the error they should see.
async fn load(st: &AppState, caller: &Caller, id: &JobId, action: JobAction) -> Result<Job, ApiError> {
    let job = st.store.get_job(id).await?.ok_or(ApiError::NotFound)?;
    caller.authorize_job(&job.spec.team_subs(), action)?;
    Ok(job)
}

async fn read(State(st): State<AppState>, caller: Caller, PathId(id): PathId<JobId>) -> Result<Response, ApiError> {
    let job = load(&st, &caller, &id, JobAction::Read).await?;
    Ok(json(StatusCode::OK, &job))
}

async fn edit(
    State(st): State<AppState>,
    caller: Caller,
    PathId(id): PathId<JobId>,
    JsonBody(body): JsonBody,
) -> Result<Response, ApiError> {
    let job = load(&st, &caller, &id, JobAction::Manage).await?;
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
    match save(&st, &job, &updated).await {
        Ok(()) => Ok(json(StatusCode::OK, &updated)),
        Err(StoreError::ConditionFailed) => {
            Err(ApiError::Conflict("the job changed since that version; reload and retry".into()))
        }
        Err(e) => Err(e.into()),
    }
}

/// Writes `next` over `current` if nobody changed it meanwhile. A job that is or was open changes what
/// the boards see, so its write also marks the feeds for the next build.
async fn save(st: &AppState, current: &Job, next: &Job) -> Result<(), StoreError> {
    if current.status == JobStatus::Open || next.status == JobStatus::Open {
        st.store.replace_job_and_mark_feeds(next, current.version).await
    } else {
        st.store.replace_job(next, current.version).await
    }
}

fn stale(job: &Job) -> ApiError {
    ApiError::Conflict(format!("the job is at version {}; reload and retry", job.version))
}

/// Applies a status change, re-reading and retrying if another writer got there first. A change that
/// is already in effect answers with the job as it is, so a retried request is harmless.
async fn change_status(
    st: &AppState,
    caller: &Caller,
    id: &JobId,
    change: impl Fn(&Job) -> Result<Option<Job>, ApiError>,
) -> Result<Response, ApiError> {
    for _ in 0..3 {
        let job = load(st, caller, id, JobAction::Manage).await?;
        let Some(next) = change(&job)? else {
            return Ok(json(StatusCode::OK, &job));
        };
        match save(st, &job, &next).await {
            Ok(()) => return Ok(json(StatusCode::OK, &next)),
            Err(StoreError::ConditionFailed) => continue,
            Err(e) => return Err(e.into()),
        }
    }
    Err(ApiError::Conflict("the job is changing; retry".into()))
}

async fn publish(State(st): State<AppState>, caller: Caller, PathId(id): PathId<JobId>) -> Result<Response, ApiError> {
    let now = st.clock.now();
    change_status(&st, &caller, &id, |job| Ok(job.publish(now))).await
}

async fn close(
    State(st): State<AppState>,
    caller: Caller,
    PathId(id): PathId<JobId>,
    JsonBody(body): JsonBody,
) -> Result<Response, ApiError> {
    let reason: CloseReason = Fields::parse(body, |f| f.req("reason"))?;
    let now = st.clock.now();
    change_status(&st, &caller, &id, |job| Ok(job.close(reason, now))).await
}

/// The career site caches listings briefly; a publish or close shows within a minute.
fn public(mut res: Response) -> Response {
    res.headers_mut().insert(header::CACHE_CONTROL, http::HeaderValue::from_static("public, max-age=60"));
    res
}

async fn careers_list(State(st): State<AppState>, q: QueryMap) -> Result<Response, ApiError> {
    let mut errors: Vec<FieldError> = Vec::new();
    let workplace = q.parse("workplace", &mut errors);
    let country = q.get("country").map(str::to_ascii_uppercase);
    let department = q.get("department").map(str::to_string);
    let page = q.page(&mut errors);
    check(errors)?;
    let filter = JobFilter { status: Some(JobStatus::Open), department, country, workplace, ..Default::default() };
    let jobs = st.store.list_jobs(&filter, &page).await?;
    let now = st.clock.now();
    let items: Vec<Value> =
        jobs.items.iter().filter(|j| j.is_live(now)).map(|j| j.public_view(&st.config.careers_url)).collect();
    Ok(public(json(StatusCode::OK, &Page { items, next_cursor: jobs.next_cursor })))
}

async fn careers_read(State(st): State<AppState>, PathId(id): PathId<JobId>) -> Result<Response, ApiError> {
    let job = st.store.get_job(&id).await?.ok_or(ApiError::NotFound)?;
    match job.status {
        JobStatus::Draft => return Err(ApiError::NotFound),
        JobStatus::Closed => return Err(ApiError::Gone("this job is closed".into())),
        JobStatus::Open if !job.is_live(st.clock.now()) => return Err(ApiError::Gone("this job has expired".into())),
        JobStatus::Open => {}
    }
    let cfg = &st.config;
    let mut view = job.public_view(&cfg.careers_url);
    view["json_ld"] = job_posting(&job, &cfg.company_name, &cfg.careers_url, &job.url(&cfg.careers_url));
    // Career pages put `json_ld` inside a <script>: the answer's JSON has no `<`, `>` or `&` (they are
    // \u escapes, the same JSON), so a job's text cannot end that element however it is pasted in.
    let body = script_safe_json(&view.to_string());
    Ok(public((StatusCode::OK, [(header::CONTENT_TYPE, "application/json; charset=utf-8")], body).into_response()))
}

async fn feed(State(st): State<AppState>, uri: http::Uri, headers: http::HeaderMap) -> Result<Response, ApiError> {
    feeds::serve(&st, uri.path(), &headers).await
}

/// The job-description file itself, kept in the bucket. Markdown and HTML also become the job's
/// sanitised `description_html`. The type is checked against the file's first bytes. Everything is
/// checked before anything is written; the bytes go to a key of their own, which becomes the job's only
/// through its version-checked save, so a refused or conflicting upload changes nothing.
async fn put_description(
    State(st): State<AppState>,
    caller: Caller,
    PathId(id): PathId<JobId>,
    headers: http::HeaderMap,
    body: bytes::Bytes,
) -> Result<Response, ApiError> {
    let job = load(&st, &caller, &id, JobAction::Manage).await?;
    let essence = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .map(|v| v.trim().to_ascii_lowercase())
        .unwrap_or_default();
    let kind: DescriptionType = essence.parse().map_err(|_| {
        ApiError::UnsupportedMediaType("send text/markdown, text/html, application/pdf or a .docx".into())
    })?;
    if body.is_empty() {
        return Err(ApiError::field("body", "the file is empty"));
    }
    if body.len() > MAX_DESCRIPTION_FILE {
        return Err(ApiError::PayloadTooLarge(format!("the file must be at most {MAX_DESCRIPTION_FILE} bytes")));
    }
    if !kind.matches(&body) {
        return Err(ApiError::field("body", format!("the file is not {essence}")));
    }
    let html = match kind.to_html(&body) {
        Some(html) => Some(html),
        None if matches!(kind, DescriptionType::Markdown | DescriptionType::Html) => {
            return Err(ApiError::field("body", "has no content once unsafe HTML is removed"))
        }
        None => None,
    };
    // Bytes, not characters: the description lives in the job's item, which DynamoDB caps at 400 KB.
    if html.as_ref().is_some_and(|h| h.len() > MAX_DESCRIPTION) {
        return Err(ApiError::PayloadTooLarge(format!(
            "the file makes a description of more than {MAX_DESCRIPTION} bytes"
        )));
    }
    use sha2::Digest;
    let now = st.clock.now();
    let file = DescriptionFile {
        content_type: kind,
        size: body.len() as u64,
        sha256: format!("{:x}", sha2::Sha256::digest(&body)),
        uploaded_at: now,
    };
    // A file is kept under its hash: the one replaced is another object only when its bytes differ.
    let previous = job.description_file.clone().filter(|f| f.sha256 != file.sha256);
    st.files.put_description(&job.id, &file, body).await?;
    let mut spec = job.spec.clone();
    if let Some(html) = html {
        spec.description_html = html;
    }
    let mut updated = job.with_spec(spec, now);
    updated.description_file = Some(file.clone());
    let saved = save(&st, &job, &updated).await;
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
        Ok(()) => Ok(json(StatusCode::OK, &updated)),
        Err(StoreError::ConditionFailed) => Err(stale(&job)),
        Err(e) => Err(e.into()),
    }
}

async fn get_description(
    State(st): State<AppState>,
    caller: Caller,
    PathId(id): PathId<JobId>,
) -> Result<Response, ApiError> {
    let job = load(&st, &caller, &id, JobAction::Read).await?;
    let file = job.description_file.ok_or(ApiError::NotFound)?;
    let bytes = st.files.description(&job.id, &file).await?;
    // A recruiter's HTML opened in the browser would run on the API's origin: always a download.
    let disposition = format!("attachment; filename=\"job-{}.{}\"", job.id, file.content_type.extension());
    Ok((
        [
            (header::CONTENT_TYPE, file.content_type.as_str().to_string()),
            (header::CONTENT_DISPOSITION, disposition),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff".to_string()),
        ],
        bytes,
    )
        .into_response())
}
