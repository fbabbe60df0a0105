//! Consent kept per purpose, a withdrawal recorded by an admin, and demographic answers kept apart
//! and reported only in aggregate.
use super::{apply, transition, unique};
use crate::helpers::*;
use chrono::{Duration, TimeZone, Utc};
use rapport::clock::rfc3339;
use serde_json::{json, Value};

#[tokio::test]
async fn consent_is_kept_per_purpose_and_a_withdrawal_stops_the_next_email() {
    let start = Utc.with_ymd_and_hms(2026, 12, 1, 9, 0, 0).unwrap();
    let (app, _clock) = spawn_app_at(start).await;
    let token = app.token_for(json!({"role": "recruiter", "sub": "rec-2"})).await;
    let job = app.open_job(&token, |b| b["required_credentials"] = json!([])).await;
    let email = unique("consent");
    let ids = apply(
        &app,
        &job,
        json!({"first_name": "C", "last_name": "D", "email": email,
        "consent": {"processing": true, "talent_pool": true}}),
    )
    .await;
    let (cid, aid) =
        (ids["candidate_id"].as_str().unwrap().to_string(), ids["application_id"].as_str().unwrap().to_string());
    transition(
        &app,
        &token,
        &aid,
        json!({"to": "rejected", "expected_version": 1, "keep_in_touch": true,
        "reason": {"category": "rejected_by_org", "code": "preferred_another_candidate"}}),
    )
    .await;

    let admin = app.token_for(json!({"role": "admin", "sub": "adm-2"})).await;
    let x: Value = app.get_json(&format!("/api/candidates/{cid}/export"), &admin).await;
    let mut latest: Vec<(String, bool, String)> = x["consents"]["latest"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (c["purpose"].as_str().unwrap().into(), c["given"].as_bool().unwrap(), c["method"].as_str().unwrap().into())
        })
        .collect();
    latest.sort();
    assert_eq!(
        latest,
        vec![
            ("marketing_email".into(), true, "form".into()),
            ("processing".into(), true, "form".into()),
            ("talent_pool".into(), true, "form".into())
        ]
    );
    assert!(x["consents"]["latest"][0]["text_version"].is_string());

    app.active_campaign(
        &token,
        json!({"name": "Two", "segment": {},
               "steps": [{"after_days": 0, "content": {"kind": "jobs"}}, {"after_days": 1, "content": {"kind": "jobs"}}]}),
    )
    .await;
    let run = |at: chrono::DateTime<Utc>| {
        let app = &app;
        async move {
            app.post("/_local/run/nurture")
                .query(&[("now", rfc3339(at))])
                .send()
                .await
                .unwrap()
                .json::<Value>()
                .await
                .unwrap()
        }
    };
    assert_eq!(run(start).await["sent"], 1);

    // The person says on the phone: no more emails. Only an admin may record it: not a hiring
    // manager, not a recruiter.
    let path = format!("/api/candidates/{cid}/consents/marketing_email");
    let hm = app.token_for(json!({"role": "hiring_manager", "sub": "hm-on-team"})).await;
    for refused in [&hm, &token] {
        let res = app
            .http
            .put(format!("{}{path}", app.url))
            .bearer_auth(refused)
            .json(&json!({"given": false}))
            .send()
            .await
            .unwrap();
        problem(res, 403).await;
    }
    let res = app
        .http
        .put(format!("{}{path}", app.url))
        .bearer_auth(&admin)
        .json(&json!({"given": false, "note": "asked by phone"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let bad = app
        .http
        .put(format!("{}/api/candidates/{cid}/consents/astrology", app.url))
        .bearer_auth(&admin)
        .json(&json!({"given": true}))
        .send()
        .await
        .unwrap();
    problem(bad, 404).await;

    let r = run(start + Duration::days(1)).await;
    assert_eq!((r["sent"].as_u64(), r["ended"].as_u64()), (Some(0), Some(1)), "withdrawal takes effect at once: {r}");
    assert_eq!(
        app.emails_to(&email).await.iter().filter(|e| e["subject"].as_str().unwrap().starts_with("Jobs at")).count(),
        1
    );
    let x: Value = app.get_json(&format!("/api/candidates/{cid}/export"), &admin).await;
    let withdrawal = x["consents"]["history"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["given"] == false)
        .expect("the withdrawal is in the history")
        .clone();
    assert_eq!((withdrawal["method"].as_str(), withdrawal["by"].as_str()), (Some("recruiter"), Some("adm-2")));
}

#[tokio::test]
async fn demographic_answers_stay_apart_and_are_reported_only_in_aggregate() {
    let app = spawn_app().await;
    let token = app.token("recruiter").await;
    let mut body = job_body();
    body["asks_demographics"] = json!(true);
    let job = app.create_job(&token, body).await["id"].as_str().unwrap().to_string();
    app.publish(&token, &job).await;
    let plain = app.create_job(&token, job_body()).await["id"].as_str().unwrap().to_string();
    app.publish(&token, &plain).await;
    let public: Value = app.get(&format!("/careers/jobs/{job}")).send().await.unwrap().json().await.unwrap();
    assert_eq!(public["asks_demographics"], true);

    let answer = |email: &str, gender: &str| {
        json!({"first_name": "E", "last_name": "O", "email": email, "consent": {"processing": true, "demographics": true},
               "demographics": {"gender": gender, "veteran": "not_a_veteran"}})
    };
    let mut first = None;
    for (i, gender) in ["female", "female", "female", "female", "female", "female", "male", "male"].iter().enumerate() {
        let ids = apply(&app, &job, answer(&unique(&format!("eeo{i}")), gender)).await;
        first.get_or_insert(ids);
    }
    let first = first.unwrap();
    let aid = first["application_id"].as_str().unwrap();
    transition(&app, &token, aid, json!({"to": "hired", "expected_version": 1})).await;

    // Refused: answers for a job that does not ask, answers without their consent, unknown values.
    let res = app
        .post(&format!("/careers/jobs/{plain}/applications"))
        .json(&answer(&unique("x"), "female"))
        .send()
        .await
        .unwrap();
    assert_eq!(error_fields(&problem(res, 422).await), vec!["demographics"]);
    let mut no_consent = answer(&unique("y"), "female");
    no_consent["consent"] = json!({"processing": true});
    let res = app.post(&format!("/careers/jobs/{job}/applications")).json(&no_consent).send().await.unwrap();
    assert_eq!(error_fields(&problem(res, 422).await), vec!["consent.demographics"]);
    let res = app
        .post(&format!("/careers/jobs/{job}/applications"))
        .json(&answer(&unique("z"), "robot"))
        .send()
        .await
        .unwrap();
    assert_eq!(error_fields(&problem(res, 422).await), vec!["demographics.gender"]);

    // The application, as anyone reads it, holds no answers; hiring managers get no report.
    let hm = app.token_for(json!({"role": "hiring_manager", "sub": "hm-on-team"})).await;
    let read =
        app.get(&format!("/api/applications/{aid}")).bearer_auth(&hm).send().await.unwrap().text().await.unwrap();
    assert!(!read.contains("not_a_veteran") && !read.contains("female"), "{read}");
    let stored = app.stack.state.store.get_application(&aid.parse().unwrap()).await.unwrap().unwrap();
    assert!(!serde_json::to_string(&stored).unwrap().contains("not_a_veteran"));
    problem(app.get(&format!("/api/reports/demographics?job_id={job}")).bearer_auth(&hm).send().await.unwrap(), 403)
        .await;
    // Nor do recruiters: the report is an admin's.
    problem(app.get(&format!("/api/reports/demographics?job_id={job}")).bearer_auth(&token).send().await.unwrap(), 403)
        .await;

    let admin = app.token("admin").await;
    let r: Value = app.get_json(&format!("/api/reports/demographics?job_id={job}"), &admin).await;
    assert_eq!(r["questions"]["gender"]["female"], json!({"applicants": 6, "hires": "<5"}), "{r}");
    assert_eq!(r["questions"]["gender"]["male"], json!({"applicants": "<5", "hires": 0}));
    assert_eq!(r["questions"]["veteran"]["not_a_veteran"]["applicants"], 8);

    // The person's own export has them, apart from the application.
    let x: Value =
        app.get_json(&format!("/api/candidates/{}/export", first["candidate_id"].as_str().unwrap()), &admin).await;
    assert_eq!(x["demographics"][0]["gender"], "female");
    assert!(!x["applications"][0].to_string().contains("not_a_veteran"));
}
