//! A person's export (an admin's alone, audited) and their erasure from every item and file, and
//! erasing again someone who came back.
use super::{add_sourced, apply, everything_stored, transition, unique};
use crate::helpers::*;
use chrono::{TimeZone, Utc};
use rapport::clock::rfc3339;
use serde_json::{json, Value};

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
