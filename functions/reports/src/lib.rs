//! The `reports` function: where applicants and hires come from, and the funnel, read from the
//! counters kept in the same transactions as the events (never a scan).
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use chrono::NaiveDate;
use http::{header, StatusCode};
use rapport::api::{check, json, no_route, AppState, JsonBody, QueryMap};
use rapport::attribution::{normalise, Channel};
use rapport::auth::{Caller, JobAction};
use rapport::error::{ApiError, FieldError};
use rapport::ids::JobId;
use rapport::job::Currency;
use rapport::parse::{Fields, Line};
use rapport::report::TIME_TO_HIRE;
use rapport::report::{days, sources, sources_csv, to_csv, with_spend, Spend};
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

/// The longest range one report covers.
const MAX_DAYS: i64 = 732;

struct Range {
    from: NaiveDate,
    to: NaiveDate,
    job: Option<JobId>,
    csv: bool,
}

/// `from`/`to` (default: the last 30 days), `job_id`, `format`; a hiring manager must name one of their jobs.
async fn range(st: &AppState, caller: &Caller, q: &QueryMap, errors: &mut Vec<FieldError>) -> Result<Range, ApiError> {
    let today = st.clock.now().date_naive();
    let date = |name: &str, default: NaiveDate, errors: &mut Vec<FieldError>| match q.get(name) {
        None => default,
        Some(raw) => NaiveDate::parse_from_str(raw, "%Y-%m-%d").unwrap_or_else(|_| {
            errors.push(FieldError::new(name, "must be a date, YYYY-MM-DD"));
            default
        }),
    };
    let to = date("to", today, errors);
    let from = date("from", to - chrono::Duration::days(29), errors);
    if from > to {
        errors.push(FieldError::new("from", "must not be after to"));
    } else if (to - from).num_days() > MAX_DAYS {
        errors.push(FieldError::new("from", format!("the range must be at most {MAX_DAYS} days")));
    }
    let csv = match q.get("format") {
        None | Some("json") => false,
        Some("csv") => true,
        Some(_) => {
            errors.push(FieldError::new("format", "must be json or csv"));
            false
        }
    };
    let job = match q.get("job_id") {
        None => None,
        Some(raw) => match raw.parse::<JobId>() {
            Ok(id) => Some(id),
            Err(_) => {
                errors.push(FieldError::new("job_id", "is not a job id"));
                None
            }
        },
    };
    match &job {
        Some(id) => {
            let job = st.store.get_job(id).await?.ok_or(ApiError::NotFound)?;
            caller.authorize_job(&job.spec.team_subs(), JobAction::Read)?;
        }
        None if !caller.is_staff() => {
            return Err(ApiError::Forbidden("hiring managers see reports of their own jobs: give job_id".into()))
        }
        None => {}
    }
    Ok(Range { from, to, job, csv })
}

fn csv_response(body: String, name: &str) -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_string()),
            (header::CONTENT_DISPOSITION, format!("attachment; filename=\"{name}.csv\"")),
        ],
        body,
    )
        .into_response()
}

async fn sources_report(State(st): State<AppState>, caller: Caller, q: QueryMap) -> Result<Response, ApiError> {
    let mut errors = Vec::new();
    let by_source = match q.get("group") {
        None | Some("channel") => false,
        Some("source") => true,
        Some(_) => {
            errors.push(FieldError::new("group", "must be channel or source"));
            false
        }
    };
    let r = range(&st, &caller, &q, &mut errors).await?;
    check(errors)?;
    let (counts, _) = st.store.source_counts(r.job.as_ref(), r.from, r.to).await?;
    let report = sources(&counts, by_source);
    // Spend is the company's, per source and month: it belongs in the all-jobs report only.
    let figures = if r.job.is_none() {
        let spend = st.store.spend_between(r.from, r.to).await?;
        with_spend(&report, &spend, r.from, r.to, by_source)
    } else {
        json!({"rows": report.rows, "totals": report.totals})
    };
    if r.csv {
        let body = if r.job.is_none() { spend_csv(&figures, by_source) } else { sources_csv(&report, by_source) }
            .map_err(|e| ApiError::Unavailable(e.to_string()))?;
        return Ok(csv_response(body, "sources"));
    }
    Ok(json(
        StatusCode::OK,
        &json!({"from": r.from, "to": r.to, "job_id": r.job, "group": if by_source { "source" } else { "channel" },
                "rows": figures["rows"], "totals": figures["totals"]}),
    ))
}

async fn funnel_report(State(st): State<AppState>, caller: Caller, q: QueryMap) -> Result<Response, ApiError> {
    let mut errors = Vec::new();
    if q.get("job_id").is_none() {
        errors.push(FieldError::new("job_id", "is required: a funnel follows one job's stages"));
    }
    let r = range(&st, &caller, &q, &mut errors).await?;
    check(errors)?;
    let job_id = r.job.expect("checked above");
    let job = st.store.get_job(&job_id).await?.ok_or(ApiError::NotFound)?;
    let (f, _) = st.store.funnel_counts(&job_id, r.from, r.to).await?;
    // Each stage's conversion is from the step before it: started -> submitted -> first stage -> ...
    let mut previous = f.submitted;
    let mut stages = Vec::new();
    for s in &job.spec.stages {
        let entered = if s.kind == rapport::stage::StageKind::New {
            f.submitted
        } else {
            f.entered.get(&s.id).copied().unwrap_or(0)
        };
        let conversion =
            if previous == 0 { 0.0 } else { ((entered as f64 / previous as f64) * 10_000.0).round() / 10_000.0 };
        stages.push(json!({"stage": s.id, "name": s.name, "entered": entered, "conversion": conversion}));
        previous = entered;
    }
    if r.csv {
        let mut rows = vec![
            vec!["started".to_string(), f.started.to_string(), String::new()],
            vec!["submitted".to_string(), f.submitted.to_string(), String::new()],
            vec!["dropped".to_string(), f.dropped.to_string(), String::new()],
        ];
        for s in &stages {
            rows.push(vec![
                s["stage"].as_str().unwrap_or("").to_string(),
                s["entered"].to_string(),
                s["conversion"].to_string(),
            ]);
        }
        let body = to_csv(&["step", "count", "conversion"], &rows).map_err(|e| ApiError::Unavailable(e.to_string()))?;
        return Ok(csv_response(body, "funnel"));
    }
    Ok(json(
        StatusCode::OK,
        &json!({"job_id": job_id, "from": r.from, "to": r.to, "started": f.started, "submitted": f.submitted,
                "dropped": f.dropped, "stages": stages}),
    ))
}

/// Median and 90th percentile days spent in each stage (counted when an application leaves it), and
/// time to hire, from 5%-bucket histograms: within 2.5% of the exact figures.
async fn time_in_stage_report(State(st): State<AppState>, caller: Caller, q: QueryMap) -> Result<Response, ApiError> {
    let mut errors = Vec::new();
    let job_id = match q.get("job_id").map(str::parse::<JobId>) {
        Some(Ok(id)) => Some(id),
        Some(Err(_)) => {
            errors.push(FieldError::new("job_id", "is not a job id"));
            None
        }
        None => {
            errors.push(FieldError::new("job_id", "is required"));
            None
        }
    };
    check(errors)?;
    let job_id = job_id.expect("checked above");
    let job = st.store.get_job(&job_id).await?.ok_or(ApiError::NotFound)?;
    caller.authorize_job(&job.spec.team_subs(), JobAction::Read)?;
    let histograms = st.store.time_histograms(&job_id).await?;
    let figures = |stage: &str| {
        let h = histograms.iter().find(|h| h.stage == stage);
        let samples = h.map(|h| h.samples()).unwrap_or(0);
        let q = |p: f64| h.and_then(|h| h.quantile(p)).map(days);
        json!({"samples": samples, "median_days": q(0.5), "p90_days": q(0.9)})
    };
    let stages: Vec<serde_json::Value> = job
        .spec
        .stages
        .iter()
        .filter(|s| s.kind != rapport::stage::StageKind::Hired)
        .map(|s| {
            let mut v = figures(&s.id);
            v["stage"] = json!(s.id);
            v["name"] = json!(s.name);
            v
        })
        .collect();
    Ok(json(StatusCode::OK, &json!({"job_id": job_id, "stages": stages, "time_to_hire": figures(TIME_TO_HIRE)})))
}

fn spend_csv(figures: &serde_json::Value, by_source: bool) -> Result<String, csv::Error> {
    let mut header = vec!["channel"];
    if by_source {
        header.push("source");
    }
    header.extend(["applicants", "hires", "hire_rate", "spend", "currency", "cost_per_applicant", "cost_per_hire"]);
    let cell = |v: &serde_json::Value| match v {
        serde_json::Value::Null => String::new(),
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    let rows: Vec<Vec<String>> = figures["rows"]
        .as_array()
        .into_iter()
        .flatten()
        .chain(std::iter::once(&figures["totals"]))
        .map(|r| {
            header
                .iter()
                .map(|h| if *h == "hire_rate" { format!("{:.4}", r[*h].as_f64().unwrap_or(0.0)) } else { cell(&r[*h]) })
                .collect()
        })
        .collect();
    to_csv(&header, &rows)
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

/// `GET /api/reports/nurture?campaign_id=`: what a campaign did, from its counters (one read).
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
