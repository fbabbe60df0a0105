//! The talent pool from the career site: signing up (double opt-in), confirming, unsubscribing. The
//! emails' links carry signed tokens, and a token is the authority: it names the address it acts for.
use crate::app::AppState;
use crate::error::ApiError;
use crate::prospect::{PersonRef, Subscription, CONFIRM, UNSUBSCRIBE};
use crate::store::Confirmed;

/// Records the sign-up as pending, with the event that has the opt-in email sent when one is due. The
/// caller answers the same whether or not the address was known.
pub async fn subscribe(st: &AppState, sub: &Subscription) -> Result<(), ApiError> {
    let now = st.clock.now();
    let hash = st.email_hash(&sub.email).await?;
    let event = crate::event::consent_requested(st.clock.as_ref(), &hash, "subscriber", None, now);
    st.store.subscribe(&hash, sub, &event, now).await?;
    Ok(())
}

/// Whether `token` is intact and current for `purpose` ([`CONFIRM`] or [`UNSUBSCRIBE`]): what a page
/// checks before it shows its button, changing nothing.
pub async fn link_works(st: &AppState, purpose: &str, token: &str) -> Result<bool, ApiError> {
    Ok(st.signer().await?.verify::<PersonRef>(purpose, token, st.clock.now()).is_some())
}

/// Confirms the pending sign-up a confirmation link names; `None`: the link does not work.
pub async fn confirm(st: &AppState, token: &str) -> Result<Option<Confirmed>, ApiError> {
    let now = st.clock.now();
    let Some(person) = st.signer().await?.verify::<PersonRef>(CONFIRM, token, now) else { return Ok(None) };
    let joined = crate::event::prospect_joined(st.clock.as_ref(), &person.h, now);
    Ok(Some(st.store.confirm_subscription(&person.h, person.n.as_deref(), &joined, now).await?))
}

/// Unsubscribes the address an unsubscribe link names, counted against the campaign whose email
/// carried the link; `false`: the link does not work.
pub async fn unsubscribe(st: &AppState, token: &str) -> Result<bool, ApiError> {
    let now = st.clock.now();
    let Some(person) = st.signer().await?.verify::<PersonRef>(UNSUBSCRIBE, token, now) else { return Ok(false) };
    let event = crate::event::prospect_unsubscribed(st.clock.as_ref(), &person.h, now);
    if st.store.unsubscribe(&person.h, &event, now).await? {
        if let Some(campaign) = &person.c {
            st.store.count_campaign_event(campaign, "unsubscribed").await?;
        }
    }
    Ok(true)
}
