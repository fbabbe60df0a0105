//! Everything held on one person, found through keys and indexes (never a scan), for an export or
//! an erasure.
//!
//! A person's personal data lives in few places: the candidate (`CAND#<id>`), their email's partition
//! (`EMAIL#<hash>`: the candidate lock, the (email, job) locks, the prospect, enrolments, the send
//! ledger), each application's partition (`APP#<id>`: the application, interviews, feedback, send
//! claims; found through GSI2 `CANDAPPS#<candidate>`), interview pointers, drafts (GSI2
//! `DRAFTS#<hash>`) and resumes in the bucket. Counters hold numbers only and are never touched.
use super::tx::Item;
use super::{key, text, Store};
use crate::error::StoreError;
use crate::ids::CandidateId;

/// Who a person is, in keys.
#[derive(Debug, Clone, PartialEq)]
pub struct PersonKeys {
    pub email_hash: String,
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
