//! The DynamoDB adapter. One table, keys designed from the access patterns below; every operation
//! has a round-trip budget that the integration tests assert with [`crate::aws::count_calls`].
//!
//! | access pattern                         | key / index                                      | calls |
//! |----------------------------------------|--------------------------------------------------|-------|
//! | create a job                           | TransactWriteItems: Put `JOB#<id> / JOB` if absent, its stage list `STATS#JOB#<id>/FUNNEL#~STAGES` | 1 write transaction |
//! | read a job                             | Get `JOB#<id> / JOB`                             | 1 read |
//! | edit / publish / close a job           | Get, then TransactWriteItems: Put if `version` is unchanged, its stage list, its event (and the feeds mark) | 1 read + 1 write transaction |
//! | jobs by status, newest first           | GSI1 `gsi1pk=JOBS#<status>`, `gsi1sk=<id>`       | 1 query a page |
//! | all jobs, newest first                 | GSI2 `gsi2pk=JOBS`, `gsi2sk=<id>`                | 1 query a page |
//! | open jobs on the career site, filtered | GSI1 `JOBS#open` + filter on department/country/workplace | 1 query a page |
//! | a hiring manager's jobs                | same query + filter `contains(team, sub)`        | 1 query a page |
//! | apply: job, candidate by email, earlier application, prospect, suppression, idempotency key, draft | BatchGet `JOB#<job>/JOB`, `EMAIL#<h>/CANDIDATE`, `EMAIL#<h>/APPLIED#<job>`, `EMAIL#<h>/PROSPECT`, `EMAIL#<h>/SUPPRESS`, `IDEM#<k>/IDEM`, `DRAFT#<d>/DRAFT` | 1 read |
//! | apply: candidate + email lock (if new), (email, job) lock, application, send claim, idempotency key, draft completion, counters | TransactWriteItems | 1 write transaction |
//! | record an email's SES message id       | Update `<owner>/SEND#<kind>`                     | 1 write |
//! | applications of a job                  | GSI1 `JOBAPPS#<job>`, `<application id>`         | 1 query a page |
//! | applications of a candidate            | GSI2 `CANDAPPS#<candidate>`, `<application id>`  | 1 query a page |
//! | start a draft (+ funnel `started`)     | TransactWriteItems: Put `DRAFT#<id>/DRAFT`, Update counter | 1 read (job) + 1 write transaction |
//! | stale open drafts, oldest first        | GSI1 `DRAFTS#open`, `gsi1sk < <cutoff>` (sparse: moved to `DRAFTS#closed` when submitted or abandoned) | 1 query a page |
//! | retention: closed drafts past the cutoff | GSI1 `DRAFTS#closed`, `gsi1sk < <cutoff>` | 1 query a page |
//! | imports still running, oldest first    | GSI1 `IMPORTS#running` (sparse: removed when done) | 1 query |
//! | consent emails an import left to send  | GSI1 `ASKS#import` (one item per person, deleted when sent) | 1 query a page |
//! | abandon a draft (+ `dropped`)          | TransactWriteItems, conditional on `status = open`; a tick: the opt-in (as a sign-up) | 1 write transaction a draft |
//! | prospect by email                      | `EMAIL#<h>/PROSPECT`                             | 1 read |
//! | sign up / confirm (double opt-in)      | Update prospect, conditional Put `EMAIL#<h>/SEND#optin`; confirm: Get + TransactWriteItems | 2 writes; 1 read + 1 write transaction |
//! | suppression (unsubscribe, bounce)      | `EMAIL#<h>/SUPPRESS`                             | 1 read / 1 write |
//! | rate-limit window                      | Update `RATE#<h>/W#<minute>` ADD hits if below the limit | 1 write |
//! | an application with its job and candidate | Get `APP#<id>/APP`, then BatchGet `JOB#<job>/JOB`, `CAND#<cand>/CAND` and the two exact-duration items (stage, to hire) of the counter shard its next move adds to | 1 read + 1 batch read |
//! | move an application                    | TransactWriteItems: Put `APP#<id>/APP` if `version` unchanged, stage-entered, hire and time-in-stage counters, silver-medalist prospect, retention mark | 1 write transaction (+ the audit entry) |
//! | an application's interviews and feedback | Query `APP#<id>`, `sk` begins with `INT#` | 1 query |
//! | schedule an interview                  | TransactWriteItems: `APP#<id>/INT#<iid>` and the pointer `INTERVIEW#<iid>/INTERVIEW` | 1 write transaction |
//! | give feedback                          | Get the pointer, Get the job (scope), TransactWriteItems: Put `APP#<id>/INT#<iid>#FB#<sub>`, its event | 2 reads + 1 write transaction |
//! | store many jobs (seed, import)         | BatchWriteItem of each job and its stage list, 25 items a call | 2n/25 writes |
//! | feeds state: changes marked, last build | `FEEDS/STATE`: `ADD generation` in the job's write transaction; Get; Update after a build | 1 read + 1 write a build |
//! | sources report                         | Query `STATS#JOB#<job>` or `STATS#ALL`, `sk` between `DAY#<from>` and `DAY#<to>#~` (every shard), summed by day, channel and source; spend: `SPEND#<month>…` in `STATS#ALL` | 1 query (+1 for spend) |
//! | funnel                                 | Query `STATS#JOB#<job>`, `sk` between `FUNNEL#<from>` and `FUNNEL#~STAGES`: each day's started, submitted, dropped and stage entries (every shard), then the job's stage list; nothing is counted after today, so for a range to today that is the range. A range ending earlier: between `FUNNEL#<from>` and `FUNNEL#<to>#~`, with a Get of the stage list. A hiring manager's also reads the job (its team) | 1 query (+1 read for a range ending before today, +1 for a hiring manager) |
//! | time in stage                          | Query `TIS#` of the job's partition (histograms, and exact samples while a shard's are under 100), summed per stage | 1 query |
//! | record spend                           | TransactWriteItems: `STATS#ALL/SPEND#<month>#<channel>#<source>` and a history item | 1 write transaction |
//! | the pool, filtered                      | GSI2 `gsi2pk=PROSPECTS`, `gsi2sk=<h>` + filter on origins, credential types, tags, status | 1 query a page |
//! | create / edit a prospect, an import row | Put `EMAIL#<h>/PROSPECT` (if absent / if `updated_at` unchanged); import reads 50 people a BatchGet | 1 write; 1 batch read per 50 rows |
//! | changed prospects (always-on enrolment) | GSI1 `PROSPECTS#changed` (sparse: set by every prospect write, cleared once enrolled) | 1 query a page + 1 write each |
//! | stories, campaigns                     | Query `CONTENT`, `STORY#…`; Query `CAMPAIGNS`, `CAMPAIGN#…` | 1 query |
//! | enrol                                  | TransactWriteItems: Put `EMAIL#<h>/ENROL#<c>` if absent, campaign counter | 1 write transaction |
//! | due nurture sends                      | GSI1 `NURTURE#due`, `gsi1sk <= <now>`, each page from where the last ended (sparse: removed when an enrolment ends); BatchGet prospects + suppressions | 1 query a page + 1 batch read per 25 people |
//! | one nurture email                      | Put `EMAIL#<h>/SENT#<c>#<step>` if absent (claim); after SES, TransactWriteItems: ledger, enrolment's next step, prospect's sends, campaign counters | 2 writes |
//! | campaign report                        | Query `STATS#CAMPAIGN#<c>`, `sk` begins with `TOTALS` (every shard), summed | 1 query |
//! | audit entry (pipeline, pool routes)    | Put `AUDIT#<date>/<time>#<ulid>`, before the route runs; a move's in its transaction (a refused move's on its own) | 1 write, a move's none of its own |
//! | a person's holdings (export, erasure)  | Query `EMAIL#<h>`; GSI2 `CANDAPPS#<cand>` then Query each `APP#<id>`; GSI2 `DRAFTS#<h>` | 1 query per partition |
//! | erase                                  | Put `TOMB#<h>` and `TOMB#<cand>` if absent (GSI1 `ERASURES#open` until done), BatchWrite deletes 25 a call, Update `EMAIL#<h>/SUPPRESS` | n/25 + 4 writes |
//! | retention: stalest people              | GSI1 `RETAIN`, `gsi1sk < <cutoff>` (`EMAIL#<h>/RETAIN` put in each application's and move's transaction) | 1 query a page |
//! | outbox events                          | Put `EVENT#<id>/EVENT` (type, at, data, a week's TTL) if absent, in the transaction of the change: an application, a move, an interview, feedback, a job saved | no call of its own |
//! | an event's consumer claims it          | Put `EVENT#<id>/DONE#<consumer>` if absent (a week's TTL; the stream's filter passes only `sk = EVENT`); Delete when the consumer failed before acting | 1 write (+1 to give it back) |
//! | the events function's notifications     | confirmation: BatchGet `JOB#`, `CAND#`; Get `EMAIL#<h>/SUPPRESS`; consent request: Get `EMAIL#<h>/PROSPECT` (the pending request) and the suppression | 2 reads, SES, 1 write |
//! | webhook endpoints: create, read, list   | Put `WEBHOOKS/HOOK#<id>` if absent (fields and secrets as attributes); Get; Query `WEBHOOKS`, `sk` begins with `HOOK#` | 1 write; 1 read; 1 query |
//! | edit, rotate, delete an endpoint       | Update `WEBHOOKS/HOOK#<id>` if it exists (a rotation moves `secret` to `previous_secret` within the item); Delete if it exists | 1 write |
//! | fan an event out to endpoints          | Query `WEBHOOKS`; for each subscribed endpoint Put `HOOK#<id>/DELIVERY#<event>` if absent (in GSI1 `WEBHOOKS#due` at once), POST, Update the delivery with the outcome (+1 Update of the endpoint when its failing streak starts or ends) | 1 query + 2 writes an endpoint |
//! | due webhook deliveries                 | GSI1 `WEBHOOKS#due`, `gsi1sk <= <now>` (sparse: removed when delivered or failed); Query `WEBHOOKS` once a run when any is due; Update each if `attempts` unchanged | 1 query a page + 1 query + 1 write a delivery |
//! | an endpoint's delivery log, newest first | Query `HOOK#<id>`, `sk` begins with `DELIVERY#`, backwards | 1 query a page |
//! | report counters                        | `STATS#JOB#<job>` and `STATS#ALL`: `DAY#<date>#<channel>#<source>` (applicants, hires), `FUNNEL#<date>` (started, submitted, dropped), `FUNNEL#<date>#STAGE#<stage>` (entered) beside each job's stage list `FUNNEL#~STAGES` (no counter: written with the job), `TIS#<stage>` and `TIS#<stage>#exact` (time in stage), `EEO#<question>#<answer>`; `STATS#CAMPAIGN#<c>/TOTALS`. Each spread over `COUNTER_SHARDS` items: shard 0 is the key as written here, shard `k` adds `#<k>`; one shard per transaction, chosen by a hash of what the write is (the application and its version, the draft, the send) | written in the event's transaction; read as one range, shards summed |
//!
//! `<h>` is a keyed hash (HMAC) of the normalised email: people are found by email without the
//! address sitting in any key. Nothing scans. Filters may return short pages; `next_cursor` is then
//! still set and the client follows it.

// One file per kind of item kept, each with the reads and writes of that kind and the transaction
// parts other writes add to it (a new application adds to counters, drafts, prospects, ...).
mod applications;
mod audit;
mod campaigns;
mod candidates;
mod consents;
mod counters;
mod drafts;
mod enrolments;
mod erasure;
mod events;
mod funnel;
mod holdings;
mod imports;
mod interviews;
mod jobs;
mod prospects;
mod rate_limits;
mod retention;
pub mod schema;
mod sends;
mod shards;
mod signups;
mod spend;
mod stories;
mod suppression;
pub mod tx;
mod webhooks;

pub use applications::{ApplicationContext, ApplicationLookup, MovedApplication, NewApplication, NotCreated};
pub use audit::AuditEntry;
pub use consents::consent_of;
pub use counters::{ExactSamples, EXACT_SAMPLES};
pub use drafts::draft_of;
pub use enrolments::{DueCursor, Enrolment};
pub use erasure::Tombstone;
pub use events::from_image as event_from_image;
pub use funnel::{Funnel, FunnelCounts};
pub use holdings::{Holdings, PersonKeys};
pub use imports::{ImportRun, ImportStatus, NewImported, MAX_KEPT_ERRORS};
pub use jobs::{FeedState, JobFilter};
pub use prospects::{pool_marks, prospect_of, KeepInTouch, PoolRecord, ProspectFilter};
pub use sends::{Claim, Ledger, Outcome, SentNurture};
pub use signups::{Confirmed, PendingRequest};

use crate::clock::SharedClock;
use crate::error::{ApiError, StoreError};
use crate::keys::LazyKeys;
use aws_sdk_dynamodb::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::operation::query::builders::QueryFluentBuilder;
use aws_sdk_dynamodb::operation::query::QueryOutput;
use aws_sdk_dynamodb::types::{AttributeValue, KeysAndAttributes};
use chrono::{DateTime, Utc};
use std::collections::{BTreeMap, HashMap};
use tx::Item;

#[derive(Clone)]
pub struct Store {
    pub(crate) db: aws_sdk_dynamodb::Client,
    pub(crate) table: String,
    /// Cursors are signed: the store awaits the keys only to page.
    keys: LazyKeys,
    clock: SharedClock,
    /// How many shards each hot report counter is spread over (`COUNTER_SHARDS`; see `shards`).
    shards: u32,
}

/// One page of a list, as the API returns it.
#[derive(Debug, serde::Serialize)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub next_cursor: Option<String>,
}

/// A page request parsed from `?limit=&cursor=`.
#[derive(Debug, Clone)]
pub struct PageRequest {
    pub limit: i32,
    pub cursor: Option<String>,
}

impl Store {
    pub fn new(db: aws_sdk_dynamodb::Client, table: impl Into<String>, keys: LazyKeys, clock: SharedClock) -> Self {
        Self { db, table: table.into(), keys, clock, shards: 1 }
    }

    /// The same store, writing its hot report counters over `shards` shards (1 to 64; 1 writes each
    /// counter's one unsharded item). Readers sum every shard whatever this is.
    pub fn with_counter_shards(mut self, shards: u32) -> Self {
        self.shards = shards.clamp(1, shards::MAX_SHARDS);
        self
    }

    pub fn clock(&self) -> &SharedClock {
        &self.clock
    }

    async fn start_key(
        &self,
        scope: &str,
        page: &PageRequest,
    ) -> Result<Option<HashMap<String, AttributeValue>>, ApiError> {
        let Some(cursor) = &page.cursor else {
            return Ok(None);
        };
        let key: BTreeMap<String, String> = self.keys.get().await?.cursors.decode(scope, cursor)?;
        Ok(Some(key.into_iter().map(|(k, v)| (k, AttributeValue::S(v))).collect()))
    }

    async fn next_cursor(
        &self,
        scope: &str,
        last: Option<&HashMap<String, AttributeValue>>,
    ) -> Result<Option<String>, ApiError> {
        let Some(last) = last else { return Ok(None) };
        // Every key attribute of the table and its indexes is a string.
        let key: BTreeMap<String, String> =
            last.iter().filter_map(|(k, v)| v.as_s().ok().map(|s| (k.clone(), s.clone()))).collect();
        Ok(Some(self.keys.get().await?.cursors.encode(scope, &key)))
    }
}

/// Maps an SDK failure: a lost condition is the caller's conflict, anything else is unavailability.
fn store_error<E, R>(err: SdkError<E, R>) -> StoreError
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug + crate::aws::HttpStatus,
{
    if err.code() == Some("ConditionalCheckFailedException") {
        return StoreError::ConditionFailed;
    }
    StoreError::Unavailable(crate::aws::code(&err))
}

/// A table key.
fn key(pk: impl Into<String>, sk: impl Into<String>) -> HashMap<String, AttributeValue> {
    HashMap::from([("pk".to_string(), s(pk)), ("sk".to_string(), s(sk))])
}

/// Items that keep their record as a JSON document in `doc`.
fn doc<T: serde::de::DeserializeOwned>(item: &HashMap<String, AttributeValue>) -> Result<T, StoreError> {
    let raw =
        item.get("doc").and_then(|v| v.as_s().ok()).ok_or_else(|| StoreError::Corrupt("item without doc".into()))?;
    serde_json::from_str(raw).map_err(|e| StoreError::Corrupt(crate::error::json_error(&e)))
}

fn to_doc<T: serde::Serialize>(v: &T) -> Result<AttributeValue, StoreError> {
    serde_json::to_string(v).map(s).map_err(|e| StoreError::Corrupt(e.to_string()))
}

impl Store {
    /// Puts an item unless one with its key exists (a claim, a first-time record): one conditional
    /// write. `Ok(false)`: it existed.
    async fn put_new(&self, item: Item) -> Result<bool, StoreError> {
        self.put_when(item, "attribute_not_exists(pk)", vec![]).await
    }

    /// Puts an item if `condition` (with its `values`) holds: one conditional write. `Ok(false)`: it
    /// did not, and nothing was written.
    async fn put_when(
        &self,
        item: Item,
        condition: &str,
        values: Vec<(&str, AttributeValue)>,
    ) -> Result<bool, StoreError> {
        let mut req = self.db.put_item().table_name(&self.table).set_item(Some(item)).condition_expression(condition);
        for (ph, v) in values {
            req = req.expression_attribute_values(ph, v);
        }
        match req.send().await.map_err(store_error) {
            Ok(_) => Ok(true),
            Err(StoreError::ConditionFailed) => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// Updates one item as `c` says, if its condition holds: one conditional write. `Ok(false)`: it
    /// did not, and nothing was written.
    async fn update_when(&self, c: tx::Change<'_>) -> Result<bool, StoreError> {
        let mut req = self
            .db
            .update_item()
            .table_name(&self.table)
            .set_key(Some(c.key))
            .update_expression(c.expression)
            .set_condition_expression(c.condition.map(str::to_string));
        for (ph, name) in c.names {
            req = req.expression_attribute_names(*ph, *name);
        }
        for (ph, value) in c.values {
            req = req.expression_attribute_values(ph, value);
        }
        match req.send().await.map_err(store_error) {
            Ok(_) => Ok(true),
            Err(StoreError::ConditionFailed) => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// Writes (puts or deletes) 25 to a `BatchWriteItem`, sending again what DynamoDB leaves
    /// unprocessed under throttling, with a growing pause; fails if some are still left.
    async fn batch_write(&self, requests: Vec<aws_sdk_dynamodb::types::WriteRequest>) -> Result<(), StoreError> {
        for chunk in requests.chunks(25) {
            let mut pending = chunk.to_vec();
            for attempt in 0..8 {
                let out =
                    self.db.batch_write_item().request_items(&self.table, pending).send().await.map_err(store_error)?;
                pending = out.unprocessed_items.and_then(|mut u| u.remove(&self.table)).unwrap_or_default();
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

    /// A put request of a batch write.
    fn put_request(item: HashMap<String, AttributeValue>) -> Result<aws_sdk_dynamodb::types::WriteRequest, StoreError> {
        let put = aws_sdk_dynamodb::types::PutRequest::builder()
            .set_item(Some(item))
            .build()
            .map_err(|e| StoreError::Corrupt(e.to_string()))?;
        Ok(aws_sdk_dynamodb::types::WriteRequest::builder().put_request(put).build())
    }

    /// Every item of one partition whose sort key starts with `prefix` (`""`: all), in key order,
    /// strongly consistent: one query a page (1 MB).
    async fn with_prefix(&self, pk: &str, prefix: &str) -> Result<Vec<Item>, StoreError> {
        let req =
            self.db.query().table_name(&self.table).expression_attribute_values(":pk", s(pk)).consistent_read(true);
        // An empty prefix is the whole partition (a key condition may not compare with "").
        let req = if prefix.is_empty() {
            req.key_condition_expression("pk = :pk")
        } else {
            req.key_condition_expression("pk = :pk AND begins_with(sk, :prefix)")
                .expression_attribute_values(":prefix", s(prefix))
        };
        self.all_items(req).await
    }

    /// Items of one partition whose sort key lies in `[from, to]`; returns them and the queries made.
    async fn range(&self, pk: &str, from: &str, to: &str) -> Result<(Vec<Item>, usize), StoreError> {
        let req = self
            .db
            .query()
            .table_name(&self.table)
            .key_condition_expression("pk = :pk AND sk BETWEEN :from AND :to")
            .expression_attribute_values(":pk", s(pk))
            .expression_attribute_values(":from", s(from))
            .expression_attribute_values(":to", s(to));
        let pages = self.pages(req).await?;
        let queries = pages.len();
        Ok((pages.into_iter().flat_map(|p| p.items.unwrap_or_default()).collect(), queries))
    }

    /// Every item of one index partition (keys and what the index projects).
    async fn index_items(&self, index: &str, attr: &str, value: &str) -> Result<Vec<Item>, StoreError> {
        let req = self
            .db
            .query()
            .table_name(&self.table)
            .index_name(index)
            .key_condition_expression("#k = :v")
            .expression_attribute_names("#k", attr)
            .expression_attribute_values(":v", s(value));
        self.all_items(req).await
    }

    /// The items of every page of a query, in order.
    async fn all_items(&self, req: QueryFluentBuilder) -> Result<Vec<Item>, StoreError> {
        Ok(self.pages(req).await?.into_iter().flat_map(|p| p.items.unwrap_or_default()).collect())
    }

    /// Every page of a query, following `LastEvaluatedKey`: one call a page.
    async fn pages(&self, req: QueryFluentBuilder) -> Result<Vec<QueryOutput>, StoreError> {
        let mut out = Vec::new();
        let mut start = None;
        loop {
            let page = req.clone().set_exclusive_start_key(start).send().await.map_err(store_error)?;
            start = page.last_evaluated_key.clone();
            out.push(page);
            if start.is_none() {
                return Ok(out);
            }
        }
    }

    /// A query of one GSI1 list (the items whose `gsi1pk` is `list`: many are sparse), in `gsi1sk`
    /// order; the caller sets the limit and sends it.
    fn list(&self, list: &str) -> QueryFluentBuilder {
        self.db
            .query()
            .table_name(&self.table)
            .index_name("GSI1")
            .key_condition_expression("gsi1pk = :list")
            .expression_attribute_values(":list", s(list))
    }

    /// The part of a GSI1 list whose `gsi1sk` (a time first) is before `cutoff`.
    fn list_before(&self, list: &str, cutoff: DateTime<Utc>) -> QueryFluentBuilder {
        self.list(list)
            .key_condition_expression("gsi1pk = :list AND gsi1sk < :cutoff")
            .expression_attribute_values(":cutoff", s(crate::clock::rfc3339(cutoff)))
    }

    /// Many items by key, strongly consistent: one `BatchGetItem` (up to 100 keys).
    async fn batch_get(&self, keys: Vec<Item>) -> Result<Vec<Item>, StoreError> {
        let mut pending = Some(
            KeysAndAttributes::builder()
                .set_keys(Some(keys))
                .consistent_read(true)
                .build()
                .map_err(|e| StoreError::Corrupt(e.to_string()))?,
        );
        let mut items = Vec::new();
        // Unprocessed keys come back only under throttling; the SDK has already backed off.
        for _ in 0..5 {
            let Some(req) = pending.take() else { break };
            let out = self.db.batch_get_item().request_items(&self.table, req).send().await.map_err(store_error)?;
            if let Some(mut got) = out.responses {
                items.extend(got.remove(&self.table).unwrap_or_default());
            }
            pending = out.unprocessed_keys.and_then(|mut u| u.remove(&self.table)).filter(|k| !k.keys.is_empty());
        }
        if pending.is_some() {
            return Err(StoreError::Unavailable("batch get left keys unprocessed".into()));
        }
        Ok(items)
    }

    /// Deletes one item (nothing if there is none): one write.
    async fn delete(&self, key: Item) -> Result<(), StoreError> {
        self.db.delete_item().table_name(&self.table).set_key(Some(key)).send().await.map_err(store_error)?;
        Ok(())
    }

    /// One strongly consistent read of one item.
    async fn get(&self, pk: impl Into<String>, sk: impl Into<String>) -> Result<Option<Item>, StoreError> {
        let out = self
            .db
            .get_item()
            .table_name(&self.table)
            .set_key(Some(key(pk, sk)))
            .consistent_read(true)
            .send()
            .await
            .map_err(store_error)?;
        Ok(out.item)
    }
}

fn s(v: impl Into<String>) -> AttributeValue {
    AttributeValue::S(v.into())
}

fn n(v: impl ToString) -> AttributeValue {
    AttributeValue::N(v.to_string())
}

/// A string attribute.
/// A suppression item's reason. One this code does not know is an error, never a permission to mail.
fn reason_of(item: &Item) -> Result<Option<crate::prospect::SuppressionReason>, StoreError> {
    text(item, "reason")
        .map(|r| r.parse().map_err(|_| StoreError::Corrupt(format!("suppression reason {r:?}"))))
        .transpose()
}

fn text(item: &Item, k: &str) -> Option<String> {
    item.get(k).and_then(|v| v.as_s().ok()).cloned()
}

/// A number attribute; 0 when absent.
fn num(item: &Item, k: &str) -> u64 {
    item.get(k).and_then(|v| v.as_n().ok()).and_then(|n| n.parse().ok()).unwrap_or(0)
}

/// An RFC 3339 time attribute.
fn time(item: &Item, k: &str) -> Option<DateTime<Utc>> {
    text(item, k).and_then(|t| DateTime::parse_from_rfc3339(&t).ok()).map(|t| t.with_timezone(&Utc))
}
