use crate::helpers::*;
use quick_xml::events::Event;
use quick_xml::Reader;
use rapport::feed::xml_safe;
use serde_json::{json, Value};
use std::collections::BTreeMap;

const INDEED_ELEMENTS: &[&str] = &[
    "title",
    "date",
    "referencenumber",
    "requisitionid",
    "url",
    "company",
    "sourcename",
    "city",
    "state",
    "country",
    "postalcode",
    "streetaddress",
    "email",
    "description",
    "salary",
    "education",
    "jobtype",
    "experience",
    "expirationdate",
    "category",
    "remotetype",
];
const LINKEDIN_ELEMENTS: &[&str] = &[
    "partnerJobId",
    "company",
    "companyId",
    "title",
    "description",
    "applyUrl",
    "location",
    "city",
    "state",
    "country",
    "postalCode",
    "workplaceTypes",
    "experienceLevel",
    "jobtype",
    "salaries",
    "listDate",
    "expirationDate",
    "posterEmail",
];

/// Each `<job>` as element name -> text, read back by a parser (so the XML must be well formed).
fn jobs_in(xml: &[u8]) -> Vec<BTreeMap<String, String>> {
    let mut r = Reader::from_reader(xml);
    let (mut out, mut depth, mut current, mut name, mut buf) =
        (Vec::new(), 0, BTreeMap::new(), String::new(), Vec::new());
    loop {
        match r.read_event_into(&mut buf).expect("well-formed XML") {
            Event::Start(e) => {
                depth += 1;
                let n = e.name().as_ref().to_string();
                if depth == 2 && n == "job" {
                    current = BTreeMap::new();
                } else if depth == 3 {
                    name = n.clone();
                    current.insert(n, String::new());
                }
            }
            Event::End(e) => {
                if depth == 2 && e.name().as_ref() == "job" {
                    out.push(std::mem::take(&mut current));
                }
                depth -= 1;
            }
            Event::CData(t) if depth == 3 => current.get_mut(&name).unwrap().push_str(&t.into_inner()),
            Event::Eof => return out,
            _ => {}
        }
        buf.clear();
    }
}

#[tokio::test]
async fn feeds_carry_every_open_job_with_tracking_and_nothing_else() {
    let app = spawn_app().await;
    let token = app.token("recruiter").await;
    let long = "<p>Care for patients on a busy cardiology ward, with a supportive team and training.</p>".repeat(2);
    let hostile = [
        "Nurse \"A&E\" <night> ]]> shift",
        "ممرض العناية المركزة 🚑",
        "Engineer \u{202E}evil\u{202C} & <script>alert(1)</script>",
    ];
    let mut open = Vec::new();
    for (i, title) in hostile.iter().enumerate() {
        let mut body = job_body();
        body["title"] = json!(title);
        body["description_html"] = json!(format!("{long}<p>]]&gt; &amp; {i} 😀</p>"));
        let job = app.create_job(&token, body).await;
        let id = job["id"].as_str().unwrap().to_string();
        app.publish(&token, &id).await;
        open.push((id, title.to_string()));
    }
    let mut short = job_body();
    short["title"] = json!("Short description");
    let short_id = app.create_job(&token, short).await["id"].as_str().unwrap().to_string();
    app.publish(&token, &short_id).await;
    let draft = app.create_job(&token, job_body()).await["id"].as_str().unwrap().to_string();
    let closed = app.create_job(&token, job_body()).await["id"].as_str().unwrap().to_string();
    app.publish(&token, &closed).await;
    app.post(&format!("/api/jobs/{closed}/close"))
        .bearer_auth(&token)
        .json(&json!({"reason": "filled"}))
        .send()
        .await
        .unwrap();
    let mut expiring = job_body();
    expiring["expires_at"] = json!((chrono::Utc::now() + chrono::Duration::minutes(30)).to_rfc3339());
    let expired = app.create_job(&token, expiring).await["id"].as_str().unwrap().to_string();
    app.publish(&token, &expired).await;
    let mut indeed_only = job_body();
    indeed_only["boards"] = json!(["indeed"]);
    indeed_only["description_html"] = json!(long);
    let indeed_only = app.create_job(&token, indeed_only).await["id"].as_str().unwrap().to_string();
    app.publish(&token, &indeed_only).await;

    problem(app.get("/feeds/indeed.xml").send().await.unwrap(), 404).await;
    let later = (chrono::Utc::now() + chrono::Duration::hours(1)).to_rfc3339();
    let report: Value =
        app.post("/_local/run/feeds").query(&[("now", &later)]).send().await.unwrap().json().await.unwrap();
    assert_eq!(report["built"], true, "{report}");
    assert_eq!(report["queries"], 1, "one query a page");
    assert_eq!(report["linkedin_left_out"].as_array().unwrap().len(), 1, "{report}");

    let res = app.get("/feeds/indeed.xml").send().await.unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["content-type"], "application/xml; charset=utf-8");
    let etag = res.headers()["etag"].to_str().unwrap().to_string();
    assert!(res.headers().contains_key("last-modified"));
    let xml = res.bytes().await.unwrap();
    let jobs = jobs_in(&xml);
    let ids: Vec<&str> = jobs.iter().map(|j| j["referencenumber"].as_str()).collect();
    for (id, title) in &open {
        let j = jobs.iter().find(|j| &j["referencenumber"] == id).expect("every open job is in the Indeed feed");
        assert_eq!(j["title"], xml_safe(title));
        assert!(j["description"].contains("]]&gt; &amp;") && j["description"].contains("😀"));
        assert!(j["url"].ends_with(&format!("/jobs/{id}?utm_source=indeed&utm_medium=job_board")), "{}", j["url"]);
    }
    for j in &jobs {
        let names: Vec<&str> = j.keys().map(String::as_str).collect();
        let mut want = INDEED_ELEMENTS.to_vec();
        want.sort();
        assert_eq!(names, want, "every element in every job");
    }
    for gone in [&draft, &closed, &expired] {
        assert!(!ids.contains(&gone.as_str()), "draft, closed and expired jobs are left out");
    }
    assert!(ids.contains(&indeed_only.as_str()) && ids.contains(&short_id.as_str()));

    let res = app.get("/feeds/indeed.xml").header("if-none-match", &etag).send().await.unwrap();
    assert_eq!(res.status(), 304);

    let linkedin = jobs_in(&app.get("/feeds/linkedin.xml").send().await.unwrap().bytes().await.unwrap());
    let lids: Vec<&str> = linkedin.iter().map(|j| j["partnerJobId"].as_str()).collect();
    assert_eq!(linkedin.len(), 3, "the hostile three; the short one and the Indeed-only one are left out: {lids:?}");
    for j in &linkedin {
        for e in LINKEDIN_ELEMENTS {
            assert!(j.contains_key(*e), "{e} missing");
        }
        assert!(j["applyUrl"].ends_with("utm_source=linkedin&utm_medium=job_board"));
    }
    let json_feed: Value = app.get("/feeds/jobs.json").send().await.unwrap().json().await.unwrap();
    let postings = json_feed.as_array().unwrap();
    assert_eq!(postings.len(), 4);
    assert!(postings
        .iter()
        .all(|p| p["@type"] == "JobPosting" && p["url"].as_str().unwrap().contains("utm_source=google")));

    // A candidate arriving through the Indeed link is credited to Indeed.
    let (id, _) = &open[0];
    let url = &jobs.iter().find(|j| &j["referencenumber"] == id).unwrap()["url"];
    let body = json!({"first_name": "Ada", "last_name": "L", "email": "feed.applicant@example.com",
                      "consent": {"processing": true}, "source": {"landing_url": url, "referrer": "https://uk.indeed.com/"}});
    let ids: Value =
        app.post(&format!("/careers/jobs/{id}/applications")).json(&body).send().await.unwrap().json().await.unwrap();
    let a = app
        .stack
        .state
        .store
        .get_application(&ids["application_id"].as_str().unwrap().parse().unwrap())
        .await
        .unwrap()
        .unwrap();
    assert_eq!((a.attribution.channel.as_str(), a.attribution.source.as_str()), ("job_board", "indeed"));

    // Nothing changed: the next run writes nothing and the ETag stays.
    let report: Value =
        app.post("/_local/run/feeds").query(&[("now", &later)]).send().await.unwrap().json().await.unwrap();
    assert_eq!(report["built"], false, "nothing marked since the last build: {report}");
    app.post(&format!("/api/jobs/{closed}/publish")).bearer_auth(&token).send().await.unwrap();
    app.post(&format!("/api/jobs/{closed}/close"))
        .bearer_auth(&token)
        .json(&json!({"reason": "filled"}))
        .send()
        .await
        .unwrap();
    let report: Value =
        app.post("/_local/run/feeds").query(&[("now", &later)]).send().await.unwrap().json().await.unwrap();
    assert_eq!(
        (report["built"].as_bool(), report["written"].as_array().map(Vec::len)),
        (Some(true), Some(0)),
        "{report}"
    );
    assert_eq!(app.get("/feeds/indeed.xml").header("if-none-match", &etag).send().await.unwrap().status(), 304);
}

#[tokio::test]
async fn ten_thousand_jobs_build_one_query_a_page_with_flat_memory() {
    let app = spawn_app().await;
    let st = app.stack.state.clone();
    let base: rapport::job::JobSpec = rapport::job::JobSpec::parse({
        let mut b = job_body();
        b["description_html"] = json!(format!("<p>{}</p>", "Care for patients on a busy ward. ".repeat(40)));
        b
    })
    .unwrap();
    let now = chrono::Utc::now();
    let jobs: Vec<rapport::job::Job> = (0..10_000)
        .map(|i| {
            let mut spec = base.clone();
            spec.title = format!("Registered Nurse {i}");
            rapport::job::Job::new(rapport::ids::JobId::new(st.clock.as_ref()), spec, now).publish(now).unwrap()
        })
        .collect();
    st.store.create_jobs(&jobs).await.unwrap();
    let report: Value = app.post("/_local/run/feeds").send().await.unwrap().json().await.unwrap();
    assert_eq!(report["jobs"]["indeed"], 10_000, "{report}");
    let queries = report["queries"].as_u64().unwrap();
    assert!((100..=101).contains(&queries), "one query a page of 100: {queries}");
    let largest = report["largest_buffer_bytes"].as_u64().unwrap();
    assert!(largest < (rapport::files::PART_SIZE + 2 * 1024 * 1024) as u64, "memory stays flat: {largest}");
    let head = app.stack.aws.s3().head_object().bucket(&st.config.bucket).key("feeds/indeed.xml").send().await.unwrap();
    assert!(head.content_length.unwrap() > 3 * rapport::files::PART_SIZE as i64, "a multipart feed");
    // Too large for a Lambda response: the route hands over an S3 link.
    let no_redirects = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let res = no_redirects.get(format!("{}/feeds/indeed.xml", app.url)).send().await.unwrap();
    assert_eq!(res.status(), 302);
}
