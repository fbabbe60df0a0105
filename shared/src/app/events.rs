//! What follows an event: the emails a change causes (so no request waits on SES) and the signed
//! webhooks to the employer's other systems. The stream delivers at least once, so each consumer acts
//! once per event: it claims the event first (`DONE#<consumer>`), and gives the claim back when it
//! failed before acting, so the stream's retry acts instead.
use crate::app::notify::{consent_letter, deliver, ConsentAsk, Ledger, Letter, Needs, NotSent, Notification};
use crate::app::webhooks::{fan_out, Subscribers};
use crate::app::AppState;
use crate::consent::Purpose;
use crate::error::ApiError;
use crate::event::{Event, EventType};
use crate::prospect::SuppressionReason;
use serde_json::json;

/// Runs every consumer of `event`. `Err`: one failed in a way a retry may mend (the stream retries
/// the record; consumers that finished are not run twice).
/// `hooks`: the webhook endpoints, read once for the batch the event came in.
pub async fn dispatch(st: &AppState, event: &Event, hooks: &Subscribers) -> Result<(), ApiError> {
    match event.kind {
        EventType::ApplicationCreated => once(st, event, "confirmation", confirmation(st, event)).await?,
        EventType::ProspectConsentRequested => once(st, event, "consent_request", consent_request(st, event)).await?,
        _ => {}
    }
    // Deliveries are made once per event and endpoint by the webhooks themselves: no claim needed.
    fan_out(st, event, hooks).await
}

/// Runs `act` if this is the first claim of `event` for `consumer`.
async fn once(
    st: &AppState,
    event: &Event,
    consumer: &str,
    act: impl std::future::Future<Output = Result<(), ApiError>>,
) -> Result<(), ApiError> {
    if !st.store.claim_event(event, consumer, st.clock.now()).await? {
        return Ok(());
    }
    if let Err(e) = act.await {
        // Only failures that surely sent nothing reach here (see `confirmation`): give the claim back.
        st.store.release_event(event, consumer).await?;
        return Err(e);
    }
    Ok(())
}

/// The confirmation of a new application, to the address it was made with.
async fn confirmation(st: &AppState, event: &Event) -> Result<(), ApiError> {
    let id = |k: &str| event.data[k].as_str().unwrap_or_default().to_string();
    let (job_id, candidate_id, application_id) = (id("job_id"), id("candidate_id"), id("application_id"));
    let corrupt = |what: &str| ApiError::Unavailable(format!("event {}: {what}", event.id));
    let (Ok(job), Ok(candidate), Ok(application)) = (
        job_id.parse::<crate::ids::JobId>(),
        candidate_id.parse::<crate::ids::CandidateId>(),
        application_id.parse::<crate::ids::ApplicationId>(),
    ) else {
        return Err(corrupt("application.created without its ids"));
    };
    let Some((job, candidate)) = st.store.job_and_candidate(&job, &candidate).await? else {
        // Erased before the email went: there is nobody to write to.
        tracing::info!(application = %application, "confirmation not sent: the candidate is gone");
        return Ok(());
    };
    let email_hash = st.email_hash(&candidate.email).await?;
    // An erasure keeps the address from imports and campaigns, not from the confirmation of an
    // application the person sends again themselves.
    let suppressed = st.store.suppression(&email_hash).await?.filter(|r| *r != SuppressionReason::Erased);
    let first = &candidate.first_name;
    let context = json!({"first_name": first, "job_title": job.spec.title, "company": st.config.company_name,
                         "application_id": application.to_string()});
    let letter = Letter {
        to: &candidate.email,
        to_name: Some(format!("{first} {}", candidate.last_name)),
        email_hash: &email_hash,
        subject: format!("Your application for {}", job.spec.title),
        template: "confirmation",
        context,
        campaign: None,
    };
    let needs = Needs { purpose: Some(Purpose::Processing), known: Some((suppressed, true)) };
    let n = Notification { letter, needs, ledger: Ledger::Application(&application), kind: "confirmation" };
    match deliver(st, n).await {
        Ok(_) => Ok(()),
        Err(NotSent::Retry(e)) => Err(e),
        // SES refused it for good, or may have taken it: never sent twice.
        Err(NotSent::Never(code)) => {
            tracing::error!(%application, code, "confirmation email not sent");
            Ok(())
        }
    }
}

/// The email asking a person to confirm joining the talent pool: the opt-in of a sign-up or a
/// drop-off's tick, or a silver medalist's request. The link names the request waiting now.
async fn consent_request(st: &AppState, event: &Event) -> Result<(), ApiError> {
    let hash: crate::email::EmailHash = serde_json::from_value(event.data["prospect_id"].clone())
        .map_err(|_| ApiError::Unavailable(format!("event {}: no prospect_id", event.id)))?;
    let Some(pending) = st.store.pending_request(&hash).await? else {
        // Confirmed, or erased, before the email went: nothing to ask.
        return Ok(());
    };
    let origin = event.data["origin"].as_str().unwrap_or_default();
    let name = pending.first_name.as_deref();
    let full_name = match (&pending.first_name, &pending.last_name) {
        (Some(f), Some(l)) => Some(format!("{f} {l}")),
        (f, _) => f.clone(),
    };
    let needs = match origin {
        // The person filled in the form this moment: an earlier unsubscribe (or erasure) does not
        // stop it, since confirming lifts it; a bounce or complaint does.
        "subscriber" => {
            let suppressed = st.store.suppression(&hash).await?.filter(|r| !r.lifted_by_confirming());
            Needs { purpose: None, known: Some((suppressed, true)) }
        }
        // A tick the person left behind: every suppression holds.
        "drop_off" => Needs { purpose: None, known: None },
        // Asked on the recruiter's move: the person must still allow processing.
        _ => Needs { purpose: Some(Purpose::Processing), known: None },
    };
    let title = pending.job_title.as_deref().unwrap_or("a role");
    let ask =
        if origin == "silver_medalist" { ConsentAsk::SilverMedalist { job_title: title } } else { ConsentAsk::Optin };
    let letter = consent_letter(st, &hash, &pending.email, full_name, name, Some(&pending.nonce), ask).await?;
    match deliver(st, Notification { letter, needs, ledger: Ledger::Person(&hash), kind: "optin" }).await {
        Ok(_) => Ok(()),
        Err(NotSent::Retry(e)) => Err(e),
        Err(NotSent::Never(code)) => {
            tracing::error!(code, "consent request email not sent");
            Ok(())
        }
    }
}
