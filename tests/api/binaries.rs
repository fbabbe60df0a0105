//! The real binaries start: each function's own binary (`target/debug/<name>`, built by
//! `cargo build --workspace --bins`) runs against a local Lambda Runtime API with exactly the
//! environment the SAM template gives it (placeholders filled from a local stack, plus the
//! emulator's endpoint and what Lambda itself sets), takes one event as API Gateway or EventBridge
//! Scheduler sends it, and answers. A bad configuration fails at init with every problem listed; a
//! secret that cannot be read is answered 503.
use crate::helpers::{spawn_app, TestApp};
use rapport_local::runtime::{self, Function, HttpEvent, HttpResponse, RuntimeApi};
use rapport_local::sam::SamFunctions;
use serde_json::{json, Value};
use std::collections::BTreeMap;

/// What the template gives `name` in AWS, filled for `app`'s table, bucket and settings.
fn environment(app: &TestApp, name: &str) -> BTreeMap<String, String> {
    let sam = SamFunctions::from_env().expect("the expanded template (run through infra/local/with-emulator.sh)");
    let function = sam.function(name).unwrap();
    let values = runtime::template_values(&app.stack.functions_config).unwrap();
    let env = runtime::function_environment(function, &values, &app.stack.moto_url).unwrap();
    // The template and the filling agree with the stack: the binary reads the same table with the same keys.
    let config = rapport::Config::from_lookup(|k| env.get(k).cloned()).expect("the template's environment is valid");
    let stack = &app.stack.functions_config;
    assert_eq!((&config.table, &config.bucket), (&stack.table, &stack.bucket));
    assert_eq!((&config.signing_keys, &config.email_hash_key), (&stack.signing_keys, &stack.email_hash_key));
    env
}

/// Starts `name`'s debug binary with `env`.
async fn start(name: &str, env: &BTreeMap<String, String>) -> Function {
    let binary = runtime::binary("debug", name).unwrap_or_else(|e| panic!("{e}"));
    let sam = SamFunctions::from_env().expect("the expanded template");
    let timeout = std::time::Duration::from_secs(sam.function(name).unwrap().timeout);
    let api = RuntimeApi::start_with_timeout(&env["AWS_LAMBDA_FUNCTION_NAME"], timeout).await.unwrap();
    Function::spawn(name, api, &binary, env).unwrap()
}

/// Starts `name` as deployed, sends it one API Gateway event, and returns its HTTP response.
async fn request(app: &TestApp, name: &str, event: HttpEvent) -> HttpResponse {
    let mut f = start(name, &environment(app, name)).await;
    let event = event.to_event().unwrap();
    let invocation = f.invoke(&event).await.unwrap_or_else(|e| panic!("{e:#}"));
    let res = invocation.http().unwrap_or_else(|e| panic!("{name}: {e:#}\nits output:\n{}", f.output()));
    f.stop().await;
    res
}

fn assert_json(res: &HttpResponse, status: u16) -> Value {
    assert_eq!(res.status, status, "{}", res.text());
    let ct = res.header("content-type").unwrap_or_default();
    assert!(ct.starts_with("application/json") || ct.starts_with("application/problem+json"), "{ct}");
    res.json().unwrap()
}

fn unique_email(who: &str) -> String {
    format!("{who}.{}@example.com", ulid::Ulid::generate().to_string().to_ascii_lowercase())
}

#[tokio::test]
async fn jobs_lists_the_open_jobs_of_the_stack() {
    let app = spawn_app().await;
    let token = app.token("recruiter").await;
    let job = app.open_job(&token, |_| {}).await;
    let res = request(&app, "jobs", HttpEvent::get("/careers/jobs")).await;
    let listed = assert_json(&res, 200);
    let ids: Vec<&str> = listed["items"].as_array().unwrap().iter().filter_map(|j| j["id"].as_str()).collect();
    assert_eq!(ids, vec![job.as_str()], "{listed}");
}

#[tokio::test]
async fn intake_adds_a_talent_pool_subscriber() {
    let app = spawn_app().await;
    let email = unique_email("mary");
    let body = json!({"email": email, "first_name": "Mary", "interests": {"departments": ["Nursing"]},
                      "consent": {"talent_pool": true}});
    let res = request(&app, "intake", HttpEvent::post("/careers/talent-pool").json(&body)).await;
    assert_eq!(res.status, 202, "{}", res.text());
    // Written to the stack's table, under the hash the stack's key gives the address.
    let st = &app.stack.state;
    let hash = st.email_hash(&rapport::email::Email::parse(&email).unwrap()).await.unwrap();
    let prospect = st.store.prospect_by_email_hash(&hash).await.unwrap().expect("the subscriber is stored");
    assert_eq!(prospect["status"].as_s().unwrap(), "pending_consent");
}

#[tokio::test]
async fn pipeline_answers_404_for_an_unknown_application() {
    let app = spawn_app().await;
    let id = ulid::Ulid::generate();
    let event = HttpEvent::get(&format!("/api/applications/{id}")).signed_in("recruiter", "local-recruiter");
    let res = request(&app, "pipeline", event).await;
    let problem = assert_json(&res, 404);
    assert_eq!(res.header("content-type"), Some("application/problem+json"));
    assert_eq!(problem["status"], 404);
}

#[tokio::test]
async fn reports_counts_an_application_by_channel() {
    let app = spawn_app().await;
    let token = app.token("recruiter").await;
    let job = app.open_job(&token, |_| {}).await;
    let application = json!({"first_name": "Ada", "last_name": "Lovelace", "email": unique_email("ada"),
        "consent": {"processing": true}, "source": {"utm_source": "indeed", "utm_medium": "job_board"}});
    let res = app.post(&format!("/careers/jobs/{job}/applications")).json(&application).send().await.unwrap();
    assert_eq!(res.status(), 201, "{}", res.text().await.unwrap());

    let event = HttpEvent::get(&format!("/api/reports/sources?job_id={job}")).signed_in("recruiter", "local-recruiter");
    let report = assert_json(&request(&app, "reports", event).await, 200);
    assert_eq!(report["totals"]["applicants"], 1, "{report}");
    let rows = report["rows"].as_array().unwrap();
    assert!(rows.iter().any(|r| r["channel"] == "job_board" && r["applicants"] == 1), "{report}");
}

#[tokio::test]
async fn crm_lists_the_prospects_of_the_stack() {
    let app = spawn_app().await;
    let token = app.token("recruiter").await;
    let email = unique_email("sourced");
    let res = app
        .post("/api/prospects")
        .bearer_auth(&token)
        .json(&json!({"email": email, "consent": true, "tags": ["nursing"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201, "{}", res.text().await.unwrap());

    let page = assert_json(
        &request(&app, "crm", HttpEvent::get("/api/prospects").signed_in("recruiter", "local-recruiter")).await,
        200,
    );
    let emails: Vec<&str> = page["items"].as_array().unwrap().iter().filter_map(|p| p["email"].as_str()).collect();
    assert_eq!(emails, vec![email.as_str()], "{page}");
}

#[tokio::test]
async fn nurture_turns_an_abandoned_draft_into_a_drop_off() {
    let app = spawn_app().await;
    let token = app.token("recruiter").await;
    let job = app.open_job(&token, |_| {}).await;
    let res = app
        .post(&format!("/careers/jobs/{job}/drafts"))
        .json(&json!({"email": unique_email("grace"), "first_name": "Grace", "consent": {"talent_pool": true}}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201, "{}", res.text().await.unwrap());

    // What EventBridge Scheduler sends, a day and an hour later (DRAFT_ABANDON_AFTER is 24h).
    let later = chrono::Utc::now() + chrono::Duration::hours(25);
    let event = json!({"task": "drafts", "scheduled_time": later.to_rfc3339()});
    let mut f = start("nurture", &environment(&app, "nurture")).await;
    let report = f.invoke(&event).await.unwrap_or_else(|e| panic!("{e:#}")).json().unwrap();
    f.stop().await;
    assert_eq!(
        report,
        json!({"task": "drafts", "abandoned": 1, "optin_requested": 1, "optin_failed": 0, "complete": true})
    );
}

#[tokio::test]
async fn events_takes_a_stream_batch_and_names_only_the_record_it_cannot_read() {
    let app = spawn_app().await;
    // Two records as the stream mapping delivers them: an event this code reads (a job published,
    // which no consumer needs anything for here) and one it cannot (a type from nowhere).
    let record = |seq: &str, kind: &str| {
        json!({"eventID": seq, "eventName": "INSERT", "eventVersion": "1.1", "eventSource": "aws:dynamodb",
               "awsRegion": "us-east-1", "dynamodb": {"SequenceNumber": seq, "StreamViewType": "NEW_IMAGE",
               "Keys": {"pk": {"S": "EVENT#01KB0000000000000000000000"}, "sk": {"S": "EVENT"}},
               "NewImage": {"pk": {"S": format!("EVENT#01KB00000000000000000000{seq}")}, "sk": {"S": "EVENT"},
                            "type": {"S": kind}, "at": {"S": "2026-11-30T10:00:00Z"},
                            "data": {"S": "{\"job_id\": \"01KB0000000000000000000000\"}"}}}})
    };
    let batch = json!({"Records": [record("10", "job.published"), record("11", "job.teleported")]});
    let mut f = start("events", &environment(&app, "events")).await;
    let answer = f.invoke(&batch).await.unwrap_or_else(|e| panic!("{e:#}")).json().unwrap();
    f.stop().await;
    assert_eq!(answer, json!({"batchItemFailures": [{"itemIdentifier": "11"}]}));
}

#[tokio::test]
async fn a_bad_configuration_is_an_init_error_naming_every_variable_and_an_unreadable_secret_a_503() {
    let app = spawn_app().await;
    let mut env = environment(&app, "intake");
    env.remove("RAPPORT_TABLE").expect("the template sets RAPPORT_TABLE");
    env.insert("EMAIL_HASH_SECRET_ARN".into(), "too-short".into());
    let mut f = start("intake", &env).await;
    let error = f.init_error().await.unwrap_or_else(|e| panic!("{e:#}"));
    assert_eq!(error.header_type.as_deref(), Some(rapport::startup::CONFIG_ERROR_TYPE));
    assert_eq!(error.error_type, "ConfigError");
    assert_eq!(
        error.error_message, "configuration: EMAIL_HASH_SECRET_ARN: must be a secret's ARN; RAPPORT_TABLE: is required",
        "every bad variable, and only those"
    );
    let status = f.exit_status().await.unwrap();
    assert!(!status.success(), "a function that cannot start exits non-zero ({status})");
    assert!(f.api().first_next().is_none(), "it never asked for an event");
    assert!(!f.output().contains("too-short"), "the key's value never reaches the logs");

    // A secret that cannot be read (gone, or the role may not read it) is read after init, beside the
    // first event: the function starts, answers 503 without a word of why, and logs the variable.
    let mut env = environment(&app, "intake");
    let missing = format!("{}-gone-AbCdEf", env["SIGNING_KEYS_SECRET_ARN"]);
    env.insert("SIGNING_KEYS_SECRET_ARN".into(), missing);
    let mut f = start("intake", &env).await;
    let body = json!({"email": unique_email("early"), "consent": {"talent_pool": true}});
    let event = HttpEvent::post("/careers/talent-pool").json(&body).to_event().unwrap();
    let res = f.invoke(&event).await.unwrap_or_else(|e| panic!("{e:#}")).http().unwrap();
    let body = assert_json(&res, 503);
    assert_eq!(body["detail"], "a dependency is unavailable; retry later", "{body}");
    assert!(!res.text().contains("SIGNING_KEYS"), "the answer names nothing internal");
    // A second request reads again (a fixed permission needs no restart), and fails the same way.
    let res = f.invoke(&event).await.unwrap_or_else(|e| panic!("{e:#}")).http().unwrap();
    assert_eq!(res.status, 503);
    // What neither signs nor hashes is answered all the same.
    let widget = HttpEvent::get("/careers/widget.js").to_event().unwrap();
    let res = f.invoke(&widget).await.unwrap_or_else(|e| panic!("{e:#}")).http().unwrap();
    assert_eq!(res.status, 200, "the widget's script needs no key");
    let logs = f.output();
    f.stop().await;
    assert!(
        logs.contains("SIGNING_KEYS_SECRET_ARN: the secret cannot be read: ResourceNotFound"),
        "the logs name the variable and the error: {logs}"
    );
}
