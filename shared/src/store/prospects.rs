//! The CRM pool's records, keyed by the person's keyed email hash (one prospect per email), and the
//! suppression list every send checks.
use super::tx::{Change, Tx, TxError};
use super::{key, n, s, store_error, Store};
use crate::clock::rfc3339;
use crate::error::StoreError;
use crate::prospect::Subscription;
use aws_sdk_dynamodb::types::AttributeValue;
use chrono::{DateTime, Duration, Utc};

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

/// At most one opt-in email an hour per address, so the form cannot be used to flood someone.
const OPTIN_EVERY: Duration = Duration::hours(1);

impl Store {
    /// Claims the opt-in email and records the sign-up as pending (a confirmed prospect stays
    /// confirmed). `Ok(Some(nonce))`: send it now, with a link that names the nonce.
    pub async fn subscribe(
        &self,
        email_hash: &str,
        sub: &Subscription,
        now: DateTime<Utc>,
    ) -> Result<Option<String>, StoreError> {
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
        self.set_pending(email_hash, pending, now).await
    }

    /// A silver medalist without talent-pool consent: pending until they confirm the one email that
    /// asks. `Ok(Some(nonce))`: send it now.
    pub async fn request_consent(
        &self,
        email_hash: &str,
        c: &crate::application::Candidate,
        silver_medal: &serde_json::Value,
        now: DateTime<Utc>,
    ) -> Result<Option<String>, StoreError> {
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
        self.set_pending(email_hash, pending, now).await
    }

    /// A drop-off who ticked the talent-pool box: pending like a sign-up, unless they are in the pool
    /// already (then nothing changes). What an earlier sign-up or a recruiter's record holds is what
    /// the confirmation will apply. `Ok(Some(nonce))`: send the opt-in email now.
    pub async fn request_drop_off_optin(
        &self,
        email_hash: &str,
        d: &crate::draft::Draft,
        now: DateTime<Utc>,
    ) -> Result<Option<String>, StoreError> {
        let current = self.get(format!("EMAIL#{email_hash}"), "PROSPECT").await?;
        let attr = |k: &str| current.as_ref().and_then(|i| i.get(k)).and_then(|v| v.as_s().ok()).cloned();
        if attr("status").is_some_and(|s| s != "pending_consent") {
            return Ok(None);
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
        self.set_pending(email_hash, pending, now).await
    }

    /// Claims the opt-in email (one an hour per address), then keeps what the sign-up asks for beside
    /// the record, under a new nonce the email's link names: only that link, the person's own click,
    /// applies it. The form is public: it never changes a known person's name, interests or status,
    /// and a second submission within the hour (which sends nothing) changes nothing either.
    async fn set_pending(
        &self,
        email_hash: &str,
        p: Pending<'_>,
        now: DateTime<Utc>,
    ) -> Result<Option<String>, StoreError> {
        let mut claim = key(format!("EMAIL#{email_hash}"), "SEND#optin");
        claim.insert("claimed_at".into(), s(rfc3339(now)));
        claim.insert("ttl".into(), n((now + OPTIN_EVERY).timestamp()));
        let claimed = self
            .db
            .put_item()
            .table_name(&self.table)
            .set_item(Some(claim))
            .condition_expression("attribute_not_exists(pk) OR claimed_at < :since")
            .expression_attribute_values(":since", s(rfc3339(now - OPTIN_EVERY)))
            .send()
            .await
            .map_err(store_error);
        match claimed {
            Ok(_) => {}
            Err(StoreError::ConditionFailed) => return Ok(None),
            Err(e) => return Err(e),
        }
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
        let (marks, mark_values) = super::crm::pool_marks(email_hash, now);
        expression.push_str(marks);
        values.extend(mark_values);
        if !remove.is_empty() {
            expression.push_str(&format!(" REMOVE {}", remove.join(", ")));
        }
        let mut req = self
            .db
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key(format!("EMAIL#{email_hash}"), "PROSPECT")))
            .update_expression(expression)
            .expression_attribute_names("#status", "status");
        if p.only_if_pending {
            req = req.condition_expression("attribute_not_exists(pk) OR #status = :pending");
        }
        for (ph, v) in values {
            req = req.expression_attribute_values(ph, v);
        }
        match req.send().await.map_err(store_error) {
            Ok(_) => Ok(Some(nonce)),
            // Joined meanwhile: nothing to ask.
            Err(StoreError::ConditionFailed) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// The double opt-in's second step: pending interests become the prospect's, the consent is
    /// recorded, `subscriber` joins the origins. A repeated click changes nothing.
    /// `nonce`: the one the link names, which must be the pending request's (a later sign-up under the
    /// same address, with its own email, supersedes the earlier link); none for an import's request.
    pub async fn confirm_subscription(
        &self,
        email_hash: &str,
        nonce: Option<&str>,
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
        let (marks, mark_values) = super::crm::pool_marks(email_hash, now);
        // The credential types, as a set the pool's filters read.
        let mut kinds: Vec<String> = item
            .get("pending_credentials")
            .and_then(|v| v.as_s().ok())
            .and_then(|raw| serde_json::from_str::<Vec<crate::application::Credential>>(raw).ok())
            .unwrap_or_default()
            .into_iter()
            .map(|c| c.kind)
            .collect();
        kinds.sort();
        kinds.dedup();
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
        super::consents::record_in(&mut tx, &self.table, email_hash, &given)?;
        // Re-subscribing lifts an unsubscribe or an erasure's block, never a bounce or a complaint.
        tx.update(
            "suppression",
            &self.table,
            Change {
                key: key(format!("EMAIL#{email_hash}"), "SUPPRESS"),
                expression: "REMOVE reason, suppressed_at".into(),
                names: &[],
                values: vec![(":unsubscribed", s("unsubscribed")), (":erased", s("erased"))],
                condition: Some("attribute_not_exists(reason) OR reason IN (:unsubscribed, :erased)"),
            },
        );
        match tx.commit(self).await {
            Ok(()) => Ok(Confirmed::Joined),
            Err(TxError::Failed(l)) if l.contains(&"suppression") => Ok(Confirmed::Suppressed),
            Err(TxError::Failed(_)) | Err(TxError::Conflict) => Ok(Confirmed::Already),
            Err(TxError::Store(e)) => Err(e),
        }
    }

    /// Suppresses the address (kept as its keyed hash only) and marks the prospect unsubscribed.
    /// Repeatable: the first time is kept.
    /// `Ok(true)` the first time.
    pub async fn unsubscribe(&self, email_hash: &str, now: DateTime<Utc>) -> Result<bool, StoreError> {
        let before = self
            .db
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key(format!("EMAIL#{email_hash}"), "SUPPRESS")))
            .update_expression(
                "SET reason = if_not_exists(reason, :unsubscribed), suppressed_at = if_not_exists(suppressed_at, :now)",
            )
            .expression_attribute_values(":unsubscribed", s("unsubscribed"))
            .expression_attribute_values(":now", s(rfc3339(now)))
            .return_values(aws_sdk_dynamodb::types::ReturnValue::AllOld)
            .send()
            .await
            .map_err(store_error)?;
        let first = before.attributes().is_none_or(|a| !a.contains_key("reason"));
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
        let res = self
            .db
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key(format!("EMAIL#{email_hash}"), "PROSPECT")))
            .update_expression("SET #status = :unsubscribed, updated_at = :now")
            .condition_expression("attribute_exists(pk)")
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(":unsubscribed", s("unsubscribed"))
            .expression_attribute_values(":now", s(rfc3339(now)))
            .send()
            .await
            .map_err(store_error);
        match res {
            Ok(_) | Err(StoreError::ConditionFailed) => Ok(first),
            Err(e) => Err(e),
        }
    }

    /// Claims an email a person gets at most once ever (`SEND#<kind>`): `Ok(true)` the first time.
    pub async fn claim_once(&self, email_hash: &str, kind: &str, now: DateTime<Utc>) -> Result<bool, StoreError> {
        let mut claim = key(format!("EMAIL#{email_hash}"), format!("SEND#{kind}"));
        claim.insert("claimed_at".into(), s(rfc3339(now)));
        self.put_new(claim).await
    }

    /// Gives a `claim_once` back when the email could not go (SES throttled, say), so it is tried again.
    pub async fn release_once(&self, email_hash: &str, kind: &str) -> Result<(), StoreError> {
        self.db
            .delete_item()
            .table_name(&self.table)
            .set_key(Some(key(format!("EMAIL#{email_hash}"), format!("SEND#{kind}"))))
            .send()
            .await
            .map_err(store_error)?;
        Ok(())
    }

    /// Why an address must not be mailed, if it must not.
    pub async fn suppression(&self, email_hash: &str) -> Result<Option<String>, StoreError> {
        let item = self.get(format!("EMAIL#{email_hash}"), "SUPPRESS").await?;
        Ok(item.and_then(|i| i.get("reason").and_then(|r| r.as_s().ok()).cloned()))
    }
}

impl Store {
    /// Counts one request in a fixed one-minute window; `Ok(false)` once `limit` is reached. One
    /// conditional write; the window's item expires by TTL (nothing depends on that).
    pub async fn count_request(&self, who: &str, window_start: DateTime<Utc>, limit: u32) -> Result<bool, StoreError> {
        let res = self
            .db
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key(format!("RATE#{who}"), format!("W#{}", window_start.timestamp()))))
            .update_expression("ADD hits :one SET #ttl = :ttl")
            .condition_expression("attribute_not_exists(hits) OR hits < :limit")
            .expression_attribute_names("#ttl", "ttl")
            .expression_attribute_values(":one", n(1))
            .expression_attribute_values(":limit", n(limit))
            .expression_attribute_values(":ttl", n(window_start.timestamp() + 120))
            .send()
            .await
            .map_err(store_error);
        match res {
            Ok(_) => Ok(true),
            Err(StoreError::ConditionFailed) => Ok(false),
            Err(e) => Err(e),
        }
    }
}
