//! Prospect writes: the transaction parts other writes add (an application, a move, a send, a
//! bounce), and the store's own puts and updates of the item.
use super::{consent_attribute, credential_types, pool_marks, prospect_item, prospect_key, KeepInTouch, Pending};
use crate::clock::rfc3339;
use crate::consent::Consent;
use crate::error::StoreError;
use crate::ids::CandidateId;
use crate::prospect::{Prospect, ProspectStatus};
use crate::store::tx::{Change, Tx};
use crate::store::{s, store_error, Store};
use aws_sdk_dynamodb::types::AttributeValue;
use chrono::{DateTime, Utc};

/// An application links the person's prospect to the candidate; `nurtured`: it was still nurtured,
/// which applying ends (status `applied`).
pub(in crate::store) fn link_candidate(
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
pub(in crate::store) fn keep_in_touch(tx: &mut Tx, table: &str, k: &KeepInTouch<'_>, now: DateTime<Utc>) {
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
pub(in crate::store) fn set_status(tx: &mut Tx, table: &str, h: &str, status: ProspectStatus, now: DateTime<Utc>) {
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
pub(in crate::store) fn record_sent(
    tx: &mut Tx,
    table: &str,
    h: &str,
    recent_sends: &[DateTime<Utc>],
    story: Option<&str>,
) {
    let mut values = vec![(":recent", s(serde_json::to_string(recent_sends).unwrap_or_default()))];
    let mut expression = "SET recent_sends = :recent".to_string();
    if let Some(story) = story {
        expression.push_str(" ADD stories_sent :story");
        values.push((":story", AttributeValue::Ss(vec![story.to_string()])));
    }
    tx.update("prospect", table, Change { key: prospect_key(h), expression, names: &[], values, condition: None });
}

impl Store {
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
        crate::store::events::record(&mut tx, &self.table, std::slice::from_ref(event));
        tx.commit(self).await.map_err(|e| match e {
            crate::store::tx::TxError::Failed(_) => StoreError::ConditionFailed,
            crate::store::tx::TxError::Store(e) => e,
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

    /// Clears the changed flag, unless the prospect changed again meanwhile (then the flag stays).
    pub async fn clear_changed(&self, h: &str, seen: &str) -> Result<(), StoreError> {
        self.update_when(Change {
            key: prospect_key(h),
            expression: "REMOVE gsi1pk, gsi1sk".into(),
            names: &[],
            values: vec![(":seen", s(seen))],
            condition: Some("gsi1sk = :seen"),
        })
        .await?;
        Ok(())
    }
}
