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
mod cold;
mod contention;
mod feed;
mod nurture;
mod scale;

use rapport_local::{spawn, Options};
use serde_json::{json, Value};
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
pub(crate) fn options(moto_url: &str, counter_shards: u32) -> anyhow::Result<Options> {
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
    let cold = cold::cold_starts(&stack.functions_config, &stack.moto_url).await?;
    // `BENCH_ONLY=cold`: the cold starts alone, for working on them.
    if std::env::var("BENCH_ONLY").as_deref() == Ok("cold") {
        stack.stop().await;
        return write(&json!({ "cold_start": cold }));
    }
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
    let mut out = t.report();
    out["nurture_rate"] = nurture::nurture_rate(&moto_url).await?;
    out["cold_start"] = cold;
    stack.stop().await;
    out["contention"] = contention::contention(&moto_url).await?;
    out["scale"] = scale::scale(&moto_url).await?;
    out["feed"] = feed::feed().await?;
    write(&out)
}

fn write(out: &Value) -> anyhow::Result<()> {
    std::fs::create_dir_all("target")?;
    std::fs::write("target/bench.json", serde_json::to_vec_pretty(out)?)?;
    println!("written to target/bench.json");
    Ok(())
}
