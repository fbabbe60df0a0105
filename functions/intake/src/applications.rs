//! `POST /careers/jobs/{id}/applications`: an application, as JSON from a script (answered 201) or
//! as a plain HTML form (answered with a redirect to the thank-you page or the form's `redirect`).
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use http::{header, HeaderMap, StatusCode};
use rapport::api::{json, AppState, FormOrJson, PathId};
use rapport::app::apply::{apply as file, Submitted};
use rapport::application::{same_origin_as_any, Submission, CHECKBOXES};
use rapport::error::ApiError;
use rapport::ids::JobId;
use serde_json::json;

pub(crate) async fn apply(
    State(st): State<AppState>,
    PathId(job_id): PathId<JobId>,
    headers: HeaderMap,
    body: FormOrJson,
) -> Result<Response, ApiError> {
    let (value, is_form) = body.into_value(CHECKBOXES)?;
    let body = value.to_string();
    let input = match Submission::parse(value)? {
        // A bot filled the hidden field: it hears "accepted" and nothing is stored.
        Submission::Honeypot => return Ok(json(StatusCode::ACCEPTED, &json!({}))),
        Submission::Apply(input) => input,
    };
    let redirect = if is_form { checked_redirect(&st, input.redirect.as_deref())? } else { None };
    let idempotency_key = idempotency_key(&headers)?;
    let submitted = Submitted { job_id, input: &input, body: &body, idempotency_key: idempotency_key.as_deref() };
    let (application_id, candidate_id) = file(&st, submitted).await?;
    if is_form {
        let to = redirect.unwrap_or_else(|| format!("/careers/thanks?application_id={application_id}"));
        return Ok((StatusCode::SEE_OTHER, [(header::LOCATION, to)]).into_response());
    }
    Ok(json(StatusCode::CREATED, &json!({"application_id": application_id, "candidate_id": candidate_id})))
}

fn idempotency_key(headers: &HeaderMap) -> Result<Option<String>, ApiError> {
    let Some(v) = headers.get("idempotency-key") else { return Ok(None) };
    match v.to_str() {
        Ok(s) if !s.is_empty() && s.len() <= 255 && s.chars().all(|c| c.is_ascii_graphic()) => Ok(Some(s.to_string())),
        _ => Err(ApiError::field("Idempotency-Key", "must be 1 to 255 visible ASCII characters")),
    }
}

/// Only the career site's own pages, or an allowed origin, may be a form's `redirect`.
fn checked_redirect(st: &AppState, redirect: Option<&str>) -> Result<Option<String>, ApiError> {
    let Some(r) = redirect else { return Ok(None) };
    let allowed = st.config.allowed_origins.iter().chain(std::iter::once(&st.config.careers_url));
    if same_origin_as_any(r, allowed.map(String::as_str)) {
        Ok(Some(r.to_string()))
    } else {
        Err(ApiError::field("redirect", "must be a page of the career site"))
    }
}
