//! The retention sweep: stale people, closed drafts and orphaned resume copies erased, active
//! applicants kept, and failed erasures finished by a later run.
use super::{add_sourced, apply, everything_stored, transition, unique};
use crate::helpers::*;
use chrono::{Duration, TimeZone, Utc};
use rapport::clock::rfc3339;
use serde_json::{json, Value};

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
