//! One event to one endpoint: where its delivery stands, the retry schedule after a failed attempt,
//! and when an endpoint failing without a success is disabled.
use crate::event::{Event, EventType};
use crate::ids::{EventId, WebhookId};
use chrono::{DateTime, Duration, Utc};
use serde::Serialize;

crate::choice!(
    /// Where one delivery stands: `pending` (its next attempt is scheduled), `delivered` (the endpoint
    /// answered 2xx), `failed` (every attempt of the schedule failed, or the endpoint went away or was
    /// disabled).
    DeliveryStatus { Pending = "pending", Delivered = "delivered", Failed = "failed" }
);

/// The pauses after each failed attempt: 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h; after the eighth
/// attempt fails the delivery has failed.
pub const RETRY_DELAYS_SECONDS: [i64; 7] = [5, 300, 1_800, 7_200, 18_000, 36_000, 36_000];

/// Attempts a delivery gets in all.
pub const MAX_ATTEMPTS: u32 = RETRY_DELAYS_SECONDS.len() as u32 + 1;

/// When to try again after attempt number `attempts` (1 for the first) failed at `at`; `None`: give up.
pub fn next_attempt(attempts: u32, at: DateTime<Utc>) -> Option<DateTime<Utc>> {
    let delay = RETRY_DELAYS_SECONDS.get(usize::try_from(attempts).ok()?.checked_sub(1)?)?;
    Some(at + Duration::seconds(*delay))
}

/// How long an endpoint's deliveries may fail without a single success before it is disabled.
pub fn disable_after() -> Duration {
    Duration::days(5)
}

/// Whether an endpoint failing since `failing_since` is to be disabled at `now`.
pub fn should_disable(failing_since: Option<DateTime<Utc>>, now: DateTime<Utc>) -> bool {
    failing_since.is_some_and(|since| now - since >= disable_after())
}

/// What one attempt came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    /// The receiver's status code; `None` when no answer came (refused address, connection, timeout).
    pub status: Option<u16>,
    /// Why there was no answer, or a short note on a refusal; never the receiver's body.
    pub error: Option<String>,
}

impl Outcome {
    /// A 2xx: received. Anything else (a redirect included, as redirects are not followed) is retried.
    pub fn received(&self) -> bool {
        self.status.is_some_and(|s| (200..300).contains(&s))
    }
}

/// One event to one endpoint: where it stands and what its last attempt came to. `body` is what
/// every attempt sends (the event's envelope), kept so that a retry or replay sends the same bytes
/// after the event item is gone; it holds ids and codes only, never personal data.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Delivery {
    pub webhook_id: WebhookId,
    pub event_id: EventId,
    pub event_type: EventType,
    pub status: DeliveryStatus,
    pub attempts: u32,
    /// The receiver's status code at the last attempt; `None` when it gave no answer.
    pub last_response_code: Option<u16>,
    pub last_error: Option<String>,
    pub last_attempt_at: Option<DateTime<Utc>>,
    /// When it is tried next; `None` once delivered or failed.
    pub next_attempt_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    #[serde(skip)]
    pub body: String,
}

impl Delivery {
    /// A new delivery of `event` to `webhook`, due at once.
    pub fn new(webhook: WebhookId, event: &Event, now: DateTime<Utc>) -> Delivery {
        Delivery {
            webhook_id: webhook,
            event_id: event.id,
            event_type: event.kind,
            status: DeliveryStatus::Pending,
            attempts: 0,
            last_response_code: None,
            last_error: None,
            last_attempt_at: None,
            next_attempt_at: Some(now),
            created_at: now,
            body: event.envelope().to_string(),
        }
    }

    /// The delivery after an attempt at `now` that came to `outcome`. An attempt of the schedule
    /// (`Attempt::Scheduled`) that fails is retried as [`next_attempt`] says, or the delivery has
    /// failed; a replay that fails leaves a pending delivery on its schedule and any other failed.
    pub fn attempted(&self, outcome: &Outcome, now: DateTime<Utc>, kind: Attempt) -> Delivery {
        let mut d = self.clone();
        d.attempts += 1;
        d.last_response_code = outcome.status;
        d.last_error = outcome.error.clone();
        d.last_attempt_at = Some(now);
        let (status, next) = if outcome.received() {
            (DeliveryStatus::Delivered, None)
        } else {
            match (kind, self.status) {
                (Attempt::Scheduled, _) => match next_attempt(d.attempts, now) {
                    Some(t) => (DeliveryStatus::Pending, Some(t)),
                    None => (DeliveryStatus::Failed, None),
                },
                (Attempt::Replay, DeliveryStatus::Pending) => (DeliveryStatus::Pending, self.next_attempt_at),
                (Attempt::Replay, _) => (DeliveryStatus::Failed, None),
            }
        };
        d.status = status;
        d.next_attempt_at = next;
        d
    }

    /// The delivery given up without an attempt (its endpoint is disabled or gone).
    pub fn abandoned(&self, why: &str) -> Delivery {
        let mut d = self.clone();
        d.status = DeliveryStatus::Failed;
        d.next_attempt_at = None;
        d.last_error = Some(why.to_string());
        d
    }
}

/// Whether an attempt is one of the schedule (the first, or a retry) or a replay an admin asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Attempt {
    Scheduled,
    Replay,
}

/// The type of the ping `POST /api/webhooks/{id}/test` sends (not an event: never retried or logged).
pub const PING_TYPE: &str = "webhook.test";

/// The ping's body: an envelope like an event's, naming the endpoint.
pub fn ping_body(id: &EventId, webhook: &WebhookId, now: DateTime<Utc>) -> String {
    serde_json::json!({"id": id, "type": PING_TYPE, "timestamp": crate::clock::rfc3339(now),
                       "data": {"webhook_id": webhook}})
    .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use serde_json::Value;

    fn t0() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 12, 1, 9, 0, 0).unwrap()
    }

    #[test]
    fn the_retry_schedule_then_give_up() {
        let delays: Vec<i64> =
            (1..=MAX_ATTEMPTS).map(|n| next_attempt(n, t0()).map(|t| (t - t0()).num_seconds()).unwrap_or(-1)).collect();
        assert_eq!(delays, vec![5, 300, 1800, 7200, 18000, 36000, 36000, -1]);
        assert_eq!(next_attempt(0, t0()), None);
        assert_eq!(MAX_ATTEMPTS, 8);
    }

    #[test]
    fn an_endpoint_failing_for_five_days_is_disabled() {
        assert!(!should_disable(None, t0()));
        assert!(!should_disable(Some(t0()), t0() + Duration::days(5) - Duration::seconds(1)));
        assert!(should_disable(Some(t0()), t0() + Duration::days(5)));
    }

    #[test]
    fn a_delivery_follows_the_schedule_until_received_or_given_up() {
        let event = crate::event::candidate_erased(
            &crate::clock::FixedClock::new(t0()),
            &crate::ids::CandidateId::new(&crate::clock::FixedClock::new(t0())),
            t0(),
        );
        let hook = WebhookId::new(&crate::clock::FixedClock::new(t0()));
        let d = Delivery::new(hook, &event, t0());
        assert_eq!((d.status, d.attempts, d.next_attempt_at), (DeliveryStatus::Pending, 0, Some(t0())));
        assert_eq!(serde_json::from_str::<Value>(&d.body).unwrap(), event.envelope());
        let fail = Outcome { status: Some(500), error: None };
        let d1 = d.attempted(&fail, t0(), Attempt::Scheduled);
        assert_eq!(
            (d1.status, d1.attempts, d1.next_attempt_at),
            (DeliveryStatus::Pending, 1, Some(t0() + Duration::seconds(5)))
        );
        let mut last = d1;
        for _ in 1..MAX_ATTEMPTS {
            last = last.attempted(&fail, t0(), Attempt::Scheduled);
        }
        assert_eq!((last.status, last.attempts, last.next_attempt_at), (DeliveryStatus::Failed, 8, None));
        let replayed = last.attempted(&Outcome { status: Some(204), error: None }, t0(), Attempt::Replay);
        assert_eq!(
            (replayed.status, replayed.attempts, replayed.last_response_code),
            (DeliveryStatus::Delivered, 9, Some(204))
        );
        assert_eq!(last.attempted(&fail, t0(), Attempt::Replay).status, DeliveryStatus::Failed);
        let view = serde_json::to_value(&replayed).unwrap();
        assert!(view.get("body").is_none() && view["status"] == "delivered");
    }

    #[test]
    fn only_2xx_is_received() {
        let o = |s: Option<u16>| Outcome { status: s, error: None }.received();
        assert!(o(Some(200)) && o(Some(204)));
        assert!(!o(Some(301)) && !o(Some(500)) && !o(None));
    }
}
