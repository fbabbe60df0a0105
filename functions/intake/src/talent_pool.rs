//! The talent pool from the career site: `POST /careers/talent-pool` (sign-up, double opt-in), the
//! confirmation link's page and button, and the unsubscribe link's page and RFC 8058 one-click POST.
use crate::pages::{bad_link, button_page, escape, page};
use axum::extract::State;
use axum::response::Response;
use http::StatusCode;
use rapport::api::{json, AppState, JsonBody, QueryMap};
use rapport::app::pool;
use rapport::error::ApiError;
use rapport::prospect::{Subscription, CONFIRM, UNSUBSCRIBE};
use rapport::store::Confirmed;
use serde_json::json;

/// What a confirmation link that does not work says to do.
const SIGN_UP_AGAIN: &str = "<p>It may have expired. Sign up again to get a new one.</p>";
/// What an unsubscribe link that does not work says to do.
const USE_LATEST_LINK: &str = "<p>Use the link in the latest email from us.</p>";

pub(crate) async fn subscribe(State(st): State<AppState>, JsonBody(body): JsonBody) -> Result<Response, ApiError> {
    pool::subscribe(&st, &Subscription::parse(body)?).await?;
    // The same answer whether or not the address was known: the form reveals nothing.
    Ok(json(StatusCode::ACCEPTED, &json!({"status": "confirmation_sent"})))
}

/// The link's token; a missing one is a link that does not work.
fn token(q: &QueryMap) -> &str {
    q.get("token").unwrap_or_default()
}

/// Shows a button and changes nothing: only the person's click may confirm.
pub(crate) async fn confirm_page(State(st): State<AppState>, q: QueryMap) -> Result<Response, ApiError> {
    if !pool::link_works(&st, CONFIRM, token(&q)).await? {
        return Ok(bad_link(SIGN_UP_AGAIN));
    }
    let question = format!("<p>Hear from {} about jobs that fit you?</p>", escape(&st.config.company_name));
    let button = "<button type=\"submit\">Confirm</button>";
    Ok(button_page("Confirm your subscription", &question, "/careers/talent-pool/confirm", token(&q), button))
}

/// The button's POST: the token is the authority.
pub(crate) async fn confirm(State(st): State<AppState>, q: QueryMap) -> Result<Response, ApiError> {
    let Some(confirmed) = pool::confirm(&st, token(&q)).await? else { return Ok(bad_link(SIGN_UP_AGAIN)) };
    let company = escape(&st.config.company_name);
    Ok(match confirmed {
        Confirmed::Joined | Confirmed::Already => page(
            StatusCode::OK,
            "You are subscribed",
            &format!("<p>You will hear from {company} about jobs that fit you.</p>"),
        ),
        Confirmed::Unknown => {
            page(StatusCode::NOT_FOUND, "Nothing to confirm", "<p>Sign up again to get a new link.</p>")
        }
        Confirmed::Suppressed => {
            page(StatusCode::CONFLICT, "We cannot email this address", "<p>Mail to it bounced or was reported.</p>")
        }
    })
}

/// Shows a button and changes nothing: a GET must never unsubscribe.
pub(crate) async fn unsubscribe_page(State(st): State<AppState>, q: QueryMap) -> Result<Response, ApiError> {
    if !pool::link_works(&st, UNSUBSCRIBE, token(&q)).await? {
        return Ok(bad_link(USE_LATEST_LINK));
    }
    let question = format!("<p>Stop all emails from {}?</p>", escape(&st.config.company_name));
    let button = "<input type=\"hidden\" name=\"List-Unsubscribe\" value=\"One-Click\">\
                  <button type=\"submit\">Unsubscribe</button>";
    Ok(button_page("Unsubscribe", &question, "/careers/unsubscribe", token(&q), button))
}

/// RFC 8058 one-click (`List-Unsubscribe=One-Click`) or the page's form: the token is the authority.
pub(crate) async fn unsubscribe(State(st): State<AppState>, q: QueryMap) -> Result<Response, ApiError> {
    if !pool::unsubscribe(&st, token(&q)).await? {
        return Ok(bad_link(USE_LATEST_LINK));
    }
    Ok(page(StatusCode::OK, "You are unsubscribed", "<p>You will not get any more emails from us.</p>"))
}
