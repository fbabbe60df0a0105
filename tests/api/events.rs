//! The outbox: each change writes its events in the transaction that makes it (`EVENT#<id>` items,
//! which the table's stream carries on), with ids, stages and codes only, never personal data.
use crate::helpers::*;
use serde_json::{json, Value};

/// Every event in the table, oldest first (by time, then type), as (type, data).
async fn events(app: &TestApp) -> Vec<(String, Value)> {
    let mut out: Vec<(String, String, Value)> = app
        .scan_table()
        .await
        .iter()
        .filter(|i| i.get("pk").and_then(|v| v.as_s().ok()).is_some_and(|p| p.starts_with("EVENT#")))
        .filter(|i| i.get("sk").and_then(|v| v.as_s().ok()).is_some_and(|s| s == "EVENT"))
        .map(|i| {
            let text = |k: &str| i.get(k).and_then(|v| v.as_s().ok()).cloned().unwrap_or_default();
            assert!(i.get("ttl").and_then(|v| v.as_n().ok()).is_some(), "an event item expires");
            (text("at"), text("type"), serde_json::from_str(&text("data")).unwrap())
        })
        .collect();
    out.sort_by(|a, b| (&a.0, &a.1).cmp(&(&b.0, &b.1)));
    out.into_iter().map(|(_, t, d)| (t, d)).collect()
}

/// The OpenAPI document's schema of a webhook's `data`, as JSON.
fn documented(kind: &str) -> Value {
    let path = format!("{}/../infra/openapi.yaml", env!("CARGO_MANIFEST_DIR"));
    let doc: Value = serde_yaml::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let schema = &doc["webhooks"][kind]["post"]["requestBody"]["content"]["application/json"]["schema"];
    assert_eq!(schema["properties"]["type"]["const"], kind, "{kind} is documented in the webhooks section");
    schema["properties"]["data"].clone()
}

/// Checks an event's data against its documented schema: every required field, no other field, and
/// values within an `enum`.
fn assert_documented(kind: &str, data: &Value) {
    let schema = documented(kind);
    let fields = data.as_object().unwrap();
    for r in schema["required"].as_array().unwrap() {
        assert!(fields.contains_key(r.as_str().unwrap()), "{kind}: {r} is missing from {data}");
    }
    for (k, v) in fields {
        let p = &schema["properties"][k];
        assert!(!p.is_null(), "{kind}: {k} is not documented");
        if let Some(allowed) = p["enum"].as_array() {
            assert!(allowed.contains(v), "{kind}: {k} = {v} is not one of {allowed:?}");
        }
    }
}

/// The candidate id of an application, as its record says.
async fn res_candidate(app: &TestApp, id: &str) -> String {
    let a = app.stack.state.store.get_application(&id.parse().unwrap()).await.unwrap().unwrap();
    a.candidate_id.to_string()
}

fn types(list: &[(String, Value)]) -> Vec<&str> {
    list.iter().map(|(t, _)| t.as_str()).collect()
}

#[tokio::test]
async fn applying_moving_and_job_changes_write_their_events_with_no_personal_data() {
    let app = spawn_app().await;
    let token = app.token("recruiter").await;
    let hm = app.token_for(json!({"role": "hiring_manager", "sub": "hm-on-team"})).await;
    let job = app.create_job(&token, job_body()).await["id"].as_str().unwrap().to_string();
    assert!(events(&app).await.is_empty(), "a draft job's creation is no event");
    app.publish(&token, &job).await;
    let email = format!("ev.{}@example.com", ulid::Ulid::generate().to_string().to_lowercase());
    let body = json!({"first_name": "Grace", "last_name": "Hopper", "email": email,
                      "consent": {"processing": true, "talent_pool": false},
                      "source": {"utm_source": "indeed", "utm_medium": "job_board"}});
    let url = format!("/careers/jobs/{job}/applications");
    let res = app.post(&url).json(&body).send().await.unwrap();
    assert_eq!(res.status(), 201);
    let ids: Value = res.json().await.unwrap();
    let id = ids["application_id"].as_str().unwrap().to_string();
    // The same application again: no second record, so no second event.
    assert_eq!(app.post(&url).json(&body).send().await.unwrap().status(), 201);

    let move_to =
        |body: Value| app.post(&format!("/api/applications/{id}/transitions")).bearer_auth(&token).json(&body).send();
    assert_eq!(move_to(json!({"to": "screen", "expected_version": 1})).await.unwrap().status(), 200);
    problem(move_to(json!({"to": "offer", "expected_version": 1})).await.unwrap(), 409).await;
    let res = app
        .post(&format!("/api/applications/{id}/interviews"))
        .bearer_auth(&token)
        .json(&json!({"scheduled_at": "2026-12-01T10:00:00Z", "kind": "video", "interviewers": ["hm-on-team"]}))
        .send()
        .await
        .unwrap();
    let iid = res.json::<Value>().await.unwrap()["id"].as_str().unwrap().to_string();
    let res = app
        .post(&format!("/api/interviews/{iid}/feedback"))
        .bearer_auth(&hm)
        .json(&json!({"rating": 4, "recommendation": "yes", "notes": "Grace was calm under pressure"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201);
    let reject = json!({"to": "rejected", "expected_version": 2,
                        "reason": {"category": "rejected_by_org", "code": "not_a_fit", "note": "Grace lacks RN"}});
    assert_eq!(move_to(reject).await.unwrap().status(), 200);
    let patch = json!({"expected_version": 2, "title": "Senior Registered Nurse"});
    assert_eq!(
        app.patch(&format!("/api/jobs/{job}")).bearer_auth(&token).json(&patch).send().await.unwrap().status(),
        200
    );
    let res = app.post(&format!("/api/jobs/{job}/close")).bearer_auth(&token).json(&json!({"reason": "filled"})).send();
    assert_eq!(res.await.unwrap().status(), 200);

    let all = events(&app).await;
    let mut kinds = types(&all);
    kinds.sort();
    assert_eq!(
        kinds,
        vec![
            "application.created",
            "application.rejected",
            "application.stage_changed",
            "application.stage_changed",
            "feedback.submitted",
            "interview.scheduled",
            "job.closed",
            "job.published",
            "job.updated",
        ],
        "one event a change, none for a refused move or a repeated application"
    );
    let of = |t: &str| all.iter().filter(|(k, _)| k == t).map(|(_, d)| d.clone()).collect::<Vec<_>>();
    let created = &of("application.created")[0];
    assert_eq!(
        (created["application_id"].as_str(), created["job_id"].as_str()),
        (Some(id.as_str()), Some(job.as_str()))
    );
    assert_eq!((created["disposition"].as_str(), created["source"]["source"].as_str()), (Some("NEW"), Some("indeed")));
    let changes = of("application.stage_changed");
    let steps: Vec<(&str, &str, &str, &str)> = changes
        .iter()
        .map(|c| {
            (
                c["from"].as_str().unwrap(),
                c["to"].as_str().unwrap(),
                c["stage_kind"].as_str().unwrap(),
                c["disposition"].as_str().unwrap(),
            )
        })
        .collect();
    assert!(steps.contains(&("applied", "screen", "screen", "CONTACTED")), "{steps:?}");
    assert!(steps.contains(&("screen", "rejected", "exit", "REJECTED")), "{steps:?}");
    assert_eq!(of("application.rejected")[0]["reason"], json!({"category": "rejected_by_org", "code": "not_a_fit"}));
    assert_eq!(of("job.closed")[0]["close_reason"], "filled");
    assert_eq!(of("feedback.submitted")[0]["recommendation"], "yes");

    for (kind, data) in &all {
        assert_documented(kind, data);
    }
    let text = serde_json::to_string(&all).unwrap();
    for personal in [email.as_str(), "Grace", "Hopper", "calm under pressure", "lacks RN"] {
        assert!(!text.contains(personal), "an event carries {personal:?}: {text}");
    }
}

#[tokio::test]
async fn a_hire_and_an_erasure_write_their_events_in_order_with_ids_only() {
    let app = spawn_app().await;
    let token = app.token("recruiter").await;
    let job = app.open_job(&token, |_| {}).await;
    let email = format!("hire.{}@example.com", ulid::Ulid::generate().to_string().to_lowercase());
    let body = json!({"first_name": "Ada", "last_name": "Lovelace", "email": email, "consent": {"processing": true}});
    let res = app.post(&format!("/careers/jobs/{job}/applications")).json(&body).send().await.unwrap();
    let id = res.json::<Value>().await.unwrap()["application_id"].as_str().unwrap().to_string();
    let res = app.transition(&token, &id, json!({"to": "hired", "expected_version": 1})).await;
    assert_eq!(res.status(), 200);
    let ops: Vec<String> = calls(&res).into_iter().filter(|c| c.starts_with("dynamodb.Transact")).collect();
    assert_eq!(ops, vec!["dynamodb.TransactWriteItems"], "the events go in the move's one transaction");
    // Erasing the candidate: one `candidate.erased`, ids only; erasing again writes no second.
    let admin = app.token("admin").await;
    let cid = res_candidate(&app, &id).await;
    for _ in 0..2 {
        let res =
            app.http.delete(format!("{}/api/candidates/{cid}", app.url)).bearer_auth(&admin).send().await.unwrap();
        assert!(res.status().is_success(), "{}", res.status());
    }
    let all = events(&app).await;
    assert_eq!(types(&all).last(), Some(&"candidate.erased"), "{all:?}");
    let erased: Vec<&Value> = all.iter().filter(|(t, _)| t == "candidate.erased").map(|(_, d)| d).collect();
    assert_eq!(erased, vec![&json!({"candidate_id": cid})]);
    for (kind, data) in &all {
        assert_documented(kind, data);
    }
    assert!(!serde_json::to_string(&all).unwrap().contains(&email), "no event names the person");
    let hire: Vec<&(String, Value)> =
        all.iter().filter(|(t, _)| t.starts_with("application.") && t != "application.created").collect();
    let mut kinds: Vec<&str> = hire.iter().map(|(t, _)| t.as_str()).collect();
    kinds.sort();
    assert_eq!(kinds, vec!["application.hired", "application.stage_changed"]);
    let change = &hire.iter().find(|(t, _)| t == "application.stage_changed").unwrap().1;
    assert_eq!((change["stage_kind"].as_str(), change["disposition"].as_str()), (Some("hired"), Some("HIRED")));
}

#[test]
fn the_webhooks_section_documents_every_event_type() {
    let path = format!("{}/../infra/openapi.yaml", env!("CARGO_MANIFEST_DIR"));
    let doc: Value = serde_yaml::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let mut names: Vec<&str> = doc["webhooks"].as_object().unwrap().keys().map(String::as_str).collect();
    names.sort();
    let mut kinds: Vec<&str> = rapport::event::EventType::ALL.iter().map(|k| k.as_str()).collect();
    kinds.sort();
    assert_eq!(names, kinds, "the webhooks section documents every event type, and only those");
}

#[tokio::test]
async fn a_prospect_added_and_unsubscribed_is_one_event_each_and_a_repeat_none() {
    let app = spawn_app().await;
    let token = app.token("recruiter").await;
    let email = format!("pool.{}@example.com", ulid::Ulid::generate().to_string().to_lowercase());
    let body = json!({"email": email, "first_name": "Mary", "consent": true});
    let res = app.post("/api/prospects").bearer_auth(&token).json(&body).send().await.unwrap();
    assert_eq!(res.status(), 201);
    let p: Value = res.json().await.unwrap();
    problem(app.post("/api/prospects").bearer_auth(&token).json(&body).send().await.unwrap(), 409).await;
    // Unsubscribing through a link twice: one event, the first time.
    let hash: rapport::email::EmailHash = p["id"].as_str().unwrap().parse().unwrap();
    let link = rapport::prospect::unsubscribe_token(app.stack.state.signer().await.unwrap(), &hash);
    for _ in 0..2 {
        let res = app.post("/careers/unsubscribe").query(&[("token", &link)]).send().await.unwrap();
        assert_eq!(res.status(), 200);
    }
    let all = events(&app).await;
    assert_eq!(
        all,
        vec![
            ("prospect.created".to_string(), json!({"prospect_id": p["id"], "status": "active"})),
            ("prospect.unsubscribed".to_string(), json!({"prospect_id": p["id"]})),
        ]
    );
    for (kind, data) in &all {
        assert_documented(kind, data);
    }
}

#[tokio::test]
async fn a_withdrawal_is_the_stage_change_and_the_withdrawal_with_its_code_not_its_note() {
    let app = spawn_app().await;
    let token = app.token("recruiter").await;
    let job = app.open_job(&token, |_| {}).await;
    let email = format!("w.{}@example.com", ulid::Ulid::generate().to_string().to_lowercase());
    let body = json!({"first_name": "Ada", "last_name": "Lovelace", "email": email, "consent": {"processing": true}});
    let res = app.post(&format!("/careers/jobs/{job}/applications")).json(&body).send().await.unwrap();
    let id = res.json::<Value>().await.unwrap()["application_id"].as_str().unwrap().to_string();
    let withdraw = json!({"to": "withdrawn", "expected_version": 1, "reason":
                          {"category": "rejected_by_candidate", "code": "accepted_other_offer", "note": "Ada took Babbage's offer"}});
    let res = app.post(&format!("/api/applications/{id}/transitions")).bearer_auth(&token).json(&withdraw).send();
    assert_eq!(res.await.unwrap().status(), 200);
    let all = events(&app).await;
    let of =
        |t: &str| all.iter().find(|(k, _)| k == t).map(|(_, d)| d.clone()).unwrap_or_else(|| panic!("no {t}: {all:?}"));
    assert_eq!(
        of("application.withdrawn")["reason"],
        json!({"category": "rejected_by_candidate", "code": "accepted_other_offer"})
    );
    assert_eq!(
        (
            of("application.stage_changed")["stage_kind"].as_str(),
            of("application.stage_changed")["disposition"].as_str()
        ),
        (Some("exit"), Some("REJECTED"))
    );
    for (kind, data) in &all {
        assert_documented(kind, data);
    }
    assert!(!serde_json::to_string(&all).unwrap().contains("Babbage"), "never the note");
}
