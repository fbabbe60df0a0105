//! The `intake` function: what career-site forms post. Resume uploads (presigned S3 PUTs),
//! applications (JSON or HTML forms), and drafts (the start of an application, for drop-off capture).
use axum::extract::{Path, State};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use http::{header, HeaderMap, StatusCode};
use rapport::api::{json, no_route, path_id, rate_limit, AppState, FormOrJson, JsonBody, QueryMap};
use rapport::app::notify::{notify, send_optin, Ledger, Letter, Needs, Notification, OptinFor};
use rapport::application::{Application, Candidate, Consents, Submission, CHECKBOXES};
use rapport::attribution::attribute;
use rapport::clock::rfc3339;
use rapport::consent::Purpose;
use rapport::draft::{Draft, DraftInput, DraftStatus};
use rapport::error::ApiError;
use rapport::ids::{ApplicationId, CandidateId, DraftId, JobId};
use rapport::job::{Job, JobStatus};
use rapport::prospect::SuppressionReason;
use rapport::prospect::{PersonRef, Subscription, CONFIRM, UNSUBSCRIBE};
use rapport::store::Confirmed;
use rapport::store::{NewApplication, NotCreated};
use rapport::upload::{UploadKey, UploadRequest, MAX_RESUME_BYTES};
use serde_json::{json, Value};
use std::time::Duration;

pub fn router(state: AppState) -> Router {
    // Form posts that create something are rate limited per client; unsubscribing never is.
    let limited = Router::new()
        .route("/careers/uploads", post(create_upload))
        .route("/careers/jobs/{id}/applications", post(apply))
        .route("/careers/jobs/{id}/drafts", post(start_draft))
        .route("/careers/talent-pool", post(subscribe))
        .route_layer(axum::middleware::from_fn_with_state(state.clone(), rate_limit));
    Router::new()
        .merge(limited)
        .route("/careers/thanks", get(thanks))
        .route("/careers/widget.js", get(widget))
        .route("/careers/talent-pool/confirm", get(confirm_page).post(confirm))
        .route("/careers/unsubscribe", get(unsubscribe_page).post(unsubscribe))
        .fallback(no_route)
        .with_state(state)
}

/// How long a presigned upload URL stays valid (5 minutes).
const UPLOAD_URL_TTL: Duration = rapport::files::UPLOAD_URL_TTL;

async fn create_upload(State(st): State<AppState>, JsonBody(body): JsonBody) -> Result<Response, ApiError> {
    let req = UploadRequest::parse(body)?;
    let key = UploadKey::new(ulid::Ulid::from_datetime(st.clock.now().into()), req.file_type);
    let presigned = st.files.resume_upload_link(&key, req.file_type, req.size, st.clock.now()).await?;
    let headers: serde_json::Map<String, Value> =
        presigned.headers.into_iter().map(|(k, v)| (k, Value::String(v))).collect();
    let expires_at = st.clock.now() + chrono::Duration::from_std(UPLOAD_URL_TTL).unwrap_or_default();
    Ok(json(
        StatusCode::CREATED,
        &json!({"upload_url": presigned.url, "method": "PUT", "headers": headers, "key": key.0,
                "expires_at": rfc3339(expires_at)}),
    ))
}

/// The job a career-site form posts to: a draft or unknown job is 404, a closed or expired one 410.
fn live_job(job: Option<Job>, now: chrono::DateTime<chrono::Utc>) -> Result<Job, ApiError> {
    let job = job.ok_or(ApiError::NotFound)?;
    match job.status {
        JobStatus::Draft => Err(ApiError::NotFound),
        JobStatus::Closed => Err(ApiError::Gone("this job is closed".into())),
        JobStatus::Open if !job.is_live(now) => Err(ApiError::Gone("this job has expired".into())),
        JobStatus::Open => Ok(job),
    }
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

/// Whether `url` is an http(s) URL whose origin (scheme, host and port, the default port filled in)
/// is exactly that of one of `allowed`: never a prefix or a look-alike (`https://jobs.acme.co` is
/// not `https://jobs.acme.com`).
fn same_origin_as_any<'a>(url: &str, mut allowed: impl Iterator<Item = &'a str>) -> bool {
    let origin = |u: &str| {
        url::Url::parse(u)
            .ok()
            .filter(|u| matches!(u.scheme(), "https" | "http") && u.host().is_some())
            .map(|u| (u.scheme().to_string(), u.host_str().map(str::to_ascii_lowercase), u.port_or_known_default()))
    };
    let Some(wanted) = origin(url) else { return false };
    allowed.any(|a| origin(a).as_ref() == Some(&wanted))
}

/// Checks an upload an application references and moves it under `resumes/`. The size and the
/// first bytes are checked here because a presigned PUT cannot prove what was sent.
async fn take_resume(st: &AppState, key: &UploadKey, application: &ApplicationId) -> Result<String, ApiError> {
    let missing = || ApiError::field("resume_key", "no such upload; upload the file first");
    let size = st.files.upload_size(key).await?.ok_or_else(missing)?;
    if size == 0 || size > MAX_RESUME_BYTES {
        return Err(ApiError::field("resume_key", format!("the file must be from 1 to {MAX_RESUME_BYTES} bytes")));
    }
    let file_type = key.file_type().ok_or_else(missing)?;
    let head_bytes = st.files.upload_start(key, 64).await?;
    if !file_type.sniff(&head_bytes) {
        return Err(ApiError::field("resume_key", format!("the file is not a valid {}", file_type.extension())));
    }
    Ok(st.files.keep_resume(key, application, file_type).await?)
}

/// Who a confirmation goes to, and whether their address may be mailed (read with the lookup).
struct Person<'a> {
    first: &'a str,
    last: &'a str,
    email: &'a rapport::email::Email,
    email_hash: &'a rapport::email::EmailHash,
    suppressed: Option<rapport::prospect::SuppressionReason>,
}

/// The upload a stored resume was copied from goes at once (not a day later by lifecycle): the fewer
/// copies of personal data, the fewer to erase. Every version, since the bucket keeps versions.
async fn forget_upload(st: &AppState, key: &UploadKey) {
    if let Err(e) = st.files.delete_all_versions(&key.0).await {
        tracing::warn!(error = %e, "upload not deleted; the lifecycle rule will");
    }
}

/// This request's copy of a resume when no application came to reference it: removed with every
/// version, since nothing would ever find it again.
async fn drop_copy(st: &AppState, copy: Option<&str>) {
    if let Some(key) = copy {
        if let Err(e) = st.files.delete_all_versions(key).await {
            tracing::warn!(error = %e, "an unreferenced resume copy was not deleted");
        }
    }
}

async fn send_confirmation(st: &AppState, job: &Job, app: &Application, p: Person<'_>) {
    let ctx = json!({"first_name": p.first, "job_title": job.spec.title, "company": st.config.company_name,
                     "application_id": app.id.to_string()});
    let letter = Letter {
        to: p.email,
        to_name: Some(format!("{} {}", p.first, p.last)),
        email_hash: p.email_hash,
        subject: format!("Your application for {}", job.spec.title),
        template: "confirmation",
        context: ctx,
        campaign: None,
    };
    let needs = Needs { purpose: Some(Purpose::Processing), known: Some((p.suppressed, true)) };
    let result =
        notify(st, Notification { letter, needs, ledger: Ledger::Application(&app.id), kind: "confirmation" }).await;
    // The send was claimed with the application; a failure here loses this one email rather than
    // risking two (the application itself is stored).
    if let Err(e) = result {
        tracing::error!(application = %app.id, error = %e, "confirmation email not sent");
    }
}

enum Outcome {
    Created(ApplicationId, CandidateId),
    Existing(ApplicationId, CandidateId),
}

async fn apply(
    State(st): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: FormOrJson,
) -> Result<Response, ApiError> {
    let (value, is_form) = body.into_value(CHECKBOXES)?;
    let fingerprint = st.hasher.keyed_hash("idempotency-body", &value.to_string());
    let input = match Submission::parse(value)? {
        // A bot filled the hidden field: it hears "accepted" and nothing is stored.
        Submission::Honeypot => return Ok(json(StatusCode::ACCEPTED, &json!({}))),
        Submission::Apply(input) => input,
    };
    let job_id: JobId = path_id(&id)?;
    let redirect = if is_form { checked_redirect(&st, input.redirect.as_deref())? } else { None };
    let idem = idempotency_key(&headers)?.map(|k| st.hasher.keyed_hash("idempotency-key", &k));
    let email_hash = st.email_hash(&input.email);
    let application_id = ApplicationId::new(st.clock.as_ref());
    let mut resume: Option<String> = None;

    let mut outcome = None;
    for _ in 0..4 {
        let now = st.clock.now();
        let lookup =
            st.store.application_lookup(&job_id, &email_hash, idem.as_deref(), input.draft_id.as_ref()).await?;
        let job = live_job(lookup.job, now)?;
        rapport::demographics::check(
            input.demographics.as_ref(),
            job.spec.asks_demographics,
            input.demographics_consent,
        )?;
        if let Some((a, c, fp)) = lookup.replay {
            if fp != fingerprint {
                return Err(ApiError::Conflict("this Idempotency-Key was used for a different request".into()));
            }
            outcome = Some(Outcome::Existing(a, c));
            break;
        }
        if let Some((a, c)) = lookup.existing {
            outcome = Some(Outcome::Existing(a, c));
            break;
        }
        if resume.is_none() {
            if let Some(key) = &input.resume_key {
                resume = Some(take_resume(&st, key, &application_id).await?);
            }
        }
        let draft =
            lookup.draft.filter(|d| d.job_id == job_id && d.email == input.email && d.status == DraftStatus::Open);
        let touch = attribute(&input.source, &st.own_hosts, |t| st.signer.verify("attribution", t, now));
        let consents = Consents::from_form(input.talent_pool, now);
        let mut consent_records = vec![rapport::consent::Consent::new(
            rapport::consent::Purpose::Processing,
            true,
            now,
            rapport::consent::Method::Form,
            rapport::application::CONSENT_TEXT_VERSION,
        )];
        if input.demographics.is_some() {
            consent_records.push(rapport::consent::Consent::new(
                rapport::consent::Purpose::Demographics,
                true,
                now,
                rapport::consent::Method::Form,
                rapport::application::CONSENT_TEXT_VERSION,
            ));
        }
        if input.talent_pool {
            consent_records.extend(rapport::consent::Consent::talent_pool(
                now,
                rapport::consent::Method::Form,
                rapport::application::CONSENT_TEXT_VERSION,
            ));
        }
        let new_candidate = match lookup.candidate_id {
            Some(_) => None,
            None => Some(Candidate {
                id: CandidateId::new(st.clock.as_ref()),
                email: input.email.clone(),
                first_name: input.first_name.clone(),
                last_name: input.last_name.clone(),
                phone: input.phone.clone(),
                credentials: input.credentials.clone(),
                first_touch: touch.clone(),
                consents: consents.clone(),
                created_at: now,
            }),
        };
        let candidate_id = lookup.candidate_id.or(new_candidate.as_ref().map(|c| c.id)).expect("one or the other");
        let application = Application {
            id: application_id,
            job_id,
            candidate_id,
            stage: job.spec.stages.first().map(|s| s.id.clone()).unwrap_or_else(|| "applied".into()),
            status: rapport::stage::ApplicationStatus::Active,
            answers: input.answers.clone(),
            credentials: input.credentials.clone(),
            resume_key: resume.clone(),
            attribution: touch,
            consents,
            draft_id: draft.as_ref().map(|d| d.id),
            created_at: now,
            version: 1,
            history: vec![],
            furthest_stage: job.spec.stages.first().map(|s| s.id.clone()).unwrap_or_else(|| "applied".into()),
            tags: vec![],
        };
        let fp = fingerprint.as_str();
        let created = st
            .store
            .create_application(NewApplication {
                application: &application,
                new_candidate: new_candidate.as_ref(),
                email_hash: &email_hash,
                idempotency: idem.as_deref().map(|h| (h, fp)),
                draft: draft.as_ref(),
                prospect: lookup.prospect_status.map(|s| {
                    use rapport::prospect::ProspectStatus::{Active, Paused, PendingConsent};
                    matches!(s, Active | Paused | PendingConsent)
                }),
                consents: &consent_records,
                demographics: input.demographics.as_ref(),
            })
            .await;
        match created {
            Ok(()) => {
                let person = Person {
                    first: &input.first_name,
                    last: &input.last_name,
                    email: &input.email,
                    email_hash: &email_hash,
                    // An erasure keeps the address from imports and campaigns, not from the confirmation
                    // of an application the person sends again themselves.
                    suppressed: lookup.suppressed.filter(|r| *r != SuppressionReason::Erased),
                };
                send_confirmation(&st, &job, &application, person).await;
                if let Some(key) = &input.resume_key {
                    forget_upload(&st, key).await;
                }
                outcome = Some(Outcome::Created(application.id, candidate_id));
                break;
            }
            // Someone got there first: read again and answer as they were answered.
            Err(NotCreated::Duplicate) | Err(NotCreated::Raced) => continue,
            Err(NotCreated::Store(e)) => {
                drop_copy(&st, resume.as_deref()).await;
                return Err(e.into());
            }
        }
    }
    // A repeat answers exactly as the first request was answered, so the answer never tells whether
    // that person had applied already.
    let (application_id, candidate_id) = match outcome {
        Some(Outcome::Created(a, c)) => (a, c),
        Some(Outcome::Existing(a, c)) => {
            drop_copy(&st, resume.as_deref()).await;
            (a, c)
        }
        None => {
            drop_copy(&st, resume.as_deref()).await;
            return Err(ApiError::Unavailable("the application kept changing under this request".into()));
        }
    };
    if is_form {
        let to = redirect.unwrap_or_else(|| format!("/careers/thanks?application_id={application_id}"));
        return Ok((StatusCode::SEE_OTHER, [(header::LOCATION, to)]).into_response());
    }
    Ok(json(StatusCode::CREATED, &json!({"application_id": application_id, "candidate_id": candidate_id})))
}

async fn start_draft(
    State(st): State<AppState>,
    Path(id): Path<String>,
    JsonBody(body): JsonBody,
) -> Result<Response, ApiError> {
    let input = DraftInput::parse(body)?;
    let job_id: JobId = path_id(&id)?;
    let now = st.clock.now();
    live_job(st.store.get_job(&job_id).await?, now)?;
    let draft = Draft {
        id: DraftId::new(st.clock.as_ref()),
        job_id,
        email: input.email,
        first_name: input.first_name,
        talent_pool: input.talent_pool,
        attribution: attribute(&input.source, &st.own_hosts, |t| st.signer.verify("attribution", t, now)),
        status: DraftStatus::Open,
        created_at: now,
    };
    st.store.create_draft(&draft, &st.email_hash(&draft.email)).await?;
    Ok(json(StatusCode::CREATED, &json!({"draft_id": draft.id})))
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;").replace('\'', "&#39;")
}

/// A small page for people who followed a link or posted a plain form.
fn page(status: StatusCode, title: &str, body_html: &str) -> Response {
    let html = format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" \
         content=\"width=device-width\"><title>{t}</title></head><body style=\"font-family:sans-serif;max-width:36em;\
         margin:3em auto;line-height:1.5\"><h1>{t}</h1>{body_html}</body></html>",
        t = escape(title)
    );
    (status, Html(html)).into_response()
}

/// The embeddable widget: plain JavaScript, no dependencies, cached briefly by browsers and CDNs.
async fn widget() -> Response {
    (
        [
            (header::CONTENT_TYPE, "application/javascript; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=300"),
        ],
        include_str!("../assets/widget.js"),
    )
        .into_response()
}

async fn thanks(State(st): State<AppState>) -> Response {
    let company = escape(&st.config.company_name);
    page(
        StatusCode::OK,
        "Thank you for applying",
        &format!("<p>{company} has your application and will be in touch.</p>"),
    )
}

async fn subscribe(State(st): State<AppState>, JsonBody(body): JsonBody) -> Result<Response, ApiError> {
    let sub = Subscription::parse(body)?;
    let now = st.clock.now();
    let hash = st.email_hash(&sub.email);
    if let Some(nonce) = st.store.subscribe(&hash, &sub, now).await? {
        send_optin(&st, &hash, &sub.email, sub.first_name.clone(), &nonce, OptinFor::SignUp).await?;
    }
    // The same answer whether or not the address was known: the form reveals nothing.
    Ok(json(StatusCode::ACCEPTED, &json!({"status": "confirmation_sent"})))
}

fn token_param(q: &QueryMap) -> Option<String> {
    q.get("token").map(str::to_string)
}

/// Shows a button and changes nothing: mail scanners fetch links, and only the person's click may
/// confirm.
async fn confirm_page(State(st): State<AppState>, q: QueryMap) -> Response {
    let Some(token) = token_param(&q).filter(|t| st.signer.verify::<PersonRef>(CONFIRM, t, st.clock.now()).is_some())
    else {
        return page(
            StatusCode::BAD_REQUEST,
            "This link does not work",
            "<p>It may have expired. Sign up again to get a new one.</p>",
        );
    };
    let action = format!("/careers/talent-pool/confirm?token={}", escape(&token));
    page(
        StatusCode::OK,
        "Confirm your subscription",
        &format!(
            "<p>Hear from {} about jobs that fit you?</p><form method=\"post\" action=\"{action}\">\
             <button type=\"submit\">Confirm</button></form>",
            escape(&st.config.company_name)
        ),
    )
}

/// The button's POST: the token is the authority.
async fn confirm(State(st): State<AppState>, q: QueryMap) -> Result<Response, ApiError> {
    let now = st.clock.now();
    let Some(person) = token_param(&q).and_then(|t| st.signer.verify::<PersonRef>(CONFIRM, &t, now)) else {
        return Ok(page(
            StatusCode::BAD_REQUEST,
            "This link does not work",
            "<p>It may have expired. Sign up again to get a new one.</p>",
        ));
    };
    let company = escape(&st.config.company_name);
    Ok(match st.store.confirm_subscription(&person.h, person.n.as_deref(), now).await? {
        Confirmed::Joined | Confirmed::Already => page(
            StatusCode::OK,
            "You are subscribed",
            &format!("<p>You will hear from {company} about jobs that fit you.</p>"),
        ),
        Confirmed::Unknown => {
            page(StatusCode::NOT_FOUND, "Nothing to confirm", "<p>Sign up again to get a new link.</p>")
        }
        Confirmed::Suppressed => {
            page(StatusCode::CONFLICT, "We cannot email this address", "<p>Mail to it bounced or was reported.</p>")
        }
    })
}

/// Shows a button and changes nothing: mail scanners fetch links, and a GET must never unsubscribe.
async fn unsubscribe_page(State(st): State<AppState>, q: QueryMap) -> Response {
    let Some(token) =
        token_param(&q).filter(|t| st.signer.verify::<PersonRef>(UNSUBSCRIBE, t, st.clock.now()).is_some())
    else {
        return page(
            StatusCode::BAD_REQUEST,
            "This link does not work",
            "<p>Use the link in the latest email from us.</p>",
        );
    };
    let action = format!("/careers/unsubscribe?token={}", escape(&token));
    page(
        StatusCode::OK,
        "Unsubscribe",
        &format!(
            "<p>Stop all emails from {}?</p><form method=\"post\" action=\"{action}\">\
             <input type=\"hidden\" name=\"List-Unsubscribe\" value=\"One-Click\">\
             <button type=\"submit\">Unsubscribe</button></form>",
            escape(&st.config.company_name)
        ),
    )
}

/// RFC 8058 one-click (`List-Unsubscribe=One-Click`) or the page's form: the token is the authority.
async fn unsubscribe(State(st): State<AppState>, q: QueryMap) -> Result<Response, ApiError> {
    let now = st.clock.now();
    let Some(person) = token_param(&q).and_then(|t| st.signer.verify::<PersonRef>(UNSUBSCRIBE, &t, now)) else {
        return Ok(page(
            StatusCode::BAD_REQUEST,
            "This link does not work",
            "<p>Use the link in the latest email from us.</p>",
        ));
    };
    if st.store.unsubscribe(&person.h, now).await? {
        if let Some(campaign) = &person.c {
            st.store.count_campaign_event(campaign, "unsubscribed").await?;
        }
    }
    Ok(page(StatusCode::OK, "You are unsubscribed", "<p>You will not get any more emails from us.</p>"))
}

#[cfg(test)]
mod tests {
    use super::same_origin_as_any;

    #[test]
    fn a_redirect_must_have_exactly_an_allowed_origin() {
        let allowed = ["https://jobs.acme.com", "http://localhost:3000"];
        let ok = |u: &str| same_origin_as_any(u, allowed.iter().copied());
        assert!(ok("https://jobs.acme.com/thanks?x=1"));
        assert!(ok("https://JOBS.acme.com:443/thanks"));
        assert!(ok("http://localhost:3000/"));
        assert!(!ok("https://jobs.acme.co/thanks"), "a prefix of an allowed origin");
        assert!(!ok("https://jobs.acme.com.evil.example/"));
        assert!(!ok("http://jobs.acme.com/thanks"), "another scheme");
        assert!(!ok("https://jobs.acme.com:8443/thanks"), "another port");
        assert!(!ok("http://localhost/"));
        assert!(!ok("http://localhost:30/"));
        assert!(!ok("javascript:alert(1)"));
        assert!(!ok("/careers/thanks"));
    }
}
