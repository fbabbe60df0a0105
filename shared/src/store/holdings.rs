//! Everything held on one person, found through keys and indexes (never a scan), for an export or
//! an erasure.
//!
//! A person's personal data lives in few places: the candidate (`CAND#<id>`), their email's partition
//! (`EMAIL#<hash>`: the candidate lock, the (email, job) locks, the prospect, enrolments, the send
//! ledger), each application's partition (`APP#<id>`: the application, interviews, feedback, send
//! claims; found through GSI2 `CANDAPPS#<candidate>`), interview pointers, drafts (GSI2
//! `DRAFTS#<hash>`) and resumes in the bucket. Counters hold numbers only and are never touched.
use super::tx::Item;
use super::{key, prospect_of, text, Store};
use crate::email::EmailHash;
use crate::error::StoreError;
use crate::ids::CandidateId;
use serde_json::{json, Value};

/// Who a person is, in keys.
#[derive(Debug, Clone, PartialEq)]
pub struct PersonKeys {
    pub email_hash: EmailHash,
    pub candidate_id: Option<CandidateId>,
}

/// Every item held on a person, grouped by where it lives.
#[derive(Debug, Default)]
pub struct Holdings {
    pub candidate: Option<Item>,
    /// The email's partition.
    pub email_items: Vec<Item>,
    /// Each application's partition, the application item first.
    pub applications: Vec<Vec<Item>>,
    pub interview_pointers: Vec<Item>,
    pub drafts: Vec<Item>,
    /// Demographic answers, one item per application, kept apart from it.
    pub demographics: Vec<Item>,
    /// The candidate behind the email, as found (also when the person was named by email only).
    pub candidate_id: Option<CandidateId>,
}

impl Holdings {
    /// The bucket keys of the person's files.
    pub fn files(&self) -> Vec<String> {
        self.applications
            .iter()
            .flatten()
            .filter(|i| text(i, "sk").as_deref() == Some("APP"))
            .filter_map(|i| text(i, "doc"))
            .filter_map(|d| serde_json::from_str::<serde_json::Value>(&d).ok())
            .filter_map(|d| d["resume_key"].as_str().map(str::to_string))
            .collect()
    }

    /// The person's items as the export shows them: the candidate, each application with its
    /// history, interviews and feedback, the prospect record, consents, the emails sent (dates and
    /// subjects), enrolments, drafts and demographic answers. Read from the items, so nothing held
    /// is left out of an export by a model that forgot a field.
    pub fn document(&self) -> Result<serde_json::Map<String, Value>, StoreError> {
        let sk = |i: &Item| text(i, "sk").unwrap_or_default();
        let candidate = self.candidate.as_ref().map(doc);
        let mut emails = Vec::new();
        let mut applications = Vec::new();
        for items in &self.applications {
            let mut application = Value::Null;
            let mut interviews: Vec<Value> = Vec::new();
            for i in items {
                let k = sk(i);
                if k == "APP" {
                    application = doc(i);
                } else if let Some(kind) = k.strip_prefix("SEND#") {
                    emails
                        .push(json!({"kind": kind, "sent_at": attr(i, "sent_at"), "claimed_at": attr(i, "claimed_at"),
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
        for i in &self.email_items {
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
        let mut out = serde_json::Map::new();
        out.insert("candidate".into(), json!(candidate));
        out.insert("applications".into(), Value::Array(applications));
        out.insert("prospect".into(), prospect);
        out.insert("consents".into(), consents);
        out.insert("enrolments".into(), Value::Array(enrolments));
        out.insert("emails".into(), Value::Array(emails));
        out.insert("drafts".into(), self.drafts.iter().map(doc).collect());
        // The person's own answers, apart from any application, as they are stored.
        out.insert("demographics".into(), self.demographics.iter().map(doc).collect());
        Ok(out)
    }

    /// Every item's key, except the suppression entry (kept, as the keyed hash only).
    pub(super) fn keys(&self) -> Vec<Item> {
        let all = self
            .candidate
            .iter()
            .chain(&self.email_items)
            .chain(self.applications.iter().flatten())
            .chain(&self.interview_pointers)
            .chain(&self.drafts)
            .chain(&self.demographics);
        all.filter(|i| text(i, "sk").as_deref() != Some("SUPPRESS"))
            .filter_map(|i| Some(key(text(i, "pk")?, text(i, "sk")?)))
            .collect()
    }
}

impl Store {
    /// Everything held on the person: a query per partition, one on each of two indexes.
    pub async fn holdings(&self, p: &PersonKeys) -> Result<Holdings, StoreError> {
        let mut h = Holdings {
            email_items: self.with_prefix(&format!("EMAIL#{}", p.email_hash), "").await?,
            ..Default::default()
        };
        // Whoever named the person by their email only: the candidate behind it, if any, is theirs too.
        let candidate_id = p.candidate_id.or_else(|| {
            h.email_items
                .iter()
                .find(|i| text(i, "sk").as_deref() == Some("CANDIDATE"))
                .and_then(|i| text(i, "candidate_id"))
                .and_then(|c| c.parse().ok())
        });
        h.candidate_id = candidate_id;
        if let Some(cid) = &candidate_id {
            h.candidate = self.get(format!("CAND#{cid}"), "CAND").await?;
            for app in self.index_items("GSI2", "gsi2pk", &format!("CANDAPPS#{cid}")).await? {
                let Some(pk) = text(&app, "pk") else { continue };
                let mut items = self.with_prefix(&pk, "").await?;
                items.sort_by_key(|i| text(i, "sk").as_deref() != Some("APP"));
                for i in &items {
                    let sk = text(i, "sk").unwrap_or_default();
                    if let Some(int) = sk.strip_prefix("INT#").filter(|s| !s.contains("#FB#")) {
                        if let Some(ptr) = self.get(format!("INTERVIEW#{int}"), "INTERVIEW").await? {
                            h.interview_pointers.push(ptr);
                        }
                    }
                }
                if let Some(d) =
                    self.get(format!("DEMOGRAPHICS#{}", pk.trim_start_matches("APP#")), "DEMOGRAPHICS").await?
                {
                    h.demographics.push(d);
                }
                h.applications.push(items);
            }
        }
        // The index projects every attribute: its items are the drafts, a page a query however many
        // there are (anyone can start drafts under an address).
        h.drafts = self.index_items("GSI2", "gsi2pk", &format!("DRAFTS#{}", p.email_hash)).await?;
        h.drafts.retain(|d| text(d, "pk").is_some_and(|pk| pk.starts_with("DRAFT#")));
        Ok(h)
    }
}

/// An item's JSON document (`doc`), or null.
fn doc(item: &Item) -> Value {
    text(item, "doc").and_then(|d| serde_json::from_str(&d).ok()).unwrap_or(Value::Null)
}

/// A string attribute, or null.
fn attr(item: &Item, k: &str) -> Value {
    text(item, k).map(Value::String).unwrap_or(Value::Null)
}
