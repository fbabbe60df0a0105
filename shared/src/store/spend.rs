//! Marketing spend per month, channel and source: the current figure `STATS#ALL/SPEND#<month>#…`
//! (read with the sources report) and every write in `SPEND#HISTORY`.
use super::tx::{Tx, TxError};
use super::{doc, key, s, Store};
use crate::clock::rfc3339;
use crate::error::StoreError;
use crate::report::Spend;
use chrono::{DateTime, NaiveDate, Utc};

impl Store {
    /// Records a month's spend for a source (last write wins) and keeps every write in its history:
    /// one transaction.
    pub async fn put_spend(&self, spend: &Spend, by: &str, at: DateTime<Utc>) -> Result<(), StoreError> {
        let doc = serde_json::to_string(spend).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        let sk = format!("SPEND#{}#{}#{}", spend.month, spend.channel, spend.source);
        let mut current = key("STATS#ALL", sk.clone());
        current.insert("doc".into(), s(&doc));
        let mut history = key("SPEND#HISTORY", format!("{sk}#{}", rfc3339(at)));
        history.insert("doc".into(), s(&doc));
        history.insert("by".into(), s(by));
        let mut tx = Tx::default();
        tx.put("spend", &self.table, current, None);
        tx.put("history", &self.table, history, None);
        tx.commit(self).await.map_err(|e| match e {
            TxError::Store(e) => e,
            other => StoreError::Unavailable(format!("{other:?}")),
        })
    }

    /// Spend of the months that overlap `[from, to]`: one query.
    pub async fn spend_between(&self, from: NaiveDate, to: NaiveDate) -> Result<Vec<Spend>, StoreError> {
        let (items, _) = self
            .range("STATS#ALL", &format!("SPEND#{}", from.format("%Y-%m")), &format!("SPEND#{}#~", to.format("%Y-%m")))
            .await?;
        items.iter().map(doc).collect()
    }
}
