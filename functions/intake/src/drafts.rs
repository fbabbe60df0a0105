//! `POST /careers/jobs/{id}/drafts`: someone started an application (for drop-off capture).
use axum::extract::State;
use axum::response::Response;
use http::StatusCode;
use rapport::api::{json, AppState, JsonBody, PathId};
use rapport::app::apply::start_draft as start;
use rapport::draft::DraftInput;
use rapport::error::ApiError;
use rapport::ids::JobId;
use serde_json::json;

pub(crate) async fn start_draft(
    State(st): State<AppState>,
    PathId(job_id): PathId<JobId>,
    JsonBody(body): JsonBody,
) -> Result<Response, ApiError> {
    let input = DraftInput::parse(body)?;
    let draft_id = start(&st, job_id, input).await?;
    Ok(json(StatusCode::CREATED, &json!({"draft_id": draft_id})))
}
