//! `/feeds/*`: the job boards' feeds as the `feeds` task ([`rapport::app::feeds`]) last wrote them.
use axum::response::{IntoResponse, Response};
use http::{header, HeaderMap, HeaderValue, StatusCode};
use rapport::api::AppState;
use rapport::error::ApiError;
use rapport::feed::FeedFile;
use rapport::files::FeedRead;

/// Lambda answers at most 6 MB; a feed larger than this is handed over as a short-lived link.
const MAX_INLINE: u64 = 4 * 1024 * 1024;

/// `GET /feeds/<file>`: the last build, with `ETag`, `Last-Modified` and 304 on `If-None-Match`.
pub async fn serve(st: &AppState, path: &str, headers: &HeaderMap) -> Result<Response, ApiError> {
    let file = path.strip_prefix("/feeds/");
    let feed = FeedFile::ALL.into_iter().find(|f| file == Some(f.file_name())).ok_or(ApiError::NoRoute)?;
    let if_none_match = headers.get(header::IF_NONE_MATCH);
    let (bytes, etag, modified) =
        match st.files.read_feed(feed, if_none_match.and_then(|v| v.to_str().ok()), MAX_INLINE).await? {
            FeedRead::NotModified => {
                let mut res = StatusCode::NOT_MODIFIED.into_response();
                if let Some(tag) = if_none_match {
                    res.headers_mut().insert(header::ETAG, tag.clone());
                }
                return Ok(res);
            }
            FeedRead::Missing => return Err(ApiError::NotFound),
            FeedRead::Link(link) => return Ok((StatusCode::FOUND, [(header::LOCATION, link)]).into_response()),
            FeedRead::Body { bytes, etag, last_modified } => (bytes, etag, last_modified),
        };
    let mut res = (StatusCode::OK, bytes).into_response();
    let h = res.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(feed.content_type()));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("public, max-age=300"));
    if let Ok(v) = HeaderValue::from_str(&etag) {
        h.insert(header::ETAG, v);
    }
    if let Some(t) =
        modified.and_then(|t| HeaderValue::from_str(&t.format("%a, %d %b %Y %H:%M:%S GMT").to_string()).ok())
    {
        h.insert(header::LAST_MODIFIED, t);
    }
    Ok(res)
}
