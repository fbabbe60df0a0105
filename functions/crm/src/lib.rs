//! The `crm` function: the prospect pool, the content library and campaigns. Recruiters and admins
//! only: hiring managers work on their jobs' applicants, not the employer's talent pool.
use axum::extract::State;
use axum::response::Response;
use axum::routing::{get, patch, post};
use axum::Router;
use http::StatusCode;
use rapport::api::{check, json, no_route, AppState, JsonBody, PathId, QueryMap};
use rapport::auth::Caller;
use rapport::campaign::{exclusions, Campaign, CampaignInput, CampaignStatus};
use rapport::content::StoryInput;
use rapport::email::EmailHash;
use rapport::error::{ApiError, FieldError};
use rapport::ids::{CampaignId, StoryId};
use rapport::prospect::{Origin, ProspectInput, ProspectStatus};
use rapport::store::ProspectFilter;
use serde_json::json;

pub mod imports;

pub fn router(state: AppState) -> Router {
    // The pool is personal data: every route on it is audited.
    let people = Router::new()
        .route("/api/prospects", get(list_prospects).post(create_prospect))
        .route("/api/prospects/{id}", patch(patch_prospect))
        .route("/api/prospects/import", post(imports::start))
        .route("/api/prospects/import/uploads", post(imports::create_upload))
        .route("/api/prospects/imports/{id}", get(imports::follow))
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
    let p = rapport::app::prospects::create(&st, input, &caller.sub).await?;
    Ok(json(StatusCode::CREATED, &p))
}

/// `PATCH /api/prospects/{id}`: names, interests, credentials, tags, and pausing or resuming.
async fn patch_prospect(
    State(st): State<AppState>,
    caller: Caller,
    PathId(id): PathId<EmailHash>,
    JsonBody(body): JsonBody,
) -> Result<Response, ApiError> {
    caller.require_staff()?;
    let input = ProspectInput::parse(body, false)?;
    // Marking someone who has not confirmed as consenting skips their double opt-in: an override.
    if input.consent.is_some() {
        caller.require_admin()?;
    }
    let p = rapport::app::prospects::edit(&st, &id, input, &caller.sub).await?;
    Ok(json(StatusCode::OK, &p))
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
        id: CampaignId::new(st.clock.as_ref()),
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

/// `GET /api/campaigns`: every campaign with its counters (one query, and one more per campaign over its counter shards).
async fn list_campaigns(State(st): State<AppState>, caller: Caller) -> Result<Response, ApiError> {
    caller.require_staff()?;
    let mut items = Vec::new();
    for c in st.store.campaigns().await? {
        let counts = st.store.campaign_counts(&c.id).await?;
        items.push(json!({"campaign": c, "counts": counts}));
    }
    Ok(json(StatusCode::OK, &json!({"items": items})))
}

async fn campaign(st: &AppState, id: &CampaignId) -> Result<Campaign, ApiError> {
    st.store.campaign(id).await?.ok_or(ApiError::NotFound)
}

async fn get_campaign(
    State(st): State<AppState>,
    caller: Caller,
    PathId(id): PathId<CampaignId>,
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
    PathId(id): PathId<CampaignId>,
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
    PathId(id): PathId<CampaignId>,
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
