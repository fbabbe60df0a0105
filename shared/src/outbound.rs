//! The port to webhook receivers: one POST of a signed body and what came back. What is sent, to
//! whom and when is decided in `app::webhooks`.
//!
//! A receiver's URL is chosen by an admin, so a request must not become a way into the deployment's
//! own network: with [`Reach::Public`] (the default everywhere but the local stack) only https is
//! spoken, an IP literal in a refused range ([`refused_ip`]) is never connected to, and a host name
//! is resolved here and its refused addresses dropped before the connection is made, so a name that
//! points to 127.0.0.1 or the instance metadata address reaches nothing. Redirects are not followed
//! (a 3xx is a failed attempt), no proxy is used, connecting may take 3 s and the whole attempt 10 s,
//! and at most 4 KiB of the answer is read (and dropped: only its status is kept).
use crate::webhook::{refused_ip, Outcome, Reach, WebhookUrl};
use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

/// How long connecting may take.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);
/// How long a whole attempt may take, answer included.
pub const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(10);
/// How much of an answer is read.
pub const MAX_ANSWER_BYTES: usize = 4 * 1024;

const REFUSED: &str = "refused: the address is private, loopback or link-local";

/// A resolution that found only refused addresses.
#[derive(Debug)]
struct RefusedAddress;

impl std::fmt::Display for RefusedAddress {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(REFUSED)
    }
}

impl std::error::Error for RefusedAddress {}

/// Resolves a name and keeps only the addresses a webhook may reach.
struct PublicAddresses;

impl Resolve for PublicAddresses {
    fn resolve(&self, name: Name) -> Resolving {
        let host = name.as_str().to_string();
        Box::pin(async move {
            let found: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            let allowed: Vec<SocketAddr> = found.into_iter().filter(|a| !refused_ip(a.ip())).collect();
            if allowed.is_empty() {
                return Err(Box::new(RefusedAddress) as Box<dyn std::error::Error + Send + Sync>);
            }
            Ok(Box::new(allowed.into_iter()) as Addrs)
        })
    }
}

/// The port: a client built once per process, at its first use (most functions never deliver a
/// webhook, and building it loads the TLS roots: no cold start pays for it).
#[derive(Clone)]
pub struct Outbound {
    client: Arc<std::sync::OnceLock<reqwest::Client>>,
    reach: Reach,
}

impl Outbound {
    pub fn new(reach: Reach) -> Outbound {
        Outbound { client: Arc::default(), reach }
    }

    fn client(&self) -> &reqwest::Client {
        self.client.get_or_init(|| Self::build(self.reach))
    }

    fn build(reach: Reach) -> reqwest::Client {
        let builder = reqwest::Client::builder()
            .connect_timeout(CONNECT_TIMEOUT)
            .timeout(ATTEMPT_TIMEOUT)
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .user_agent(concat!("Rapport-Webhooks/", env!("CARGO_PKG_VERSION")));
        let builder = match reach {
            Reach::Public => builder.https_only(true).dns_resolver(Arc::new(PublicAddresses)),
            Reach::Anywhere => builder,
        };
        // Building fails only when the TLS backend cannot start: a broken build, not a request.
        builder.build().unwrap_or_else(|e| panic!("the webhook client cannot be built: {e}"))
    }

    pub fn reach(&self) -> Reach {
        self.reach
    }

    /// POSTs `body` (JSON) with `headers` to `url`: one attempt, never retried here.
    pub async fn post(&self, url: &WebhookUrl, headers: &[(&'static str, String)], body: &str) -> Outcome {
        let Ok(parsed) = reqwest::Url::parse(url.as_str()) else {
            return Outcome { status: None, error: Some("the URL does not parse".into()) };
        };
        // A resolver is never asked about an IP literal: check it here.
        let literal = match parsed.host() {
            Some(url::Host::Ipv4(ip)) => Some(IpAddr::V4(ip)),
            Some(url::Host::Ipv6(ip)) => Some(IpAddr::V6(ip)),
            _ => None,
        };
        if self.reach == Reach::Public && literal.is_some_and(refused_ip) {
            return Outcome { status: None, error: Some(REFUSED.into()) };
        }
        let mut req = self.client().post(parsed).header("content-type", "application/json");
        for (name, value) in headers {
            req = req.header(*name, value.as_str());
        }
        match req.body(body.to_string()).send().await {
            Ok(mut res) => {
                let status = res.status().as_u16();
                let mut read = 0;
                // The answer is read only so far, then dropped; a slow one ends at the timeout.
                while read < MAX_ANSWER_BYTES {
                    match res.chunk().await {
                        Ok(Some(chunk)) => read += chunk.len(),
                        _ => break,
                    }
                }
                Outcome { status: Some(status), error: None }
            }
            Err(e) => Outcome { status: None, error: Some(why(&e)) },
        }
    }
}

/// A failed request in a few words, never the receiver's text.
fn why(e: &reqwest::Error) -> String {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(s) = source {
        if s.is::<RefusedAddress>() {
            return REFUSED.into();
        }
        source = s.source();
    }
    if e.is_timeout() {
        "timeout".into()
    } else if e.is_connect() {
        "connection failed".into()
    } else {
        "request failed".into()
    }
}
