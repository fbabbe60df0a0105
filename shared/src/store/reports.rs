//! Reading the report counters: one query over a partition's day range (more only when a page fills).
use super::{s, store_error, Store};
use crate::error::StoreError;
use crate::ids::JobId;
use crate::report::SourceCount;
use aws_sdk_dynamodb::types::AttributeValue;
use chrono::NaiveDate;
use std::collections::{BTreeMap, HashMap};

fn num(item: &HashMap<String, AttributeValue>, k: &str) -> u64 {
    item.get(k).and_then(|v| v.as_n().ok()).and_then(|n| n.parse().ok()).unwrap_or(0)
}

fn text(item: &HashMap<String, AttributeValue>, k: &str) -> String {
    item.get(k).and_then(|v| v.as_s().ok()).cloned().unwrap_or_default()
}

fn partition(job: Option<&JobId>) -> String {
    match job {
        Some(j) => format!("STATS#JOB#{j}"),
        None => "STATS#ALL".into(),
    }
}

/// The funnel of one job over a date range.
#[derive(Debug, Default, Clone, PartialEq, Eq, serde::Serialize)]
pub struct FunnelCounts {
    pub started: u64,
    pub submitted: u64,
    pub dropped: u64,
    /// Applications that entered each stage (by stage id).
    pub entered: BTreeMap<String, u64>,
}

impl Store {
    /// Items of one partition whose sort key lies in `[from, to]`; returns them and the queries made.
    async fn range(
        &self,
        pk: &str,
        from: &str,
        to: &str,
    ) -> Result<(Vec<HashMap<String, AttributeValue>>, usize), StoreError> {
        let (mut items, mut queries, mut start) = (Vec::new(), 0, None);
        loop {
            let out = self
                .db
                .query()
                .table_name(&self.table)
                .key_condition_expression("pk = :pk AND sk BETWEEN :from AND :to")
                .expression_attribute_values(":pk", s(pk))
                .expression_attribute_values(":from", s(from))
                .expression_attribute_values(":to", s(to))
                .set_exclusive_start_key(start)
                .send()
                .await
                .map_err(store_error)?;
            queries += 1;
            items.extend(out.items.unwrap_or_default());
            start = out.last_evaluated_key;
            if start.is_none() {
                return Ok((items, queries));
            }
        }
    }

    /// Applicants and hires per day, channel and source, for one job or all.
    pub async fn source_counts(
        &self,
        job: Option<&JobId>,
        from: NaiveDate,
        to: NaiveDate,
    ) -> Result<(Vec<SourceCount>, usize), StoreError> {
        // Sort keys are `DAY#<date>#<channel>#<source>`; `~` sorts after every character a source may hold.
        let (items, queries) = self.range(&partition(job), &format!("DAY#{from}"), &format!("DAY#{to}#~")).await?;
        let counts = items
            .iter()
            .map(|i| SourceCount {
                day: text(i, "day"),
                channel: text(i, "channel"),
                source: text(i, "source"),
                applicants: num(i, "applicants"),
                hires: num(i, "hires"),
            })
            .collect();
        Ok((counts, queries))
    }

    /// Started, submitted and dropped applications, and stage entries, for one job over a range.
    pub async fn funnel_counts(
        &self,
        job: &JobId,
        from: NaiveDate,
        to: NaiveDate,
    ) -> Result<(FunnelCounts, usize), StoreError> {
        let pk = partition(Some(job));
        let (days, q1) = self.range(&pk, &format!("FUNNEL#{from}"), &format!("FUNNEL#{to}")).await?;
        // Stage entries sort by stage first: read the job's `STAGE#` items and keep the range's days.
        let (stages, q2) = self.range(&pk, "STAGE#", "STAGE#~").await?;
        let mut f = FunnelCounts::default();
        for d in &days {
            f.started += num(d, "started");
            f.submitted += num(d, "submitted");
            f.dropped += num(d, "dropped");
        }
        let (from, to) = (from.to_string(), to.to_string());
        for st in stages.iter().filter(|i| (from.as_str()..=to.as_str()).contains(&text(i, "day").as_str())) {
            *f.entered.entry(text(st, "stage")).or_default() += num(st, "entered");
        }
        Ok((f, q1 + q2))
    }
}

impl Store {
    /// Records a month's spend for a source (last write wins) and keeps every write in its history:
    /// one transaction.
    pub async fn put_spend(
        &self,
        spend: &crate::report::Spend,
        by: &str,
        at: chrono::DateTime<chrono::Utc>,
    ) -> Result<(), StoreError> {
        let doc = serde_json::to_string(spend).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        let sk = format!("SPEND#{}#{}#{}", spend.month, spend.channel, spend.source);
        let mut current = super::key("STATS#ALL", sk.clone());
        current.insert("doc".into(), s(&doc));
        let mut history = super::key("SPEND#HISTORY", format!("{sk}#{}", crate::clock::rfc3339(at)));
        history.insert("doc".into(), s(&doc));
        history.insert("by".into(), s(by));
        let mut tx = super::tx::Tx::default();
        tx.put("spend", &self.table, current, None);
        tx.put("history", &self.table, history, None);
        tx.commit(self).await.map_err(|e| match e {
            super::tx::TxError::Store(e) => e,
            other => StoreError::Unavailable(format!("{other:?}")),
        })
    }

    /// Spend of the months that overlap `[from, to]`: one query.
    pub async fn spend_between(&self, from: NaiveDate, to: NaiveDate) -> Result<Vec<crate::report::Spend>, StoreError> {
        let (items, _) = self
            .range("STATS#ALL", &format!("SPEND#{}", from.format("%Y-%m")), &format!("SPEND#{}#~", to.format("%Y-%m")))
            .await?;
        items.iter().map(super::doc).collect()
    }
}
