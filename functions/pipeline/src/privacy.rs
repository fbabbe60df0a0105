//! A person's access and erasure requests and consent records: admins only (a recruiter or hiring
//! manager gets 403 before anything is read); audited like every route of this function. `{id}` is a
//! candidate id, or a prospect id for someone who never applied.
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use http::StatusCode;
use rapport::api::{json, AppState};
use rapport::auth::Caller;
use rapport::error::ApiError;

/// `GET /api/candidates/{id}/export`: everything held on the person, as one JSON document.
pub async fn export(State(st): State<AppState>, caller: Caller, Path(id): Path<String>) -> Result<Response, ApiError> {
    caller.require_admin()?;
    let (person, tomb) = st.store.resolve_person(&id).await?.ok_or(ApiError::NotFound)?;
    if tomb.is_some() {
        return Err(ApiError::Gone("this person's data was erased".into()));
    }
    let held = st.store.holdings(&person).await?;
    Ok(json(StatusCode::OK, &rapport::app::privacy::export(&st, &person, &held, st.clock.now()).await?))
}

/// `DELETE /api/candidates/{id}`: erasure. 204 once done, and again for a repeat; a retry after a
/// failure finishes what the first attempt started.
pub async fn erase(State(st): State<AppState>, caller: Caller, Path(id): Path<String>) -> Result<Response, ApiError> {
    caller.require_admin()?;
    let (person, tomb) = st.store.resolve_person(&id).await?.ok_or(ApiError::NotFound)?;
    if tomb.as_ref().is_some_and(|t| t.done_at.is_some()) {
        return Ok(StatusCode::NO_CONTENT.into_response());
    }
    rapport::app::privacy::erase(&st, &person, &caller.sub, st.clock.now()).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// `PUT /api/candidates/{id}/consents/{purpose} {given, note?}`: an admin records what the person
/// told them (agreeing, or withdrawing: effective for the next email). Answers the latest records.
pub async fn record_consent(
    State(st): State<AppState>,
    caller: Caller,
    Path((id, purpose)): Path<(String, String)>,
    rapport::api::JsonBody(body): rapport::api::JsonBody,
) -> Result<Response, ApiError> {
    use rapport::consent::{Consent, Method, Purpose};
    caller.require_admin()?;
    let purpose: Purpose = purpose.parse().map_err(|_| ApiError::NotFound)?;
    let (given, note) = rapport::consent::parse_recorded(body)?;
    let (person, tomb) = st.store.resolve_person(&id).await?.ok_or(ApiError::NotFound)?;
    if tomb.is_some() {
        return Err(ApiError::Gone("this person's data was erased".into()));
    }
    let mut c =
        Consent::new(purpose, given, st.clock.now(), Method::Recruiter, rapport::application::CONSENT_TEXT_VERSION);
    c.by = Some(caller.sub.clone());
    c.note = note;
    st.store.record_consents(&person.email_hash, &[c]).await?;
    let mut latest = Vec::new();
    for p in [Purpose::Processing, Purpose::TalentPool, Purpose::MarketingEmail, Purpose::Demographics] {
        latest.extend(st.store.consent(&person.email_hash, p).await?);
    }
    Ok(json(StatusCode::OK, &serde_json::json!({"consents": latest})))
}
