//! Webhook endpoints and their deliveries.
//!
//! Endpoints live in one partition, `WEBHOOKS/HOOK#<id>`, so the fan-out of an event reads them all in
//! one query. Each keeps its fields as attributes (so a delivery can start or end a failing streak,
//! or disable the endpoint, with one conditional update that no admin edit undoes) and its secrets:
//! `secret`, and after a rotation `previous_secret` with `previous_until`.
//!
//! The secrets are kept in the table as they are, not encrypted with a key of their own: a signing
//! secret is shared with the receiver and must be read whole to sign every attempt, so encrypting it
//! with a key the same functions hold would keep it from no one who can read the table. The table is
//! encrypted at rest, reachable only by the functions' roles, and a secret is never logged or answered
//! after the request that made it; a leaked one is replaced with `POST /api/webhooks/{id}/rotate`.
//!
//! A delivery, `HOOK#<id>/DELIVERY#<event id>`, is made once per event and endpoint (a conditional
//! put, so a second fan-out of the same event makes nothing), with the body every attempt sends.
//! While pending it sits in the sparse GSI1 list `WEBHOOKS#due` under its next attempt time; it leaves
//! the list when delivered or failed. Event ids are ULIDs, so the partition read backwards is the
//! delivery log, newest first. Deliveries expire (TTL) 30 days after they were made.
use super::tx::{Change, Item};
use super::{key, n, num, s, store_error, text, time, Page, PageRequest, Store};
use crate::clock::rfc3339;
use crate::error::{ApiError, StoreError};
use crate::event::EventType;
use crate::ids::{EventId, WebhookId};
use crate::webhook::{Delivery, DeliveryStatus, DisabledReason, Endpoint, Secret, Secrets, Subscription, WebhookUrl};
use aws_sdk_dynamodb::types::{AttributeValue, ReturnValue};
use chrono::{DateTime, Utc};

const PARTITION: &str = "WEBHOOKS";
const DUE: &str = "WEBHOOKS#due";
/// How long a delivery is kept after it was made (TTL tidies up; nothing relies on it).
const KEEP_SECONDS: i64 = 30 * 86_400;

fn endpoint_key(id: &WebhookId) -> Item {
    key(PARTITION, format!("HOOK#{id}"))
}

fn deliveries_partition(id: &WebhookId) -> String {
    format!("HOOK#{id}")
}

fn delivery_key(hook: &WebhookId, event: &EventId) -> Item {
    key(deliveries_partition(hook), format!("DELIVERY#{event}"))
}

fn due_key(at: DateTime<Utc>, hook: &WebhookId, event: &EventId) -> String {
    format!("{}#{hook}#{event}", rfc3339(at))
}

fn corrupt(what: &str) -> StoreError {
    StoreError::Corrupt(format!("webhook item: {what}"))
}

fn events_attr(events: &Subscription) -> Result<AttributeValue, StoreError> {
    serde_json::to_string(events).map(s).map_err(|e| StoreError::Corrupt(e.to_string()))
}

fn endpoint_of(item: &Item) -> Result<(Endpoint, Secrets), StoreError> {
    let id = text(item, "sk").and_then(|k| k.strip_prefix("HOOK#")?.parse().ok()).ok_or_else(|| corrupt("id"))?;
    let url = text(item, "url").ok_or_else(|| corrupt("url"))?;
    // Stored URLs passed the check when they were given; they are read back as they are.
    let url: WebhookUrl = serde_json::from_value(serde_json::Value::String(url)).map_err(|_| corrupt("url"))?;
    let events: Subscription =
        text(item, "events").and_then(|e| serde_json::from_str(&e).ok()).ok_or_else(|| corrupt("events"))?;
    let enabled = item.get("enabled").and_then(|v| v.as_bool().ok()).copied().ok_or_else(|| corrupt("enabled"))?;
    let disabled_reason = text(item, "disabled_reason")
        .map(|r| r.parse::<DisabledReason>().map_err(|_| corrupt("disabled_reason")))
        .transpose()?;
    let endpoint = Endpoint {
        id,
        url,
        events,
        description: text(item, "description").unwrap_or_default(),
        enabled,
        disabled_reason,
        failing_since: time(item, "failing_since"),
        created_at: time(item, "created_at").ok_or_else(|| corrupt("created_at"))?,
        updated_at: time(item, "updated_at").ok_or_else(|| corrupt("updated_at"))?,
    };
    let current = text(item, "secret").and_then(|s| Secret::parse(&s)).ok_or_else(|| corrupt("secret"))?;
    let previous = match (text(item, "previous_secret").and_then(|s| Secret::parse(&s)), time(item, "previous_until")) {
        (Some(s), Some(until)) => Some((s, until)),
        _ => None,
    };
    Ok((endpoint, Secrets { current, previous }))
}

fn delivery_of(item: &Item) -> Result<Delivery, StoreError> {
    let parse = |k: &str| text(item, k).ok_or_else(|| corrupt(k));
    Ok(Delivery {
        webhook_id: parse("webhook_id")?.parse().map_err(|_| corrupt("webhook_id"))?,
        event_id: parse("event_id")?.parse().map_err(|_| corrupt("event_id"))?,
        event_type: parse("event_type")?.parse::<EventType>().map_err(|_| corrupt("event_type"))?,
        status: parse("status")?.parse::<DeliveryStatus>().map_err(|_| corrupt("status"))?,
        attempts: u32::try_from(num(item, "attempts")).map_err(|_| corrupt("attempts"))?,
        last_response_code: item.get("last_response_code").and_then(|v| v.as_n().ok()).and_then(|n| n.parse().ok()),
        last_error: text(item, "last_error"),
        last_attempt_at: time(item, "last_attempt_at"),
        next_attempt_at: time(item, "next_attempt_at"),
        created_at: time(item, "created_at").ok_or_else(|| corrupt("created_at"))?,
        body: parse("body")?,
    })
}

fn delivery_item(d: &Delivery) -> Item {
    let mut item = delivery_key(&d.webhook_id, &d.event_id);
    item.insert("webhook_id".into(), s(d.webhook_id.to_string()));
    item.insert("event_id".into(), s(d.event_id.to_string()));
    item.insert("event_type".into(), s(d.event_type.as_str()));
    item.insert("status".into(), s(d.status.as_str()));
    item.insert("attempts".into(), n(d.attempts));
    item.insert("created_at".into(), s(rfc3339(d.created_at)));
    item.insert("body".into(), s(d.body.clone()));
    item.insert("ttl".into(), n(d.created_at.timestamp() + KEEP_SECONDS));
    if let Some(at) = d.next_attempt_at {
        item.insert("next_attempt_at".into(), s(rfc3339(at)));
        item.insert("gsi1pk".into(), s(DUE));
        item.insert("gsi1sk".into(), s(due_key(at, &d.webhook_id, &d.event_id)));
    }
    item
}

impl Store {
    /// Registers an endpoint with its secret: one conditional put.
    pub async fn create_webhook(&self, e: &Endpoint, secret: &Secret) -> Result<(), StoreError> {
        let mut item = endpoint_key(&e.id);
        item.insert("url".into(), s(e.url.as_str()));
        item.insert("events".into(), events_attr(&e.events)?);
        item.insert("description".into(), s(e.description.clone()));
        item.insert("enabled".into(), AttributeValue::Bool(e.enabled));
        item.insert("created_at".into(), s(rfc3339(e.created_at)));
        item.insert("updated_at".into(), s(rfc3339(e.updated_at)));
        item.insert("secret".into(), s(secret.expose()));
        if self.put_new(item).await? {
            Ok(())
        } else {
            Err(StoreError::ConditionFailed)
        }
    }

    /// One endpoint with its secrets: one read.
    pub async fn webhook(&self, id: &WebhookId) -> Result<Option<(Endpoint, Secrets)>, StoreError> {
        self.get(PARTITION, format!("HOOK#{id}")).await?.as_ref().map(endpoint_of).transpose()
    }

    /// Every endpoint, oldest first: one query (the partition holds only endpoints).
    pub async fn webhooks(&self) -> Result<Vec<(Endpoint, Secrets)>, StoreError> {
        self.with_prefix(PARTITION, "HOOK#").await?.iter().map(endpoint_of).collect()
    }

    /// Saves an admin's edit of an endpoint (its URL, types, description, enabled or not), if it still
    /// exists: one conditional update. `restart`: it is being enabled again, so any failing streak
    /// ends. Answers the endpoint as saved.
    pub async fn update_webhook(&self, e: &Endpoint, restart: bool) -> Result<Option<Endpoint>, StoreError> {
        let mut set = vec!["#url = :url", "events = :events", "description = :d", "enabled = :on", "updated_at = :u"];
        let mut remove = Vec::new();
        let mut req = self
            .db
            .update_item()
            .table_name(&self.table)
            .set_key(Some(endpoint_key(&e.id)))
            .condition_expression("attribute_exists(pk)")
            .expression_attribute_names("#url", "url")
            .expression_attribute_values(":url", s(e.url.as_str()))
            .expression_attribute_values(":events", events_attr(&e.events)?)
            .expression_attribute_values(":d", s(e.description.clone()))
            .expression_attribute_values(":on", AttributeValue::Bool(e.enabled))
            .expression_attribute_values(":u", s(rfc3339(e.updated_at)))
            .return_values(ReturnValue::AllNew);
        match e.disabled_reason {
            Some(r) => {
                set.push("disabled_reason = :why");
                req = req.expression_attribute_values(":why", s(r.as_str()));
            }
            None => remove.push("disabled_reason"),
        }
        if restart {
            remove.push("failing_since");
        }
        let mut expression = format!("SET {}", set.join(", "));
        if !remove.is_empty() {
            expression.push_str(&format!(" REMOVE {}", remove.join(", ")));
        }
        match req.update_expression(expression).send().await.map_err(store_error) {
            Ok(out) => out.attributes.as_ref().map(|i| endpoint_of(i).map(|(e, _)| e)).transpose(),
            Err(StoreError::ConditionFailed) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Replaces an endpoint's secret with `next`; the one it replaces keeps signing until `until`:
    /// one conditional update (the old secret is moved within the item, never read out).
    /// `Ok(None)`: no such endpoint.
    pub async fn rotate_webhook_secret(
        &self,
        id: &WebhookId,
        next: &Secret,
        until: DateTime<Utc>,
    ) -> Result<Option<Endpoint>, StoreError> {
        let res = self
            .db
            .update_item()
            .table_name(&self.table)
            .set_key(Some(endpoint_key(id)))
            .condition_expression("attribute_exists(pk)")
            .update_expression("SET previous_secret = secret, previous_until = :until, secret = :next")
            .expression_attribute_values(":until", s(rfc3339(until)))
            .expression_attribute_values(":next", s(next.expose()))
            .return_values(ReturnValue::AllNew)
            .send()
            .await
            .map_err(store_error);
        match res {
            Ok(out) => out.attributes.as_ref().map(|i| endpoint_of(i).map(|(e, _)| e)).transpose(),
            Err(StoreError::ConditionFailed) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Deletes an endpoint: one write. `Ok(false)`: there was none. Its deliveries stay until they
    /// expire; a pending one is given up when its turn comes.
    pub async fn delete_webhook(&self, id: &WebhookId) -> Result<bool, StoreError> {
        let res = self
            .db
            .delete_item()
            .table_name(&self.table)
            .set_key(Some(endpoint_key(id)))
            .condition_expression("attribute_exists(pk)")
            .send()
            .await
            .map_err(store_error);
        match res {
            Ok(_) => Ok(true),
            Err(StoreError::ConditionFailed) => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// Starts an endpoint's failing streak at `since`, unless one is running: one conditional update.
    pub async fn webhook_failing(&self, id: &WebhookId, since: DateTime<Utc>) -> Result<(), StoreError> {
        self.update_when(Change {
            key: endpoint_key(id),
            expression: "SET failing_since = :since".into(),
            names: &[],
            values: vec![(":since", s(rfc3339(since)))],
            condition: Some("attribute_exists(pk) AND attribute_not_exists(failing_since)"),
        })
        .await?;
        Ok(())
    }

    /// Ends an endpoint's failing streak (a delivery succeeded): one conditional update.
    pub async fn webhook_recovered(&self, id: &WebhookId) -> Result<(), StoreError> {
        self.update_when(Change {
            key: endpoint_key(id),
            expression: "REMOVE failing_since".into(),
            names: &[],
            values: vec![],
            condition: Some("attribute_exists(failing_since)"),
        })
        .await?;
        Ok(())
    }

    /// Disables an endpoint whose streak began at `since`, if it is still enabled and on that streak:
    /// one conditional update. `Ok(true)`: this call disabled it (and only one call ever does).
    pub async fn disable_failing_webhook(
        &self,
        id: &WebhookId,
        since: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        self.update_when(Change {
            key: endpoint_key(id),
            expression: "SET enabled = :off, disabled_reason = :why, updated_at = :now".into(),
            names: &[],
            values: vec![
                (":on", AttributeValue::Bool(true)),
                (":off", AttributeValue::Bool(false)),
                (":since", s(rfc3339(since))),
                (":why", s(DisabledReason::Failing.as_str())),
                (":now", s(rfc3339(now))),
            ],
            condition: Some("enabled = :on AND failing_since = :since"),
        })
        .await
    }

    /// Makes a delivery unless one of the same event to the same endpoint exists: one conditional
    /// put. `Ok(false)`: it existed, and nothing was written.
    pub async fn create_delivery(&self, d: &Delivery) -> Result<bool, StoreError> {
        self.put_new(delivery_item(d)).await
    }

    /// One delivery: one read.
    pub async fn delivery(&self, hook: &WebhookId, event: &EventId) -> Result<Option<Delivery>, StoreError> {
        self.get(deliveries_partition(hook), format!("DELIVERY#{event}")).await?.as_ref().map(delivery_of).transpose()
    }

    /// An endpoint with its secrets and one of its deliveries: one batch read.
    #[allow(clippy::type_complexity)]
    pub async fn webhook_with_delivery(
        &self,
        hook: &WebhookId,
        event: &EventId,
    ) -> Result<(Option<(Endpoint, Secrets)>, Option<Delivery>), StoreError> {
        let items = self.batch_get(vec![endpoint_key(hook), delivery_key(hook, event)]).await?;
        let mut endpoint = None;
        let mut delivery = None;
        for item in &items {
            if text(item, "pk").as_deref() == Some(PARTITION) {
                endpoint = Some(endpoint_of(item)?);
            } else {
                delivery = Some(delivery_of(item)?);
            }
        }
        Ok((endpoint, delivery))
    }

    /// Records an attempt: `after` is the delivery as the attempt left it, `before` as it was read.
    /// Conditional on the attempts counted then, so two runs that both tried it record one of them:
    /// one write. `Ok(false)`: another run recorded first.
    pub async fn record_attempt(&self, before: &Delivery, after: &Delivery) -> Result<bool, StoreError> {
        let mut set = vec!["#status = :status", "attempts = :attempts"];
        let mut remove = Vec::new();
        let mut req = self
            .db
            .update_item()
            .table_name(&self.table)
            .set_key(Some(delivery_key(&after.webhook_id, &after.event_id)))
            .condition_expression("attempts = :seen")
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(":seen", n(before.attempts))
            .expression_attribute_values(":status", s(after.status.as_str()))
            .expression_attribute_values(":attempts", n(after.attempts));
        match after.last_response_code {
            Some(code) => {
                set.push("last_response_code = :code");
                req = req.expression_attribute_values(":code", n(code));
            }
            None => remove.push("last_response_code"),
        }
        match &after.last_error {
            Some(e) => {
                set.push("last_error = :err");
                req = req.expression_attribute_values(":err", s(e.clone()));
            }
            None => remove.push("last_error"),
        }
        if let Some(at) = after.last_attempt_at {
            set.push("last_attempt_at = :last");
            req = req.expression_attribute_values(":last", s(rfc3339(at)));
        }
        match after.next_attempt_at {
            Some(at) => {
                set.extend(["next_attempt_at = :next", "gsi1pk = :due", "gsi1sk = :dk"]);
                req = req
                    .expression_attribute_values(":next", s(rfc3339(at)))
                    .expression_attribute_values(":due", s(DUE))
                    .expression_attribute_values(":dk", s(due_key(at, &after.webhook_id, &after.event_id)));
            }
            None => remove.extend(["next_attempt_at", "gsi1pk", "gsi1sk"]),
        }
        let mut expression = format!("SET {}", set.join(", "));
        if !remove.is_empty() {
            expression.push_str(&format!(" REMOVE {}", remove.join(", ")));
        }
        match req.update_expression(expression).send().await.map_err(store_error) {
            Ok(_) => Ok(true),
            Err(StoreError::ConditionFailed) => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// Deliveries due by `now`, earliest first: one query of the sparse due list (which projects the
    /// whole item, body included). The index is eventually consistent: [`Store::record_attempt`]'s
    /// condition keeps a delivery read twice from being counted twice.
    pub async fn due_deliveries(&self, now: DateTime<Utc>, limit: i32) -> Result<Vec<Delivery>, StoreError> {
        let out = self
            .list(DUE)
            .key_condition_expression("gsi1pk = :list AND gsi1sk <= :now")
            .expression_attribute_values(":now", s(format!("{}#~", rfc3339(now))))
            .limit(limit)
            .send()
            .await
            .map_err(store_error)?;
        out.items().iter().map(delivery_of).collect()
    }

    /// One page of an endpoint's delivery log, newest event first: one query.
    pub async fn deliveries(&self, hook: &WebhookId, page: &PageRequest) -> Result<Page<Delivery>, ApiError> {
        let scope = format!("webhook-deliveries:{hook}");
        let out = self
            .db
            .query()
            .table_name(&self.table)
            .key_condition_expression("pk = :pk AND begins_with(sk, :prefix)")
            .expression_attribute_values(":pk", s(deliveries_partition(hook)))
            .expression_attribute_values(":prefix", s("DELIVERY#"))
            .scan_index_forward(false)
            .limit(page.limit)
            .set_exclusive_start_key(self.start_key(&scope, page).await?)
            .send()
            .await
            .map_err(store_error)?;
        let items = out.items().iter().map(delivery_of).collect::<Result<Vec<_>, _>>()?;
        Ok(Page { items, next_cursor: self.next_cursor(&scope, out.last_evaluated_key.as_ref()).await? })
    }
}
