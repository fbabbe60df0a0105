//! Scheduled work. EventBridge Scheduler delivers at least once, so every task is safe to run twice:
//! each change it makes is conditional on the state it found.
use chrono::{DateTime, Utc};
use rapport::api::AppState;
use rapport::app::notify::{send_optin, OptinFor};
use rapport::error::ApiError;
use serde_json::{json, Value};
use std::time::{Duration, Instant};

pub mod campaigns;
pub mod retention;

/// What this function is invoked with: a schedule's task, or an SES event from EventBridge.
pub async fn handle(st: &AppState, payload: &Value, budget: Duration) -> Result<Value, ApiError> {
    if payload.get("source").and_then(Value::as_str) == Some("aws.ses") {
        return ses_event(st, payload).await;
    }
    run(st, &Task::parse(payload)?, budget).await
}

/// A configuration set's bounce or complaint, as EventBridge delivers it: a permanent bounce or any
/// complaint suppresses the address for good and marks the prospect; other events change nothing.
pub async fn ses_event(st: &AppState, event: &Value) -> Result<Value, ApiError> {
    use rapport::prospect::ProspectStatus;
    let detail = &event["detail"];
    let kind = event["detail-type"].as_str().or_else(|| detail["eventType"].as_str()).unwrap_or_default();
    let (status, recipients) = match kind {
        "Email Bounced" | "Bounce" if detail["bounce"]["bounceType"] == "Permanent" => {
            (ProspectStatus::Bounced, &detail["bounce"]["bouncedRecipients"])
        }
        "Email Complaint Received" | "Complaint" => {
            (ProspectStatus::Complained, &detail["complaint"]["complainedRecipients"])
        }
        _ => return Ok(json!({"event": kind, "suppressed": 0})),
    };
    let now = st.clock.now();
    let campaign = detail["mail"]["tags"]["campaign"][0].as_str();
    let mut suppressed = 0;
    for r in recipients.as_array().map(Vec::as_slice).unwrap_or_default() {
        let Some(email) = r["emailAddress"].as_str().and_then(|e| rapport::email::Email::parse(e).ok()) else {
            continue;
        };
        st.store.suppress(&st.email_hash(&email), status, now).await?;
        suppressed += 1;
        if let Some(c) = campaign {
            st.store.count_campaign_event(c, status.as_str()).await?;
        }
    }
    tracing::info!(event = kind, suppressed, "SES event");
    Ok(json!({"event": kind, "suppressed": suppressed}))
}

/// `{"task": "drafts", "scheduled_time": "2026-11-26T10:00:00Z"}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Task {
    pub name: String,
    /// The run's clock: a task does what was due at its scheduled time, so a late or repeated
    /// delivery does the same work.
    pub now: DateTime<Utc>,
}

/// The tasks this function runs.
pub const TASKS: &[&str] = &["drafts", "feeds", "imports", "nurture", "retention"];

impl Task {
    pub fn parse(payload: &Value) -> Result<Task, ApiError> {
        let name = payload.get("task").and_then(Value::as_str).unwrap_or_default();
        if !TASKS.contains(&name) {
            return Err(ApiError::field("task", format!("unknown task {name:?}; known: {}", TASKS.join(", "))));
        }
        let now = payload
            .get("scheduled_time")
            .and_then(Value::as_str)
            .and_then(|s| DateTime::parse_from_rfc3339(s).ok())
            .map(|t| t.with_timezone(&Utc))
            .ok_or_else(|| ApiError::field("scheduled_time", "must be an RFC 3339 date-time"))?;
        Ok(Task { name: name.to_string(), now })
    }
}

pub async fn run(st: &AppState, task: &Task, budget: Duration) -> Result<Value, ApiError> {
    let deadline = Instant::now() + budget;
    match task.name.as_str() {
        "drafts" => drafts(st, task.now, deadline).await,
        "feeds" => rapport::app::feeds::build(st, task.now, deadline, false).await,
        "imports" => rapport_crm::imports::task(st, deadline).await,
        "nurture" => campaigns::run(st, task.now, deadline).await,
        "retention" => retention::run(st, task.now, deadline).await,
        other => Err(ApiError::field("task", format!("unknown task {other:?}"))),
    }
}

/// Page size of the drafts sweep.
const PAGE: i32 = 100;

/// Turns drafts older than `DRAFT_ABANDON_AFTER` into drop-offs, a page at a time, until none are
/// left or the time budget is spent (the next run resumes: abandoned drafts leave the index). A
/// drop-off who ticked the talent-pool box gets the opt-in email, once for the draft; only their
/// confirmation puts them in the pool. Anyone can type an address into a form.
async fn drafts(st: &AppState, now: DateTime<Utc>, deadline: Instant) -> Result<Value, ApiError> {
    let cutoff = now - st.config.draft_abandon_after;
    let (mut abandoned, mut asked, mut failed, mut complete) = (0, 0, 0, false);
    while Instant::now() < deadline {
        let page = st.store.stale_drafts(cutoff, PAGE).await?;
        let mut progress = false;
        for draft in &page {
            if !st.store.abandon_draft(draft).await? {
                continue;
            }
            progress = true;
            abandoned += 1;
            let hash = st.email_hash(&draft.email);
            if !draft.talent_pool {
                continue;
            }
            // One draft's opt-in failing (SES throttling, say) never stops the sweep: it is counted,
            // and that draft's opt-in is not tried again (the address may sign up itself).
            let sent = async {
                match st.store.request_drop_off_optin(&hash, draft, now).await? {
                    Some(nonce) => {
                        let name = draft.first_name.clone();
                        send_optin(st, &hash, &draft.email, name, &nonce, OptinFor::DropOff).await
                    }
                    None => Ok(false),
                }
            };
            match sent.await {
                Ok(s) => asked += usize::from(s),
                Err(e) => {
                    failed += 1;
                    tracing::warn!(error = %e, "a drop-off's opt-in was not sent");
                }
            }
        }
        // A short page, or one whose drafts were all handled already (the index lags a little): done.
        if page.len() < PAGE as usize || !progress {
            complete = true;
            break;
        }
    }
    tracing::info!(abandoned, asked, failed, complete, "drafts swept");
    Ok(json!({"task": "drafts", "abandoned": abandoned, "optin_sent": asked, "optin_failed": failed,
              "complete": complete}))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payloads() {
        let t = Task::parse(&json!({"task": "drafts", "scheduled_time": "2026-11-26T10:00:00Z"})).unwrap();
        assert_eq!(t.now.to_rfc3339(), "2026-11-26T10:00:00+00:00");
        assert!(Task::parse(&json!({"task": "mine-bitcoin", "scheduled_time": "2026-11-26T10:00:00Z"})).is_err());
        assert!(Task::parse(&json!({"task": "drafts"})).is_err());
    }
}
