//! The emulator's faults (`POST /_rapport/faults`, infra/local/emulator.py) as the Rust SDK sees them:
//! each injected kind decodes as the error AWS would give, a faulted write changes nothing, a rule
//! touches only its own name prefix, its decisions follow its seed, and contention mode conflicts two
//! transactions on one item at once as DynamoDB does. Clients here never retry, so every attempt shows.
use crate::helpers::*;
use aws_sdk_dynamodb::config::http::HttpResponse;
use aws_sdk_dynamodb::config::retry::RetryConfig;
use aws_sdk_dynamodb::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::operation::put_item::PutItemError;
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{AttributeValue, Put, TransactWriteItem};
use aws_sdk_s3::primitives::ByteStream;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::time::{Duration, Instant};

/// The app's table and bucket through SDK clients without retries.
struct Direct {
    dynamo: aws_sdk_dynamodb::Client,
    s3: aws_sdk_s3::Client,
    table: String,
    bucket: String,
}

async fn direct(app: &TestApp) -> Direct {
    let config = &app.stack.state.config;
    let sdk = rapport_local::emulator_sdk(&app.stack.moto_url, config).await;
    let dynamo = aws_sdk_dynamodb::config::Builder::from(&sdk).retry_config(RetryConfig::disabled()).build();
    let s3 =
        aws_sdk_s3::config::Builder::from(&sdk).force_path_style(true).retry_config(RetryConfig::disabled()).build();
    Direct {
        dynamo: aws_sdk_dynamodb::Client::from_conf(dynamo),
        s3: aws_sdk_s3::Client::from_conf(s3),
        table: config.table.clone(),
        bucket: config.bucket.clone(),
    }
}

fn item(pk: &str) -> HashMap<String, AttributeValue> {
    HashMap::from([
        ("pk".to_string(), AttributeValue::S(pk.to_string())),
        ("sk".to_string(), AttributeValue::S("FAULT".to_string())),
    ])
}

/// The HTTP status of an error's answer.
fn status<E>(e: &SdkError<E, HttpResponse>) -> Option<u16> {
    e.raw_response().map(|r| r.status().as_u16())
}

/// What a call came to: `ok`, or the error code AWS gave.
fn outcome<T, E: ProvideErrorMetadata, R>(r: &Result<T, SdkError<E, R>>) -> String {
    match r {
        Ok(_) => "ok".into(),
        Err(e) => e.code().unwrap_or("no code").to_string(),
    }
}

impl Direct {
    fn tx(
        &self,
        pks: &[&str],
    ) -> aws_sdk_dynamodb::operation::transact_write_items::builders::TransactWriteItemsFluentBuilder {
        let items = pks
            .iter()
            .map(|pk| {
                let put = Put::builder().table_name(&self.table).set_item(Some(item(pk))).build().unwrap();
                TransactWriteItem::builder().put(put).build()
            })
            .collect();
        self.dynamo.transact_write_items().set_transact_items(Some(items))
    }

    async fn put(&self, pk: &str) -> Result<(), SdkError<PutItemError, HttpResponse>> {
        self.dynamo.put_item().table_name(&self.table).set_item(Some(item(pk))).send().await.map(|_| ())
    }

    /// Whether the item is in the table (read with the app's own client, never faulted once cleared).
    async fn exists(&self, pk: &str) -> bool {
        let out = self.dynamo.get_item().table_name(&self.table).set_key(Some(item(pk))).send().await.unwrap();
        out.item().is_some()
    }

    async fn object_exists(&self, key: &str) -> bool {
        match self.s3.head_object().bucket(&self.bucket).key(key).send().await {
            Ok(_) => true,
            Err(e) if status(&e) == Some(404) => false,
            Err(e) => panic!("head {key}: {e:?}"),
        }
    }
}

fn rule(app: &TestApp, kinds: &[&str], operations: &[&str]) -> Value {
    let mut r = json!({"prefix": app.stack.name_prefix, "rate": 1.0, "seed": 1, "kinds": kinds});
    if !operations.is_empty() {
        r["operations"] = json!(operations);
    }
    r
}

fn total_faults(stats: &Value, service: &str) -> u64 {
    stats[service]["faults"].as_object().unwrap().values().map(|v| v.as_u64().unwrap()).sum()
}

#[tokio::test]
async fn each_dynamodb_fault_decodes_as_the_error_aws_gives_and_writes_nothing() {
    let app = spawn_app().await;
    let d = direct(&app).await;

    // A conflict on a transaction: cancelled, one item's reason TransactionConflict, the others None.
    app.faults(json!({"dynamodb": [rule(&app, &["conflict"], &["TransactWriteItems"])]})).await;
    let err = d.tx(&["c1", "c2", "c3"]).send().await.unwrap_err();
    assert_eq!(status(&err), Some(400));
    let Some(TransactWriteItemsError::TransactionCanceledException(c)) = err.as_service_error() else {
        panic!("{err:?}")
    };
    let codes: Vec<&str> = c.cancellation_reasons().iter().map(|r| r.code().unwrap_or("")).collect();
    assert_eq!(codes.len(), 3, "{codes:?}");
    assert_eq!(codes.iter().filter(|c| **c == "TransactionConflict").count(), 1, "{codes:?}");
    assert_eq!(codes.iter().filter(|c| **c == "None").count(), 2, "{codes:?}");
    let message = c.message().unwrap_or_default();
    assert!(message.starts_with("Transaction cancelled, please refer cancellation reasons"), "{message}");
    // A single-item write: TransactionConflictException. A plain read never conflicts: the rule, of
    // conflicts only, does not apply to it.
    app.faults(json!({"dynamodb": [rule(&app, &["conflict"], &[])]})).await;
    let err = d.put("c4").await.unwrap_err();
    assert!(matches!(err.as_service_error(), Some(PutItemError::TransactionConflictException(_))), "{err:?}");
    let before = app.fault_stats().await["dynamodb"]["calls"].as_u64().unwrap();
    d.dynamo.get_item().table_name(&d.table).set_key(Some(item("c4"))).send().await.unwrap();
    assert_eq!(app.fault_stats().await["dynamodb"]["calls"].as_u64().unwrap(), before);

    app.faults(json!({"dynamodb": [rule(&app, &["throughput"], &[])]})).await;
    let err = d.put("c5").await.unwrap_err();
    assert!(matches!(err.as_service_error(), Some(PutItemError::ProvisionedThroughputExceededException(_))), "{err:?}");
    assert_eq!(status(&err), Some(400));

    app.faults(json!({"dynamodb": [rule(&app, &["throttling"], &[])]})).await;
    let err = d.put("c6").await.unwrap_err();
    assert!(matches!(err.as_service_error(), Some(PutItemError::ThrottlingException(_))), "{err:?}");
    assert_eq!(status(&err), Some(400));

    app.faults(json!({"dynamodb": [rule(&app, &["internal"], &[])]})).await;
    let err = d.tx(&["c7"]).send().await.unwrap_err();
    assert!(matches!(err.as_service_error(), Some(TransactWriteItemsError::InternalServerError(_))), "{err:?}");
    assert_eq!(status(&err), Some(500));

    // Slow: answered, late.
    app.faults(json!({"dynamodb": [{"prefix": app.stack.name_prefix, "rate": 1.0, "seed": 1, "kinds": ["slow"], "slow_ms": 300}]}))
        .await;
    let start = Instant::now();
    d.put("slow").await.unwrap();
    assert!(start.elapsed() >= Duration::from_millis(300), "{:?}", start.elapsed());

    app.clear_faults().await;
    for pk in ["c1", "c2", "c3", "c4", "c5", "c6", "c7"] {
        assert!(!d.exists(pk).await, "{pk} was written by a faulted request");
    }
    assert!(d.exists("slow").await);
    let stats = app.fault_stats().await;
    let faults = &stats["dynamodb"]["faults"];
    assert_eq!(
        [&faults["conflict"], &faults["throughput"], &faults["throttling"], &faults["internal"], &faults["slow"]],
        [2, 1, 1, 1, 1],
        "{stats}"
    );
}

#[tokio::test]
async fn each_s3_fault_decodes_as_the_error_aws_gives_and_writes_nothing() {
    let app = spawn_app().await;
    let d = direct(&app).await;
    let put = |key: &'static str| {
        d.s3.put_object().bucket(&d.bucket).key(key).body(ByteStream::from_static(b"resume")).send()
    };

    app.faults(json!({"s3": [rule(&app, &["slowdown"], &["PutObject"])]})).await;
    let err = put("slowdown.txt").await.unwrap_err();
    assert_eq!((err.code(), status(&err)), (Some("SlowDown"), Some(503)), "{err:?}");

    app.faults(json!({"s3": [rule(&app, &["internal"], &["PutObject", "GetObject"])]})).await;
    let err = put("internal.txt").await.unwrap_err();
    assert_eq!((err.code(), status(&err)), (Some("InternalError"), Some(500)), "{err:?}");
    // HeadObject is not among the rule's operations.
    assert!(!d.object_exists("internal.txt").await);
    assert!(!d.object_exists("slowdown.txt").await);

    app.faults(
        json!({"s3": [{"prefix": app.stack.name_prefix, "rate": 1.0, "seed": 1, "kinds": ["slow"], "slow_ms": 300}]}),
    )
    .await;
    let start = Instant::now();
    put("slow.txt").await.unwrap();
    assert!(start.elapsed() >= Duration::from_millis(300), "{:?}", start.elapsed());
    app.clear_faults().await;
    assert!(d.object_exists("slow.txt").await);
    let stats = app.fault_stats().await;
    assert_eq!(stats["s3"]["faults"], json!({"internal": 1, "slowdown": 1, "slow": 1}), "{stats}");
    assert_eq!(stats["s3"]["calls"], 3, "{stats}");
}

#[tokio::test]
async fn rate_zero_never_faults_rate_one_always_does_and_other_prefixes_are_untouched() {
    let (app, other) = tokio::join!(spawn_app(), spawn_app());
    let (d, o) = (direct(&app).await, direct(&other).await);

    app.inject(0.0, 3).await;
    for i in 0..10 {
        d.put(&format!("zero{i}")).await.unwrap();
        d.s3.put_object()
            .bucket(&d.bucket)
            .key(format!("zero{i}"))
            .body(ByteStream::from_static(b"x"))
            .send()
            .await
            .unwrap();
    }
    let stats = app.fault_stats().await;
    assert_eq!((stats["dynamodb"]["calls"].as_u64(), stats["s3"]["calls"].as_u64()), (Some(10), Some(10)), "{stats}");
    assert_eq!((total_faults(&stats, "dynamodb"), total_faults(&stats, "s3")), (0, 0), "{stats}");

    // Every request draws a fault: an error, or (slow) a late answer.
    app.inject(1.0, 3).await;
    let mut written = Vec::new();
    for i in 0..12 {
        let pk = format!("one{i}");
        if d.put(&pk).await.is_ok() {
            written.push(pk);
        }
    }
    let mut stored = Vec::new();
    for i in 0..12 {
        let key = format!("one{i}");
        if d.s3.put_object().bucket(&d.bucket).key(&key).body(ByteStream::from_static(b"x")).send().await.is_ok() {
            stored.push(key);
        }
    }
    // The other stack is untouched, directly and through its API.
    for i in 0..5 {
        o.put(&format!("other{i}")).await.unwrap();
        o.s3.put_object()
            .bucket(&o.bucket)
            .key(format!("other{i}"))
            .body(ByteStream::from_static(b"x"))
            .send()
            .await
            .unwrap();
    }
    let token = other.token("recruiter").await;
    other.open_job(&token, |_| {}).await;
    let stats = other.fault_stats().await;
    assert_eq!((stats["dynamodb"]["calls"].as_u64(), stats["s3"]["calls"].as_u64()), (Some(0), Some(0)), "{stats}");

    let stats = app.fault_stats().await;
    assert_eq!((stats["dynamodb"]["calls"].as_u64(), stats["s3"]["calls"].as_u64()), (Some(22), Some(22)), "{stats}");
    assert_eq!((total_faults(&stats, "dynamodb"), total_faults(&stats, "s3")), (12, 12), "{stats}");
    assert_eq!(stats["dynamodb"]["faults"]["slow"].as_u64(), Some(written.len() as u64), "{stats}");
    assert_eq!(stats["s3"]["faults"]["slow"].as_u64(), Some(stored.len() as u64), "{stats}");
    app.clear_faults().await;
    for i in 0..12 {
        let key = format!("one{i}");
        assert_eq!(d.exists(&key).await, written.contains(&key), "{key}");
        assert_eq!(d.object_exists(&key).await, stored.contains(&key), "{key}");
    }
}

#[tokio::test]
async fn the_same_seed_draws_the_same_faults_in_a_sequential_run() {
    let app = spawn_app().await;
    let d = direct(&app).await;
    let run = |seed: u64| {
        let (app, d) = (&app, &d);
        async move {
            let r = json!({"prefix": app.stack.name_prefix, "rate": 0.5, "seed": seed,
                           "kinds": ["throughput", "throttling", "internal"], "operations": ["GetItem"]});
            app.faults(json!({"dynamodb": [r]})).await;
            let mut seen = Vec::new();
            for _ in 0..32 {
                seen.push(outcome(&d.dynamo.get_item().table_name(&d.table).set_key(Some(item("seed"))).send().await));
            }
            seen
        }
    };
    let first = run(7).await;
    // A new rule for the prefix replaces the old one, its draws starting again.
    let again = run(7).await;
    let other = run(8).await;
    assert_eq!(first, again);
    assert_ne!(first, other);
    for code in ["ok", "ProvisionedThroughputExceededException", "ThrottlingException", "InternalServerError"] {
        assert!(first.iter().any(|c| c == code), "{code} in {first:?}");
    }
}

#[tokio::test]
async fn contention_conflicts_a_second_transaction_on_an_item_held_by_the_first() {
    let app = spawn_app().await;
    let d = std::sync::Arc::new(direct(&app).await);
    app.faults(json!({"contention": {"prefix": app.stack.name_prefix, "hold_ms": 1500}})).await;

    let held = {
        let d = d.clone();
        tokio::spawn(async move { d.tx(&["x", "x2"]).send().await })
    };
    // The first is in flight once the emulator has counted it.
    let deadline = Instant::now() + Duration::from_secs(10);
    while app.fault_stats().await["contention"]["transactions"] != 1 {
        assert!(Instant::now() < deadline, "the first transaction never arrived");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let err = d.tx(&["z", "x"]).send().await.unwrap_err();
    let Some(TransactWriteItemsError::TransactionCanceledException(c)) = err.as_service_error() else {
        panic!("{err:?}")
    };
    let codes: Vec<&str> = c.cancellation_reasons().iter().map(|r| r.code().unwrap_or("")).collect();
    assert_eq!(codes, ["None", "TransactionConflict"]);
    let err = d.put("x2").await.unwrap_err();
    assert!(matches!(err.as_service_error(), Some(PutItemError::TransactionConflictException(_))), "{err:?}");
    assert!(held.await.unwrap().is_ok(), "the first transaction goes through");

    // Different items never conflict, and neither do two single-item writes to one item.
    app.faults(json!({"contention": {"prefix": app.stack.name_prefix, "hold_ms": 300}})).await;
    let (a, b, c, e) = tokio::join!(d.tx(&["y"]).send(), d.tx(&["w"]).send(), d.put("v"), d.put("v"));
    assert!(a.is_ok() && b.is_ok() && c.is_ok() && e.is_ok(), "{a:?} {b:?} {c:?} {e:?}");
    // Once the first is done, its items are free.
    d.tx(&["x"]).send().await.unwrap();

    let stats = app.fault_stats().await;
    assert_eq!(
        stats["contention"],
        json!({"transactions": 5, "conflicts": 1, "writes": 3, "write_conflicts": 1}),
        "{stats}"
    );
    app.clear_faults().await;
    assert!(!d.exists("z").await, "a cancelled transaction wrote");
    for pk in ["x", "x2", "y", "w", "v"] {
        assert!(d.exists(pk).await, "{pk}");
    }
}

#[tokio::test]
async fn a_bad_fault_rule_is_refused_and_changes_nothing() {
    let app = spawn_app().await;
    let d = direct(&app).await;
    let url = format!("{}/_rapport/faults", app.stack.moto_url);
    let p = &app.stack.name_prefix;
    for body in [
        json!({"dynamodb": [{"prefix": p, "rate": 1.0, "kinds": ["conflict", "meteor"]}]}),
        json!({"dynamodb": [{"prefix": p, "rate": 1.0}], "s3": [{"prefix": p, "rate": 2.0}]}),
        json!({"s3": [{"rate": 1.0}]}),
        json!({"contention": {"prefix": p, "window": "forever"}}),
    ] {
        let res = app.http.post(&url).json(&body).send().await.unwrap();
        assert_eq!(res.status(), 400, "{body}");
    }
    // The valid DynamoDB rule sent along with a bad S3 one was not set either.
    d.put("fine").await.unwrap();
    assert_eq!(app.fault_stats().await["dynamodb"]["calls"], 0);
}
