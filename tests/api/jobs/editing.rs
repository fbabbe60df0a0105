//! A recruiter creates, edits, publishes and closes a job; bad or hostile input and a lost race
//! change nothing.
use crate::helpers::*;
use serde_json::{json, Value};

#[tokio::test]
async fn a_recruiter_creates_edits_publishes_and_closes_a_job() {
    let app = spawn_app().await;
    let token = app.token("recruiter").await;

    let res = app.post("/api/jobs").bearer_auth(&token).json(&job_body()).send().await.unwrap();
    assert_eq!(res.status(), 201);
    assert_eq!(
        calls(&res),
        vec!["dynamodb.TransactWriteItems"],
        "creating a job is one write (the job, and its stage list for the funnel report)"
    );
    let location = res.headers()["location"].to_str().unwrap().to_string();
    let job: Value = res.json().await.unwrap();
    let id = job["id"].as_str().unwrap();
    assert_eq!(location, format!("/api/jobs/{id}"));
    assert_eq!((job["status"].as_str(), job["version"].as_u64()), (Some("draft"), Some(1)));
    assert_eq!(job["stages"][0]["id"], "applied");
    assert_eq!(job["boards"], json!(["indeed", "linkedin", "google"]));

    let res = app.get(&location).bearer_auth(&token).send().await.unwrap();
    assert_eq!(calls(&res), vec!["dynamodb.GetItem"]);
    assert_eq!(res.json::<Value>().await.unwrap(), job);

    // A draft is not on the career site.
    problem(app.get(&format!("/careers/jobs/{id}")).send().await.unwrap(), 404).await;

    let res = app
        .patch(&location)
        .bearer_auth(&token)
        .json(&json!({"expected_version": 1, "title": "Senior Registered Nurse", "salary": null}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(
        calls(&res),
        vec!["dynamodb.GetItem", "dynamodb.TransactWriteItems"],
        "one read, one write (the job and its event)"
    );
    let edited: Value = res.json().await.unwrap();
    assert_eq!(edited["version"], 2);
    assert_eq!(edited["title"], "Senior Registered Nurse");
    assert!(edited["salary"].is_null());
    assert_eq!(edited["department"], "Nursing");

    let stale = app
        .patch(&location)
        .bearer_auth(&token)
        .json(&json!({"expected_version": 1, "title": "X"}))
        .send()
        .await
        .unwrap();
    problem(stale, 409).await;

    let open = app.publish(&token, id).await;
    assert_eq!((open["status"].as_str(), open["version"].as_u64()), (Some("open"), Some(3)));
    assert!(open["published_at"].is_string());
    let again = app.publish(&token, id).await;
    assert_eq!(again["version"], 3, "publishing an open job changes nothing");

    let public: Value = app.get(&format!("/careers/jobs/{id}")).send().await.unwrap().json().await.unwrap();
    assert_eq!(public["title"], "Senior Registered Nurse");
    assert!(public.get("hiring_team").is_none() && public.get("version").is_none() && public.get("stages").is_none());
    assert_eq!(public["json_ld"]["@type"], "JobPosting");
    assert_eq!(public["json_ld"]["hiringOrganization"]["name"], "Acme Health");
    assert_eq!(public["json_ld"]["jobLocation"]["address"]["addressCountry"], "GB");
    let listed: Value = app.get("/careers/jobs").send().await.unwrap().json().await.unwrap();
    assert_eq!(listed["items"].as_array().unwrap().len(), 1);

    let res = app
        .post(&format!("/api/jobs/{id}/close"))
        .bearer_auth(&token)
        .json(&json!({"reason": "filled"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let closed: Value = res.json().await.unwrap();
    assert_eq!((closed["status"].as_str(), closed["close_reason"].as_str()), (Some("closed"), Some("filled")));
    problem(app.get(&format!("/careers/jobs/{id}")).send().await.unwrap(), 410).await;
    let listed: Value = app.get("/careers/jobs").send().await.unwrap().json().await.unwrap();
    assert!(listed["items"].as_array().unwrap().is_empty());
    let res = app
        .post(&format!("/api/jobs/{id}/close"))
        .bearer_auth(&token)
        .json(&json!({"reason": "bogus"}))
        .send()
        .await
        .unwrap();
    assert_eq!(error_fields(&problem(res, 422).await), vec!["reason"]);
}

#[tokio::test]
async fn bad_input_gets_a_clear_4xx_and_stores_nothing() {
    let app = spawn_app().await;
    let token = app.token("admin").await;
    let post = |body: String, ct: &'static str| {
        app.post("/api/jobs").bearer_auth(&token).header("content-type", ct).body(body).send()
    };

    problem(post("{\"title\": ".into(), "application/json").await.unwrap(), 400).await;
    problem(post("[1, 2]".into(), "application/json").await.unwrap(), 400).await;
    problem(post(job_body().to_string(), "text/plain").await.unwrap(), 415).await;

    let mut wrong_types = job_body();
    wrong_types["title"] = json!(42);
    wrong_types["salary"]["min"] = json!("lots");
    wrong_types["required_credentials"] = json!("RN");
    let p = problem(post(wrong_types.to_string(), "application/json").await.unwrap(), 422).await;
    assert_eq!(error_fields(&p), vec!["title", "salary.min", "required_credentials"]);

    let mut unknown = job_body();
    unknown["status"] = json!("open");
    unknown["version"] = json!(7);
    let p = problem(post(unknown.to_string(), "application/json").await.unwrap(), 422).await;
    assert_eq!(error_fields(&p), vec!["status", "version"]);

    let mut huge = job_body();
    huge["title"] = json!("x".repeat(1024 * 1024));
    problem(post(huge.to_string(), "application/json").await.unwrap(), 413).await;

    let mut long = job_body();
    long["title"] = json!("x".repeat(201));
    assert_eq!(
        error_fields(&problem(post(long.to_string(), "application/json").await.unwrap(), 422).await),
        vec!["title"]
    );

    let mut country = job_body();
    country["location"]["country"] = json!("XX");
    let p = problem(post(country.to_string(), "application/json").await.unwrap(), 422).await;
    assert_eq!(error_fields(&p), vec!["location.country"]);

    let mut salary = job_body();
    salary["salary"] = json!({"min": -1, "max": -5, "currency": "ZZZ", "period": "fortnight"});
    let p = problem(post(salary.to_string(), "application/json").await.unwrap(), 422).await;
    assert_eq!(error_fields(&p), vec!["salary.currency", "salary.period", "salary.min", "salary.max"]);

    let mut stages = job_body();
    stages["stages"] = json!([{"id": "applied", "name": "Applied", "kind": "new"}]);
    assert_eq!(
        error_fields(&problem(post(stages.to_string(), "application/json").await.unwrap(), 422).await),
        vec!["stages"]
    );

    let mut control = job_body();
    control["title"] = json!("Nurse\u{0000}\u{001b}[31m");
    assert_eq!(
        error_fields(&problem(post(control.to_string(), "application/json").await.unwrap(), 422).await),
        vec!["title"]
    );

    assert!(app.all_jobs(&token).await.is_empty(), "nothing was stored");
}

#[tokio::test]
async fn hostile_text_is_kept_as_text_and_scripts_are_removed() {
    let app = spawn_app().await;
    let token = app.token("recruiter").await;
    let mut body = job_body();
    body["title"] = json!("Nurse \"A&E\" <b>]]></b> 🚑 ممرض");
    body["description_html"] =
        json!("<p onclick=\"steal()\">Hi</p><script>alert(1)</script><img src=x onerror=alert(1)>");
    let job = app.create_job(&token, body).await;
    assert_eq!(job["title"], "Nurse \"A&E\" <b>]]></b> 🚑 ممرض");
    let html = job["description_html"].as_str().unwrap();
    assert!(!html.contains("script") && !html.contains("onclick") && !html.contains("onerror"), "{html}");
}

#[tokio::test]
async fn a_patch_that_fails_validation_changes_nothing() {
    let app = spawn_app().await;
    let token = app.token("recruiter").await;
    let job = app.create_job(&token, job_body()).await;
    let path = format!("/api/jobs/{}", job["id"].as_str().unwrap());
    let res = app
        .patch(&path)
        .bearer_auth(&token)
        .json(&json!({"expected_version": 1, "location": {"country": "Narnia"}, "status": "open"}))
        .send()
        .await
        .unwrap();
    assert_eq!(error_fields(&problem(res, 422).await), vec!["location.country", "status"]);
    let res = app.patch(&path).bearer_auth(&token).json(&json!({"title": "x"})).send().await.unwrap();
    assert_eq!(error_fields(&problem(res, 422).await), vec!["expected_version"]);
    let now: Value = app.get_json(&path, &token).await;
    assert_eq!(now, job);
}

#[tokio::test]
async fn concurrent_edits_of_one_version_have_exactly_one_winner() {
    let app = spawn_app().await;
    let token = app.token("recruiter").await;
    let job = app.create_job(&token, job_body()).await;
    let path = format!("/api/jobs/{}", job["id"].as_str().unwrap());
    let attempts = (0..12).map(|i| {
        app.patch(&path).bearer_auth(&token).json(&json!({"expected_version": 1, "title": format!("Title {i}")})).send()
    });
    let results = futures_util::future::join_all(attempts).await;
    let codes: Vec<u16> = results.into_iter().map(|r| r.unwrap().status().as_u16()).collect();
    assert_eq!(codes.iter().filter(|c| **c == 200).count(), 1, "{codes:?}");
    assert_eq!(codes.iter().filter(|c| **c == 409).count(), 11, "{codes:?}");
    let now: Value = app.get_json(&path, &token).await;
    assert_eq!(now["version"], 2);
}

#[tokio::test]
async fn unknown_and_malformed_ids_are_404() {
    let app = spawn_app().await;
    let token = app.token("recruiter").await;
    problem(app.get("/api/jobs/01ARZ3NDEKTSV4RRFFQ69G5FAV").bearer_auth(&token).send().await.unwrap(), 404).await;
    problem(app.get("/api/jobs/not-an-id").bearer_auth(&token).send().await.unwrap(), 404).await;
    problem(app.get("/careers/jobs/%27%20OR%201=1").send().await.unwrap(), 404).await;
    let res = app.post("/api/jobs/01ARZ3NDEKTSV4RRFFQ69G5FAV/publish").bearer_auth(&token).send().await.unwrap();
    problem(res, 404).await;
}

#[tokio::test]
async fn stage_ids_that_collide_with_internal_keys_are_refused() {
    let app = spawn_app().await;
    let token = app.token("recruiter").await;
    let stages = |id: &str| {
        json!([{"id": "applied", "name": "Applied", "kind": "new"}, {"id": id, "name": "Sneaky", "kind": "screen"},
               {"id": "hired", "name": "Hired", "kind": "hired"}])
    };
    for id in [rapport::report::TIME_TO_HIRE, "_screen"] {
        let mut body = job_body();
        body["stages"] = stages(id);
        let res = app.post("/api/jobs").bearer_auth(&token).json(&body).send().await.unwrap();
        assert_eq!(error_fields(&problem(res, 422).await), vec!["stages[1].id"], "{id}");
    }
    // Nor by a later edit.
    let job = app.create_job(&token, job_body()).await;
    let res = app
        .patch(&format!("/api/jobs/{}", job["id"].as_str().unwrap()))
        .bearer_auth(&token)
        .json(&json!({"expected_version": 1, "stages": stages(rapport::report::TIME_TO_HIRE)}))
        .send()
        .await
        .unwrap();
    assert_eq!(error_fields(&problem(res, 422).await), vec!["stages[1].id"]);
    // Underscores inside an id are fine.
    let mut body = job_body();
    body["stages"] = stages("phone_screen");
    app.create_job(&token, body).await;
}
