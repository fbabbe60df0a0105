//! Typed errors and the one place they become HTTP responses (RFC 9457 problem+json).
use axum::response::{IntoResponse, Response};
use http::{header, HeaderValue, StatusCode};
use serde::Serialize;

/// What a JSON error may tell the logs: its kind and place, never the text it quotes (which can be an
/// address or a name from a stored item).
pub fn json_error(e: &serde_json::Error) -> String {
    format!("{:?} JSON error at line {} column {}", e.classify(), e.line(), e.column())
}

pub use rapport_domain::error::{FieldError, Invalid};

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("malformed request: {0}")]
    BadRequest(String),
    #[error("unauthorized: {0}")]
    Unauthorized(String),
    #[error("forbidden: {0}")]
    Forbidden(String),
    #[error("not found")]
    NotFound,
    /// The function has no such route (distinct from a missing resource, so tests can tell them apart).
    #[error("no such route")]
    NoRoute,
    #[error("conflict: {0}")]
    Conflict(String),
    #[error("gone: {0}")]
    Gone(String),
    #[error("too large: {0}")]
    PayloadTooLarge(String),
    #[error("unsupported media type: {0}")]
    UnsupportedMediaType(String),
    #[error("validation failed")]
    Validation(Vec<FieldError>),
    #[error("a dependency failed: {0}")]
    Unavailable(String),
    #[error("rate limited")]
    TooManyRequests { retry_after_seconds: u64 },
}

impl ApiError {
    pub fn field(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self::Validation(vec![FieldError::new(field, message)])
    }

    pub fn status(&self) -> StatusCode {
        match self {
            Self::BadRequest(_) => StatusCode::BAD_REQUEST,
            Self::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            Self::Forbidden(_) => StatusCode::FORBIDDEN,
            Self::NotFound | Self::NoRoute => StatusCode::NOT_FOUND,
            Self::Conflict(_) => StatusCode::CONFLICT,
            Self::Gone(_) => StatusCode::GONE,
            Self::PayloadTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            Self::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Self::Validation(_) => StatusCode::UNPROCESSABLE_ENTITY,
            Self::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            Self::TooManyRequests { .. } => StatusCode::TOO_MANY_REQUESTS,
        }
    }

    fn slug(&self) -> &'static str {
        match self {
            Self::BadRequest(_) => "malformed-request",
            Self::Unauthorized(_) => "unauthorized",
            Self::Forbidden(_) => "forbidden",
            Self::NotFound => "not-found",
            Self::NoRoute => "no-route",
            Self::Conflict(_) => "conflict",
            Self::Gone(_) => "gone",
            Self::PayloadTooLarge(_) => "too-large",
            Self::UnsupportedMediaType(_) => "unsupported-media-type",
            Self::Validation(_) => "validation",
            Self::Unavailable(_) => "unavailable",
            Self::TooManyRequests { .. } => "rate-limited",
        }
    }
}

#[derive(Serialize)]
struct Problem<'a> {
    #[serde(rename = "type")]
    kind: String,
    title: &'a str,
    status: u16,
    detail: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    errors: Option<&'a [FieldError]>,
}

/// Seconds a client should wait after a 503.
const RETRY_AFTER_SECONDS: &str = "2";

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status();
        let detail = match &self {
            // Internals stay in the logs; the client learns only that it may retry.
            Self::Unavailable(why) => {
                tracing::error!(error = %why, "dependency failed");
                "a dependency is unavailable; retry later".to_string()
            }
            Self::NotFound => "no such resource".to_string(),
            Self::NoRoute => "no such route".to_string(),
            Self::TooManyRequests { retry_after_seconds } => {
                format!("too many requests; retry in {retry_after_seconds} s")
            }
            Self::Validation(errors) => format!("{} field(s) are invalid", errors.len()),
            Self::BadRequest(d)
            | Self::Unauthorized(d)
            | Self::Forbidden(d)
            | Self::Conflict(d)
            | Self::Gone(d)
            | Self::PayloadTooLarge(d)
            | Self::UnsupportedMediaType(d) => d.clone(),
        };
        let errors = match &self {
            Self::Validation(e) => Some(e.as_slice()),
            _ => None,
        };
        let body = Problem {
            kind: format!("/problems/{}", self.slug()),
            title: status.canonical_reason().unwrap_or("Error"),
            status: status.as_u16(),
            detail,
            errors,
        };
        let mut res = (status, serde_json::to_string(&body).unwrap_or_default()).into_response();
        let h = res.headers_mut();
        h.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/problem+json"));
        if status == StatusCode::SERVICE_UNAVAILABLE {
            h.insert(header::RETRY_AFTER, HeaderValue::from_static(RETRY_AFTER_SECONDS));
        }
        if let Self::TooManyRequests { retry_after_seconds } = &self {
            h.insert(header::RETRY_AFTER, HeaderValue::from(*retry_after_seconds));
        }
        res
    }
}

impl From<Invalid> for ApiError {
    fn from(e: Invalid) -> Self {
        match e {
            Invalid::Malformed(why) => ApiError::BadRequest(why),
            Invalid::Fields(errors) => ApiError::Validation(errors),
        }
    }
}

/// What the storage adapters can report; the handlers never see SDK error types.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A conditional write lost: the item changed or already exists.
    #[error("condition failed")]
    ConditionFailed,
    /// The store could not be reached or kept failing after the SDK's retries.
    #[error("store unavailable: {0}")]
    Unavailable(String),
    /// An item in the table does not parse: a bug or a manual edit, never the caller's fault.
    #[error("corrupt item: {0}")]
    Corrupt(String),
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::ConditionFailed => ApiError::Conflict("the resource changed; reload and retry".into()),
            StoreError::Unavailable(why) | StoreError::Corrupt(why) => ApiError::Unavailable(why),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn problem_json_lists_every_field_and_hides_internals() {
        let res = ApiError::Validation(vec![FieldError::new("title", "is required"), FieldError::new("a.b", "bad")])
            .into_response();
        assert_eq!(res.status(), 422);
        assert_eq!(res.headers()["content-type"], "application/problem+json");
        let body = axum::body::to_bytes(res.into_body(), 10_000).await.unwrap();
        let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(v["errors"][1]["field"], "a.b");
        assert_eq!(v["status"], 422);

        let res = ApiError::Unavailable("dynamodb: ThrottlingException arn:aws:...".into()).into_response();
        assert_eq!(res.status(), 503);
        assert_eq!(res.headers()["retry-after"], "2");
        let body = axum::body::to_bytes(res.into_body(), 10_000).await.unwrap();
        assert!(!String::from_utf8_lossy(&body).contains("arn:aws"));
    }
}
