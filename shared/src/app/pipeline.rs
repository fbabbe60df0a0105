//! Moving an application: the domain's move, the one conditional write with the report counters (and
//! a silver medalist's pool record), then a consent request to a silver medalist who has none.
use crate::app::AppState;
use crate::clock::rfc3339;
use crate::email::EmailHash;
use crate::error::{ApiError, StoreError};
use crate::pipeline::{moved, Move};
use crate::stage::StageKind;
use crate::store::{ApplicationContext, AuditEntry, ExactSamples, KeepInTouch, MovedApplication, EXACT_SAMPLES};
use serde_json::{json, Value};

/// Moves the application in `ctx` as `m` asks, for the user `by`; answers the context as moved.
/// `audit`: the request's audit entry, written in the move's transaction.
pub async fn move_application(
    st: &AppState,
    ctx: ApplicationContext,
    m: Move,
    by: &str,
    audit: Option<&AuditEntry>,
) -> Result<ApplicationContext, ApiError> {
    let a = &ctx.application;
    let stages = &ctx.job.spec.stages;
    let now = st.clock.now();
    let next = moved(a, stages, &st.config.exit_reasons, &m, by, now).map_err(|r| match r.invalid() {
        Some(invalid) => invalid.into(),
        None => ApiError::Conflict(format!("the application is at version {}; reload and retry", a.version)),
    })?;
    let seconds_in_stage = (now - a.entered_stage_at()).num_seconds();
    let hired = stages.iter().any(|s| s.id == m.to && s.kind == StageKind::Hired);
    let email_hash = st.email_hash(&ctx.candidate.email).await?;
    let record = json!({"job_id": ctx.job.id, "job_title": ctx.job.spec.title, "furthest_stage": next.furthest_stage,
                        "exit": m.to, "reason": m.reason, "tags": m.tags, "at": rfc3339(now)});
    let consented = a.consents.talent_pool.given;
    let keep = (m.keep_in_touch && consented).then(|| KeepInTouch {
        email_hash: &email_hash,
        candidate: &ctx.candidate,
        record: record.clone(),
    });
    let exact =
        ExactSamples { in_stage: ctx.samples_in_stage < EXACT_SAMPLES, to_hire: ctx.samples_to_hire < EXACT_SAMPLES };
    let events = crate::event::moved(st.clock.as_ref(), a, &next, stages);
    let written = st
        .store
        .move_application(MovedApplication {
            moved: &next,
            email_hash: &email_hash,
            expected: a.version,
            left_stage: &a.stage,
            seconds_in_stage,
            hired,
            keep,
            exact,
            demographics: ctx.demographics.as_ref(),
            events: &events,
            audit,
        })
        .await;
    match written {
        Ok(()) => {}
        Err(StoreError::ConditionFailed) => {
            return Err(ApiError::Conflict("the application changed since that version; reload and retry".into()))
        }
        Err(e) => return Err(e.into()),
    }
    if m.keep_in_touch && !consented {
        ask_consent(st, &ctx, &email_hash, &record).await;
    }
    Ok(ApplicationContext { application: next, ..ctx })
}

/// A silver medalist without talent-pool consent is asked for it in one email (the request's event has
/// it sent), and joins the pool only by confirming. Failure here never undoes the move; it is logged.
async fn ask_consent(st: &AppState, ctx: &ApplicationContext, email_hash: &EmailHash, record: &Value) {
    let now = st.clock.now();
    let event =
        crate::event::consent_requested(st.clock.as_ref(), email_hash, "silver_medalist", Some(&ctx.job.id), now);
    if let Err(e) = st.store.request_consent(email_hash, &ctx.candidate, record, &event, now).await {
        tracing::error!(application = %ctx.application.id, error = %e, "consent request not recorded");
    }
}
