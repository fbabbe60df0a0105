//! Enrolments: one person in one campaign, `EMAIL#<h>/ENROL#<campaign>`, with the next step to send
//! and when. While it runs it sits in the sparse GSI1 list `NURTURE#due` by due time; it leaves the
//! list when it finishes or ends.
use super::campaigns::count_campaign;
use super::tx::{Change, Item, Tx, TxError};
use super::{key, n, s, store_error, text, time, Store};
use crate::clock::rfc3339;
use crate::email::EmailHash;
use crate::error::StoreError;
use crate::ids::CampaignId;
use chrono::{DateTime, Utc};

const DUE: &str = "NURTURE#due";

/// One enrolment of a person in a campaign: the next step to send and when.
#[derive(Debug, Clone, PartialEq)]
pub struct Enrolment {
    pub email_hash: EmailHash,
    pub campaign_id: CampaignId,
    pub step: usize,
    pub due_at: DateTime<Utc>,
}

/// Where a page of the due index ends: the next page starts after it.
#[derive(Debug, Clone)]
pub struct DueCursor(Item);

fn enrolment_of(item: &Item) -> Option<Enrolment> {
    Some(Enrolment {
        email_hash: text(item, "pk")?.strip_prefix("EMAIL#")?.parse().ok()?,
        // An id that does not parse makes the item unreadable: it is skipped like any other.
        campaign_id: text(item, "campaign_id")?.parse().ok()?,
        step: item.get("step")?.as_n().ok()?.parse().ok()?,
        due_at: time(item, "due_at")?,
    })
}

fn enrolment_key(e: &Enrolment) -> Item {
    key(format!("EMAIL#{}", e.email_hash), format!("ENROL#{}", e.campaign_id))
}

fn due_key(due: DateTime<Utc>, h: &str, campaign: &CampaignId) -> String {
    format!("{}#{h}#{campaign}", rfc3339(due))
}

/// Moves an enrolment past the step just sent, in the send's transaction: to the next step due at
/// `next_due`, or finished (out of the due list).
pub(super) fn step_sent(tx: &mut Tx, table: &str, e: &Enrolment, next_due: Option<DateTime<Utc>>) {
    let mut values = vec![(":at", n(e.step)), (":next", n(e.step + 1))];
    let expression = match next_due {
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
        table,
        Change {
            key: enrolment_key(e),
            expression: expression.into(),
            names: &[],
            values,
            // A concurrent run may have moved it on already (it found this claim): same next step.
            condition: Some("step IN (:at, :next)"),
        },
    );
}

impl Store {
    /// Enrols a person in a campaign unless they are (or were) already: one conditional put.
    /// `Ok(true)`: newly enrolled.
    pub async fn enrol(
        &self,
        h: &str,
        campaign: &CampaignId,
        due: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let mut tx = Tx::default();
        let mut item = key(format!("EMAIL#{h}"), format!("ENROL#{campaign}"));
        item.insert("campaign_id".into(), s(campaign.to_string()));
        item.insert("step".into(), n(0));
        item.insert("enrolled_at".into(), s(rfc3339(now)));
        item.insert("due_at".into(), s(rfc3339(due)));
        item.insert("gsi1pk".into(), s(DUE));
        item.insert("gsi1sk".into(), s(due_key(due, h, campaign)));
        tx.put("enrolment", &self.table, item, Some("attribute_not_exists(pk)"));
        count_campaign(&mut tx, self.counters(self.shard(&format!("{h}#{campaign}"))), campaign, "enrolled");
        match tx.commit(self).await {
            Ok(()) => Ok(true),
            Err(TxError::Failed(_)) => Ok(false),
            Err(TxError::Store(e)) => Err(e),
        }
    }

    /// Enrolments due by `now`, earliest first, after `after` (`None`: from the start): one query a
    /// page of the sparse due index, and where the next page starts (`None`: this was the last).
    pub async fn due_enrolments(
        &self,
        now: DateTime<Utc>,
        limit: i32,
        after: Option<DueCursor>,
    ) -> Result<(Vec<Enrolment>, Option<DueCursor>), StoreError> {
        let out = self
            .list(DUE)
            .key_condition_expression("gsi1pk = :list AND gsi1sk <= :now")
            .expression_attribute_values(":now", s(format!("{}#~", rfc3339(now))))
            .set_exclusive_start_key(after.map(|c| c.0))
            .limit(limit)
            .send()
            .await
            .map_err(store_error)?;
        let next = out.last_evaluated_key().map(|k| DueCursor(k.clone()));
        Ok((out.items().iter().filter_map(enrolment_of).collect(), next))
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
        let mut values = vec![(":at", n(e.step)), (":next", n(next)), (":why", s(reason))];
        let expression = match due {
            Some(d) => {
                values.push((":due", s(rfc3339(d))));
                values.push((":dk", s(due_key(d, &e.email_hash, &e.campaign_id))));
                "SET step = :next, due_at = :due, gsi1sk = :dk, last_note = :why"
            }
            None => "SET step = :next, ended = :why REMOVE gsi1pk, gsi1sk, due_at",
        };
        let change = Change {
            key: enrolment_key(e),
            expression: expression.into(),
            names: &[],
            values,
            condition: Some("step = :at"),
        };
        self.update_when(change).await?;
        Ok(())
    }
}
