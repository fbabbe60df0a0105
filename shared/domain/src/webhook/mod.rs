//! Webhooks: endpoints that other systems register to receive Rapport's events, signed as the
//! Standard Webhooks specification says (<https://www.standardwebhooks.com>), and the rules of their
//! delivery: the retry schedule after a failed attempt and when a failing endpoint is disabled.
//!
//! A delivery is one event to one endpoint. Its `webhook-id` is the event's id, the same on every
//! attempt and replay, so a receiver can drop a repeat; `webhook-timestamp` is the attempt's time and
//! `webhook-signature` is `v1,<base64 HMAC-SHA256 of "{id}.{timestamp}.{body}">` under the endpoint's
//! secret, followed by a second signature under the previous secret while a rotated-out one is still
//! honoured.
use crate::event::EventType;
use crate::ids::WebhookId;
use crate::parse::{Fields, FromField, Line};
use crate::Invalid;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

mod delivery;
mod secret;
pub use delivery::*;
pub use secret::*;

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

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use serde_json::json;

    fn t0() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 12, 1, 9, 0, 0).unwrap()
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
}
