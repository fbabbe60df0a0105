//! API Gateway's HTTP API events (payload format 2.0) as a function receives them, and its answers.
use super::*;
use base64::{engine::general_purpose::STANDARD as B64, Engine};
use rapport::routes::{Route, ROUTES};
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;

/// An API Gateway HTTP API request (payload format 2.0), as the gateway hands it to a function.
#[derive(Debug, Clone)]
pub struct HttpEvent {
    pub method: String,
    /// Path and query, e.g. `/careers/jobs?limit=5`.
    pub target: String,
    pub headers: Vec<(String, String)>,
    pub body: Option<Vec<u8>>,
    /// What the JWT authorizer passes on (`requestContext.authorizer.jwt.claims`).
    pub claims: Option<BTreeMap<String, String>>,
}

impl HttpEvent {
    pub fn new(method: &str, target: &str) -> Self {
        Self { method: method.to_string(), target: target.to_string(), headers: Vec::new(), body: None, claims: None }
    }

    pub fn get(target: &str) -> Self {
        Self::new("GET", target)
    }

    pub fn post(target: &str) -> Self {
        Self::new("POST", target)
    }

    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.to_ascii_lowercase(), value.to_string()));
        self
    }

    pub fn json(self, body: &Value) -> Self {
        let mut ev = self.header("content-type", "application/json");
        ev.body = Some(body.to_string().into_bytes());
        ev
    }

    /// The claims of a Cognito ID token for a member of the group `role`, as API Gateway's JWT
    /// authorizer flattens them (every value a string, lists as `[a b]`).
    pub fn signed_in(mut self, role: &str, sub: &str) -> Self {
        let now = chrono::Utc::now().timestamp();
        self.claims = Some(BTreeMap::from([
            ("sub".to_string(), sub.to_string()),
            ("cognito:groups".to_string(), format!("[{role}]")),
            ("token_use".to_string(), "id".to_string()),
            ("aud".to_string(), "rapport".to_string()),
            ("iss".to_string(), format!("https://cognito-idp.{REGION}.amazonaws.com/{REGION}_local")),
            ("iat".to_string(), now.to_string()),
            ("exp".to_string(), (now + 3600).to_string()),
        ]));
        self
    }

    /// The route of the API this request matches (the most literal one), and its path parameters.
    pub fn route(&self) -> anyhow::Result<(Route, Map<String, Value>)> {
        let path = self.target.split('?').next().unwrap_or_default();
        let segments: Vec<&str> = path.split('/').collect();
        let mut best: Option<(usize, Route, Map<String, Value>)> = None;
        for route in ROUTES.iter().filter(|r| r.method.eq_ignore_ascii_case(&self.method)) {
            let pattern: Vec<&str> = route.path.split('/').collect();
            if pattern.len() != segments.len() {
                continue;
            }
            let mut params = Map::new();
            let mut literal = 0;
            let matched = pattern.iter().zip(&segments).all(|(p, s)| {
                if let Some(name) = p.strip_prefix('{').and_then(|p| p.strip_suffix('}')) {
                    params.insert(name.to_string(), Value::String(s.to_string()));
                    !s.is_empty()
                } else {
                    literal += 1;
                    p == s
                }
            });
            if matched && best.as_ref().is_none_or(|(l, _, _)| literal > *l) {
                best = Some((literal, *route, params));
            }
        }
        best.map(|(_, r, p)| (r, p)).with_context(|| format!("no route of the API matches {} {path}", self.method))
    }

    /// The event JSON, shaped as API Gateway sends it.
    pub fn to_event(&self) -> anyhow::Result<Value> {
        let (route, params) = self.route()?;
        let (path, raw_query) = self.target.split_once('?').unwrap_or((&self.target, ""));
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
        let now = chrono::Utc::now();
        let host = "abcdef1234.execute-api.us-east-1.amazonaws.com";
        let body = self.body.clone().unwrap_or_default();
        let mut headers: Map<String, Value> = Map::new();
        for (k, v) in [
            ("host", host.to_string()),
            ("user-agent", "rapport-tests".to_string()),
            ("x-forwarded-for", "203.0.113.7".to_string()),
            ("x-forwarded-port", "443".to_string()),
            ("x-forwarded-proto", "https".to_string()),
            ("content-length", body.len().to_string()),
        ] {
            headers.insert(k.to_string(), Value::String(v));
        }
        for (k, v) in &self.headers {
            headers.insert(k.clone(), Value::String(v.clone()));
        }
        let text =
            self.headers.iter().find(|(k, _)| k == "content-type").is_some_and(|(_, v)| {
                v.starts_with("text/") || v.contains("json") || v.contains("x-www-form-urlencoded")
            });
        let (body, b64) = match (body.is_empty(), text, String::from_utf8(body.clone())) {
            (true, _, _) => (Value::Null, false),
            (false, true, Ok(s)) => (Value::String(s), false),
            _ => (Value::String(B64.encode(&body)), true),
        };
        let mut ctx = json!({
            "accountId": ACCOUNT,
            "apiId": "abcdef1234",
            "domainName": host,
            "domainPrefix": "abcdef1234",
            "http": {"method": self.method, "path": path, "protocol": "HTTP/1.1", "sourceIp": "203.0.113.7",
                     "userAgent": "rapport-tests"},
            "requestId": ulid::Ulid::generate().to_string(),
            "routeKey": route.key(),
            "stage": "$default",
            "time": now.format("%d/%b/%Y:%H:%M:%S %z").to_string(),
            "timeEpoch": now.timestamp_millis(),
        });
        if let Some(claims) = &self.claims {
            ctx["authorizer"] = json!({"jwt": {"claims": claims, "scopes": null}});
        }
        let mut ev = json!({
            "version": "2.0",
            "routeKey": route.key(),
            "rawPath": path,
            "rawQueryString": raw_query,
            "headers": headers,
            "requestContext": ctx,
            "isBase64Encoded": b64,
        });
        if !query.is_empty() {
            ev["queryStringParameters"] = Value::Object(query);
        }
        if !params.is_empty() {
            ev["pathParameters"] = Value::Object(params);
        }
        if !body.is_null() {
            ev["body"] = body;
        }
        Ok(ev)
    }
}

/// A function's payload-2.0 response.
#[derive(Debug, Clone)]
pub struct HttpResponse {
    pub status: u16,
    /// Header names in lower case.
    pub headers: BTreeMap<String, String>,
    pub cookies: Vec<String>,
    pub body: Vec<u8>,
}

impl HttpResponse {
    pub fn from_payload(payload: &[u8]) -> anyhow::Result<Self> {
        let v: Value = serde_json::from_slice(payload)
            .with_context(|| format!("the response is not JSON: {}", String::from_utf8_lossy(payload)))?;
        let status = v["statusCode"].as_u64().with_context(|| format!("no statusCode in {v}"))? as u16;
        let headers = v["headers"]
            .as_object()
            .map(|h| {
                h.iter().map(|(k, v)| (k.to_ascii_lowercase(), v.as_str().unwrap_or_default().to_string())).collect()
            })
            .unwrap_or_default();
        let cookies = v["cookies"]
            .as_array()
            .map(|c| c.iter().filter_map(Value::as_str).map(str::to_string).collect())
            .unwrap_or_default();
        let body = match (v["body"].as_str(), v["isBase64Encoded"].as_bool().unwrap_or(false)) {
            (None, _) => Vec::new(),
            (Some(b), false) => b.as_bytes().to_vec(),
            (Some(b), true) => B64.decode(b).context("the body is not base64")?,
        };
        Ok(Self { status, headers, cookies, body })
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(&name.to_ascii_lowercase()).map(String::as_str)
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    pub fn json(&self) -> anyhow::Result<Value> {
        serde_json::from_slice(&self.body).with_context(|| format!("the body is not JSON: {}", self.text()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_name_their_route_and_parameters() {
        let ev = HttpEvent::get("/api/applications/01ARZ3NDEKTSV4RRFFQ69G5FAV?x=1&x=2")
            .signed_in("recruiter", "u1")
            .to_event()
            .unwrap();
        assert_eq!(ev["routeKey"], "GET /api/applications/{id}");
        assert_eq!(ev["pathParameters"]["id"], "01ARZ3NDEKTSV4RRFFQ69G5FAV");
        assert_eq!(ev["queryStringParameters"]["x"], "1,2");
        assert_eq!(ev["requestContext"]["authorizer"]["jwt"]["claims"]["cognito:groups"], "[recruiter]");
        let literal = HttpEvent::post("/api/prospects/import").to_event().unwrap();
        assert_eq!(literal["routeKey"], "POST /api/prospects/import");
        assert!(HttpEvent::get("/nowhere").to_event().is_err());
        let parsed: lambda_http::request::LambdaRequest = serde_json::from_value(ev).unwrap();
        assert!(matches!(parsed, lambda_http::request::LambdaRequest::ApiGatewayV2(_)));
    }
}
