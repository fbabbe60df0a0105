//! The `intake` function: what career-site forms post, and the pages around them. Resume uploads
//! (presigned S3 PUTs), applications (JSON or HTML forms), drafts (the start of an application, for
//! drop-off capture), the talent pool (sign-up, its confirmation, unsubscribing), and the thank-you
//! page and embeddable widget. Each handler parses, calls one use case in `rapport::app`, and maps
//! the answer.
use axum::routing::{get, post};
use axum::Router;
use rapport::api::{no_route, rate_limit, AppState};

mod applications;
mod drafts;
mod pages;
mod talent_pool;
mod uploads;

pub fn router(state: AppState) -> Router {
    // Form posts that create something are rate limited per client; unsubscribing never is.
    let limited = Router::new()
        .route("/careers/uploads", post(uploads::create_upload))
        .route("/careers/jobs/{id}/applications", post(applications::apply))
        .route("/careers/jobs/{id}/drafts", post(drafts::start_draft))
        .route("/careers/talent-pool", post(talent_pool::subscribe))
        .route_layer(axum::middleware::from_fn_with_state(state.clone(), rate_limit));
    Router::new()
        .merge(limited)
        .route("/careers/thanks", get(pages::thanks))
        .route("/careers/widget.js", get(pages::widget))
        .route("/careers/talent-pool/confirm", get(talent_pool::confirm_page).post(talent_pool::confirm))
        .route("/careers/unsubscribe", get(talent_pool::unsubscribe_page).post(talent_pool::unsubscribe))
        .fallback(no_route)
        .with_state(state)
}
