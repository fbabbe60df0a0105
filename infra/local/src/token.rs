//! Local stand-in for Cognito and the HTTP API JWT authorizer: issues tokens and checks them the
//! way the authorizer does (signature, `iss`, `aud`, `exp`) before any function sees a request.
use chrono::Utc;
use jsonwebtoken::{decode, encode, Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::collections::HashMap;

pub const AUDIENCE: &str = "rapport-local";

#[derive(Clone)]
pub struct Issuer {
    key: Vec<u8>,
    pub issuer: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TokenRequest {
    pub role: String,
    pub sub: Option<String>,
    pub email: Option<String>,
    pub ttl_seconds: Option<i64>,
    pub aud: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct Issued {
    pub token: String,
    pub sub: String,
    pub expires_at: String,
}

impl Issuer {
    pub fn new(key: Vec<u8>, issuer: String) -> Self {
        Self { key, issuer }
    }

    /// Signs an id token shaped like Cognito's. `ttl_seconds` may be negative and `aud` wrong, so
    /// that tests can make tokens the authorizer must refuse.
    pub fn issue(&self, req: &TokenRequest) -> Result<Issued, String> {
        if req.role.is_empty() || req.role.len() > 40 || !req.role.chars().all(|c| c.is_ascii_lowercase() || c == '_') {
            return Err("role must be a group name such as admin, recruiter or hiring_manager".into());
        }
        let now = Utc::now().timestamp();
        let exp = now + req.ttl_seconds.unwrap_or(3600);
        let sub = req.sub.clone().unwrap_or_else(|| format!("local-{}", req.role.replace('_', "-")));
        let mut claims = Map::new();
        claims.insert("sub".into(), Value::from(sub.clone()));
        claims.insert("cognito:groups".into(), Value::from(vec![req.role.clone()]));
        claims.insert("iss".into(), Value::from(self.issuer.clone()));
        claims.insert("aud".into(), Value::from(req.aud.clone().unwrap_or_else(|| AUDIENCE.into())));
        claims.insert("token_use".into(), Value::from("id"));
        claims.insert("iat".into(), Value::from(now));
        claims.insert("exp".into(), Value::from(exp));
        if let Some(email) = &req.email {
            claims.insert("email".into(), Value::from(email.clone()));
        }
        let token = encode(&Header::new(Algorithm::HS256), &claims, &EncodingKey::from_secret(&self.key))
            .map_err(|e| e.to_string())?;
        let expires_at = chrono::DateTime::from_timestamp(exp, 0).unwrap_or_default().to_rfc3339();
        Ok(Issued { token, sub, expires_at })
    }

    /// The authorizer's check. On success, the claims as API Gateway passes them on: every value a
    /// string, arrays flattened to `[a b]`.
    pub fn verify(&self, authorization: Option<&str>) -> Option<HashMap<String, String>> {
        let token = authorization?.strip_prefix("Bearer ")?.trim();
        let mut v = Validation::new(Algorithm::HS256);
        v.set_issuer(&[&self.issuer]);
        v.set_audience(&[AUDIENCE]);
        v.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        v.leeway = 0;
        let data = decode::<Map<String, Value>>(token, &DecodingKey::from_secret(&self.key), &v).ok()?;
        Some(
            data.claims
                .into_iter()
                .map(|(k, v)| {
                    let s = match v {
                        Value::String(s) => s,
                        Value::Array(items) => format!(
                            "[{}]",
                            items
                                .iter()
                                .map(|i| i.as_str().map(str::to_string).unwrap_or(i.to_string()))
                                .collect::<Vec<_>>()
                                .join(" ")
                        ),
                        other => other.to_string(),
                    };
                    (k, s)
                })
                .collect(),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(role: &str) -> TokenRequest {
        TokenRequest { role: role.into(), sub: None, email: None, ttl_seconds: None, aud: None }
    }

    #[test]
    fn good_token_passes_and_bad_ones_do_not() {
        let iss = Issuer::new(b"k".repeat(32), "http://local".into());
        let t = iss.issue(&req("recruiter")).unwrap().token;
        let claims = iss.verify(Some(&format!("Bearer {t}"))).unwrap();
        assert_eq!(claims["cognito:groups"], "[recruiter]");
        assert!(iss.verify(Some(&t)).is_none(), "the Bearer scheme is required");
        let expired = iss.issue(&TokenRequest { ttl_seconds: Some(-10), ..req("admin") }).unwrap().token;
        assert!(iss.verify(Some(&format!("Bearer {expired}"))).is_none());
        let wrong_aud = iss.issue(&TokenRequest { aud: Some("other".into()), ..req("admin") }).unwrap().token;
        assert!(iss.verify(Some(&format!("Bearer {wrong_aud}"))).is_none());
        let forged = Issuer::new(b"x".repeat(32), "http://local".into()).issue(&req("admin")).unwrap().token;
        assert!(iss.verify(Some(&format!("Bearer {forged}"))).is_none());
        let other_iss = Issuer::new(b"k".repeat(32), "http://elsewhere".into()).issue(&req("admin")).unwrap().token;
        assert!(iss.verify(Some(&format!("Bearer {other_iss}"))).is_none());
    }
}
