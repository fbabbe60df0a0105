//! Consent records, kept on the person's email partition: `CONSENT#<purpose>` is the latest record
//! of each purpose (what every send checks), `CONSENTLOG#<time>#<purpose>` the history.
use super::tx::Tx;
use super::{key, store_error, to_doc, Store};
use crate::clock::rfc3339;
use crate::consent::{Consent, Purpose};
use crate::error::StoreError;
use aws_sdk_dynamodb::types::{AttributeValue, PutRequest, WriteRequest};
use std::collections::HashMap;

type Item = HashMap<String, AttributeValue>;

fn items(h: &str, c: &Consent) -> Result<[Item; 2], StoreError> {
    let mut latest = key(format!("EMAIL#{h}"), format!("CONSENT#{}", c.purpose));
    latest.insert("doc".into(), to_doc(c)?);
    latest.insert("given".into(), AttributeValue::Bool(c.given));
    let mut log = key(format!("EMAIL#{h}"), format!("CONSENTLOG#{}#{}", rfc3339(c.at), c.purpose));
    log.insert("doc".into(), to_doc(c)?);
    Ok([latest, log])
}

/// Adds the records to a transaction (the event that gives them: an application, a confirmation).
pub(super) fn record_in(tx: &mut Tx, table: &str, h: &str, consents: &[Consent]) -> Result<(), StoreError> {
    for c in consents {
        for item in items(h, c)? {
            tx.put("consent", table, item, None);
        }
    }
    Ok(())
}

/// The latest record of a purpose, from items read in a batch.
pub fn consent_of(item: &Item) -> Option<Consent> {
    item.get("doc").and_then(|v| v.as_s().ok()).and_then(|d| serde_json::from_str(d).ok())
}

impl Store {
    /// Records consents outside any other write (a recruiter's note, an import, an unsubscribe):
    /// one batch write.
    pub async fn record_consents(&self, h: &str, consents: &[Consent]) -> Result<(), StoreError> {
        let mut requests = Vec::new();
        for c in consents {
            for item in items(h, c)? {
                let put = PutRequest::builder()
                    .set_item(Some(item))
                    .build()
                    .map_err(|e| StoreError::Corrupt(e.to_string()))?;
                requests.push(WriteRequest::builder().put_request(put).build());
            }
        }
        for chunk in requests.chunks(25) {
            let mut pending = chunk.to_vec();
            for attempt in 0..8 {
                let res =
                    self.db.batch_write_item().request_items(&self.table, pending).send().await.map_err(store_error)?;
                pending = res.unprocessed_items().and_then(|u| u.get(&self.table)).cloned().unwrap_or_default();
                if pending.is_empty() {
                    break;
                }
                tokio::time::sleep(std::time::Duration::from_millis(50 << attempt)).await;
            }
            if !pending.is_empty() {
                return Err(StoreError::Unavailable("batch write left items unprocessed".into()));
            }
        }
        Ok(())
    }

    /// The latest record of one purpose: one read.
    pub async fn consent(&self, h: &str, purpose: Purpose) -> Result<Option<Consent>, StoreError> {
        Ok(self.get(format!("EMAIL#{h}"), format!("CONSENT#{purpose}")).await?.as_ref().and_then(consent_of))
    }

    /// Every consent record of the person, oldest first (for an export).
    pub async fn consent_history(&self, h: &str) -> Result<Vec<Consent>, StoreError> {
        Ok(self.with_prefix(&format!("EMAIL#{h}"), "CONSENTLOG#").await?.iter().filter_map(consent_of).collect())
    }
}
