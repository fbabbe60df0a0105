//! The table's stream to the events function, as Lambda's event source mapping runs it: the
//! template's filter passes only new event items, the function names the records it failed on, Lambda
//! retries from the first of them and then gives the batch up to the on-failure destination; each
//! consumer acts once per event however often a record comes back.
use crate::helpers::*;
use aws_sdk_dynamodb::types::AttributeValue;
use serde_json::{json, Value};

async fn open_job(app: &TestApp) -> String {
    let token = app.token("recruiter").await;
    let job = app.create_job(&token, job_body()).await["id"].as_str().unwrap().to_string();
    app.publish(&token, &job).await;
    job
}

fn unique(who: &str) -> String {
    format!("{who}.{}@example.com", ulid::Ulid::generate().to_string().to_lowercase())
}

async fn apply(app: &TestApp, job: &str, email: &str) {
    let body = json!({"first_name": "Ada", "last_name": "Lovelace", "email": email,
                      "consent": {"processing": true, "talent_pool": false}});
    let res = app.post(&format!("/careers/jobs/{job}/applications")).json(&body).send().await.unwrap();
    assert_eq!(res.status(), 201);
}

/// An event item this code cannot read (a type from nowhere), put as the outbox puts its items.
async fn put_poison(app: &TestApp) -> String {
    let id = ulid::Ulid::generate().to_string();
    let s = |v: &str| AttributeValue::S(v.to_string());
    app.stack
        .aws
        .dynamo()
        .put_item()
        .table_name(&app.stack.state.config.table)
        .item("pk", s(&format!("EVENT#{id}")))
        .item("sk", s("EVENT"))
        .item("type", s("application.teleported"))
        .item("at", s("2026-11-30T10:00:00Z"))
        .item("data", s("{}"))
        .send()
        .await
        .unwrap();
    id
}

fn failed(poll: &Value) -> Vec<Vec<String>> {
    poll["invocations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["failed"].as_array().unwrap().iter().map(|s| s.as_str().unwrap().to_string()).collect())
        .collect()
}

#[tokio::test]
async fn a_poison_event_fails_alone_and_the_others_are_handled_once() {
    let app = spawn_app().await;
    let job = open_job(&app).await;
    let (before, after) = (unique("before"), unique("after"));
    assert_eq!(app.run_events().await["passed"], 1, "the job's publication");
    apply(&app, &job, &before).await;
    put_poison(&app).await;
    apply(&app, &job, &after).await;

    let poll = app.run_events().await;
    // Only the three event items pass the template's filter (not the applications' other items).
    assert_eq!(poll["passed"], 3, "{poll}");
    let invocations = poll["invocations"].as_array().unwrap();
    assert_eq!(invocations[0]["records"], 3, "{poll}");
    let first_failure = failed(&poll)[0].clone();
    assert_eq!(first_failure.len(), 1, "only the poison record is reported: {poll}");
    // Retried from the poison record (with the one after it) up to MaximumRetryAttempts (5), then
    // described to the on-failure destination.
    assert_eq!(invocations.len(), 6, "{poll}");
    assert!(invocations[1..].iter().all(|i| i["records"] == 2), "{poll}");
    assert!(failed(&poll).iter().all(|f| *f == first_failure), "{poll}");
    let gave_up = poll["on_failure"].as_array().unwrap();
    assert_eq!(gave_up.len(), 1, "{poll}");
    assert_eq!(gave_up[0]["DDBStreamBatchInfo"]["startSequenceNumber"], json!(first_failure[0]));
    assert!(gave_up[0]["destination"].as_str().unwrap().ends_with(":EventsFailureQueue"));

    // The good events were handled on the first delivery and never again, for all the retries.
    assert_eq!(app.emails_to(&before).await.len(), 1);
    assert_eq!(app.emails_to(&after).await.len(), 1);
    // The stream has moved on: the next poll reads only what came since (the consumers' marks,
    // which the filter drops).
    let next = app.run_events().await;
    assert_eq!((next["passed"].as_u64(), next["on_failure"].as_array().unwrap().len()), (Some(0), 0), "{next}");
}

#[tokio::test]
async fn a_confirmation_that_ses_throttles_goes_on_the_retry_and_only_once() {
    let app = spawn_app().await;
    let job = open_job(&app).await;
    app.run_events().await;
    let email = unique("throttled");
    apply(&app, &job, &email).await;
    // SES refuses the first send to this address as over the rate (surely not sent).
    app.faults(json!({"ses_send": [{"to": email, "fault": "throttle"}]})).await;
    let poll = app.run_events().await;
    assert_eq!(failed(&poll), vec![failed(&poll)[0].clone(), vec![]], "failed once, then handled: {poll}");
    assert_eq!(failed(&poll)[0].len(), 1, "{poll}");
    assert_eq!(app.emails_to(&email).await.len(), 1);
    assert_eq!(app.run_events().await["passed"], 0);
    assert_eq!(app.emails_to(&email).await.len(), 1, "never twice");
}

#[tokio::test]
async fn signing_up_waits_on_no_email_and_the_opt_in_goes_once_from_the_event() {
    let app = spawn_app().await;
    let email = unique("joiner");
    let body = json!({"email": email, "first_name": "Joan", "consent": {"talent_pool": true},
                      "interests": {"departments": ["Nursing"], "locations": ["GB"], "workplace": ["onsite"]}});
    let res = app.post("/careers/talent-pool").json(&body).send().await.unwrap();
    assert_eq!(res.status(), 202, "{}", res.text().await.unwrap());
    assert!(!calls(&res).iter().any(|c| c.starts_with("sesv2.")), "the sign-up calls no SES");
    // One transaction: the hour's opt-in claim, the pending request and its event.
    assert!(calls(&res).contains(&"dynamodb.TransactWriteItems".to_string()), "{:?}", calls(&res));
    let poll = app.run_events().await;
    assert_eq!(poll["passed"], 1, "{poll}");
    let sent = app.emails_to(&email).await;
    assert_eq!(sent.len(), 1);
    assert!(sent[0]["text"].as_str().unwrap().contains("/careers/talent-pool/confirm?token="), "{}", sent[0]);
    // The same sign-up again within the hour: no new request, no second email.
    assert_eq!(app.post("/careers/talent-pool").json(&body).send().await.unwrap().status(), 202);
    assert_eq!(app.run_events().await["passed"], 0);
    assert_eq!(app.emails_to(&email).await.len(), 1);

    // Confirming joins the pool: prospect.created, with the keyed hash as the id, once.
    let text = sent[0]["text"].as_str().unwrap();
    let link = text.split_whitespace().find(|w| w.contains("/careers/talent-pool/confirm?token=")).unwrap();
    let path = link.strip_prefix(&app.url).unwrap().to_string();
    assert!(app.confirm(&path).await.status().is_success());
    assert!(app.confirm(&path).await.status().is_success(), "a second click changes nothing");
    let created: Vec<Value> = app
        .scan_table()
        .await
        .iter()
        .filter(|i| i.get("type").and_then(|v| v.as_s().ok()).is_some_and(|t| t == "prospect.created"))
        .map(|i| serde_json::from_str(i["data"].as_s().unwrap()).unwrap())
        .collect();
    let hash = app.stack.state.email_hash(&rapport::email::Email::parse(&email).unwrap()).await.unwrap();
    assert_eq!(created, vec![json!({"prospect_id": hash, "status": "active"})]);
}
