//! Applying for a job: one write and one email, credited to its source, the same answer for a
//! repeat (JSON, form post or idempotency key), and jobs that take no applications.
use super::{application, count, open_job, stored};
use crate::helpers::*;
use serde_json::{json, Value};

#[tokio::test]
async fn an_application_is_one_write_transaction_one_email_and_credited_to_its_board() {
    let app = spawn_app().await;
    let (job, email) = open_job(&app).await;
    let res = app.post(&format!("/careers/jobs/{job}/applications")).json(&application(&email)).send().await.unwrap();
    assert_eq!(res.status(), 201);
    // The rate-limit window, one read of everything, one write transaction; no SES call: the
    // confirmation goes from the application's event.
    assert_eq!(
        calls(&res),
        vec!["dynamodb.UpdateItem", "dynamodb.BatchGetItem", "dynamodb.TransactWriteItems"],
        "apply makes no other AWS call"
    );
    // The events function, for the confirmation: the webhook endpoints (once a batch), its claim on
    // the event, the job and candidate (one batch read), the suppression list, the email, its send record.
    let events = app.post("/_local/run/events").send().await.unwrap();
    assert_eq!(
        calls(&events),
        vec![
            "dynamodb.Query",
            "dynamodb.PutItem",
            "dynamodb.BatchGetItem",
            "dynamodb.GetItem",
            "sesv2.SendEmail",
            "dynamodb.UpdateItem"
        ],
        "the confirmation's budget"
    );
    let ids: Value = res.json().await.unwrap();
    let a = stored(&app, ids["application_id"].as_str().unwrap()).await;
    assert_eq!((a.attribution.channel.as_str(), a.attribution.source.as_str()), ("job_board", "indeed"));
    assert_eq!(a.stage, "applied");
    assert!(a.consents.processing.given && a.consents.talent_pool.given);
    assert_eq!(a.consents.talent_pool.text_version, rapport::application::CONSENT_TEXT_VERSION);
    assert_eq!(a.credentials[0].kind, "RN");

    let sent = app.emails_to(&email).await;
    let all: Value = app.emails().await;
    assert_eq!(sent.len(), 1, "{all}");
    assert!(sent[0]["subject"].as_str().unwrap().contains("Registered Nurse"));
    assert!(sent[0]["text"].as_str().unwrap().contains("Hi Ada"));
    assert!(sent[0]["html"].as_str().unwrap().contains("<strong>Registered Nurse</strong>"));

    // The same person again, however they type their address: the same answer as the first time
    // (so it does not tell whether they had applied), no second record or email.
    let mut again = application(&email.to_uppercase());
    again["first_name"] = json!("Augusta");
    let res = app.post(&format!("/careers/jobs/{job}/applications")).json(&again).send().await.unwrap();
    assert_eq!(res.status(), 201);
    assert_eq!(res.json::<Value>().await.unwrap(), ids);
    assert_eq!(count(&app, &job).await, 1);
    assert_eq!(app.emails_to(&email).await.len(), 1);
}

#[tokio::test]
async fn a_hundred_concurrent_identical_submissions_make_one_application_and_one_email() {
    let app = spawn_app().await;
    let (job, email) = open_job(&app).await;
    let url = format!("/careers/jobs/{job}/applications");
    let body = application(&email);
    let sends = (0..100).map(|_| app.post(&url).json(&body).send());
    let responses = futures_util::future::join_all(sends).await;
    let mut ids = std::collections::BTreeSet::new();
    for res in responses {
        let res = res.unwrap();
        assert_eq!(res.status(), 201, "every submission is answered as the first was");
        ids.insert(res.json::<Value>().await.unwrap().to_string());
    }
    assert_eq!(ids.len(), 1, "every answer names the same application");
    assert_eq!(count(&app, &job).await, 1);
    assert_eq!(app.emails_to(&email).await.len(), 1);
}

#[tokio::test]
async fn the_career_site_with_no_parameters_is_credited_to_career_site() {
    let app = spawn_app().await;
    let (job, email) = open_job(&app).await;
    let mut body = application(&email);
    body["source"] = json!({"landing_url": format!("{}/", app.url), "referrer": format!("{}/", app.url)});
    let ids: Value =
        app.post(&format!("/careers/jobs/{job}/applications")).json(&body).send().await.unwrap().json().await.unwrap();
    let a = stored(&app, ids["application_id"].as_str().unwrap()).await;
    assert_eq!((a.attribution.channel.as_str(), a.attribution.source.as_str()), ("career_site", "career_site"));

    let mut body = application(&format!("other.{email}"));
    body.as_object_mut().unwrap().remove("source");
    let ids: Value =
        app.post(&format!("/careers/jobs/{job}/applications")).json(&body).send().await.unwrap().json().await.unwrap();
    assert_eq!(
        stored(&app, ids["application_id"].as_str().unwrap()).await.attribution.channel.as_str(),
        "unattributed"
    );
}

#[tokio::test]
async fn closed_draft_and_unknown_jobs_refuse_applications() {
    let app = spawn_app().await;
    let token = app.token("recruiter").await;
    let (job, email) = open_job(&app).await;
    app.post(&format!("/api/jobs/{job}/close"))
        .bearer_auth(&token)
        .json(&json!({"reason": "filled"}))
        .send()
        .await
        .unwrap();
    problem(
        app.post(&format!("/careers/jobs/{job}/applications")).json(&application(&email)).send().await.unwrap(),
        410,
    )
    .await;
    let draft = app.create_job(&token, job_body()).await;
    let draft = draft["id"].as_str().unwrap();
    problem(
        app.post(&format!("/careers/jobs/{draft}/applications")).json(&application(&email)).send().await.unwrap(),
        404,
    )
    .await;
    problem(
        app.post("/careers/jobs/01ARZ3NDEKTSV4RRFFQ69G5FAV/applications")
            .json(&application(&email))
            .send()
            .await
            .unwrap(),
        404,
    )
    .await;
    problem(app.post(&format!("/careers/jobs/{job}/drafts")).json(&json!({"email": email})).send().await.unwrap(), 410)
        .await;
}

#[tokio::test]
async fn an_html_form_post_is_stored_the_same_and_redirected() {
    let app = spawn_app().await;
    let (job, email) = open_job(&app).await;
    let no_redirects = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let form = [
        ("first_name", "Grace"),
        ("last_name", "Hopper"),
        ("email", email.as_str()),
        ("consent.processing", "on"),
        ("source.utm_source", "linkedin"),
        ("source.utm_medium", "job_board"),
        ("redirect", "https://careers.example.com/thank-you"),
    ];
    let res =
        no_redirects.post(format!("{}/careers/jobs/{job}/applications", app.url)).form(&form).send().await.unwrap();
    assert_eq!(res.status(), 303);
    assert_eq!(res.headers()["location"], "https://careers.example.com/thank-you");
    assert_eq!(count(&app, &job).await, 1);

    let mut evil = form.to_vec();
    evil[2] = ("email", "grace2@example.com");
    evil[6] = ("redirect", "https://evil.example/phish");
    let res =
        no_redirects.post(format!("{}/careers/jobs/{job}/applications", app.url)).form(&evil).send().await.unwrap();
    assert_eq!(error_fields(&problem(res, 422).await), vec!["redirect"]);

    let plain = &form[..6];
    let res =
        no_redirects.post(format!("{}/careers/jobs/{job}/applications", app.url)).form(&plain).send().await.unwrap();
    assert_eq!(res.status(), 303, "the same person again is still thanked");
    let thanks = res.headers()["location"].to_str().unwrap().to_string();
    assert!(thanks.starts_with("/careers/thanks"));
    let page = app.get(&thanks).send().await.unwrap();
    assert!(page.text().await.unwrap().contains("Thank you"));
    let missing_consent = &form[..3];
    let res = no_redirects
        .post(format!("{}/careers/jobs/{job}/applications", app.url))
        .form(&missing_consent)
        .send()
        .await
        .unwrap();
    assert_eq!(error_fields(&problem(res, 422).await), vec!["consent.processing"]);
}

#[tokio::test]
async fn an_idempotency_key_replays_and_refuses_another_request() {
    let app = spawn_app().await;
    let (job, email) = open_job(&app).await;
    let url = format!("/careers/jobs/{job}/applications");
    let first = app.post(&url).header("idempotency-key", "k-1").json(&application(&email)).send().await.unwrap();
    assert_eq!(first.status(), 201);
    let ids: Value = first.json().await.unwrap();
    let again = app.post(&url).header("idempotency-key", "k-1").json(&application(&email)).send().await.unwrap();
    assert_eq!(again.status(), 201, "a replay answers as the first request was answered");
    assert_eq!(again.json::<Value>().await.unwrap(), ids);
    let other =
        app.post(&url).header("idempotency-key", "k-1").json(&application("someone@example.com")).send().await.unwrap();
    problem(other, 409).await;
    assert_eq!(count(&app, &job).await, 1);
}

#[tokio::test]
async fn a_repeated_application_is_answered_exactly_as_the_first() {
    let app = spawn_app().await;
    let (job, email) = open_job(&app).await;
    let url = format!("/careers/jobs/{job}/applications");
    let first = app.post(&url).json(&application(&email)).send().await.unwrap();
    let (status, body) = (first.status(), first.text().await.unwrap());
    assert_eq!(status, 201);
    let again = app.post(&url).json(&application(&email)).send().await.unwrap();
    assert_eq!((again.status(), again.text().await.unwrap()), (status, body));

    // A form post: the same redirect, whether or not the person had applied.
    let no_redirects = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let other = format!("form.{email}");
    let form = [
        ("first_name", "Grace"),
        ("last_name", "Hopper"),
        ("email", other.as_str()),
        ("consent.processing", "on"),
        ("redirect", "https://careers.example.com/thank-you"),
    ];
    let mut answers = Vec::new();
    for _ in 0..2 {
        let res = no_redirects.post(format!("{}{url}", app.url)).form(&form).send().await.unwrap();
        answers.push((res.status(), res.headers()["location"].clone(), res.text().await.unwrap()));
    }
    assert_eq!(answers[0].0, 303);
    assert_eq!(answers[0], answers[1]);
    assert_eq!(count(&app, &job).await, 2);
    assert_eq!(app.emails_to(&email).await.len(), 1, "no second email");
    assert_eq!(app.emails_to(&other).await.len(), 1, "no second email");
}
