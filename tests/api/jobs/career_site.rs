//! Open jobs on the career site: paged by one query with unforgeable cursors, filtered, and safe to
//! paste into a page as JSON-LD.
use crate::helpers::*;
use serde_json::{json, Value};

#[tokio::test]
async fn listing_open_jobs_is_one_query_per_page_with_unforgeable_cursors() {
    let app = spawn_app().await;
    let token = app.token("recruiter").await;
    let mut ids = Vec::new();
    for i in 0..5 {
        let mut body = job_body();
        body["title"] = json!(format!("Job {i}"));
        let job = app.create_job(&token, body).await;
        let id = job["id"].as_str().unwrap().to_string();
        app.publish(&token, &id).await;
        ids.push(id);
    }
    app.create_job(&token, job_body()).await; // a draft, never listed publicly

    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    let mut pages = 0;
    loop {
        let mut req = app.get("/careers/jobs?limit=2");
        if let Some(c) = &cursor {
            req = req.query(&[("cursor", c)]);
        }
        let res = req.send().await.unwrap();
        assert_eq!(calls(&res), vec!["dynamodb.Query"], "one query per page, never a scan");
        let page: Value = res.json().await.unwrap();
        pages += 1;
        seen.extend(page["items"].as_array().unwrap().iter().map(|j| j["id"].as_str().unwrap().to_string()));
        match page["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_string()),
            None => break,
        }
    }
    ids.reverse(); // newest first
    assert_eq!(seen, ids);
    assert!(pages >= 3);

    // A cursor only works for the query it came from, and cannot be edited.
    let page: Value = app.get("/careers/jobs?limit=2").send().await.unwrap().json().await.unwrap();
    let cursor = page["next_cursor"].as_str().unwrap().to_string();
    let res = app
        .get("/api/jobs?status=draft&limit=2")
        .bearer_auth(&token)
        .query(&[("cursor", &cursor)])
        .send()
        .await
        .unwrap();
    assert_eq!(error_fields(&problem(res, 422).await), vec!["cursor"]);
    let mut forged = cursor.clone();
    forged.replace_range(0..1, if forged.starts_with('e') { "f" } else { "e" });
    let res = app.get("/careers/jobs?limit=2").query(&[("cursor", &forged)]).send().await.unwrap();
    assert_eq!(error_fields(&problem(res, 422).await), vec!["cursor"]);
    let res = app.get("/careers/jobs?limit=0&workplace=moon").send().await.unwrap();
    let mut fields = error_fields(&problem(res, 422).await);
    fields.sort();
    assert_eq!(fields, vec!["limit", "workplace"]);
}

#[tokio::test]
async fn careers_filters_by_department_country_and_workplace() {
    let app = spawn_app().await;
    let token = app.token("recruiter").await;
    for (dept, country, workplace) in
        [("Nursing", "GB", "onsite"), ("Engineering", "DE", "remote"), ("Engineering", "US", "hybrid")]
    {
        let mut body = job_body();
        body["department"] = json!(dept);
        body["location"]["country"] = json!(country);
        body["workplace"] = json!(workplace);
        let job = app.create_job(&token, body).await;
        app.publish(&token, job["id"].as_str().unwrap()).await;
    }
    let count = |q: &'static str| {
        let req = app.get(&format!("/careers/jobs?{q}"));
        async move { req.send().await.unwrap().json::<Value>().await.unwrap()["items"].as_array().unwrap().len() }
    };
    assert_eq!(count("department=Engineering").await, 2);
    assert_eq!(count("department=Engineering&country=de").await, 1);
    assert_eq!(count("workplace=hybrid").await, 1);
    assert_eq!(count("country=FR").await, 0);
    assert_eq!(count("").await, 3);
}

#[tokio::test]
async fn a_job_title_cannot_end_the_script_its_json_ld_is_put_in() {
    let app = spawn_app().await;
    let token = app.token("recruiter").await;
    let title = "Nurse \u{2028}</script><script>alert(1)</script><!-- A&E";
    let id = app.open_job(&token, |b| b["title"] = json!(title)).await;
    let res = app.get(&format!("/careers/jobs/{id}")).send().await.unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["content-type"], "application/json; charset=utf-8");
    let raw = res.text().await.unwrap();
    // What a career page pastes into <script type="application/ld+json"> holds nothing HTML reads.
    for bad in ["<", ">", "&", "\u{2028}", "\u{2029}"] {
        assert!(!raw.contains(bad), "{bad:?} in {raw}");
    }
    let public: Value = serde_json::from_str(&raw).unwrap();
    assert_eq!(public["title"], title);
    assert_eq!(public["json_ld"]["title"], title);
    assert!(public["json_ld"]["description"].as_str().unwrap().starts_with("<p>"), "the same JSON, only escaped");
}
