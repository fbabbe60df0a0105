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
//!
//! The client is hyper's, over the TLS stack the AWS SDK clients already link (rustls with the
//! aws-lc provider), trusting the Mozilla root programme's CAs (webpki-roots) as receivers on the
//! public web need: no second HTTP or TLS stack in the binaries.
use crate::webhook::{refused_ip, Outcome, Reach, WebhookUrl};
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_rustls::{HttpsConnector, MaybeHttpsStream};
use hyper_util::client::legacy::connect::dns::Name;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::net::TcpStream;
use tower::Service;

/// How long connecting may take.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);
/// How long a whole attempt may take, answer included.
pub const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(10);
/// How much of an answer is read.
pub const MAX_ANSWER_BYTES: usize = 4 * 1024;

const REFUSED: &str = "refused: the address is private, loopback or link-local";
const USER_AGENT: &str = concat!("Rapport-Webhooks/", env!("CARGO_PKG_VERSION"));

type BoxError = Box<dyn std::error::Error + Send + Sync>;
type BoxFuture<T> = Pin<Box<dyn Future<Output = Result<T, BoxError>> + Send>>;

/// A resolution that found only refused addresses.
#[derive(Debug)]
struct RefusedAddress;

impl std::fmt::Display for RefusedAddress {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(REFUSED)
    }
}

impl std::error::Error for RefusedAddress {}

/// Resolves a name (the system's resolver, as `getaddrinfo` answers) and, with [`Reach::Public`],
/// keeps only the addresses a webhook may reach. IP literals never come here: they are checked in
/// [`Outbound::post`].
#[derive(Clone, Copy)]
struct Resolver(Reach);

impl Service<Name> for Resolver {
    type Response = std::vec::IntoIter<SocketAddr>;
    type Error = BoxError;
    type Future = BoxFuture<Self::Response>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, name: Name) -> Self::Future {
        let reach = self.0;
        Box::pin(async move {
            let found: Vec<SocketAddr> = tokio::net::lookup_host((name.as_str(), 0)).await?.collect();
            if reach == Reach::Anywhere {
                return Ok(found.into_iter());
            }
            let allowed: Vec<SocketAddr> = found.into_iter().filter(|a| !refused_ip(a.ip())).collect();
            if allowed.is_empty() {
                return Err(Box::new(RefusedAddress) as BoxError);
            }
            Ok(allowed.into_iter())
        })
    }
}

/// The connector: resolving, TCP and TLS together within [`CONNECT_TIMEOUT`].
#[derive(Clone)]
struct Connector(HttpsConnector<HttpConnector<Resolver>>);

impl Service<http::Uri> for Connector {
    type Response = MaybeHttpsStream<TokioIo<TcpStream>>;
    type Error = BoxError;
    type Future = BoxFuture<Self::Response>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.0.poll_ready(cx)
    }

    fn call(&mut self, dst: http::Uri) -> Self::Future {
        let connecting = self.0.call(dst);
        Box::pin(async move {
            match tokio::time::timeout(CONNECT_TIMEOUT, connecting).await {
                Ok(connected) => connected,
                Err(_) => Err(Box::new(std::io::Error::from(std::io::ErrorKind::TimedOut)) as BoxError),
            }
        })
    }
}

type HttpClient = Client<Connector, Full<Bytes>>;

/// The port: a client built once per process, at its first use (most functions never deliver a
/// webhook, and building it loads the TLS roots: no cold start pays for it).
#[derive(Clone)]
pub struct Outbound {
    client: Arc<std::sync::OnceLock<Result<HttpClient, String>>>,
    reach: Reach,
}

impl Outbound {
    pub fn new(reach: Reach) -> Outbound {
        Outbound { client: Arc::default(), reach }
    }

    fn client(&self) -> Result<&HttpClient, &str> {
        self.client.get_or_init(|| Self::build(self.reach)).as_ref().map_err(String::as_str)
    }

    /// Fails only when the TLS backend cannot start (a broken build): every attempt then fails,
    /// logged with why, and nothing panics.
    fn build(reach: Reach) -> Result<HttpClient, String> {
        let mut http = HttpConnector::new_with_resolver(Resolver(reach));
        http.enforce_http(false);
        http.set_nodelay(true);
        http.set_connect_timeout(Some(CONNECT_TIMEOUT));
        let provider = rustls::crypto::aws_lc_rs::default_provider();
        let tls = hyper_rustls::HttpsConnectorBuilder::new().with_provider_and_webpki_roots(provider).map_err(|e| {
            tracing::error!(error = %e, "the webhook client cannot be built");
            format!("the webhook client cannot be built: {e}")
        })?;
        let tls = match reach {
            Reach::Public => tls.https_only(),
            Reach::Anywhere => tls.https_or_http(),
        };
        let connector = Connector(tls.enable_http1().wrap_connector(http));
        // Redirects are not followed (this client never does) and no proxy is used (none is set).
        Ok(Client::builder(TokioExecutor::new())
            .timer(TokioTimer::new())
            .pool_timer(TokioTimer::new())
            .pool_idle_timeout(Duration::from_secs(90))
            .build(connector))
    }

    pub fn reach(&self) -> Reach {
        self.reach
    }

    /// POSTs `body` (JSON) with `headers` to `url`: one attempt, never retried here.
    pub async fn post(&self, url: &WebhookUrl, headers: &[(&'static str, String)], body: &str) -> Outcome {
        let Ok(parsed) = url::Url::parse(url.as_str()) else {
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
        if self.reach == Reach::Public && parsed.scheme() != "https" {
            return failed("request failed");
        }
        let mut req = http::Request::post(parsed.as_str()).header("content-type", "application/json");
        for (name, value) in headers {
            req = req.header(*name, value.as_str());
        }
        let req = req.header("user-agent", USER_AGENT).header("accept", "*/*");
        let Ok(req) = req.body(Full::new(Bytes::from(body.to_string()))) else {
            return failed("request failed");
        };
        let client = match self.client() {
            Ok(client) => client,
            Err(why) => return failed(why),
        };
        let deadline = tokio::time::Instant::now() + ATTEMPT_TIMEOUT;
        let res = match tokio::time::timeout_at(deadline, client.request(req)).await {
            Ok(Ok(res)) => res,
            Ok(Err(e)) => return failed(&why(&e)),
            Err(_) => return failed("timeout"),
        };
        let status = res.status().as_u16();
        let mut answer = res.into_body();
        let mut read = 0;
        // The answer is read only so far, then dropped; a slow one ends at the timeout.
        while read < MAX_ANSWER_BYTES {
            match tokio::time::timeout_at(deadline, answer.frame()).await {
                Ok(Some(Ok(frame))) => read += frame.data_ref().map_or(0, Bytes::len),
                _ => break,
            }
        }
        Outcome { status: Some(status), error: None }
    }
}

fn failed(why: &str) -> Outcome {
    Outcome { status: None, error: Some(why.into()) }
}

/// A failed request in a few words, never the receiver's text.
fn why(e: &hyper_util::client::legacy::Error) -> String {
    let mut timed_out = false;
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(s) = source {
        if s.is::<RefusedAddress>() {
            return REFUSED.into();
        }
        timed_out |= s.downcast_ref::<std::io::Error>().is_some_and(|io| io.kind() == std::io::ErrorKind::TimedOut);
        source = s.source();
    }
    if timed_out {
        "timeout".into()
    } else if e.is_connect() {
        "connection failed".into()
    } else {
        "request failed".into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_reaches_build_a_client_over_the_sdks_tls_stack() {
        for reach in [Reach::Public, Reach::Anywhere] {
            assert!(Outbound::new(reach).client().is_ok(), "{reach:?}");
        }
    }

    #[tokio::test]
    async fn a_public_reach_refuses_plain_http_and_names_that_resolve_to_loopback() {
        let out = Outbound::new(Reach::Public);
        // Parsed as the local stack allows, so that only the delivery's own checks stand.
        let url = |u: &str| WebhookUrl::parse(u, Reach::Anywhere).unwrap();
        let plain = out.post(&url("http://example.com/hook"), &[], "{}").await;
        assert_eq!((plain.status, plain.error.as_deref()), (None, Some("request failed")));
        let literal = out.post(&url("https://127.0.0.1/hook"), &[], "{}").await;
        assert_eq!(literal.error.as_deref(), Some(REFUSED));
        // `localhost` resolves (from /etc/hosts) to loopback only: nothing is left to connect to.
        let named = out.post(&url("https://localhost/hook"), &[], "{}").await;
        assert_eq!((named.status, named.error.as_deref()), (None, Some(REFUSED)));
    }
}
