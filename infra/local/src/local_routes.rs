//! The stack's own routes: `/_local/…` does on demand what AWS does around the functions (Cognito's
//! tokens, the SES outbox, Scheduler's runs, EventBridge's SES events, the stream's mapping), so tests
//! and `make dev` can drive them; `/` serves the demo page.
use crate::emails;
use crate::eventbridge;
use crate::gateway;
use crate::streams;
use crate::token::{Issuer, TokenRequest};
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use http::StatusCode;
use rapport::api::{json, AppState};
use rapport::ApiError;
use std::collections::HashMap;
use std::sync::Arc;

#[derive(Clone)]
pub(crate) struct Local {
    pub(crate) issuer: Issuer,
    /// The nurture function's state: schedules and SES events invoke it.
    pub(crate) nurture: AppState,
    /// The EventBridge rules that target nurture in the template, by logical id.
    pub(crate) nurture_rules: Arc<std::collections::BTreeMap<String, serde_json::Value>>,
    /// The table's stream to the events function, as its event source mapping in the template.
    pub(crate) events: Arc<streams::StreamMapping>,
    pub(crate) http: reqwest::Client,
    pub(crate) moto_url: String,
}

/// The demo page and the `/_local` routes, over the state the stack built for them.
pub(crate) fn router(local: Local) -> Router {
    Router::new()
        .route("/", get(demo_page))
        .route("/_local/token", post(issue_token))
        .route("/_local/emails", get(list_emails))
        .route("/_local/run/{task}", post(run_task))
        .route("/_local/ses-events", post(ses_event))
        .with_state(local)
}

/// A demo career page that embeds the widget (local only; employers embed it on their own site).
async fn demo_page() -> Response {
    axum::response::Html(include_str!("../demo.html")).into_response()
}

async fn issue_token(
    State(l): State<Local>,
    body: Result<Json<TokenRequest>, axum::extract::rejection::JsonRejection>,
) -> Response {
    let Json(req) = match body {
        Ok(b) => b,
        Err(e) => return ApiError::field("body", e.body_text()).into_response(),
    };
    match l.issuer.issue(&req) {
        Ok(issued) => json(StatusCode::OK, &issued),
        Err(msg) => ApiError::field("role", msg).into_response(),
    }
}

async fn list_emails(State(l): State<Local>) -> Response {
    match emails::list(&l.http, &l.moto_url).await {
        Ok(v) => json(StatusCode::OK, &v),
        Err(e) => ApiError::Unavailable(e.to_string()).into_response(),
    }
}

/// What EventBridge Scheduler does in AWS: invoke the task's function with `{"task", "scheduled_time"}`;
/// and `events`: what Lambda's event source mapping does with the table's stream, once, now.
async fn run_task(
    State(l): State<Local>,
    Path(task): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    if task == "events" {
        let (result, calls) = rapport::aws::count_calls(l.events.poll()).await;
        let mut res = match result {
            Ok(poll) => json(StatusCode::OK, &poll),
            Err(e) => ApiError::Unavailable(format!("{e:#}")).into_response(),
        };
        if let Ok(v) = http::HeaderValue::from_str(&calls.summary()) {
            res.headers_mut().insert(gateway::CALLS_HEADER, v);
        }
        return res;
    }
    let now = q.get("now").cloned().unwrap_or_else(|| rapport::clock::rfc3339(l.nurture.clock.now()));
    let payload = serde_json::json!({"task": task, "scheduled_time": now});
    let task = match rapport_nurture::Task::parse(&payload) {
        Ok(t) => t,
        Err(e) => return rename_field(e, "scheduled_time", "now").into_response(),
    };
    let budget = match q.get("budget_ms").map(|b| b.parse::<u64>()) {
        // Lambda's longest timeout: on a busy machine the emulator is slow, and a run that stops at its
        // budget is a different outcome (tests of the budget pass `budget_ms`).
        None => std::time::Duration::from_secs(900),
        Some(Ok(ms)) => std::time::Duration::from_millis(ms),
        Some(Err(_)) => return ApiError::field("budget_ms", "must be a whole number of milliseconds").into_response(),
    };
    let (result, calls) = rapport::aws::count_calls(rapport_nurture::run(&l.nurture, &task, budget)).await;
    let mut res = match result {
        Ok(report) => json(StatusCode::OK, &report),
        Err(e) => e.into_response(),
    };
    // Like the gateway: the AWS operations the run made, so tests can hold tasks to their budgets.
    if let Ok(v) = http::HeaderValue::from_str(&calls.summary()) {
        res.headers_mut().insert(gateway::CALLS_HEADER, v);
    }
    res
}

/// What EventBridge does in AWS with a configuration set's events: hand those that match one of the
/// template's rules for the nurture function to it; others go nowhere (`{"matched": false}`).
async fn ses_event(State(l): State<Local>, body: axum::Json<serde_json::Value>) -> Response {
    match eventbridge::matches_any(&l.nurture_rules, &body.0) {
        Ok(true) => {}
        Ok(false) => return json(StatusCode::OK, &serde_json::json!({"matched": false})),
        Err(e) => return ApiError::Unavailable(format!("the template's event pattern: {e:#}")).into_response(),
    }
    match rapport_nurture::handle(&l.nurture, &body.0, std::time::Duration::from_secs(60)).await {
        Ok(report) => json(StatusCode::OK, &report),
        Err(e) => e.into_response(),
    }
}

/// The payload's `scheduled_time` is this route's `?now=`.
fn rename_field(e: ApiError, from: &str, to: &str) -> ApiError {
    match e {
        ApiError::Validation(mut errors) => {
            for err in &mut errors {
                if err.field == from {
                    err.field = to.to_string();
                }
            }
            ApiError::Validation(errors)
        }
        other => other,
    }
}
