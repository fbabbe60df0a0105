//! Answering a person's access and erasure requests, and the retention policy's erasures.
//!
//! Erasure is driven by a tombstone written before anything is removed: each step is safe to repeat
//! (deletes of what is gone change nothing), so a retry after a crash, or the retention task finding
//! the open tombstone, finishes the job. Report counters hold numbers only and stay as they are; the
//! address stays in the suppression list as its keyed hash alone.
use crate::app::AppState;
use crate::error::StoreError;
use crate::store::{Holdings, PersonKeys};
use chrono::{DateTime, Utc};
use serde_json::{json, Value};

/// What one erasure removed.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Erased {
    pub items: usize,
    pub files: usize,
}

/// Erases everything held on the person. Idempotent.
pub async fn erase(st: &AppState, p: &PersonKeys, by: &str, now: DateTime<Utc>) -> Result<Erased, StoreError> {
    st.store.begin_erasure(p, by, now).await?;
    let held = st.store.holdings(p).await?;
    // Named by email only, but a candidate is behind it: their tombstone too, so a retry by either id
    // finds the erasure.
    let full = PersonKeys { email_hash: p.email_hash.clone(), candidate_id: held.candidate_id };
    if full.candidate_id != p.candidate_id {
        st.store.begin_erasure(&full, by, now).await?;
    }
    let p = &full;
    let mut out = Erased::default();
    // Files first: the items are what finds them.
    for key in held.files() {
        out.files += st.files.delete_all_versions(&key).await?;
    }
    out.items = st.store.erase_items(&held).await?;
    let erased = p.candidate_id.as_ref().map(|c| crate::event::candidate_erased(st.clock.as_ref(), c, now));
    st.store.finish_erasure(p, erased.as_ref(), now).await?;
    tracing::info!(items = out.items, files = out.files, "person erased");
    Ok(out)
}

/// Everything held on the person as one document: the candidate, each application with its
/// history, interviews and feedback, the prospect record, consents, the emails sent (dates and
/// subjects), enrolments, drafts, and the files with links that work for five minutes.
pub async fn export(st: &AppState, p: &PersonKeys, held: &Holdings, now: DateTime<Utc>) -> Result<Value, StoreError> {
    let mut doc = held.document()?;
    let mut files = Vec::new();
    for key in held.files() {
        let url = st.files.download_link(&key, now, std::time::Duration::from_secs(300)).await?;
        files.push(json!({"key": key, "url": url, "expires_in_seconds": 300}));
    }
    doc.insert("exported_at".into(), json!(crate::clock::rfc3339(now)));
    doc.insert(
        "person".into(),
        json!({"candidate_id": p.candidate_id.map(|c| c.to_string()), "prospect_id": p.email_hash}),
    );
    doc.insert("files".into(), Value::Array(files));
    Ok(Value::Object(doc))
}
