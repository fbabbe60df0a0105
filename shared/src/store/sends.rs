//! The send ledger: what emails were claimed and sent, so none goes twice. `<owner>/SEND#<kind>` are
//! the one-off emails (an application's confirmation under `APP#<id>`, a person's opt-in or
//! once-ever emails under `EMAIL#<h>`); `EMAIL#<h>/SENT#<campaign>#<step>` the nurture emails. Each is
//! claimed (a conditional write) before SES is called, and records what SES answered after.
use super::campaigns::count_campaign;
use super::enrolments::{step_sent, Enrolment};
use super::prospects::record_sent;
use super::tx::{Change, Item, Tx, TxError};
use super::{key, n, s, store_error, text, time, Store};
use crate::application::Application;
use crate::clock::rfc3339;
use crate::email::EmailHash;
use crate::error::StoreError;
use crate::ids::ApplicationId;
use chrono::{DateTime, Duration, Utc};

/// At most one opt-in email an hour per address, so the form cannot be used to flood someone.
const OPTIN_EVERY: Duration = Duration::hours(1);

/// Whose send a claim is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Claim {
    /// This run claimed it: send.
    Ours,
    /// Sent (or rejected) and recorded by an earlier run.
    Done,
    /// Claimed moments ago by a run still at work.
    InFlight,
    /// Claimed long ago, never recorded: the run crashed between claim and send.
    Lost,
}

/// What one nurture email did, for the ledger and the prospect.
#[derive(Clone)]
pub struct SentNurture<'a> {
    pub enrolment: &'a Enrolment,
    pub outcome: Outcome<'a>,
    pub story_id: Option<&'a str>,
    /// The prospect's sends of the last 30 days, this one included.
    pub recent_sends: Vec<DateTime<Utc>>,
    pub next_due: Option<DateTime<Utc>>,
    pub now: DateTime<Utc>,
}

/// What SES did with a nurture email. Every outcome is final: the enrolment moves on.
#[derive(Clone, Copy, Debug)]
pub enum Outcome<'a> {
    /// Taken, with SES's message id.
    Sent(&'a str),
    /// Refused for good (`MessageRejected`).
    Rejected(&'a str),
    /// No answer (a timeout, a 5xx): perhaps sent, so never sent again.
    Unknown(&'a str),
}

impl Outcome<'_> {
    /// The campaign counter it adds to.
    pub fn counter(&self) -> &'static str {
        match self {
            Outcome::Sent(_) => "sent",
            Outcome::Rejected(_) => "rejected",
            Outcome::Unknown(_) => "unknown",
        }
    }
}

fn once_key(email_hash: &EmailHash, kind: &str) -> Item {
    key(format!("EMAIL#{email_hash}"), format!("SEND#{kind}"))
}

fn nurture_key(e: &Enrolment) -> Item {
    key(format!("EMAIL#{}", e.email_hash), format!("SENT#{}#{}", e.campaign_id, e.step))
}

/// The opt-in email's claim, one an hour per address (the claim expires by TTL; nothing depends on
/// that), as a part of the transaction that records the request: it fails when one went within the hour.
pub(super) fn claim_optin(tx: &mut Tx, table: &str, email_hash: &EmailHash, now: DateTime<Utc>) {
    let mut claim = once_key(email_hash, "optin");
    claim.insert("claimed_at".into(), s(rfc3339(now)));
    claim.insert("ttl".into(), n((now + OPTIN_EVERY).timestamp()));
    let since = s(rfc3339(now - OPTIN_EVERY));
    tx.put_if("optin", table, claim, Some("attribute_not_exists(pk) OR claimed_at < :since"), vec![(":since", since)]);
}

/// The confirmation email is claimed in the application's transaction, so only the request that
/// created the application sends it.
pub(super) fn claim_confirmation(tx: &mut Tx, table: &str, app: &Application) {
    let mut claim = key(format!("APP#{}", app.id), "SEND#confirmation");
    claim.insert("status".into(), s("claimed"));
    claim.insert("claimed_at".into(), s(rfc3339(app.created_at)));
    tx.put("claim", table, claim, Some("attribute_not_exists(pk)"));
}

/// Whose send ledger records an email.
#[derive(Debug, Clone, Copy)]
pub enum Ledger<'a> {
    /// The person's own (opt-ins, consent requests).
    Person(&'a EmailHash),
    /// An application's (its confirmation).
    Application(&'a ApplicationId),
}

impl Ledger<'_> {
    fn pk(self) -> String {
        match self {
            Ledger::Person(hash) => format!("EMAIL#{hash}"),
            Ledger::Application(id) => format!("APP#{id}"),
        }
    }
}

impl Store {
    /// Records what SES answered for a claimed send (the second of at most two writes per email).
    pub async fn record_send(
        &self,
        ledger: Ledger<'_>,
        kind: &str,
        message_id: &str,
        at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        self.db
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key(ledger.pk(), format!("SEND#{kind}"))))
            .update_expression("SET #status = :sent, message_id = :m, sent_at = :at")
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(":sent", s("sent"))
            .expression_attribute_values(":m", s(message_id))
            .expression_attribute_values(":at", s(rfc3339(at)))
            .send()
            .await
            .map_err(store_error)?;
        Ok(())
    }

    /// Claims an email a person gets at most once ever (`SEND#<kind>`): `Ok(true)` the first time.
    pub async fn claim_once(&self, email_hash: &EmailHash, kind: &str, now: DateTime<Utc>) -> Result<bool, StoreError> {
        let mut claim = once_key(email_hash, kind);
        claim.insert("claimed_at".into(), s(rfc3339(now)));
        self.put_new(claim).await
    }

    /// Gives a `claim_once` back when the email could not go (SES throttled, say), so it is tried again.
    pub async fn release_once(&self, email_hash: &EmailHash, kind: &str) -> Result<(), StoreError> {
        self.delete(once_key(email_hash, kind)).await
    }

    /// Claims one email in the send ledger before SES is called: one conditional put. `Ok(false)`:
    /// an earlier run claimed it (sent, or lost to a crash: never sent twice).
    pub async fn claim_nurture(&self, e: &Enrolment, subject: &str, now: DateTime<Utc>) -> Result<Claim, StoreError> {
        let k = nurture_key(e);
        let mut item = k.clone();
        item.insert("campaign_id".into(), s(e.campaign_id.to_string()));
        item.insert("subject".into(), s(subject));
        item.insert("claimed_at".into(), s(rfc3339(now)));
        if self.put_new(item).await? {
            return Ok(Claim::Ours);
        }
        let held = self.get(text(&k, "pk").unwrap_or_default(), text(&k, "sk").unwrap_or_default()).await?;
        let done =
            held.as_ref().is_some_and(|i| ["sent_at", "rejected", "unknown_at"].iter().any(|a| i.contains_key(*a)));
        let claimed_at = held.as_ref().and_then(|i| time(i, "claimed_at"));
        Ok(match claimed_at {
            _ if done => Claim::Done,
            // Another run is sending it right now: leave it to that run.
            Some(t) if t > now - chrono::Duration::minutes(15) => Claim::InFlight,
            // Claimed long ago and never recorded: lost to a crash, never resent.
            _ => Claim::Lost,
        })
    }

    /// Gives a claim back when SES throttled before taking the email, so the next run sends it.
    pub async fn release_claim(&self, e: &Enrolment) -> Result<(), StoreError> {
        self.delete(nurture_key(e)).await
    }

    /// After SES answered: the ledger's outcome, the enrolment's next step, the prospect's send
    /// history and the campaign's counters, in one transaction (the email's second and last write).
    pub async fn record_nurture(&self, sent: SentNurture<'_>) -> Result<(), StoreError> {
        let t = &self.table;
        let e = sent.enrolment;
        let mut tx = Tx::default();
        let mut values = vec![(":at", s(rfc3339(sent.now)))];
        let expression = match sent.outcome {
            Outcome::Sent(m) => {
                values.push((":m", s(m)));
                "SET sent_at = :at, message_id = :m"
            }
            Outcome::Rejected(r) => {
                values.push((":r", s(r)));
                "SET rejected_at = :at, rejected = :r"
            }
            Outcome::Unknown(why) => {
                values.push((":u", s(why)));
                "SET unknown_at = :at, unknown_reason = :u"
            }
        };
        tx.update(
            "ledger",
            t,
            Change { key: nurture_key(e), expression: expression.into(), names: &[], values, condition: None },
        );
        step_sent(&mut tx, t, e, sent.next_due);
        // Perhaps sent counts as sent toward the person's cap.
        if !matches!(sent.outcome, Outcome::Rejected(_)) {
            record_sent(&mut tx, t, &e.email_hash, &sent.recent_sends, sent.story_id);
        }
        let at = self.counters(self.shard(&format!("{}#{}#{}", e.email_hash, e.campaign_id, e.step)));
        count_campaign(&mut tx, at, e.campaign_id, sent.outcome.counter());
        match tx.commit(self).await {
            Ok(()) => Ok(()),
            Err(TxError::Store(e)) => Err(e),
            // The enrolment moved past this step meanwhile: the email went out, and is recorded next run
            // as far as it can be; nothing is sent twice.
            Err(TxError::Failed(_)) => Ok(()),
        }
    }
}
