//! Rapport under the faults AWS gives. With a fifth of every DynamoDB and S3 call answered by a
//! transaction conflict, a throttle, a 500 or a slow answer (injected by the emulator from a fixed
//! seed, for this stack's tables and bucket only), concurrent duplicates still make one record,
//! concurrent moves one winner, every failure is a 503 with `Retry-After` that the client repeats
//! safely, and a scheduled run that fails leaves nothing the next run cannot finish.
use crate::helpers::*;
use chrono::{Duration, TimeZone, Utc};
use futures_util::future::join_all;
use rapport::clock::rfc3339;
use reqwest::RequestBuilder;
use serde_json::{json, Value};
use std::collections::{BTreeMap, BTreeSet};

/// The share of calls answered with a fault.
const RATE: f64 = 0.2;
/// A client gives up after this many 503s in a row (at a fifth of calls faulted, never reached).
const TRIES: usize = 60;

fn unique(name: &str) -> String {
    format!("{name}.{}@example.com", ulid::Ulid::generate().to_string().to_lowercase())
}

/// What a client saw: the final status and body, and how many 503s came before them.
struct Answer {
    status: u16,
    body: Value,
    unavailable: usize,
}

/// Sends what `make` builds until the answer is not a 503, as a client told to retry would. Every
/// 503 must say when to retry; the client waits a moment (not the whole `Retry-After`: the test
/// proves the repeat is safe, not the patience).
async fn until_answered(make: impl Fn() -> RequestBuilder) -> Answer {
    for unavailable in 0..TRIES {
        let res = make().send().await.unwrap();
        let status = res.status().as_u16();
        if status == 503 {
            let retry_after = res.headers().get("retry-after").and_then(|v| v.to_str().ok()).map(str::to_string);
            let body: Value = res.json().await.unwrap();
            assert!(retry_after.is_some_and(|s| s.parse::<u64>().is_ok()), "a 503 without Retry-After: {body}");
            assert_eq!(body["status"], 503, "{body}");
            tokio::time::sleep(std::time::Duration::from_millis(5 + 7 * unavailable as u64)).await;
            continue;
        }
        let body = res.json().await.unwrap_or(Value::Null);
        return Answer { status, body, unavailable };
    }
    panic!("{TRIES} answers of 503 in a row");
}

/// The application form the career site posts.
fn application(email: &str) -> Value {
    json!({"first_name": "Ada", "last_name": "Lovelace", "email": email,
           "consent": {"processing": true, "talent_pool": false},
           "source": {"utm_source": "indeed", "utm_medium": "job_board"}})
}

/// How many faults the emulator answered for this stack, checked so that no test here passes
/// because nothing failed.
async fn faults_seen(app: &TestApp) -> u64 {
    let stats = app.fault_stats().await;
    let sum = |service: &str| {
        stats[service]["faults"].as_object().map(|m| m.values().filter_map(Value::as_u64).sum::<u64>()).unwrap_or(0)
    };
    sum("dynamodb") + sum("s3")
}

/// Every item of the table whose sort key starts with `prefix`, summed over `field` (counters are
/// spread over shards, so a recount sums every shard).
async fn counted(app: &TestApp, pk: &str, sk_prefix: &str, field: &str) -> u64 {
    app.scan_table()
        .await
        .iter()
        .filter(|i| {
            i.get("pk").and_then(|v| v.as_s().ok()).is_some_and(|p| p == pk)
                && i.get("sk").and_then(|v| v.as_s().ok()).is_some_and(|s| s.starts_with(sk_prefix))
        })
        .filter_map(|i| i.get(field)?.as_n().ok()?.parse::<u64>().ok())
        .sum()
}

/// How many outbox events of `kind` the table holds.
async fn events_of(app: &TestApp, kind: &str) -> usize {
    let is = |i: &std::collections::HashMap<String, aws_sdk_dynamodb::types::AttributeValue>, k: &str, v: &str| {
        i.get(k).and_then(|x| x.as_s().ok()).is_some_and(|x| x == v)
    };
    app.scan_table().await.iter().filter(|i| is(i, "sk", "EVENT") && is(i, "type", kind)).count()
}

#[tokio::test]
async fn a_hundred_identical_applications_under_faults_make_one_application_and_one_email() {
    let app = spawn_app().await;
    let token = app.token("recruiter").await;
    let job = app.open_job(&token, |_| {}).await;
    let email = unique("same");
    let body = application(&email);
    let url = format!("/careers/jobs/{job}/applications");

    app.inject(RATE, 101).await;
    let answers = join_all((0..100).map(|_| until_answered(|| app.post(&url).json(&body)))).await;
    let faults = faults_seen(&app).await;
    app.clear_faults().await;

    assert!(faults > 0, "no fault was injected");
    let ids: BTreeSet<String> = answers
        .iter()
        .map(|a| {
            assert_eq!(a.status, 201, "a repeat is answered as the first was: {}", a.body);
            a.body["application_id"].as_str().unwrap().to_string()
        })
        .collect();
    assert_eq!(ids.len(), 1, "one application for every answer: {ids:?}");
    let list: Value = app.get_json(&format!("/api/jobs/{job}/applications"), &token).await;
    assert_eq!(list["items"].as_array().unwrap().len(), 1, "{list}");
    assert_eq!(app.emails_to(&email).await.len(), 1, "one confirmation email");
    assert_eq!(counted(&app, &format!("STATS#JOB#{job}"), "DAY#", "applicants").await, 1);
    assert_eq!(events_of(&app, "application.created").await, 1);
}

#[tokio::test]
async fn fifty_concurrent_moves_at_one_version_make_one_winner_under_faults() {
    let app = spawn_app().await;
    let token = app.token("recruiter").await;
    let job = app.open_job(&token, |_| {}).await;
    let res = app.post(&format!("/careers/jobs/{job}/applications")).json(&application(&unique("mover"))).send();
    let res = res.await.unwrap();
    assert_eq!(res.status(), 201);
    let id = res.json::<Value>().await.unwrap()["application_id"].as_str().unwrap().to_string();

    app.inject(RATE, 202).await;
    let path = format!("/api/applications/{id}/transitions");
    let moves = join_all((0..50).map(|_| {
        until_answered(|| app.post(&path).bearer_auth(&token).json(&json!({"to": "screen", "expected_version": 1})))
    }))
    .await;
    let faults = faults_seen(&app).await;
    app.clear_faults().await;

    assert!(faults > 0, "no fault was injected");
    let mut statuses: BTreeMap<u16, usize> = BTreeMap::new();
    for m in &moves {
        *statuses.entry(m.status).or_default() += 1;
    }
    // A lost conflict on a counter is tried again, never a 409: the only 409s are the version the
    // winner moved on, so there is exactly one winner and everyone else is told the version changed.
    assert_eq!(statuses, BTreeMap::from([(200, 1), (409, 49)]), "{statuses:?}");
    for m in moves.iter().filter(|m| m.status == 409) {
        assert!(m.body["detail"].as_str().unwrap().contains("version"), "{}", m.body);
    }
    let a: Value = app.get_json(&format!("/api/applications/{id}"), &token).await;
    assert_eq!((a["stage"].as_str(), a["version"].as_u64()), (Some("screen"), Some(2)), "{a}");
    assert_eq!(a["history"].as_array().unwrap().len(), 1, "one move in the history");
    // Stage entries are the funnel's items with `entered` (`FUNNEL#<date>#STAGE#screen`); only screen was entered.
    assert_eq!(counted(&app, &format!("STATS#JOB#{job}"), "FUNNEL#", "entered").await, 1, "counted once");
    assert_eq!(events_of(&app, "application.stage_changed").await, 1, "one event of the move");
}

#[tokio::test]
async fn a_move_whose_transaction_keeps_meeting_conflicts_is_tried_again_then_answers_503_not_409() {
    let app = spawn_app().await;
    let token = app.token("recruiter").await;
    let job = app.open_job(&token, |_| {}).await;
    let res = app.post(&format!("/careers/jobs/{job}/applications")).json(&application(&unique("held"))).send();
    let id = res.await.unwrap().json::<Value>().await.unwrap()["application_id"].as_str().unwrap().to_string();
    let path = format!("/api/applications/{id}/transitions");
    let screen = json!({"to": "screen", "expected_version": 1});

    // Every transaction cancelled for a conflict (as when another writer holds a counter item).
    let rule = |op: &str| json!([{"prefix": app.stack.name_prefix, "rate": 1.0, "seed": 1, "operations": [op], "kinds": ["conflict"]}]);
    app.faults(json!({"dynamodb": rule("TransactWriteItems")})).await;
    let res = app.post(&path).bearer_auth(&token).json(&screen).send().await.unwrap();
    assert_eq!(res.headers()["retry-after"], "2");
    problem(res, 503).await;
    let tries = app.fault_stats().await["dynamodb"]["faults"]["conflict"].as_u64();
    app.clear_faults().await;
    assert_eq!(
        tries,
        Some(u64::from(rapport::store::tx::CONFLICT_TRIES)),
        "the transaction was sent again, then given up"
    );
    let a: Value = app.get_json(&format!("/api/applications/{id}"), &token).await;
    assert_eq!((a["stage"].as_str(), a["version"].as_u64()), (Some("applied"), Some(1)), "nothing changed: {a}");

    // A single-item write that meets a transaction (TransactionConflictException) is retried by the
    // SDK like a throttle: the audit entry of a read, three attempts, then 503.
    app.faults(json!({"dynamodb": rule("PutItem")})).await;
    problem(app.get(&format!("/api/applications/{id}")).bearer_auth(&token).send().await.unwrap(), 503).await;
    let tries = app.fault_stats().await["dynamodb"]["faults"]["conflict"].as_u64();
    app.clear_faults().await;
    let before = u64::from(rapport::store::tx::CONFLICT_TRIES);
    assert_eq!(tries.map(|t| t - before), Some(3), "the SDK's three attempts (the emulator's counts add up)");

    // The 503 was safe to repeat: the same request now moves the application.
    let res = app.post(&path).bearer_auth(&token).json(&screen).send().await.unwrap();
    assert_eq!(res.status(), 200);
}

#[tokio::test]
async fn two_hundred_applications_from_eight_clients_under_faults_are_each_stored_once() {
    let app = spawn_app().await;
    let token = app.token("recruiter").await;
    let job = app.open_job(&token, |_| {}).await;
    let url = format!("/careers/jobs/{job}/applications");
    let pdf = b"%PDF-1.7\n1 0 obj << >> endobj\ntrailer\n%%EOF\n".to_vec();

    app.inject(RATE, 303).await;
    let client = |c: usize| {
        let (app, url, pdf) = (&app, &url, &pdf);
        async move {
            let mut mine = Vec::new();
            for n in 0..25 {
                let email = unique(&format!("c{c}n{n}"));
                let mut body = application(&email);
                // Every fifth brings a resume: an upload link, a PUT to S3, and the checks and copy
                // the application makes, all under the same faults.
                if n % 5 == 0 {
                    let link = until_answered(|| {
                        app.post("/careers/uploads")
                            .json(&json!({"content_type": "application/pdf", "size": pdf.len(), "purpose": "resume"}))
                    })
                    .await;
                    assert_eq!(link.status, 201, "{}", link.body);
                    let u = link.body;
                    let mut stored = false;
                    for _ in 0..TRIES {
                        let mut put = app.http.put(u["upload_url"].as_str().unwrap()).body(pdf.clone());
                        for (k, v) in u["headers"].as_object().unwrap() {
                            put = put.header(k, v.as_str().unwrap());
                        }
                        let status = put.send().await.unwrap().status();
                        assert!(status.is_success() || status.is_server_error(), "{status}");
                        if status.is_success() {
                            stored = true;
                            break;
                        }
                    }
                    assert!(stored, "the upload never went");
                    body["resume_key"] = u["key"].clone();
                }
                let key = format!("client-{c}-{n}");
                let a = until_answered(|| app.post(url).header("idempotency-key", &key).json(&body)).await;
                assert_eq!(a.status, 201, "{}", a.body);
                mine.push((email, a.body["application_id"].as_str().unwrap().to_string(), n % 5 == 0, a.unavailable));
            }
            mine
        }
    };
    let sent: Vec<_> = join_all((0..8).map(client)).await.into_iter().flatten().collect();
    // The events function takes the applications' events from the stream under the same faults: what
    // fails is retried from the stream, and nothing is given up on.
    let mut polls = 0;
    loop {
        polls += 1;
        assert!(polls < TRIES, "the stream was never read");
        let res = app.post("/_local/run/events").send().await.unwrap();
        if res.status() == 503 {
            continue;
        }
        assert_eq!(res.status(), 200);
        let poll: Value = res.json().await.unwrap();
        assert_eq!(poll["on_failure"], json!([]), "an event was given up on: {poll}");
        if poll["passed"] == 0 {
            break;
        }
    }
    let faults = faults_seen(&app).await;
    app.clear_faults().await;

    assert!(faults > 0, "no fault was injected");
    assert_eq!(sent.len(), 200);
    let stored: Vec<Value> = {
        let mut all = Vec::new();
        let mut cursor: Option<String> = None;
        loop {
            let page = match &cursor {
                Some(c) => format!("/api/jobs/{job}/applications?limit=100&cursor={c}"),
                None => format!("/api/jobs/{job}/applications?limit=100"),
            };
            let list: Value = app.get_json(&page, &token).await;
            all.extend(list["items"].as_array().unwrap().iter().cloned());
            match list["next_cursor"].as_str() {
                Some(c) => cursor = Some(c.to_string()),
                None => break all,
            }
        }
    };
    let stored_ids: BTreeSet<&str> = stored.iter().map(|a| a["id"].as_str().unwrap()).collect();
    assert_eq!(stored.len(), 200, "every answered application stored exactly once");
    let answered: BTreeSet<&str> = sent.iter().map(|(_, id, _, _)| id.as_str()).collect();
    assert_eq!(stored_ids, answered, "the ids the clients were given are the ones stored");
    for (email, id, resume, _) in &sent {
        assert_eq!(app.emails_to(email).await.len(), 1, "one confirmation to {email}");
        let a = app.stack.state.store.get_application(&id.parse().unwrap()).await.unwrap().unwrap();
        assert_eq!(a.resume_key.is_some(), *resume, "{id}");
        if let Some(key) = a.resume_key {
            let st = &app.stack.state.config;
            app.stack.aws.s3().head_object().bucket(&st.bucket).key(&key).send().await.expect("the kept resume exists");
        }
    }
    assert_eq!(counted(&app, &format!("STATS#JOB#{job}"), "DAY#", "applicants").await, 200, "counted once each");
    assert_eq!(events_of(&app, "application.created").await, 200, "one event each");
}

#[tokio::test]
async fn a_nurture_run_and_a_feeds_run_that_hit_faults_leave_nothing_the_next_run_cannot_finish() {
    let start = Utc.with_ymd_and_hms(2026, 12, 1, 9, 0, 0).unwrap();
    let (app, _clock) = spawn_app_at(start).await;
    let token = app.token("recruiter").await;
    let mut jobs = Vec::new();
    for _ in 0..3 {
        jobs.push(app.open_job(&token, |b| b["required_credentials"] = json!([])).await);
    }
    let people: Vec<String> = (0..12).map(|n| unique(&format!("p{n}"))).collect();
    for email in &people {
        let res = app
            .post("/api/prospects")
            .bearer_auth(&token)
            .json(&json!({"email": email, "first_name": "Mary", "consent": true}))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 201);
    }
    let campaign = app
        .active_campaign(
            &token,
            json!({"name": "Everyone", "segment": {}, "steps": [
                {"after_days": 0, "content": {"kind": "jobs"}}, {"after_days": 3, "content": {"kind": "jobs"}}]}),
        )
        .await;
    let run = |task: &'static str, at: chrono::DateTime<Utc>| {
        let app = &app;
        async move {
            let res = app.post(&format!("/_local/run/{task}")).query(&[("now", rfc3339(at))]).send().await.unwrap();
            (res.status().as_u16(), res.json::<Value>().await.unwrap_or(Value::Null))
        }
    };

    // Faulted runs: each may stop part way, with a 5xx or an incomplete report.
    app.inject(RATE, 404).await;
    let mut faulted = Vec::new();
    for _ in 0..3 {
        faulted.push(run("nurture", start).await);
        faulted.push(run("feeds", start).await);
    }
    let faults = faults_seen(&app).await;
    app.clear_faults().await;
    assert!(faults > 0, "no fault was injected");
    for (status, body) in &faulted {
        assert!(*status == 200 || *status >= 500, "{status} {body}");
    }

    // The next runs, the schedule's next tick on, finish; nobody was mailed twice, and everyone
    // whose email went or was lost to a fault has moved on to the next step.
    let (status, report) = run("nurture", start + Duration::minutes(16)).await;
    assert_eq!(status, 200, "{report}");
    assert_eq!(report["complete"], true, "{report}");
    let (status, report) = run("nurture", start + Duration::minutes(32)).await;
    assert_eq!((status, report["sent"].as_u64(), report["complete"].as_bool()), (200, Some(0), Some(true)));
    for email in &people {
        assert_eq!(app.emails_to(email).await.len(), 1, "{email}: one email of the first step, never two");
    }
    let steps: Vec<u64> = app
        .scan_table()
        .await
        .iter()
        .filter(|i| i.get("sk").and_then(|v| v.as_s().ok()).is_some_and(|s| s.starts_with("ENROL#")))
        .filter_map(|i| i.get("step")?.as_n().ok()?.parse().ok())
        .collect();
    assert_eq!(steps, vec![1; people.len()], "every enrolment moved on to its second step, once");
    let r: Value = app.get_json(&format!("/api/reports/nurture?campaign_id={campaign}"), &token).await;
    assert!(r["sent"].as_u64().unwrap() as usize <= people.len(), "the campaign counts no more than went: {r}");

    let (status, report) = run("feeds", start + Duration::minutes(16)).await;
    assert_eq!(status, 200, "{report}");
    let feed: Value = app.get("/feeds/jobs.json").send().await.unwrap().json().await.unwrap();
    let listed = feed.to_string();
    for job in &jobs {
        assert!(listed.contains(job.as_str()), "{job} is in the feed");
    }
}
