use crate::helpers::*;
use serde_json::{json, Value};
use std::collections::BTreeMap;

/// Applies through the career site from a source and returns the application id.
pub(crate) async fn apply(app: &TestApp, job: &str, n: usize, source: Value) -> String {
    let body = json!({"first_name": "A", "last_name": "B", "email": format!("r{n}.{}@example.com", ulid::Ulid::generate().to_string().to_lowercase()),
                      "consent": {"processing": true}, "source": source});
    let res = app.post(&format!("/careers/jobs/{job}/applications")).json(&body).send().await.unwrap();
    assert_eq!(res.status(), 201);
    res.json::<Value>().await.unwrap()["application_id"].as_str().unwrap().to_string()
}

#[tokio::test]
async fn the_sources_report_equals_a_recount_of_the_applications() {
    let app = spawn_app().await;
    let token = app.token("recruiter").await;
    let job = app.create_job(&token, job_body()).await["id"].as_str().unwrap().to_string();
    app.publish(&token, &job).await;
    let sources = [
        json!({"utm_source": "indeed", "utm_medium": "job_board"}),
        json!({"utm_source": "linkedin", "utm_medium": "job_board"}),
        json!({"utm_source": "anna", "utm_medium": "referral"}),
        json!({"landing_url": format!("{}/", app.url)}),
        json!({}),
        json!({"utm_source": "=cmd|' /C calc'!A0"}),
    ];
    // A mixed history: a pseudo-random source per application, and some hired.
    let mut expected: BTreeMap<String, (u64, u64)> = BTreeMap::new();
    let mut seed = 7u64;
    for n in 0..36 {
        seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        let source = sources[(seed >> 33) as usize % sources.len()].clone();
        let id = apply(&app, &job, n, source).await;
        let a = app.stack.state.store.get_application(&id.parse().unwrap()).await.unwrap().unwrap();
        let hired = (seed >> 20).is_multiple_of(3);
        if hired {
            let res = app.transition(&token, &id, json!({"to": "hired", "expected_version": 1})).await;
            assert_eq!(res.status(), 200);
        }
        let e = expected.entry(a.attribution.channel.as_str().to_string()).or_default();
        e.0 += 1;
        e.1 += u64::from(hired);
    }
    let res = app.get(&format!("/api/reports/sources?job_id={job}")).bearer_auth(&token).send().await.unwrap();
    assert_eq!(
        calls(&res).iter().filter(|c| c.ends_with(".Query")).count(),
        1,
        "one query over counters, never a scan"
    );
    assert!(!calls(&res).iter().any(|c| c.ends_with(".Scan")));
    let report: Value = res.json().await.unwrap();
    let got: BTreeMap<String, (u64, u64)> = report["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["channel"].as_str().unwrap().to_string(),
                (r["applicants"].as_u64().unwrap(), r["hires"].as_u64().unwrap()),
            )
        })
        .collect();
    assert_eq!(got, expected, "every figure equals a recount");
    assert_eq!(report["totals"]["applicants"], 36);
    assert!(got.contains_key("unattributed"));

    // All jobs together, by source, as CSV.
    let res = app.get("/api/reports/sources?group=source&format=csv").bearer_auth(&token).send().await.unwrap();
    assert_eq!(res.headers()["content-type"], "text/csv; charset=utf-8");
    let csv = res.text().await.unwrap();
    assert!(
        csv.starts_with(
            "channel,source,applicants,hires,hire_rate,spend,currency,cost_per_applicant,cost_per_hire\r\n"
        ),
        "{csv}"
    );
    assert!(csv.lines().all(|l| !l.contains(",=") && !l.starts_with('=')), "no cell starts a formula: {csv}");
    assert!(csv.contains("job_board,indeed,"));

    let res = app
        .get("/api/reports/sources?from=2026-13-01&group=vibes&format=pdf")
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    let mut fields = error_fields(&problem(res, 422).await);
    fields.sort();
    assert_eq!(fields, vec!["format", "from", "group"]);
}

#[tokio::test]
async fn the_funnel_counts_drafts_submissions_and_stages() {
    let app = spawn_app().await;
    let token = app.token("recruiter").await;
    let job = app.create_job(&token, job_body()).await["id"].as_str().unwrap().to_string();
    app.publish(&token, &job).await;
    for i in 0..3 {
        app.post(&format!("/careers/jobs/{job}/drafts"))
            .json(&json!({"email": format!("d{i}@example.com")}))
            .send()
            .await
            .unwrap();
    }
    let a1 = apply(&app, &job, 1, json!({})).await;
    let _a2 = apply(&app, &job, 2, json!({})).await;
    app.post(&format!("/api/applications/{a1}/transitions"))
        .bearer_auth(&token)
        .json(&json!({"to": "screen", "expected_version": 1}))
        .send()
        .await
        .unwrap();
    let later = (chrono::Utc::now() + chrono::Duration::hours(25)).to_rfc3339();
    app.post("/_local/run/drafts").query(&[("now", &later)]).send().await.unwrap();

    let funnel = |token: &str, query: &str| {
        let req = app.get(&format!("/api/reports/funnel?job_id={job}{query}")).bearer_auth(token).send();
        async move {
            let res = req.await.unwrap();
            let mut ops = calls(&res);
            // A range ending before today reads the stage list beside the query, at once.
            ops.sort();
            (res.status().as_u16(), ops, res.json::<Value>().await.unwrap())
        }
    };
    let (status, ops, f) = funnel(&token, "").await;
    assert_eq!(status, 200, "{f}");
    assert_eq!(ops, vec!["dynamodb.Query"], "a range to today: one query, the job's stages in it");
    assert_eq!(
        (f["started"].as_u64(), f["submitted"].as_u64(), f["dropped"].as_u64()),
        (Some(5), Some(2), Some(3)),
        "{f}"
    );
    let stages = f["stages"].as_array().unwrap();
    assert_eq!((stages[0]["stage"].as_str(), stages[0]["entered"].as_u64()), (Some("applied"), Some(2)));
    assert_eq!(
        (stages[1]["stage"].as_str(), stages[1]["entered"].as_u64(), stages[1]["conversion"].as_f64()),
        (Some("screen"), Some(1), Some(0.5))
    );

    // A range before any of it: the stage list read by its key, and nothing counted.
    let (status, ops, f) = funnel(&token, "&from=2020-01-01&to=2020-01-31").await;
    assert_eq!(status, 200, "{f}");
    assert_eq!(ops, vec!["dynamodb.GetItem", "dynamodb.Query"]);
    assert_eq!(
        (f["started"].as_u64(), f["submitted"].as_u64(), f["stages"][1]["entered"].as_u64()),
        (Some(0), Some(0), Some(0))
    );
    assert_eq!(f["stages"].as_array().unwrap().len(), 5, "{f}");

    // The stage list follows the job's edits: it is written in the same transaction.
    let mut edited = rapport::stage::default_stages();
    edited[1].name = "Phone screen".into();
    let res = app
        .patch(&format!("/api/jobs/{job}"))
        .bearer_auth(&token)
        .json(&json!({"expected_version": 2, "stages": edited}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200, "{}", res.text().await.unwrap());
    let (_, _, f) = funnel(&token, "").await;
    assert_eq!((f["stages"][1]["name"].as_str(), f["stages"][1]["entered"].as_u64()), (Some("Phone screen"), Some(1)));

    // A hiring manager's team is on the job, never in the counters' partition: read first.
    let hm = app.token_for(json!({"role": "hiring_manager", "sub": "hm-on-team"})).await;
    let (status, ops, _) = funnel(&hm, "").await;
    assert_eq!((status, ops), (200, vec!["dynamodb.GetItem".to_string(), "dynamodb.Query".to_string()]));
    let other = app.token_for(json!({"role": "hiring_manager", "sub": "someone-else"})).await;
    let (status, ops, _) = funnel(&other, "").await;
    assert_eq!((status, ops), (404, vec!["dynamodb.GetItem".to_string()]), "nothing counted is read for them");

    // No such job: the query finds no stage list.
    let res = app.get(&format!("/api/reports/funnel?job_id={}", ulid::Ulid::generate()));
    let res = res.bearer_auth(&token).send().await.unwrap();
    assert_eq!(calls(&res), vec!["dynamodb.Query"]);
    problem(res, 404).await;
    problem(app.get("/api/reports/funnel").bearer_auth(&token).send().await.unwrap(), 422).await;
}

#[tokio::test]
async fn hiring_managers_see_reports_of_their_jobs_only() {
    let app = spawn_app().await;
    let token = app.token("recruiter").await;
    let hm = app.token_for(json!({"role": "hiring_manager", "sub": "hm-on-team"})).await;
    let other = app.token_for(json!({"role": "hiring_manager", "sub": "someone-else"})).await;
    let job = app.create_job(&token, job_body()).await["id"].as_str().unwrap().to_string();
    assert_eq!(
        app.get(&format!("/api/reports/sources?job_id={job}")).bearer_auth(&hm).send().await.unwrap().status(),
        200
    );
    problem(app.get("/api/reports/sources").bearer_auth(&hm).send().await.unwrap(), 403).await;
    problem(app.get(&format!("/api/reports/sources?job_id={job}")).bearer_auth(&other).send().await.unwrap(), 404)
        .await;
    assert_eq!(app.get("/api/reports/sources").send().await.unwrap().status(), 401);
}

#[tokio::test]
async fn time_in_stage_and_to_hire_are_reported_per_stage() {
    use chrono::{Duration, TimeZone, Utc};
    let start = Utc.with_ymd_and_hms(2026, 9, 1, 8, 0, 0).unwrap();
    let (app, clock) = spawn_app_at(start).await;
    let token = app.token("recruiter").await;
    let job = app.create_job(&token, job_body()).await["id"].as_str().unwrap().to_string();
    app.publish(&token, &job).await;
    // Three people wait 1, 2 and 4 days in `applied`, then 1 day in `screen`, then are hired.
    for (n, wait) in [1i64, 2, 4].into_iter().enumerate() {
        clock.set(start);
        let id = apply(&app, &job, n, json!({})).await;
        for (v, (to, after)) in [("screen", wait), ("hired", 1)].into_iter().enumerate() {
            clock.advance(Duration::days(after));
            let res = app.transition(&token, &id, json!({"to": to, "expected_version": v + 1})).await;
            assert_eq!(res.status(), 200);
        }
    }
    let res = app.get(&format!("/api/reports/time-in-stage?job_id={job}")).bearer_auth(&token).send().await.unwrap();
    assert_eq!(calls(&res).iter().filter(|c| c.ends_with(".Query")).count(), 1);
    let r: Value = res.json().await.unwrap();
    let stages = r["stages"].as_array().unwrap();
    assert_eq!(
        stages.iter().map(|s| s["stage"].as_str().unwrap()).collect::<Vec<_>>(),
        vec!["applied", "screen", "interview", "offer"]
    );
    // Small sets are exact: median of 1, 2, 4 days is 2; the 90th percentile is 4.
    assert_eq!(
        (stages[0]["samples"].as_u64(), stages[0]["median_days"].as_f64(), stages[0]["p90_days"].as_f64()),
        (Some(3), Some(2.0), Some(4.0))
    );
    assert_eq!((stages[1]["median_days"].as_f64(), stages[1]["p90_days"].as_f64()), (Some(1.0), Some(1.0)));
    assert!(stages[2]["median_days"].is_null());
    assert_eq!(
        (r["time_to_hire"]["samples"].as_u64(), r["time_to_hire"]["median_days"].as_f64()),
        (Some(3), Some(3.0))
    );
    problem(app.get("/api/reports/time-in-stage").bearer_auth(&token).send().await.unwrap(), 422).await;
}

#[tokio::test]
async fn spend_gives_cost_per_applicant_and_per_hire() {
    let app = spawn_app().await;
    let token = app.token("recruiter").await;
    let job = app.create_job(&token, job_body()).await["id"].as_str().unwrap().to_string();
    app.publish(&token, &job).await;
    let (mut indeed, mut linkedin) = (Vec::new(), Vec::new());
    for n in 0..4 {
        indeed.push(apply(&app, &job, n, json!({"utm_source": "indeed", "utm_medium": "job_board"})).await);
    }
    for n in 4..6 {
        linkedin.push(apply(&app, &job, n, json!({"utm_source": "linkedin", "utm_medium": "job_board"})).await);
    }
    app.post(&format!("/api/applications/{}/transitions", indeed[0]))
        .bearer_auth(&token)
        .json(&json!({"to": "hired", "expected_version": 1}))
        .send()
        .await
        .unwrap();
    let month = chrono::Utc::now().format("%Y-%m").to_string();
    for (source, amount) in [("indeed", 500.0), ("Indeed", 400.0), ("linkedin", 300.0)] {
        let res = app
            .http
            .put(format!("{}/api/reports/spend", app.url))
            .bearer_auth(&token)
            .json(
                &json!({"month": month, "channel": "job_board", "source": source, "amount": amount, "currency": "USD"}),
            )
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200);
    }
    // Whole months, so no proration: the last write for Indeed (400) wins.
    let today = chrono::Utc::now().date_naive();
    let first = format!("{month}-01");
    let last = chrono::NaiveDate::parse_from_str(&first, "%Y-%m-%d").unwrap() + chrono::Duration::days(40);
    let last = chrono::NaiveDate::from_ymd_opt(chrono::Datelike::year(&last), chrono::Datelike::month(&last), 1)
        .unwrap()
        - chrono::Duration::days(1);
    assert!(today <= last);
    let r: Value = app.get_json(&format!("/api/reports/sources?group=source&from={first}&to={last}"), &token).await;
    let row = |s: &str| r["rows"].as_array().unwrap().iter().find(|x| x["source"] == s).unwrap().clone();
    let i = row("indeed");
    assert_eq!((i["applicants"].as_u64(), i["hires"].as_u64()), (Some(4), Some(1)));
    assert_eq!(
        (i["spend"].as_f64(), i["cost_per_applicant"].as_f64(), i["cost_per_hire"].as_f64()),
        (Some(400.0), Some(100.0), Some(400.0))
    );
    let l = row("linkedin");
    assert_eq!((l["spend"].as_f64(), l["cost_per_applicant"].as_f64()), (Some(300.0), Some(150.0)));
    assert!(l["cost_per_hire"].is_null(), "no hires, no cost per hire");
    let csv = app
        .get(&format!("/api/reports/sources?group=source&format=csv&from={first}&to={last}"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        csv.starts_with(
            "channel,source,applicants,hires,hire_rate,spend,currency,cost_per_applicant,cost_per_hire\r\n"
        ),
        "{csv}"
    );
    assert!(csv.contains("job_board,indeed,4,1,0.2500,400.0,USD,100.0,400.0"), "{csv}");

    let hm = app.token_for(json!({"role": "hiring_manager", "sub": "hm-on-team"})).await;
    let res = app
        .http
        .put(format!("{}/api/reports/spend", app.url))
        .bearer_auth(&hm)
        .json(&json!({"month": month, "channel": "job_board", "source": "indeed", "amount": 1, "currency": "USD"}))
        .send()
        .await
        .unwrap();
    problem(res, 403).await;
    let res = app
        .http
        .put(format!("{}/api/reports/spend", app.url))
        .bearer_auth(&token)
        .json(&json!({"month": "2026-13", "channel": "tv", "source": "!!", "amount": -1, "currency": "XYZ"}))
        .send()
        .await
        .unwrap();
    let mut fields = error_fields(&problem(res, 422).await);
    fields.sort();
    assert_eq!(fields, vec!["channel", "currency", "month"]);
}
