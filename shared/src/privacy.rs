//! Answering a person's access and erasure requests, and the retention policy's erasures.
//!
//! Erasure is driven by a tombstone written before anything is removed: each step is safe to repeat
//! (deletes of what is gone change nothing), so a retry after a crash, or the retention task finding
//! the open tombstone, finishes the job. Report counters hold numbers only and stay as they are; the
//! address stays in the suppression list as its keyed hash alone.
use crate::api::AppState;
use crate::error::StoreError;
use crate::store::{prospect_of, Holdings, PersonKeys};
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
    st.store.finish_erasure(p, now).await?;
    tracing::info!(items = out.items, files = out.files, "person erased");
    Ok(out)
}

fn doc(item: &std::collections::HashMap<String, aws_sdk_dynamodb::types::AttributeValue>) -> Value {
    item.get("doc").and_then(|v| v.as_s().ok()).and_then(|d| serde_json::from_str(d).ok()).unwrap_or(Value::Null)
}

fn attr(item: &std::collections::HashMap<String, aws_sdk_dynamodb::types::AttributeValue>, k: &str) -> Value {
    item.get(k).and_then(|v| v.as_s().ok()).map(|s| Value::String(s.clone())).unwrap_or(Value::Null)
}

/// Everything held on the person as one document: the candidate, each application with its
/// history, interviews and feedback, the prospect record, consents, the emails sent (dates and
/// subjects), enrolments, drafts, and the files with links that work for five minutes.
pub async fn export(st: &AppState, p: &PersonKeys, held: &Holdings, now: DateTime<Utc>) -> Result<Value, StoreError> {
    let sk = |i: &std::collections::HashMap<String, aws_sdk_dynamodb::types::AttributeValue>| {
        i.get("sk").and_then(|v| v.as_s().ok()).cloned().unwrap_or_default()
    };
    let candidate = held.candidate.as_ref().map(doc);
    let mut emails = Vec::new();
    let mut applications = Vec::new();
    for items in &held.applications {
        let mut application = Value::Null;
        let mut interviews: Vec<Value> = Vec::new();
        for i in items {
            let k = sk(i);
            if k == "APP" {
                application = doc(i);
            } else if let Some(kind) = k.strip_prefix("SEND#") {
                emails.push(json!({"kind": kind, "sent_at": attr(i, "sent_at"), "claimed_at": attr(i, "claimed_at"),
                                   "message_id": attr(i, "message_id")}));
            } else if k.contains("#FB#") {
                if let Some(last) = interviews.last_mut() {
                    if let Some(list) = last["feedback"].as_array_mut() {
                        list.push(doc(i));
                    }
                }
            } else if k.starts_with("INT#") {
                let mut v = doc(i);
                v["feedback"] = json!([]);
                interviews.push(v);
            }
        }
        application["interviews"] = Value::Array(interviews);
        applications.push(application);
    }
    let mut prospect = Value::Null;
    let mut enrolments = Vec::new();
    let mut consents = json!({});
    let (mut latest, mut history) = (Vec::new(), Vec::new());
    if let Some(c) = &candidate {
        consents["application"] = c["consents"].clone();
    }
    for i in &held.email_items {
        let k = sk(i);
        if k == "PROSPECT" {
            prospect = serde_json::to_value(prospect_of(i)?).unwrap_or(Value::Null);
            if let Some(tp) = i.get("talent_pool_consent").and_then(|v| v.as_s().ok()) {
                consents["talent_pool"] = serde_json::from_str(tp).unwrap_or(Value::Null);
            }
        } else if let Some(kind) = k.strip_prefix("SEND#") {
            emails.push(json!({"kind": kind, "sent_at": attr(i, "sent_at"), "claimed_at": attr(i, "claimed_at"),
                               "message_id": attr(i, "message_id")}));
        } else if k.starts_with("SENT#") {
            emails.push(
                json!({"kind": "nurture", "campaign_id": attr(i, "campaign_id"), "subject": attr(i, "subject"),
                               "sent_at": attr(i, "sent_at"), "claimed_at": attr(i, "claimed_at"),
                               "rejected": attr(i, "rejected"), "unknown_at": attr(i, "unknown_at"),
                               "message_id": attr(i, "message_id")}),
            );
        } else if k.starts_with("ENROL#") {
            enrolments.push(json!({"campaign_id": attr(i, "campaign_id"), "enrolled_at": attr(i, "enrolled_at"),
                                   "due_at": attr(i, "due_at"), "ended": attr(i, "ended")}));
        } else if k.starts_with("CONSENT#") {
            latest.push(doc(i));
        } else if k.starts_with("CONSENTLOG#") {
            history.push(doc(i));
        } else if k == "SUPPRESS" {
            consents["suppressed"] = json!({"reason": attr(i, "reason"), "at": attr(i, "suppressed_at")});
        }
    }
    consents["latest"] = Value::Array(latest);
    consents["history"] = Value::Array(history);
    let mut files = Vec::new();
    for key in held.files() {
        let url = st.files.download_link(&key, now, std::time::Duration::from_secs(300)).await?;
        files.push(json!({"key": key, "url": url, "expires_in_seconds": 300}));
    }
    Ok(json!({
        "exported_at": crate::clock::rfc3339(now),
        "person": {"candidate_id": p.candidate_id.map(|c| c.to_string()), "prospect_id": p.email_hash},
        "candidate": candidate,
        "applications": applications,
        "prospect": prospect,
        "consents": consents,
        "enrolments": enrolments,
        "emails": emails,
        "drafts": held.drafts.iter().map(doc).collect::<Vec<_>>(),
        // The person's own answers, apart from any application, as they are stored.
        "demographics": held.demographics.iter().map(doc).collect::<Vec<_>>(),
        "files": files,
    }))
}
