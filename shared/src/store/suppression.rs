//! The suppression list every send checks: `EMAIL#<h>/SUPPRESS`, kept as the keyed hash only, with
//! the reason (unsubscribed, bounced, complained, erased). A bounce or complaint is for good; a
//! re-subscribe lifts an unsubscribe or an erasure's block.
use super::prospects::set_status;
use super::tx::{Change, Item, Tx, TxError};
use super::{key, reason_of, s, store_error, Store};
use crate::clock::rfc3339;
use crate::email::EmailHash;
use crate::error::StoreError;
use crate::prospect::{ProspectStatus, SuppressionReason};
use chrono::{DateTime, Utc};

/// Sets the reason, keeping when the address was first suppressed.
const SUPPRESS: &str = "SET reason = :reason, suppressed_at = if_not_exists(suppressed_at, :now)";

fn suppress_key(h: &str) -> Item {
    key(format!("EMAIL#{h}"), "SUPPRESS")
}

/// Re-subscribing lifts an unsubscribe or an erasure's block, never a bounce or a complaint: in the
/// confirmation's transaction, which fails (label `suppression`) on a bounce or complaint.
pub(super) fn lift_unsubscribe(tx: &mut Tx, table: &str, h: &str) {
    tx.update(
        "suppression",
        table,
        Change {
            key: suppress_key(h),
            expression: "REMOVE reason, suppressed_at".into(),
            names: &[],
            values: vec![
                (":unsubscribed", s(SuppressionReason::Unsubscribed.as_str())),
                (":erased", s(SuppressionReason::Erased.as_str())),
            ],
            condition: Some("attribute_not_exists(reason) OR reason IN (:unsubscribed, :erased)"),
        },
    );
}

impl Store {
    /// Why an address must not be mailed, if it must not.
    pub async fn suppression(&self, email_hash: &EmailHash) -> Result<Option<SuppressionReason>, StoreError> {
        let item = self.get(format!("EMAIL#{email_hash}"), "SUPPRESS").await?;
        item.map_or(Ok(None), |i| reason_of(&i))
    }

    /// A bounce or complaint from SES: the address is suppressed for good (a re-subscribe does not
    /// lift it) and the prospect, if any, shows why.
    pub async fn suppress(&self, h: &str, reason: ProspectStatus, now: DateTime<Utc>) -> Result<(), StoreError> {
        let mut tx = Tx::default();
        tx.update(
            "suppression",
            &self.table,
            Change {
                key: suppress_key(h),
                expression: SUPPRESS.into(),
                names: &[],
                values: vec![(":reason", s(reason.as_str())), (":now", s(rfc3339(now)))],
                condition: None,
            },
        );
        set_status(&mut tx, &self.table, h, reason, now);
        match tx.commit(self).await {
            Ok(()) => Ok(()),
            Err(TxError::Failed(_)) => {
                // No prospect: suppress the address alone.
                self.db
                    .update_item()
                    .table_name(&self.table)
                    .set_key(Some(suppress_key(h)))
                    .update_expression(SUPPRESS)
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

    /// Suppresses the address (kept as its keyed hash only) and marks the prospect unsubscribed.
    /// Repeatable: the first time is kept, and only the first writes its event (one transaction with
    /// the suppression; an address suppressed already, for any reason, changes nothing).
    /// `Ok(true)` the first time.
    pub async fn unsubscribe(
        &self,
        email_hash: &EmailHash,
        event: &crate::event::Event,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let mut tx = Tx::default();
        tx.update(
            "suppression",
            &self.table,
            Change {
                key: suppress_key(email_hash),
                expression: "SET reason = :unsubscribed, suppressed_at = :now".into(),
                names: &[],
                values: vec![(":unsubscribed", s("unsubscribed")), (":now", s(rfc3339(now)))],
                condition: Some("attribute_not_exists(reason)"),
            },
        );
        super::events::record(&mut tx, &self.table, std::slice::from_ref(event));
        let first = match tx.commit(self).await {
            Ok(()) => true,
            Err(TxError::Failed(_)) => false,
            Err(TxError::Store(e)) => return Err(e),
        };
        if first {
            let withdrawn = crate::consent::Consent::new(
                crate::consent::Purpose::MarketingEmail,
                false,
                now,
                crate::consent::Method::UnsubscribeLink,
                crate::application::CONSENT_TEXT_VERSION,
            );
            self.record_consents(email_hash, &[withdrawn]).await?;
        }
        // The prospect record, when there is one, shows the status too.
        self.update_when(Change {
            key: key(format!("EMAIL#{email_hash}"), "PROSPECT"),
            expression: "SET #status = :unsubscribed, updated_at = :now".into(),
            names: &[("#status", "status")],
            values: vec![(":unsubscribed", s("unsubscribed")), (":now", s(rfc3339(now)))],
            condition: Some("attribute_exists(pk)"),
        })
        .await?;
        Ok(first)
    }

    /// An erased person's address stays suppressed as its keyed hash alone (an import or a campaign
    /// never finds the person again): an earlier reason is kept.
    pub(super) async fn suppress_erased(&self, email_hash: &EmailHash, now: DateTime<Utc>) -> Result<(), StoreError> {
        self.db
            .update_item()
            .table_name(&self.table)
            .set_key(Some(suppress_key(email_hash)))
            .update_expression("SET reason = if_not_exists(reason, :erased), suppressed_at = if_not_exists(suppressed_at, :now), erased_at = :now")
            .expression_attribute_values(":erased", s("erased"))
            .expression_attribute_values(":now", s(rfc3339(now)))
            .send()
            .await
            .map_err(store_error)?;
        Ok(())
    }
}
