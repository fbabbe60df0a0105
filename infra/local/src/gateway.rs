//! A local API Gateway (HTTP API, payload format 2.0). Each request becomes the event JSON that API
//! Gateway would send, runs through `lambda_http`'s own adapter into the function's router, and the
//! function's payload-2.0 response becomes the HTTP response, so the deployed conversion is the one
//! under test. The gateway's own answers (no route, 401 from the authorizer, 413) are API Gateway's.
use crate::token::Issuer;
use axum::body::Body;
use axum::extract::{RawPathParams, Request, State};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{on, MethodFilter, MethodRouter};
use axum::Router;
use base64::{engine::general_purpose::STANDARD as B64, Engine};
use futures_util::FutureExt;
use http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use lambda_http::request::LambdaRequest;
use lambda_http::{Adapter, Context, LambdaEvent};
use rapport::aws::count_calls;
use rapport::routes::{Route, ROUTES};
use serde::Deserialize;
use serde_json::{json, Map, Value};
use std::collections::{BTreeMap, HashMap};
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use tower::Service;

/// Lambda's limit on a synchronous invocation's request and response.
pub const MAX_INVOCATION_BYTES: usize = 6 * 1024 * 1024;
/// API Gateway HTTP API's limit on a request body.
pub const MAX_BODY_BYTES: usize = 10 * 1024 * 1024;
/// The header in which the local gateway reports the AWS calls a request made (never sent by AWS).
pub const CALLS_HEADER: &str = "x-rapport-aws-calls";

pub struct Gateway {
    pub functions: HashMap<&'static str, Router>,
    pub issuer: Issuer,
    pub allowed_origins: Vec<String>,
}

/// API Gateway's own error bodies are `{"message": …}`, not the functions' problem+json.
fn gateway_error(status: StatusCode, message: &str) -> Response {
    (status, [(header::CONTENT_TYPE, "application/json")], json!({ "message": message }).to_string()).into_response()
}

pub fn router(gw: Arc<Gateway>) -> Router {
    let mut by_path: BTreeMap<&'static str, MethodRouter<Arc<Gateway>>> = BTreeMap::new();
    for route in ROUTES {
        let filter = MethodFilter::try_from(Method::from_bytes(route.method.as_bytes()).expect("a valid method"))
            .expect("a routable method");
        let r = *route;
        let handler =
            on(filter, move |State(gw): State<Arc<Gateway>>, params: RawPathParams, req: Request| async move {
                let params: Vec<(String, String)> =
                    params.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
                invoke(&gw, r, params, req).await
            });
        let entry = by_path.remove(route.path).map(|m| m.merge(handler.clone())).unwrap_or(handler);
        by_path.insert(route.path, entry);
    }
    let mut app = Router::new();
    for (path, methods) in by_path {
        app = app.route(path, methods.fallback(|| async { gateway_error(StatusCode::NOT_FOUND, "Not Found") }));
    }
    app.fallback(|| async { gateway_error(StatusCode::NOT_FOUND, "Not Found") })
        .layer(middleware::from_fn_with_state(gw.clone(), cors))
        .with_state(gw)
}

/// The HTTP API's CORS configuration: preflights are answered by the gateway, and only allowed
/// origins get the `Access-Control-Allow-*` headers.
async fn cors(State(gw): State<Arc<Gateway>>, req: Request, next: Next) -> Response {
    let origin = req.headers().get(header::ORIGIN).and_then(|v| v.to_str().ok()).map(str::to_string);
    let allowed = origin.as_ref().filter(|o| gw.allowed_origins.iter().any(|a| a == *o)).cloned();
    let preflight =
        req.method() == Method::OPTIONS && req.headers().contains_key(header::ACCESS_CONTROL_REQUEST_METHOD);
    let mut res = if preflight { StatusCode::NO_CONTENT.into_response() } else { next.run(req).await };
    if let Some(origin) = allowed.and_then(|o| HeaderValue::from_str(&o).ok()) {
        let h = res.headers_mut();
        h.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin);
        h.append(header::VARY, HeaderValue::from_static("Origin"));
        if preflight {
            h.insert(
                header::ACCESS_CONTROL_ALLOW_METHODS,
                HeaderValue::from_static("GET,POST,PUT,PATCH,DELETE,OPTIONS"),
            );
            h.insert(
                header::ACCESS_CONTROL_ALLOW_HEADERS,
                HeaderValue::from_static("authorization,content-type,idempotency-key,if-none-match"),
            );
            h.insert(header::ACCESS_CONTROL_MAX_AGE, HeaderValue::from_static("600"));
        }
    }
    res
}

fn is_text(content_type: &str) -> bool {
    let ct = content_type.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
    ct.starts_with("text/")
        || ct.ends_with("+json")
        || ct.ends_with("+xml")
        || matches!(
            ct.as_str(),
            "application/json" | "application/xml" | "application/x-www-form-urlencoded" | "application/javascript"
        )
}

/// API Gateway joins repeated headers and query parameters with commas.
fn joined(headers: &HeaderMap) -> Map<String, Value> {
    let mut out: Map<String, Value> = Map::new();
    for (name, value) in headers {
        if name == header::COOKIE {
            continue;
        }
        let v = String::from_utf8_lossy(value.as_bytes()).to_string();
        match out.get_mut(name.as_str()) {
            Some(Value::String(prev)) => {
                prev.push(',');
                prev.push_str(&v);
            }
            _ => {
                out.insert(name.as_str().to_string(), Value::String(v));
            }
        }
    }
    out
}

fn event(
    route: Route,
    params: Vec<(String, String)>,
    req: &http::request::Parts,
    body: &[u8],
    claims: Option<HashMap<String, String>>,
) -> Value {
    let now = chrono::Utc::now();
    let raw_query = req.uri.query().unwrap_or("").to_string();
    let mut query: Map<String, Value> = Map::new();
    for (k, v) in url::form_urlencoded::parse(raw_query.as_bytes()) {
        match query.get_mut(k.as_ref()) {
            Some(Value::String(prev)) => {
                prev.push(',');
                prev.push_str(&v);
            }
            _ => {
                query.insert(k.into_owned(), Value::String(v.into_owned()));
            }
        }
    }
    let cookies: Vec<String> = req
        .headers
        .get_all(header::COOKIE)
        .iter()
        .flat_map(|v| v.to_str().unwrap_or("").split(';').map(|c| c.trim().to_string()).collect::<Vec<_>>())
        .filter(|c| !c.is_empty())
        .collect();
    let content_type = req.headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("");
    let (body, b64) = match (body.is_empty(), is_text(content_type), std::str::from_utf8(body)) {
        (true, _, _) => (Value::Null, false),
        (false, true, Ok(text)) => (Value::String(text.to_string()), false),
        _ => (Value::String(B64.encode(body)), true),
    };
    let request_id = ulid::Ulid::generate().to_string();
    let host = req.headers.get(header::HOST).and_then(|v| v.to_str().ok()).unwrap_or("127.0.0.1");
    let mut ctx = json!({
        "accountId": "000000000000",
        "apiId": "local",
        "domainName": host,
        "domainPrefix": host.split('.').next().unwrap_or(host),
        "http": {
            "method": req.method.as_str(),
            "path": req.uri.path(),
            "protocol": "HTTP/1.1",
            "sourceIp": "127.0.0.1",
            "userAgent": req.headers.get(header::USER_AGENT).and_then(|v| v.to_str().ok()).unwrap_or(""),
        },
        "requestId": request_id,
        "routeKey": route.key(),
        "stage": "$default",
        "time": now.format("%d/%b/%Y:%H:%M:%S %z").to_string(),
        "timeEpoch": now.timestamp_millis(),
    });
    if let Some(claims) = claims {
        ctx["authorizer"] = json!({ "jwt": { "claims": claims, "scopes": null } });
    }
    let mut ev = json!({
        "version": "2.0",
        "routeKey": route.key(),
        "rawPath": req.uri.path(),
        "rawQueryString": raw_query,
        "headers": joined(&req.headers),
        "requestContext": ctx,
        "isBase64Encoded": b64,
    });
    if !cookies.is_empty() {
        ev["cookies"] = json!(cookies);
    }
    if !query.is_empty() {
        ev["queryStringParameters"] = Value::Object(query);
    }
    if !params.is_empty() {
        ev["pathParameters"] = Value::Object(params.into_iter().map(|(k, v)| (k, Value::String(v))).collect());
    }
    if !body.is_null() {
        ev["body"] = body;
    }
    ev
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct FunctionResponse {
    status_code: u16,
    #[serde(default)]
    headers: HashMap<String, String>,
    #[serde(default)]
    body: Option<String>,
    #[serde(default)]
    is_base64_encoded: bool,
    #[serde(default)]
    cookies: Vec<String>,
}

async fn invoke(gw: &Gateway, route: Route, params: Vec<(String, String)>, req: Request) -> Response {
    let (parts, body) = req.into_parts();
    let Ok(body) = axum::body::to_bytes(body, MAX_BODY_BYTES).await else {
        return gateway_error(StatusCode::PAYLOAD_TOO_LARGE, "Request Entity Too Large");
    };
    let claims = if route.needs_token() {
        let auth = parts.headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok());
        match gw.issuer.verify(auth) {
            Some(c) => Some(c),
            None => {
                let mut res = gateway_error(StatusCode::UNAUTHORIZED, "Unauthorized");
                res.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
                return res;
            }
        }
    } else {
        None
    };
    let raw = serde_json::to_vec(&event(route, params, &parts, &body, claims)).unwrap_or_default();
    if raw.len() > MAX_INVOCATION_BYTES {
        return gateway_error(StatusCode::PAYLOAD_TOO_LARGE, "Request Entity Too Large");
    }
    // What the Lambda runtime does with an invocation: parse the payload, call the adapter.
    let lambda_req: LambdaRequest = match serde_json::from_slice(&raw) {
        Ok(r) => r,
        Err(e) => {
            tracing::error!(error = %e, "event did not parse");
            return gateway_error(StatusCode::INTERNAL_SERVER_ERROR, "Internal Server Error");
        }
    };
    let Some(function) = gw.functions.get(route.function).cloned() else {
        return gateway_error(StatusCode::INTERNAL_SERVER_ERROR, "Internal Server Error");
    };
    // A panic in a function is API Gateway's 500, as when a Lambda invocation crashes.
    // The adapter is dropped before the await: it is not Send (it holds a `PhantomData<&Response>`),
    // and an axum Router needs no poll_ready.
    let pending = {
        let mut adapter: Adapter<'static, _, Router> = Adapter::from(function);
        adapter.call(LambdaEvent::new(lambda_req, Context::default()))
    };
    let invocation = count_calls(async move { pending.await.map(|r| serde_json::to_vec(&r)) });
    let (out, calls) = match AssertUnwindSafe(invocation).catch_unwind().await {
        Ok((Ok(Ok(bytes)), calls)) => (bytes, calls),
        _ => return gateway_error(StatusCode::INTERNAL_SERVER_ERROR, "Internal Server Error"),
    };
    if out.len() > MAX_INVOCATION_BYTES {
        return gateway_error(StatusCode::BAD_GATEWAY, "Internal Server Error");
    }
    let Ok(fr) = serde_json::from_slice::<FunctionResponse>(&out) else {
        return gateway_error(StatusCode::INTERNAL_SERVER_ERROR, "Internal Server Error");
    };
    let body = match (fr.body, fr.is_base64_encoded) {
        (None, _) => Vec::new(),
        (Some(b), false) => b.into_bytes(),
        (Some(b), true) => match B64.decode(b) {
            Ok(bytes) => bytes,
            Err(_) => return gateway_error(StatusCode::INTERNAL_SERVER_ERROR, "Internal Server Error"),
        },
    };
    let mut res = Response::new(Body::from(body));
    *res.status_mut() = StatusCode::from_u16(fr.status_code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let h = res.headers_mut();
    for (k, v) in fr.headers {
        if let (Ok(k), Ok(v)) = (header::HeaderName::from_bytes(k.as_bytes()), HeaderValue::from_str(&v)) {
            h.insert(k, v);
        }
    }
    for c in fr.cookies {
        if let Ok(v) = HeaderValue::from_str(&c) {
            h.append(header::SET_COOKIE, v);
        }
    }
    if let Ok(v) = HeaderValue::from_str(&calls.summary()) {
        h.insert(CALLS_HEADER, v);
    }
    res
}
