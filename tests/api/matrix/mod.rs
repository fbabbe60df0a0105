//! Every route of the route table (`rapport::routes::ROUTES`) against every kind of caller, with the
//! outcome API.md gives: admin, recruiter, a hiring manager on the job's team, one off it, and no
//! token. A route without a row here fails the test, so a new route cannot ship without its answer
//! for each role; public routes answer everyone alike.
mod rows;

use crate::helpers::*;
use rapport::routes::ROUTES;
use rows::rows;
use serde_json::{json, Value};
use std::collections::BTreeSet;

#[derive(Clone, Copy, Debug)]
enum Who {
    Admin,
    Recruiter,
    HmOn,
    HmOff,
    Nobody,
}

const CALLERS: [Who; 5] = [Who::Admin, Who::Recruiter, Who::HmOn, Who::HmOff, Who::Nobody];

/// The ids the rows' paths are made of.
struct Ids {
    job: String,
    /// A job that stays open, for the career site and its feeds.
    open_job: String,
    application: String,
    interview: String,
    candidate: String,
    /// Another person, whom the admin erases.
    erasable: String,
    prospect: String,
    campaign: String,
    confirm_token: String,
    unsubscribe_token: String,
    /// A webhook endpoint (admins only).
    webhook: String,
}

impl Ids {
    fn placeholders() -> Self {
        let x = || "x".to_string();
        Self {
            job: x(),
            open_job: x(),
            application: x(),
            interview: x(),
            candidate: x(),
            erasable: x(),
            prospect: x(),
            campaign: x(),
            confirm_token: x(),
            unsubscribe_token: x(),
            webhook: x(),
        }
    }
}

enum Body {
    None,
    /// JSON; an `email` holding `{n}` gets a number unique to the request.
    Json(Value),
    /// Bytes of a media type.
    Raw(&'static str, &'static str),
}

/// One request to one route, and the status each caller gets, in the order of `CALLERS`.
struct Row {
    method: &'static str,
    /// The route as the route table writes it.
    route: &'static str,
    path: String,
    body: Body,
    want: [u16; 5],
}

/// The routes without a row, and the rows of no route.
fn coverage(rows: &[Row]) -> (Vec<String>, Vec<String>) {
    let covered: BTreeSet<String> = rows.iter().map(|r| format!("{} {}", r.method, r.route)).collect();
    let routes: BTreeSet<String> = ROUTES.iter().map(|r| r.key()).collect();
    (routes.difference(&covered).cloned().collect(), covered.difference(&routes).cloned().collect())
}

#[test]
fn every_route_of_the_route_table_has_a_row() {
    let (missing, unknown) = coverage(&rows(&Ids::placeholders()));
    assert!(missing.is_empty(), "routes with no row in the authorization matrix: {missing:?}");
    assert!(unknown.is_empty(), "rows for routes that do not exist: {unknown:?}");
}

async fn current_version(app: &TestApp, admin: &str, path: &str) -> u64 {
    let v: Value = app.get_json(path, admin).await;
    v["version"].as_u64().unwrap()
}

async fn created(app: &TestApp, token: &str, path: &str, body: Value) -> Value {
    let res = app.post(path).bearer_auth(token).json(&body).send().await.unwrap();
    assert!(res.status().is_success(), "{path}: {}", res.status());
    res.json().await.unwrap()
}

async fn apply(app: &TestApp, job: &str, email: &str) -> Value {
    let body = json!({"first_name": "A", "last_name": "B", "email": email, "consent": {"processing": true}});
    let res = app.post(&format!("/careers/jobs/{job}/applications")).json(&body).send().await.unwrap();
    assert_eq!(res.status(), 201);
    res.json().await.unwrap()
}

#[tokio::test]
async fn every_route_answers_each_role_as_the_contract_says() {
    let app = spawn_app().await;
    let admin = app.token("admin").await;
    let tokens = [
        Some(admin.clone()),
        Some(app.token("recruiter").await),
        Some(app.token_for(json!({"role": "hiring_manager", "sub": "hm-on-team"})).await),
        Some(app.token_for(json!({"role": "hiring_manager", "sub": "hm-elsewhere"})).await),
        None,
    ];
    let job = app.create_job(&admin, job_body()).await["id"].as_str().unwrap().to_string();
    app.publish(&admin, &job).await;
    let open_job = app.open_job(&admin, |_| {}).await;
    let a = apply(&app, &job, "matrix@example.com").await;
    let erasable = apply(&app, &job, "matrix.erasable@example.com").await;
    let application = a["application_id"].as_str().unwrap().to_string();
    let interview = created(
        &app,
        &admin,
        &format!("/api/applications/{application}/interviews"),
        json!({"scheduled_at": "2026-12-01T10:00:00Z", "kind": "phone", "interviewers": ["hm-on-team"]}),
    )
    .await;
    let prospect =
        created(&app, &admin, "/api/prospects", json!({"email": "matrix.crm@example.com", "consent": true})).await;
    let campaign = created(
        &app,
        &admin,
        "/api/campaigns",
        json!({"name": "c", "segment": {}, "steps": [{"after_days": 0, "content": {"kind": "jobs"}}]}),
    )
    .await;
    let pool = "matrix.pool@example.com";
    let res = app
        .post("/careers/talent-pool")
        .json(&json!({"email": pool, "interests": {}, "consent": {"talent_pool": true}}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 202);
    let st = &app.stack.state;
    let pool_hash = st.email_hash(&rapport::email::Email::parse(pool).unwrap()).await.unwrap();
    // The link in the opt-in email names the pending request's nonce.
    let pending = st.store.prospect_by_email_hash(&pool_hash).await.unwrap().unwrap();
    let nonce = pending["pending_nonce"].as_s().unwrap().clone();
    let res = app.post("/_local/run/feeds").send().await.unwrap();
    assert!(res.status().is_success());
    let webhook =
        created(&app, &admin, "/api/webhooks", json!({"url": "http://127.0.0.1:9/matrix", "events": ["*"]})).await;
    let ids = Ids {
        job,
        open_job,
        application: application.clone(),
        interview: interview["id"].as_str().unwrap().to_string(),
        candidate: a["candidate_id"].as_str().unwrap().to_string(),
        erasable: erasable["candidate_id"].as_str().unwrap().to_string(),
        prospect: prospect["id"].as_str().unwrap().to_string(),
        campaign: campaign["id"].as_str().unwrap().to_string(),
        confirm_token: rapport::prospect::confirm_token(
            st.signer().await.unwrap(),
            &pool_hash,
            Some(&nonce),
            chrono::Utc::now(),
        ),
        unsubscribe_token: rapport::prospect::unsubscribe_token(st.signer().await.unwrap(), &pool_hash),
        webhook: webhook["id"].as_str().unwrap().to_string(),
    };
    let rows = rows(&ids);
    let (missing, _) = coverage(&rows);
    assert!(missing.is_empty(), "routes with no row in the authorization matrix: {missing:?}");

    let mut moves = ["screen", "interview", "offer", "screen", "interview"].iter();
    let mut n = 0;
    for row in &rows {
        for ((who, token), want) in CALLERS.iter().zip(&tokens).zip(row.want) {
            let mut req = app.http.request(
                reqwest::Method::from_bytes(row.method.as_bytes()).unwrap(),
                format!("{}{}", app.url, row.path),
            );
            let json_body = match (row.method, row.route) {
                ("PATCH", "/api/jobs/{id}") => Some(json!({
                    "expected_version": current_version(&app, &admin, &row.path).await,
                    "title": format!("Nurse {who:?}")
                })),
                (_, "/api/applications/{id}/transitions") => {
                    let path = format!("/api/applications/{application}");
                    let version = current_version(&app, &admin, &path).await;
                    let to = if want == 200 { moves.next().unwrap() } else { &"screen" };
                    Some(json!({"to": to, "expected_version": version}))
                }
                _ => match &row.body {
                    Body::Json(v) => {
                        let mut v = v.clone();
                        if let Some(email) = v["email"].as_str().filter(|e| e.contains("{n}")) {
                            n += 1;
                            v["email"] = json!(email.replace("{n}", &n.to_string()));
                        }
                        Some(v)
                    }
                    Body::Raw(content_type, bytes) => {
                        req = req.header("content-type", *content_type).body(*bytes);
                        None
                    }
                    Body::None => None,
                },
            };
            if let Some(v) = json_body {
                req = req.json(&v);
            }
            if let Some(t) = token {
                req = req.bearer_auth(t);
            }
            let res = req.send().await.unwrap();
            let status = res.status().as_u16();
            let text = res.text().await.unwrap();
            assert_eq!(status, want, "{} {} as {who:?}: {text}", row.method, row.path);
        }
    }
    // A hiring manager's job list holds only their jobs.
    let list: Value = app.get_json("/api/jobs", tokens[3].as_ref().unwrap()).await;
    assert!(list["items"].as_array().unwrap().is_empty());
}
