//! Prior-applicant imports over HTTP: starting one (a CSV inline, or a file uploaded first through a
//! presigned link) and following it. The work itself is [`rapport::app::imports`]: resumable, a page
//! of the file a step, finished by the `imports` task.
use axum::extract::State;
use axum::response::Response;
use http::StatusCode;
use rapport::api::{json, AppState, JsonBody, PathId};
use rapport::app::imports::Source;
use rapport::auth::Caller;
use rapport::error::ApiError;
use rapport::ids::ImportId;
use rapport::store::ImportStatus;
use serde_json::json;
use std::time::{Duration, Instant};

/// Bytes of the file read a step.
pub use rapport::app::imports::PAGE_BYTES;

/// The largest uploaded CSV one request imports (the API's 29-second limit is the real bound).
const MAX_UPLOADED_IMPORT: i64 = 50 * 1024 * 1024;

/// `POST /api/prospects/import/uploads {size}`: a presigned PUT for a CSV too large to send inline.
pub(crate) async fn create_upload(
    State(st): State<AppState>,
    caller: Caller,
    JsonBody(body): JsonBody,
) -> Result<Response, ApiError> {
    caller.require_staff()?;
    let size = rapport::parse::Fields::parse(body, |f| {
        let size: Option<u64> = f.req("size");
        if size.is_some_and(|s| s == 0 || s as i64 > MAX_UPLOADED_IMPORT) {
            f.error("size", format!("must be from 1 to {MAX_UPLOADED_IMPORT} bytes"));
            return None;
        }
        size
    })?;
    let (key, link) = st.files.import_upload_link(&ImportId::new(st.clock.as_ref()), size, st.clock.now()).await?;
    Ok(json(
        StatusCode::CREATED,
        &json!({"upload_key": key, "url": link.url, "method": "PUT",
                "headers": {"content-type": "text/csv", "content-length": size.to_string()}}),
    ))
}

/// How long the request that starts an import works on it (API Gateway gives up at 29 s); the
/// `imports` task finishes what is left.
const IMPORT_REQUEST_BUDGET: Duration = Duration::from_secs(20);

/// `POST /api/prospects/import`: a CSV of prior applicants, inline (`text/csv`, up to 5 MB, kept in
/// the bucket first) or as `{"upload_key"}` of an upload. Read a page at a time: 200 with the counts
/// when done within the request, else 202 with the run so far (`GET /api/prospects/imports/{id}`
/// follows it). Deduplicated by email; re-importing changes nothing; addresses that unsubscribed,
/// bounced or complained are skipped; people without consent evidence wait as `pending_consent` and
/// (policy `ask`) get one email asking, sent at SES's pace.
pub(crate) async fn start(
    State(st): State<AppState>,
    caller: Caller,
    headers: http::HeaderMap,
    body: bytes::Bytes,
) -> Result<Response, ApiError> {
    caller.require_staff()?;
    let deadline = Instant::now() + IMPORT_REQUEST_BUDGET;
    let essence = headers
        .get(http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .map(|v| v.trim().to_ascii_lowercase())
        .unwrap_or_default();
    let (source, field) = match essence.as_str() {
        "text/csv" => (Source::Inline(body), "body"),
        "application/json" => (Source::Upload(rapport::api::parse_json(&body)?), "upload_key"),
        _ => return Err(ApiError::UnsupportedMediaType("send text/csv, or JSON with an upload_key".into())),
    };
    let run = rapport::app::imports::import(&st, source, &caller.sub, deadline).await?;
    match run.status {
        ImportStatus::Done => Ok(json(StatusCode::OK, &run)),
        ImportStatus::Running => Ok(json(StatusCode::ACCEPTED, &run)),
        // Nothing was imported: the file itself is wrong (or gone).
        ImportStatus::Failed => Err(ApiError::field(field, run.failure.unwrap_or_default())),
    }
}

/// `GET /api/prospects/imports/{id}`: how far an import has come.
pub(crate) async fn follow(
    State(st): State<AppState>,
    caller: Caller,
    PathId(id): PathId<ImportId>,
) -> Result<Response, ApiError> {
    caller.require_staff()?;
    let run = st.store.import_run(&id.to_string()).await?.ok_or(ApiError::NotFound)?;
    Ok(json(StatusCode::OK, &run))
}
