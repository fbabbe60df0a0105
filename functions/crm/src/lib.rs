//! The `crm` function: the prospect pool, the content library and campaigns. Recruiters and admins
//! only: hiring managers work on their jobs' applicants, not the employer's talent pool.
use axum::extract::{Path, State};
use axum::response::Response;
use axum::routing::{get, patch, post};
use axum::Router;
use http::StatusCode;
use rapport::api::{check, json, no_route, path_id, AppState, JsonBody, QueryMap};
use rapport::auth::Caller;
use rapport::campaign::{exclusions, Campaign, CampaignInput, CampaignStatus};
use rapport::content::StoryInput;
use rapport::error::{ApiError, FieldError, StoreError};
use rapport::files::Files;
use rapport::ids::{CampaignId, ImportId, StoryId};
use rapport::prospect::{Origin, Prospect, ProspectInput, ProspectStatus};
use rapport::store::ImportStatus;
use rapport::store::ProspectFilter;
use serde_json::json;
use std::time::{Duration, Instant};

pub mod imports;

pub fn router(state: AppState) -> Router {
    // The pool is personal data: every route on it is audited.
    let people = Router::new()
        .route("/api/prospects", get(list_prospects).post(create_prospect))
        .route("/api/prospects/{id}", patch(patch_prospect))
        .route("/api/prospects/import", post(import_prospects))
        .route("/api/prospects/import/uploads", post(create_import_upload))
        .route("/api/prospects/imports/{id}", get(get_import))
        .route("/api/campaigns/{id}/preview", post(preview_campaign))
        .route_layer(axum::middleware::from_fn_with_state(state.clone(), rapport::api::audited));
    Router::new()
        .merge(people)
        .route("/api/content", get(list_content).post(create_content))
        .route("/api/campaigns", get(list_campaigns).post(create_campaign))
        .route("/api/campaigns/{id}", get(get_campaign))
        .route("/api/campaigns/{id}/activate", post(activate_campaign))
        .fallback(no_route)
        .with_state(state)
}

/// `GET /api/prospects?origin=&credential=&tag=&status=&limit=&cursor=`.
async fn list_prospects(State(st): State<AppState>, caller: Caller, q: QueryMap) -> Result<Response, ApiError> {
    caller.require_staff()?;
    let mut errors = Vec::new();
    let filter = ProspectFilter {
        origin: q.parse::<Origin>("origin", &mut errors),
        credential: q.get("credential").map(str::to_string),
        tag: q.get("tag").map(str::to_string),
        status: q.parse::<ProspectStatus>("status", &mut errors),
    };
    let page = q.page(&mut errors);
    check(errors)?;
    Ok(json(StatusCode::OK, &st.store.list_prospects(&filter, &page).await?))
}

/// `POST /api/prospects`: a person a recruiter sourced. Without `consent: true` (the person agreed,
/// on their word to the recruiter) they wait as `pending_consent` and are never nurtured.
async fn create_prospect(
    State(st): State<AppState>,
    caller: Caller,
    JsonBody(body): JsonBody,
) -> Result<Response, ApiError> {
    caller.require_staff()?;
    let input = ProspectInput::parse(body, true)?;
    let email = input.email.clone().ok_or_else(|| ApiError::field("email", "is required"))?;
    let now = st.clock.now();
    let h = st.email_hash(&email);
    if let Some(reason) = st.store.suppression(&h).await? {
        return Err(ApiError::Conflict(format!("this address must not be contacted ({reason})")));
    }
    let consent = input.consent == Some(true);
    let p = Prospect {
        id: h,
        email,
        first_name: input.first_name,
        last_name: input.last_name,
        status: if consent { input.status.unwrap_or(ProspectStatus::Active) } else { ProspectStatus::PendingConsent },
        origins: vec![Origin::Sourced],
        interests: input.interests.unwrap_or_default(),
        credentials: input.credentials.unwrap_or_default(),
        tags: input.tags.unwrap_or_default(),
        candidate_id: None,
        silver_medal: None,
        created_at: Some(now),
        updated_at: Some(now),
        recent_sends: vec![],
        stories_sent: vec![],
    };
    let mut extra = Vec::new();
    if consent {
        let record = json!({"given": true, "at": rapport::clock::rfc3339(now),
            "text_version": rapport::application::CONSENT_TEXT_VERSION, "method": "recruiter", "by": caller.sub});
        extra.push(("talent_pool_consent", aws_sdk_dynamodb::types::AttributeValue::S(record.to_string())));
    }
    match st.store.put_prospect(&p, true, extra, now).await {
        Ok(()) => {
            if consent {
                st.store.record_consents(&p.id, &recruiter_consent(&caller, now)).await?;
            }
            Ok(json(StatusCode::CREATED, &p))
        }
        Err(StoreError::ConditionFailed) => {
            Err(ApiError::Conflict("a prospect with this email exists; PATCH it".into()))
        }
        Err(e) => Err(e.into()),
    }
}

/// `PATCH /api/prospects/{id}`: names, interests, credentials, tags, and pausing or resuming.
async fn patch_prospect(
    State(st): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    JsonBody(body): JsonBody,
) -> Result<Response, ApiError> {
    caller.require_staff()?;
    let input = ProspectInput::parse(body, false)?;
    // Marking someone who has not confirmed as consenting skips their double opt-in: an override.
    if input.consent.is_some() {
        caller.require_admin()?;
    }
    let id: rapport::email::EmailHash = rapport::api::path_id(&id)?;
    let now = st.clock.now();
    let item = st.store.prospect_by_email_hash(&id).await?.ok_or(ApiError::NotFound)?;
    let mut p = rapport::store::prospect_of(&item)?;
    // A sign-up waiting for the person's confirmation stays waiting.
    let pending = rapport::store::pending_attributes(Some(&item));
    if let Some(s) = input.status {
        // Pausing and resuming only apply to people we may mail.
        if !matches!(p.status, ProspectStatus::Active | ProspectStatus::Paused) {
            return Err(ApiError::Conflict(format!("a prospect who is {} cannot be set {s}", p.status)));
        }
        p.status = s;
    }
    if input.consent == Some(true) {
        st.store.record_consents(&p.id, &recruiter_consent(&caller, now)).await?;
        if p.status == ProspectStatus::PendingConsent {
            p.status = ProspectStatus::Active;
        }
    }
    p.first_name = input.first_name.or(p.first_name);
    p.last_name = input.last_name.or(p.last_name);
    if let Some(i) = input.interests {
        p.interests = i;
    }
    if let Some(c) = input.credentials {
        p.credentials = c;
    }
    if let Some(t) = input.tags {
        p.tags = t;
    }
    match st.store.put_prospect(&p, false, pending, now).await {
        Ok(()) => Ok(json(StatusCode::OK, &Prospect { updated_at: Some(now), ..p })),
        Err(StoreError::ConditionFailed) => {
            Err(ApiError::Conflict("the prospect changed meanwhile; read it again".into()))
        }
        Err(e) => Err(e.into()),
    }
}

/// The largest CSV sent inline; larger files go to S3 first (`POST /api/prospects/import/uploads`).
const MAX_INLINE_IMPORT: usize = 5 * 1024 * 1024;
/// The largest uploaded CSV one request imports (the API's 29-second limit is the real bound).
const MAX_UPLOADED_IMPORT: i64 = 50 * 1024 * 1024;

/// `POST /api/prospects/import/uploads {size}`: a presigned PUT for a CSV too large to send inline.
async fn create_import_upload(
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
/// the bucket first) or as `{"upload_key"}` of an upload. Read a page at a time (see `imports`):
/// 200 with the counts when done within the request, else 202 with the run so far (`GET
/// /api/prospects/imports/{id}` follows it). Deduplicated by email; re-importing changes nothing;
/// addresses that unsubscribed, bounced or complained are skipped; people without consent evidence
/// wait as `pending_consent` and (policy `ask`) get one email asking, sent at SES's pace.
async fn import_prospects(
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
    let (id, key, field) = match essence.as_str() {
        "text/csv" => {
            if body.len() > MAX_INLINE_IMPORT {
                return Err(ApiError::PayloadTooLarge(format!(
                    "send at most {MAX_INLINE_IMPORT} bytes inline; upload larger files first"
                )));
            }
            let id = ImportId::new(st.clock.as_ref());
            let key = st.files.put_import(&id, body).await?;
            (id.to_string(), key, "body")
        }
        "application/json" => {
            let value = rapport::api::parse_json(&body)?;
            let (id, key) = rapport::parse::Fields::parse(value, |f| {
                let key: Option<rapport::parse::Line<1, 100>> = f.req("upload_key");
                let key = key?.0;
                let Some(id) = Files::import_of(&key) else {
                    f.error("upload_key", "is not an import upload key");
                    return None;
                };
                Some((id.to_string(), key))
            })?;
            (id, key, "upload_key")
        }
        _ => return Err(ApiError::UnsupportedMediaType("send text/csv, or JSON with an upload_key".into())),
    };
    let run = imports::start(&st, &id, key, &caller.sub, deadline).await?;
    match run.status {
        ImportStatus::Done => Ok(json(StatusCode::OK, &run)),
        ImportStatus::Running => Ok(json(StatusCode::ACCEPTED, &run)),
        // Nothing was imported: the file itself is wrong (or gone).
        ImportStatus::Failed => Err(ApiError::field(field, run.failure.unwrap_or_default())),
    }
}

/// `GET /api/prospects/imports/{id}`: how far an import has come.
async fn get_import(State(st): State<AppState>, caller: Caller, Path(id): Path<String>) -> Result<Response, ApiError> {
    caller.require_staff()?;
    let id: ImportId = path_id(&id)?;
    let run = st.store.import_run(&id.to_string()).await?.ok_or(ApiError::NotFound)?;
    Ok(json(StatusCode::OK, &run))
}

/// Consent a recruiter records on the person's word.
fn recruiter_consent(caller: &Caller, now: chrono::DateTime<chrono::Utc>) -> Vec<rapport::consent::Consent> {
    let mut given = rapport::consent::Consent::talent_pool(
        now,
        rapport::consent::Method::Recruiter,
        rapport::application::CONSENT_TEXT_VERSION,
    );
    for c in &mut given {
        c.by = Some(caller.sub.clone());
    }
    given
}

async fn create_content(
    State(st): State<AppState>,
    caller: Caller,
    JsonBody(body): JsonBody,
) -> Result<Response, ApiError> {
    caller.require_staff()?;
    let story = StoryInput::parse(body)?.into_story(StoryId::new(st.clock.as_ref()).to_string(), st.clock.now());
    st.store.put_story(&story).await?;
    Ok(json(StatusCode::CREATED, &story))
}

async fn list_content(State(st): State<AppState>, caller: Caller) -> Result<Response, ApiError> {
    caller.require_staff()?;
    Ok(json(StatusCode::OK, &json!({"items": st.store.stories().await?})))
}

async fn create_campaign(
    State(st): State<AppState>,
    caller: Caller,
    JsonBody(body): JsonBody,
) -> Result<Response, ApiError> {
    caller.require_staff()?;
    let input = CampaignInput::parse(body)?;
    // Named stories must exist.
    let stories = st.store.stories().await?;
    let mut errors = Vec::new();
    for (i, s) in input.steps.iter().enumerate() {
        if let Some(id) = &s.content.content_id {
            if !stories.iter().any(|x| &x.id == id) {
                errors.push(FieldError::new(format!("steps[{i}].content.content_id"), "no such story"));
            }
        }
    }
    check(errors)?;
    let c = Campaign {
        id: CampaignId::new(st.clock.as_ref()).to_string(),
        name: input.name,
        segment: input.segment,
        steps: input.steps,
        max_per_30_days: input.max_per_30_days,
        status: CampaignStatus::Draft,
        created_at: st.clock.now(),
        activated_at: None,
    };
    st.store.put_campaign(&c, true).await?;
    Ok(json(StatusCode::CREATED, &c))
}

/// `GET /api/campaigns`: every campaign with its counters (one query, and one read per campaign).
async fn list_campaigns(State(st): State<AppState>, caller: Caller) -> Result<Response, ApiError> {
    caller.require_staff()?;
    let mut items = Vec::new();
    for c in st.store.campaigns().await? {
        let counts = st.store.campaign_counts(&c.id).await?;
        items.push(json!({"campaign": c, "counts": counts}));
    }
    Ok(json(StatusCode::OK, &json!({"items": items})))
}

async fn campaign(st: &AppState, id: &str) -> Result<Campaign, ApiError> {
    let id: CampaignId = path_id(id)?;
    st.store.campaign(&id.to_string()).await?.ok_or(ApiError::NotFound)
}

async fn get_campaign(
    State(st): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    caller.require_staff()?;
    let c = campaign(&st, &id).await?;
    let counts = st.store.campaign_counts(&c.id).await?;
    Ok(json(StatusCode::OK, &json!({"campaign": c, "counts": counts})))
}

/// Activation enrols everyone who matches (the next nurture run sweeps the pool) and, from then on,
/// everyone who joins or changes to match. Activating an active campaign changes nothing.
async fn activate_campaign(
    State(st): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    caller.require_staff()?;
    let c = campaign(&st, &id).await?;
    if c.status == CampaignStatus::Active {
        return Ok(json(StatusCode::OK, &c));
    }
    let c = Campaign { status: CampaignStatus::Active, activated_at: Some(st.clock.now()), ..c };
    st.store.activate_campaign(&c).await?;
    Ok(json(StatusCode::OK, &c))
}

/// `POST /api/campaigns/{id}/preview?limit=&cursor=`: a page of the pool, each person with what
/// the campaign would send them next, or every reason they are left out.
async fn preview_campaign(
    State(st): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    q: QueryMap,
) -> Result<Response, ApiError> {
    caller.require_staff()?;
    let c = campaign(&st, &id).await?;
    let mut errors = Vec::new();
    let page = q.page(&mut errors);
    check(errors)?;
    let now = st.clock.now();
    let pool = st.store.list_prospects(&ProspectFilter::default(), &page).await?;
    let stories = st.store.stories().await?;
    let jobs = st.store.open_jobs().await?;
    let items: Vec<_> = pool
        .items
        .iter()
        .map(|p| {
            let out = exclusions(&c.segment, p, now.date_naive());
            let first = c.steps.first().map(|s| match rapport::campaign::content_for(s, &stories, &jobs, p, now) {
                rapport::campaign::Send::Story(s) => json!({"kind": "story", "content_id": s.id, "title": s.title}),
                rapport::campaign::Send::Jobs(j) => {
                    json!({"kind": "jobs", "job_ids": j.iter().map(|j| j.id.to_string()).collect::<Vec<_>>()})
                }
                rapport::campaign::Send::Nothing(why) => json!({"kind": "nothing", "why": why}),
            });
            if out.is_empty() {
                json!({"prospect_id": p.id, "email": p.email.0, "included": true, "first_step": first})
            } else {
                json!({"prospect_id": p.id, "email": p.email.0, "included": false, "excluded_because": out})
            }
        })
        .collect();
    Ok(json(StatusCode::OK, &json!({"items": items, "next_cursor": pool.next_cursor})))
}
