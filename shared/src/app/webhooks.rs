//! Signed webhooks: admins register endpoints; every event goes to each enabled endpoint subscribed to
//! its type, signed as Standard Webhooks says ([`crate::webhook`]); a failed attempt is retried on the
//! schedule from the sparse list of due deliveries; an endpoint whose deliveries fail for five days
//! without a success is disabled and the admin address is told.
//!
//! Delivery is at least once: the delivery of an event to an endpoint is made once (a conditional
//! put), but a crash after the POST and before its outcome is recorded, or two runs of the retry task
//! reading one due delivery, can send it again. Every attempt carries the event's id as `webhook-id`,
//! so receivers drop repeats.
//!
//! Round trips: [`on_event`] reads the endpoints in one query (the events function once a batch), then per subscribed endpoint makes the
//! delivery (1 write), POSTs, and records the outcome (1 write), plus 1 write when the endpoint's
//! failing streak starts or ends. [`retry_due`] reads a page of due deliveries (1 query), the
//! endpoints once a run (1 query) and records each attempt (1 write, and the same streak writes).
use crate::app::AppState;
use crate::email::{render, Outgoing};
use crate::error::ApiError;
use crate::event::Event;
use crate::ids::{EventId, WebhookId};
use crate::store::{Page, PageRequest};
use crate::webhook::{
    ping_body, should_disable, Attempt, Delivery, DeliveryStatus, Endpoint, EndpointPatch, NewEndpoint, Outcome,
    Secret, Secrets, SECRET_BYTES,
};
use chrono::{DateTime, Utc};
use rand::RngCore;
use serde_json::{json, Value};
use std::collections::{HashMap, HashSet};
use std::time::Instant;

/// Due deliveries read at a time.
const PAGE: i32 = 25;

/// A new secret from the operating system's random source.
fn new_secret() -> Secret {
    let mut key = [0u8; SECRET_BYTES];
    rand::rngs::OsRng.fill_bytes(&mut key);
    Secret::from_bytes(&key)
}

/// An endpoint as the API shows it, with its secret when it was just made (shown once).
pub fn view(e: &Endpoint, secret: Option<&Secret>) -> Value {
    let mut v = serde_json::to_value(e).unwrap_or_default();
    if let (Some(s), Value::Object(map)) = (secret, &mut v) {
        map.insert("secret".into(), Value::String(s.expose().to_string()));
    }
    v
}

/// Registers an endpoint: enabled, with a new secret (answered once). One write.
pub async fn create(st: &AppState, input: NewEndpoint) -> Result<(Endpoint, Secret), ApiError> {
    let now = st.clock.now();
    let endpoint = Endpoint::new(WebhookId::new(st.clock.as_ref()), input, now);
    let secret = new_secret();
    st.store.create_webhook(&endpoint, &secret).await?;
    tracing::info!(webhook = %endpoint.id, "webhook endpoint created");
    Ok((endpoint, secret))
}

/// One endpoint (without its secrets). One read.
pub async fn get(st: &AppState, id: &WebhookId) -> Result<Endpoint, ApiError> {
    Ok(st.store.webhook(id).await?.ok_or(ApiError::NotFound)?.0)
}

/// Every endpoint, oldest first. One query.
pub async fn list(st: &AppState) -> Result<Vec<Endpoint>, ApiError> {
    Ok(st.store.webhooks().await?.into_iter().map(|(e, _)| e).collect())
}

/// Applies an admin's patch. One read + one write.
pub async fn update(st: &AppState, id: &WebhookId, patch: EndpointPatch) -> Result<Endpoint, ApiError> {
    let (before, _) = st.store.webhook(id).await?.ok_or(ApiError::NotFound)?;
    let restart = patch.enabled == Some(true) && !before.enabled;
    let after = before.patched(patch, st.clock.now());
    st.store.update_webhook(&after, restart).await?.ok_or(ApiError::NotFound)
}

/// Removes an endpoint. One write.
pub async fn delete(st: &AppState, id: &WebhookId) -> Result<(), ApiError> {
    if st.store.delete_webhook(id).await? {
        tracing::info!(webhook = %id, "webhook endpoint deleted");
        Ok(())
    } else {
        Err(ApiError::NotFound)
    }
}

/// A new secret for the endpoint (answered once); the old one still signs for 24 hours. One write.
pub async fn rotate(st: &AppState, id: &WebhookId) -> Result<(Endpoint, Secret), ApiError> {
    let secret = new_secret();
    let until = st.clock.now() + crate::webhook::old_secret_valid();
    let endpoint = st.store.rotate_webhook_secret(id, &secret, until).await?.ok_or(ApiError::NotFound)?;
    tracing::info!(webhook = %id, "webhook secret rotated");
    Ok((endpoint, secret))
}

/// Sends a signed `webhook.test` ping now and answers what came back; nothing is recorded or retried.
/// One read.
pub async fn ping(st: &AppState, id: &WebhookId) -> Result<Outcome, ApiError> {
    let (endpoint, secrets) = st.store.webhook(id).await?.ok_or(ApiError::NotFound)?;
    let now = st.clock.now();
    let msg = EventId::new(st.clock.as_ref());
    let body = ping_body(&msg, id, now);
    let headers = secrets.headers(&msg.to_string(), now, &body);
    Ok(st.outbound.post(&endpoint.url, &headers, &body).await)
}

/// One page of an endpoint's delivery log, newest first. One read + one query.
pub async fn deliveries(st: &AppState, id: &WebhookId, page: &PageRequest) -> Result<Page<Delivery>, ApiError> {
    st.store.webhook(id).await?.ok_or(ApiError::NotFound)?;
    st.store.deliveries(id, page).await
}

/// Sends one delivery again now, with the same `webhook-id` and body, newly signed. One batch read,
/// the POST, one write (+ the streak's).
pub async fn replay(st: &AppState, id: &WebhookId, event: &EventId) -> Result<Delivery, ApiError> {
    let (endpoint, delivery) = st.store.webhook_with_delivery(id, event).await?;
    let (mut endpoint, secrets) = endpoint.ok_or(ApiError::NotFound)?;
    let delivery = delivery.ok_or(ApiError::NotFound)?;
    if !endpoint.enabled {
        return Err(ApiError::Conflict("the endpoint is disabled; enable it first".into()));
    }
    attempt(st, &mut endpoint, &secrets, &delivery, st.clock.now(), Attempt::Replay).await
}

/// The endpoints as one read found them, for the events of a batch.
pub struct Subscribers(Vec<(Endpoint, Secrets)>);

/// Reads the endpoints: one query.
pub async fn subscribers(st: &AppState) -> Result<Subscribers, ApiError> {
    Ok(Subscribers(st.store.webhooks().await?))
}

/// Fans one event out ([`fan_out`]) to the endpoints as they are now.
pub async fn on_event(st: &AppState, event: &Event) -> Result<(), ApiError> {
    fan_out(st, event, &subscribers(st).await?).await
}

/// Fans one event out: for every enabled endpoint subscribed to its type, makes its delivery (once
/// per event and endpoint, whatever the number of calls) and makes the first attempt at once, the
/// endpoints side by side so a slow one holds up no other. A failed attempt is left to [`retry_due`];
/// an error is the store's, and calling again is safe.
pub async fn fan_out(st: &AppState, event: &Event, subscribers: &Subscribers) -> Result<(), ApiError> {
    let now = st.clock.now();
    let fan_out = subscribers.0.iter().filter(|(e, _)| e.wants(event.kind)).map(|(endpoint, secrets)| async move {
        let mut endpoint = endpoint.clone();
        let delivery = Delivery::new(endpoint.id, event, now);
        if st.store.create_delivery(&delivery).await? {
            attempt(st, &mut endpoint, secrets, &delivery, now, Attempt::Scheduled).await?;
        }
        Ok::<(), ApiError>(())
    });
    futures_util::future::join_all(fan_out).await.into_iter().collect()
}

/// What a run of the retry task did.
#[derive(Default)]
struct Counts {
    delivered: u64,
    retrying: u64,
    failed: u64,
    abandoned: u64,
}

impl Counts {
    fn add(&mut self, o: Counts) {
        self.delivered += o.delivered;
        self.retrying += o.retrying;
        self.failed += o.failed;
        self.abandoned += o.abandoned;
    }
}

/// The `webhooks` task at its scheduled time `now`: attempts every delivery due by then, a page at a
/// time, until `deadline`; the next run resumes with what is left. Within a page each endpoint's
/// deliveries go one after another and the endpoints side by side, so one that times out holds up no
/// other.
pub async fn retry_due(st: &AppState, now: DateTime<Utc>, deadline: Instant) -> Result<Value, ApiError> {
    // An attempt may take its whole timeout: none starts that close to the end.
    let deadline = deadline.checked_sub(crate::outbound::ATTEMPT_TIMEOUT).unwrap_or_else(Instant::now);
    let mut n = Counts::default();
    let mut endpoints: Option<HashMap<WebhookId, (Endpoint, Secrets)>> = None;
    let mut seen = HashSet::new();
    let mut complete = true;
    loop {
        if Instant::now() >= deadline {
            complete = false;
            break;
        }
        let page = st.store.due_deliveries(now, PAGE).await?;
        // The index may still list what this run just recorded: a page with nothing new is the end.
        let fresh: Vec<Delivery> = page.iter().filter(|d| seen.insert((d.webhook_id, d.event_id))).cloned().collect();
        if fresh.is_empty() {
            break;
        }
        let endpoints = match &mut endpoints {
            Some(e) => e,
            None => endpoints.insert(st.store.webhooks().await?.into_iter().map(|(e, s)| (e.id, (e, s))).collect()),
        };
        let mut by_endpoint: HashMap<WebhookId, Vec<Delivery>> = HashMap::new();
        for d in fresh {
            by_endpoint.entry(d.webhook_id).or_default().push(d);
        }
        let runs = by_endpoint.into_iter().map(|(id, due)| {
            let endpoint = endpoints.get(&id).cloned();
            async move { retry_endpoint(st, endpoint, due, now, deadline).await }
        });
        for done in futures_util::future::join_all(runs).await {
            let (endpoint, counts, finished) = done?;
            if let Some((e, s)) = endpoint {
                endpoints.insert(e.id, (e, s));
            }
            n.add(counts);
            complete &= finished;
        }
        if !complete {
            break;
        }
        if page.len() < PAGE as usize {
            break;
        }
    }
    tracing::info!(n.delivered, n.retrying, n.failed, n.abandoned, complete, "webhooks run");
    Ok(json!({"task": "webhooks", "delivered": n.delivered, "retrying": n.retrying, "failed": n.failed,
              "abandoned": n.abandoned, "complete": complete}))
}

/// One endpoint's due deliveries, in order, until `deadline`: attempted, or given up when the endpoint
/// is gone or disabled. Answers the endpoint as the attempts left it, the counts, and whether all
/// were done.
async fn retry_endpoint(
    st: &AppState,
    mut endpoint: Option<(Endpoint, Secrets)>,
    due: Vec<Delivery>,
    now: DateTime<Utc>,
    deadline: Instant,
) -> Result<(Option<(Endpoint, Secrets)>, Counts, bool), ApiError> {
    let mut n = Counts::default();
    for d in &due {
        if Instant::now() >= deadline {
            return Ok((endpoint, n, false));
        }
        let why = match &mut endpoint {
            None => Some("the endpoint was deleted"),
            Some((e, _)) if !e.enabled => Some("the endpoint is disabled"),
            Some((e, secrets)) => {
                let after = attempt(st, e, secrets, d, now, Attempt::Scheduled).await?;
                match after.status {
                    DeliveryStatus::Delivered => n.delivered += 1,
                    DeliveryStatus::Pending => n.retrying += 1,
                    DeliveryStatus::Failed => n.failed += 1,
                }
                None
            }
        };
        if let Some(why) = why {
            st.store.record_attempt(d, &d.abandoned(why)).await?;
            n.abandoned += 1;
        }
    }
    Ok((endpoint, n, true))
}

/// One attempt of `delivery` at `now`: signed with the endpoint's secrets, POSTed, its outcome
/// recorded, and the endpoint's failing streak kept (which may disable it).
async fn attempt(
    st: &AppState,
    endpoint: &mut Endpoint,
    secrets: &Secrets,
    delivery: &Delivery,
    now: DateTime<Utc>,
    kind: Attempt,
) -> Result<Delivery, ApiError> {
    let headers = secrets.headers(&delivery.event_id.to_string(), now, &delivery.body);
    let outcome = st.outbound.post(&endpoint.url, &headers, &delivery.body).await;
    let after = delivery.attempted(&outcome, now, kind);
    if !st.store.record_attempt(delivery, &after).await? {
        tracing::info!(webhook = %endpoint.id, event = %delivery.event_id, "another run recorded this attempt first");
    }
    tracing::info!(webhook = %endpoint.id, event = %delivery.event_id, status = ?outcome.status,
                   error = ?outcome.error, attempts = after.attempts, "webhook attempt");
    // A replay an admin asked for ends a streak when it gets through, but its failure counts for
    // nothing: only the schedule's attempts can disable an endpoint.
    if kind == Attempt::Scheduled || outcome.received() {
        keep_streak(st, endpoint, &outcome, now).await?;
    }
    Ok(after)
}

/// A success ends the endpoint's failing streak; a failure starts one, or, five days into one,
/// disables the endpoint and tells the admin address (once: only one run wins the disable).
async fn keep_streak(
    st: &AppState,
    endpoint: &mut Endpoint,
    outcome: &Outcome,
    now: DateTime<Utc>,
) -> Result<(), ApiError> {
    match (outcome.received(), endpoint.failing_since) {
        (true, Some(_)) => {
            st.store.webhook_recovered(&endpoint.id).await?;
            endpoint.failing_since = None;
        }
        (true, None) => {}
        (false, None) => {
            st.store.webhook_failing(&endpoint.id, now).await?;
            endpoint.failing_since = Some(now);
        }
        (false, Some(since)) if should_disable(Some(since), now) => {
            if st.store.disable_failing_webhook(&endpoint.id, since, now).await? {
                endpoint.enabled = false;
                endpoint.disabled_reason = Some(crate::webhook::DisabledReason::Failing);
                tracing::warn!(webhook = %endpoint.id, "webhook endpoint disabled after five days of failures");
                tell_admin(st, endpoint, since, now).await;
            }
        }
        (false, Some(_)) => {}
    }
    Ok(())
}

/// Emails the admin address that an endpoint was disabled; without one, the log says so. A failed
/// send is logged: the endpoint stays disabled either way, and is listed as such.
async fn tell_admin(st: &AppState, endpoint: &Endpoint, since: DateTime<Utc>, now: DateTime<Utc>) {
    let Some(to) = &st.config.admin_email else {
        tracing::warn!(webhook = %endpoint.id, "no ADMIN_EMAIL to tell that a webhook endpoint was disabled");
        return;
    };
    let ctx = json!({"company": st.config.company_name, "url": endpoint.url.as_str(), "webhook_id": endpoint.id,
                     "description": endpoint.description, "since": crate::clock::rfc3339(since),
                     "now": crate::clock::rfc3339(now), "api_url": st.config.public_api_url});
    let (text, html) = match render("webhook_disabled", &ctx) {
        Ok(r) => r,
        Err(e) => {
            tracing::error!(error = %e, "the webhook_disabled template did not render");
            return;
        }
    };
    let msg = Outgoing {
        to: to.clone(),
        to_name: None,
        subject: format!("{}: a webhook endpoint was disabled", st.config.company_name),
        text,
        html,
        headers: vec![],
    };
    if let Err(e) = st.mailer.send(&msg).await {
        tracing::error!(webhook = %endpoint.id, error = %e, "the admin was not told that a webhook endpoint was disabled");
    }
}
