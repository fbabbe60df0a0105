//! `POST /careers/uploads`: a presigned PUT for a resume, before the application that names it.
use axum::extract::State;
use axum::response::Response;
use http::StatusCode;
use rapport::api::{json, AppState, JsonBody};
use rapport::app::apply::resume_upload;
use rapport::clock::rfc3339;
use rapport::error::ApiError;
use rapport::upload::UploadRequest;
use serde_json::{json, Value};

pub(crate) async fn create_upload(State(st): State<AppState>, JsonBody(body): JsonBody) -> Result<Response, ApiError> {
    let req = UploadRequest::parse(body)?;
    let upload = resume_upload(&st, &req).await?;
    let headers: serde_json::Map<String, Value> =
        upload.link.headers.into_iter().map(|(k, v)| (k, Value::String(v))).collect();
    Ok(json(
        StatusCode::CREATED,
        &json!({"upload_url": upload.link.url, "method": "PUT", "headers": headers, "key": upload.key.0,
                "expires_at": rfc3339(upload.expires_at)}),
    ))
}
