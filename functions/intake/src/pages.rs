//! The HTML the career site's visitors see from this function (the thank-you page, the talent pool's
//! pages) and the embeddable widget's script.
use axum::extract::State;
use axum::response::{Html, IntoResponse, Response};
use http::{header, StatusCode};
use rapport::api::AppState;

pub(crate) fn escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;").replace('\'', "&#39;")
}

/// A small page for people who followed a link or posted a plain form.
pub(crate) fn page(status: StatusCode, title: &str, body_html: &str) -> Response {
    let html = format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" \
         content=\"width=device-width\"><title>{t}</title></head><body style=\"font-family:sans-serif;max-width:36em;\
         margin:3em auto;line-height:1.5\"><h1>{t}</h1>{body_html}</body></html>",
        t = escape(title)
    );
    (status, Html(html)).into_response()
}

/// A page whose one button posts back to `path` with the link's `token`: a GET only shows it, since
/// mail scanners fetch links and only the person's click may act.
pub(crate) fn button_page(title: &str, question_html: &str, path: &str, token: &str, button_html: &str) -> Response {
    let action = format!("{path}?token={}", escape(token));
    page(
        StatusCode::OK,
        title,
        &format!("{question_html}<form method=\"post\" action=\"{action}\">{button_html}</form>"),
    )
}

/// A link that is forged, expired or missing its token.
pub(crate) fn bad_link(hint_html: &str) -> Response {
    page(StatusCode::BAD_REQUEST, "This link does not work", hint_html)
}

/// The embeddable widget: plain JavaScript, no dependencies, cached briefly by browsers and CDNs.
pub(crate) async fn widget() -> Response {
    (
        [
            (header::CONTENT_TYPE, "application/javascript; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=300"),
        ],
        include_str!("../assets/widget.js"),
    )
        .into_response()
}

pub(crate) async fn thanks(State(st): State<AppState>) -> Response {
    let company = escape(&st.config.company_name);
    page(
        StatusCode::OK,
        "Thank you for applying",
        &format!("<p>{company} has your application and will be in touch.</p>"),
    )
}
