//! Failed deliveries: retried on the schedule until received or given up, an endpoint failing
//! for five days disabled (and the admin told), and a deleted endpoint's retries dropped.
use super::{erased, log, register, run_at, Receiver};
use crate::helpers::*;
use chrono::{DateTime, Duration, Utc};
use rapport::app::webhooks::on_event;
use serde_json::{json, Value};

fn time(v: &Value) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(v.as_str().unwrap()).unwrap().with_timezone(&Utc)
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
