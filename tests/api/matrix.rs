//! Every `/api` route against every kind of caller, with the outcome API.md gives: admin, recruiter,
//! a hiring manager on the job's team, one off it, and no token.
use crate::helpers::*;
use serde_json::{json, Value};

#[derive(Clone, Copy, Debug)]
enum Who {
    Admin,
    Recruiter,
    HmOn,
    HmOff,
    Nobody,
}

struct Ids {
    job: String,
    application: String,
    interview: String,
}

async fn current_version(app: &TestApp, admin: &str, path: &str) -> u64 {
    let v: Value = app.get_json(path, &admin).await;
    v["version"].as_u64().unwrap()
}

#[tokio::test]
async fn every_api_route_answers_each_role_as_the_contract_says() {
    let app = spawn_app().await;
    let admin = app.token("admin").await;
    let tokens = [
        (Who::Admin, Some(admin.clone())),
        (Who::Recruiter, Some(app.token("recruiter").await)),
        (Who::HmOn, Some(app.token_for(json!({"role": "hiring_manager", "sub": "hm-on-team"})).await)),
        (Who::HmOff, Some(app.token_for(json!({"role": "hiring_manager", "sub": "hm-elsewhere"})).await)),
        (Who::Nobody, None),
    ];
    let job = app.create_job(&admin, job_body()).await;
    let job_id = job["id"].as_str().unwrap().to_string();
    app.publish(&admin, &job_id).await;
    let body =
        json!({"first_name": "A", "last_name": "B", "email": "matrix@example.com", "consent": {"processing": true}});
    let created: Value = app
        .post(&format!("/careers/jobs/{job_id}/applications"))
        .json(&body)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let application = created["application_id"].as_str().unwrap().to_string();
    let interview: Value = app
        .post(&format!("/api/applications/{application}/interviews"))
        .bearer_auth(&admin)
        .json(&json!({"scheduled_at": "2026-12-01T10:00:00Z", "kind": "phone", "interviewers": ["hm-on-team"]}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let ids = Ids { job: job_id, application, interview: interview["id"].as_str().unwrap().to_string() };

    // (method, path, expected for admin, recruiter, hm on, hm off, nobody)
    let stages = ["screen", "interview", "offer", "screen", "interview"];
    let mut moves = stages.iter();
    for (method, route, expected) in [
        ("POST", "/api/jobs", [201, 201, 403, 403, 401]),
        ("GET", "/api/jobs", [200, 200, 200, 200, 401]),
        ("GET", "/api/jobs/{job}", [200, 200, 200, 404, 401]),
        ("PATCH", "/api/jobs/{job}", [200, 200, 403, 404, 401]),
        ("POST", "/api/jobs/{job}/close", [200, 200, 403, 404, 401]),
        ("POST", "/api/jobs/{job}/publish", [200, 200, 403, 404, 401]),
        ("GET", "/api/jobs/{job}/applications", [200, 200, 200, 404, 401]),
        ("GET", "/api/applications/{application}", [200, 200, 200, 404, 401]),
        ("POST", "/api/applications/{application}/transitions", [200, 200, 403, 404, 401]),
        ("POST", "/api/applications/{application}/interviews", [201, 201, 403, 404, 401]),
        ("POST", "/api/interviews/{interview}/feedback", [201, 201, 201, 404, 401]),
    ] {
        let path = route
            .replace("{job}", &ids.job)
            .replace("{application}", &ids.application)
            .replace("{interview}", &ids.interview);
        for ((who, token), want) in tokens.iter().zip(expected) {
            let body = match route {
                "/api/jobs" => job_body(),
                "/api/jobs/{job}" => {
                    json!({"expected_version": current_version(&app, &admin, &path).await, "title": format!("Nurse {who:?}")})
                }
                "/api/jobs/{job}/close" => json!({"reason": "cancelled"}),
                "/api/applications/{application}/transitions" => {
                    let version =
                        current_version(&app, &admin, &format!("/api/applications/{}", ids.application)).await;
                    let to = if want == 200 { moves.next().unwrap() } else { &"screen" };
                    json!({"to": to, "expected_version": version})
                }
                "/api/applications/{application}/interviews" => {
                    json!({"scheduled_at": "2026-12-02T10:00:00Z", "kind": "video", "interviewers": ["x"]})
                }
                "/api/interviews/{interview}/feedback" => json!({"rating": 3, "recommendation": "yes"}),
                _ => json!({}),
            };
            let mut req =
                app.http.request(reqwest::Method::from_bytes(method.as_bytes()).unwrap(), format!("{}{path}", app.url));
            if method != "GET" {
                req = req.json(&body);
            }
            if let Some(t) = token {
                req = req.bearer_auth(t);
            }
            let res = req.send().await.unwrap();
            let status = res.status().as_u16();
            let text = res.text().await.unwrap();
            assert_eq!(status, want, "{method} {route} as {who:?}: {text}");
        }
    }
    // A hiring manager's job list holds only their jobs.
    let hm_off = tokens[3].1.as_ref().unwrap();
    let list: Value = app.get_json("/api/jobs", &hm_off).await;
    assert!(list["items"].as_array().unwrap().is_empty());
}

/// The CRM and its report: recruiters and admins only; hiring managers work on their jobs' applicants.
#[tokio::test]
async fn crm_routes_answer_staff_only() {
    let app = spawn_app().await;
    let admin = app.token("admin").await;
    let tokens = [
        (Who::Admin, Some(admin.clone())),
        (Who::Recruiter, Some(app.token("recruiter").await)),
        (Who::HmOn, Some(app.token_for(json!({"role": "hiring_manager", "sub": "hm-on-team"})).await)),
        (Who::Nobody, None),
    ];
    let prospect: Value = app
        .post("/api/prospects")
        .bearer_auth(&admin)
        .json(&json!({"email": "matrix.crm@example.com", "consent": true}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let campaign: Value = app
        .post("/api/campaigns")
        .bearer_auth(&admin)
        .json(&json!({"name": "c", "segment": {}, "steps": [{"after_days": 0, "content": {"kind": "jobs"}}]}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let (p, c) = (prospect["id"].as_str().unwrap(), campaign["id"].as_str().unwrap());
    let mut n = 0;
    for (method, path, body, ok) in [
        ("GET", "/api/prospects".to_string(), json!(null), 200),
        ("POST", "/api/prospects".to_string(), json!({"email": "x", "consent": true}), 201),
        ("PATCH", format!("/api/prospects/{p}"), json!({"tags": ["a"]}), 200),
        ("GET", "/api/content".to_string(), json!(null), 200),
        (
            "POST",
            "/api/content".to_string(),
            json!({"kind": "story", "title": "t", "summary": "s", "body_html": "<p>b</p>"}),
            201,
        ),
        (
            "POST",
            "/api/campaigns".to_string(),
            json!({"name": "c", "segment": {}, "steps": [{"after_days": 1, "content": {"kind": "jobs"}}]}),
            201,
        ),
        ("GET", format!("/api/campaigns/{c}"), json!(null), 200),
        ("POST", format!("/api/campaigns/{c}/activate"), json!(null), 200),
        ("POST", format!("/api/campaigns/{c}/preview"), json!(null), 200),
        ("GET", format!("/api/reports/nurture?campaign_id={c}"), json!(null), 200),
    ] {
        for (who, token) in &tokens {
            let want = match who {
                Who::Admin | Who::Recruiter => ok,
                Who::Nobody => 401,
                _ => 403,
            };
            let mut body = body.clone();
            if body["email"] == "x" {
                n += 1;
                body["email"] = json!(format!("matrix.{n}@example.com"));
            }
            let mut req =
                app.http.request(reqwest::Method::from_bytes(method.as_bytes()).unwrap(), format!("{}{path}", app.url));
            if !body.is_null() {
                req = req.json(&body);
            }
            if let Some(t) = token {
                req = req.bearer_auth(t);
            }
            let res = req.send().await.unwrap();
            let status = res.status().as_u16();
            assert_eq!(status, want, "{method} {path} as {who:?}: {}", res.text().await.unwrap());
        }
    }
}
