//! Prospects: one item per person in the CRM pool, `EMAIL#<hash>/PROSPECT`, written by several
//! functions with update expressions (an application links it, a move keeps a silver medalist, a
//! send records itself, a bounce sets its status), each through a part built here.
//!
//! Two marks on a prospect item tie it to the CRM's indexes: `gsi2pk = PROSPECTS` lists the pool,
//! and `gsi1pk = PROSPECTS#changed` flags a change the nurture task has not yet looked at (it then
//! enrols the person in every active campaign they now match and clears the flag). Every write that
//! creates or changes a prospect sets both with [`pool_marks`].
// The item's shape (its key, marks and codec) is here; the store's reads and writes, with the
// transaction parts other writes add, are beside it.
mod reads;
mod writes;

pub(super) use writes::{keep_in_touch, link_candidate, record_sent, set_status};

use super::tx::Item;
use super::{key, s, text, time};
use crate::application::{Candidate, Credential};
use crate::clock::rfc3339;
use crate::consent::Consent;
use crate::email::{Email, EmailHash};
use crate::error::StoreError;
use crate::prospect::{Interests, Origin, Prospect, ProspectStatus, SuppressionReason};
use aws_sdk_dynamodb::types::AttributeValue;
use chrono::{DateTime, Utc};

const POOL: &str = "PROSPECTS";
const CHANGED: &str = "PROSPECTS#changed";

/// The `SET` clauses (leading comma) and values that list a prospect in the pool and flag it changed.
pub fn pool_marks(h: &str, now: DateTime<Utc>) -> (&'static str, Vec<(&'static str, AttributeValue)>) {
    (
        ", gsi1pk = :mark_changed, gsi1sk = :mark_at, gsi2pk = :mark_pool, gsi2sk = :mark_h",
        vec![
            (":mark_changed", s(CHANGED)),
            (":mark_at", s(format!("{}#{h}", rfc3339(now)))),
            (":mark_pool", s(POOL)),
            (":mark_h", s(h)),
        ],
    )
}

fn prospect_key(h: &str) -> Item {
    key(format!("EMAIL#{h}"), "PROSPECT")
}

fn json_attr<T: serde::de::DeserializeOwned + Default>(item: &Item, k: &str) -> T {
    text(item, k).and_then(|raw| serde_json::from_str(&raw).ok()).unwrap_or_default()
}

/// The credential types of a person, as the set the pool's filters read.
pub(super) fn credential_types(credentials: &[Credential]) -> Vec<String> {
    let mut kinds: Vec<String> = credentials.iter().map(|c| c.kind.clone()).collect();
    kinds.sort();
    kinds.dedup();
    kinds
}

/// A prospect from its item (written by intake, pipeline, crm and nurture alike).
pub fn prospect_of(item: &Item) -> Result<Prospect, StoreError> {
    let id = text(item, "pk")
        .and_then(|pk| pk.strip_prefix("EMAIL#")?.parse::<EmailHash>().ok())
        .ok_or_else(|| StoreError::Corrupt("prospect without key".into()))?;
    let email = Email(text(item, "email").ok_or_else(|| StoreError::Corrupt(format!("prospect {id} without email")))?);
    let status = text(item, "status").and_then(|s| s.parse().ok()).unwrap_or(ProspectStatus::PendingConsent);
    let mut origins: Vec<Origin> = item
        .get("origins")
        .and_then(|v| v.as_ss().ok())
        .map(|v| v.iter().filter_map(|o| o.parse().ok()).collect())
        .unwrap_or_default();
    origins.sort_by_key(|o: &Origin| o.as_str());
    Ok(Prospect {
        id,
        email,
        first_name: text(item, "first_name"),
        last_name: text(item, "last_name"),
        status,
        origins,
        interests: json_attr::<Interests>(item, "interests"),
        credentials: json_attr::<Vec<Credential>>(item, "credentials"),
        tags: item.get("tags").and_then(|v| v.as_ss().ok()).cloned().unwrap_or_default(),
        candidate_id: text(item, "candidate_id"),
        silver_medal: text(item, "silver_medal").and_then(|m| serde_json::from_str(&m).ok()),
        created_at: time(item, "created_at"),
        updated_at: time(item, "updated_at"),
        recent_sends: json_attr::<Vec<DateTime<Utc>>>(item, "recent_sends"),
        stories_sent: item.get("stories_sent").and_then(|v| v.as_ss().ok()).cloned().unwrap_or_default(),
    })
}

/// What a send to one person depends on, read in one batch with others.
#[derive(Debug, Clone, Default)]
pub struct PoolRecord {
    /// The prospect, with what their record holds pending.
    pub prospect: Option<(Prospect, Pending)>,
    pub suppressed: Option<SuppressionReason>,
    /// The latest talent-pool and marketing-email consent records.
    pub consents: Vec<crate::consent::Consent>,
}

/// What a record held pending when it was read, carried over by a whole rewrite of it.
#[derive(Debug, Clone, Default)]
pub struct Pending(pub(super) Vec<(&'static str, AttributeValue)>);

/// What a person's record holds pending (a sign-up, a drop-off's tick, an import's request): a whole
/// rewrite of the record (a recruiter's edit, an import's change) carries it over, so the person's
/// confirmation still finds it.
pub(super) fn pending_attributes(item: Option<&Item>) -> Pending {
    const PENDING: [&str; 8] = [
        "pending_interests",
        "pending_credentials",
        "pending_origin",
        "pending_first_name",
        "pending_last_name",
        "pending_silver_medal",
        "pending_at",
        "pending_nonce",
    ];
    let Some(item) = item else { return Pending::default() };
    Pending(PENDING.iter().filter_map(|k| Some((*k, item.get(*k)?.clone()))).collect())
}

/// What a list of prospects may be narrowed by.
#[derive(Debug, Clone, Default)]
pub struct ProspectFilter {
    pub origin: Option<Origin>,
    pub credential: Option<String>,
    pub tag: Option<String>,
    pub status: Option<ProspectStatus>,
}

/// A silver medalist who consented to the talent pool: added in the same transaction as the exit.
pub struct KeepInTouch<'a> {
    pub email_hash: &'a str,
    pub candidate: &'a Candidate,
    pub record: serde_json::Value,
}

/// Consent evidence kept on the prospect item itself (`talent_pool_consent`), as an export shows it.
pub(super) fn consent_attribute(c: &Consent) -> (&'static str, AttributeValue) {
    let mut record = serde_json::json!({"given": c.given, "at": rfc3339(c.at), "text_version": c.text_version,
                                        "method": c.method.as_str()});
    if let Some(by) = &c.by {
        record["by"] = serde_json::Value::String(by.clone());
    }
    ("talent_pool_consent", s(record.to_string()))
}

/// A whole prospect as its item, listed in the pool and flagged changed.
pub(super) fn prospect_item(p: &Prospect, extra: Vec<(&str, AttributeValue)>, now: DateTime<Utc>) -> Item {
    let mut item = prospect_key(&p.id);
    item.insert("email".into(), s(&p.email.0));
    if let Some(f) = &p.first_name {
        item.insert("first_name".into(), s(f));
    }
    if let Some(l) = &p.last_name {
        item.insert("last_name".into(), s(l));
    }
    item.insert("status".into(), s(p.status.as_str()));
    if !p.origins.is_empty() {
        item.insert("origins".into(), AttributeValue::Ss(p.origins.iter().map(|o| o.as_str().to_string()).collect()));
    }
    item.insert("interests".into(), s(serde_json::to_string(&p.interests).unwrap_or_default()));
    item.insert("credentials".into(), s(serde_json::to_string(&p.credentials).unwrap_or_default()));
    let kinds = credential_types(&p.credentials);
    if !kinds.is_empty() {
        item.insert("credential_types".into(), AttributeValue::Ss(kinds));
    }
    if !p.tags.is_empty() {
        item.insert("tags".into(), AttributeValue::Ss(p.tags.clone()));
    }
    if let Some(c) = &p.candidate_id {
        item.insert("candidate_id".into(), s(c));
    }
    if let Some(m) = &p.silver_medal {
        item.insert("silver_medal".into(), s(m.to_string()));
    }
    item.insert("created_at".into(), s(rfc3339(p.created_at.unwrap_or(now))));
    item.insert("updated_at".into(), s(rfc3339(now)));
    if !p.recent_sends.is_empty() {
        item.insert("recent_sends".into(), s(serde_json::to_string(&p.recent_sends).unwrap_or_default()));
    }
    if !p.stories_sent.is_empty() {
        item.insert("stories_sent".into(), AttributeValue::Ss(p.stories_sent.clone()));
    }
    let (_, marks) = pool_marks(&p.id, now);
    for (k, v) in [("gsi1pk", 0), ("gsi1sk", 1), ("gsi2pk", 2), ("gsi2sk", 3)] {
        item.insert(k.into(), marks[v].1.clone());
    }
    for (k, v) in extra {
        item.insert(k.into(), v);
    }
    item
}
