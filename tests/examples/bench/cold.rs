//! Cold starts of each function's release binary against a local Lambda Runtime API, interleaved
//! with a hello-world `lambda_runtime` binary.
use rapport_local::runtime::{self, Function, HttpEvent, RuntimeApi};
use rapport_local::sam::SamFunctions;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

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
    warm: Vec<Duration>,
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
/// here. Each start's warm-up reads the two secrets and opens a DynamoDB connection, beside the first
/// event; an event that reached AWS as well would show as more connections than that.
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

/// One start: init, first response, the first event's handler time, the same event's again (warm),
/// and the first answer.
async fn cold_run(s: &ColdSubject) -> anyhow::Result<(Duration, Duration, Duration, Duration, String)> {
    let function_name = s.env.get("AWS_LAMBDA_FUNCTION_NAME").cloned().unwrap_or_else(|| s.name.to_string());
    let api = RuntimeApi::start(&function_name).await?;
    // Queued before the process starts, as a cold start's event waits for the new environment.
    let id = api.queue(&s.event);
    let mut f = Function::spawn(s.name, api, &s.binary, &s.env)?;
    let result = f.result(&id).await;
    let again = f.api().queue(&s.event);
    let warm = f.result(&again).await;
    let ready = f.api().first_next();
    let spawned = f.spawned_at;
    f.stop().await;
    let (inv, warm) = (result?, warm?);
    let ready = ready.ok_or_else(|| anyhow::anyhow!("{} answered without asking for an event", s.name))?;
    let answer = answer_of(&serde_json::from_slice(inv.response()?)?);
    Ok((
        ready - spawned,
        inv.answered_at - spawned,
        inv.answered_at - inv.delivered_at,
        warm.answered_at - warm.delivered_at,
        answer,
    ))
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
pub async fn cold_starts(config: &rapport::Config, moto_url: &str) -> anyhow::Result<Value> {
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
            let (init, first, handler, warm, answer) = cold_run(&subjects[i]).await?;
            if round > 0 {
                let s = &mut samples[i];
                s.init.push(init);
                s.first_response.push(first);
                s.handler.push(handler);
                s.warm.push(warm);
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
        "{:<13} {:>9} {:>7} {:>11} {:>7} {:>11} {:>8} {:>16} {:>11} {:>9}  goal",
        "binary", "init ms", "x", "first ms", "x", "handler ms", "warm ms", "answer", "binary MiB", "zip MiB"
    );
    let mut rows = Vec::new();
    for (s, m) in subjects.iter().zip(&samples) {
        let (init, first, handler, warm) =
            (median(&m.init), median(&m.first_response), median(&m.handler), median(&m.warm));
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
            "{:<13} {init:>9.2} {ri:>7.2} {first:>11.2} {rf:>7.2} {handler:>11.2} {warm:>8.2} {answer:>16} {:>11} {:>9}  {goal}",
            s.name,
            mib(size),
            mib(zip)
        );
        rows.push(json!({
            "binary": s.name, "init_ms": init, "init_ratio": ri, "first_response_ms": first,
            "first_response_ratio": rf, "handler_ms": handler, "warm_handler_ms": warm, "answer": answer, "binary_bytes": size,
            "zip_bytes": zip, "goal_met": if s.name == "hello-lambda" { Value::Null } else { json!(goal == "met") },
        }));
    }
    // Each start's warm-up opens up to three connections; anything beyond is an event that reached AWS.
    let starts = (COLD_RUNS + 1) * runtime::BINARIES.len();
    println!(
        "AWS connections during the cold starts: {aws} for {starts} starts (the warm-up: two secrets and a \
         DynamoDB read, at most three a start)"
    );
    if aws > 3 * starts {
        println!("warning: more than the warm-up's: some events were not AWS-free");
    }
    println!(
        "init: spawn to the first GET /invocation/next; first: spawn to the answer of an event queued before \
         spawning; handler: that event's delivery to its answer; warm: the same event again, in the same process; sizes: stripped release binaries, arm64 zips \
         from `make package` when present"
    );
    Ok(json!({
        "runs": COLD_RUNS, "baseline": "hello-lambda", "aws_connections": aws, "starts": starts,
        "goal": {"init_ratio": GOAL_INIT, "first_response_ratio": GOAL_FIRST_RESPONSE},
        "rows": rows,
    }))
}
