//! The `drafts` task: drop-off capture. Drafts older than `DRAFT_ABANDON_AFTER` become drop-offs; a
//! drop-off who ticked the talent-pool box is asked to confirm (the request's event has the opt-in email
//! sent), once for the draft, and only their confirmation puts them in the pool (anyone can type an
//! address into a form).
use crate::api::AppState;
use crate::draft::Draft;
use crate::error::ApiError;
use chrono::{DateTime, Utc};
use serde_json::{json, Value};
use std::time::Instant;

/// Page size of the drafts sweep.
const PAGE: i32 = 100;

/// Abandons stale drafts a page at a time, until none are left or `deadline` passes (the next run
/// resumes: abandoned drafts leave the index); answers the run's counts.
pub async fn sweep(st: &AppState, now: DateTime<Utc>, deadline: Instant) -> Result<Value, ApiError> {
    let cutoff = now - st.config.draft_abandon_after;
    let (mut abandoned, mut asked, mut failed, mut complete) = (0, 0, 0, false);
    while Instant::now() < deadline {
        let page = st.store.stale_drafts(cutoff, PAGE).await?;
        let mut progress = false;
        for draft in &page {
            if !st.store.abandon_draft(draft).await? {
                continue;
            }
            progress = true;
            abandoned += 1;
            if !draft.talent_pool {
                continue;
            }
            // One draft's request failing never stops the sweep: it is counted, and that draft's
            // opt-in is not tried again (the address may sign up itself).
            match ask_drop_off(st, draft, now).await {
                Ok(s) => asked += usize::from(s),
                Err(e) => {
                    failed += 1;
                    tracing::warn!(error = %e, "a drop-off's opt-in was not requested");
                }
            }
        }
        // A short page, or one whose drafts were all handled already (the index lags a little): done.
        if page.len() < PAGE as usize || !progress {
            complete = true;
            break;
        }
    }
    tracing::info!(abandoned, asked, failed, complete, "drafts swept");
    Ok(json!({"task": "drafts", "abandoned": abandoned, "optin_requested": asked, "optin_failed": failed,
              "complete": complete}))
}

/// The opt-in request for a drop-off's tick, once for the draft. `Ok(true)`: requested.
async fn ask_drop_off(st: &AppState, draft: &Draft, now: DateTime<Utc>) -> Result<bool, ApiError> {
    let hash = st.email_hash(&draft.email).await?;
    let event = crate::event::consent_requested(st.clock.as_ref(), &hash, "drop_off", None, now);
    Ok(st.store.request_drop_off_optin(&hash, draft, &event, now).await?)
}
