//! What a nurture run costs: each email at most 2 writes and 1 SES call, the reads by the page.
use crate::helpers::*;
use chrono::{Duration, TimeZone, Utc};
use futures_util::StreamExt;
use rapport::clock::rfc3339;
use serde_json::{json, Value};

/// More than a page of due enrolments (250), so that a run reads a second page after the first.
const PEOPLE: usize = 260;

/// Runs the nurture task at `at`; returns its report and the AWS operations it made.
async fn nurture(app: &TestApp, at: chrono::DateTime<Utc>) -> (Value, Vec<String>) {
    let res = app.post("/_local/run/nurture").query(&[("now", rfc3339(at))]).send().await.unwrap();
    let (status, ops) = (res.status(), calls(&res));
    let body: Value = res.json().await.unwrap();
    assert_eq!(status, 200, "{body}");
    (body, ops)
}

fn count(ops: &[String], names: &[&str]) -> usize {
    ops.iter().filter(|o| names.iter().any(|n| o.rsplit('.').next() == Some(*n))).count()
}

#[tokio::test]
async fn a_nurture_email_is_two_writes_and_one_ses_call_and_the_reads_go_by_the_page() {
    let start = Utc.with_ymd_and_hms(2026, 12, 1, 9, 0, 0).unwrap();
    let (app, _clock) = spawn_app_at(start).await;
    let token = app.token("recruiter").await;
    app.open_job(&token, |b| b["required_credentials"] = json!([])).await;
    let run = ulid::Ulid::generate().to_string().to_lowercase();
    let added = futures_util::stream::iter(0..PEOPLE)
        .map(|i| {
            let body = json!({"email": format!("budget{i}.{run}@example.com"), "consent": true});
            let req = app.post("/api/prospects").bearer_auth(&token).json(&body);
            async move { req.send().await.unwrap().status() }
        })
        .buffer_unordered(4)
        .collect::<Vec<_>>()
        .await;
    assert!(added.iter().all(|s| *s == 201), "{added:?}");
    // Enrolled today, due tomorrow: tomorrow's run only sends.
    app.active_campaign(
        &token,
        json!({"name": "Budget", "segment": {}, "steps": [{"after_days": 1, "content": {"kind": "jobs"}}]}),
    )
    .await;
    assert_eq!(nurture(&app, start).await.0["enrolled"], PEOPLE);

    let (report, ops) = nurture(&app, start + Duration::days(1)).await;
    assert_eq!((report["sent"].as_u64(), report["complete"].as_bool()), (Some(PEOPLE as u64), Some(true)), "{report}");
    assert_eq!(app.emails_to(&format!("budget259.{run}@example.com")).await.len(), 1);
    // Each email: its claim and the transaction recording it, and one SES call.
    let writes = count(&ops, &["PutItem", "UpdateItem", "DeleteItem", "TransactWriteItems", "BatchWriteItem"]);
    assert!(writes <= 2 * PEOPLE, "at most 2 writes an email: {writes}");
    assert_eq!(count(&ops, &["SendEmail"]), PEOPLE, "{ops:?}");
    // No read of its own: the run's (campaigns, sweeps, changed people, stories, jobs, 5 queries) and
    // each page's, one query (two pages, 250 and 10) and a batch read per 25 people (10 and 1).
    assert_eq!(count(&ops, &["GetItem", "Scan"]), 0, "{ops:?}");
    assert_eq!(count(&ops, &["BatchGetItem"]), 11, "{ops:?}");
    assert!(count(&ops, &["Query"]) <= 5 + 2, "{ops:?}");
}
