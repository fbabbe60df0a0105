//! Prospects: one item per person in the CRM pool, `EMAIL#<hash>/PROSPECT`, written by several
//! functions with update expressions (an application links it, a move keeps a silver medalist, a
//! send records itself, a bounce sets its status), each through a part built here.
//!
//! Two marks on a prospect item tie it to the CRM's indexes: `gsi2pk = PROSPECTS` lists the pool,
//! and `gsi1pk = PROSPECTS#changed` flags a change the nurture task has not yet looked at (it then
//! enrols the person in every active campaign they now match and clears the flag). Every write that
//! creates or changes a prospect sets both with [`pool_marks`].
use super::tx::{Change, Item, Tx};
use super::{key, s, store_error, text, time, Page, PageRequest, Store};
use crate::application::{Candidate, Credential};
use crate::clock::rfc3339;
use crate::consent::Consent;
use crate::email::{Email, EmailHash};
use crate::error::{ApiError, StoreError};
use crate::ids::CandidateId;
use crate::prospect::{Interests, Origin, Prospect, ProspectStatus, SuppressionReason};
use aws_sdk_dynamodb::types::AttributeValue;
use chrono::{DateTime, Utc};
use std::collections::HashMap;

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

/// An application links the person's prospect to the candidate; `nurtured`: it was still nurtured,
/// which applying ends (status `applied`).
pub(super) fn link_candidate(
    tx: &mut Tx,
    table: &str,
    h: &str,
    candidate: &CandidateId,
    nurtured: bool,
    now: DateTime<Utc>,
) {
    let (marks, mut values) = pool_marks(h, now);
    values.push((":now", s(rfc3339(now))));
    values.push((":cid", s(candidate.to_string())));
    let status = if nurtured {
        values.push((":applied", s("applied")));
        "#status = :applied, "
    } else {
        ""
    };
    tx.update(
        "prospect",
        table,
        Change {
            key: prospect_key(h),
            expression: format!("SET {status}candidate_id = :cid, updated_at = :now{marks}"),
            names: if nurtured { &[("#status", "status")] } else { &[] },
            values,
            // Erased since the lookup: the retry reads again and leaves it be.
            condition: Some("attribute_exists(pk)"),
        },
    );
}

/// A consenting silver medalist joins the pool (or, already in it, gains the origin and the record).
pub(super) fn keep_in_touch(tx: &mut Tx, table: &str, k: &KeepInTouch<'_>, now: DateTime<Utc>) {
    let c = k.candidate;
    let (marks, mark_values) = pool_marks(k.email_hash, now);
    let kinds = credential_types(&c.credentials);
    tx.update(
        "prospect",
        table,
        Change {
            key: prospect_key(k.email_hash),
            expression: format!(
                "SET email = :email, first_name = if_not_exists(first_name, :first), \
                 last_name = if_not_exists(last_name, :last), created_at = if_not_exists(created_at, :now), \
                 #status = if_not_exists(#status, :active), updated_at = :now, silver_medal = :record, \
                 credentials = if_not_exists(credentials, :creds), candidate_id = :cid{marks}{} \
                 ADD origins :origin",
                if kinds.is_empty() { "" } else { ", credential_types = if_not_exists(credential_types, :kinds)" }
            ),
            names: &[("#status", "status")],
            values: {
                let mut v = vec![
                    (":email", s(&c.email.0)),
                    (":first", s(&c.first_name)),
                    (":last", s(&c.last_name)),
                    (":now", s(rfc3339(now))),
                    (":active", s("active")),
                    (":record", s(k.record.to_string())),
                    (":creds", s(serde_json::to_string(&c.credentials).unwrap_or_default())),
                    (":cid", s(c.id.to_string())),
                    (":origin", AttributeValue::Ss(vec!["silver_medalist".into()])),
                ];
                v.extend(mark_values);
                if !kinds.is_empty() {
                    v.push((":kinds", AttributeValue::Ss(kinds)));
                }
                v
            },
            condition: None,
        },
    );
}

/// Sets an existing prospect's status (a bounce, a complaint); the transaction fails if there is none.
pub(super) fn set_status(tx: &mut Tx, table: &str, h: &str, status: ProspectStatus, now: DateTime<Utc>) {
    let (marks, mut values) = pool_marks(h, now);
    values.push((":status", s(status.as_str())));
    values.push((":now", s(rfc3339(now))));
    tx.update(
        "prospect",
        table,
        Change {
            key: prospect_key(h),
            expression: format!("SET #status = :status, updated_at = :now{marks}"),
            names: &[("#status", "status")],
            values,
            condition: Some("attribute_exists(pk)"),
        },
    );
}

/// A nurture email the person was (perhaps) sent: their sends of the last 30 days, and the story.
pub(super) fn record_sent(tx: &mut Tx, table: &str, h: &str, recent_sends: &[DateTime<Utc>], story: Option<&str>) {
    let mut values = vec![(":recent", s(serde_json::to_string(recent_sends).unwrap_or_default()))];
    let mut expression = "SET recent_sends = :recent".to_string();
    if let Some(story) = story {
        expression.push_str(" ADD stories_sent :story");
        values.push((":story", AttributeValue::Ss(vec![story.to_string()])));
    }
    tx.update("prospect", table, Change { key: prospect_key(h), expression, names: &[], values, condition: None });
}

impl Store {
    pub async fn prospect(&self, h: &EmailHash) -> Result<Option<Prospect>, StoreError> {
        self.get(format!("EMAIL#{h}"), "PROSPECT").await?.as_ref().map(prospect_of).transpose()
    }

    /// The CRM record for an email, if any (origins and status), for tests and the CRM.
    /// A prospect to edit, with what their record holds pending (a whole rewrite carries it): one read.
    pub async fn prospect_to_edit(&self, h: &EmailHash) -> Result<Option<(Prospect, Pending)>, StoreError> {
        let Some(item) = self.prospect_by_email_hash(h).await? else { return Ok(None) };
        Ok(Some((prospect_of(&item)?, pending_attributes(Some(&item)))))
    }

    pub async fn prospect_by_email_hash(&self, email_hash: &EmailHash) -> Result<Option<Item>, StoreError> {
        self.get(format!("EMAIL#{email_hash}"), "PROSPECT").await
    }

    /// A person a recruiter sourced, with the consent they gave on their word (kept on the item as
    /// its talent-pool consent), and its event: one transaction, only if there is none yet.
    pub async fn create_prospect(
        &self,
        p: &Prospect,
        evidence: Option<&Consent>,
        event: &crate::event::Event,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let extra = evidence.map(consent_attribute).into_iter().collect();
        let mut tx = Tx::default();
        tx.put("prospect", &self.table, prospect_item(p, extra, now), Some("attribute_not_exists(pk)"));
        super::events::record(&mut tx, &self.table, std::slice::from_ref(event));
        tx.commit(self).await.map_err(|e| match e {
            super::tx::TxError::Failed(_) => StoreError::ConditionFailed,
            super::tx::TxError::Store(e) => e,
        })
    }

    /// A recruiter's edit: one put, only if the prospect was last updated at `p.updated_at`.
    /// `carried`: what the record held pending when read, kept.
    pub async fn rewrite_prospect(&self, p: &Prospect, carried: Pending, now: DateTime<Utc>) -> Result<(), StoreError> {
        self.put_prospect(p, false, carried.0, now).await
    }

    /// Writes a whole prospect: one put. `expect_new`: only if there is none yet; otherwise only if
    /// it was last updated at `p.updated_at`.
    async fn put_prospect(
        &self,
        p: &Prospect,
        expect_new: bool,
        extra: Vec<(&str, AttributeValue)>,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let item = prospect_item(p, extra, now);
        let mut req = self.db.put_item().table_name(&self.table).set_item(Some(item));
        req = if expect_new {
            req.condition_expression("attribute_not_exists(pk)")
        } else {
            match p.updated_at {
                Some(t) => {
                    req.condition_expression("updated_at = :seen").expression_attribute_values(":seen", s(rfc3339(t)))
                }
                None => req.condition_expression("attribute_exists(pk)"),
            }
        };
        req.send().await.map_err(store_error)?;
        Ok(())
    }

    /// One page of the pool, newest key first, narrowed by the filter: one query a page over the pool's
    /// index (filters are applied by DynamoDB to that page, so a page may hold fewer than `limit`).
    pub async fn list_prospects(&self, f: &ProspectFilter, page: &PageRequest) -> Result<Page<Prospect>, ApiError> {
        let scope = format!("prospects|{:?}|{:?}|{:?}|{:?}", f.origin, f.credential, f.tag, f.status);
        let mut req = self
            .db
            .query()
            .table_name(&self.table)
            .index_name("GSI2")
            .key_condition_expression("gsi2pk = :pool")
            .expression_attribute_values(":pool", s(POOL))
            .limit(page.limit)
            .set_exclusive_start_key(self.start_key(&scope, page).await?);
        let mut conditions = Vec::new();
        if let Some(o) = f.origin {
            conditions.push("contains(origins, :origin)");
            req = req.expression_attribute_values(":origin", s(o.as_str()));
        }
        if let Some(c) = &f.credential {
            conditions.push("contains(credential_types, :credential)");
            req = req.expression_attribute_values(":credential", s(c));
        }
        if let Some(t) = &f.tag {
            conditions.push("contains(tags, :tag)");
            req = req.expression_attribute_values(":tag", s(t.to_lowercase()));
        }
        if let Some(st) = f.status {
            conditions.push("#status = :status");
            req = req
                .expression_attribute_names("#status", "status")
                .expression_attribute_values(":status", s(st.as_str()));
        }
        if !conditions.is_empty() {
            req = req.filter_expression(conditions.join(" AND "));
        }
        let out = req.send().await.map_err(store_error)?;
        let items = out.items().iter().map(prospect_of).collect::<Result<Vec<_>, _>>()?;
        Ok(Page { items, next_cursor: self.next_cursor(&scope, out.last_evaluated_key()).await? })
    }

    /// Prospects, suppression reasons and the consents nurture needs, of many people: one
    /// BatchGetItem per 25 people.
    pub async fn pool_records(&self, hashes: &[EmailHash]) -> Result<HashMap<EmailHash, PoolRecord>, StoreError> {
        let mut out: HashMap<EmailHash, PoolRecord> =
            hashes.iter().map(|h| (h.clone(), PoolRecord::default())).collect();
        let mut unique: Vec<&EmailHash> = hashes.iter().collect();
        unique.sort();
        unique.dedup();
        for chunk in unique.chunks(25) {
            let keys: Vec<Item> = chunk
                .iter()
                .flat_map(|h| {
                    ["PROSPECT", "SUPPRESS", "CONSENT#talent_pool", "CONSENT#marketing_email"]
                        .map(|sk| key(format!("EMAIL#{h}"), sk))
                })
                .collect();
            for item in self.batch_get(keys).await? {
                let Some(h) = text(&item, "pk").and_then(|p| p.strip_prefix("EMAIL#")?.parse::<EmailHash>().ok())
                else {
                    continue;
                };
                let entry = out.entry(h).or_default();
                match text(&item, "sk").as_deref() {
                    Some("PROSPECT") => entry.prospect = Some((prospect_of(&item)?, pending_attributes(Some(&item)))),
                    Some("SUPPRESS") => entry.suppressed = super::reason_of(&item)?,
                    Some(_) => entry.consents.extend(super::consents::consent_of(&item)),
                    None => {}
                }
            }
        }
        Ok(out)
    }

    /// A page of the whole pool in key order after `after` (the activation sweep): one query.
    pub async fn pool_page(&self, after: &str, limit: i32) -> Result<(Vec<Prospect>, Option<String>), StoreError> {
        let mut req = self
            .db
            .query()
            .table_name(&self.table)
            .index_name("GSI2")
            .key_condition_expression("gsi2pk = :pool AND gsi2sk > :after")
            .expression_attribute_values(":pool", s(POOL))
            .expression_attribute_values(":after", s(after))
            .limit(limit);
        if after.is_empty() {
            req = req
                .key_condition_expression("gsi2pk = :pool")
                .set_expression_attribute_values(Some(HashMap::from([(":pool".to_string(), s(POOL))])));
        }
        let out = req.send().await.map_err(store_error)?;
        let items = out.items().iter().map(prospect_of).collect::<Result<Vec<_>, _>>()?;
        let last = out.last_evaluated_key().and_then(|k| k.get("gsi2sk")).and_then(|v| v.as_s().ok()).cloned();
        Ok((items, last))
    }

    /// Prospects flagged changed since the nurture task last looked: one query.
    pub async fn changed_prospects(&self, limit: i32) -> Result<Vec<(Prospect, String)>, StoreError> {
        let out = self.list(CHANGED).limit(limit).send().await.map_err(store_error)?;
        out.items().iter().map(|i| Ok((prospect_of(i)?, text(i, "gsi1sk").unwrap_or_default()))).collect()
    }

    /// Clears the changed flag, unless the prospect changed again meanwhile (then the flag stays).
    pub async fn clear_changed(&self, h: &str, seen: &str) -> Result<(), StoreError> {
        let res = self
            .db
            .update_item()
            .table_name(&self.table)
            .set_key(Some(prospect_key(h)))
            .update_expression("REMOVE gsi1pk, gsi1sk")
            .condition_expression("gsi1sk = :seen")
            .expression_attribute_values(":seen", s(seen))
            .send()
            .await
            .map_err(store_error);
        match res {
            Ok(_) | Err(StoreError::ConditionFailed) => Ok(()),
            Err(e) => Err(e),
        }
    }
}
