//! What happened, as the outbox keeps it: every change writes its events in the transaction that makes
//! it, and whatever reads them afterwards (notification emails, webhooks) is idempotent on the event's
//! id. An event names ids, stages, statuses and reason codes, never a name, an address or a note, so an
//! erased candidate's events need no erasing and a webhook never carries personal data.
use crate::application::Application;
use crate::clock::Clock;
use crate::ids::EventId;
use crate::interview::{Feedback, Interview};
use crate::job::{Job, JobStatus};
use crate::stage::{Stage, StageKind, EXITS};
use chrono::{DateTime, Utc};
use serde_json::{json, Value};

crate::choice!(
    /// The kinds of event, as webhooks name them.
    EventType {
        ApplicationCreated = "application.created",
        ApplicationStageChanged = "application.stage_changed",
        ApplicationHired = "application.hired",
        ApplicationRejected = "application.rejected",
        ApplicationWithdrawn = "application.withdrawn",
        InterviewScheduled = "interview.scheduled",
        FeedbackSubmitted = "feedback.submitted",
        JobPublished = "job.published",
        JobClosed = "job.closed",
        JobUpdated = "job.updated",
        ProspectCreated = "prospect.created",
        ProspectConsentRequested = "prospect.consent_requested",
        ProspectUnsubscribed = "prospect.unsubscribed",
        CandidateErased = "candidate.erased",
    }
);

crate::choice!(
    /// Where an application stands in the six statuses job boards take back (disposition sync).
    Disposition {
        New = "NEW",
        Contacted = "CONTACTED",
        Interviewed = "INTERVIEWED",
        Offered = "OFFERED",
        Hired = "HIRED",
        Rejected = "REJECTED",
    }
);

impl Disposition {
    /// A stage's kind as a board's status; `None` for an exit (rejected or withdrawn): REJECTED.
    pub fn of(kind: Option<StageKind>) -> Disposition {
        match kind {
            Some(StageKind::New) => Disposition::New,
            Some(StageKind::Screen) => Disposition::Contacted,
            Some(StageKind::Interview) => Disposition::Interviewed,
            Some(StageKind::Offer) => Disposition::Offered,
            Some(StageKind::Hired) => Disposition::Hired,
            None => Disposition::Rejected,
        }
    }
}

/// One event: a stable id, its type, when, and its data (documented per type in the OpenAPI
/// document's `webhooks`).
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    pub id: EventId,
    pub kind: EventType,
    pub at: DateTime<Utc>,
    pub data: Value,
}

impl Event {
    fn new(clock: &dyn Clock, kind: EventType, at: DateTime<Utc>, data: Value) -> Event {
        Event { id: EventId::new(clock), kind, at, data }
    }

    /// The envelope a consumer or a webhook receives.
    pub fn envelope(&self) -> Value {
        json!({"id": self.id, "type": self.kind, "timestamp": crate::clock::rfc3339(self.at), "data": self.data})
    }
}

/// A new application.
pub fn application_created(clock: &dyn Clock, a: &Application) -> Event {
    let data = json!({"application_id": a.id, "job_id": a.job_id, "candidate_id": a.candidate_id, "stage": a.stage,
                      "disposition": Disposition::New, "source": {"channel": a.attribution.channel,
                      "source": a.attribution.source}});
    Event::new(clock, EventType::ApplicationCreated, a.created_at, data)
}

/// The events of a move from `before` to `after`: the stage change, and a hire, rejection or
/// withdrawal when it is one. The exit reason goes as its category and code, never its note.
pub fn moved(clock: &dyn Clock, before: &Application, after: &Application, stages: &[Stage]) -> Vec<Event> {
    let at = after.history.last().map(|h| h.at).unwrap_or(after.created_at);
    let kind = stages.iter().find(|s| s.id == after.stage).map(|s| s.kind);
    let disposition = Disposition::of(kind);
    let ids = json!({"application_id": after.id, "job_id": after.job_id, "candidate_id": after.candidate_id});
    let mut change = ids.clone();
    change["from"] = json!(before.stage);
    change["to"] = json!(after.stage);
    change["stage_kind"] = kind.map_or(json!("exit"), |k| json!(k));
    change["disposition"] = json!(disposition);
    let mut events = vec![Event::new(clock, EventType::ApplicationStageChanged, at, change)];
    let reason = after.history.last().and_then(|h| h.reason.as_ref());
    let exit = |mut data: Value| {
        data["reason"] = reason.map_or(Value::Null, |r| json!({"category": r.category, "code": r.code}));
        data
    };
    match (kind, after.stage.as_str()) {
        (Some(StageKind::Hired), _) => events.push(Event::new(clock, EventType::ApplicationHired, at, ids)),
        (None, "rejected") => events.push(Event::new(clock, EventType::ApplicationRejected, at, exit(ids))),
        (None, "withdrawn") => events.push(Event::new(clock, EventType::ApplicationWithdrawn, at, exit(ids))),
        _ => {}
    }
    debug_assert!(kind.is_some() || EXITS.contains(&after.stage.as_str()));
    events
}

/// A job saved from `before` to `after`: published, closed, or updated (a change of its spec while
/// its status stays).
pub fn job_saved(clock: &dyn Clock, before: &Job, after: &Job) -> Event {
    let kind = match (before.status, after.status) {
        (a, JobStatus::Open) if a != JobStatus::Open => EventType::JobPublished,
        (a, JobStatus::Closed) if a != JobStatus::Closed => EventType::JobClosed,
        _ => EventType::JobUpdated,
    };
    let data = json!({"job_id": after.id, "status": after.status, "version": after.version,
                      "close_reason": after.close_reason});
    Event::new(clock, kind, after.updated_at, data)
}

/// An interview put on an application.
pub fn interview_scheduled(clock: &dyn Clock, i: &Interview) -> Event {
    let data = json!({"interview_id": i.id, "application_id": i.application_id, "job_id": i.job_id,
                      "scheduled_at": crate::clock::rfc3339(i.scheduled_at), "kind": i.kind});
    Event::new(clock, EventType::InterviewScheduled, i.created_at, data)
}

/// An interviewer's scorecard (the recommendation, never the notes).
pub fn feedback_submitted(clock: &dyn Clock, application: &crate::ids::ApplicationId, f: &Feedback) -> Event {
    let data = json!({"interview_id": f.interview_id, "application_id": application,
                      "rating": f.rating, "recommendation": f.recommendation});
    Event::new(clock, EventType::FeedbackSubmitted, f.at, data)
}

/// A person a recruiter added to the pool: their id (the keyed hash of their address, never the
/// address) and status.
pub fn prospect_created(clock: &dyn Clock, p: &crate::prospect::Prospect, at: DateTime<Utc>) -> Event {
    Event::new(clock, EventType::ProspectCreated, at, json!({"prospect_id": p.id, "status": p.status}))
}

/// A person who joined the pool by confirming a request (a sign-up, a drop-off's tick, a silver
/// medalist's), when they were in it in no way before.
pub fn prospect_joined(clock: &dyn Clock, prospect: &crate::email::EmailHash, at: DateTime<Utc>) -> Event {
    Event::new(clock, EventType::ProspectCreated, at, json!({"prospect_id": prospect, "status": "active"}))
}

/// A person asked to confirm they want to be in the talent pool (double opt-in): a sign-up on the
/// career site, a drop-off's tick, or a silver medalist kept in touch (with the job they were in
/// process for). The events function sends the email that asks.
pub fn consent_requested(
    clock: &dyn Clock,
    prospect: &crate::email::EmailHash,
    origin: &str,
    job: Option<&crate::ids::JobId>,
    at: DateTime<Utc>,
) -> Event {
    let mut data = json!({"prospect_id": prospect, "origin": origin});
    if let Some(job) = job {
        data["job_id"] = json!(job);
    }
    Event::new(clock, EventType::ProspectConsentRequested, at, data)
}

/// An address unsubscribed through a link (the keyed hash of the address as the prospect's id).
pub fn prospect_unsubscribed(clock: &dyn Clock, prospect: &crate::email::EmailHash, at: DateTime<Utc>) -> Event {
    Event::new(clock, EventType::ProspectUnsubscribed, at, json!({"prospect_id": prospect}))
}

/// A candidate erased (ids only: everything held on them is gone).
pub fn candidate_erased(clock: &dyn Clock, candidate: &crate::ids::CandidateId, at: DateTime<Utc>) -> Event {
    Event::new(clock, EventType::CandidateErased, at, json!({"candidate_id": candidate}))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::FixedClock;
    use chrono::TimeZone;

    fn clock() -> FixedClock {
        FixedClock::new(Utc.with_ymd_and_hms(2026, 12, 1, 9, 0, 0).unwrap())
    }

    #[test]
    fn every_stage_kind_and_the_exits_have_a_board_status() {
        let all: Vec<&str> = StageKind::ALL
            .iter()
            .map(|k| Disposition::of(Some(*k)).as_str())
            .chain([Disposition::of(None).as_str()])
            .collect();
        assert_eq!(all, vec!["NEW", "CONTACTED", "INTERVIEWED", "OFFERED", "HIRED", "REJECTED"]);
    }

    #[test]
    fn event_types_are_the_documented_names() {
        assert_eq!(EventType::ALL.len(), 14);
        assert!(EventType::ALL.iter().all(|t| t.as_str().contains('.') && t.as_str() == t.as_str().to_lowercase()));
        let e = Event::new(&clock(), EventType::JobClosed, clock().now(), json!({"job_id": "j"}));
        let env = e.envelope();
        assert_eq!(
            (env["type"].as_str(), env["timestamp"].as_str()),
            (Some("job.closed"), Some("2026-12-01T09:00:00.000Z"))
        );
        assert_eq!(env["id"].as_str().map(str::len), Some(26));
    }
}
