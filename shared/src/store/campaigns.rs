//! Campaigns, `CAMPAIGNS/CAMPAIGN#<id>` (one partition, read in one query), with where an activation
//! sweep of the pool got to (`sweep_after`), and each campaign's counters, `STATS#CAMPAIGN#<id>/TOTALS`
//! (enrolled, sent, applied, hired, ...), added to in the transaction of the event they count. Like the
//! report counters they are spread over shards (`TOTALS`, `TOTALS#<k>`: see `shards`), one per write,
//! and read in one query that sums them.
use super::counters::Target;
use super::shards::Shard;
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

fn totals_partition(campaign: impl Display) -> String {
    format!("STATS#CAMPAIGN#{campaign}")
}

fn totals_key(campaign: impl Display, shard: Shard) -> Item {
    key(totals_partition(campaign), shard.sk("TOTALS"))
}

/// Adds one to a campaign counter, in the transaction's shard. `campaign` is the id as text: an
/// attribution carries it as a string, and its counter is kept whatever that string is.
pub(super) fn count_campaign(tx: &mut Tx, at: Target, campaign: impl Display, counter: &'static str) {
    tx.update(
        "campaign_counter",
        at.table,
        Change {
            key: totals_key(campaign, at.shard),
            expression: "ADD #c :one".into(),
            names: &[("#c", counter)],
            values: vec![(":one", n(1))],
            condition: None,
        },
    );
}

/// Adds one to the counter of the campaign an application is attributed to, if it came from one.
pub(super) fn count_attributed(tx: &mut Tx, at: Target, a: &Attribution, counter: &'static str) {
    if let (Channel::CrmCampaign, Some(c)) = (a.channel, &a.campaign) {
        count_campaign(tx, at, c, counter);
    }
}

/// Every number attribute of the shards' items, summed by name.
fn sum_totals(items: &[Item]) -> HashMap<String, u64> {
    let mut out: HashMap<String, u64> = HashMap::new();
    for (k, v) in items.iter().flatten() {
        if let Some(n) = v.as_n().ok().and_then(|n| n.parse::<u64>().ok()) {
            *out.entry(k.clone()).or_default() += n;
        }
    }
    out
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

    /// A campaign's counters (`GET /api/reports/nurture`), summed over shards: one query.
    pub async fn campaign_counts(&self, campaign: &CampaignId) -> Result<HashMap<String, u64>, StoreError> {
        Ok(sum_totals(&self.with_prefix(&totals_partition(campaign), "TOTALS").await?))
    }

    /// Counts one event on a campaign outside a transaction (an unsubscribe or bounce traced to it).
    pub async fn count_campaign_event(&self, campaign: &CampaignId, counter: &str) -> Result<(), StoreError> {
        self.db
            .update_item()
            .table_name(&self.table)
            // No transaction and nothing unique at hand: any shard.
            .set_key(Some(totals_key(campaign, self.any_shard())))
            .update_expression("ADD #c :one")
            .expression_attribute_names("#c", counter)
            .expression_attribute_values(":one", n(1))
            .send()
            .await
            .map_err(store_error)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn campaign_counters_sum_their_shards_by_name() {
        let shard = |sk: &str, counts: &[(&str, u64)]| {
            let mut i = key("STATS#CAMPAIGN#c1", sk);
            i.extend(counts.iter().map(|(k, v)| (k.to_string(), n(v))));
            i
        };
        let items = [
            shard("TOTALS", &[("enrolled", 10), ("applied", 2)]),
            shard("TOTALS#3", &[("applied", 1), ("hired", 1)]),
            shard("TOTALS#17", &[("applied", 4)]),
        ];
        let got = sum_totals(&items);
        assert_eq!((got["enrolled"], got["applied"], got["hired"]), (10, 7, 1));
        assert_eq!(got.len(), 3, "keys are no counters: {got:?}");
        assert_eq!(totals_key("c1", Shard::default()), key("STATS#CAMPAIGN#c1", "TOTALS"));
    }
}
