//! Write transactions: every item labelled, so a cancelled transaction says which condition failed.
use super::{store_error, Store};
use crate::error::StoreError;
use aws_sdk_dynamodb::types::{AttributeValue, Put, TransactWriteItem, Update};
use std::collections::HashMap;

pub type Item = HashMap<String, AttributeValue>;

#[derive(Default)]
pub struct Tx {
    items: Vec<TransactWriteItem>,
    labels: Vec<&'static str>,
}

#[derive(Debug)]
pub enum TxError {
    /// These items' conditions failed (by label).
    Failed(Vec<&'static str>),
    /// Anything else, including a conflict that outlasted [`CONFLICT_TRIES`]: the caller answers 503.
    Store(StoreError),
}

/// How many times a transaction is sent while DynamoDB cancels it for a conflict (another transaction
/// on one of its items at that moment; in AWS that is the day counters under load). Nothing was written
/// by a cancelled transaction and its conditions are checked afresh, so sending it again is safe.
pub const CONFLICT_TRIES: u32 = 6;

/// An update: expression, names and values.
pub struct Change<'a> {
    pub key: Item,
    pub expression: String,
    pub names: &'a [(&'a str, &'a str)],
    pub values: Vec<(&'a str, AttributeValue)>,
    pub condition: Option<&'a str>,
}

impl Tx {
    pub fn put(&mut self, label: &'static str, table: &str, item: Item, condition: Option<&str>) {
        self.put_if(label, table, item, condition, vec![]);
    }

    /// A put whose condition compares with values (`version = :v`).
    pub fn put_if(
        &mut self,
        label: &'static str,
        table: &str,
        item: Item,
        condition: Option<&str>,
        values: Vec<(&str, AttributeValue)>,
    ) {
        let mut put = Put::builder()
            .table_name(table)
            .set_item(Some(item))
            .set_condition_expression(condition.map(str::to_string));
        for (ph, v) in values {
            put = put.expression_attribute_values(ph, v);
        }
        self.items.push(TransactWriteItem::builder().put(put.build().expect("table and item are set")).build());
        self.labels.push(label);
    }

    pub fn update(&mut self, label: &'static str, table: &str, c: Change<'_>) {
        let mut u = Update::builder()
            .table_name(table)
            .set_key(Some(c.key))
            .update_expression(c.expression)
            .set_condition_expression(c.condition.map(str::to_string));
        for (ph, name) in c.names {
            u = u.expression_attribute_names(*ph, *name);
        }
        for (ph, value) in c.values {
            u = u.expression_attribute_values(ph, value);
        }
        self.items.push(TransactWriteItem::builder().update(u.build().expect("key and expression are set")).build());
        self.labels.push(label);
    }

    pub fn len(&self) -> usize {
        self.items.len()
    }

    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// One transaction, all or nothing; sent again after a jittered pause while it loses conflicts.
    pub async fn commit(self, store: &Store) -> Result<(), TxError> {
        for attempt in 0..CONFLICT_TRIES {
            if attempt > 0 {
                tokio::time::sleep(crate::aws::backoff(attempt)).await;
            }
            match self.send(store).await {
                Err(Sent::Conflict) => continue,
                Err(Sent::Err(e)) => return Err(e),
                Ok(()) => return Ok(()),
            }
        }
        Err(TxError::Store(StoreError::Unavailable(format!("a transaction lost {CONFLICT_TRIES} conflicts in a row"))))
    }

    /// One `TransactWriteItems` call.
    async fn send(&self, store: &Store) -> Result<(), Sent> {
        let res = store.db.transact_write_items().set_transact_items(Some(self.items.clone())).send().await;
        let err = match res {
            Ok(_) => return Ok(()),
            Err(e) => e,
        };
        if let Some(
            aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError::TransactionCanceledException(c),
        ) = err.as_service_error()
        {
            let reasons = c.cancellation_reasons();
            if reasons.iter().any(|r| r.code() == Some("TransactionConflict")) {
                return Err(Sent::Conflict);
            }
            let failed: Vec<&'static str> = reasons
                .iter()
                .zip(&self.labels)
                .filter(|(r, _)| r.code() == Some("ConditionalCheckFailed"))
                .map(|(_, l)| *l)
                .collect();
            if !failed.is_empty() {
                return Err(Sent::Err(TxError::Failed(failed)));
            }
        }
        Err(Sent::Err(TxError::Store(store_error(err))))
    }
}

/// What one sending of a transaction came to, short of success.
enum Sent {
    Conflict,
    Err(TxError),
}
