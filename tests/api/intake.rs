use crate::helpers::*;
use rapport::ids::{ApplicationId, JobId};
use serde_json::{json, Value};

/// An open job and a unique applicant address for this test.
async fn open_job(app: &TestApp) -> (String, String) {
    let token = app.token("recruiter").await;
    let job = app.create_job(&token, job_body()).await;
    let id = job["id"].as_str().unwrap().to_string();
    app.publish(&token, &id).await;
    (id, format!("ada.{}@example.com", ulid::Ulid::generate().to_string().to_lowercase()))
}

fn application(email: &str) -> Value {
    json!({"first_name": "Ada", "last_name": "Lovelace", "email": email,
           "consent": {"processing": true, "talent_pool": true},
           "credentials": [{"type": "RN", "jurisdiction": "GB"}],
           "answers": {"right_to_work": true},
           "source": {"landing_url": "https://careers.example.com/jobs/1?utm_source=indeed&utm_medium=job_board"}})
}

async fn stored(app: &TestApp, id: &str) -> rapport::application::Application {
    let id: ApplicationId = id.parse().unwrap();
    app.stack.state.store.get_application(&id).await.unwrap().expect("the application is stored")
}

async fn count(app: &TestApp, job: &str) -> usize {
    app.stack.state.store.count_applications(&job.parse::<JobId>().unwrap()).await.unwrap()
}

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
async fn bad_submissions_name_the_field_and_store_nothing() {
    let app = spawn_app().await;
    let (job, email) = open_job(&app).await;
    let url = format!("/careers/jobs/{job}/applications");
    let cases: Vec<(Value, Vec<&str>)> = vec![
        (
            {
                let mut b = application(&email);
                b.as_object_mut().unwrap().remove("consent");
                b
            },
            vec!["consent"],
        ),
        (
            {
                let mut b = application(&email);
                b["consent"]["processing"] = json!(false);
                b
            },
            vec!["consent.processing"],
        ),
        (
            {
                let mut b = application(&email);
                b["email"] = json!("ada@");
                b
            },
            vec!["email"],
        ),
        (
            {
                let mut b = application(&email);
                b["last_name"] = json!(42);
                b
            },
            vec!["last_name"],
        ),
        (
            {
                let mut b = application(&email);
                b["status"] = json!("hired");
                b
            },
            vec!["status"],
        ),
        (
            {
                let mut b = application(&email);
                b["first_name"] = json!("Ada\r\nBcc: victim@example.com");
                b
            },
            vec!["first_name"],
        ),
        (
            {
                let mut b = application(&email);
                b["resume_key"] = json!("resumes/someone-else.pdf");
                b
            },
            vec!["resume_key"],
        ),
        (
            {
                let mut b = application(&email);
                b["resume_key"] = json!("uploads/01ARZ3NDEKTSV4RRFFQ69G5FAV.pdf");
                b
            },
            vec!["resume_key"],
        ),
    ];
    for (body, fields) in cases {
        let res = app.post(&url).json(&body).send().await.unwrap();
        assert_eq!(error_fields(&problem(res, 422).await), fields);
    }
    let huge = vec![b' '; 20 * 1024 * 1024];
    let res = app.post(&url).header("content-type", "application/json").body(huge).send().await.unwrap();
    assert_eq!(res.status(), 413);
    let res = app.post(&url).header("content-type", "text/plain").body("hi").send().await.unwrap();
    problem(res, 415).await;
    assert_eq!(count(&app, &job).await, 0);
    assert!(app.emails_to(&email).await.is_empty());
}

#[tokio::test]
async fn the_honeypot_is_accepted_and_forgotten() {
    let app = spawn_app().await;
    let (job, email) = open_job(&app).await;
    let mut body = application(&email);
    body["website"] = json!("https://cheap-pills.example");
    let res = app.post(&format!("/careers/jobs/{job}/applications")).json(&body).send().await.unwrap();
    assert_eq!(res.status(), 202);
    assert_eq!(calls(&res), vec!["dynamodb.UpdateItem"], "nothing but the rate-limit window was touched");
    assert_eq!(count(&app, &job).await, 0);
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
async fn a_resume_goes_to_s3_through_a_presigned_put_and_is_checked_when_referenced() {
    let app = spawn_app().await;
    let (job, email) = open_job(&app).await;
    let pdf = b"%PDF-1.7\n1 0 obj << >> endobj\ntrailer\n%%EOF\n".to_vec();
    let upload = |ct: &'static str, size: usize| {
        app.post("/careers/uploads").json(&json!({"content_type": ct, "size": size, "purpose": "resume"})).send()
    };

    let res = upload("application/pdf", pdf.len()).await.unwrap();
    assert_eq!(res.status(), 201);
    let u: Value = res.json().await.unwrap();
    let key = u["key"].as_str().unwrap().to_string();
    assert!(key.starts_with("uploads/") && key.ends_with(".pdf"));
    let mut put = app.http.put(u["upload_url"].as_str().unwrap()).body(pdf.clone());
    for (k, v) in u["headers"].as_object().unwrap() {
        put = put.header(k, v.as_str().unwrap());
    }
    assert!(put.send().await.unwrap().status().is_success());

    let mut body = application(&email);
    body["resume_key"] = json!(key);
    let res = app.post(&format!("/careers/jobs/{job}/applications")).json(&body).send().await.unwrap();
    assert_eq!(res.status(), 201);
    let ids: Value = res.json().await.unwrap();
    let a = stored(&app, ids["application_id"].as_str().unwrap()).await;
    let resume = a.resume_key.expect("the resume is attached");
    assert!(resume.starts_with("resumes/"));
    let st = &app.stack.state;
    let got = app.stack.aws.s3().get_object().bucket(&st.config.bucket).key(&resume).send().await.unwrap();
    assert_eq!(got.body.collect().await.unwrap().into_bytes().to_vec(), pdf);

    // An executable that claims to be a PDF is refused when the application references it.
    let exe = b"MZ\x90\x00\x03\x00\x00\x00".to_vec();
    let u: Value = upload("application/pdf", exe.len()).await.unwrap().json().await.unwrap();
    let mut put = app.http.put(u["upload_url"].as_str().unwrap()).body(exe);
    for (k, v) in u["headers"].as_object().unwrap() {
        put = put.header(k, v.as_str().unwrap());
    }
    put.send().await.unwrap();
    let mut body = application(&format!("x.{email}"));
    body["resume_key"] = u["key"].clone();
    let res = app.post(&format!("/careers/jobs/{job}/applications")).json(&body).send().await.unwrap();
    assert_eq!(error_fields(&problem(res, 422).await), vec!["resume_key"]);

    for bad in [
        json!({"content_type": "image/svg+xml", "size": 10, "purpose": "resume"}),
        json!({"content_type": "application/pdf", "size": 11 * 1024 * 1024, "purpose": "resume"}),
        json!({"content_type": "application/pdf", "size": 10, "purpose": "resume", "acl": "public-read"}),
    ] {
        problem(app.post("/careers/uploads").json(&bad).send().await.unwrap(), 422).await;
    }
}

/// One query parameter of a URL.
fn query_param(url: &str, name: &str) -> Option<String> {
    reqwest::Url::parse(url).unwrap().query_pairs().find(|(k, _)| k == name).map(|(_, v)| v.into_owned())
}

#[tokio::test]
async fn an_upload_url_lives_five_minutes_and_a_resume_link_always_downloads() {
    let app = spawn_app().await;
    let (job, email) = open_job(&app).await;
    // An HTML page posing as a plain-text resume: opened in a browser from S3 it would run.
    let text = b"<html><script>alert(document.domain)</script></html>\n".to_vec();
    let before = chrono::Utc::now();
    let res = app
        .post("/careers/uploads")
        .json(&json!({"content_type": "text/plain", "size": text.len(), "purpose": "resume"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201);
    let u: Value = res.json().await.unwrap();
    let upload_url = u["upload_url"].as_str().unwrap();
    assert_eq!(query_param(upload_url, "X-Amz-Expires").as_deref(), Some("300"), "{upload_url}");
    let expires_at: chrono::DateTime<chrono::Utc> = u["expires_at"].as_str().unwrap().parse().unwrap();
    let ttl = expires_at - before;
    assert!(ttl > chrono::Duration::minutes(4) && ttl <= chrono::Duration::minutes(5) + chrono::Duration::seconds(5));
    let mut put = app.http.put(upload_url).body(text.clone());
    for (k, v) in u["headers"].as_object().unwrap() {
        put = put.header(k, v.as_str().unwrap());
    }
    assert!(put.send().await.unwrap().status().is_success());
    let mut body = application(&email);
    body["resume_key"] = u["key"].clone();
    let res = app.post(&format!("/careers/jobs/{job}/applications")).json(&body).send().await.unwrap();
    assert_eq!(res.status(), 201, "{}", res.text().await.unwrap());
    let ids: Value = res.json().await.unwrap();

    // The recruiter's link names the download in its signed query, and S3 answers with it.
    let token = app.token("recruiter").await;
    let a: Value =
        app.get_json(&format!("/api/applications/{}", ids["application_id"].as_str().unwrap()), &token).await;
    let link = a["resume_url"].as_str().unwrap();
    let disposition = query_param(link, "response-content-disposition").expect("a forced disposition");
    assert!(disposition.starts_with("attachment"), "{disposition}");
    assert!(link.contains("response-content-disposition=attachment"), "{link}");
    assert_eq!(query_param(link, "X-Amz-Expires").as_deref(), Some("300"));
    let res = app.http.get(link).send().await.unwrap();
    assert_eq!(res.status(), 200);
    let header = res.headers()["content-disposition"].to_str().unwrap().to_string();
    assert!(header.starts_with("attachment"), "{header}");
    assert_eq!(res.bytes().await.unwrap().to_vec(), text);
}

#[tokio::test]
async fn an_abandoned_draft_with_the_tick_gets_one_optin_and_joins_only_by_confirming() {
    let app = spawn_app().await;
    let (job, email) = open_job(&app).await;
    let draft_url = format!("/careers/jobs/{job}/drafts");
    let res = app
        .post(&draft_url)
        .json(&json!({"email": email, "first_name": "Ada", "consent": {"talent_pool": true}}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201);
    assert_eq!(calls(&res), vec!["dynamodb.UpdateItem", "dynamodb.GetItem", "dynamodb.TransactWriteItems"]);
    let ada_draft = res.json::<Value>().await.unwrap()["draft_id"].clone();
    // Another person starts and finishes: their draft is completed, never a drop-off.
    let finisher = format!("done.{email}");
    let d: Value = app.post(&draft_url).json(&json!({"email": finisher})).send().await.unwrap().json().await.unwrap();
    let mut body = application(&finisher);
    body["draft_id"] = d["draft_id"].clone();
    assert_eq!(app.post(&format!("/careers/jobs/{job}/applications")).json(&body).send().await.unwrap().status(), 201);
    // A third starts without talent-pool consent.
    app.post(&draft_url).json(&json!({"email": format!("no.{email}")})).send().await.unwrap();

    let soon = (chrono::Utc::now() + chrono::Duration::hours(1)).to_rfc3339();
    let report: Value =
        app.post("/_local/run/drafts").query(&[("now", &soon)]).send().await.unwrap().json().await.unwrap();
    assert_eq!(report["abandoned"], 0, "not yet abandoned after an hour");

    let later = (chrono::Utc::now() + chrono::Duration::hours(25)).to_rfc3339();
    let report: Value =
        app.post("/_local/run/drafts").query(&[("now", &later)]).send().await.unwrap().json().await.unwrap();
    assert_eq!((report["abandoned"].as_u64(), report["optin_requested"].as_u64()), (Some(2), Some(1)), "{report}");
    // Anyone can type an address into a form: the tick brings one opt-in email, and only the person's
    // confirmation puts them in the pool.
    let st = &app.stack.state;
    let hash = st.email_hash(&rapport::email::Email::parse(&email).unwrap()).await.unwrap();
    let prospect = st.store.prospect_by_email_hash(&hash).await.unwrap().expect("a pending drop-off");
    assert_eq!(prospect["status"].as_s().unwrap(), "pending_consent");
    assert!(!prospect.contains_key("origins"), "not in the pool before confirming");
    let nurture: Value =
        app.post("/_local/run/nurture").query(&[("now", &later)]).send().await.unwrap().json().await.unwrap();
    assert_eq!(nurture["sent"], 0, "{nurture}");
    let sent = app.emails_to(&email).await;
    assert_eq!(sent.len(), 1, "one opt-in email");
    assert!(sent[0]["subject"].as_str().unwrap().starts_with("Confirm"), "{}", sent[0]);
    let no_consent = format!("no.{email}");
    let no_hash = st.email_hash(&rapport::email::Email::parse(&no_consent).unwrap()).await.unwrap();
    assert!(st.store.prospect_by_email_hash(&no_hash).await.unwrap().is_none());
    assert!(app.emails_to(&no_consent).await.is_empty(), "a drop-off without the tick is never mailed");

    let report: Value =
        app.post("/_local/run/drafts").query(&[("now", &later)]).send().await.unwrap().json().await.unwrap();
    assert_eq!(report["abandoned"], 0, "a repeated run changes nothing");
    assert_eq!(app.emails_to(&email).await.len(), 1, "the opt-in goes once for the draft");

    let link = sent[0]["text"].as_str().unwrap().split_whitespace().find(|w| w.contains("confirm?token=")).unwrap();
    assert_eq!(app.confirm(link.strip_prefix(&app.url).unwrap()).await.status(), 200);
    let prospect = st.store.prospect_by_email_hash(&hash).await.unwrap().unwrap();
    assert_eq!(prospect["status"].as_s().unwrap(), "active");
    assert_eq!(prospect["origins"].as_ss().unwrap(), &vec!["drop_off".to_string()]);
    assert_eq!(prospect["first_name"].as_s().unwrap(), "Ada");

    // Ada comes back days later with the page still open: her application is taken, as one that
    // started afresh (the drop-off stays counted once).
    let mut body = application(&email);
    body["draft_id"] = ada_draft;
    let res = app.post(&format!("/careers/jobs/{job}/applications")).json(&body).send().await.unwrap();
    assert_eq!(res.status(), 201, "{}", res.text().await.unwrap());
    let id = res.json::<Value>().await.unwrap()["application_id"].as_str().unwrap().parse().unwrap();
    assert_eq!(st.store.get_application(&id).await.unwrap().unwrap().draft_id, None);
}

#[tokio::test]
async fn intake_answers_cors_only_for_allowed_origins() {
    let app = spawn_app().await;
    let (job, _) = open_job(&app).await;
    let preflight = |origin: &'static str| {
        app.http
            .request(reqwest::Method::OPTIONS, format!("{}/careers/jobs/{job}/applications", app.url))
            .header("origin", origin)
            .header("access-control-request-method", "POST")
            .header("access-control-request-headers", "content-type,idempotency-key")
            .send()
    };
    let ok = preflight(ORIGIN).await.unwrap();
    assert_eq!(ok.headers()["access-control-allow-origin"], ORIGIN);
    assert!(ok.headers()["access-control-allow-headers"].to_str().unwrap().contains("idempotency-key"));
    assert!(!preflight("https://evil.example").await.unwrap().headers().contains_key("access-control-allow-origin"));
}

#[tokio::test]
async fn public_form_posts_are_rate_limited_per_client_and_form() {
    let app = spawn_app_with(|o| o.rate_limit_per_minute = 3).await;
    let (job, email) = open_job(&app).await;
    let url = format!("/careers/jobs/{job}/drafts");
    for i in 0..3 {
        let res = app.post(&url).json(&json!({"email": format!("{i}.{email}")})).send().await.unwrap();
        assert_eq!(res.status(), 201);
    }
    let res = app.post(&url).json(&json!({"email": email})).send().await.unwrap();
    let retry: u64 = res.headers()["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=60).contains(&retry));
    assert_eq!(calls(&res), vec!["dynamodb.UpdateItem"], "refused before any other work");
    problem(res, 429).await;
    // Another form has its own budget, and leaving is never limited.
    let res = app.post(&format!("/careers/jobs/{job}/applications")).json(&application(&email)).send().await.unwrap();
    assert_eq!(res.status(), 201);
    let hash = app.stack.state.email_hash(&rapport::email::Email::parse(&email).unwrap()).await.unwrap();
    let token = rapport::prospect::unsubscribe_token(app.stack.state.signer().await.unwrap(), &hash);
    for _ in 0..5 {
        assert_eq!(app.post("/careers/unsubscribe").query(&[("token", &token)]).send().await.unwrap().status(), 200);
    }
}

#[tokio::test]
async fn a_form_field_name_of_fifty_thousand_parts_is_a_4xx_and_the_stack_answers_after() {
    let app = spawn_app().await;
    let (job, email) = open_job(&app).await;
    let url = format!("/careers/jobs/{job}/applications");
    let deep_name = vec!["a"; 50_000].join(".");
    let body = format!("first_name=Ada&last_name=L&email={email}&consent.processing=on&{deep_name}=x");
    let res =
        app.post(&url).header("content-type", "application/x-www-form-urlencoded").body(body).send().await.unwrap();
    let p = problem(res, 400).await;
    assert!(p["detail"].as_str().unwrap().contains("form field name"), "{p}");
    // JSON nested past any body of the API, and past serde_json's own limit.
    for depth in [33, 100_000] {
        let deep = format!("{{\"first_name\": {}{}}}", "[".repeat(depth), "]".repeat(depth));
        let res = app.post(&url).header("content-type", "application/json").body(deep).send().await.unwrap();
        problem(res, 400).await;
    }
    assert_eq!(count(&app, &job).await, 0, "nothing is stored");

    // The stack is still there and serves the next person.
    assert_eq!(app.get("/careers/jobs").send().await.unwrap().status(), 200);
    let res = app.post(&url).json(&application(&email)).send().await.unwrap();
    assert_eq!(res.status(), 201);
    assert_eq!(count(&app, &job).await, 1);
}

#[tokio::test]
async fn a_redirect_is_accepted_only_with_exactly_an_allowed_origin() {
    let app = spawn_app().await;
    let (job, _) = open_job(&app).await;
    let no_redirects = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let post = |email: String, redirect: String| {
        let form = vec![
            ("first_name", "Grace".to_string()),
            ("last_name", "Hopper".to_string()),
            ("email", email),
            ("consent.processing", "on".to_string()),
            ("redirect", redirect),
        ];
        no_redirects.post(format!("{}/careers/jobs/{job}/applications", app.url)).form(&form).send()
    };
    let email = |n: usize| format!("grace.{n}.{}@example.com", ulid::Ulid::generate().to_string().to_lowercase());
    // The career site here is the stack itself (`http://127.0.0.1:<port>`), plus ORIGIN.
    let port = app.url.rsplit(':').next().unwrap();
    let host = app.url.rsplit_once(':').unwrap().0;
    let look_alikes = [
        format!("{host}:{}/thanks", &port[..port.len() - 1]), // a prefix of the career site's origin
        format!("{host}/thanks"),                             // the same host on the default port
        "https://careers.example.co/thanks".to_string(),      // a prefix of an allowed origin
        "https://careers.example.com.evil.example/thanks".to_string(),
        "http://careers.example.com/thanks".to_string(), // another scheme
        "https://careers.example.com:444/thanks".to_string(),
    ];
    for (i, redirect) in look_alikes.iter().enumerate() {
        let res = post(email(i), redirect.clone()).await.unwrap();
        assert_eq!(error_fields(&problem(res, 422).await), vec!["redirect"], "{redirect}");
    }
    assert_eq!(count(&app, &job).await, 0);
    for (i, redirect) in [format!("{}/thanks", app.url), format!("{ORIGIN}:443/thanks")].into_iter().enumerate() {
        let res = post(email(100 + i), redirect.clone()).await.unwrap();
        assert_eq!(res.status(), 303, "{redirect}");
        assert_eq!(res.headers()["location"], redirect.as_str());
    }
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
