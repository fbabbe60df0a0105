//! The `nurture` task: enrols people in active campaigns (an activation's sweep of the pool, and
//! everyone flagged changed since the last run), then sends what is due from the sparse due index
//! ([`send`]). Each email: one conditional claim in the send ledger, one SES call, one transaction
//! recording the outcome and scheduling the next step (2 writes, 1 SES call); the reads are a page's
//! (one query, one batch read per 25 people). Several in flight at once, to different people, their
//! starts held to the account's send rate (so the rate is used, never passed); stops before the
//! time budget runs out and the next run resumes where this one stopped. Who is in, what goes next
//! and when are the domain's [`crate::campaign`] rules.
mod letter;
mod send;

use crate::api::AppState;
use crate::campaign::{due_after, exclusions, Campaign, CampaignStatus};
use crate::error::ApiError;
use crate::ids::CampaignId;
use crate::prospect::Prospect;
use chrono::{DateTime, Utc};
use serde_json::{json, Value};
use std::collections::HashMap;
use std::time::Instant;

const PAGE: i32 = 100;

#[derive(Default)]
struct Counts {
    enrolled: u64,
    sent: u64,
    rejected: u64,
    unknown: u64,
    skipped: u64,
    ended: u64,
    deferred: u64,
}

impl Counts {
    fn add(&mut self, o: Counts) {
        self.enrolled += o.enrolled;
        self.sent += o.sent;
        self.rejected += o.rejected;
        self.unknown += o.unknown;
        self.skipped += o.skipped;
        self.ended += o.ended;
        self.deferred += o.deferred;
    }
}

/// One run of the task at the scheduled time `now`, until `deadline`; answers its counts.
pub async fn run(st: &AppState, now: DateTime<Utc>, deadline: Instant) -> Result<Value, ApiError> {
    let mut n = Counts::default();
    let campaigns: HashMap<CampaignId, Campaign> = st.store.campaigns().await?.into_iter().map(|c| (c.id, c)).collect();
    let active: Vec<&Campaign> = campaigns.values().filter(|c| c.status == CampaignStatus::Active).collect();
    let swept = sweep(st, &active, now, deadline, &mut n).await?;
    let changed = enrol_changed(st, &active, now, deadline, &mut n).await?;
    let sent = send::send_due(st, &campaigns, now, deadline, &mut n).await?;
    let complete = swept && changed && sent;
    tracing::info!(n.enrolled, n.sent, n.rejected, n.unknown, n.skipped, n.ended, n.deferred, complete, "nurture run");
    Ok(json!({"task": "nurture", "enrolled": n.enrolled, "sent": n.sent, "rejected": n.rejected, "unknown": n.unknown,
              "skipped": n.skipped, "ended": n.ended, "deferred": n.deferred, "complete": complete}))
}

/// Enrols a person in a campaign if they match it now.
async fn enrol_if_match(st: &AppState, c: &Campaign, p: &Prospect, now: DateTime<Utc>) -> Result<bool, ApiError> {
    if !exclusions(&c.segment, p, now.date_naive()).is_empty() {
        return Ok(false);
    }
    let due = due_after(&c.steps, 0, now).unwrap_or(now);
    Ok(st.store.enrol(&p.id, &c.id, due, now).await?)
}

/// An activation's sweep: every prospect in the pool, a page at a time, resumable.
async fn sweep(
    st: &AppState,
    active: &[&Campaign],
    now: DateTime<Utc>,
    deadline: Instant,
    n: &mut Counts,
) -> Result<bool, ApiError> {
    for (c, mut after) in st.store.campaigns_to_sweep().await? {
        let Some(c) = active.iter().find(|a| a.id == c.id) else {
            st.store.set_sweep(&c.id, None).await?;
            continue;
        };
        loop {
            if Instant::now() >= deadline {
                return Ok(false);
            }
            let (page, last) = st.store.pool_page(&after, PAGE).await?;
            for p in &page {
                n.enrolled += u64::from(enrol_if_match(st, c, p, now).await?);
            }
            match last {
                Some(l) => {
                    after = l;
                    st.store.set_sweep(&c.id, Some(&after)).await?;
                }
                None => {
                    st.store.set_sweep(&c.id, None).await?;
                    break;
                }
            }
        }
    }
    Ok(true)
}

/// Always on: people who joined or changed since the last run enrol in what they now match.
async fn enrol_changed(
    st: &AppState,
    active: &[&Campaign],
    now: DateTime<Utc>,
    deadline: Instant,
    n: &mut Counts,
) -> Result<bool, ApiError> {
    loop {
        if Instant::now() >= deadline {
            return Ok(false);
        }
        let page = st.store.changed_prospects(PAGE).await?;
        for (p, seen) in &page {
            for c in active {
                n.enrolled += u64::from(enrol_if_match(st, c, p, now).await?);
            }
            st.store.clear_changed(&p.id, seen).await?;
        }
        if page.len() < PAGE as usize {
            return Ok(true);
        }
    }
}
