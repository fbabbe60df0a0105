//! Sign-ups waiting for the person's own confirmation (double opt-in): what a sign-up, a
//! drop-off's tick or a silver medalist's consent request asks for is kept beside the prospect item
//! (`pending_*` attributes under a nonce) until the link in the opt-in email applies it.
use super::consents::record_in;
use super::events::record;
use super::prospects::{credential_types, pool_marks};
use super::sends::claim_optin;
use super::suppression::lift_unsubscribe;
use super::tx::{Change, Tx, TxError};
use super::{key, s, text, Store};
use crate::clock::rfc3339;
use crate::email::EmailHash;
use crate::error::StoreError;
use crate::event::Event;
use crate::prospect::Subscription;
use aws_sdk_dynamodb::types::AttributeValue;
use chrono::{DateTime, Utc};

#[derive(Debug, PartialEq, Eq)]
pub enum Confirmed {
    /// Now in the pool.
    Joined,
    /// Was already confirmed; nothing changed.
    Already,
    /// No pending sign-up for this address (or it was erased).
    Unknown,
    /// The address bounced or complained: it is never mailed again.
    Suppressed,
}

/// A sign-up waiting for its confirmation.
struct Pending<'a> {
    email: &'a str,
    first_name: Option<&'a str>,
    last_name: Option<&'a str>,
    interests: String,
    credentials: String,
    origin: &'static str,
    silver_medal: Option<String>,
    /// Only while the person is unknown or still pending (a drop-off's tick never touches a member).
    only_if_pending: bool,
}

/// A consent request waiting for its email: what the prospect record holds of it.
#[derive(Debug, Clone)]
pub struct PendingRequest {
    pub email: crate::email::Email,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    /// The request the email's link confirms (a later request supersedes it).
    pub nonce: String,
    /// A silver medalist's job, as recorded when they were kept in touch.
    pub job_title: Option<String>,
}

impl Store {
    /// Claims the opt-in email and records the sign-up as pending (a confirmed prospect stays
    /// confirmed), with `event` (its consent request). `Ok(true)`: the email is due.
    pub async fn subscribe(
        &self,
        email_hash: &EmailHash,
        sub: &Subscription,
        event: &Event,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let pending = Pending {
            email: &sub.email.0,
            first_name: sub.first_name.as_deref(),
            last_name: sub.last_name.as_deref(),
            interests: serde_json::to_string(&sub.interests).unwrap_or_default(),
            credentials: serde_json::to_string(&sub.credentials).unwrap_or_default(),
            origin: "subscriber",
            silver_medal: None,
            only_if_pending: false,
        };
        self.set_pending(email_hash, pending, event, now).await
    }

    /// A silver medalist without talent-pool consent: pending until they confirm the one email that
    /// asks. `Ok(true)`: the email is due.
    pub async fn request_consent(
        &self,
        email_hash: &EmailHash,
        c: &crate::application::Candidate,
        silver_medal: &serde_json::Value,
        event: &Event,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let pending = Pending {
            email: &c.email.0,
            first_name: Some(&c.first_name),
            last_name: Some(&c.last_name),
            interests: serde_json::to_string(&crate::prospect::Interests::default()).unwrap_or_default(),
            credentials: serde_json::to_string(&c.credentials).unwrap_or_default(),
            origin: "silver_medalist",
            silver_medal: Some(silver_medal.to_string()),
            only_if_pending: false,
        };
        self.set_pending(email_hash, pending, event, now).await
    }

    /// A drop-off who ticked the talent-pool box: pending like a sign-up, unless they are in the pool
    /// already (then nothing changes). What an earlier sign-up or a recruiter's record holds is what
    /// the confirmation will apply. `Ok(true)`: the opt-in email is due.
    pub async fn request_drop_off_optin(
        &self,
        email_hash: &EmailHash,
        d: &crate::draft::Draft,
        event: &Event,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let current = self.get(format!("EMAIL#{email_hash}"), "PROSPECT").await?;
        let attr = |k: &str| current.as_ref().and_then(|i| i.get(k)).and_then(|v| v.as_s().ok()).cloned();
        if attr("status").is_some_and(|s| s != "pending_consent") {
            return Ok(false);
        }
        let interests = attr("pending_interests")
            .or_else(|| attr("interests"))
            .unwrap_or_else(|| serde_json::to_string(&crate::prospect::Interests::default()).unwrap_or_default());
        let pending = Pending {
            email: &d.email.0,
            first_name: d.first_name.as_deref(),
            last_name: None,
            interests,
            credentials: attr("pending_credentials").or_else(|| attr("credentials")).unwrap_or_else(|| "[]".into()),
            origin: if attr("pending_origin").as_deref() == Some("subscriber") { "subscriber" } else { "drop_off" },
            silver_medal: None,
            only_if_pending: true,
        };
        self.set_pending(email_hash, pending, event, now).await
    }

    /// The pending consent request of an address, if one is waiting (none once confirmed or erased):
    /// one read.
    pub async fn pending_request(&self, email_hash: &EmailHash) -> Result<Option<PendingRequest>, StoreError> {
        let Some(item) = self.get(format!("EMAIL#{email_hash}"), "PROSPECT").await? else { return Ok(None) };
        let (Some(nonce), Some(email)) = (text(&item, "pending_nonce"), text(&item, "email")) else { return Ok(None) };
        let email = crate::email::Email::parse(&email).map_err(|e| StoreError::Corrupt(format!("email: {e}")))?;
        let job_title = text(&item, "pending_silver_medal")
            .and_then(|m| serde_json::from_str::<serde_json::Value>(&m).ok())
            .and_then(|m| m["job_title"].as_str().map(str::to_string));
        Ok(Some(PendingRequest {
            email,
            first_name: text(&item, "pending_first_name"),
            last_name: text(&item, "pending_last_name"),
            nonce,
            job_title,
        }))
    }

    /// Claims the opt-in email (one an hour per address) and keeps what the sign-up asks for beside
    /// the record, under a new nonce the email's link names: only that link, the person's own click,
    /// applies it. The form is public: it never changes a known person's name, interests or status,
    /// and a second submission within the hour (which sends nothing) changes nothing either.
    async fn set_pending(
        &self,
        email_hash: &EmailHash,
        p: Pending<'_>,
        event: &Event,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let nonce = ulid::Ulid::generate().to_string();
        let mut values: Vec<(&str, AttributeValue)> = vec![
            (":email", s(p.email)),
            (":now", s(rfc3339(now))),
            (":pending", s("pending_consent")),
            (":interests", s(p.interests)),
            (":credentials", s(p.credentials)),
            (":origin", s(p.origin)),
            (":nonce", s(&nonce)),
        ];
        let mut expression = String::from(
            "SET email = if_not_exists(email, :email), created_at = if_not_exists(created_at, :now), \
             updated_at = if_not_exists(updated_at, :now), pending_at = :now, pending_nonce = :nonce, \
             #status = if_not_exists(#status, :pending), pending_interests = :interests, \
             pending_credentials = :credentials, pending_origin = :origin",
        );
        let mut remove = Vec::new();
        for (attr, ph, v) in
            [("pending_first_name", ":first", p.first_name), ("pending_last_name", ":last", p.last_name)]
        {
            match v {
                Some(v) => {
                    expression.push_str(&format!(", {attr} = {ph}"));
                    values.push((ph, s(v)));
                }
                None => remove.push(attr),
            }
        }
        if let Some(m) = p.silver_medal {
            expression.push_str(", pending_silver_medal = :silver");
            values.push((":silver", s(m)));
        }
        let (marks, mark_values) = pool_marks(email_hash, now);
        expression.push_str(marks);
        values.extend(mark_values);
        if !remove.is_empty() {
            expression.push_str(&format!(" REMOVE {}", remove.join(", ")));
        }
        let mut tx = Tx::default();
        claim_optin(&mut tx, &self.table, email_hash, now);
        tx.update(
            "prospect",
            &self.table,
            Change {
                key: key(format!("EMAIL#{email_hash}"), "PROSPECT"),
                expression,
                names: &[("#status", "status")],
                values,
                condition: p.only_if_pending.then_some("attribute_not_exists(pk) OR #status = :pending"),
            },
        );
        record(&mut tx, &self.table, std::slice::from_ref(event));
        match tx.commit(self).await {
            Ok(()) => Ok(true),
            // An opt-in went within the hour, or the person joined meanwhile: nothing to ask.
            Err(TxError::Failed(_)) => Ok(false),
            Err(TxError::Store(e)) => Err(e),
        }
    }

    /// The double opt-in's second step: pending interests become the prospect's, the consent is
    /// recorded, `subscriber` joins the origins. A repeated click changes nothing.
    /// `nonce`: the one the link names, which must be the pending request's (a later sign-up under the
    /// same address, with its own email, supersedes the earlier link); none for an import's request.
    /// `joined`: the `prospect.created` event, written only when the person was in the pool in no way
    /// before (no origin yet: a recruiter's record or an import already made theirs).
    pub async fn confirm_subscription(
        &self,
        email_hash: &EmailHash,
        nonce: Option<&str>,
        joined: &Event,
        now: DateTime<Utc>,
    ) -> Result<Confirmed, StoreError> {
        let Some(item) = self.get(format!("EMAIL#{email_hash}"), "PROSPECT").await? else {
            return Ok(Confirmed::Unknown);
        };
        if !item.contains_key("pending_interests") {
            let active = item.get("status").and_then(|v| v.as_s().ok()).is_some_and(|s| s == "active");
            return Ok(if active { Confirmed::Already } else { Confirmed::Unknown });
        }
        if item.get("pending_nonce").and_then(|v| v.as_s().ok()).map(String::as_str) != nonce {
            return Ok(Confirmed::Unknown);
        }
        let origin =
            item.get("pending_origin").and_then(|v| v.as_s().ok()).cloned().unwrap_or_else(|| "subscriber".into());
        let silver = item.contains_key("pending_silver_medal");
        // The names the person gave with the sign-up they confirm now.
        let names: String = ["first_name", "last_name"]
            .iter()
            .filter(|a| item.contains_key(&format!("pending_{a}")))
            .map(|a| format!(", {a} = pending_{a}"))
            .collect();
        let drop_names: String = ["first_name", "last_name"]
            .iter()
            .filter(|a| item.contains_key(&format!("pending_{a}")))
            .map(|a| format!(", pending_{a}"))
            .collect();
        let (marks, mark_values) = pool_marks(email_hash, now);
        let credentials: Vec<crate::application::Credential> = item
            .get("pending_credentials")
            .and_then(|v| v.as_s().ok())
            .and_then(|raw| serde_json::from_str(raw).ok())
            .unwrap_or_default();
        let kinds = credential_types(&credentials);
        let consent = serde_json::json!({"given": true, "at": rfc3339(now), "text_version": crate::application::CONSENT_TEXT_VERSION,
                                         "method": "confirmation_link"});
        let mut tx = Tx::default();
        tx.update(
            "prospect",
            &self.table,
            Change {
                key: key(format!("EMAIL#{email_hash}"), "PROSPECT"),
                expression: format!(
                    "SET #status = :active, interests = pending_interests, credentials = pending_credentials, \
                     talent_pool_consent = :consent, updated_at = :now{names}{}{marks}{} \
                     REMOVE pending_interests, pending_credentials, pending_origin, pending_at, pending_nonce{drop_names}{} \
                     ADD origins :origin",
                    if silver { ", silver_medal = pending_silver_medal" } else { "" },
                    if kinds.is_empty() { "" } else { ", credential_types = :kinds" },
                    if silver { ", pending_silver_medal" } else { "" },
                ),
                names: &[("#status", "status")],
                values: {
                    let mut v = vec![
                        (":active", s("active")),
                        (":consent", s(consent.to_string())),
                        (":now", s(rfc3339(now))),
                        (":origin", AttributeValue::Ss(vec![origin])),
                    ];
                    v.extend(mark_values);
                    if !kinds.is_empty() {
                        v.push((":kinds", AttributeValue::Ss(kinds)));
                    }
                    if let Some(n) = nonce {
                        v.push((":nonce", s(n)));
                    }
                    v
                },
                condition: Some(if nonce.is_some() {
                    "attribute_exists(pending_interests) AND pending_nonce = :nonce"
                } else {
                    "attribute_exists(pending_interests) AND attribute_not_exists(pending_nonce)"
                }),
            },
        );
        let given = crate::consent::Consent::talent_pool(
            now,
            crate::consent::Method::ConfirmationLink,
            crate::application::CONSENT_TEXT_VERSION,
        );
        record_in(&mut tx, &self.table, email_hash, &given)?;
        lift_unsubscribe(&mut tx, &self.table, email_hash);
        if !item.contains_key("origins") {
            record(&mut tx, &self.table, std::slice::from_ref(joined));
        }
        match tx.commit(self).await {
            Ok(()) => Ok(Confirmed::Joined),
            Err(TxError::Failed(l)) if l.contains(&"suppression") => Ok(Confirmed::Suppressed),
            Err(TxError::Failed(_)) => Ok(Confirmed::Already),
            Err(TxError::Store(e)) => Err(e),
        }
    }
}
