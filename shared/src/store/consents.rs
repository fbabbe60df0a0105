//! Consent records, kept on the person's email partition: `CONSENT#<purpose>` is the latest record
//! of each purpose (what every send checks), `CONSENTLOG#<time>#<purpose>` the history.
use super::tx::Tx;
use super::{key, to_doc, Store};
use crate::clock::rfc3339;
use crate::consent::{Consent, Purpose};
use crate::error::StoreError;
use aws_sdk_dynamodb::types::AttributeValue;
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
                requests.push(Self::put_request(item)?);
            }
        }
        self.batch_write(requests).await
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
