//! Scheduled work. EventBridge Scheduler delivers at least once, so every task is safe to run twice:
//! each change it makes is conditional on the state it found.
use chrono::{DateTime, Utc};
use rapport::api::AppState;
use rapport::app;
use rapport::error::ApiError;
use serde_json::{json, Value};
use std::time::{Duration, Instant};

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
    // The tag is the id we sent with; one that is not a campaign id counts against none.
    let campaign: Option<rapport::ids::CampaignId> =
        detail["mail"]["tags"]["campaign"][0].as_str().and_then(|c| c.parse().ok());
    let mut suppressed = 0;
    for r in recipients.as_array().map(Vec::as_slice).unwrap_or_default() {
        let Some(email) = r["emailAddress"].as_str().and_then(|e| rapport::email::Email::parse(e).ok()) else {
            continue;
        };
        st.store.suppress(&st.email_hash(&email).await?, status, now).await?;
        suppressed += 1;
        if let Some(c) = &campaign {
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
pub const TASKS: &[&str] = &["drafts", "feeds", "imports", "nurture", "retention", "webhooks"];

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
        "drafts" => app::drafts::sweep(st, task.now, deadline).await,
        "feeds" => app::feeds::build(st, task.now, deadline, false).await,
        "imports" => app::imports::task(st, deadline).await,
        "nurture" => app::nurture::run(st, task.now, deadline).await,
        "retention" => app::retention::run(st, task.now, deadline).await,
        "webhooks" => app::webhooks::retry_due(st, task.now, deadline).await,
        other => Err(ApiError::field("task", format!("unknown task {other:?}"))),
    }
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
