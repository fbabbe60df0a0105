//! `make bench`: times the main operations through the local stack (gateway, functions, emulator)
//! and prints, per operation, the median and 95th percentile and the AWS calls it made. Timings live
//! here, never in the tests; against the emulator they show relative cost, not AWS latency.
//!
//! Then the cold start of each function's release binary against a local Lambda Runtime API, with
//! the environment the template gives it: init (spawn to its first `GET /invocation/next`) and first
//! response (spawn to the answer of an event queued before it started, one that needs no AWS call),
//! median of 20 runs interleaved with a hello-world `lambda_runtime` binary built in the same run,
//! and the stripped binary sizes (and the arm64 zips when `make package` has made them).
//!
//! Last, transaction conflicts on the hot path: 50 writers applying at once to one job, on a stack
//! with one shard per report counter and on one with eight, the emulator in contention mode.
use rapport_local::runtime::{self, Function, HttpEvent, RuntimeApi};
use rapport_local::sam::SamFunctions;
use rapport_local::{spawn, Options};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

struct Timings(Vec<(String, Vec<Duration>, usize)>);

impl Timings {
    fn add(&mut self, op: &str, took: Duration, calls: usize) {
        match self.0.iter_mut().find(|(o, _, _)| o == op) {
            Some((_, t, c)) => {
                t.push(took);
                *c = calls;
            }
            None => self.0.push((op.to_string(), vec![took], calls)),
        }
    }

    fn report(&mut self) -> Value {
        let mut rows = Vec::new();
        println!("{:<34} {:>6} {:>10} {:>10} {:>10}", "operation", "n", "p50 ms", "p95 ms", "aws calls");
        for (op, t, calls) in &mut self.0 {
            t.sort();
            let q = |p: f64| t[((t.len() as f64 * p).ceil() as usize).clamp(1, t.len()) - 1].as_secs_f64() * 1000.0;
            println!("{op:<34} {:>6} {:>10.1} {:>10.1} {:>10}", t.len(), q(0.5), q(0.95), calls);
            rows.push(json!({"operation": op, "n": t.len(), "p50_ms": q(0.5), "p95_ms": q(0.95), "aws_calls": calls}));
        }
        json!({"rows": rows})
    }
}

/// The AWS calls of the last apply measured.
fn calls_of_apply(t: &Timings) -> usize {
    t.0.iter().find(|(op, _, _)| op == "apply (new application)").map(|(_, _, c)| *c).unwrap_or(0)
}

fn calls(res: &reqwest::Response) -> usize {
    res.headers()
        .get(rapport_local::gateway::CALLS_HEADER)
        .and_then(|v| v.to_str().ok())
        .map(|v| v.split(',').filter(|s| !s.is_empty()).count())
        .unwrap_or(0)
}

/// A bench stack of its own (tables and bucket named after a fresh prefix).
fn options(moto_url: &str, counter_shards: u32) -> anyhow::Result<Options> {
    let key = |n: &str| format!("bench-{n}-").repeat(4).into_bytes();
    Ok(Options {
        moto_url: moto_url.to_string(),
        name_prefix: format!("bench{}", ulid::Ulid::generate()),
        port: 0,
        signing_keys: rapport_local::keyring(&String::from_utf8(key("signing"))?),
        email_hash_key: String::from_utf8(key("email-hash"))?,
        jwt_key: key("jwt"),
        seed: false,
        allowed_origins: vec![],
        draft_abandon_after: chrono::Duration::hours(24),
        run_schedules: false,
        adjust_policy: None,
        clock: None,
        rate_limit_per_minute: 1_000_000,
        counter_shards,
    })
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let moto_url = std::env::var("MOTO_URL").expect("run through `make bench`, which starts the emulator");
    let stack = spawn(options(&moto_url, 8)?).await?;
    // First, while the stack is idle: the functions' cold starts.
    let cold = cold_starts(&stack.functions_config, &stack.moto_url).await?;
    let http = reqwest::Client::new();
    let url = stack.url.clone();
    let token: Value =
        http.post(format!("{url}/_local/token")).json(&json!({"role": "recruiter"})).send().await?.json().await?;
    let token = token["token"].as_str().unwrap_or_default().to_string();
    let mut t = Timings(Vec::new());
    let n = 200;

    let job = json!({"title": "Nurse", "department": "Nursing", "location": {"city": "Leeds", "region": "West Yorkshire", "country": "GB"},
        "workplace": "onsite", "employment_type": "full_time", "description_html": "<p>Care.</p>"});
    let created: Value =
        http.post(format!("{url}/api/jobs")).bearer_auth(&token).json(&job).send().await?.json().await?;
    let job_id = created["id"].as_str().unwrap_or_default().to_string();
    http.post(format!("{url}/api/jobs/{job_id}/publish")).bearer_auth(&token).send().await?;

    let mut apps = Vec::new();
    for i in 0..n {
        let body = json!({"first_name": "B", "last_name": "N", "email": format!("bench{i}@example.com"),
            "consent": {"processing": true, "talent_pool": true}, "source": {"utm_source": "indeed", "utm_medium": "job_board"}});
        let start = Instant::now();
        let res = http.post(format!("{url}/careers/jobs/{job_id}/applications")).json(&body).send().await?;
        let applied = start.elapsed();
        t.add("apply (new application)", applied, calls(&res));
        let v: Value = res.json().await?;
        apps.push(v["application_id"].as_str().unwrap_or_default().to_string());
        // The confirmation, now the events function's: its own time, and the sum, which is what the
        // request waited for when it sent the email itself.
        let res = http.post(format!("{url}/_local/run/events")).send().await?;
        let handler_calls = calls(&res);
        let poll: Value = res.json().await?;
        let confirmation = Duration::from_secs_f64(poll["invocations"][0]["millis"].as_f64().unwrap_or(0.0) / 1000.0);
        t.add("confirmation (events function)", confirmation, handler_calls);
        t.add("apply + confirmation (one request before)", applied + confirmation, calls_of_apply(&t) + handler_calls);
    }
    for id in &apps {
        let start = Instant::now();
        let res = http
            .post(format!("{url}/api/applications/{id}/transitions"))
            .bearer_auth(&token)
            .json(&json!({"to": "screen", "expected_version": 1}))
            .send()
            .await?;
        t.add("move an application", start.elapsed(), calls(&res));
    }
    for (op, path) in [
        ("sources report", format!("/api/reports/sources?job_id={job_id}")),
        ("funnel report", format!("/api/reports/funnel?job_id={job_id}")),
        ("applications page (25)", format!("/api/jobs/{job_id}/applications")),
        ("prospects page (25)", "/api/prospects".to_string()),
    ] {
        for _ in 0..50 {
            let start = Instant::now();
            let res = http.get(format!("{url}{path}")).bearer_auth(&token).send().await?;
            t.add(op, start.elapsed(), calls(&res));
        }
    }
    for i in 0..n {
        let body = json!({"email": format!("prospect{i}@example.com"), "consent": true, "tags": ["bench"]});
        let start = Instant::now();
        let res = http.post(format!("{url}/api/prospects")).bearer_auth(&token).json(&body).send().await?;
        t.add("add a prospect", start.elapsed(), calls(&res));
    }
    let campaign: Value = http
        .post(format!("{url}/api/campaigns"))
        .bearer_auth(&token)
        .json(&json!({"name": "Bench", "segment": {"tags_any": ["bench"]}, "steps": [{"after_days": 0, "content": {"kind": "jobs"}}]}))
        .send()
        .await?
        .json()
        .await?;
    let cid = campaign["id"].as_str().unwrap_or_default();
    http.post(format!("{url}/api/campaigns/{cid}/activate")).bearer_auth(&token).send().await?;
    let start = Instant::now();
    let res = http.post(format!("{url}/_local/run/nurture")).send().await?;
    let ops = calls(&res);
    let report: Value = res.json().await?;
    let sent = report["sent"].as_u64().unwrap_or(0).max(1);
    let took = start.elapsed();
    for _ in 0..sent {
        t.add("nurture run, per email sent", took / sent as u32, ops / sent as usize);
    }
    let mut out = t.report();
    // The whole run (the activation's sweep of the 200 prospects included) against the configured rate.
    let rate = sent as f64 / took.as_secs_f64();
    let configured = stack.functions_config.ses_max_send_rate;
    println!(
        "nurture: {rate:.1} emails a second over the run, {:.0}% of the configured {configured}/s (goal: at least 95%)",
        100.0 * rate / configured
    );
    out["nurture_rate"] = json!({"emails_per_second": rate, "configured": configured, "ratio": rate / configured});
    out["cold_start"] = cold;
    stack.stop().await;
    out["contention"] = contention(&moto_url).await?;
    std::fs::create_dir_all("target")?;
    std::fs::write("target/bench.json", serde_json::to_vec_pretty(&out)?)?;
    println!("written to target/bench.json ({} emails in the nurture run)", sent);
    Ok(())
}

/// Writers applying at once, each its own applicant, to one job from one source.
const WRITERS: usize = 50;
/// Applications stored per run.
const CONTENTION_APPLICATIONS: usize = 500;
/// How long a transaction's items are in flight in the emulator's contention mode (window `hold`: for
/// this long only, as DynamoDB would take; not while the transaction then waits for the emulator, which
/// serves one request at a time, so that the figure measures the items the writes share rather than the
/// emulator's queue): a transaction that names one of them meanwhile is cancelled with
/// `TransactionConflict`.
const HOLD_MS: u64 = 15;
/// A writer gives up on an application after this many 503s (the run then fails rather than hangs).
const MAX_503_PER_APPLICATION: u32 = 50;

/// Transaction conflicts per 100 applications with `WRITERS` concurrent writers, unsharded (one shard
/// per report counter) and sharded (eight), each on a stack of its own with the emulator in contention
/// mode for its prefix.
async fn contention(moto_url: &str) -> anyhow::Result<Value> {
    let mut rows = Vec::new();
    for (name, shards) in [("unsharded", 1), ("sharded", 8)] {
        let stack = spawn(options(moto_url, shards)?).await?;
        let run = contended_applications(moto_url, &stack.url, &stack.name_prefix).await;
        stack.stop().await;
        let mut row = run?;
        row["stack"] = json!(name);
        row["counter_shards"] = json!(shards);
        rows.push(row);
    }
    println!();
    println!(
        "transaction conflicts per 100 applications, {WRITERS} concurrent writers, one job and source \
         (emulator contention mode, items in flight {HOLD_MS} ms)"
    );
    println!(
        "{:<10} {:>7} {:>13} {:>11} {:>13} {:>12} {:>9} {:>9}",
        "counters", "shards", "applications", "conflicts", "conflicts/100", "503s/100", "tx/app", "apps/s"
    );
    for r in &rows {
        println!(
            "{:<10} {:>7} {:>13} {:>11} {:>13.1} {:>12.1} {:>9.2} {:>9.1}",
            r["stack"].as_str().unwrap_or_default(),
            r["counter_shards"].as_u64().unwrap_or(0),
            r["applications"].as_u64().unwrap_or(0),
            r["conflicts"].as_u64().unwrap_or(0),
            r["conflicts_per_100"].as_f64().unwrap_or(f64::NAN),
            r["unavailable_per_100"].as_f64().unwrap_or(f64::NAN),
            r["transactions_per_application"].as_f64().unwrap_or(f64::NAN),
            r["applications_per_second"].as_f64().unwrap_or(f64::NAN),
        );
    }
    println!(
        "conflicts: transactions the emulator cancelled with TransactionConflict (and single-item writes \
         refused with TransactionConflictException, `write_conflicts` in bench.json); 503s: answers a writer \
         retried after Retry-After"
    );
    Ok(json!({"writers": WRITERS, "hold_ms": HOLD_MS, "window": "hold", "applications": CONTENTION_APPLICATIONS,
              "rows": rows}))
}

/// One run: contention on, a published job, then `WRITERS` writers applying through the gateway until
/// `CONTENTION_APPLICATIONS` are stored; what the emulator counted for the stack's prefix.
async fn contended_applications(moto_url: &str, url: &str, prefix: &str) -> anyhow::Result<Value> {
    let http = reqwest::Client::new();
    let res = http
        .post(format!("{moto_url}/_rapport/faults"))
        .json(&json!({"contention": {"prefix": prefix, "hold_ms": HOLD_MS, "window": "hold"}}))
        .send()
        .await?;
    anyhow::ensure!(res.status() == 204, "contention mode: {} {}", res.status(), res.text().await?);
    let token: Value =
        http.post(format!("{url}/_local/token")).json(&json!({"role": "recruiter"})).send().await?.json().await?;
    let token = token["token"].as_str().unwrap_or_default().to_string();
    let job = json!({"title": "Nurse", "department": "Nursing", "location": {"city": "Leeds", "region": "West Yorkshire", "country": "GB"},
        "workplace": "onsite", "employment_type": "full_time", "description_html": "<p>Care.</p>"});
    let created: Value =
        http.post(format!("{url}/api/jobs")).bearer_auth(&token).json(&job).send().await?.json().await?;
    let job_id = created["id"].as_str().unwrap_or_default().to_string();
    let res = http.post(format!("{url}/api/jobs/{job_id}/publish")).bearer_auth(&token).send().await?;
    anyhow::ensure!(res.status() == 200, "publishing: {}", res.status());
    let before = fault_stats(&http, moto_url, prefix).await?;

    let next = Arc::new(AtomicUsize::new(0));
    let unavailable = Arc::new(AtomicUsize::new(0));
    let start = Instant::now();
    let writers: Vec<_> = (0..WRITERS)
        .map(|_| {
            let (http, next, unavailable) = (http.clone(), next.clone(), unavailable.clone());
            let apply = format!("{url}/careers/jobs/{job_id}/applications");
            tokio::spawn(async move {
                let mut stored = 0usize;
                loop {
                    let i = next.fetch_add(1, Ordering::SeqCst);
                    if i >= CONTENTION_APPLICATIONS {
                        return anyhow::Ok(stored);
                    }
                    let body = json!({"first_name": "C", "last_name": "W", "email": format!("writer{i}@example.com"),
                        "consent": {"processing": true, "talent_pool": true},
                        "source": {"utm_source": "indeed", "utm_medium": "job_board"}});
                    let mut refused = 0;
                    loop {
                        let res = http.post(&apply).json(&body).send().await?;
                        let status = res.status().as_u16();
                        if res.status().is_success() {
                            stored += 1;
                            break;
                        }
                        anyhow::ensure!(status == 503, "applying: {status} {}", res.text().await.unwrap_or_default());
                        unavailable.fetch_add(1, Ordering::SeqCst);
                        refused += 1;
                        anyhow::ensure!(refused < MAX_503_PER_APPLICATION, "{refused} answers 503 to one application");
                        let wait = res
                            .headers()
                            .get("retry-after")
                            .and_then(|v| v.to_str().ok())
                            .and_then(|v| v.parse::<u64>().ok())
                            .unwrap_or(0);
                        tokio::time::sleep(Duration::from_secs(wait)).await;
                    }
                }
            })
        })
        .collect();
    let mut applications = 0;
    for w in writers {
        applications += w.await??;
    }
    let took = start.elapsed().as_secs_f64();
    let after = fault_stats(&http, moto_url, prefix).await?;
    let count = |v: &Value, k: &str| v["contention"][k].as_u64().unwrap_or(0);
    let delta = |k: &str| count(&after, k) - count(&before, k);
    let per_100 = |n: u64| n as f64 * 100.0 / applications.max(1) as f64;
    let unavailable = unavailable.load(Ordering::SeqCst) as u64;
    Ok(json!({
        "applications": applications,
        "seconds": took,
        "applications_per_second": applications as f64 / took,
        "transactions": delta("transactions"),
        "transactions_per_application": delta("transactions") as f64 / applications.max(1) as f64,
        "conflicts": delta("conflicts"),
        "conflicts_per_100": per_100(delta("conflicts")),
        "write_conflicts": delta("write_conflicts"),
        "write_conflicts_per_100": per_100(delta("write_conflicts")),
        "unavailable": unavailable,
        "unavailable_per_100": per_100(unavailable),
    }))
}

async fn fault_stats(http: &reqwest::Client, moto_url: &str, prefix: &str) -> anyhow::Result<Value> {
    let res = http.get(format!("{moto_url}/_rapport/faults/stats")).query(&[("prefix", prefix)]).send().await?;
    anyhow::ensure!(res.status() == 200, "emulator stats: {}", res.status());
    Ok(res.json().await?)
}

/// Runs of each binary, after one warm-up round that is not counted.
const COLD_RUNS: usize = 20;
/// The goal from the issue tracker: init within 2x and first response within 3x of hello world.
const GOAL_INIT: f64 = 2.0;
const GOAL_FIRST_RESPONSE: f64 = 3.0;

/// One binary under test: where it is, what it is given, and an event it answers without AWS.
struct ColdSubject {
    name: &'static str,
    binary: PathBuf,
    env: BTreeMap<String, String>,
    event: Value,
    expect: &'static str,
}

#[derive(Default)]
struct ColdSamples {
    init: Vec<Duration>,
    first_response: Vec<Duration>,
    handler: Vec<Duration>,
    answers: Vec<String>,
}

/// The event each function gets: a real request API Gateway (or EventBridge) would pass on, that the
/// function answers before any AWS call (checked: the AWS endpoint it is given counts connections).
fn cold_event(name: &str) -> anyhow::Result<(Value, &'static str)> {
    let http = |ev: HttpEvent, status: &'static str| Ok((ev.to_event()?, status));
    match name {
        // A bad filter on the public listing: 422 before the query.
        "jobs" => http(HttpEvent::get("/careers/jobs?limit=0"), "422"),
        "intake" => http(HttpEvent::get("/careers/widget.js"), "200"),
        // A signed-in user in no Rapport group (the JWT authorizer lets them through): 403 before
        // the audit record every route on personal data writes.
        "pipeline" => {
            http(HttpEvent::get("/api/applications/01JDQ2B0K6W3X3N7P0M5V8E2RZ").signed_in("guest", "bench"), "403")
        }
        "reports" => http(HttpEvent::get("/dashboard"), "200"),
        "crm" => http(HttpEvent::get("/api/prospects").signed_in("guest", "bench"), "403"),
        // A configuration set's delivery notice, which changes nothing.
        "nurture" => Ok((
            json!({"version": "0", "id": "bench", "source": "aws.ses", "detail-type": "Email Delivered",
                   "account": "123456789012", "region": "us-east-1", "time": "2026-11-29T10:00:00Z",
                   "detail": {"eventType": "Delivery", "mail": {"messageId": "bench"}}}),
            "Email Delivered",
        )),
        // A stream record that is no insert (a TTL removal, say): nothing to do, nothing read.
        "events" => Ok((
            json!({"Records": [{"eventID": "bench", "eventName": "REMOVE", "eventSource": "aws:dynamodb",
                                "dynamodb": {"SequenceNumber": "1", "Keys": {"pk": {"S": "EVENT#bench"}}}}]}),
            r#"{"batchItemFailures":[]}"#,
        )),
        other => anyhow::bail!("no cold-start event for {other}"),
    }
}

/// What the answer was, in a word: the HTTP status, or the SES event nurture reported.
fn answer_of(payload: &Value) -> String {
    if let Some(status) = payload["statusCode"].as_u64() {
        return status.to_string();
    }
    payload["event"].as_str().map(str::to_string).unwrap_or_else(|| payload.to_string())
}

/// A TCP endpoint in front of the emulator that counts connections: the functions' `AWS_ENDPOINT_URL`
/// here. At init each function reads its two secrets (as in AWS, where that is part of a cold start);
/// an event that reached AWS as well would show as more connections than starts.
async fn counting_endpoint(emulator: &str) -> anyhow::Result<(String, Arc<AtomicUsize>)> {
    let target = emulator.trim_start_matches("http://").trim_end_matches('/').to_string();
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0)).await?;
    let url = format!("http://{}", listener.local_addr()?);
    let count = Arc::new(AtomicUsize::new(0));
    let counter = count.clone();
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            counter.fetch_add(1, Ordering::SeqCst);
            let target = target.clone();
            tokio::spawn(async move {
                if let Ok(mut upstream) = tokio::net::TcpStream::connect(&target).await {
                    let _ = tokio::io::copy_bidirectional(&mut socket, &mut upstream).await;
                }
            });
        }
    });
    Ok((url, count))
}

async fn cold_run(s: &ColdSubject) -> anyhow::Result<(Duration, Duration, Duration, String)> {
    let function_name = s.env.get("AWS_LAMBDA_FUNCTION_NAME").cloned().unwrap_or_else(|| s.name.to_string());
    let api = RuntimeApi::start(&function_name).await?;
    // Queued before the process starts, as a cold start's event waits for the new environment.
    let id = api.queue(&s.event);
    let mut f = Function::spawn(s.name, api, &s.binary, &s.env)?;
    let result = f.result(&id).await;
    let ready = f.api().first_next();
    let spawned = f.spawned_at;
    f.stop().await;
    let inv = result?;
    let ready = ready.ok_or_else(|| anyhow::anyhow!("{} answered without asking for an event", s.name))?;
    let answer = answer_of(&serde_json::from_slice(inv.response()?)?);
    Ok((ready - spawned, inv.answered_at - spawned, inv.answered_at - inv.delivered_at, answer))
}

fn median(d: &[Duration]) -> f64 {
    let mut v: Vec<f64> = d.iter().map(|d| d.as_secs_f64() * 1000.0).collect();
    v.sort_by(f64::total_cmp);
    match v.len() {
        0 => f64::NAN,
        n if n % 2 == 1 => v[n / 2],
        n => (v[n / 2 - 1] + v[n / 2]) / 2.0,
    }
}

fn mib(bytes: Option<u64>) -> String {
    bytes.map(|b| format!("{:.2}", b as f64 / 1_048_576.0)).unwrap_or_else(|| "-".into())
}

/// Cold starts of the release binaries in `RAPPORT_RELEASE_DIR` (default `target/release`), as
/// `make bench` builds them; skipped with a note when they are not there.
async fn cold_starts(config: &rapport::Config, moto_url: &str) -> anyhow::Result<Value> {
    let dir = match std::env::var_os("RAPPORT_RELEASE_DIR") {
        Some(d) => PathBuf::from(d),
        None => runtime::target_dir()?.join("release"),
    };
    let mut names = vec!["hello-lambda"];
    names.extend(runtime::BINARIES);
    let missing: Vec<&str> = names.iter().copied().filter(|n| !dir.join(n).is_file()).collect();
    if !missing.is_empty() {
        println!(
            "cold start skipped: no release binary for {} in {} (`make bench` builds them: \
             cargo build --release --bins -p rapport-tests -p rapport-<function>…)",
            missing.join(", "),
            dir.display()
        );
        return Ok(json!({"skipped": format!("no release binaries in {}", dir.display())}));
    }
    let sam = SamFunctions::from_env()?;
    let values = runtime::template_values(config)?;
    let (aws_url, aws_connections) = counting_endpoint(moto_url).await?;
    let mut subjects = vec![ColdSubject {
        name: "hello-lambda",
        binary: dir.join("hello-lambda"),
        env: runtime::lambda_environment("hello-lambda", runtime::FUNCTION_MEMORY_MB),
        event: HttpEvent::get("/careers/widget.js").to_event()?,
        expect: "200",
    }];
    for name in runtime::BINARIES {
        let (event, expect) = cold_event(name)?;
        subjects.push(ColdSubject {
            name,
            binary: dir.join(name),
            env: runtime::function_environment(sam.function(name)?, &values, &aws_url)?,
            event,
            expect,
        });
    }
    let mut samples: Vec<ColdSamples> = subjects.iter().map(|_| ColdSamples::default()).collect();
    for round in 0..=COLD_RUNS {
        // Interleaved, the order turning each round, so drift on the machine falls on every binary alike.
        for k in 0..subjects.len() {
            let i = (k + round) % subjects.len();
            let (init, first, handler, answer) = cold_run(&subjects[i]).await?;
            if round > 0 {
                let s = &mut samples[i];
                s.init.push(init);
                s.first_response.push(first);
                s.handler.push(handler);
                s.answers.push(answer);
            }
        }
    }
    let aws = aws_connections.load(Ordering::SeqCst);
    let (hello_init, hello_first) = (median(&samples[0].init), median(&samples[0].first_response));
    println!();
    println!(
        "cold start: release binaries, median of {COLD_RUNS} runs interleaved with hello-lambda \
         (goal: init <= {GOAL_INIT}x, first response <= {GOAL_FIRST_RESPONSE}x)"
    );
    println!(
        "{:<13} {:>9} {:>7} {:>11} {:>7} {:>11} {:>16} {:>11} {:>9}  goal",
        "binary", "init ms", "x", "first ms", "x", "handler ms", "answer", "binary MiB", "zip MiB"
    );
    let mut rows = Vec::new();
    for (s, m) in subjects.iter().zip(&samples) {
        let (init, first, handler) = (median(&m.init), median(&m.first_response), median(&m.handler));
        let (ri, rf) = (init / hello_init, first / hello_first);
        let size = std::fs::metadata(&s.binary).ok().map(|m| m.len());
        let zip =
            std::fs::metadata(Path::new("target/lambda").join(s.name).join("bootstrap.zip")).ok().map(|m| m.len());
        let answers: Vec<&String> = m.answers.iter().filter(|a| a.as_str() != s.expect).collect();
        let answer = match answers.first() {
            None => s.expect.to_string(),
            Some(other) => format!("{other}!=expected {}", s.expect),
        };
        let goal = match s.name {
            "hello-lambda" => "",
            _ if ri <= GOAL_INIT && rf <= GOAL_FIRST_RESPONSE => "met",
            _ => "missed",
        };
        println!(
            "{:<13} {init:>9.2} {ri:>7.2} {first:>11.2} {rf:>7.2} {handler:>11.2} {answer:>16} {:>11} {:>9}  {goal}",
            s.name,
            mib(size),
            mib(zip)
        );
        rows.push(json!({
            "binary": s.name, "init_ms": init, "init_ratio": ri, "first_response_ms": first,
            "first_response_ratio": rf, "handler_ms": handler, "answer": answer, "binary_bytes": size,
            "zip_bytes": zip, "goal_met": if s.name == "hello-lambda" { Value::Null } else { json!(goal == "met") },
        }));
    }
    // Each start reads its two secrets (one connection each); anything beyond is an event that reached AWS.
    let starts = (COLD_RUNS + 1) * runtime::BINARIES.len();
    println!(
        "AWS connections during the cold starts: {aws} for {starts} starts (the secrets read at init: two a start)"
    );
    if aws > 2 * starts {
        println!("warning: more than the secrets' reads: some events were not AWS-free");
    }
    println!(
        "init: spawn to the first GET /invocation/next; first: spawn to the answer of an event queued before \
         spawning; handler: that event's delivery to its answer; sizes: stripped release binaries, arm64 zips \
         from `make package` when present"
    );
    Ok(json!({
        "runs": COLD_RUNS, "baseline": "hello-lambda", "aws_connections": aws, "starts": starts,
        "goal": {"init_ratio": GOAL_INIT, "first_response_ratio": GOAL_FIRST_RESPONSE},
        "rows": rows,
    }))
}
