//! The admins' webhook routes: endpoints registered and changed (bad input changes nothing), the
//! event types they may subscribe to, the delivery log, a replay and a ping.
use super::{erased, log, register, strict, Receiver};
use crate::helpers::*;
use chrono::{Duration, Utc};
use rapport::app::webhooks::on_event;
use rapport::event::EventType;
use rapport::webhook::{NewEndpoint, Reach};
use serde_json::{json, Value};

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
