//! Prospect reads: one person, the pool page by page, many people's records in a batch, and the
//! changed flag the nurture task follows.
use super::{pending_attributes, prospect_of, Pending, PoolRecord, ProspectFilter, CHANGED, POOL};
use crate::email::EmailHash;
use crate::error::{ApiError, StoreError};
use crate::prospect::Prospect;
use crate::store::tx::Item;
use crate::store::{key, s, store_error, text, Page, PageRequest, Store};
use std::collections::HashMap;

impl Store {
    pub async fn prospect(&self, h: &EmailHash) -> Result<Option<Prospect>, StoreError> {
        self.get(format!("EMAIL#{h}"), "PROSPECT").await?.as_ref().map(prospect_of).transpose()
    }

    /// A prospect to edit, with what their record holds pending (a whole rewrite carries it): one read.
    pub async fn prospect_to_edit(&self, h: &EmailHash) -> Result<Option<(Prospect, Pending)>, StoreError> {
        let Some(item) = self.prospect_by_email_hash(h).await? else { return Ok(None) };
        Ok(Some((prospect_of(&item)?, pending_attributes(Some(&item)))))
    }

    /// The CRM record for an email, if any (origins and status), for tests and the CRM.
    pub async fn prospect_by_email_hash(&self, email_hash: &EmailHash) -> Result<Option<Item>, StoreError> {
        self.get(format!("EMAIL#{email_hash}"), "PROSPECT").await
    }

    /// One page of the pool, newest key first, narrowed by the filter: one query a page over the pool's
    /// index (filters are applied by DynamoDB to that page, so a page may hold fewer than `limit`).
    pub async fn list_prospects(&self, f: &ProspectFilter, page: &PageRequest) -> Result<Page<Prospect>, ApiError> {
        let scope = format!("prospects|{:?}|{:?}|{:?}|{:?}", f.origin, f.credential, f.tag, f.status);
        let mut req = self
            .db
            .query()
            .table_name(&self.table)
            .index_name("GSI2")
            .key_condition_expression("gsi2pk = :pool")
            .expression_attribute_values(":pool", s(POOL))
            .limit(page.limit)
            .set_exclusive_start_key(self.start_key(&scope, page).await?);
        let mut conditions = Vec::new();
        if let Some(o) = f.origin {
            conditions.push("contains(origins, :origin)");
            req = req.expression_attribute_values(":origin", s(o.as_str()));
        }
        if let Some(c) = &f.credential {
            conditions.push("contains(credential_types, :credential)");
            req = req.expression_attribute_values(":credential", s(c));
        }
        if let Some(t) = &f.tag {
            conditions.push("contains(tags, :tag)");
            req = req.expression_attribute_values(":tag", s(t.to_lowercase()));
        }
        if let Some(st) = f.status {
            conditions.push("#status = :status");
            req = req
                .expression_attribute_names("#status", "status")
                .expression_attribute_values(":status", s(st.as_str()));
        }
        if !conditions.is_empty() {
            req = req.filter_expression(conditions.join(" AND "));
        }
        let out = req.send().await.map_err(store_error)?;
        let items = out.items().iter().map(prospect_of).collect::<Result<Vec<_>, _>>()?;
        Ok(Page { items, next_cursor: self.next_cursor(&scope, out.last_evaluated_key()).await? })
    }

    /// Prospects, suppression reasons and the consents nurture needs, of many people: one
    /// BatchGetItem per 25 people.
    pub async fn pool_records(&self, hashes: &[EmailHash]) -> Result<HashMap<EmailHash, PoolRecord>, StoreError> {
        let mut out: HashMap<EmailHash, PoolRecord> =
            hashes.iter().map(|h| (h.clone(), PoolRecord::default())).collect();
        let mut unique: Vec<&EmailHash> = hashes.iter().collect();
        unique.sort();
        unique.dedup();
        for chunk in unique.chunks(25) {
            let keys: Vec<Item> = chunk
                .iter()
                .flat_map(|h| {
                    ["PROSPECT", "SUPPRESS", "CONSENT#talent_pool", "CONSENT#marketing_email"]
                        .map(|sk| key(format!("EMAIL#{h}"), sk))
                })
                .collect();
            for item in self.batch_get(keys).await? {
                let Some(h) = text(&item, "pk").and_then(|p| p.strip_prefix("EMAIL#")?.parse::<EmailHash>().ok())
                else {
                    continue;
                };
                let entry = out.entry(h).or_default();
                match text(&item, "sk").as_deref() {
                    Some("PROSPECT") => entry.prospect = Some((prospect_of(&item)?, pending_attributes(Some(&item)))),
                    Some("SUPPRESS") => entry.suppressed = crate::store::reason_of(&item)?,
                    Some(_) => entry.consents.extend(crate::store::consents::consent_of(&item)),
                    None => {}
                }
            }
        }
        Ok(out)
    }

    /// A page of the whole pool in key order after `after` (the activation sweep): one query.
    pub async fn pool_page(&self, after: &str, limit: i32) -> Result<(Vec<Prospect>, Option<String>), StoreError> {
        let mut req = self
            .db
            .query()
            .table_name(&self.table)
            .index_name("GSI2")
            .key_condition_expression("gsi2pk = :pool AND gsi2sk > :after")
            .expression_attribute_values(":pool", s(POOL))
            .expression_attribute_values(":after", s(after))
            .limit(limit);
        if after.is_empty() {
            req = req
                .key_condition_expression("gsi2pk = :pool")
                .set_expression_attribute_values(Some(HashMap::from([(":pool".to_string(), s(POOL))])));
        }
        let out = req.send().await.map_err(store_error)?;
        let items = out.items().iter().map(prospect_of).collect::<Result<Vec<_>, _>>()?;
        let last = out.last_evaluated_key().and_then(|k| k.get("gsi2sk")).and_then(|v| v.as_s().ok()).cloned();
        Ok((items, last))
    }

    /// Prospects flagged changed since the nurture task last looked: one query.
    pub async fn changed_prospects(&self, limit: i32) -> Result<Vec<(Prospect, String)>, StoreError> {
        let out = self.list(CHANGED).limit(limit).send().await.map_err(store_error)?;
        out.items().iter().map(|i| Ok((prospect_of(i)?, text(i, "gsi1sk").unwrap_or_default()))).collect()
    }
}
