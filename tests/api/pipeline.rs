use crate::helpers::*;
use rapport::email::Email;
use serde_json::{json, Value};

/// An open job (with a hiring manager `hm-on-team`) and one application to it.
async fn applied(app: &TestApp, talent_pool: bool) -> (String, String, String) {
    let token = app.token("recruiter").await;
    let job = app.create_job(&token, job_body()).await;
    let job_id = job["id"].as_str().unwrap().to_string();
    app.publish(&token, &job_id).await;
    let email = format!("cand.{}@example.com", ulid::Ulid::generate().to_string().to_lowercase());
    let body = json!({"first_name": "Ada", "last_name": "Lovelace", "email": email,
                      "consent": {"processing": true, "talent_pool": talent_pool},
                      "source": {"utm_source": "linkedin", "utm_medium": "job_board"}});
    let res = app.post(&format!("/careers/jobs/{job_id}/applications")).json(&body).send().await.unwrap();
    assert_eq!(res.status(), 201);
    let ids: Value = res.json().await.unwrap();
    (job_id, ids["application_id"].as_str().unwrap().to_string(), email)
}

async fn move_to(app: &TestApp, token: &str, id: &str, body: Value) -> reqwest::Response {
    app.post(&format!("/api/applications/{id}/transitions")).bearer_auth(token).json(&body).send().await.unwrap()
}

#[tokio::test]
async fn an_application_moves_to_hired_with_history_in_one_transaction_each() {
    let app = spawn_app().await;
    let token = app.token("recruiter").await;
    let (_, id, _) = applied(&app, false).await;
    for (i, stage) in ["screen", "interview", "offer", "hired"].iter().enumerate() {
        let res = move_to(&app, &token, &id, json!({"to": stage, "expected_version": i + 1})).await;
        assert_eq!(res.status(), 200);
        assert_eq!(
            calls(&res).iter().filter(|c| c.starts_with("dynamodb.")).cloned().collect::<Vec<_>>(),
            vec!["dynamodb.GetItem", "dynamodb.BatchGetItem", "dynamodb.TransactWriteItems"],
            "a transition is one read, one batch read and one write transaction, its audit entry in it"
        );
        let a: Value = res.json().await.unwrap();
        assert_eq!((a["stage"].as_str(), a["version"].as_u64()), (Some(*stage), Some(i as u64 + 2)));
    }
    let a: Value = app.get_json(&format!("/api/applications/{id}"), &token).await;
    assert_eq!(a["status"], "hired");
    assert_eq!(a["furthest_stage"], "hired");
    let history = a["history"].as_array().unwrap();
    let path: Vec<(&str, &str)> =
        history.iter().map(|h| (h["from"].as_str().unwrap(), h["to"].as_str().unwrap())).collect();
    assert_eq!(path, vec![("applied", "screen"), ("screen", "interview"), ("interview", "offer"), ("offer", "hired")]);
    assert!(history.iter().all(|h| h["by"] == "local-recruiter"));
    assert_eq!(a["candidate"]["first_name"], "Ada");
    assert_eq!(a["attribution"]["source"], "linkedin");
    assert!(a["resume_url"].is_null());

    // Every move is in the audit log, a refused one too (written on its own).
    let stale = move_to(&app, &token, &id, json!({"to": "rejected", "expected_version": 1})).await;
    assert_eq!(stale.status(), 409);
    let moves = app
        .stack
        .state
        .store
        .audit_day(chrono::Utc::now().date_naive())
        .await
        .unwrap()
        .iter()
        .filter(|i| i["action"].as_s().unwrap() == "POST /api/applications/{id}/transitions")
        .filter(|i| i["target"].as_s().unwrap() == &format!("/api/applications/{id}/transitions"))
        .count();
    assert_eq!(moves, 5, "four moves and a refused one");
}

#[tokio::test]
async fn moves_the_rules_forbid_are_422_and_change_nothing() {
    let app = spawn_app().await;
    let token = app.token("recruiter").await;
    let (_, id, _) = applied(&app, false).await;
    let cases = [
        (json!({"to": "applied", "expected_version": 1}), "to"),
        (json!({"to": "onsite_day", "expected_version": 1}), "to"),
        (json!({"to": "rejected", "expected_version": 1}), "reason"),
        (
            json!({"to": "rejected", "expected_version": 1, "reason": {"category": "rejected_by_org", "code": "bad_vibes"}}),
            "reason",
        ),
        (json!({"to": "screen", "expected_version": 1, "reason": {"category": "other", "code": "other"}}), "reason"),
        (json!({"to": "screen", "expected_version": 1, "keep_in_touch": true}), "keep_in_touch"),
        (json!({"to": "screen"}), "expected_version"),
        (json!({"to": "screen", "expected_version": 1, "stage": "x"}), "stage"),
    ];
    for (body, field) in cases {
        let res = move_to(&app, &token, &id, body.clone()).await;
        assert_eq!(error_fields(&problem(res, 422).await), vec![field], "{body}");
    }
    assert_eq!(move_to(&app, &token, &id, json!({"to": "hired", "expected_version": 1})).await.status(), 200);
    let res = move_to(&app, &token, &id, json!({"to": "offer", "expected_version": 2})).await;
    assert_eq!(error_fields(&problem(res, 422).await), vec!["to"], "nothing leaves hired");
    let res = move_to(
        &app,
        &token,
        &id,
        json!({"to": "rejected", "expected_version": 2, "reason": {"category": "other", "code": "other"}}),
    )
    .await;
    assert_eq!(error_fields(&problem(res, 422).await), vec!["to"]);
    let a: Value = app.get_json(&format!("/api/applications/{id}"), &token).await;
    assert_eq!((a["version"].as_u64(), a["history"].as_array().unwrap().len()), (Some(2), 1));
}

#[tokio::test]
async fn fifty_concurrent_moves_of_one_version_have_exactly_one_winner() {
    let app = spawn_app().await;
    let token = app.token("recruiter").await;
    let (_, id, _) = applied(&app, false).await;
    let url = format!("/api/applications/{id}/transitions");
    let moves = (0..50).map(|i| {
        let to = ["screen", "interview", "offer"][i % 3];
        app.post(&url).bearer_auth(&token).json(&json!({"to": to, "expected_version": 1})).send()
    });
    let codes: Vec<u16> =
        futures_util::future::join_all(moves).await.into_iter().map(|r| r.unwrap().status().as_u16()).collect();
    assert_eq!(codes.iter().filter(|c| **c == 200).count(), 1, "{codes:?}");
    assert_eq!(codes.iter().filter(|c| **c == 409).count(), 49, "{codes:?}");
    let a: Value = app.get_json(&format!("/api/applications/{id}"), &token).await;
    assert_eq!(a["history"].as_array().unwrap().len(), 1);
    assert_eq!(a["version"], 2);
}

#[tokio::test]
async fn a_silver_medalist_with_consent_joins_the_pool_with_the_furthest_stage() {
    let app = spawn_app().await;
    let token = app.token("recruiter").await;
    let (_, id, email) = applied(&app, true).await;
    move_to(&app, &token, &id, json!({"to": "interview", "expected_version": 1})).await;
    move_to(&app, &token, &id, json!({"to": "offer", "expected_version": 2})).await;
    let res = move_to(
        &app,
        &token,
        &id,
        json!({"to": "rejected", "expected_version": 3, "keep_in_touch": true, "tags": ["strong-icu"],
        "reason": {"category": "rejected_by_org", "code": "preferred_another_candidate", "note": "close second"}}),
    )
    .await;
    assert_eq!(res.status(), 200);
    let a: Value = res.json().await.unwrap();
    assert_eq!((a["status"].as_str(), a["furthest_stage"].as_str()), (Some("rejected"), Some("offer")));
    let st = &app.stack.state;
    let p = st
        .store
        .prospect_by_email_hash(&st.email_hash(&Email::parse(&email).unwrap()).await.unwrap())
        .await
        .unwrap()
        .expect("a prospect");
    assert_eq!(p["status"].as_s().unwrap(), "active");
    assert_eq!(p["origins"].as_ss().unwrap(), &vec!["silver_medalist".to_string()]);
    let medal: Value = serde_json::from_str(p["silver_medal"].as_s().unwrap()).unwrap();
    assert_eq!(medal["furthest_stage"], "offer");
    assert_eq!(medal["reason"]["code"], "preferred_another_candidate");
    assert_eq!(medal["tags"], json!(["strong-icu"]));
}

#[tokio::test]
async fn a_silver_medalist_without_consent_gets_one_request_and_joins_only_by_confirming() {
    let app = spawn_app().await;
    let token = app.token("recruiter").await;
    let (_, id, email) = applied(&app, false).await;
    let res = move_to(
        &app,
        &token,
        &id,
        json!({"to": "withdrawn", "expected_version": 1, "keep_in_touch": true,
        "reason": {"category": "rejected_by_candidate", "code": "timing"}}),
    )
    .await;
    assert_eq!(res.status(), 200);
    let st = &app.stack.state;
    let hash = st.email_hash(&Email::parse(&email).unwrap()).await.unwrap();
    let p = st.store.prospect_by_email_hash(&hash).await.unwrap().unwrap();
    assert_eq!(p["status"].as_s().unwrap(), "pending_consent");
    assert!(!p.contains_key("origins"), "not in the pool before confirming");
    let all: Value = app.emails().await;
    let asks: Vec<&Value> = all["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["to"] == json!([email]) && e["subject"].as_str().unwrap_or("").contains("keep in touch"))
        .collect();
    assert_eq!(asks.len(), 1);
    let link = asks[0]["text"]
        .as_str()
        .unwrap()
        .split_whitespace()
        .find(|w| w.contains("confirm?token="))
        .unwrap()
        .to_string();
    let page = app.confirm(link.strip_prefix(&app.url).unwrap()).await;
    assert_eq!(page.status(), 200);
    let p = st.store.prospect_by_email_hash(&hash).await.unwrap().unwrap();
    assert_eq!(p["status"].as_s().unwrap(), "active");
    assert_eq!(p["origins"].as_ss().unwrap(), &vec!["silver_medalist".to_string()]);
    let medal: Value = serde_json::from_str(p["silver_medal"].as_s().unwrap()).unwrap();
    assert_eq!(medal["furthest_stage"], "applied");
}

#[tokio::test]
async fn a_hiring_manager_reads_their_jobs_applications_and_moves_nothing() {
    let app = spawn_app().await;
    let hm = app.token_for(json!({"role": "hiring_manager", "sub": "hm-on-team"})).await;
    let other_hm = app.token_for(json!({"role": "hiring_manager", "sub": "someone-else"})).await;
    let (job, id, _) = applied(&app, false).await;
    assert_eq!(app.get(&format!("/api/applications/{id}")).bearer_auth(&hm).send().await.unwrap().status(), 200);
    let list: Value = app.get_json(&format!("/api/jobs/{job}/applications"), &hm).await;
    assert_eq!(list["items"].as_array().unwrap().len(), 1);
    problem(move_to(&app, &hm, &id, json!({"to": "screen", "expected_version": 1})).await, 403).await;
    problem(app.get(&format!("/api/applications/{id}")).bearer_auth(&other_hm).send().await.unwrap(), 404).await;
    problem(app.get(&format!("/api/jobs/{job}/applications")).bearer_auth(&other_hm).send().await.unwrap(), 404).await;
    problem(move_to(&app, &other_hm, &id, json!({"to": "screen", "expected_version": 1})).await, 404).await;
}

#[tokio::test]
async fn a_jobs_applications_list_by_stage_and_status_a_page_at_a_time() {
    let app = spawn_app().await;
    let token = app.token("recruiter").await;
    let (job, first, _) = applied(&app, false).await;
    for i in 0..4 {
        let body = json!({"first_name": "B", "last_name": "C", "email": format!("{i}.{}@example.com", ulid::Ulid::generate().to_string().to_lowercase()),
                          "consent": {"processing": true}});
        assert_eq!(
            app.post(&format!("/careers/jobs/{job}/applications")).json(&body).send().await.unwrap().status(),
            201
        );
    }
    move_to(&app, &token, &first, json!({"to": "screen", "expected_version": 1})).await;
    let get = |q: String| {
        let req = app.get(&format!("/api/jobs/{job}/applications?{q}")).bearer_auth(&token);
        async move {
            let res = req.send().await.unwrap();
            assert_eq!(calls(&res).iter().filter(|c| c.ends_with(".Query")).count(), 1);
            res.json::<Value>().await.unwrap()
        }
    };
    assert_eq!(get("stage=screen".into()).await["items"].as_array().unwrap().len(), 1);
    assert_eq!(get("stage=applied".into()).await["items"].as_array().unwrap().len(), 4);
    assert_eq!(get("status=active".into()).await["items"].as_array().unwrap().len(), 5);
    let page = get("limit=2".into()).await;
    assert_eq!(page["items"].as_array().unwrap().len(), 2);
    let next = page["next_cursor"].as_str().unwrap();
    let page2 = get(format!("limit=2&cursor={next}")).await;
    assert_eq!(page2["items"].as_array().unwrap().len(), 2);
    let res = app
        .get(&format!("/api/jobs/{job}/applications?status=lost&stage=nope"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    let mut fields = error_fields(&problem(res, 422).await);
    fields.sort();
    assert_eq!(fields, vec!["stage", "status"]);
}

#[tokio::test]
async fn interviews_and_feedback_show_on_the_application() {
    let app = spawn_app().await;
    let token = app.token("recruiter").await;
    let hm = app.token_for(json!({"role": "hiring_manager", "sub": "hm-on-team"})).await;
    let (_, id, _) = applied(&app, false).await;
    let res = app
        .post(&format!("/api/applications/{id}/interviews"))
        .bearer_auth(&token)
        .json(&json!({"scheduled_at": "2026-12-01T10:00:00Z", "kind": "video", "interviewers": ["hm-on-team", "r-2"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201);
    let interview: Value = res.json().await.unwrap();
    let iid = interview["id"].as_str().unwrap();
    let fb =
        |t: &str, body: Value| app.post(&format!("/api/interviews/{iid}/feedback")).bearer_auth(t).json(&body).send();
    assert_eq!(
        fb(&hm, json!({"rating": 4, "recommendation": "strong_yes", "notes": "Calm under pressure"}))
            .await
            .unwrap()
            .status(),
        201
    );
    assert_eq!(
        fb(&hm, json!({"rating": 3, "recommendation": "yes"})).await.unwrap().status(),
        201,
        "giving it again replaces it"
    );
    assert_eq!(fb(&token, json!({"rating": 2, "recommendation": "no"})).await.unwrap().status(), 201);
    let res = fb(&token, json!({"rating": 9, "recommendation": "perhaps"})).await.unwrap();
    let mut fields = error_fields(&problem(res, 422).await);
    fields.sort();
    assert_eq!(fields, vec!["rating", "recommendation"]);
    let res = app
        .post(&format!("/api/applications/{id}/interviews"))
        .bearer_auth(&token)
        .json(&json!({"kind": "video"}))
        .send()
        .await
        .unwrap();
    let mut fields = error_fields(&problem(res, 422).await);
    fields.sort();
    assert_eq!(fields, vec!["interviewers", "scheduled_at"]);

    let a: Value = app.get_json(&format!("/api/applications/{id}"), &hm).await;
    let interviews = a["interviews"].as_array().unwrap();
    assert_eq!(interviews.len(), 1);
    let feedback = interviews[0]["feedback"].as_array().unwrap();
    assert_eq!(feedback.len(), 2);
    let mine = feedback.iter().find(|f| f["by"] == "hm-on-team").unwrap();
    assert_eq!((mine["rating"].as_u64(), mine["recommendation"].as_str()), (Some(3), Some("yes")));
    problem(
        app.post("/api/interviews/01ARZ3NDEKTSV4RRFFQ69G5FAV/feedback")
            .bearer_auth(&token)
            .json(&json!({"rating": 2, "recommendation": "no"}))
            .send()
            .await
            .unwrap(),
        404,
    )
    .await;
}
