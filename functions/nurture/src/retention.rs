//! The `retention` task: erases people with no activity for `RETENTION_DAYS` and no open
//! application, and prospects who never applied whose talent-pool consent has lapsed (given more
//! than `RETENTION_DAYS` ago and not renewed). It first finishes erasures a crash interrupted. Works
//! in pages within the time budget and resumes on the next run; logs counts, never names.
use chrono::{DateTime, Duration, Utc};
use rapport::api::AppState;
use rapport::error::ApiError;
use rapport::prospect::Prospect;
use rapport::store::PersonKeys;
use serde_json::{json, Value};
use std::time::Instant;

const PAGE: i32 = 25;

pub async fn run(st: &AppState, now: DateTime<Utc>, deadline: Instant) -> Result<Value, ApiError> {
    let cutoff = now - Duration::days(st.config.retention_days);
    let (mut resumed, mut erased, mut kept, mut complete) = (0u64, 0u64, 0u64, true);
    'work: {
        // Erasures a crash left half done.
        loop {
            if Instant::now() >= deadline {
                complete = false;
                break 'work;
            }
            let open = st.store.open_erasures(PAGE).await?;
            for t in &open {
                rapport::privacy::erase(st, &t.person, "retention", now).await?;
                resumed += 1;
            }
            if open.len() < PAGE as usize {
                break;
            }
        }
        // People who applied, stalest first.
        loop {
            if Instant::now() >= deadline {
                complete = false;
                break 'work;
            }
            let stale = st.store.stale_people(cutoff, PAGE).await?;
            for p in &stale {
                let open = match &p.candidate_id {
                    Some(c) => st.store.has_open_application(c).await?,
                    None => false,
                };
                if open {
                    st.store.defer_retention(p, now).await?;
                    kept += 1;
                } else {
                    rapport::privacy::erase(st, p, "retention", now).await?;
                    erased += 1;
                }
            }
            if stale.len() < PAGE as usize {
                break;
            }
        }
        // Prospects who never applied: a pass over the pool, resumed where the last run stopped.
        let mut after = st.store.retention_cursor().await?;
        loop {
            if Instant::now() >= deadline {
                complete = false;
                break 'work;
            }
            let (page, last) = st.store.pool_page(&after, 100).await?;
            for p in page.iter().filter(|p| lapsed(p, cutoff)) {
                // Someone who applied is the retention index's to judge (by their last activity and
                // open applications), whatever their prospect record says.
                let Some((keys, _)) = st.store.resolve_person(&p.id).await? else { continue };
                if keys.candidate_id.is_some() {
                    continue;
                }
                rapport::privacy::erase(
                    st,
                    &PersonKeys { email_hash: p.id.clone(), candidate_id: None },
                    "retention",
                    now,
                )
                .await?;
                erased += 1;
            }
            match last {
                Some(l) => {
                    after = l;
                    st.store.set_retention_cursor(&after).await?;
                }
                None => {
                    // The pass is complete; the next run starts a new one.
                    st.store.set_retention_cursor("").await?;
                    break;
                }
            }
        }
    }
    tracing::info!(resumed, erased, kept, complete, "retention swept");
    Ok(json!({"task": "retention", "erased": erased, "resumed": resumed, "kept_open": kept, "complete": complete}))
}

/// A prospect who never applied, untouched since the cutoff, whose consent (if any) is older too.
fn lapsed(p: &Prospect, cutoff: DateTime<Utc>) -> bool {
    p.candidate_id.is_none()
        && p.updated_at.or(p.created_at).is_some_and(|t| t < cutoff)
        && p.recent_sends.iter().all(|t| *t < cutoff)
}
