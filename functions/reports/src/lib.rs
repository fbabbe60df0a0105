//! The `reports` function: where applicants and hires come from, and the funnel, read from the
//! counters kept in the same transactions as the events (never a scan).
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use chrono::NaiveDate;
use http::{header, StatusCode};
use rapport::api::{check, json, no_route, AppState, JsonBody, QueryMap};
use rapport::app::jobs;
use rapport::app::reports::{self, Answer};
use rapport::attribution::{normalise, Channel};
use rapport::auth::{Caller, JobAction};
use rapport::error::{ApiError, FieldError};
use rapport::ids::JobId;
use rapport::job::Currency;
use rapport::parse::{Fields, Line};
use rapport::report::{either, Range, Spend};
use serde_json::json;

pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/api/reports/sources", get(sources_report))
        .route("/api/reports/funnel", get(funnel_report))
        .route("/api/reports/time-in-stage", get(time_in_stage_report))
        .route("/api/reports/spend", axum::routing::put(put_spend))
        .route("/api/reports/nurture", get(nurture_report))
        .route("/api/reports/demographics", get(demographics_report))
        .route("/dashboard", get(dashboard))
        .fallback(no_route)
        .with_state(state)
}

/// The query's range; a hiring manager must name one of their jobs.
async fn range(st: &AppState, caller: &Caller, q: &QueryMap, errors: &mut Vec<FieldError>) -> Result<Range, ApiError> {
    let r = Range::parse(st.clock.now().date_naive(), |name| q.get(name), errors);
    match &r.job {
        Some(id) => {
            jobs::load(st, id, |job| caller.authorize_job(&job.spec.team_subs(), JobAction::Read)).await?;
        }
        None if !caller.is_staff() => {
            return Err(ApiError::Forbidden("hiring managers see reports of their own jobs: give job_id".into()))
        }
        None => {}
    }
    Ok(r)
}

/// A report as JSON, or as the CSV download `name`.csv.
fn respond(answer: Answer, name: &str) -> Response {
    match answer {
        Answer::Json(v) => json(StatusCode::OK, &v),
        Answer::Csv(body) => (
            [
                (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_string()),
                (header::CONTENT_DISPOSITION, format!("attachment; filename=\"{name}.csv\"")),
            ],
            body,
        )
            .into_response(),
    }
}

async fn sources_report(State(st): State<AppState>, caller: Caller, q: QueryMap) -> Result<Response, ApiError> {
    let mut errors = Vec::new();
    let by_source = either("group", q.get("group"), ["channel", "source"], &mut errors);
    let r = range(&st, &caller, &q, &mut errors).await?;
    check(errors)?;
    Ok(respond(reports::sources(&st, &r, by_source).await?, "sources"))
}

async fn funnel_report(State(st): State<AppState>, caller: Caller, q: QueryMap) -> Result<Response, ApiError> {
    let mut errors = Vec::new();
    if q.get("job_id").is_none() {
        errors.push(FieldError::new("job_id", "is required: a funnel follows one job's stages"));
    }
    // Not `range`: the funnel checks the job itself, in its one query (`reports::funnel`).
    let r = Range::parse(st.clock.now().date_naive(), |name| q.get(name), &mut errors);
    check(errors)?;
    let job_id = r.job.as_ref().expect("checked above");
    Ok(respond(reports::funnel(&st, &caller, job_id, &r).await?, "funnel"))
}

/// `GET /api/reports/time-in-stage?job_id=`: days in each stage and to hire (`app::reports`).
async fn time_in_stage_report(State(st): State<AppState>, caller: Caller, q: QueryMap) -> Result<Response, ApiError> {
    let job_id: JobId = match q.get("job_id").map(str::parse) {
        Some(Ok(id)) => id,
        Some(Err(_)) => return Err(ApiError::field("job_id", "is not a job id")),
        None => return Err(ApiError::field("job_id", "is required")),
    };
    let job = jobs::load(&st, &job_id, |job| caller.authorize_job(&job.spec.team_subs(), JobAction::Read)).await?;
    Ok(json(StatusCode::OK, &reports::time_in_stage(&st, &job).await?))
}

/// `GET /api/reports/demographics?job_id=`: applicants and hires per voluntary demographic answer,
/// all time, with counts under five shown as "<5". Admins only: recruiters and hiring managers never
/// see demographic data, not even in aggregate.
async fn demographics_report(State(st): State<AppState>, caller: Caller, q: QueryMap) -> Result<Response, ApiError> {
    caller.require_admin()?;
    let job = match q.get("job_id") {
        None => None,
        Some(raw) => {
            let id: JobId = raw.parse().map_err(|_| ApiError::field("job_id", "is not a job id"))?;
            st.store.get_job(&id).await?.ok_or(ApiError::NotFound)?;
            Some(id)
        }
    };
    let counts = st.store.demographic_counts(job.as_ref()).await?;
    Ok(json(
        StatusCode::OK,
        &json!({"job_id": job, "questions": rapport::demographics::report(&counts),
        "suppressed_below": rapport::demographics::SMALLEST_SHOWN}),
    ))
}

/// `GET /api/reports/nurture?campaign_id=`: what a campaign did, from its counters (one query over their shards).
async fn nurture_report(State(st): State<AppState>, caller: Caller, q: QueryMap) -> Result<Response, ApiError> {
    caller.require_staff()?;
    let raw = q.get("campaign_id").ok_or_else(|| ApiError::field("campaign_id", "is required"))?;
    let id: rapport::ids::CampaignId =
        raw.parse().map_err(|_| ApiError::field("campaign_id", "is not a campaign id"))?;
    let c = st.store.campaign(&id).await?.ok_or(ApiError::NotFound)?;
    let counts = st.store.campaign_counts(&c.id).await?;
    let get = |k: &str| counts.get(k).copied().unwrap_or(0);
    Ok(json(
        StatusCode::OK,
        &json!({"campaign_id": c.id, "name": c.name, "enrolled": get("enrolled"), "sent": get("sent"),
                "rejected": get("rejected"), "unknown": get("unknown"), "unsubscribed": get("unsubscribed"), "bounced": get("bounced"),
                "complained": get("complained"), "applied": get("applied"), "hired": get("hired")}),
    ))
}

/// `PUT /api/reports/spend {month, channel, source, amount, currency}`: recruiter or admin.
async fn put_spend(State(st): State<AppState>, caller: Caller, JsonBody(body): JsonBody) -> Result<Response, ApiError> {
    caller.require_staff()?;
    let spend = Fields::parse(body, |f| {
        let month: Option<Line<7, 7>> = f.req("month");
        let channel: Option<Channel> = f.req("channel");
        let source: Option<Line<1, 64>> = f.req("source");
        let amount: Option<f64> = f.req("amount");
        let currency: Option<Currency> = f.req("currency");
        if month.as_ref().is_some_and(|m| NaiveDate::parse_from_str(&format!("{}-01", m.0), "%Y-%m-%d").is_err()) {
            f.error("month", "must be a month, YYYY-MM");
            return None;
        }
        if amount.is_some_and(|a| a < 0.0) {
            f.error("amount", "must not be negative");
            return None;
        }
        let source = source.and_then(|s| match normalise(&s.0) {
            Some(n) => Some(n),
            None => {
                f.error("source", "must contain letters or digits");
                None
            }
        });
        Some(Spend {
            month: month?.0,
            channel: channel?.as_str().to_string(),
            source: source?,
            amount: amount?,
            currency: currency?.0,
        })
    })?;
    st.store.put_spend(&spend, &caller.sub, st.clock.now()).await?;
    Ok(json(StatusCode::OK, &spend))
}

/// The reports dashboard: a page with no data in it. It signs the user in (`DASHBOARD_LOGIN_URL`, the
/// Cognito hosted UI, in AWS; a local token on the local stack) and draws the JSON reports as inline SVG.
async fn dashboard(State(st): State<AppState>) -> Response {
    let page = include_str!("../assets/dashboard.html");
    let page = match &st.config.dashboard_login_url {
        Some(url) => page.replacen(
            "<html lang=\"en\">",
            &format!("<html lang=\"en\" data-login-url=\"{}\">", url.replace('"', "&quot;")),
            1,
        ),
        None => page.to_string(),
    };
    ([(header::CONTENT_TYPE, "text/html; charset=utf-8"), (header::CACHE_CONTROL, "no-store")], page).into_response()
}
