//! The HTTP edge shared by every function: state, body and query parsing, and responses.
use crate::aws::Aws;
use crate::clock::SharedClock;
use crate::config::Config;
use crate::cursor::Cursors;
use crate::email::Mailer;
use crate::error::{ApiError, FieldError};
use crate::store::{PageRequest, Store};
use crate::token::Signer;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::response::{IntoResponse, Response};
use http::{header, request::Parts, StatusCode};
use serde::Serialize;
use std::collections::HashMap;
use std::sync::Arc;

/// What every handler needs, built once per process (per Lambda instance).
#[derive(Clone)]
pub struct AppState {
    pub config: Arc<Config>,
    pub clock: SharedClock,
    pub aws: Aws,
    pub store: Store,
    pub mailer: Mailer,
    pub signer: Signer,
    /// The career site's and this API's hosts: visits from them are not outside referrals.
    pub own_hosts: Arc<Vec<String>>,
}

impl AppState {
    pub fn new(config: Config, aws: Aws, clock: SharedClock) -> Self {
        let store =
            Store::new(aws.dynamo.clone(), config.table.clone(), Cursors::new(&config.signing_key), clock.clone());
        let mailer = Mailer::new(aws.ses.clone(), config.sender.clone(), config.ses_configuration_set.clone());
        let signer = Signer::new(&config.signing_key);
        let own_hosts = [&config.careers_url, &config.public_api_url]
            .iter()
            .filter_map(|u| url::Url::parse(u).ok()?.host_str().map(|h| h.trim_start_matches("www.").to_string()))
            .collect();
        Self { config: Arc::new(config), clock, aws, store, mailer, signer, own_hosts: Arc::new(own_hosts) }
    }

    /// What a Lambda function builds once at start: logging, the typed config, the AWS clients.
    pub async fn from_env() -> Result<Self, crate::config::ConfigError> {
        crate::logging::init();
        let config = Config::from_env()?;
        let aws = Aws::load(&config).await;
        Ok(Self::new(config, aws, Arc::new(crate::clock::SystemClock)))
    }

    /// The keyed hash under which a person's email is stored and looked up.
    pub fn email_hash(&self, email: &crate::email::Email) -> String {
        self.signer.keyed_hash("email", &email.0)
    }
}

/// Largest JSON body a route accepts; bigger ones get 413 before any parsing.
pub const MAX_JSON_BYTES: usize = 256 * 1024;

/// A JSON body: right media type, within size, well-formed. Field rules come after, in the domain.
pub struct JsonBody(pub serde_json::Value);

fn essence(req: &Request) -> String {
    let ct = req.headers().get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("");
    ct.split(';').next().unwrap_or("").trim().to_ascii_lowercase()
}

fn is_json(essence: &str) -> bool {
    essence == "application/json" || (essence.starts_with("application/") && essence.ends_with("+json"))
}

async fn read_limited(req: Request) -> Result<bytes::Bytes, ApiError> {
    axum::body::to_bytes(req.into_body(), MAX_JSON_BYTES)
        .await
        .map_err(|_| ApiError::PayloadTooLarge(format!("the body must be at most {MAX_JSON_BYTES} bytes")))
}

fn parse_json(bytes: &[u8]) -> Result<serde_json::Value, ApiError> {
    serde_json::from_slice(bytes).map_err(|e| ApiError::BadRequest(format!("invalid JSON: {e}")))
}

impl<S: Send + Sync> FromRequest<S> for JsonBody {
    type Rejection = ApiError;

    async fn from_request(req: Request, _: &S) -> Result<Self, ApiError> {
        if !is_json(&essence(&req)) {
            return Err(ApiError::UnsupportedMediaType("send application/json".into()));
        }
        Ok(JsonBody(parse_json(&read_limited(req).await?)?))
    }
}

/// A career-site form post: JSON from scripts, or a plain HTML form.
pub enum FormOrJson {
    Json(serde_json::Value),
    Form(bytes::Bytes),
}

impl<S: Send + Sync> FromRequest<S> for FormOrJson {
    type Rejection = ApiError;

    async fn from_request(req: Request, _: &S) -> Result<Self, ApiError> {
        let essence = essence(&req);
        if is_json(&essence) {
            Ok(FormOrJson::Json(parse_json(&read_limited(req).await?)?))
        } else if essence == "application/x-www-form-urlencoded" {
            Ok(FormOrJson::Form(read_limited(req).await?))
        } else {
            Err(ApiError::UnsupportedMediaType("send application/json or application/x-www-form-urlencoded".into()))
        }
    }
}

/// The query string as a map; a repeated name keeps its last value.
pub struct QueryMap(pub HashMap<String, String>);

impl<S: Send + Sync> FromRequestParts<S> for QueryMap {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, ApiError> {
        let q = parts.uri.query().unwrap_or("");
        Ok(QueryMap(url::form_urlencoded::parse(q.as_bytes()).into_owned().collect()))
    }
}

impl QueryMap {
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0.get(name).map(String::as_str).filter(|s| !s.is_empty())
    }

    /// A query parameter parsed with `FromStr`, the error naming the parameter.
    pub fn parse<T: std::str::FromStr>(&self, name: &str, errors: &mut Vec<FieldError>) -> Option<T>
    where
        T::Err: std::fmt::Display,
    {
        let raw = self.get(name)?;
        match raw.parse() {
            Ok(v) => Some(v),
            Err(e) => {
                errors.push(FieldError::new(name, e.to_string()));
                None
            }
        }
    }

    /// `?limit=` (1..=100, default 25) and `?cursor=`.
    pub fn page(&self, errors: &mut Vec<FieldError>) -> PageRequest {
        let limit = match self.get("limit") {
            None => 25,
            Some(raw) => match raw.parse::<i32>() {
                Ok(n) if (1..=100).contains(&n) => n,
                _ => {
                    errors.push(FieldError::new("limit", "must be a whole number from 1 to 100"));
                    25
                }
            },
        };
        let cursor = self.get("cursor").map(str::to_string);
        PageRequest { limit, cursor }
    }
}

/// Turns collected query errors into one 422.
pub fn check(errors: Vec<FieldError>) -> Result<(), ApiError> {
    if errors.is_empty() {
        Ok(())
    } else {
        Err(ApiError::Validation(errors))
    }
}

/// A JSON response with the API's media type.
pub fn json<T: Serialize>(status: StatusCode, body: &T) -> Response {
    match serde_json::to_vec(body) {
        Ok(bytes) => (status, [(header::CONTENT_TYPE, "application/json; charset=utf-8")], bytes).into_response(),
        Err(e) => ApiError::Unavailable(format!("serialising the response: {e}")).into_response(),
    }
}

/// Parses an id from the path; a malformed id is simply a resource that does not exist.
pub fn path_id<T: std::str::FromStr>(raw: &str) -> Result<T, ApiError> {
    raw.parse().map_err(|_| ApiError::NotFound)
}

/// Every function's router falls back to this: a route it does not serve.
pub async fn no_route() -> ApiError {
    ApiError::NoRoute
}

/// The audit log: before a route that reads or changes personal data runs, who is calling, which
/// route, and the path (ids only; never the query or body) are written down. No entry, no access:
/// if the log cannot be written the request fails with 503.
pub async fn audited(
    axum::extract::State(st): axum::extract::State<AppState>,
    req: Request,
    next: axum::middleware::Next,
) -> Response {
    use axum::extract::FromRequestParts;
    let (mut parts, body) = req.into_parts();
    let caller = match crate::auth::Caller::from_request_parts(&mut parts, &st).await {
        Ok(c) => c,
        Err(e) => return e.into_response(),
    };
    let route =
        parts.extensions.get::<axum::extract::MatchedPath>().map(|p| p.as_str().to_string()).unwrap_or_default();
    let action = format!("{} {route}", parts.method);
    if let Err(e) = st.store.audit(&caller.sub, caller.role.as_str(), &action, parts.uri.path(), st.clock.now()).await {
        return ApiError::from(e).into_response();
    }
    next.run(Request::from_parts(parts, body)).await
}

/// Rate limit for public form posts: per client address (as API Gateway saw it, never a header the
/// client sets) and route, in one-minute windows. The address is stored only as a keyed hash.
pub async fn rate_limit(
    axum::extract::State(st): axum::extract::State<AppState>,
    req: Request,
    next: axum::middleware::Next,
) -> Response {
    use lambda_http::request::RequestContext;
    if req.method() != http::Method::POST {
        return next.run(req).await;
    }
    let ip = match req.extensions().get::<RequestContext>() {
        Some(RequestContext::ApiGatewayV2(ctx)) => ctx.http.source_ip.clone().unwrap_or_default(),
        _ => String::new(),
    };
    let route =
        req.extensions().get::<axum::extract::MatchedPath>().map(|p| p.as_str().to_string()).unwrap_or_default();
    let now = st.clock.now();
    let window = now.timestamp() - now.timestamp().rem_euclid(60);
    let window_start = chrono::DateTime::from_timestamp(window, 0).unwrap_or(now);
    let who = st.signer.keyed_hash("rate", &format!("{ip}|{route}"));
    match st.store.count_request(&who, window_start, st.config.rate_limit_per_minute).await {
        Ok(true) => next.run(req).await,
        Ok(false) => ApiError::TooManyRequests { retry_after_seconds: (window + 60 - now.timestamp()).max(1) as u64 }
            .into_response(),
        Err(e) => ApiError::from(e).into_response(),
    }
}
