//! A person's access and erasure requests, the retention sweep, and the audit log, through the
//! local stack; erasure is checked by reading every item and every object version behind the API.
use crate::helpers::*;
use chrono::{Duration, TimeZone, Utc};
use rapport::clock::rfc3339;
use serde_json::{json, Value};

fn unique(name: &str) -> String {
    format!("{name}.{}@example.com", ulid::Ulid::generate().to_string().to_lowercase())
}

async fn add_sourced(app: &TestApp, token: &str, email: &str) -> Value {
    let res = app
        .post("/api/prospects")
        .bearer_auth(token)
        .json(&json!({"email": email, "consent": true}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201, "{}", res.text().await.unwrap());
    res.json().await.unwrap()
}

async fn apply(app: &TestApp, job: &str, body: Value) -> Value {
    let res = app.post(&format!("/careers/jobs/{job}/applications")).json(&body).send().await.unwrap();
    assert_eq!(res.status(), 201, "{}", res.text().await.unwrap());
    res.json().await.unwrap()
}

async fn transition(app: &TestApp, token: &str, id: &str, body: Value) {
    let res =
        app.post(&format!("/api/applications/{id}/transitions")).bearer_auth(token).json(&body).send().await.unwrap();
    assert_eq!(res.status(), 200, "{}", res.text().await.unwrap());
}

/// Every string in the table, and every object version's bytes in the bucket.
async fn everything_stored(app: &TestApp) -> (String, Vec<Vec<u8>>) {
    let items = app.scan_table().await;
    let text = items.iter().map(|i| format!("{i:?}")).collect::<Vec<_>>().join("\n");
    let st = &app.stack.state;
    let versions = app.stack.aws.s3().list_object_versions().bucket(&st.config.bucket).send().await.unwrap();
    let mut objects = Vec::new();
    for v in versions.versions() {
        let got = app
            .stack
            .aws
            .s3()
            .get_object()
            .bucket(&st.config.bucket)
            .key(v.key().unwrap())
            .set_version_id(v.version_id().map(str::to_string))
            .send()
            .await
            .unwrap();
        objects.push(got.body.collect().await.unwrap().into_bytes().to_vec());
    }
    (text, objects)
}

#[tokio::test]
async fn a_person_is_exported_whole_then_erased_from_every_item_and_file() {
    let start = Utc.with_ymd_and_hms(2026, 12, 1, 9, 0, 0).unwrap();
    let (app, _clock) = spawn_app_at(start).await;
    let token = app.token_for(json!({"role": "recruiter", "sub": "rec-1"})).await;
    let job = app.open_job(&token, |b| b["required_credentials"] = json!([])).await;

    // Priya applies with a resume, interviews, is rejected with keep-in-touch, and is nurtured.
    let email = unique("priya");
    let (first, last, phone) = ("Priyanka", format!("Q{}", ulid::Ulid::generate()), "+44 7700 900123");
    let marker = format!("RESUME-OF-{last}");
    let pdf = format!("%PDF-1.7\n1 0 obj << /Title ({marker}) >> endobj\ntrailer\n%%EOF\n").into_bytes();
    let u: Value = app
        .post("/careers/uploads")
        .json(&json!({"content_type": "application/pdf", "size": pdf.len(), "purpose": "resume"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let mut put = app.http.put(u["upload_url"].as_str().unwrap()).body(pdf.clone());
    for (k, v) in u["headers"].as_object().unwrap() {
        put = put.header(k, v.as_str().unwrap());
    }
    assert!(put.send().await.unwrap().status().is_success());
    let ids = apply(
        &app,
        &job,
        json!({"first_name": first, "last_name": last, "email": email, "phone": phone, "resume_key": u["key"],
               "consent": {"processing": true, "talent_pool": true}, "answers": {"why": format!("{first} loves nights")},
               "source": {"utm_source": "indeed", "utm_medium": "job_board"}}),
    )
    .await;
    let (cid, aid) =
        (ids["candidate_id"].as_str().unwrap().to_string(), ids["application_id"].as_str().unwrap().to_string());
    let interview: Value = app
        .post(&format!("/api/applications/{aid}/interviews"))
        .bearer_auth(&token)
        .json(&json!({"scheduled_at": "2026-12-03T10:00:00Z", "kind": "video", "interviewers": ["rec-1"]}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let res = app
        .post(&format!("/api/interviews/{}/feedback", interview["id"].as_str().unwrap()))
        .bearer_auth(&token)
        .json(&json!({"rating": 4, "recommendation": "yes", "notes": format!("{first} was great")}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201);
    transition(&app, &token, &aid, json!({"to": "screen", "expected_version": 1})).await;
    transition(&app, &token, &aid, json!({"to": "rejected", "expected_version": 2, "keep_in_touch": true,
        "reason": {"category": "rejected_by_org", "code": "preferred_another_candidate", "note": format!("{first} was close")}})).await;
    let cmp = app
        .active_campaign(
            &token,
            json!({"name": "Silver", "segment": {"origins": ["silver_medalist"]},
                   "steps": [{"after_days": 0, "content": {"kind": "jobs"}}]}),
        )
        .await;
    let cmp = cmp.as_str();
    let r: Value =
        app.post("/_local/run/nurture").query(&[("now", rfc3339(start))]).send().await.unwrap().json().await.unwrap();
    assert_eq!(r["sent"], 1, "{r}");

    // The export holds all of it; only an admin may take it.
    let hm = app.token_for(json!({"role": "hiring_manager", "sub": "hm-on-team"})).await;
    problem(app.get(&format!("/api/candidates/{cid}/export")).bearer_auth(&hm).send().await.unwrap(), 403).await;
    problem(app.get(&format!("/api/candidates/{cid}/export")).bearer_auth(&token).send().await.unwrap(), 403).await;
    let admin = app.token_for(json!({"role": "admin", "sub": "adm-1"})).await;
    let x: Value = app.get_json(&format!("/api/candidates/{cid}/export"), &admin).await;
    assert_eq!(x["candidate"]["email"], email.as_str());
    assert_eq!(x["candidate"]["phone"], phone);
    let a = &x["applications"][0];
    assert_eq!(a["history"].as_array().unwrap().len(), 2);
    assert_eq!(a["interviews"][0]["feedback"][0]["notes"], format!("{first} was great"));
    assert!(x["prospect"]["origins"].as_array().unwrap().contains(&json!("silver_medalist")));
    assert_eq!(x["consents"]["application"]["talent_pool"]["given"], true);
    let kinds: Vec<&str> = x["emails"].as_array().unwrap().iter().map(|e| e["kind"].as_str().unwrap()).collect();
    assert!(kinds.contains(&"confirmation") && kinds.contains(&"nurture"), "{kinds:?}");
    assert!(x["emails"]
        .as_array()
        .unwrap()
        .iter()
        .any(|e| e["subject"].as_str().is_some_and(|s| s.contains("Jobs at"))));
    assert_eq!(x["enrolments"][0]["campaign_id"], cmp);
    let file = &x["files"][0];
    let url = file["url"].as_str().unwrap();
    assert!(url.contains("response-content-disposition=attachment"), "{url}");
    let res = app.http.get(url).send().await.unwrap();
    let disposition = res.headers()["content-disposition"].to_str().unwrap().to_string();
    assert!(disposition.starts_with("attachment"), "the file downloads, never renders: {disposition}");
    assert_eq!(res.bytes().await.unwrap().to_vec(), pdf, "the file link works");
    // The same export by prospect id.
    let by_prospect: Value =
        app.get_json(&format!("/api/candidates/{}/export", x["person"]["prospect_id"].as_str().unwrap()), &admin).await;
    assert_eq!(by_prospect["candidate"]["email"], email.as_str());

    // The audit log has who exported whom, with ids only.
    let audit = app.stack.state.store.audit_day(start.date_naive()).await.unwrap();
    let exports: Vec<(&str, &str)> = audit
        .iter()
        .filter(|i| i["action"].as_s().unwrap() == "GET /api/candidates/{id}/export")
        .map(|i| (i["who"].as_s().unwrap().as_str(), i["target"].as_s().unwrap().as_str()))
        .collect();
    let target = format!("/api/candidates/{cid}/export");
    assert!(exports.contains(&("adm-1", target.as_str())), "the export is audited: {exports:?}");
    assert!(exports.contains(&("hm-on-team", target.as_str())), "so is a refused attempt: {exports:?}");
    assert!(exports.contains(&("rec-1", target.as_str())), "a recruiter's too: {exports:?}");
    let all_audit = format!("{audit:?}");
    assert!(!all_audit.contains(&email) && !all_audit.contains(first), "no personal data in the audit log");

    let sources_before: Value =
        app.get_json("/api/reports/sources?group=source&from=2026-11-01&to=2026-12-31", &token).await;

    // A crash halfway: the tombstone is written and the candidate item is gone, nothing else yet.
    let st = &app.stack.state;
    let (person, _) = st.store.resolve_person(&cid).await.unwrap().unwrap();
    st.store.begin_erasure(&person, "adm-1", start).await.unwrap();
    let cand_key = std::collections::HashMap::from([
        ("pk".to_string(), aws_sdk_dynamodb::types::AttributeValue::S(format!("CAND#{cid}"))),
        ("sk".to_string(), aws_sdk_dynamodb::types::AttributeValue::S("CAND".into())),
    ]);
    st.store.delete_keys(vec![cand_key]).await.unwrap();
    // A recruiter may not erase; the admin's retry finds the person through the tombstone and finishes.
    let res = app.http.delete(format!("{}/api/candidates/{cid}", app.url)).bearer_auth(&token).send().await.unwrap();
    problem(res, 403).await;
    let res = app.http.delete(format!("{}/api/candidates/{cid}", app.url)).bearer_auth(&admin).send().await.unwrap();
    assert_eq!(res.status(), 204);
    let res = app.http.delete(format!("{}/api/candidates/{cid}", app.url)).bearer_auth(&admin).send().await.unwrap();
    assert_eq!(res.status(), 204, "a repeat changes nothing");

    let (text, objects) = everything_stored(&app).await;
    for secret in [email.as_str(), first, last.as_str(), phone, marker.as_str()] {
        assert!(!text.contains(secret), "{secret} is still in the table");
    }
    assert!(
        !objects.iter().any(|o| o.windows(marker.len()).any(|w| w == marker.as_bytes())),
        "the resume is gone, every version"
    );
    let sources_after: Value =
        app.get_json("/api/reports/sources?group=source&from=2026-11-01&to=2026-12-31", &token).await;
    assert_eq!(sources_before, sources_after, "report counts are unchanged");
    problem(app.get(&format!("/api/candidates/{cid}/export")).bearer_auth(&admin).send().await.unwrap(), 410).await;
    problem(app.get(&format!("/api/applications/{aid}")).bearer_auth(&token).send().await.unwrap(), 404).await;

    // Re-importing the address neither re-adds nor emails the person.
    let before = app.emails_to(&email).await.len();
    let res = app
        .post("/api/prospects/import")
        .bearer_auth(&token)
        .header("content-type", "text/csv")
        .body(format!("email,first_name,consent\n{email},{first},yes\n"))
        .send()
        .await
        .unwrap();
    let r: Value = res.json().await.unwrap();
    assert_eq!((r["imported"].as_u64(), r["skipped"].as_u64()), (Some(0), Some(1)), "{r}");
    assert_eq!(app.emails_to(&email).await.len(), before);
    let (text, _) = everything_stored(&app).await;
    assert!(!text.contains(&email));

    // Later the person applies again of their own accord: a new candidate, and their confirmation goes out.
    apply(
        &app,
        &job,
        json!({"first_name": first, "last_name": "Again", "email": email, "consent": {"processing": true}}),
    )
    .await;
    assert_eq!(app.emails_to(&email).await.len(), before + 1);
}

#[tokio::test]
async fn retention_erases_stale_people_and_keeps_active_applicants() {
    let start = Utc.with_ymd_and_hms(2026, 1, 5, 9, 0, 0).unwrap();
    let (app, clock) = spawn_app_at(start).await;
    let token = app.token("recruiter").await;
    let job = app.open_job(&token, |b| b["required_credentials"] = json!([])).await;
    let person =
        |email: &str| json!({"first_name": "R", "last_name": "S", "email": email, "consent": {"processing": true}});

    let (stale, active, old_prospect, new_prospect) =
        (unique("stale"), unique("active"), unique("oldp"), unique("newp"));
    let s = apply(&app, &job, person(&stale)).await;
    let a = apply(&app, &job, person(&active)).await;
    let old_p: Value = app
        .post("/api/prospects")
        .bearer_auth(&token)
        .json(&json!({"email": old_prospect, "consent": true}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    clock.set(start + Duration::days(1));
    transition(
        &app,
        &token,
        s["application_id"].as_str().unwrap(),
        json!({"to": "rejected", "expected_version": 1,
        "reason": {"category": "rejected_by_org", "code": "preferred_another_candidate"}}),
    )
    .await;
    clock.set(start + Duration::days(3 * 365 - 10));
    let new_p: Value = app
        .post("/api/prospects")
        .bearer_auth(&token)
        .json(&json!({"email": new_prospect, "consent": true}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();

    // The active applicant is also in the pool through a recruiter's record that predates no link: the
    // prospect pass must leave them to the applicants' index, not erase half of them.
    clock.set(start);
    add_sourced(&app, &token, &active).await;
    let later = start + Duration::days(3 * 365);
    let res = app.post("/_local/run/retention").query(&[("now", rfc3339(later))]).send().await.unwrap();
    assert!(!calls(&res).iter().any(|c| c.ends_with(".Scan")), "never a scan");
    let r: Value = res.json().await.unwrap();
    assert_eq!(
        (r["erased"].as_u64(), r["kept_open"].as_u64(), r["complete"].as_bool()),
        (Some(2), Some(1), Some(true)),
        "{r}"
    );
    let exists = |id: String| {
        let app = &app;
        async move { app.stack.state.store.resolve_person(&id).await.unwrap().is_some_and(|(_, t)| t.is_none()) }
    };
    assert!(!exists(s["candidate_id"].as_str().unwrap().to_string()).await, "the stale applicant is erased");
    assert!(exists(a["candidate_id"].as_str().unwrap().to_string()).await, "an open application keeps its person");
    assert!(!exists(old_p["id"].as_str().unwrap().to_string()).await, "lapsed consent");
    assert!(exists(new_p["id"].as_str().unwrap().to_string()).await);
    let (text, _) = everything_stored(&app).await;
    assert!(!text.contains(&stale) && !text.contains(&old_prospect));
    assert!(text.contains(&active) && text.contains(&new_prospect));

    let r: Value =
        app.post("/_local/run/retention").query(&[("now", rfc3339(later))]).send().await.unwrap().json().await.unwrap();
    assert_eq!((r["erased"].as_u64(), r["resumed"].as_u64()), (Some(0), Some(0)), "a second run changes nothing: {r}");
}

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

#[tokio::test]
async fn someone_who_comes_back_after_an_erasure_can_be_erased_again() {
    let app = spawn_app().await;
    let token = app.token("recruiter").await;
    let admin = app.token("admin").await;
    let email = unique("twice");
    let id = add_sourced(&app, &token, &email).await["id"].as_str().unwrap().to_string();
    let erase = || app.http.delete(format!("{}/api/candidates/{id}", app.url)).bearer_auth(&admin).send();
    assert_eq!(erase().await.unwrap().status(), 204);
    assert!(!everything_stored(&app).await.0.contains(&email));
    problem(app.get(&format!("/api/candidates/{id}/export")).bearer_auth(&admin).send().await.unwrap(), 410).await;
    let again = app
        .post("/api/prospects")
        .bearer_auth(&token)
        .json(&json!({"email": email, "consent": true}))
        .send()
        .await
        .unwrap();
    problem(again, 409).await;

    // Months later they join the talent pool themselves (double opt-in), then ask to be erased again.
    let sub = json!({"email": email, "interests": {}, "consent": {"talent_pool": true}});
    assert_eq!(app.post("/careers/talent-pool").json(&sub).send().await.unwrap().status(), 202);
    let optin = app.emails_to(&email).await.pop().expect("the opt-in they asked for");
    let link = optin["text"]
        .as_str()
        .unwrap()
        .split_whitespace()
        .find(|w| w.contains("/talent-pool/confirm?token="))
        .unwrap()
        .to_string();
    assert_eq!(app.confirm(link.strip_prefix(&app.url).unwrap()).await.status(), 200);
    let x: Value = app.get_json(&format!("/api/candidates/{id}/export"), &admin).await;
    assert_eq!(x["prospect"]["status"], "active", "{x}");
    assert_eq!(erase().await.unwrap().status(), 204);
    assert!(!everything_stored(&app).await.0.contains(&email), "erased again");
}

/// A resume uploaded through the career site's presigned link; returns its key.
async fn upload_resume(app: &TestApp, pdf: &[u8]) -> String {
    let u: Value = app
        .post("/careers/uploads")
        .json(&json!({"content_type": "application/pdf", "size": pdf.len(), "purpose": "resume"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let mut put = app.http.put(u["upload_url"].as_str().unwrap()).body(pdf.to_vec());
    for (k, v) in u["headers"].as_object().unwrap() {
        put = put.header(k, v.as_str().unwrap());
    }
    assert!(put.send().await.unwrap().status().is_success());
    u["key"].as_str().unwrap().to_string()
}

/// How many versions and delete markers the bucket holds under one key.
async fn versions_of(app: &TestApp, key: &str) -> usize {
    let st = &app.stack.state;
    let v = app.stack.aws.s3().list_object_versions().bucket(&st.config.bucket).prefix(key).send().await.unwrap();
    v.versions().len() + v.delete_markers().len()
}

#[tokio::test]
async fn a_failing_erasure_is_counted_and_the_run_goes_on_then_the_next_run_finishes_it() {
    let start = Utc.with_ymd_and_hms(2026, 1, 5, 9, 0, 0).unwrap();
    let (app, _clock) = spawn_app_at(start).await;
    let token = app.token("recruiter").await;
    let job = app.open_job(&token, |b| b["required_credentials"] = json!([])).await;
    let (stuck, other) = (unique("stuck"), unique("other"));
    let marker = format!("RESUME-OF-{}", ulid::Ulid::generate());
    let pdf = format!("%PDF-1.7\n1 0 obj << /Title ({marker}) >> endobj\ntrailer\n%%EOF\n").into_bytes();
    let upload = upload_resume(&app, &pdf).await;
    let body =
        |email: &str| json!({"first_name": "F", "last_name": "G", "email": email, "consent": {"processing": true}});
    let mut with_resume = body(&stuck);
    with_resume["resume_key"] = json!(upload);
    let s = apply(&app, &job, with_resume).await;
    let st = &app.stack.state;
    let aid = s["application_id"].as_str().unwrap().parse().unwrap();
    // The application's own copy of the upload.
    let key = st.store.get_application(&aid).await.unwrap().unwrap().resume_key.unwrap();
    let o = apply(&app, &job, body(&other)).await;
    for ids in [&s, &o] {
        transition(
            &app,
            &token,
            ids["application_id"].as_str().unwrap(),
            json!({"to": "rejected", "expected_version": 1,
                   "reason": {"category": "rejected_by_org", "code": "preferred_another_candidate"}}),
        )
        .await;
    }
    assert_eq!(versions_of(&app, &key).await, 1);

    // S3 refuses every version of the resume in each round the erasure tries.
    let faults = json!({"s3_delete": [{"key_contains": key, "times": rapport::files::FAILED_ROUNDS}]});
    let res = app.http.post(format!("{}/_rapport/faults", app.stack.moto_url)).json(&faults).send().await.unwrap();
    assert!(res.status().is_success());

    let later = start + Duration::days(3 * 365);
    let res = app.post("/_local/run/retention").query(&[("now", rfc3339(later))]).send().await.unwrap();
    assert_eq!(res.status(), 200, "one failed erasure does not fail the run");
    let r: Value = res.json().await.unwrap();
    assert_eq!(
        (r["erased"].as_u64(), r["failed"].as_u64(), r["resumed"].as_u64()),
        (Some(1), Some(1), Some(0)),
        "the other person is erased: {r}"
    );
    let (text, _) = everything_stored(&app).await;
    assert!(!text.contains(&other), "the run went on to the next person");
    assert_eq!(versions_of(&app, &key).await, 1, "the resume is still there");
    let (_, tomb) = st.store.resolve_person(s["candidate_id"].as_str().unwrap()).await.unwrap().unwrap();
    assert!(tomb.is_some_and(|t| t.done_at.is_none()), "the erasure stays recorded, unfinished");

    // The next run finishes it: once, though the erasure has a tombstone under each of the person's ids.
    let res = app.post("/_local/run/retention").query(&[("now", rfc3339(later))]).send().await.unwrap();
    assert!(!calls(&res).iter().any(|c| c.ends_with(".Scan")), "never a scan");
    let r: Value = res.json().await.unwrap();
    assert_eq!(
        (r["resumed"].as_u64(), r["erased"].as_u64(), r["failed"].as_u64(), r["complete"].as_bool()),
        (Some(1), Some(0), Some(0), Some(true)),
        "{r}"
    );
    assert_eq!(versions_of(&app, &key).await, 0, "every version of the resume is gone");
    let (text, objects) = everything_stored(&app).await;
    assert!(!text.contains(&stuck));
    assert!(!objects.iter().any(|o| o.windows(marker.len()).any(|w| w == marker.as_bytes())));
}

#[tokio::test]
async fn retention_erases_closed_drafts_past_the_cutoff_and_exports_read_drafts_from_the_index() {
    let start = Utc.with_ymd_and_hms(2026, 1, 5, 9, 0, 0).unwrap();
    let (app, clock) = spawn_app_at(start).await;
    let token = app.token("recruiter").await;
    let admin = app.token("admin").await;
    let job = app.open_job(&token, |b| b["required_credentials"] = json!([])).await;
    let draft = |job: String, email: String| {
        let app = &app;
        async move {
            let res =
                app.post(&format!("/careers/jobs/{job}/drafts")).json(&json!({"email": email})).send().await.unwrap();
            assert_eq!(res.status(), 201);
            res.json::<Value>().await.unwrap()["draft_id"].as_str().unwrap().to_string()
        }
    };
    // One person starts and leaves; another starts and applies (their application stays open).
    let (dropped, submitted, recent) = (unique("dropped"), unique("submitted"), unique("recent"));
    draft(job.clone(), dropped.clone()).await;
    let submitted_draft = draft(job.clone(), submitted.clone()).await;
    let ids = apply(
        &app,
        &job,
        json!({"first_name": "S", "last_name": "D", "email": submitted, "consent": {"processing": true},
               "draft_id": submitted_draft}),
    )
    .await;
    let cid = ids["candidate_id"].as_str().unwrap();

    // The export reads the person's drafts from the index, however many: no read per draft.
    let export = || app.get(&format!("/api/candidates/{cid}/export")).bearer_auth(&admin).send();
    let res = export().await.unwrap();
    let one_draft = calls(&res);
    let x: Value = res.json().await.unwrap();
    assert_eq!(x["drafts"].as_array().unwrap().len(), 1, "{x}");
    assert_eq!(
        (x["drafts"][0]["email"].as_str(), x["drafts"][0]["id"].as_str()),
        (Some(submitted.as_str()), Some(submitted_draft.as_str()))
    );
    for _ in 0..4 {
        draft(job.clone(), submitted.clone()).await;
    }
    let res = export().await.unwrap();
    assert_eq!(calls(&res), one_draft, "the same calls for five drafts as for one");
    let x: Value = res.json().await.unwrap();
    assert_eq!(x["drafts"].as_array().unwrap().len(), 5);
    assert!(x["drafts"].as_array().unwrap().iter().all(|d| d["email"] == submitted.as_str() && d["status"] == "open"));

    // The drafts task closes the open ones a day later.
    let r: Value = app
        .post("/_local/run/drafts")
        .query(&[("now", rfc3339(start + Duration::hours(25)))])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(r["abandoned"], 5, "{r}");
    // Someone drops off recently.
    let later = start + Duration::days(3 * 365);
    clock.set(later - Duration::days(10));
    draft(job.clone(), recent.clone()).await;
    let r: Value = app
        .post("/_local/run/drafts")
        .query(&[("now", rfc3339(later - Duration::days(8)))])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(r["abandoned"], 1, "{r}");

    let res = app.post("/_local/run/retention").query(&[("now", rfc3339(later))]).send().await.unwrap();
    assert!(!calls(&res).iter().any(|c| c.ends_with(".Scan")), "never a scan");
    let r: Value = res.json().await.unwrap();
    assert_eq!(
        (r["drafts_erased"].as_u64(), r["kept_open"].as_u64(), r["complete"].as_bool()),
        (Some(6), Some(1), Some(true)),
        "{r}"
    );
    let (text, _) = everything_stored(&app).await;
    assert!(!text.contains(&dropped), "a drop-off's draft is erased");
    assert!(!text.contains(&format!("DRAFT#{submitted_draft}")), "a submitted draft is erased");
    assert!(text.contains(&submitted), "its applicant, whose application is open, is kept");
    assert!(text.contains(&recent), "a recent draft is kept");
    let x: Value = app.get_json(&format!("/api/candidates/{cid}/export"), &admin).await;
    assert_eq!(x["drafts"], json!([]));

    let r: Value =
        app.post("/_local/run/retention").query(&[("now", rfc3339(later))]).send().await.unwrap().json().await.unwrap();
    assert_eq!(r["drafts_erased"], 0, "a repeated run erases nothing more: {r}");
}

#[tokio::test]
async fn a_page_on_which_every_erasure_fails_ends_its_phase_and_leaves_the_run_incomplete() {
    let start = Utc.with_ymd_and_hms(2026, 1, 5, 9, 0, 0).unwrap();
    let (app, _clock) = spawn_app_at(start).await;
    let token = app.token("recruiter").await;
    let job = app.open_job(&token, |b| b["required_credentials"] = json!([])).await;
    let upload = upload_resume(&app, b"%PDF-1.7\n1 0 obj << /Title (stuck) >> endobj\ntrailer\n%%EOF\n").await;
    let s = apply(
        &app,
        &job,
        json!({"first_name": "F", "last_name": "G", "email": unique("stuck"), "consent": {"processing": true},
               "resume_key": upload}),
    )
    .await;
    let aid = s["application_id"].as_str().unwrap();
    transition(
        &app,
        &token,
        aid,
        json!({"to": "rejected", "expected_version": 1,
               "reason": {"category": "rejected_by_org", "code": "preferred_another_candidate"}}),
    )
    .await;
    let st = &app.stack.state;
    let key = st.store.get_application(&aid.parse().unwrap()).await.unwrap().unwrap().resume_key.unwrap();
    // S3 keeps failing for two runs' worth of rounds.
    let faults = json!({"s3_delete": [{"key_contains": key, "times": 2 * rapport::files::FAILED_ROUNDS}]});
    let res = app.http.post(format!("{}/_rapport/faults", app.stack.moto_url)).json(&faults).send().await.unwrap();
    assert!(res.status().is_success());

    let later = start + Duration::days(3 * 365);
    let run = || {
        let app = &app;
        async move {
            let res = app.post("/_local/run/retention").query(&[("now", rfc3339(later))]).send().await.unwrap();
            assert_eq!(res.status(), 200);
            res.json::<Value>().await.unwrap()
        }
    };
    // The applicants' phase, then the open erasures' phase: a page with nothing done ends the phase.
    for phase in ["applicants", "open erasures"] {
        let r = run().await;
        assert_eq!(
            (r["failed"].as_u64(), r["erased"].as_u64(), r["resumed"].as_u64(), r["complete"].as_bool()),
            (Some(1), Some(0), Some(0), Some(false)),
            "{phase}: {r}"
        );
    }
    let r = run().await;
    assert_eq!((r["resumed"].as_u64(), r["failed"].as_u64(), r["complete"].as_bool()), (Some(1), Some(0), Some(true)));
    assert_eq!(versions_of(&app, &key).await, 0);
}

#[tokio::test]
async fn retention_removes_resume_copies_no_application_refers_to() {
    let app = spawn_app().await;
    let token = app.token("recruiter").await;
    let job = app.open_job(&token, |b| b["required_credentials"] = json!([])).await;
    let ids = apply(
        &app,
        &job,
        json!({"first_name": "R", "last_name": "C", "email": unique("copy"), "consent": {"processing": true}}),
    )
    .await;
    // A copy whose application was written, and one whose request died before it wrote the application.
    let st = &app.stack.state;
    let kept = format!("resumes/{}.pdf", ids["application_id"].as_str().unwrap());
    let orphan = format!("resumes/{}.pdf", rapport::ids::ApplicationId::new(st.clock.as_ref()));
    for key in [&kept, &orphan] {
        let body = aws_sdk_s3::primitives::ByteStream::from_static(b"%PDF-1.7\n");
        app.stack.aws.s3().put_object().bucket(&st.config.bucket).key(key).body(body).send().await.unwrap();
    }
    let s3 = &app.stack.aws.s3();
    let exists = |key: String| async move { s3.head_object().bucket(&st.config.bucket).key(key).send().await.is_ok() };
    let run = |at: chrono::DateTime<Utc>| {
        let app = &app;
        async move {
            let r: Value = app
                .post("/_local/run/retention")
                .query(&[("now", rfc3339(at))])
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            r
        }
    };
    // A copy less than a day old may belong to a request still at work.
    let r = run(Utc::now()).await;
    assert_eq!((r["orphan_resumes"].as_u64(), r["complete"].as_bool()), (Some(0), Some(true)), "{r}");
    assert!(exists(orphan.clone()).await);
    let r = run(Utc::now() + Duration::days(2)).await;
    assert_eq!(r["orphan_resumes"], 1, "{r}");
    assert!(!exists(orphan.clone()).await, "the orphan is gone");
    assert!(exists(kept.clone()).await, "an application's resume stays");
    let versions =
        app.stack.aws.s3().list_object_versions().bucket(&st.config.bucket).prefix(&orphan).send().await.unwrap();
    assert!(versions.versions().is_empty() && versions.delete_markers().is_empty(), "with every version");
}
