//! Campaigns, `CAMPAIGNS/CAMPAIGN#<id>` (one partition, read in one query), with where an activation
//! sweep of the pool got to (`sweep_after`), and each campaign's counters, `STATS#CAMPAIGN#<id>/TOTALS`
//! (enrolled, sent, applied, hired, ...), added to in the transaction of the event they count.
use super::tx::{Change, Item, Tx};
use super::{doc, key, n, s, store_error, text, to_doc, Store};
use crate::attribution::{Attribution, Channel};
use crate::campaign::Campaign;
use crate::error::StoreError;
use crate::ids::CampaignId;
use std::collections::HashMap;
use std::fmt::Display;

fn campaign_item(c: &Campaign) -> Result<Item, StoreError> {
    let mut item = key("CAMPAIGNS", format!("CAMPAIGN#{}", c.id));
    item.insert("doc".into(), to_doc(c)?);
    item.insert("status".into(), s(c.status.as_str()));
    Ok(item)
}

fn totals_key(campaign: impl Display) -> Item {
    key(format!("STATS#CAMPAIGN#{campaign}"), "TOTALS")
}

/// Adds one to a campaign counter in a transaction. `campaign` is the id as text: an attribution
/// carries it as a string, and its counter is kept whatever that string is.
pub(super) fn count_campaign(tx: &mut Tx, table: &str, campaign: impl Display, counter: &'static str) {
    tx.update(
        "campaign_counter",
        table,
        Change {
            key: totals_key(campaign),
            expression: "ADD #c :one".into(),
            names: &[("#c", counter)],
            values: vec![(":one", n(1))],
            condition: None,
        },
    );
}

/// Adds one to the counter of the campaign an application is attributed to, if it came from one.
pub(super) fn count_attributed(tx: &mut Tx, table: &str, a: &Attribution, counter: &'static str) {
    if let (Channel::CrmCampaign, Some(c)) = (a.channel, &a.campaign) {
        count_campaign(tx, table, c, counter);
    }
}

impl Store {
    pub async fn put_campaign(&self, c: &Campaign, expect_new: bool) -> Result<(), StoreError> {
        let req = self.db.put_item().table_name(&self.table).set_item(Some(campaign_item(c)?));
        let req = if expect_new { req.condition_expression("attribute_not_exists(pk)") } else { req };
        req.send().await.map_err(store_error)?;
        Ok(())
    }

    pub async fn campaign(&self, id: &CampaignId) -> Result<Option<Campaign>, StoreError> {
        self.get("CAMPAIGNS", format!("CAMPAIGN#{id}")).await?.as_ref().map(doc).transpose()
    }

    /// Every campaign: one query.
    pub async fn campaigns(&self) -> Result<Vec<Campaign>, StoreError> {
        self.with_prefix("CAMPAIGNS", "CAMPAIGN#").await?.iter().map(doc).collect()
    }

    /// Activation: the campaign becomes active and a sweep of the whole pool is queued (the nurture
    /// task enrols every match, a page at a time, from `sweep_after`).
    pub async fn activate_campaign(&self, c: &Campaign) -> Result<(), StoreError> {
        let mut item = campaign_item(c)?;
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
    pub async fn set_sweep(&self, campaign: &CampaignId, after: Option<&str>) -> Result<(), StoreError> {
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

    /// A campaign's counters (`GET /api/reports/nurture`): one read.
    pub async fn campaign_counts(&self, campaign: &CampaignId) -> Result<HashMap<String, u64>, StoreError> {
        let item = self.get(format!("STATS#CAMPAIGN#{campaign}"), "TOTALS").await?.unwrap_or_default();
        Ok(item
            .iter()
            .filter_map(|(k, v)| v.as_n().ok().and_then(|n| n.parse().ok()).map(|n| (k.clone(), n)))
            .collect())
    }

    /// Counts one event on a campaign outside a transaction (an unsubscribe or bounce traced to it).
    pub async fn count_campaign_event(&self, campaign: &CampaignId, counter: &str) -> Result<(), StoreError> {
        self.db
            .update_item()
            .table_name(&self.table)
            .set_key(Some(totals_key(campaign)))
            .update_expression("ADD #c :one")
            .expression_attribute_names("#c", counter)
            .expression_attribute_values(":one", n(1))
            .send()
            .await
            .map_err(store_error)?;
        Ok(())
    }
}
