//! The `pipeline` function: applicant tracking for recruiters and hiring managers. Reading a job's
//! applications and one application whole, and moving applications through stages.
use axum::extract::{Path, State};
use axum::response::Response;
use axum::routing::{get, post};
use axum::Router;
use http::StatusCode;
use rapport::api::{check, json, no_route, path_id, AppState, JsonBody, QueryMap};
use rapport::auth::{Caller, JobAction};
use rapport::clock::rfc3339;
use rapport::consent::Purpose;
use rapport::error::{ApiError, Invalid, StoreError};
use rapport::ids::{ApplicationId, InterviewId, JobId};
use rapport::interview::{Feedback, Interview, NewFeedback, NewInterview};
use rapport::mailer::{Letter, Needs};
use rapport::parse::{Fields, Line, Text};
use rapport::prospect::confirm_token;
use rapport::stage::{furthest, status_of, transition, ExitReason, ReasonCategory, StageKind, TransitionError, EXITS};
use rapport::store::{ApplicationContext, ExactSamples, KeepInTouch, EXACT_SAMPLES};
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
    Path(id): Path<String>,
    q: QueryMap,
) -> Result<Response, ApiError> {
    let job_id: JobId = path_id(&id)?;
    let job = st.store.get_job(&job_id).await?.ok_or(ApiError::NotFound)?;
    caller.authorize_job(&job.spec.team_subs(), JobAction::Read)?;
    let mut errors = Vec::new();
    let status = q.get("status");
    if let Some(s) = status {
        if !["active", "hired", "rejected", "withdrawn"].contains(&s) {
            errors
                .push(rapport::error::FieldError::new("status", "must be one of: active, hired, rejected, withdrawn"));
        }
    }
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
async fn load(st: &AppState, caller: &Caller, id: &str, action: JobAction) -> Result<ApplicationContext, ApiError> {
    let id: ApplicationId = path_id(id)?;
    let ctx = st.store.application_context(&id).await?.ok_or(ApiError::NotFound)?;
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

async fn read(State(st): State<AppState>, caller: Caller, Path(id): Path<String>) -> Result<Response, ApiError> {
    let ctx = load(&st, &caller, &id, JobAction::Read).await?;
    Ok(json(StatusCode::OK, &view(&st, &ctx, true).await?))
}

struct Move {
    to: String,
    expected_version: u64,
    reason: Option<ExitReason>,
    keep_in_touch: bool,
    tags: Vec<String>,
}

fn parse_move(body: Value) -> Result<Move, Invalid> {
    Fields::parse(body, |f| {
        let to: Option<Line<1, 40>> = f.req("to");
        let expected_version: Option<u64> = f.req("expected_version");
        let reason = f.object("reason", false, |f| {
            let category: Option<ReasonCategory> = f.req("category");
            let code: Option<Line<1, 60>> = f.req("code");
            let note: Option<Option<Text<0, 2000>>> = f.opt("note");
            Some(ExitReason { category: category?, code: code?.0, note: note?.map(|n| n.0).filter(|n| !n.is_empty()) })
        });
        let keep_in_touch: Option<Option<bool>> = f.opt("keep_in_touch");
        let tags: Option<Option<Vec<Line<1, 50>>>> = f.opt("tags");
        Some(Move {
            to: to?.0,
            expected_version: expected_version?,
            reason: reason?,
            keep_in_touch: keep_in_touch?.unwrap_or(false),
            tags: tags?.unwrap_or_default().into_iter().map(|t| t.0).collect(),
        })
    })
}

fn rule_error(e: TransitionError) -> ApiError {
    let field = match e {
        TransitionError::ReasonRequired | TransitionError::ReasonNotAllowed | TransitionError::BadReason(_) => "reason",
        _ => "to",
    };
    ApiError::field(field, e.to_string())
}

async fn move_application(
    State(st): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    JsonBody(body): JsonBody,
) -> Result<Response, ApiError> {
    let ctx = load(&st, &caller, &id, JobAction::Manage).await?;
    let m = parse_move(body)?;
    let a = &ctx.application;
    let stages = &ctx.job.spec.stages;
    let now = st.clock.now();
    // A stale version is a conflict whatever it asks for: the client decided on what it saw then.
    if m.expected_version != a.version {
        return Err(ApiError::Conflict(format!("the application is at version {}; reload and retry", a.version)));
    }
    let entry = transition(stages, &st.config.exit_reasons, &a.stage, &m.to, m.reason.clone(), &caller.sub, now)
        .map_err(rule_error)?;
    let exit = EXITS.contains(&m.to.as_str());
    if m.keep_in_touch && !exit {
        return Err(ApiError::field("keep_in_touch", "applies only to rejected and withdrawn"));
    }
    let seconds_in_stage = (now - a.entered_stage_at()).num_seconds();
    let mut moved = a.clone();
    moved.stage = m.to.clone();
    moved.status = status_of(stages, &m.to).to_string();
    moved.furthest_stage =
        furthest(stages, if a.furthest_stage.is_empty() { &a.stage } else { &a.furthest_stage }, &m.to).to_string();
    moved.version = a.version + 1;
    moved.history.push(entry);
    for t in &m.tags {
        if !moved.tags.contains(t) {
            moved.tags.push(t.clone());
        }
    }
    let hired = stages.iter().any(|s| s.id == m.to && s.kind == StageKind::Hired);
    let email_hash = st.email_hash(&ctx.candidate.email);
    let record = json!({"job_id": ctx.job.id, "job_title": ctx.job.spec.title, "furthest_stage": moved.furthest_stage,
                        "exit": m.to, "reason": m.reason, "tags": m.tags, "at": rfc3339(now)});
    let consented = a.consents.talent_pool.given;
    let keep = (m.keep_in_touch && consented).then(|| KeepInTouch {
        email_hash: &email_hash,
        candidate: &ctx.candidate,
        record: record.clone(),
    });
    let exact =
        ExactSamples { in_stage: ctx.samples_in_stage < EXACT_SAMPLES, to_hire: ctx.samples_to_hire < EXACT_SAMPLES };
    match st
        .store
        .move_application(
            &moved,
            &email_hash,
            a.version,
            &a.stage,
            seconds_in_stage,
            hired,
            keep,
            exact,
            ctx.demographics.as_ref(),
        )
        .await
    {
        Ok(()) => {}
        Err(StoreError::ConditionFailed) => {
            return Err(ApiError::Conflict("the application changed since that version; reload and retry".into()))
        }
        Err(e) => return Err(e.into()),
    }
    if m.keep_in_touch && !consented {
        ask_consent(&st, &ctx, &email_hash, &record).await;
    }
    let ctx = ApplicationContext { application: moved, ..ctx };
    // Interviews are unchanged by a move; GET /api/applications/{id} has them.
    Ok(json(StatusCode::OK, &view(&st, &ctx, false).await?))
}

/// A silver medalist without talent-pool consent gets one email asking for it, and joins the pool
/// only by confirming. Failure here never undoes the move; it is logged.
async fn ask_consent(st: &AppState, ctx: &ApplicationContext, email_hash: &str, record: &Value) {
    let now = st.clock.now();
    let result = async {
        let Some(nonce) = st.store.request_consent(email_hash, &ctx.candidate, record, now).await? else {
            return Ok::<(), ApiError>(());
        };
        let url = format!(
            "{}/careers/talent-pool/confirm?token={}",
            st.config.public_api_url,
            confirm_token(&st.signer, email_hash, Some(&nonce), now)
        );
        let ctx_json = json!({"first_name": ctx.candidate.first_name, "company": st.config.company_name,
                              "job_title": ctx.job.spec.title, "confirm_url": url});
        let msg = Letter {
            to: &ctx.candidate.email,
            to_name: Some(format!("{} {}", ctx.candidate.first_name, ctx.candidate.last_name)),
            email_hash,
            subject: format!("Can {} keep in touch?", st.config.company_name),
            template: "consent_request",
            context: ctx_json,
            campaign: None,
        }
        .compose(st)
        .map_err(|e| ApiError::Unavailable(e.to_string()))?;
        let Some(id) = st
            .mailer
            .deliver(&st.store, email_hash, Needs { purpose: Some(Purpose::Processing), known: None }, &msg)
            .await?
        else {
            return Ok(());
        };
        st.store.record_send(format!("EMAIL#{email_hash}"), "optin", &id, now).await?;
        Ok(())
    }
    .await;
    if let Err(e) = result {
        tracing::error!(application = %ctx.application.id, error = %e, "consent request not sent");
    }
}

async fn schedule_interview(
    State(st): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
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
    st.store.create_interview(&interview).await?;
    Ok(json(StatusCode::CREATED, &interview))
}

/// Staff, and hiring managers on the job's team, give feedback; one per person per interview.
async fn give_feedback(
    State(st): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    JsonBody(body): JsonBody,
) -> Result<Response, ApiError> {
    let id: InterviewId = path_id(&id)?;
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
    st.store.put_feedback(&interview.application_id, &feedback).await?;
    Ok(json(StatusCode::CREATED, &feedback))
}
