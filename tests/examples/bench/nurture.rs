//! Nurture at the account's send rate, on a stack of its own (so that what the other sections stored
//! does not weigh on the emulator's queries): `EMAILS` prospects in an active campaign whose first
//! step is due a day after they enrol, so that one run enrols them and sends nothing and the next, a
//! day later, only sends. The rate is the sending's, from the first SES call to the last as the
//! emulator took them: a run's own reads come before its first send and do not grow with the emails
//! (on the emulator, which scans its table for each query, they take seconds; in AWS, well under
//! one). The whole run's rate, request to answer, is printed too. The emulator serves one request at
//! a time: the time it spent serving the run says how much of the run it took.
use super::options;
use futures_util::StreamExt;
use rapport::clock::rfc3339;
use rapport_local::spawn;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::time::Instant;

/// 20 s of sending at 50 a second: long enough that a run's fixed reads and its last sends in
/// flight do not decide the figure.
const EMAILS: usize = 1000;
/// The rate the local stack configures (`SES_MAX_SEND_RATE`; the emulator has no account quota).
const CONFIGURED: f64 = 50.0;
/// Prospects added at once (the emulator serves one request at a time: this only keeps it busy).
const ADDING: usize = 8;

/// The calls of a run by kind: (reads, writes, SES sends, others).
fn kinds(ops: &[String]) -> (usize, usize, usize, usize) {
    let is = |o: &str, names: &[&str]| names.iter().any(|n| o.ends_with(&format!(".{n}")));
    let reads = ops.iter().filter(|o| is(o, &["GetItem", "BatchGetItem", "Query", "Scan"])).count();
    let writes = ops
        .iter()
        .filter(|o| is(o, &["PutItem", "UpdateItem", "DeleteItem", "TransactWriteItems", "BatchWriteItem"]))
        .count();
    let ses = ops.iter().filter(|o| o.ends_with(".SendEmail")).count();
    (reads, writes, ses, ops.len() - reads - writes - ses)
}

fn calls(res: &reqwest::Response) -> Vec<String> {
    res.headers()
        .get(rapport_local::gateway::CALLS_HEADER)
        .and_then(|v| v.to_str().ok())
        .map(|v| v.split(',').filter(|s| !s.is_empty()).map(str::to_string).collect())
        .unwrap_or_default()
}

/// What the emulator served since `reset`: by kind of request, (requests, seconds, first and last
/// began as seconds since the epoch).
async fn busy(http: &reqwest::Client, moto_url: &str, reset: bool) -> anyhow::Result<HashMap<String, [f64; 4]>> {
    let url = format!("{moto_url}/_rapport/busy");
    if reset {
        let res = http.post(&url).send().await?;
        anyhow::ensure!(res.status() == 204, "resetting the emulator's busy time: {}", res.status());
        return Ok(HashMap::new());
    }
    let res = http.get(&url).send().await?;
    anyhow::ensure!(res.status() == 200, "the emulator's busy time: {}", res.status());
    let v: HashMap<String, Value> = res.json().await?;
    let f = |b: &Value, k: &str| b[k].as_f64().unwrap_or(0.0);
    Ok(v.into_iter()
        .map(|(op, b)| (op, [f(&b, "requests"), f(&b, "seconds"), f(&b, "first"), f(&b, "last")]))
        .collect())
}

/// The SES v2 send, as the emulator names it.
const SEND: &str = "POST /v2/email/outbound-emails";

async fn post_ok(req: reqwest::RequestBuilder, what: &str) -> anyhow::Result<Value> {
    let res = req.send().await?;
    let status = res.status();
    let body = res.text().await?;
    anyhow::ensure!(status.is_success(), "{what}: {status} {body}");
    Ok(serde_json::from_str(&body).unwrap_or(Value::Null))
}

/// Adds the prospects, enrols them in one run and sends to them in the next; that run's rate against
/// the configured one, its calls an email, and the emulator's share of it.
pub async fn nurture_rate(moto_url: &str) -> anyhow::Result<Value> {
    let stack = spawn(options(moto_url, 8)?).await?;
    let measured = measure(moto_url, &stack.url, stack.functions_config.ses_max_send_rate).await;
    stack.stop().await;
    measured
}

async fn measure(moto_url: &str, url: &str, configured: f64) -> anyhow::Result<Value> {
    anyhow::ensure!(
        configured == CONFIGURED,
        "the bench stack sends at {configured}/s, the figure is for {CONFIGURED}/s"
    );
    let http = reqwest::Client::new();
    let token =
        post_ok(http.post(format!("{url}/_local/token")).json(&json!({"role": "recruiter"})), "a token").await?;
    let token = token["token"].as_str().unwrap_or_default();
    // An open job, for the step's content.
    let job = json!({"title": "Porter", "department": "Estates", "location": {"city": "York", "region": "North Yorkshire", "country": "GB"},
        "workplace": "onsite", "employment_type": "full_time", "description_html": "<p>Moves.</p>"});
    let created = post_ok(http.post(format!("{url}/api/jobs")).bearer_auth(token).json(&job), "a job").await?;
    let job_id = created["id"].as_str().unwrap_or_default();
    post_ok(http.post(format!("{url}/api/jobs/{job_id}/publish")).bearer_auth(token), "publishing the job").await?;
    let adds = futures_util::stream::iter(0..EMAILS)
        .map(|i| {
            let body = json!({"email": format!("nurture{i}@example.com"), "consent": true, "tags": ["bench"]});
            post_ok(http.post(format!("{url}/api/prospects")).bearer_auth(token).json(&body), "a prospect")
        })
        .buffer_unordered(ADDING)
        .collect::<Vec<_>>()
        .await;
    adds.into_iter().collect::<anyhow::Result<Vec<_>>>()?;
    let campaign = json!({"name": "Bench", "segment": {"tags_any": ["bench"]},
                          "steps": [{"after_days": 1, "content": {"kind": "jobs"}}]});
    let campaign =
        post_ok(http.post(format!("{url}/api/campaigns")).bearer_auth(token).json(&campaign), "a campaign").await?;
    let cid = campaign["id"].as_str().unwrap_or_default();
    post_ok(http.post(format!("{url}/api/campaigns/{cid}/activate")).bearer_auth(token), "activating").await?;

    // The enrolment run: the activation's sweep of the pool, and everyone added since the last run.
    let now = chrono::Utc::now();
    let start = Instant::now();
    let res = http.post(format!("{url}/_local/run/nurture")).query(&[("now", rfc3339(now))]).send().await?;
    let enrol_calls = calls(&res).len();
    let enrolment: Value = res.json().await?;
    let enrol_took = start.elapsed().as_secs_f64();
    let enrolled = enrolment["enrolled"].as_u64().unwrap_or(0);
    anyhow::ensure!(enrolled == EMAILS as u64 && enrolment["sent"] == 0, "the enrolment run: {enrolment}");

    // The send run, a day later.
    let later = now + chrono::Duration::days(1) + chrono::Duration::minutes(1);
    busy(&http, moto_url, true).await?;
    let (start, began) = (Instant::now(), std::time::SystemTime::now());
    let res = http.post(format!("{url}/_local/run/nurture")).query(&[("now", rfc3339(later))]).send().await?;
    let ops = calls(&res);
    let report: Value = res.json().await?;
    let took = start.elapsed().as_secs_f64();
    let served = busy(&http, moto_url, false).await?;
    let sent = report["sent"].as_u64().unwrap_or(0);
    anyhow::ensure!(sent == EMAILS as u64 && report["complete"] == true, "the send run: {report}");
    let [sends, _, first, last] = served.get(SEND).copied().unwrap_or_default();
    anyhow::ensure!(sends as u64 == sent && last > first, "the emulator saw {sends} sends");

    // Sends after the first, over the time from the first to the last: the rate they went at.
    let rate = (sends - 1.0) / (last - first);
    let run_rate = sent as f64 / took;
    let before_first = first - began.duration_since(std::time::UNIX_EPOCH)?.as_secs_f64();
    let (reads, writes, ses, other) = kinds(&ops);
    let per = |n: usize| n as f64 / sent as f64;
    let mut served: Vec<(String, f64, f64)> = served.into_iter().map(|(op, [n, t, ..])| (op, n, t)).collect();
    served.sort_by(|a, b| b.2.total_cmp(&a.2));
    let held: f64 = served.iter().map(|(_, _, t)| t).sum();
    println!();
    println!(
        "nurture enrolment: {enrolled} people in {enrol_took:.1} s ({:.0} a second, {enrol_calls} calls)",
        enrolled as f64 / enrol_took
    );
    println!(
        "nurture: {rate:.1} emails a second from the first SES call to the last ({sent} in {:.1} s), {:.0}% of \
         the configured {configured}/s (goal: at least 95%)",
        last - first,
        100.0 * rate / configured
    );
    println!(
        "nurture, the whole run: {run_rate:.1} emails a second ({took:.1} s request to answer, the first send \
         {before_first:.1} s in), {:.0}% of {configured}/s",
        100.0 * run_rate / configured
    );
    println!(
        "nurture calls an email: {:.2} writes, {:.2} SES sends, {:.3} reads ({reads} in the run), {other} others in the run",
        per(writes),
        per(ses),
        per(reads)
    );
    println!(
        "nurture on the emulator: serving the run took it {held:.1} s of the {took:.1} ({:.0}%), {:.1} ms an email",
        100.0 * held / took,
        1000.0 * held / sent as f64,
    );
    for (op, n, t) in &served {
        println!(
            "  {op:<34} {n:>6} requests {:>8.2} ms each {:>6.2} ms an email",
            1000.0 * t / n,
            1000.0 * t / sent as f64
        );
    }
    Ok(json!({
        "emails_per_second": rate, "configured": configured, "ratio": rate / configured, "emails": sent,
        "measured": "from the first SES call to the last, as the emulator took them",
        "run": {"emails_per_second": run_rate, "seconds": took, "first_send_after_seconds": before_first},
        "calls": {"reads": reads, "writes": writes, "ses_sends": ses, "other": other,
                  "writes_per_email": per(writes), "ses_per_email": per(ses), "reads_per_email": per(reads)},
        "emulator": {"seconds": held, "share_of_run": held / took, "ms_per_email": 1000.0 * held / sent as f64,
                     "operations": served.iter().map(|(op, n, t)| json!({"operation": op, "requests": n, "seconds": t})).collect::<Vec<_>>()},
        "enrolment": {"enrolled": enrolled, "seconds": enrol_took, "calls": enrol_calls},
    }))
}
