//! Transaction conflicts on the hot path: writers applying at once to one job, on a stack with one
//! shard per report counter and on one with eight, the emulator in contention mode.
use super::options;
use rapport_local::spawn;
use serde_json::{json, Value};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

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
pub async fn contention(moto_url: &str) -> anyhow::Result<Value> {
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
