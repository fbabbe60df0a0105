//! The CRM's records: prospects (one item per person, `EMAIL#<hash>/PROSPECT`, written by several
//! functions with update expressions), stories, campaigns, enrolments and the nurture send ledger.
//!
//! Two marks on a prospect item tie it to the CRM's indexes: `gsi2pk = PROSPECTS` lists the pool,
//! and `gsi1pk = PROSPECTS#changed` flags a change the nurture task has not yet looked at (it then
//! enrols the person in every active campaign they now match and clears the flag). Every write that
//! creates or changes a prospect sets both with [`pool_marks`].
use super::tx::{Change, Tx, TxError};
use super::{doc, key, n, s, store_error, to_doc, Page, PageRequest, Store};
use crate::application::Credential;
use crate::campaign::Campaign;
use crate::clock::rfc3339;
use crate::content::Story;
use crate::email::Email;
use crate::error::{ApiError, StoreError};
use crate::prospect::{Interests, Origin, Prospect, ProspectStatus};
use aws_sdk_dynamodb::types::AttributeValue;
use chrono::{DateTime, Utc};
use std::collections::HashMap;

type Item = HashMap<String, AttributeValue>;

pub const POOL: &str = "PROSPECTS";
pub const CHANGED: &str = "PROSPECTS#changed";
pub const DUE: &str = "NURTURE#due";

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

fn text(item: &Item, k: &str) -> Option<String> {
    item.get(k).and_then(|v| v.as_s().ok()).cloned()
}

fn json_attr<T: serde::de::DeserializeOwned + Default>(item: &Item, k: &str) -> T {
    text(item, k).and_then(|raw| serde_json::from_str(&raw).ok()).unwrap_or_default()
}

fn time(item: &Item, k: &str) -> Option<DateTime<Utc>> {
    text(item, k).and_then(|t| DateTime::parse_from_rfc3339(&t).ok()).map(|t| t.with_timezone(&Utc))
}

/// A prospect from its item (written by intake, pipeline, crm and nurture alike).
pub fn prospect_of(item: &Item) -> Result<Prospect, StoreError> {
    let id = text(item, "pk")
        .and_then(|pk| pk.strip_prefix("EMAIL#").map(str::to_string))
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
    pub prospect: Option<Item>,
    pub suppressed: Option<String>,
    /// The latest talent-pool and marketing-email consent records.
    pub consents: Vec<crate::consent::Consent>,
}

/// What a list of prospects may be narrowed by.
#[derive(Debug, Clone, Default)]
pub struct ProspectFilter {
    pub origin: Option<Origin>,
    pub credential: Option<String>,
    pub tag: Option<String>,
    pub status: Option<ProspectStatus>,
}

/// One enrolment of a person in a campaign: the next step to send and when.
#[derive(Debug, Clone, PartialEq)]
pub struct Enrolment {
    pub email_hash: String,
    pub campaign_id: String,
    pub step: usize,
    pub due_at: DateTime<Utc>,
}

fn enrolment_of(item: &Item) -> Option<Enrolment> {
    Some(Enrolment {
        email_hash: text(item, "pk")?.strip_prefix("EMAIL#")?.to_string(),
        campaign_id: text(item, "campaign_id")?,
        step: item.get("step")?.as_n().ok()?.parse().ok()?,
        due_at: time(item, "due_at")?,
    })
}

fn due_key(due: DateTime<Utc>, h: &str, campaign: &str) -> String {
    format!("{}#{h}#{campaign}", rfc3339(due))
}

/// Whose send a claim is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Claim {
    /// This run claimed it: send.
    Ours,
    /// Sent (or rejected) and recorded by an earlier run.
    Done,
    /// Claimed moments ago by a run still at work.
    InFlight,
    /// Claimed long ago, never recorded: the run crashed between claim and send.
    Lost,
}

/// What one nurture email did, for the ledger and the prospect.
pub struct SentNurture<'a> {
    pub enrolment: &'a Enrolment,
    pub outcome: Outcome<'a>,
    pub story_id: Option<&'a str>,
    /// The prospect's sends of the last 30 days, this one included.
    pub recent_sends: Vec<DateTime<Utc>>,
    pub next_due: Option<DateTime<Utc>>,
    pub now: DateTime<Utc>,
}

/// What SES did with a nurture email. Every outcome is final: the enrolment moves on.
#[derive(Clone, Copy, Debug)]
pub enum Outcome<'a> {
    /// Taken, with SES's message id.
    Sent(&'a str),
    /// Refused for good (`MessageRejected`).
    Rejected(&'a str),
    /// No answer (a timeout, a 5xx): perhaps sent, so never sent again.
    Unknown(&'a str),
}

impl Outcome<'_> {
    /// The campaign counter it adds to.
    pub fn counter(&self) -> &'static str {
        match self {
            Outcome::Sent(_) => "sent",
            Outcome::Rejected(_) => "rejected",
            Outcome::Unknown(_) => "unknown",
        }
    }
}

/// What a person's record holds pending (a sign-up, a drop-off's tick, an import's request): a whole
/// rewrite of the record (a recruiter's edit, an import's change) carries it over, so the person's
/// confirmation still finds it.
pub fn pending_attributes(item: Option<&Item>) -> Vec<(&'static str, AttributeValue)> {
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
    let Some(item) = item else { return Vec::new() };
    PENDING.iter().filter_map(|k| Some((*k, item.get(*k)?.clone()))).collect()
}

/// A whole prospect as its item, listed in the pool and flagged changed.
pub(super) fn prospect_item(p: &Prospect, extra: Vec<(&str, AttributeValue)>, now: DateTime<Utc>) -> Item {
    let mut item = key(format!("EMAIL#{}", p.id), "PROSPECT");
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
    let kinds: Vec<String> = {
        let mut k: Vec<String> = p.credentials.iter().map(|c| c.kind.clone()).collect();
        k.sort();
        k.dedup();
        k
    };
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

impl Store {
    pub async fn prospect(&self, h: &str) -> Result<Option<Prospect>, StoreError> {
        self.get(format!("EMAIL#{h}"), "PROSPECT").await?.as_ref().map(prospect_of).transpose()
    }

    /// Writes a whole prospect (a recruiter's create or edit, an import): one put. `expect_new`:
    /// only if there is none yet; otherwise only if it was last updated at `expected_updated`.
    pub async fn put_prospect(
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
            .set_exclusive_start_key(self.start_key(&scope, page)?);
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
        Ok(Page { items, next_cursor: self.next_cursor(&scope, out.last_evaluated_key()) })
    }

    /// Prospects, suppression reasons and the consents nurture needs, of many people: one
    /// BatchGetItem per 25 people.
    pub async fn pool_records(&self, hashes: &[String]) -> Result<HashMap<String, PoolRecord>, StoreError> {
        let mut out: HashMap<String, PoolRecord> = hashes.iter().map(|h| (h.clone(), PoolRecord::default())).collect();
        let mut unique: Vec<&String> = hashes.iter().collect();
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
                let Some(h) = text(&item, "pk").and_then(|p| p.strip_prefix("EMAIL#").map(str::to_string)) else {
                    continue;
                };
                let entry = out.entry(h).or_default();
                match text(&item, "sk").as_deref() {
                    Some("PROSPECT") => entry.prospect = Some(item),
                    Some("SUPPRESS") => entry.suppressed = text(&item, "reason"),
                    Some(_) => entry.consents.extend(super::consents::consent_of(&item)),
                    None => {}
                }
            }
        }
        Ok(out)
    }

    // ---- content ----

    pub async fn put_story(&self, story: &Story) -> Result<(), StoreError> {
        let mut item = key("CONTENT", format!("STORY#{}", story.id));
        item.insert("doc".into(), to_doc(story)?);
        if self.put_new(item).await? {
            Ok(())
        } else {
            Err(StoreError::ConditionFailed)
        }
    }

    /// Every story, oldest first (the library is small: one query a page of 1 MB).
    pub async fn stories(&self) -> Result<Vec<Story>, StoreError> {
        self.with_prefix("CONTENT", "STORY#").await?.iter().map(doc).collect()
    }

    // ---- campaigns ----

    pub async fn put_campaign(&self, c: &Campaign, expect_new: bool) -> Result<(), StoreError> {
        let mut item = key("CAMPAIGNS", format!("CAMPAIGN#{}", c.id));
        item.insert("doc".into(), to_doc(c)?);
        item.insert("status".into(), s(c.status.as_str()));
        let req = self.db.put_item().table_name(&self.table).set_item(Some(item));
        let req = if expect_new { req.condition_expression("attribute_not_exists(pk)") } else { req };
        req.send().await.map_err(store_error)?;
        Ok(())
    }

    pub async fn campaign(&self, id: &str) -> Result<Option<Campaign>, StoreError> {
        self.get("CAMPAIGNS", format!("CAMPAIGN#{id}")).await?.as_ref().map(doc).transpose()
    }

    /// Every campaign: one query.
    pub async fn campaigns(&self) -> Result<Vec<Campaign>, StoreError> {
        self.with_prefix("CAMPAIGNS", "CAMPAIGN#").await?.iter().map(doc).collect()
    }

    /// Activation: the campaign becomes active and a sweep of the whole pool is queued (the nurture
    /// task enrols every match, a page at a time, from `sweep_after`).
    pub async fn activate_campaign(&self, c: &Campaign) -> Result<(), StoreError> {
        let mut item = key("CAMPAIGNS", format!("CAMPAIGN#{}", c.id));
        item.insert("doc".into(), to_doc(c)?);
        item.insert("status".into(), s(c.status.as_str()));
        item.insert("sweep_after".into(), s(""));
        self.db.put_item().table_name(&self.table).set_item(Some(item)).send().await.map_err(store_error)?;
        Ok(())
    }

    /// Campaigns whose activation sweep is unfinished, with where it got to.
    pub async fn campaigns_to_sweep(&self) -> Result<Vec<(Campaign, String)>, StoreError> {
        let items = self.with_prefix("CAMPAIGNS", "CAMPAIGN#").await?;
        items.iter().filter_map(|i| text(i, "sweep_after").map(|after| doc(i).map(|c| (c, after)))).collect()
    }

    /// Records sweep progress; `None` ends the sweep.
    pub async fn set_sweep(&self, campaign: &str, after: Option<&str>) -> Result<(), StoreError> {
        let req = self
            .db
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key("CAMPAIGNS", format!("CAMPAIGN#{campaign}"))));
        let req = match after {
            Some(a) => req.update_expression("SET sweep_after = :a").expression_attribute_values(":a", s(a)),
            None => req.update_expression("REMOVE sweep_after"),
        };
        req.send().await.map_err(store_error)?;
        Ok(())
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
        let out = self
            .db
            .query()
            .table_name(&self.table)
            .index_name("GSI1")
            .key_condition_expression("gsi1pk = :changed")
            .expression_attribute_values(":changed", s(CHANGED))
            .limit(limit)
            .send()
            .await
            .map_err(store_error)?;
        out.items().iter().map(|i| Ok((prospect_of(i)?, text(i, "gsi1sk").unwrap_or_default()))).collect()
    }

    /// Clears the changed flag, unless the prospect changed again meanwhile (then the flag stays).
    pub async fn clear_changed(&self, h: &str, seen: &str) -> Result<(), StoreError> {
        let res = self
            .db
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key(format!("EMAIL#{h}"), "PROSPECT")))
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

    /// Enrols a person in a campaign unless they are (or were) already: one conditional put.
    /// `Ok(true)`: newly enrolled.
    pub async fn enrol(
        &self,
        h: &str,
        campaign: &str,
        due: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let mut tx = Tx::default();
        let mut item = key(format!("EMAIL#{h}"), format!("ENROL#{campaign}"));
        item.insert("campaign_id".into(), s(campaign));
        item.insert("step".into(), n(0));
        item.insert("enrolled_at".into(), s(rfc3339(now)));
        item.insert("due_at".into(), s(rfc3339(due)));
        item.insert("gsi1pk".into(), s(DUE));
        item.insert("gsi1sk".into(), s(due_key(due, h, campaign)));
        tx.put("enrolment", &self.table, item, Some("attribute_not_exists(pk)"));
        count_campaign(&mut tx, &self.table, campaign, "enrolled");
        match tx.commit(self).await {
            Ok(()) => Ok(true),
            Err(TxError::Failed(_)) | Err(TxError::Conflict) => Ok(false),
            Err(TxError::Store(e)) => Err(e),
        }
    }

    /// Enrolments due by `now`, earliest first: one query a page of the sparse due index.
    pub async fn due_enrolments(&self, now: DateTime<Utc>, limit: i32) -> Result<Vec<Enrolment>, StoreError> {
        let out = self
            .db
            .query()
            .table_name(&self.table)
            .index_name("GSI1")
            .key_condition_expression("gsi1pk = :due AND gsi1sk <= :now")
            .expression_attribute_values(":due", s(DUE))
            .expression_attribute_values(":now", s(format!("{}#~", rfc3339(now))))
            .limit(limit)
            .send()
            .await
            .map_err(store_error)?;
        Ok(out.items().iter().filter_map(enrolment_of).collect())
    }

    /// Moves an enrolment on without an email: to step `next` due at `due`, or out of the due index
    /// (`None`: finished or ended, with `reason`). Conditional on the step it was at: one write.
    pub async fn advance_enrolment(
        &self,
        e: &Enrolment,
        next: usize,
        due: Option<DateTime<Utc>>,
        reason: &str,
    ) -> Result<(), StoreError> {
        let req = self
            .db
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key(format!("EMAIL#{}", e.email_hash), format!("ENROL#{}", e.campaign_id))))
            .condition_expression("step = :at")
            .expression_attribute_values(":at", n(e.step))
            .expression_attribute_values(":next", n(next))
            .expression_attribute_values(":why", s(reason));
        let req = match due {
            Some(d) => req
                .update_expression("SET step = :next, due_at = :due, gsi1sk = :dk, last_note = :why")
                .expression_attribute_values(":due", s(rfc3339(d)))
                .expression_attribute_values(":dk", s(due_key(d, &e.email_hash, &e.campaign_id))),
            None => req.update_expression("SET step = :next, ended = :why REMOVE gsi1pk, gsi1sk, due_at"),
        };
        match req.send().await.map_err(store_error) {
            Ok(_) | Err(StoreError::ConditionFailed) => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// Claims one email in the send ledger before SES is called: one conditional put. `Ok(false)`:
    /// an earlier run claimed it (sent, or lost to a crash: never sent twice).
    pub async fn claim_nurture(&self, e: &Enrolment, subject: &str, now: DateTime<Utc>) -> Result<Claim, StoreError> {
        let k = key(format!("EMAIL#{}", e.email_hash), format!("SENT#{}#{}", e.campaign_id, e.step));
        let mut item = k.clone();
        item.insert("campaign_id".into(), s(&e.campaign_id));
        item.insert("subject".into(), s(subject));
        item.insert("claimed_at".into(), s(rfc3339(now)));
        if self.put_new(item).await? {
            return Ok(Claim::Ours);
        }
        let held = self.get(text(&k, "pk").unwrap_or_default(), text(&k, "sk").unwrap_or_default()).await?;
        let done =
            held.as_ref().is_some_and(|i| ["sent_at", "rejected", "unknown_at"].iter().any(|a| i.contains_key(*a)));
        let claimed_at = held.as_ref().and_then(|i| time(i, "claimed_at"));
        Ok(match claimed_at {
            _ if done => Claim::Done,
            // Another run is sending it right now: leave it to that run.
            Some(t) if t > now - chrono::Duration::minutes(15) => Claim::InFlight,
            // Claimed long ago and never recorded: lost to a crash, never resent.
            _ => Claim::Lost,
        })
    }

    /// Gives a claim back when SES throttled before taking the email, so the next run sends it.
    pub async fn release_claim(&self, e: &Enrolment) -> Result<(), StoreError> {
        self.db
            .delete_item()
            .table_name(&self.table)
            .set_key(Some(key(format!("EMAIL#{}", e.email_hash), format!("SENT#{}#{}", e.campaign_id, e.step))))
            .send()
            .await
            .map_err(store_error)?;
        Ok(())
    }

    /// After SES answered: the ledger's outcome, the enrolment's next step, the prospect's send
    /// history and the campaign's counters, in one transaction (the email's second and last write).
    pub async fn record_nurture(&self, sent: SentNurture<'_>) -> Result<(), StoreError> {
        let t = &self.table;
        let e = sent.enrolment;
        let mut tx = Tx::default();
        let mut values = vec![(":at", s(rfc3339(sent.now)))];
        let expression = match sent.outcome {
            Outcome::Sent(m) => {
                values.push((":m", s(m)));
                "SET sent_at = :at, message_id = :m"
            }
            Outcome::Rejected(r) => {
                values.push((":r", s(r)));
                "SET rejected_at = :at, rejected = :r"
            }
            Outcome::Unknown(why) => {
                values.push((":u", s(why)));
                "SET unknown_at = :at, unknown_reason = :u"
            }
        };
        tx.update(
            "ledger",
            t,
            Change {
                key: key(format!("EMAIL#{}", e.email_hash), format!("SENT#{}#{}", e.campaign_id, e.step)),
                expression: expression.into(),
                names: &[],
                values,
                condition: None,
            },
        );
        let mut values = vec![(":at", n(e.step)), (":next", n(e.step + 1))];
        let expression = match sent.next_due {
            Some(d) => {
                values.push((":due", s(rfc3339(d))));
                values.push((":dk", s(due_key(d, &e.email_hash, &e.campaign_id))));
                "SET step = :next, due_at = :due, gsi1sk = :dk"
            }
            None => {
                values.push((":why", s("finished")));
                "SET step = :next, ended = :why REMOVE gsi1pk, gsi1sk, due_at"
            }
        };
        tx.update(
            "enrolment",
            t,
            Change {
                key: key(format!("EMAIL#{}", e.email_hash), format!("ENROL#{}", e.campaign_id)),
                expression: expression.into(),
                names: &[],
                values,
                // A concurrent run may have moved it on already (it found this claim): same next step.
                condition: Some("step IN (:at, :next)"),
            },
        );
        // Perhaps sent counts as sent toward the person's cap.
        if !matches!(sent.outcome, Outcome::Rejected(_)) {
            let mut values = vec![(":recent", s(serde_json::to_string(&sent.recent_sends).unwrap_or_default()))];
            let mut expression = "SET recent_sends = :recent".to_string();
            if let Some(story) = sent.story_id {
                expression.push_str(" ADD stories_sent :story");
                values.push((":story", AttributeValue::Ss(vec![story.to_string()])));
            }
            tx.update(
                "prospect",
                t,
                Change {
                    key: key(format!("EMAIL#{}", e.email_hash), "PROSPECT"),
                    expression,
                    names: &[],
                    values,
                    condition: None,
                },
            );
        }
        count_campaign(&mut tx, t, &e.campaign_id, sent.outcome.counter());
        match tx.commit(self).await {
            Ok(()) => Ok(()),
            Err(TxError::Store(e)) => Err(e),
            // The enrolment moved past this step meanwhile: the email went out, and is recorded next run
            // as far as it can be; nothing is sent twice.
            Err(TxError::Failed(_)) => Ok(()),
            Err(TxError::Conflict) => {
                Err(StoreError::Unavailable("the send record conflicted; retried next run".into()))
            }
        }
    }

    /// A campaign's counters (`GET /api/reports/nurture`): one read.
    pub async fn campaign_counts(&self, campaign: &str) -> Result<HashMap<String, u64>, StoreError> {
        let item = self.get(format!("STATS#CAMPAIGN#{campaign}"), "TOTALS").await?.unwrap_or_default();
        Ok(item
            .iter()
            .filter_map(|(k, v)| v.as_n().ok().and_then(|n| n.parse().ok()).map(|n| (k.clone(), n)))
            .collect())
    }

    /// Counts one event on a campaign outside a transaction (an unsubscribe or bounce traced to it).
    pub async fn count_campaign_event(&self, campaign: &str, counter: &str) -> Result<(), StoreError> {
        self.db
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key(format!("STATS#CAMPAIGN#{campaign}"), "TOTALS")))
            .update_expression("ADD #c :one")
            .expression_attribute_names("#c", counter)
            .expression_attribute_values(":one", n(1))
            .send()
            .await
            .map_err(store_error)?;
        Ok(())
    }

    /// A bounce or complaint from SES: the address is suppressed for good (a re-subscribe does not
    /// lift it) and the prospect, if any, shows why.
    pub async fn suppress(&self, h: &str, reason: ProspectStatus, now: DateTime<Utc>) -> Result<(), StoreError> {
        let mut tx = Tx::default();
        tx.update(
            "suppression",
            &self.table,
            Change {
                key: key(format!("EMAIL#{h}"), "SUPPRESS"),
                expression: "SET reason = :reason, suppressed_at = if_not_exists(suppressed_at, :now)".into(),
                names: &[],
                values: vec![(":reason", s(reason.as_str())), (":now", s(rfc3339(now)))],
                condition: None,
            },
        );
        self.db_exists_update_prospect(&mut tx, h, reason, now);
        match tx.commit(self).await {
            Ok(()) => Ok(()),
            Err(TxError::Failed(_)) | Err(TxError::Conflict) => {
                // No prospect: suppress the address alone.
                self.db
                    .update_item()
                    .table_name(&self.table)
                    .set_key(Some(key(format!("EMAIL#{h}"), "SUPPRESS")))
                    .update_expression("SET reason = :reason, suppressed_at = if_not_exists(suppressed_at, :now)")
                    .expression_attribute_values(":reason", s(reason.as_str()))
                    .expression_attribute_values(":now", s(rfc3339(now)))
                    .send()
                    .await
                    .map_err(store_error)?;
                Ok(())
            }
            Err(TxError::Store(e)) => Err(e),
        }
    }

    fn db_exists_update_prospect(&self, tx: &mut Tx, h: &str, status: ProspectStatus, now: DateTime<Utc>) {
        let (marks, mut values) = pool_marks(h, now);
        values.push((":status", s(status.as_str())));
        values.push((":now", s(rfc3339(now))));
        tx.update(
            "prospect",
            &self.table,
            Change {
                key: key(format!("EMAIL#{h}"), "PROSPECT"),
                expression: format!("SET #status = :status, updated_at = :now{marks}"),
                names: &[("#status", "status")],
                values,
                condition: Some("attribute_exists(pk)"),
            },
        );
    }
}

/// Adds one to a campaign counter in a transaction.
pub(super) fn count_campaign(tx: &mut Tx, table: &str, campaign: &str, counter: &'static str) {
    tx.update(
        "campaign_counter",
        table,
        Change {
            key: key(format!("STATS#CAMPAIGN#{campaign}"), "TOTALS"),
            expression: "ADD #c :one".into(),
            names: &[("#c", counter)],
            values: vec![(":one", n(1))],
            condition: None,
        },
    );
}
