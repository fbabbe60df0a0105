//! An event's delivery: signed, once to each subscribed endpoint, by the old secret too for a day
//! after a rotation, never to an internal address in production, and in order from the stream.
use super::{erased, log, register, run_at, strict, Receiver};
use crate::helpers::*;
use chrono::{DateTime, Duration, Utc};
use rapport::app::webhooks::on_event;
use rapport::event::{Event, EventType};
use rapport::webhook::{NewEndpoint, Reach};
use serde_json::{json, Value};

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
