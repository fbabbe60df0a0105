//! A recruiter's writes to the prospect pool: a person they sourced, and their edit of one. Consent a
//! recruiter records is the person's word to them, kept with who recorded it.
use crate::api::AppState;
use crate::application::CONSENT_TEXT_VERSION;
use crate::consent::{Consent, Method};
use crate::email::EmailHash;
use crate::error::{ApiError, StoreError};
use crate::prospect::{Prospect, ProspectInput};
use chrono::{DateTime, Utc};

/// Adds the person `input` names for the recruiter `by`: refused for an address that must not be
/// contacted or one already in the pool. Without `consent: true` they wait as `pending_consent`.
pub async fn create(st: &AppState, input: ProspectInput, by: &str) -> Result<Prospect, ApiError> {
    let email = input.email.clone().ok_or_else(|| ApiError::field("email", "is required"))?;
    let now = st.clock.now();
    let h = st.email_hash(&email).await?;
    if let Some(reason) = st.store.suppression(&h).await? {
        return Err(ApiError::Conflict(format!("this address must not be contacted ({reason})")));
    }
    let consent = (input.consent == Some(true)).then(|| recruiter_consent(by, now));
    let p = input.sourced(h, email, now);
    let event = crate::event::prospect_created(st.clock.as_ref(), &p, now);
    match st.store.create_prospect(&p, consent.as_deref().and_then(<[Consent]>::first), &event, now).await {
        Ok(()) => {
            if let Some(given) = &consent {
                st.store.record_consents(&p.id, given).await?;
            }
            Ok(p)
        }
        Err(StoreError::ConditionFailed) => {
            Err(ApiError::Conflict("a prospect with this email exists; PATCH it".into()))
        }
        Err(e) => Err(e.into()),
    }
}

/// Edits the prospect `id` (their email's hash) as `input` says, for the recruiter `by`; answers it
/// as written. Refused if it changed since it was read.
pub async fn edit(st: &AppState, id: &EmailHash, input: ProspectInput, by: &str) -> Result<Prospect, ApiError> {
    let now = st.clock.now();
    let (mut p, pending) = st.store.prospect_to_edit(id).await?.ok_or(ApiError::NotFound)?;
    let consent = input.consent == Some(true);
    input.edit(&mut p).map_err(ApiError::Conflict)?;
    if consent {
        st.store.record_consents(&p.id, &recruiter_consent(by, now)).await?;
    }
    // A sign-up waiting for the person's confirmation stays waiting.
    match st.store.rewrite_prospect(&p, pending, now).await {
        Ok(()) => Ok(Prospect { updated_at: Some(now), ..p }),
        Err(StoreError::ConditionFailed) => {
            Err(ApiError::Conflict("the prospect changed meanwhile; read it again".into()))
        }
        Err(e) => Err(e.into()),
    }
}

/// Consent a recruiter records on the person's word.
fn recruiter_consent(by: &str, now: DateTime<Utc>) -> Vec<Consent> {
    let mut given = Consent::talent_pool(now, Method::Recruiter, CONSENT_TEXT_VERSION);
    for c in &mut given {
        c.by = Some(by.to_string());
    }
    given
}
