//! The `jobs` function: job setup for recruiters (`/api/jobs*`), the public career-site listing
//! (`/careers/jobs*`), the job-board feeds (`/feeds/*`) and the webhook endpoints that carry events to
//! other systems (`/api/webhooks*`, admins only).
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use axum::Router;
use http::{header, StatusCode};
use rapport::api::{check, json, no_route, AppState, JsonBody, PathId, QueryMap};
use rapport::app::jobs;
use rapport::auth::{Caller, JobAction};
use rapport::error::{ApiError, FieldError};
use rapport::feed::{job_posting, script_safe_json};
use rapport::ids::JobId;
use rapport::job::{CloseReason, Job, JobSpec, JobStatus, MAX_DESCRIPTION_FILE};
use rapport::parse::Fields;
use rapport::store::{JobFilter, Page};
use serde_json::Value;

mod feeds;
mod webhooks;

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
        .route("/api/webhooks", post(webhooks::create).get(webhooks::list))
        .route("/api/webhooks/{id}", get(webhooks::read).patch(webhooks::edit).delete(webhooks::delete))
        .route("/api/webhooks/{id}/rotate", post(webhooks::rotate))
        .route("/api/webhooks/{id}/test", post(webhooks::test))
        .route("/api/webhooks/{id}/deliveries", get(webhooks::deliveries))
        .route("/api/webhooks/{id}/deliveries/{event_id}/replay", post(webhooks::replay))
        .fallback(no_route)
        .with_state(state)
}

async fn create(State(st): State<AppState>, caller: Caller, JsonBody(body): JsonBody) -> Result<Response, ApiError> {
    caller.require_staff()?;
    let job = jobs::create(&st, JobSpec::parse(body)?).await?;
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

/// Whether the caller may `action` a job: the check a use case makes on each job it reads.
fn may(caller: &Caller, action: JobAction) -> impl Fn(&Job) -> Result<(), ApiError> + '_ {
    move |job| caller.authorize_job(&job.spec.team_subs(), action)
}

async fn read(State(st): State<AppState>, caller: Caller, PathId(id): PathId<JobId>) -> Result<Response, ApiError> {
    let job = jobs::load(&st, &id, may(&caller, JobAction::Read)).await?;
    Ok(json(StatusCode::OK, &job))
}

async fn edit(
    State(st): State<AppState>,
    caller: Caller,
    PathId(id): PathId<JobId>,
    JsonBody(body): JsonBody,
) -> Result<Response, ApiError> {
    let job = jobs::load(&st, &id, may(&caller, JobAction::Manage)).await?;
    Ok(json(StatusCode::OK, &jobs::edit(&st, job, body).await?))
}

async fn publish(State(st): State<AppState>, caller: Caller, PathId(id): PathId<JobId>) -> Result<Response, ApiError> {
    Ok(json(StatusCode::OK, &jobs::publish(&st, &id, may(&caller, JobAction::Manage)).await?))
}

async fn close(
    State(st): State<AppState>,
    caller: Caller,
    PathId(id): PathId<JobId>,
    JsonBody(body): JsonBody,
) -> Result<Response, ApiError> {
    let reason: CloseReason = Fields::parse(body, |f| f.req("reason"))?;
    Ok(json(StatusCode::OK, &jobs::close(&st, &id, reason, may(&caller, JobAction::Manage)).await?))
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

/// The job-description file itself, kept in the bucket (see `app::jobs::put_description`).
async fn put_description(
    State(st): State<AppState>,
    caller: Caller,
    PathId(id): PathId<JobId>,
    headers: http::HeaderMap,
    body: bytes::Bytes,
) -> Result<Response, ApiError> {
    let job = jobs::load(&st, &id, may(&caller, JobAction::Manage)).await?;
    let content_type = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok());
    Ok(json(StatusCode::OK, &jobs::put_description(&st, job, body, content_type).await?))
}

async fn get_description(
    State(st): State<AppState>,
    caller: Caller,
    PathId(id): PathId<JobId>,
) -> Result<Response, ApiError> {
    let job = jobs::load(&st, &id, may(&caller, JobAction::Read)).await?;
    let (file, bytes) = jobs::description(&st, &job).await?;
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
