//! What Lambda's event source mapping does with the table's DynamoDB Stream, done locally: read the
//! stream from the emulator (moto serves DynamoDB Streams on its one port), drop the records the
//! template's filters do not pass, invoke the function with Lambda's batch shape, and follow its answer
//! as Lambda does: a batch whose answer names failed records is retried from the first of them (every
//! record before it counts as done), up to the mapping's `MaximumRetryAttempts`; then the batch is
//! described to the on-failure destination and the stream moves on.
use crate::eventbridge::Pattern;
use crate::sam::StreamSource;
use anyhow::{bail, Context as _};
use rapport::api::AppState;
use serde::Serialize;
use serde_json::{json, Value};
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use tokio::sync::Mutex;

/// The function a stream feeds: a batch in, its answer out.
pub type Handler = Arc<dyn Fn(AppState, Value) -> Pin<Box<dyn Future<Output = Value> + Send>> + Send + Sync>;

/// One mapping from the table's stream to a function.
pub struct StreamMapping {
    http: reqwest::Client,
    moto_url: String,
    table: String,
    source: StreamSource,
    filters: Vec<Pattern>,
    state: AppState,
    handler: Handler,
    /// The last sequence number done (the mapping's checkpoint); the lock also runs one poll at a time,
    /// as Lambda runs one batch per shard at a time.
    checkpoint: Mutex<Option<String>>,
}

/// What one poll did.
#[derive(Debug, Default, Serialize)]
pub struct Poll {
    /// Records read from the stream, and of those the ones the filters passed.
    pub read: usize,
    pub passed: usize,
    /// Each invocation: how many records it carried and the sequence numbers it reported failed.
    pub invocations: Vec<Invocation>,
    /// What went to the on-failure destination: Lambda's description of each batch given up on.
    pub on_failure: Vec<Value>,
}

#[derive(Debug, Serialize)]
pub struct Invocation {
    pub records: usize,
    pub failed: Vec<String>,
    /// How long the function took on the batch (for `make bench`; nothing asserts it).
    pub millis: f64,
}

impl StreamMapping {
    pub fn new(
        moto_url: &str,
        table: &str,
        source: StreamSource,
        state: AppState,
        handler: Handler,
    ) -> anyhow::Result<Self> {
        let filters = source.filters.iter().map(Pattern::parse).collect::<anyhow::Result<Vec<_>>>()?;
        anyhow::ensure!(source.batch_size > 0, "a batch size of 0");
        Ok(StreamMapping {
            http: reqwest::Client::new(),
            moto_url: moto_url.to_string(),
            table: table.to_string(),
            source,
            filters,
            state,
            handler,
            checkpoint: Mutex::new(None),
        })
    }

    /// Reads what the stream holds past the checkpoint and hands it to the function.
    pub async fn poll(&self) -> anyhow::Result<Poll> {
        let mut checkpoint = self.checkpoint.lock().await;
        let stream = self.call("DynamoDB_20120810.DescribeTable", json!({"TableName": self.table})).await?;
        let arn = stream["Table"]["LatestStreamArn"].as_str().context("the table has no stream")?.to_string();
        let described = self.call("DynamoDBStreams_20120810.DescribeStream", json!({"StreamArn": arn})).await?;
        let mut poll = Poll::default();
        for shard in described["StreamDescription"]["Shards"].as_array().map(Vec::as_slice).unwrap_or_default() {
            let records = self.read(&arn, shard["ShardId"].as_str().unwrap_or_default(), checkpoint.as_deref()).await?;
            poll.read += records.len();
            let Some(last) = records.last() else { continue };
            let last = sequence(last).to_string();
            let passed: Vec<Value> = records
                .into_iter()
                .filter(|r| self.filters.is_empty() || self.filters.iter().any(|f| f.matches(r)))
                .map(|mut r| {
                    r["eventSourceARN"] = json!(arn);
                    r
                })
                .collect();
            poll.passed += passed.len();
            for batch in passed.chunks(self.source.batch_size) {
                self.deliver(batch.to_vec(), &arn, &mut poll).await;
            }
            *checkpoint = Some(last);
        }
        Ok(poll)
    }

    /// One batch, retried from its first failed record as Lambda does.
    async fn deliver(&self, mut batch: Vec<Value>, arn: &str, poll: &mut Poll) {
        let mut retries = 0;
        loop {
            let started = std::time::Instant::now();
            let answer = (self.handler)(self.state.clone(), json!({"Records": batch})).await;
            let millis = started.elapsed().as_secs_f64() * 1000.0;
            let failed: Vec<String> = if self.source.report_batch_item_failures {
                answer["batchItemFailures"]
                    .as_array()
                    .map(Vec::as_slice)
                    .unwrap_or_default()
                    .iter()
                    .filter_map(|f| f["itemIdentifier"].as_str().map(str::to_string))
                    .collect()
            } else {
                Vec::new()
            };
            poll.invocations.push(Invocation { records: batch.len(), failed: failed.clone(), millis });
            // The lowest failed sequence number is the checkpoint; one not in the batch fails it all.
            let first = failed.iter().map(|seq| batch.iter().position(|r| sequence(r) == seq).unwrap_or(0)).min();
            let Some(first) = first else { return };
            batch.drain(..first);
            if self.source.maximum_retry_attempts >= 0 && retries >= self.source.maximum_retry_attempts {
                poll.on_failure.push(json!({
                    "requestContext": {"condition": "RetryAttemptsExhausted", "approximateInvokeCount": retries + 1},
                    "DDBStreamBatchInfo": {
                        "batchSize": batch.len(),
                        "startSequenceNumber": batch.first().map(sequence),
                        "endSequenceNumber": batch.last().map(sequence),
                        "streamArn": arn,
                    },
                    "destination": self.source.on_failure,
                }));
                tracing::warn!(records = batch.len(), "a stream batch was given up on after its retries");
                return;
            }
            retries += 1;
        }
    }

    /// Every record of a shard after `after` (from its start when `None`).
    async fn read(&self, arn: &str, shard: &str, after: Option<&str>) -> anyhow::Result<Vec<Value>> {
        let mut request = json!({"StreamArn": arn, "ShardId": shard, "ShardIteratorType": "TRIM_HORIZON"});
        if let Some(seq) = after {
            request["ShardIteratorType"] = json!("AFTER_SEQUENCE_NUMBER");
            request["SequenceNumber"] = json!(seq);
        }
        let mut iterator =
            self.call("DynamoDBStreams_20120810.GetShardIterator", request).await?["ShardIterator"].clone();
        let mut records = Vec::new();
        while let Some(it) = iterator.as_str() {
            let out =
                self.call("DynamoDBStreams_20120810.GetRecords", json!({"ShardIterator": it, "Limit": 1000})).await?;
            let page = out["Records"].as_array().cloned().unwrap_or_default();
            if page.is_empty() {
                break;
            }
            records.extend(page);
            iterator = out["NextShardIterator"].clone();
        }
        Ok(records)
    }

    /// One call of the DynamoDB or DynamoDB Streams JSON protocol (the emulator checks no signature;
    /// the credential scope tells it the service).
    async fn call(&self, target: &str, body: Value) -> anyhow::Result<Value> {
        let res = self
            .http
            .post(&self.moto_url)
            .header("X-Amz-Target", target)
            .header("Content-Type", "application/x-amz-json-1.0")
            .header(
                "Authorization",
                "AWS4-HMAC-SHA256 Credential=local/20260101/us-east-1/dynamodb/aws4_request, SignedHeaders=host, Signature=0",
            )
            .json(&body)
            .send()
            .await
            .with_context(|| format!("{target}: the emulator did not answer"))?;
        let status = res.status();
        let out: Value = res.json().await.with_context(|| format!("{target}: not JSON"))?;
        if !status.is_success() {
            bail!("{target}: {status} {out}");
        }
        Ok(out)
    }
}

fn sequence(record: &Value) -> &str {
    record["dynamodb"]["SequenceNumber"].as_str().unwrap_or_default()
}
