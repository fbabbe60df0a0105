//! The `pipeline` function: applicant tracking for recruiters and hiring managers. Reading a job's
//! applications and one application whole, and moving applications through stages.
use axum::extract::State;
use axum::response::Response;
use axum::routing::{get, post};
use axum::Router;
use http::StatusCode;
use rapport::api::{check, json, no_route, AppState, JsonBody, PathId, QueryMap};
use rapport::auth::{Caller, JobAction};
use rapport::clock::rfc3339;
use rapport::error::ApiError;
use rapport::ids::{ApplicationId, InterviewId, JobId};
use rapport::interview::{Feedback, Interview, NewFeedback, NewInterview};
use rapport::pipeline::Move;
use rapport::stage::{ApplicationStatus, EXITS};
use rapport::store::{ApplicationContext, AuditEntry};
use serde_json::{json, Value};
use std::time::Duration;

pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/api/jobs/{id}/applications", get(list))
        .route("/api/applications/{id}", get(read))
        .route("/api/applications/{id}/transitions", post(move_application))
        .route("/api/applications/{id}/interviews", post(schedule_interview))
        .route("/api/interviews/{id}/feedback", post(give_feedback))
        .route("/api/candidates/{id}/export", get(privacy::export))
        .route("/api/candidates/{id}", axum::routing::delete(privacy::erase))
        .route("/api/candidates/{id}/consents/{purpose}", axum::routing::put(privacy::record_consent))
        // Every route here reads or changes personal data.
        .route_layer(axum::middleware::from_fn_with_state(state.clone(), rapport::api::audited))
        .fallback(no_route)
        .with_state(state)
}

mod privacy;

async fn list(
    State(st): State<AppState>,
    caller: Caller,
    PathId(job_id): PathId<JobId>,
    q: QueryMap,
) -> Result<Response, ApiError> {
    let job = st.store.get_job(&job_id).await?.ok_or(ApiError::NotFound)?;
    caller.authorize_job(&job.spec.team_subs(), JobAction::Read)?;
    let mut errors = Vec::new();
    let status = match q.get("status").map(str::parse::<ApplicationStatus>).transpose() {
        Ok(status) => status,
        Err(e) => {
            errors.push(rapport::error::FieldError::new("status", e));
            None
        }
    };
    let stage = q.get("stage");
    if let Some(s) = stage {
        if !EXITS.contains(&s) && !job.spec.stages.iter().any(|x| x.id == s) {
            errors.push(rapport::error::FieldError::new("stage", "is not a stage of this job"));
        }
    }
    let page = q.page(&mut errors);
    check(errors)?;
    Ok(json(StatusCode::OK, &st.store.list_applications(&job_id, stage, status, &page).await?))
}

/// Loads an application the caller may act on, or the error they should see.
async fn load(
    st: &AppState,
    caller: &Caller,
    id: &ApplicationId,
    action: JobAction,
) -> Result<ApplicationContext, ApiError> {
    let ctx = st.store.application_context(id).await?.ok_or(ApiError::NotFound)?;
    caller.authorize_job(&ctx.job.spec.team_subs(), action)?;
    Ok(ctx)
}

/// How long a resume link works.
const RESUME_LINK_TTL: Duration = Duration::from_secs(5 * 60);

/// The application with its candidate, job and resume link; `interviews` adds one query.
async fn view(st: &AppState, ctx: &ApplicationContext, interviews: bool) -> Result<Value, ApiError> {
    let a = &ctx.application;
    let c = &ctx.candidate;
    let mut v = serde_json::to_value(a).map_err(|e| ApiError::Unavailable(e.to_string()))?;
    v["candidate"] = json!({"id": c.id, "first_name": c.first_name, "last_name": c.last_name, "email": c.email,
                            "phone": c.phone, "credentials": c.credentials, "first_touch": c.first_touch});
    v["job"] = json!({"id": ctx.job.id, "title": ctx.job.spec.title});
    if interviews {
        v["interviews"] = json!(st.store.interviews(&a.id).await?);
    }
    v["resume_url"] = Value::Null;
    if let Some(key) = &a.resume_key {
        let url = st.files.download_link(key, st.clock.now(), RESUME_LINK_TTL).await?;
        v["resume_url"] = json!(url);
        v["resume_url_expires_at"] =
            json!(rfc3339(st.clock.now() + chrono::Duration::seconds(RESUME_LINK_TTL.as_secs() as i64)));
    }
    Ok(v)
}

async fn read(
    State(st): State<AppState>,
    caller: Caller,
    PathId(id): PathId<ApplicationId>,
) -> Result<Response, ApiError> {
    let ctx = load(&st, &caller, &id, JobAction::Read).await?;
    Ok(json(StatusCode::OK, &view(&st, &ctx, true).await?))
}

async fn move_application(
    State(st): State<AppState>,
    caller: Caller,
    PathId(id): PathId<ApplicationId>,
    axum::Extension(audit): axum::Extension<AuditEntry>,
    JsonBody(body): JsonBody,
) -> Result<Response, ApiError> {
    let moved = async {
        let ctx = load(&st, &caller, &id, JobAction::Manage).await?;
        let m = Move::parse(body)?;
        rapport::app::pipeline::move_application(&st, ctx, m, &caller.sub, Some(&audit)).await
    }
    .await;
    // The entry went in the move's transaction; a refused move's is written on its own.
    let ctx = match moved {
        Ok(ctx) => ctx,
        Err(e) => {
            st.store.audit(&audit).await?;
            return Err(e);
        }
    };
    // Interviews are unchanged by a move; GET /api/applications/{id} has them.
    Ok(json(StatusCode::OK, &view(&st, &ctx, false).await?))
}

async fn schedule_interview(
    State(st): State<AppState>,
    caller: Caller,
    PathId(id): PathId<ApplicationId>,
    JsonBody(body): JsonBody,
) -> Result<Response, ApiError> {
    let ctx = load(&st, &caller, &id, JobAction::Manage).await?;
    let new = NewInterview::parse(body)?;
    let interview = Interview {
        id: InterviewId::new(st.clock.as_ref()),
        application_id: ctx.application.id,
        job_id: ctx.job.id,
        scheduled_at: new.scheduled_at,
        kind: new.kind,
        interviewers: new.interviewers,
        created_by: caller.sub.clone(),
        created_at: st.clock.now(),
    };
    let event = rapport::event::interview_scheduled(st.clock.as_ref(), &interview);
    st.store.create_interview(&interview, &event).await?;
    Ok(json(StatusCode::CREATED, &interview))
}

/// Staff, and hiring managers on the job's team, give feedback; one per person per interview.
async fn give_feedback(
    State(st): State<AppState>,
    caller: Caller,
    PathId(id): PathId<InterviewId>,
    JsonBody(body): JsonBody,
) -> Result<Response, ApiError> {
    let interview = st.store.get_interview(&id).await?.ok_or(ApiError::NotFound)?;
    let job = st.store.get_job(&interview.job_id).await?.ok_or(ApiError::NotFound)?;
    caller.authorize_job(&job.spec.team_subs(), JobAction::Feedback)?;
    let new = NewFeedback::parse(body)?;
    let feedback = Feedback {
        interview_id: id,
        by: caller.sub.clone(),
        rating: new.rating,
        recommendation: new.recommendation,
        notes: new.notes,
        at: st.clock.now(),
    };
    let event = rapport::event::feedback_submitted(st.clock.as_ref(), &interview.application_id, &feedback);
    st.store.put_feedback(&interview.application_id, &feedback, &event).await?;
    Ok(json(StatusCode::CREATED, &feedback))
}
