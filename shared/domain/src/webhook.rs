//! Webhooks: endpoints that other systems register to receive Rapport's events, signed as the
//! Standard Webhooks specification says (<https://www.standardwebhooks.com>), and the rules of their
//! delivery: the retry schedule after a failed attempt and when a failing endpoint is disabled.
//!
//! A delivery is one event to one endpoint. Its `webhook-id` is the event's id, the same on every
//! attempt and replay, so a receiver can drop a repeat; `webhook-timestamp` is the attempt's time and
//! `webhook-signature` is `v1,<base64 HMAC-SHA256 of "{id}.{timestamp}.{body}">` under the endpoint's
//! secret, followed by a second signature under the previous secret while a rotated-out one is still
//! honoured.
use crate::event::{Event, EventType};
use crate::ids::{EventId, WebhookId};
use crate::parse::{Fields, FromField, Line};
use crate::Invalid;
use base64::{engine::general_purpose::STANDARD as B64, Engine};
use chrono::{DateTime, Duration, Utc};
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::Sha256;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// The longest endpoint URL accepted.
pub const MAX_URL: usize = 2000;

/// Where endpoints may be: public addresses over https only (production), or anywhere, plain http
/// included (the local stack, whose receivers listen on 127.0.0.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reach {
    Public,
    Anywhere,
}

/// An endpoint's URL: absolute, https (http only where [`Reach::Anywhere`]), at most
/// [`MAX_URL`] characters, without userinfo or fragment, and never an IP literal in a private,
/// loopback, link-local or otherwise internal range unless anywhere is allowed. A host name is
/// checked again when it is resolved, before each connection.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct WebhookUrl(String);

impl WebhookUrl {
    pub fn parse(raw: &str, reach: Reach) -> Result<WebhookUrl, String> {
        let raw = raw.trim();
        if raw.chars().count() > MAX_URL {
            return Err(format!("must be at most {MAX_URL} characters"));
        }
        let url = url::Url::parse(raw).map_err(|_| "must be an absolute https URL".to_string())?;
        match (url.scheme(), reach) {
            ("https", _) | ("http", Reach::Anywhere) => {}
            _ => return Err("must be an https URL".into()),
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err("must not hold a user name or password".into());
        }
        if url.fragment().is_some() {
            return Err("must not have a fragment".into());
        }
        let ip = match url.host() {
            None => return Err("must name a host".into()),
            Some(url::Host::Domain(_)) => None,
            Some(url::Host::Ipv4(ip)) => Some(IpAddr::V4(ip)),
            Some(url::Host::Ipv6(ip)) => Some(IpAddr::V6(ip)),
        };
        if reach == Reach::Public && ip.is_some_and(refused_ip) {
            return Err("must not point to a private, loopback or link-local address".into());
        }
        Ok(WebhookUrl(url.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Whether an address is one a webhook must never reach from inside the deployment: loopback,
/// private (RFC 1918), shared (100.64.0.0/10), link-local (169.254.0.0/16, the instance metadata
/// address among them; fe80::/10), unique local (fc00::/7), unspecified, multicast, broadcast and
/// reserved ranges, and IPv4 addresses wrapped in IPv6 (mapped, compatible, NAT64) that are any of those.
pub fn refused_ip(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => refused_v4(v4),
        IpAddr::V6(v6) => refused_v6(v6),
    }
}

fn refused_v4(ip: Ipv4Addr) -> bool {
    let [a, b, c, _] = ip.octets();
    ip.is_loopback()
        || ip.is_private()
        || ip.is_link_local()
        || ip.is_unspecified()
        || ip.is_multicast()
        || ip.is_broadcast()
        || a == 0
        || (a == 100 && (64..128).contains(&b))
        || (a == 192 && b == 0 && c == 0)
        || (a == 198 && (18..20).contains(&b))
        || a >= 240
}

fn refused_v6(ip: Ipv6Addr) -> bool {
    let s = ip.segments();
    if let Some(v4) = ip.to_ipv4_mapped() {
        return refused_v4(v4);
    }
    // IPv4-compatible (::a.b.c.d, deprecated) and the NAT64 prefix 64:ff9b::/96 carry an IPv4 address.
    let embedded = Ipv4Addr::new((s[6] >> 8) as u8, s[6] as u8, (s[7] >> 8) as u8, s[7] as u8);
    if s[..6].iter().all(|x| *x == 0) && !ip.is_loopback() && !ip.is_unspecified() {
        return refused_v4(embedded);
    }
    if s[0] == 0x64 && s[1] == 0xff9b && s[2..6].iter().all(|x| *x == 0) {
        return refused_v4(embedded);
    }
    ip.is_loopback()
        || ip.is_unspecified()
        || ip.is_multicast()
        || (s[0] & 0xffc0) == 0xfe80
        || (s[0] & 0xfe00) == 0xfc00
        // Site-local (deprecated, fec0::/10) and 6to4 relays of refused IPv4 addresses.
        || (s[0] & 0xffc0) == 0xfec0
        || (s[0] == 0x2002 && refused_v4(Ipv4Addr::new((s[1] >> 8) as u8, s[1] as u8, (s[2] >> 8) as u8, s[2] as u8)))
}

/// The event types an endpoint receives: every type (now and added later), or a non-empty list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Subscription {
    All,
    Only(Vec<EventType>),
}

/// How a subscription to every type is written.
const ALL: &str = "*";

impl Subscription {
    pub fn includes(&self, kind: EventType) -> bool {
        match self {
            Subscription::All => true,
            Subscription::Only(kinds) => kinds.contains(&kind),
        }
    }
}

impl FromField for Subscription {
    fn from_field(v: &Value) -> Result<Self, String> {
        let Value::Array(items) = v else {
            return Err("must be an array of event types, or [\"*\"] for every type".into());
        };
        if items.is_empty() {
            return Err("must name at least one event type, or \"*\" for every type".into());
        }
        if items.len() == 1 && items[0] == ALL {
            return Ok(Subscription::All);
        }
        if items.iter().any(|i| i == ALL) {
            return Err("\"*\" stands alone: it means every type".into());
        }
        Vec::<EventType>::from_field(v).map(Subscription::Only)
    }
}

impl Serialize for Subscription {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Subscription::All => [ALL].serialize(s),
            Subscription::Only(kinds) => kinds.serialize(s),
        }
    }
}

impl<'de> Deserialize<'de> for Subscription {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let v = Value::deserialize(d)?;
        Subscription::from_field(&v).map_err(serde::de::Error::custom)
    }
}

crate::choice!(
    /// Why an endpoint receives nothing: an admin turned it off (`manual`), or its deliveries failed
    /// without a break for [`disable_after`] (`failing`).
    DisabledReason { Manual = "manual", Failing = "failing" }
);

/// One registered endpoint. Its secrets are kept beside it, never in this record (see [`Secrets`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Endpoint {
    pub id: WebhookId,
    pub url: WebhookUrl,
    pub events: Subscription,
    pub description: String,
    pub enabled: bool,
    /// Why it is disabled; `None` while enabled.
    pub disabled_reason: Option<DisabledReason>,
    /// When its deliveries started failing without a success since; `None` while they succeed.
    pub failing_since: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl Endpoint {
    pub fn new(id: WebhookId, input: NewEndpoint, now: DateTime<Utc>) -> Endpoint {
        Endpoint {
            id,
            url: input.url,
            events: input.events,
            description: input.description,
            enabled: true,
            disabled_reason: None,
            failing_since: None,
            created_at: now,
            updated_at: now,
        }
    }

    /// Whether this endpoint receives an event of `kind` now.
    pub fn wants(&self, kind: EventType) -> bool {
        self.enabled && self.events.includes(kind)
    }

    /// The endpoint with `patch` applied. Enabling starts afresh (no failing streak); disabling by
    /// hand says so.
    pub fn patched(&self, patch: EndpointPatch, now: DateTime<Utc>) -> Endpoint {
        let mut e = self.clone();
        if let Some(url) = patch.url {
            e.url = url;
        }
        if let Some(events) = patch.events {
            e.events = events;
        }
        if let Some(d) = patch.description {
            e.description = d;
        }
        match patch.enabled {
            Some(true) if !e.enabled => {
                e.enabled = true;
                e.disabled_reason = None;
                e.failing_since = None;
            }
            Some(false) if e.enabled => {
                e.enabled = false;
                e.disabled_reason = Some(DisabledReason::Manual);
            }
            _ => {}
        }
        e.updated_at = now;
        e
    }
}

/// `POST /api/webhooks`: `{url, events, description?}`.
#[derive(Debug, Clone, PartialEq)]
pub struct NewEndpoint {
    pub url: WebhookUrl,
    pub events: Subscription,
    pub description: String,
}

/// An endpoint's description: one line, at most 500 characters.
type Description = Line<0, 500>;

/// A URL field, checked for `reach`.
fn url_field(f: &mut Fields, name: &str, required: bool, reach: Reach) -> Option<Option<WebhookUrl>> {
    let raw = match f.take(name) {
        None if required => {
            f.error(name, "is required");
            return None;
        }
        None => return Some(None),
        Some(v) => v,
    };
    let Some(s) = raw.as_str() else {
        f.error(name, "must be a string");
        return None;
    };
    match WebhookUrl::parse(s, reach) {
        Ok(u) => Some(Some(u)),
        Err(e) => {
            f.error(name, e);
            None
        }
    }
}

impl NewEndpoint {
    pub fn parse(body: Value, reach: Reach) -> Result<NewEndpoint, Invalid> {
        Fields::parse(body, |f| {
            let url = url_field(f, "url", true, reach);
            let events = f.req::<Subscription>("events");
            let description = f.opt::<Description>("description");
            Some(NewEndpoint {
                url: url??,
                events: events?,
                description: description?.map(|d| d.0).unwrap_or_default(),
            })
        })
    }
}

/// `PATCH /api/webhooks/{id}`: any of `url`, `events`, `description`, `enabled`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct EndpointPatch {
    pub url: Option<WebhookUrl>,
    pub events: Option<Subscription>,
    pub description: Option<String>,
    pub enabled: Option<bool>,
}

impl EndpointPatch {
    pub fn parse(body: Value, reach: Reach) -> Result<EndpointPatch, Invalid> {
        Fields::parse(body, |f| {
            let url = url_field(f, "url", false, reach);
            let events = f.opt::<Subscription>("events");
            let description = f.opt::<Description>("description");
            let enabled = f.opt::<bool>("enabled");
            Some(EndpointPatch {
                url: url?,
                events: events?,
                description: description?.map(|d| d.0),
                enabled: enabled?,
            })
        })
    }
}

/// How many random bytes a secret holds.
pub const SECRET_BYTES: usize = 24;
const SECRET_PREFIX: &str = "whsec_";

/// A signing secret as Standard Webhooks writes it: `whsec_` and the base64 of its key. Shown to the
/// admin once, when made; never logged.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

impl Secret {
    /// A secret of these (random) bytes.
    pub fn from_bytes(key: &[u8; SECRET_BYTES]) -> Secret {
        Secret(format!("{SECRET_PREFIX}{}", B64.encode(key)))
    }

    /// A stored secret; `None` unless it is `whsec_` and base64 of a key.
    pub fn parse(s: &str) -> Option<Secret> {
        let key = B64.decode(s.strip_prefix(SECRET_PREFIX)?).ok()?;
        (!key.is_empty()).then(|| Secret(s.to_string()))
    }

    /// The secret as the admin copies it (`whsec_…`).
    pub fn expose(&self) -> &str {
        &self.0
    }

    fn key(&self) -> Vec<u8> {
        B64.decode(&self.0[SECRET_PREFIX.len()..]).unwrap_or_default()
    }

    /// `v1,<base64 HMAC-SHA256(key, "{id}.{timestamp}.{body}")>`.
    pub fn sign(&self, id: &str, timestamp: i64, body: &str) -> String {
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.key()).expect("HMAC takes any key length");
        mac.update(format!("{id}.{timestamp}.{body}").as_bytes());
        format!("v1,{}", B64.encode(mac.finalize().into_bytes()))
    }
}

/// How long a rotated-out secret still signs, so receivers can switch to the new one unhurried.
pub fn old_secret_valid() -> Duration {
    Duration::hours(24)
}

/// An endpoint's secrets: the current one, and the one it replaced with the time it stops signing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Secrets {
    pub current: Secret,
    pub previous: Option<(Secret, DateTime<Utc>)>,
}

impl Secrets {
    pub fn new(current: Secret) -> Secrets {
        Secrets { current, previous: None }
    }

    /// After a rotation at `now` to `next`: the current secret becomes the previous one for
    /// [`old_secret_valid`]. (A second rotation within that time drops the oldest.)
    pub fn rotated(self, next: Secret, now: DateTime<Utc>) -> Secrets {
        Secrets { current: next, previous: Some((self.current, now + old_secret_valid())) }
    }

    /// The secrets that sign at `now`: the current one first.
    pub fn signing(&self, now: DateTime<Utc>) -> Vec<&Secret> {
        let mut out = vec![&self.current];
        if let Some((old, until)) = &self.previous {
            if now < *until {
                out.push(old);
            }
        }
        out
    }

    /// The three Standard Webhooks headers of one attempt at `now` of message `id` with `body`.
    pub fn headers(&self, id: &str, now: DateTime<Utc>, body: &str) -> [(&'static str, String); 3] {
        let ts = now.timestamp();
        let signatures: Vec<String> = self.signing(now).iter().map(|s| s.sign(id, ts, body)).collect();
        [
            ("webhook-id", id.to_string()),
            ("webhook-timestamp", ts.to_string()),
            ("webhook-signature", signatures.join(" ")),
        ]
    }
}

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
    use serde_json::json;

    fn t0() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 12, 1, 9, 0, 0).unwrap()
    }

    #[test]
    fn signs_as_the_reference_library_and_the_spec_do() {
        // The known vector of the Standard Webhooks reference library's own tests (Rust, 1.0.1).
        let secret = Secret::parse("whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD").unwrap();
        assert_eq!(
            secret.sign(
                "msg_27UH4WbU6Z5A5EzD8u03UvzRbpk",
                1649367553,
                r#"{"email":"test@example.com","username":"test_user"}"#
            ),
            "v1,tZ1I4/hDygAJgO5TYxiSd6Sd0kDW6hPenDe+bTa3Kkw="
        );
    }

    #[test]
    fn secrets_are_whsec_and_24_bytes_of_base64() {
        let s = Secret::from_bytes(&[7; SECRET_BYTES]);
        assert!(s.expose().starts_with("whsec_"));
        assert_eq!(B64.decode(&s.expose()[6..]).unwrap().len(), 24);
        assert_eq!(Secret::parse(s.expose()), Some(s.clone()));
        assert!(Secret::parse("whsec_").is_none() && Secret::parse("nope").is_none());
        assert!(!format!("{s:?}").contains("whsec_"), "never in logs");
    }

    #[test]
    fn a_rotated_out_secret_signs_too_for_24_hours() {
        let old = Secret::from_bytes(&[1; SECRET_BYTES]);
        let new = Secret::from_bytes(&[2; SECRET_BYTES]);
        let s = Secrets::new(old.clone()).rotated(new.clone(), t0());
        let [(_, id), (_, ts), (_, sig)] = s.headers("e1", t0() + Duration::hours(23), "{}");
        assert_eq!(id, "e1");
        let ts: i64 = ts.parse().unwrap();
        assert_eq!(sig, format!("{} {}", new.sign("e1", ts, "{}"), old.sign("e1", ts, "{}")));
        let [_, _, (_, sig)] = s.headers("e1", t0() + Duration::hours(24), "{}");
        assert_eq!(sig.split(' ').count(), 1);
        assert_eq!(s.signing(t0() + Duration::hours(24)), vec![&new]);
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
    fn urls_are_https_public_and_plain() {
        let ok = |u: &str| WebhookUrl::parse(u, Reach::Public);
        assert_eq!(ok("https://hooks.example.com/in?x=1").unwrap().as_str(), "https://hooks.example.com/in?x=1");
        for bad in [
            "http://hooks.example.com/in",
            "ftp://hooks.example.com/",
            "/relative",
            "https://user:pw@hooks.example.com/",
            "https://hooks.example.com/#frag",
            "https://127.0.0.1/",
            "https://10.1.2.3/",
            "https://172.16.0.1/",
            "https://192.168.1.1/",
            "https://100.64.0.1/",
            "https://169.254.169.254/latest/meta-data",
            "https://0.0.0.0/",
            "https://[::1]/",
            "https://[fe80::1]/",
            "https://[fd00::1]/",
            "https://[::ffff:127.0.0.1]/",
            "https://[::ffff:169.254.169.254]/",
            "https://[64:ff9b::a9fe:a9fe]/",
        ] {
            assert!(ok(bad).is_err(), "{bad}");
        }
        assert!(ok(&format!("https://h.example.com/{}", "a".repeat(MAX_URL))).is_err());
        // A name is checked when it is resolved, before each connection.
        assert!(ok("https://localhost:8443/").is_ok());
        assert!(ok("https://[2606:4700::1111]/").is_ok() && ok("https://1.1.1.1/").is_ok());
        assert!(WebhookUrl::parse("http://127.0.0.1:9000/in", Reach::Anywhere).is_ok());
    }

    #[test]
    fn refused_addresses() {
        for ip in [
            "127.0.0.1",
            "10.0.0.1",
            "172.31.255.255",
            "192.168.0.1",
            "100.127.0.1",
            "169.254.169.254",
            "0.0.0.0",
            "224.0.0.1",
            "255.255.255.255",
            "::",
            "::1",
            "fe80::1",
            "fc00::1",
            "fdff::1",
            "ff02::1",
            "::ffff:10.0.0.1",
            "::127.0.0.1",
            "2002:7f00:1::1",
        ] {
            assert!(refused_ip(ip.parse().unwrap()), "{ip}");
        }
        for ip in ["1.1.1.1", "100.128.0.1", "172.32.0.1", "2606:4700::1111", "::ffff:8.8.8.8"] {
            assert!(!refused_ip(ip.parse().unwrap()), "{ip}");
        }
    }

    #[test]
    fn endpoints_parse_with_every_bad_field_listed() {
        let e =
            NewEndpoint::parse(json!({"url": "https://h.example.com/in", "events": ["job.published"]}), Reach::Public)
                .unwrap();
        assert!(e.events.includes(EventType::JobPublished) && !e.events.includes(EventType::JobClosed));
        let all = NewEndpoint::parse(
            json!({"url": "https://h.example.com", "events": ["*"], "description": "ATS"}),
            Reach::Public,
        )
        .unwrap();
        assert_eq!(all.events, Subscription::All);
        assert_eq!(serde_json::to_value(&all.events).unwrap(), json!(["*"]));
        let err = NewEndpoint::parse(
            json!({"url": "http://h.example.com", "events": ["job.opened"], "description": 5, "secret": "x"}),
            Reach::Public,
        )
        .unwrap_err();
        let Invalid::Fields(errors) = err else { panic!("{err:?}") };
        let fields: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, vec!["url", "events", "description", "secret"]);
        for events in [json!([]), json!(["*", "job.closed"]), json!("*"), json!(["job.closed", "job.closed"])] {
            assert!(
                NewEndpoint::parse(json!({"url": "https://h.example.com", "events": events}), Reach::Public).is_err()
            );
        }
    }

    #[test]
    fn enabling_starts_afresh_and_disabling_by_hand_says_so() {
        let input =
            NewEndpoint::parse(json!({"url": "https://h.example.com", "events": ["*"]}), Reach::Public).unwrap();
        let mut e = Endpoint::new(WebhookId::new(&crate::clock::FixedClock::new(t0())), input, t0());
        let off = e.patched(EndpointPatch { enabled: Some(false), ..Default::default() }, t0());
        assert_eq!((off.enabled, off.disabled_reason), (false, Some(DisabledReason::Manual)));
        assert!(!off.wants(EventType::JobClosed));
        e.enabled = false;
        e.disabled_reason = Some(DisabledReason::Failing);
        e.failing_since = Some(t0());
        let on = e.patched(EndpointPatch { enabled: Some(true), ..Default::default() }, t0());
        assert_eq!((on.enabled, on.disabled_reason, on.failing_since), (true, None, None));
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
