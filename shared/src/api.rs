//! The HTTP edge shared by every function: body and query parsing, path ids, the audit log, and
//! responses.
pub use crate::app::AppState;
use crate::error::{ApiError, FieldError};
use crate::store::PageRequest;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::response::{IntoResponse, Response};
use http::{header, request::Parts, StatusCode};
use serde::Serialize;
use std::collections::HashMap;

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

/// Well-formed JSON no deeper than [`crate::parse::MAX_JSON_DEPTH`]: the depth is checked on the
/// bytes first, so nothing after parsing (serialising, dropping, patching) ever walks a deep value.
pub fn parse_json(bytes: &[u8]) -> Result<serde_json::Value, ApiError> {
    use crate::parse::{json_too_deep, MAX_JSON_DEPTH};
    if json_too_deep(bytes, MAX_JSON_DEPTH) {
        return Err(ApiError::BadRequest(format!("JSON may nest objects and arrays at most {MAX_JSON_DEPTH} deep")));
    }
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

impl FormOrJson {
    /// The body as the JSON the route's parser reads (a form through [`crate::parse::form_to_json`],
    /// with its checkbox fields), and whether it came from a form.
    pub fn into_value(self, checkboxes: &[&str]) -> Result<(serde_json::Value, bool), ApiError> {
        match self {
            FormOrJson::Json(v) => Ok((v, false)),
            FormOrJson::Form(bytes) => Ok((crate::parse::form_to_json(&bytes, checkboxes)?, true)),
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

/// The route's `{id}` as its id type: a malformed id answers 404, as an id nothing has would. Put it
/// after `Caller`, so an unauthenticated request is told 401 whatever its path.
pub struct PathId<T>(pub T);

impl<S: Send + Sync, T: std::str::FromStr> FromRequestParts<S> for PathId<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        let axum::extract::Path(raw) =
            axum::extract::Path::<String>::from_request_parts(parts, state).await.map_err(|_| ApiError::NotFound)?;
        path_id(&raw).map(PathId)
    }
}

/// Every function's router falls back to this: a route it does not serve.
pub async fn no_route() -> ApiError {
    ApiError::NoRoute
}

/// Routes whose use case writes the request's audit entry in its own transaction (the handler takes it
/// as `Extension<AuditEntry>`, and writes it alone when the change is refused), saving a round trip.
const AUDITED_IN_TRANSACTION: &[&str] = &["POST /api/applications/{id}/transitions"];

/// The audit log: before a route that reads or changes personal data runs, who is calling, which
/// route, and the path (ids only; never the query or body) are written down. No entry, no access:
/// if the log cannot be written the request fails with 503. A route of [`AUDITED_IN_TRANSACTION`]
/// gets the entry to write with its change instead.
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
    let entry = crate::store::AuditEntry {
        who: caller.sub.clone(),
        role: caller.role.as_str().to_string(),
        action: format!("{} {route}", parts.method),
        target: parts.uri.path().to_string(),
        at: st.clock.now(),
    };
    if AUDITED_IN_TRANSACTION.contains(&entry.action.as_str()) {
        parts.extensions.insert(entry);
    } else if let Err(e) = st.store.audit(&entry).await {
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
    let who = match st.hasher().await {
        Ok(h) => h.keyed_hash("rate", &format!("{ip}|{route}")),
        Err(e) => return ApiError::from(e).into_response(),
    };
    match st.store.count_request(&who, window_start, st.config.rate_limit_per_minute).await {
        Ok(true) => next.run(req).await,
        Ok(false) => ApiError::TooManyRequests { retry_after_seconds: (window + 60 - now.timestamp()).max(1) as u64 }
            .into_response(),
        Err(e) => ApiError::from(e).into_response(),
    }
}

#[cfg(test)]
mod public_bodies {
    //! Hostile bodies at the parser of every public route: whatever the depth or width, a 4xx and
    //! never a panic or a stack overflow.
    use super::*;
    use crate::routes::ROUTES;
    use proptest::prelude::*;

    /// What the route's handler does with a body before it touches AWS: the extractor, then the
    /// domain parser. `None`: the route reads no body.
    async fn parse_public(method: &str, path: &str, req: Request) -> Option<Result<(), ApiError>> {
        async fn json_then<T>(
            req: Request,
            f: impl FnOnce(serde_json::Value) -> Result<T, crate::error::Invalid>,
        ) -> Result<(), ApiError> {
            let JsonBody(v) = JsonBody::from_request(req, &()).await?;
            f(v).map(|_| ()).map_err(ApiError::from)
        }
        Some(match (method, path) {
            ("POST", "/careers/uploads") => json_then(req, crate::upload::UploadRequest::parse).await,
            ("POST", "/careers/jobs/{id}/drafts") => json_then(req, crate::draft::DraftInput::parse).await,
            ("POST", "/careers/talent-pool") => json_then(req, crate::prospect::Subscription::parse).await,
            ("POST", "/careers/jobs/{id}/applications") => {
                async {
                    let body = FormOrJson::from_request(req, &()).await?;
                    let (value, _) = body.into_value(crate::application::CHECKBOXES)?;
                    // The handler fingerprints the body for its idempotency key before parsing it.
                    let _fingerprint = value.to_string();
                    crate::application::Submission::parse(value)?;
                    Ok(())
                }
                .await
            }
            // The token in the query is the authority; the body is never read.
            ("POST", "/careers/unsubscribe") | ("POST", "/careers/talent-pool/confirm") => return None,
            ("GET", _) => return None,
            _ => panic!("{method} {path} is public and reads a body: add its parser to this test"),
        })
    }

    fn request(content_type: &str, body: Vec<u8>) -> Request {
        http::Request::builder()
            .method("POST")
            .header(header::CONTENT_TYPE, content_type)
            .body(axum::body::Body::from(body))
            .expect("a request")
    }

    /// Field names the parsers know, and others; never the honeypot (a filled one is a 202 by design).
    fn key() -> impl Strategy<Value = String> {
        prop_oneof![
            prop::sample::select(vec![
                "first_name",
                "last_name",
                "email",
                "consent",
                "processing",
                "talent_pool",
                "source",
                "answers",
                "credentials",
                "demographics",
                "interests",
                "departments",
                "content_type",
                "size",
                "purpose",
                "draft_id",
                "redirect",
                "utm_source",
                "type",
            ])
            .prop_map(str::to_string),
            "[a-z_]{1,10}".prop_filter("not the honeypot", |k| k != "website"),
        ]
    }

    /// Scalars that can never make a valid body (no `@` for an email, no `/` for a media type).
    fn scalar() -> impl Strategy<Value = String> {
        prop_oneof![
            Just("null".to_string()),
            any::<bool>().prop_map(|b| b.to_string()),
            any::<i64>().prop_map(|n| n.to_string()),
            "[a-z ]{0,8}".prop_map(|s| format!("\"{s}\"")),
        ]
    }

    /// A JSON text with `width` fields beside one chain nested `depth` deep, built as text so the
    /// test itself never holds a deep value.
    fn json_body() -> impl Strategy<Value = Vec<u8>> {
        let depth = prop_oneof![0..40usize, 0..3_000usize, Just(50_000usize)];
        let width = prop_oneof![0..20usize, 0..2_000usize];
        (depth, width, key(), scalar(), prop::collection::vec((key(), scalar()), 1..8), any::<u64>()).prop_map(
            |(depth, width, k, leaf, fields, seed)| {
                let mut out = String::from("{");
                for i in 0..width {
                    let (name, value) = &fields[i % fields.len()];
                    out.push_str(&format!("\"{name}{i}\":{value},"));
                }
                out.push_str(&format!("\"{k}\":"));
                let mut closers = String::new();
                for level in 0..depth {
                    if (seed >> (level % 64)) & 1 == 0 {
                        out.push_str(&format!("{{\"{k}\":"));
                        closers.push('}');
                    } else {
                        out.push('[');
                        closers.push(']');
                    }
                }
                out.push_str(&leaf);
                out.extend(closers.chars().rev());
                out.push('}');
                out.into_bytes()
            },
        )
    }

    /// A form with `width` fields and one name of `depth` dotted parts.
    fn form_body() -> impl Strategy<Value = Vec<u8>> {
        let depth = prop_oneof![1..6usize, 1..3_000usize, Just(50_000usize)];
        let width = prop_oneof![0..20usize, 0..1_000usize];
        let name = prop::collection::vec(key(), 1..4).prop_map(|parts| parts.join("."));
        (depth, width, key(), prop::collection::vec(name, 1..8), "[a-z0-9]{0,10}").prop_map(
            |(depth, width, k, names, value)| {
                let mut pairs: Vec<String> =
                    (0..width).map(|i| format!("{}={value}", names[i % names.len()])).collect();
                // Very deep names use one-letter parts so they still fit in the size limit.
                let part = if depth > 3_000 { &k[..1] } else { k.as_str() };
                pairs.push(format!("{}={value}", vec![part; depth].join(".")));
                pairs.join("&").into_bytes()
            },
        )
    }

    fn check_all(content_type: &str, body: &[u8]) -> Result<(), TestCaseError> {
        let rt = tokio::runtime::Builder::new_current_thread().build().expect("a runtime");
        for route in ROUTES.iter().filter(|r| !r.needs_token()) {
            let req = request(content_type, body.to_vec());
            let Some(result) = rt.block_on(parse_public(route.method, route.path, req)) else { continue };
            let status = result.err().map(|e| e.status().as_u16());
            prop_assert!(
                status.is_some_and(|s| (400..500).contains(&s)),
                "{} {} answered {status:?} to a {content_type} body of {} bytes",
                route.method,
                route.path,
                body.len()
            );
        }
        Ok(())
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 128, ..ProptestConfig::default() })]

        #[test]
        fn deep_and_wide_json_bodies_get_a_4xx_from_every_public_route(body in json_body()) {
            check_all("application/json", &body)?;
            check_all("application/x-www-form-urlencoded", &body)?;
        }

        #[test]
        fn deep_and_wide_form_bodies_get_a_4xx_from_every_public_route(body in form_body()) {
            check_all("application/x-www-form-urlencoded", &body)?;
            check_all("application/json; charset=utf-8", &body)?;
        }
    }

    #[test]
    fn every_public_route_that_reads_a_body_is_covered() {
        let rt = tokio::runtime::Builder::new_current_thread().build().expect("a runtime");
        let covered = ROUTES
            .iter()
            .filter(|r| !r.needs_token())
            .filter(|r| {
                rt.block_on(parse_public(r.method, r.path, request("application/json", b"{}".to_vec()))).is_some()
            })
            .count();
        assert_eq!(covered, 4);
    }
}
