//! `/api/webhooks*`: admins register the endpoints that receive Rapport's events, signed (see
//! `app::webhooks`), and look after them: edit, disable, rotate the secret, ping, read the delivery
//! log, replay a delivery. Every route is admins' only, checked before anything is read.
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use http::{header, StatusCode};
use rapport::api::{check, json, path_id, AppState, JsonBody, PathId, QueryMap};
use rapport::app::webhooks;
use rapport::auth::Caller;
use rapport::error::ApiError;
use rapport::ids::{EventId, WebhookId};
use rapport::store::Page;
use rapport::webhook::{EndpointPatch, NewEndpoint};
use serde_json::json;

pub async fn create(
    State(st): State<AppState>,
    caller: Caller,
    JsonBody(body): JsonBody,
) -> Result<Response, ApiError> {
    caller.require_admin()?;
    let input = NewEndpoint::parse(body, st.config.webhook_reach())?;
    let (endpoint, secret) = webhooks::create(&st, input).await?;
    let mut res = json(StatusCode::CREATED, &webhooks::view(&endpoint, Some(&secret)));
    if let Ok(loc) = format!("/api/webhooks/{}", endpoint.id).parse() {
        res.headers_mut().insert(header::LOCATION, loc);
    }
    Ok(no_store(res))
}

pub async fn list(State(st): State<AppState>, caller: Caller) -> Result<Response, ApiError> {
    caller.require_admin()?;
    let items: Vec<_> = webhooks::list(&st).await?.iter().map(|e| webhooks::view(e, None)).collect();
    Ok(json(StatusCode::OK, &Page { items, next_cursor: None }))
}

pub async fn read(
    State(st): State<AppState>,
    caller: Caller,
    PathId(id): PathId<WebhookId>,
) -> Result<Response, ApiError> {
    caller.require_admin()?;
    Ok(json(StatusCode::OK, &webhooks::view(&webhooks::get(&st, &id).await?, None)))
}

pub async fn edit(
    State(st): State<AppState>,
    caller: Caller,
    PathId(id): PathId<WebhookId>,
    JsonBody(body): JsonBody,
) -> Result<Response, ApiError> {
    caller.require_admin()?;
    let patch = EndpointPatch::parse(body, st.config.webhook_reach())?;
    Ok(json(StatusCode::OK, &webhooks::view(&webhooks::update(&st, &id, patch).await?, None)))
}

pub async fn delete(
    State(st): State<AppState>,
    caller: Caller,
    PathId(id): PathId<WebhookId>,
) -> Result<Response, ApiError> {
    caller.require_admin()?;
    webhooks::delete(&st, &id).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

pub async fn rotate(
    State(st): State<AppState>,
    caller: Caller,
    PathId(id): PathId<WebhookId>,
) -> Result<Response, ApiError> {
    caller.require_admin()?;
    let (endpoint, secret) = webhooks::rotate(&st, &id).await?;
    Ok(no_store(json(StatusCode::OK, &webhooks::view(&endpoint, Some(&secret)))))
}

pub async fn test(
    State(st): State<AppState>,
    caller: Caller,
    PathId(id): PathId<WebhookId>,
) -> Result<Response, ApiError> {
    caller.require_admin()?;
    let outcome = webhooks::ping(&st, &id).await?;
    let body = json!({"delivered": outcome.received(), "response_code": outcome.status, "error": outcome.error});
    Ok(json(StatusCode::OK, &body))
}

pub async fn deliveries(
    State(st): State<AppState>,
    caller: Caller,
    PathId(id): PathId<WebhookId>,
    q: QueryMap,
) -> Result<Response, ApiError> {
    caller.require_admin()?;
    let mut errors = Vec::new();
    let page = q.page(&mut errors);
    check(errors)?;
    Ok(json(StatusCode::OK, &webhooks::deliveries(&st, &id, &page).await?))
}

pub async fn replay(
    State(st): State<AppState>,
    caller: Caller,
    Path((id, event)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    caller.require_admin()?;
    let (id, event): (WebhookId, EventId) = (path_id(&id)?, path_id(&event)?);
    Ok(json(StatusCode::OK, &webhooks::replay(&st, &id, &event).await?))
}

/// A secret is in the answer: no cache keeps it.
fn no_store(mut res: Response) -> Response {
    res.headers_mut().insert(header::CACHE_CONTROL, http::HeaderValue::from_static("no-store"));
    res
}
