//! Signed webhooks: admins register endpoints; events reach each subscribed endpoint once, signed as
//! Standard Webhooks says (checked here with its reference library), are retried on the schedule from
//! the due list, and an endpoint failing for five days is disabled and the admin address told. The
//! receivers are servers of the test on 127.0.0.1, which the local stack allows (as production never
//! does: the strict cases build the production settings over the same table).
use crate::helpers::*;
use chrono::{DateTime, Duration, Utc};
use rapport::app::webhooks::on_event;
use rapport::event::{Event, EventType};
use rapport::webhook::{NewEndpoint, Reach};
use serde_json::{json, Value};
use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

/// One request a receiver got.
#[derive(Debug, Clone)]
struct Received {
    headers: http::HeaderMap,
    body: String,
}

impl Received {
    fn header(&self, name: &str) -> &str {
        self.headers.get(name).and_then(|v| v.to_str().ok()).unwrap_or_default()
    }

    /// Whether one of the request's signatures is the reference library's for `secret` (at the
    /// request's own timestamp, whatever the clock of the test).
    fn signed_with(&self, secret: &str) -> bool {
        let wh = standardwebhooks::Webhook::new(secret).unwrap();
        let ts: i64 = self.header("webhook-timestamp").parse().unwrap();
        let expected = wh.sign(self.header("webhook-id"), ts, self.body.as_bytes()).unwrap();
        self.header("webhook-signature").split(' ').any(|s| s == expected)
    }

    /// The reference library's whole check, the timestamp's tolerance (5 minutes of now) included.
    fn verifies(&self, secret: &str) -> bool {
        standardwebhooks::Webhook::new(secret).unwrap().verify(self.body.as_bytes(), &self.headers).is_ok()
    }
}

/// A receiver: answers each request with the next status of its list (200 once it is empty) and
/// keeps every request.
#[derive(Clone, Default)]
struct Receiver {
    url: String,
    log: Arc<Mutex<Vec<Received>>>,
    answers: Arc<Mutex<VecDeque<u16>>>,
}

impl Receiver {
    async fn start(answers: &[u16]) -> Receiver {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let r = Receiver {
            url: format!("http://127.0.0.1:{port}/hook"),
            log: Arc::default(),
            answers: Arc::new(Mutex::new(answers.iter().copied().collect())),
        };
        let app = axum::Router::new().route("/hook", axum::routing::post(receive)).with_state(r.clone());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        r
    }

    fn port(&self) -> u16 {
        self.url.split(':').nth(2).unwrap().split('/').next().unwrap().parse().unwrap()
    }

    fn got(&self) -> Vec<Received> {
        self.log.lock().unwrap().clone()
    }
}

async fn receive(
    axum::extract::State(r): axum::extract::State<Receiver>,
    headers: http::HeaderMap,
    body: String,
) -> http::StatusCode {
    r.log.lock().unwrap().push(Received { headers, body });
    let code = r.answers.lock().unwrap().pop_front().unwrap_or(200);
    http::StatusCode::from_u16(code).unwrap()
}

/// Registers an endpoint as an admin; answers it with its secret.
async fn register(app: &TestApp, admin: &str, body: Value) -> Value {
    let res = app.post("/api/webhooks").bearer_auth(admin).json(&body).send().await.unwrap();
    assert_eq!(res.status(), 201, "{}", res.text().await.unwrap());
    assert_eq!(calls(&res), vec!["dynamodb.PutItem"]);
    assert_eq!(res.headers()["cache-control"], "no-store");
    res.json().await.unwrap()
}

/// An event of the outbox as the table holds it (what the stream hands the events function).
async fn outbox(app: &TestApp, kind: EventType) -> Vec<Event> {
    app.scan_table()
        .await
        .iter()
        .filter(|i| i.get("type").and_then(|v| v.as_s().ok()).is_some_and(|t| t == kind.as_str()))
        .filter_map(|i| {
            let text = |k: &str| i.get(k).and_then(|v| v.as_s().ok()).cloned().unwrap_or_default();
            Some(Event {
                id: text("pk").strip_prefix("EVENT#")?.parse().ok()?,
                kind,
                at: DateTime::parse_from_rfc3339(&text("at")).ok()?.with_timezone(&Utc),
                data: serde_json::from_str(&text("data")).ok()?,
            })
        })
        .collect()
}

/// A new event at the clock's time (an erasure: ids only).
fn erased(clock: &dyn rapport::Clock) -> Event {
    rapport::event::candidate_erased(clock, &rapport::ids::CandidateId::new(clock), clock.now())
}

async fn log(app: &TestApp, admin: &str, id: &str) -> Vec<Value> {
    let res = app.get(&format!("/api/webhooks/{id}/deliveries")).bearer_auth(admin).send().await.unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(calls(&res), vec!["dynamodb.GetItem", "dynamodb.Query"]);
    res.json::<Value>().await.unwrap()["items"].as_array().unwrap().clone()
}

/// Runs the retry task as the schedule does, at `now`; answers its report and AWS calls.
async fn run_at(app: &TestApp, now: DateTime<Utc>) -> (Value, Vec<String>) {
    let res = app.post("/_local/run/webhooks").query(&[("now", rapport::clock::rfc3339(now))]).send().await.unwrap();
    assert_eq!(res.status(), 200);
    let calls = calls(&res);
    (res.json().await.unwrap(), calls)
}

fn time(v: &Value) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(v.as_str().unwrap()).unwrap().with_timezone(&Utc)
}

/// DynamoDB operations, the first (the endpoints' query) in place and the rest sorted: endpoints are
/// served side by side, so their calls interleave.
fn sorted(calls: &rapport::aws::Calls) -> Vec<String> {
    let mut ops: Vec<String> = calls
        .list()
        .into_iter()
        .map(|(service, op)| {
            assert_eq!(service, "dynamodb");
            op
        })
        .collect();
    ops[1..].sort_by_key(|op| (op != "PutItem", op.clone()));
    ops
}

/// The production settings over the same table: https only, no internal address.
fn strict(app: &TestApp) -> rapport::api::AppState {
    let mut st = app.stack.state.clone();
    let mut config = (*st.config).clone();
    config.webhooks_allow_private = false;
    st.outbound = rapport::outbound::Outbound::new(config.webhook_reach());
    st.config = Arc::new(config);
    st
}

#[tokio::test]
async fn webhook_endpoints_are_managed_by_admins_and_bad_input_changes_nothing() {
    let app = spawn_app().await;
    let admin = app.token("admin").await;
    let recruiter = app.token("recruiter").await;
    let hook = register(
        &app,
        &admin,
        json!({"url": "https://hooks.example.com/rapport", "events": ["job.published", "application.hired"],
               "description": "Payroll onboarding"}),
    )
    .await;
    let id = hook["id"].as_str().unwrap().to_string();
    let secret = hook["secret"].as_str().unwrap();
    assert!(secret.starts_with("whsec_") && secret.len() == 6 + 32, "{secret}");
    assert_eq!(
        (hook["enabled"].clone(), hook["events"].clone()),
        (json!(true), json!(["job.published", "application.hired"]))
    );

    let res = app.get("/api/webhooks").bearer_auth(&admin).send().await.unwrap();
    assert_eq!(calls(&res), vec!["dynamodb.Query"]);
    let list: Value = res.json().await.unwrap();
    assert_eq!(list["items"].as_array().unwrap().len(), 1);
    assert!(list["items"][0].get("secret").is_none(), "a secret is shown once");
    let res = app.get(&format!("/api/webhooks/{id}")).bearer_auth(&admin).send().await.unwrap();
    assert_eq!(calls(&res), vec!["dynamodb.GetItem"]);
    let one: Value = res.json().await.unwrap();
    assert!(one.get("secret").is_none() && one["description"] == "Payroll onboarding");

    let patch = |body: Value| app.patch(&format!("/api/webhooks/{id}")).bearer_auth(&admin).json(&body).send();
    let res = patch(json!({"events": ["*"], "description": "All of it"})).await.unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(calls(&res), vec!["dynamodb.GetItem", "dynamodb.UpdateItem"]);
    let saved: Value = res.json().await.unwrap();
    assert_eq!((saved["events"].clone(), saved["description"].clone()), (json!(["*"]), json!("All of it")));
    let off: Value = patch(json!({"enabled": false})).await.unwrap().json().await.unwrap();
    assert_eq!((off["enabled"].clone(), off["disabled_reason"].clone()), (json!(false), json!("manual")));
    let on: Value = patch(json!({"enabled": true})).await.unwrap().json().await.unwrap();
    assert_eq!((on["enabled"].clone(), on["disabled_reason"].clone()), (json!(true), Value::Null));

    // Bad input: every bad field listed, nothing stored or changed.
    let bad = app
        .post("/api/webhooks")
        .bearer_auth(&admin)
        .json(&json!({"url": "not a url", "events": ["job.opened"], "secret": "mine"}))
        .send()
        .await
        .unwrap();
    assert_eq!(error_fields(&problem(bad, 422).await), vec!["url", "events", "secret"]);
    for body in [
        json!({"url": "ftp://hooks.example.com/", "events": ["*"]}),
        json!({"url": "https://user:pw@hooks.example.com/", "events": ["*"]}),
        json!({"url": format!("https://hooks.example.com/{}", "a".repeat(2000)), "events": ["*"]}),
        json!({"url": "https://hooks.example.com/", "events": []}),
        json!({"url": "https://hooks.example.com/", "events": ["*", "job.closed"]}),
        json!({"url": "https://hooks.example.com/"}),
    ] {
        let res = app.post("/api/webhooks").bearer_auth(&admin).json(&body).send().await.unwrap();
        problem(res, 422).await;
    }
    problem(patch(json!({"url": "https://h.example.com/", "enabled": "yes"})).await.unwrap(), 422).await;
    problem(patch(json!({"events": ["job.closed"], "colour": "red"})).await.unwrap(), 422).await;
    let res = app.post("/api/webhooks").bearer_auth(&admin).body("{").header("content-type", "application/json");
    problem(res.send().await.unwrap(), 400).await;
    let after: Value = app.get_json(&format!("/api/webhooks/{id}"), &admin).await;
    assert_eq!(
        (after["url"].clone(), after["events"].clone()),
        (json!("https://hooks.example.com/rapport"), json!(["*"]))
    );

    // Plain http and internal addresses, refused by the production settings (the local stack allows
    // them for its own receivers); the route parses with the same settings it runs with.
    let st = strict(&app);
    for url in [
        "http://hooks.example.com/",
        "https://127.0.0.1/",
        "https://169.254.169.254/latest/meta-data/",
        "https://10.0.0.8/",
        "https://[::1]/",
        "https://[::ffff:192.168.0.1]/",
    ] {
        let parsed = NewEndpoint::parse(json!({"url": url, "events": ["*"]}), st.config.webhook_reach());
        assert!(parsed.is_err(), "{url}");
    }
    assert_eq!(app.stack.state.config.webhook_reach(), Reach::Anywhere);

    // Admins only, whatever the route; a recruiter changes nothing.
    for (method, path) in [
        ("POST", "/api/webhooks".to_string()),
        ("GET", "/api/webhooks".to_string()),
        ("GET", format!("/api/webhooks/{id}")),
        ("PATCH", format!("/api/webhooks/{id}")),
        ("DELETE", format!("/api/webhooks/{id}")),
        ("POST", format!("/api/webhooks/{id}/rotate")),
        ("POST", format!("/api/webhooks/{id}/test")),
        ("GET", format!("/api/webhooks/{id}/deliveries")),
        ("POST", format!("/api/webhooks/{id}/deliveries/01ARZ3NDEKTSV4RRFFQ69G5FAV/replay")),
    ] {
        let req = app.http.request(method.parse().unwrap(), format!("{}{path}", app.url)).bearer_auth(&recruiter);
        let res = req.json(&json!({"url": "https://evil.example.com/", "events": ["*"]})).send().await.unwrap();
        assert_eq!(res.status(), 403, "{method} {path}");
        assert!(calls(&res).is_empty(), "{method} {path}: refused before any read");
    }
    assert_eq!(app.get_json("/api/webhooks", &admin).await["items"].as_array().unwrap().len(), 1);

    let res = app.http.delete(format!("{}/api/webhooks/{id}", app.url)).bearer_auth(&admin).send().await.unwrap();
    assert_eq!((res.status().as_u16(), calls(&res)), (204, vec!["dynamodb.DeleteItem".to_string()]));
    problem(app.get(&format!("/api/webhooks/{id}")).bearer_auth(&admin).send().await.unwrap(), 404).await;
    let res = app.http.delete(format!("{}/api/webhooks/{id}", app.url)).bearer_auth(&admin).send().await.unwrap();
    problem(res, 404).await;
    problem(app.get("/api/webhooks/not-an-id").bearer_auth(&admin).send().await.unwrap(), 404).await;
    assert!(app.stack.iam.refused().is_empty(), "{:?}", app.stack.iam.refused());
}

#[tokio::test]
async fn an_event_goes_signed_to_each_subscribed_endpoint_once() {
    let app = spawn_app().await;
    let admin = app.token("admin").await;
    let (a, b, c, d) = (
        Receiver::start(&[]).await,
        Receiver::start(&[]).await,
        Receiver::start(&[]).await,
        Receiver::start(&[]).await,
    );
    let hook_a = register(&app, &admin, json!({"url": a.url, "events": ["job.published"]})).await;
    let hook_b = register(&app, &admin, json!({"url": b.url, "events": ["*"]})).await;
    register(&app, &admin, json!({"url": c.url, "events": ["job.closed"]})).await;
    let hook_d = register(&app, &admin, json!({"url": d.url, "events": ["*"]})).await;
    let id_d = hook_d["id"].as_str().unwrap();
    let res = app.patch(&format!("/api/webhooks/{id_d}")).bearer_auth(&admin).json(&json!({"enabled": false})).send();
    assert_eq!(res.await.unwrap().status(), 200);

    // A real event: the one publishing a job writes to the outbox.
    app.open_job(&admin, |_| {}).await;
    let events = outbox(&app, EventType::JobPublished).await;
    assert_eq!(events.len(), 1);
    let event = &events[0];
    let (done, calls) = rapport::aws::count_calls(on_event(&app.stack.state, event)).await;
    done.unwrap();
    // One query of the endpoints; per subscribed endpoint (side by side), the delivery made and its
    // outcome recorded.
    assert_eq!(sorted(&calls), ["Query", "PutItem", "PutItem", "UpdateItem", "UpdateItem"]);
    assert!(c.got().is_empty() && d.got().is_empty(), "not subscribed, or disabled");
    for (receiver, hook) in [(&a, &hook_a), (&b, &hook_b)] {
        let got = receiver.got();
        assert_eq!(got.len(), 1);
        let r = &got[0];
        assert!(r.verifies(hook["secret"].as_str().unwrap()), "the reference library verifies it");
        assert!(!r.verifies(hook_d["secret"].as_str().unwrap()), "and no other secret does");
        assert_eq!(r.header("webhook-id"), event.id.to_string());
        assert_eq!(r.header("content-type"), "application/json");
        assert_eq!(serde_json::from_str::<Value>(&r.body).unwrap(), event.envelope());
        let body: Value = serde_json::from_str(&r.body).unwrap();
        assert_eq!((body["type"].as_str(), body["data"]["status"].as_str()), (Some("job.published"), Some("open")));
    }

    // The same event again (the stream delivers at least once): nothing new is made or sent.
    let (done, calls) = rapport::aws::count_calls(on_event(&app.stack.state, event)).await;
    done.unwrap();
    assert_eq!(sorted(&calls), ["Query", "PutItem", "PutItem"]);
    assert_eq!((a.got().len(), b.got().len()), (1, 1));

    let entries = log(&app, &admin, hook_a["id"].as_str().unwrap()).await;
    assert_eq!(entries.len(), 1);
    let e = &entries[0];
    assert_eq!(
        (e["status"].as_str(), e["attempts"].as_u64(), e["last_response_code"].as_u64()),
        (Some("delivered"), Some(1), Some(200))
    );
    assert_eq!(
        (e["event_id"].as_str(), e["event_type"].as_str()),
        (Some(event.id.to_string().as_str()), Some("job.published"))
    );
    assert!(e["next_attempt_at"].is_null() && e["last_attempt_at"].is_string() && e.get("body").is_none());
    // Nothing is due: the retry task reads the empty due list and stops.
    let (report, calls) = run_at(&app, Utc::now() + Duration::hours(1)).await;
    assert_eq!((report["delivered"].as_u64(), calls), (Some(0), vec!["dynamodb.Query".to_string()]));
}

#[tokio::test]
async fn a_failed_delivery_is_retried_on_the_schedule_until_received_with_the_same_id() {
    let app = spawn_app().await;
    let admin = app.token("admin").await;
    let flaky = Receiver::start(&[500, 500, 500]).await;
    let hook = register(&app, &admin, json!({"url": flaky.url, "events": ["*"]})).await;
    let (id, secret) = (hook["id"].as_str().unwrap(), hook["secret"].as_str().unwrap());
    let event = erased(&rapport::clock::SystemClock);
    let (done, calls) = rapport::aws::count_calls(on_event(&app.stack.state, &event)).await;
    done.unwrap();
    // The first failure starts the endpoint's failing streak: one more write.
    assert_eq!(calls.summary(), "dynamodb.Query,dynamodb.PutItem,dynamodb.UpdateItem,dynamodb.UpdateItem");
    let failing: Value = app.get_json(&format!("/api/webhooks/{id}"), &admin).await;
    assert!(failing["failing_since"].is_string());

    let first = log(&app, &admin, id).await[0].clone();
    assert_eq!(
        (first["status"].as_str(), first["attempts"].as_u64(), first["last_response_code"].as_u64()),
        (Some("pending"), Some(1), Some(500))
    );
    let mut due = time(&first["next_attempt_at"]);
    assert_eq!(due - time(&first["last_attempt_at"]), Duration::seconds(5));
    // A run with less time left than one attempt may take (10 s) starts none; the next run does it.
    let res = app
        .post("/_local/run/webhooks")
        .query(&[("now", rapport::clock::rfc3339(due)), ("budget_ms", "5000".to_string())])
        .send()
        .await
        .unwrap();
    assert!(crate::helpers::calls(&res).is_empty());
    let report: Value = res.json().await.unwrap();
    assert_eq!((report["complete"].as_bool(), report["retrying"].as_u64()), (Some(false), Some(0)));
    assert_eq!(flaky.got().len(), 1);
    for (attempt, wait) in [(2, Duration::minutes(5)), (3, Duration::minutes(30)), (4, Duration::zero())] {
        // Not yet due: nothing is sent.
        let (report, calls) = run_at(&app, due - Duration::seconds(1)).await;
        assert_eq!((report["retrying"].as_u64(), calls.len()), (Some(0), 1), "{report}");
        let (report, calls) = run_at(&app, due).await;
        assert_eq!(flaky.got().len(), attempt);
        let entry = log(&app, &admin, id).await[0].clone();
        assert_eq!(entry["attempts"].as_u64(), Some(attempt as u64));
        if attempt < 4 {
            // The due page, the endpoints, the attempt recorded.
            assert_eq!(calls, vec!["dynamodb.Query", "dynamodb.Query", "dynamodb.UpdateItem"]);
            assert_eq!(report["retrying"].as_u64(), Some(1));
            let next = time(&entry["next_attempt_at"]);
            assert_eq!(next - due, wait);
            due = next;
        } else {
            // Received: the streak ends too.
            assert_eq!(calls, vec!["dynamodb.Query", "dynamodb.Query", "dynamodb.UpdateItem", "dynamodb.UpdateItem"]);
            assert_eq!(report["delivered"].as_u64(), Some(1));
            assert_eq!(
                (entry["status"].as_str(), entry["last_response_code"].as_u64()),
                (Some("delivered"), Some(200))
            );
            assert!(entry["next_attempt_at"].is_null());
        }
    }
    let got = flaky.got();
    assert!(got.iter().all(|r| r.header("webhook-id") == event.id.to_string() && r.body == got[0].body));
    assert!(got.iter().all(|r| r.signed_with(secret)), "every attempt is signed afresh, at its own time");
    let stamps: Vec<i64> = got.iter().map(|r| r.header("webhook-timestamp").parse().unwrap()).collect();
    assert!(stamps.windows(2).all(|w| w[0] < w[1]), "{stamps:?}");
    assert!(app.get_json(&format!("/api/webhooks/{id}"), &admin).await["failing_since"].is_null());
    // Delivered: off the due list for good.
    let (report, _) = run_at(&app, due + Duration::days(2)).await;
    assert_eq!(report["delivered"].as_u64(), Some(0));
    assert_eq!(flaky.got().len(), 4);
    assert!(app.stack.iam.refused().is_empty(), "{:?}", app.stack.iam.refused());
}

#[tokio::test]
async fn a_delivery_that_never_gets_through_fails_after_eight_attempts() {
    let app = spawn_app().await;
    let admin = app.token("admin").await;
    let down = Receiver::start(&[503; 20]).await;
    let hook = register(&app, &admin, json!({"url": down.url, "events": ["candidate.erased"]})).await;
    let id = hook["id"].as_str().unwrap();
    on_event(&app.stack.state, &erased(&rapport::clock::SystemClock)).await.unwrap();
    let mut gaps = Vec::new();
    loop {
        let entry = log(&app, &admin, id).await[0].clone();
        if entry["status"] == "failed" {
            assert_eq!((entry["attempts"].as_u64(), entry["last_response_code"].as_u64()), (Some(8), Some(503)));
            assert!(entry["next_attempt_at"].is_null());
            break;
        }
        let (last, next) = (time(&entry["last_attempt_at"]), time(&entry["next_attempt_at"]));
        gaps.push((next - last).num_seconds());
        run_at(&app, next).await;
    }
    assert_eq!(gaps, vec![5, 300, 1800, 7200, 18000, 36000, 36000]);
    assert_eq!(down.got().len(), 8);
    let (report, calls) = run_at(&app, Utc::now() + Duration::days(3)).await;
    assert_eq!((report["failed"].as_u64(), calls.len()), (Some(0), 1), "off the due list");
}

#[tokio::test]
async fn a_rotated_out_secret_still_signs_for_24_hours_then_only_the_new_one() {
    let start = Utc::now();
    let (app, clock) = spawn_app_at(start).await;
    let admin = app.token("admin").await;
    let r = Receiver::start(&[]).await;
    let hook = register(&app, &admin, json!({"url": r.url, "events": ["*"]})).await;
    let (id, old) = (hook["id"].as_str().unwrap(), hook["secret"].as_str().unwrap().to_string());
    let res = app.post(&format!("/api/webhooks/{id}/rotate")).bearer_auth(&admin).send().await.unwrap();
    assert_eq!((res.status().as_u16(), calls(&res)), (200, vec!["dynamodb.UpdateItem".to_string()]));
    assert_eq!(res.headers()["cache-control"], "no-store");
    let new = res.json::<Value>().await.unwrap()["secret"].as_str().unwrap().to_string();
    assert!(new != old && new.starts_with("whsec_"));

    on_event(&app.stack.state, &erased(clock.as_ref())).await.unwrap();
    let got = r.got();
    assert_eq!(got[0].header("webhook-signature").split(' ').count(), 2);
    assert!(got[0].verifies(&new) && got[0].verifies(&old), "both verify while the old one is honoured");
    clock.set(start + Duration::hours(23) + Duration::minutes(59));
    on_event(&app.stack.state, &erased(clock.as_ref())).await.unwrap();
    assert!(r.got()[1].signed_with(&new) && r.got()[1].signed_with(&old));
    clock.set(start + Duration::hours(24) + Duration::seconds(1));
    on_event(&app.stack.state, &erased(clock.as_ref())).await.unwrap();
    let late = &r.got()[2];
    assert_eq!(late.header("webhook-signature").split(' ').count(), 1);
    assert!(late.signed_with(&new) && !late.signed_with(&old), "after 24 hours only the new one signs");
    problem(app.post("/api/webhooks/01ARZ3NDEKTSV4RRFFQ69G5FAV/rotate").bearer_auth(&admin).send().await.unwrap(), 404)
        .await;
}

#[tokio::test]
async fn an_endpoint_failing_for_five_days_is_disabled_and_the_admin_is_told() {
    let start = Utc::now();
    let (app, clock) = spawn_app_at(start).await;
    let admin = app.token("admin").await;
    let broken = Receiver::start(&[500; 20]).await;
    let hook = register(&app, &admin, json!({"url": broken.url, "events": ["*"], "description": "Old HRIS"})).await;
    let id = hook["id"].as_str().unwrap();
    on_event(&app.stack.state, &erased(clock.as_ref())).await.unwrap();
    let hook_now: Value = app.get_json(&format!("/api/webhooks/{id}"), &admin).await;
    assert_eq!(
        time(&hook_now["failing_since"]),
        DateTime::parse_from_rfc3339(&rapport::clock::rfc3339(start)).unwrap()
    );

    clock.set(start + Duration::days(5) - Duration::minutes(1));
    on_event(&app.stack.state, &erased(clock.as_ref())).await.unwrap();
    assert_eq!(app.get_json(&format!("/api/webhooks/{id}"), &admin).await["enabled"], true);

    clock.set(start + Duration::days(5));
    let (done, calls) = rapport::aws::count_calls(on_event(&app.stack.state, &erased(clock.as_ref()))).await;
    done.unwrap();
    assert_eq!(
        calls.summary(),
        "dynamodb.Query,dynamodb.PutItem,dynamodb.UpdateItem,dynamodb.UpdateItem,sesv2.SendEmail"
    );
    let off: Value = app.get_json(&format!("/api/webhooks/{id}"), &admin).await;
    assert_eq!((off["enabled"].clone(), off["disabled_reason"].clone()), (json!(false), json!("failing")));
    let admin_address = format!("admin@{}.example", app.stack.name_prefix);
    let mails = app.emails_to(&admin_address).await;
    assert_eq!(mails.len(), 1, "one email, from the one disable");
    assert!(mails[0]["subject"].as_str().unwrap().contains("webhook endpoint was disabled"));
    let text = mails[0]["text"].as_str().unwrap();
    assert!(text.contains(&broken.url) && text.contains(id) && text.contains("Old HRIS"), "{text}");

    // Disabled: an event reaches it no more, and a retry due for it is given up.
    let sent = broken.got().len();
    on_event(&app.stack.state, &erased(clock.as_ref())).await.unwrap();
    let (report, _) = run_at(&app, start + Duration::days(6)).await;
    assert_eq!(broken.got().len(), sent);
    assert!(report["abandoned"].as_u64().unwrap() >= 1, "{report}");
    assert!(log(&app, &admin, id).await.iter().all(|d| d["status"] != "pending"));
    assert_eq!(app.emails_to(&admin_address).await.len(), 1);

    // Enabled again, it starts afresh.
    let res = app.patch(&format!("/api/webhooks/{id}")).bearer_auth(&admin).json(&json!({"enabled": true})).send();
    let on: Value = res.await.unwrap().json().await.unwrap();
    assert_eq!((on["enabled"].clone(), on["failing_since"].clone()), (json!(true), Value::Null));
}

#[tokio::test]
async fn internal_addresses_are_refused_at_delivery_when_strict() {
    let app = spawn_app().await;
    let admin = app.token("admin").await;
    let r = Receiver::start(&[]).await;
    let st = strict(&app);
    // A name is accepted when registered and refused once it resolves to 127.0.0.1.
    let input = NewEndpoint::parse(
        json!({"url": format!("https://localhost:{}/hook", r.port()), "events": ["*"]}),
        st.config.webhook_reach(),
    )
    .unwrap();
    let (by_name, _) = rapport::app::webhooks::create(&st, input).await.unwrap();
    // An IP literal the local stack registered: production settings never connect to it either.
    let literal = register(&app, &admin, json!({"url": r.url, "events": ["*"]})).await;
    let event = erased(&rapport::clock::SystemClock);
    on_event(&st, &event).await.unwrap();
    assert!(r.got().is_empty(), "nothing reached the receiver on 127.0.0.1");
    for id in [by_name.id.to_string(), literal["id"].as_str().unwrap().to_string()] {
        let entry = log(&app, &admin, &id).await[0].clone();
        assert_eq!((entry["status"].as_str(), entry["last_response_code"].clone()), (Some("pending"), Value::Null));
        assert!(entry["last_error"].as_str().unwrap().starts_with("refused"), "{entry}");
    }
    let outcome = rapport::app::webhooks::ping(&st, &by_name.id).await.unwrap();
    assert!(outcome.status.is_none() && outcome.error.unwrap().starts_with("refused"));
    // The link-local metadata address and a private one, as literals.
    for url in ["http://169.254.169.254/latest/meta-data/", "http://10.0.0.1/", "http://[::ffff:127.0.0.1]:1/"] {
        let url = rapport::webhook::WebhookUrl::parse(url, Reach::Anywhere).unwrap();
        let outcome = st.outbound.post(&url, &[], "{}").await;
        assert!(outcome.error.unwrap().starts_with("refused"), "{url:?}");
    }
    // The local stack's own settings reach it (over plain http: the https endpoint by name still fails,
    // as the receiver speaks no TLS).
    on_event(&app.stack.state, &erased(&rapport::clock::SystemClock)).await.unwrap();
    assert_eq!(r.got().len(), 1);
}

#[tokio::test]
async fn a_replay_sends_the_same_webhook_id_again_and_a_ping_answers_the_receivers_status() {
    let app = spawn_app().await;
    let admin = app.token("admin").await;
    let r = Receiver::start(&[200, 200, 418]).await;
    let hook = register(&app, &admin, json!({"url": r.url, "events": ["*"]})).await;
    let (id, secret) = (hook["id"].as_str().unwrap(), hook["secret"].as_str().unwrap());
    let event = erased(&rapport::clock::SystemClock);
    on_event(&app.stack.state, &event).await.unwrap();

    let res = app
        .post(&format!("/api/webhooks/{id}/deliveries/{}/replay", event.id))
        .bearer_auth(&admin)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(calls(&res), vec!["dynamodb.BatchGetItem", "dynamodb.UpdateItem"]);
    let replayed: Value = res.json().await.unwrap();
    assert_eq!((replayed["status"].as_str(), replayed["attempts"].as_u64()), (Some("delivered"), Some(2)));
    let got = r.got();
    assert_eq!(got.len(), 2);
    assert_eq!(got[1].header("webhook-id"), event.id.to_string());
    assert_eq!(got[1].body, got[0].body);
    assert!(got[1].verifies(secret));
    let res = app
        .post(&format!("/api/webhooks/{id}/deliveries/{}/replay", ulid::Ulid::generate()))
        .bearer_auth(&admin)
        .send()
        .await
        .unwrap();
    problem(res, 404).await;

    let res = app.post(&format!("/api/webhooks/{id}/test")).bearer_auth(&admin).send().await.unwrap();
    assert_eq!(calls(&res), vec!["dynamodb.GetItem"]);
    let ping: Value = res.json().await.unwrap();
    assert_eq!(ping, json!({"delivered": false, "response_code": 418, "error": null}));
    let p = &r.got()[2];
    assert!(p.verifies(secret));
    let body: Value = serde_json::from_str(&p.body).unwrap();
    assert_eq!((body["type"].as_str(), body["data"]["webhook_id"].as_str()), (Some("webhook.test"), Some(id)));
    assert_ne!(p.header("webhook-id"), event.id.to_string());
    assert_eq!(log(&app, &admin, id).await.len(), 1, "a ping is not logged");
    let ping: Value =
        app.post(&format!("/api/webhooks/{id}/test")).bearer_auth(&admin).send().await.unwrap().json().await.unwrap();
    assert_eq!(ping["delivered"], true);

    // A disabled endpoint is not replayed to.
    let res = app.patch(&format!("/api/webhooks/{id}")).bearer_auth(&admin).json(&json!({"enabled": false})).send();
    assert_eq!(res.await.unwrap().status(), 200);
    let res = app
        .post(&format!("/api/webhooks/{id}/deliveries/{}/replay", event.id))
        .bearer_auth(&admin)
        .send()
        .await
        .unwrap();
    problem(res, 409).await;
    assert!(app.stack.iam.refused().is_empty(), "{:?}", app.stack.iam.refused());
}

#[tokio::test]
async fn the_delivery_log_pages_newest_first() {
    let app = spawn_app().await;
    let admin = app.token("admin").await;
    let r = Receiver::start(&[]).await;
    let hook = register(&app, &admin, json!({"url": r.url, "events": ["candidate.erased"]})).await;
    let id = hook["id"].as_str().unwrap();
    let mut ids = Vec::new();
    // Events a second apart (their ULIDs sort by time).
    let clock = rapport::clock::FixedClock::new(Utc::now());
    for _ in 0..5 {
        clock.advance(Duration::seconds(1));
        let e = erased(&clock);
        ids.push(e.id.to_string());
        on_event(&app.stack.state, &e).await.unwrap();
    }
    ids.reverse();
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let mut req = app.get(&format!("/api/webhooks/{id}/deliveries?limit=2")).bearer_auth(&admin);
        if let Some(c) = &cursor {
            req = req.query(&[("cursor", c)]);
        }
        let res = req.send().await.unwrap();
        assert_eq!(calls(&res), vec!["dynamodb.GetItem", "dynamodb.Query"]);
        let page: Value = res.json().await.unwrap();
        seen.extend(page["items"].as_array().unwrap().iter().map(|d| d["event_id"].as_str().unwrap().to_string()));
        match page["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_string()),
            None => break,
        }
    }
    assert_eq!(seen, ids);
    let res =
        app.get(&format!("/api/webhooks/{id}/deliveries?cursor=forged")).bearer_auth(&admin).send().await.unwrap();
    assert_eq!(error_fields(&problem(res, 422).await), vec!["cursor"]);
    let res = app.get("/api/webhooks/01ARZ3NDEKTSV4RRFFQ69G5FAV/deliveries").bearer_auth(&admin).send().await.unwrap();
    problem(res, 404).await;
}

#[tokio::test]
async fn a_pending_delivery_of_a_deleted_webhook_endpoint_is_given_up_while_others_are_retried() {
    let app = spawn_app().await;
    let admin = app.token("admin").await;
    let (down, flaky) = (Receiver::start(&[500; 5]).await, Receiver::start(&[500]).await);
    let hook = register(&app, &admin, json!({"url": down.url, "events": ["*"]})).await;
    let other = register(&app, &admin, json!({"url": flaky.url, "events": ["*"]})).await;
    let id: rapport::ids::WebhookId = hook["id"].as_str().unwrap().parse().unwrap();
    let event = erased(&rapport::clock::SystemClock);
    on_event(&app.stack.state, &event).await.unwrap();
    let pending = app.stack.state.store.delivery(&id, &event.id).await.unwrap().unwrap();
    let res = app.http.delete(format!("{}/api/webhooks/{id}", app.url)).bearer_auth(&admin).send().await.unwrap();
    assert_eq!(res.status(), 204);
    let (report, mut calls) = run_at(&app, pending.next_attempt_at.unwrap()).await;
    assert_eq!((report["abandoned"].as_u64(), report["delivered"].as_u64()), (Some(1), Some(1)), "{report}");
    // The due page, the endpoints; the one given up, the other's attempt and the end of its streak.
    calls.sort();
    assert_eq!(
        calls,
        ["dynamodb.Query", "dynamodb.Query", "dynamodb.UpdateItem", "dynamodb.UpdateItem", "dynamodb.UpdateItem"]
    );
    assert_eq!((down.got().len(), flaky.got().len()), (1, 2), "nothing more to the deleted one");
    let given_up = app.stack.state.store.delivery(&id, &event.id).await.unwrap().unwrap();
    assert_eq!(given_up.status, rapport::webhook::DeliveryStatus::Failed);
    assert_eq!((given_up.attempts, given_up.last_error.as_deref()), (1, Some("the endpoint was deleted")));
    let delivered = log(&app, &admin, other["id"].as_str().unwrap()).await[0].clone();
    assert_eq!((delivered["status"].as_str(), delivered["attempts"].as_u64()), (Some("delivered"), Some(2)));
    let (report, _) = run_at(&app, pending.next_attempt_at.unwrap() + Duration::days(1)).await;
    assert_eq!(report["abandoned"].as_u64(), Some(0), "off the due list");
}

#[test]
fn an_endpoint_may_subscribe_to_every_documented_event_type_and_only_those() {
    let path = format!("{}/../infra/openapi.yaml", env!("CARGO_MANIFEST_DIR"));
    let doc: Value = serde_yaml::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let mut documented: Vec<&str> = doc["components"]["schemas"]["WebhookEvents"]["items"]["enum"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    let mut kinds: Vec<&str> = EventType::ALL.iter().map(|t| t.as_str()).chain(["*"]).collect();
    documented.sort();
    kinds.sort();
    assert_eq!(documented, kinds, "WebhookEvents lists \"*\" and every event type");
    for kind in EventType::ALL {
        let body = json!({"url": "https://hooks.example.com/", "events": [kind.as_str()]});
        assert!(NewEndpoint::parse(body, Reach::Public).unwrap().events.includes(*kind));
    }
}

#[tokio::test]
async fn applying_hiring_and_erasing_reach_a_receiver_through_the_stream_signed_and_in_order() {
    let app = spawn_app().await;
    let (admin, token) = (app.token("admin").await, app.token("recruiter").await);
    let receiver = Receiver::start(&[]).await;
    let hook = register(&app, &admin, json!({"url": receiver.url, "events": ["*"], "description": "HRIS"})).await;
    let secret = hook["secret"].as_str().unwrap();
    let job = app.open_job(&token, |_| {}).await;
    let email = format!("hris.{}@example.com", ulid::Ulid::generate().to_string().to_lowercase());
    let body = json!({"first_name": "Ada", "last_name": "Lovelace", "email": email, "consent": {"processing": true}});
    let res = app.post(&format!("/careers/jobs/{job}/applications")).json(&body).send().await.unwrap();
    let ids: Value = res.json().await.unwrap();
    let (id, candidate) = (ids["application_id"].as_str().unwrap(), ids["candidate_id"].as_str().unwrap());
    assert_eq!(app.transition(&token, id, json!({"to": "hired", "expected_version": 1})).await.status(), 200);
    let res = app.http.delete(format!("{}/api/candidates/{candidate}", app.url)).bearer_auth(&admin).send().await;
    assert!(res.unwrap().status().is_success());
    assert!(receiver.got().is_empty(), "nothing is delivered from a request");

    // The stream, as Lambda's mapping hands it to the events function.
    let poll = app.run_events().await;
    assert_eq!(poll["on_failure"], json!([]), "{poll}");
    let got = receiver.got();
    let bodies: Vec<Value> = got.iter().map(|r| serde_json::from_str(&r.body).unwrap()).collect();
    let kinds: Vec<&str> = bodies.iter().map(|b| b["type"].as_str().unwrap()).collect();
    assert_eq!(
        kinds,
        vec![
            "job.published",
            "application.created",
            "application.stage_changed",
            "application.hired",
            "candidate.erased"
        ],
        "each event once, in the order the changes were made"
    );
    for (r, b) in got.iter().zip(&bodies) {
        assert!(r.verifies(secret), "the reference library verifies {}", b["type"]);
        assert_eq!(r.header("webhook-id"), b["id"].as_str().unwrap(), "the event id is the webhook id");
        assert!(!r.body.contains(&email) && !r.body.contains("Lovelace"), "no personal data: {}", r.body);
    }
    assert_eq!(bodies[1]["data"]["candidate_id"], json!(candidate));
    assert_eq!(bodies[4]["data"], json!({"candidate_id": candidate}), "the erasure names the id alone");
    // Event ids are ULIDs in time order (the order receivers sort by: in AWS the stream keeps the
    // order of each item's own changes, not across items).
    let ids: Vec<&str> = bodies.iter().map(|b| b["id"].as_str().unwrap()).collect();
    let times: Vec<&str> = bodies.iter().map(|b| b["timestamp"].as_str().unwrap()).collect();
    assert!(times.windows(2).all(|w| w[0] <= w[1]), "{times:?}");
    assert_eq!(ids.len(), 5);

    // Handled once: the stream read again delivers nothing more.
    app.run_events().await;
    assert_eq!(receiver.got().len(), 5);
}
