//! Every route of the route table (`rapport::routes::ROUTES`) against every kind of caller, with the
//! outcome API.md gives: admin, recruiter, a hiring manager on the job's team, one off it, and no
//! token. A route without a row here fails the test, so a new route cannot ship without its answer
//! for each role; public routes answer everyone alike.
use crate::helpers::*;
use rapport::routes::ROUTES;
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

/// The same answer for everyone: a public route ignores any token.
const fn public(status: u16) -> [u16; 5] {
    [status; 5]
}

/// The rows, in the order they run (they change the data they share: the job is closed last).
fn rows(ids: &Ids) -> Vec<Row> {
    let Ids { job, open_job, application, interview, candidate, erasable, prospect, campaign, webhook, .. } = ids;
    let row = |method, route, path: String, body, want| Row { method, route, path, body, want };
    let none = || Body::None;
    let csv = "email,first_name,consent\nmatrix.import@example.com,Imp,yes\n";
    vec![
        // Jobs: staff manage them; a hiring manager reads the jobs of their team and learns of no other.
        row("POST", "/api/jobs", "/api/jobs".into(), Body::Json(job_body()), [201, 201, 403, 403, 401]),
        row("GET", "/api/jobs", "/api/jobs".into(), none(), [200, 200, 200, 200, 401]),
        row("GET", "/api/jobs/{id}", format!("/api/jobs/{job}"), none(), [200, 200, 200, 404, 401]),
        row("PATCH", "/api/jobs/{id}", format!("/api/jobs/{job}"), none(), [200, 200, 403, 404, 401]),
        row(
            "PUT",
            "/api/jobs/{id}/description",
            format!("/api/jobs/{job}/description"),
            Body::Raw("text/markdown", "Care for *patients* on a busy ward."),
            [200, 200, 403, 404, 401],
        ),
        row(
            "GET",
            "/api/jobs/{id}/description",
            format!("/api/jobs/{job}/description"),
            none(),
            [200, 200, 200, 404, 401],
        ),
        row("POST", "/api/jobs/{id}/publish", format!("/api/jobs/{job}/publish"), none(), [200, 200, 403, 404, 401]),
        // Applicant tracking: a hiring manager on the team reads and gives feedback, never moves.
        row(
            "GET",
            "/api/jobs/{id}/applications",
            format!("/api/jobs/{job}/applications"),
            none(),
            [200, 200, 200, 404, 401],
        ),
        row(
            "GET",
            "/api/applications/{id}",
            format!("/api/applications/{application}"),
            none(),
            [200, 200, 200, 404, 401],
        ),
        row(
            "POST",
            "/api/applications/{id}/transitions",
            format!("/api/applications/{application}/transitions"),
            none(),
            [200, 200, 403, 404, 401],
        ),
        row(
            "POST",
            "/api/applications/{id}/interviews",
            format!("/api/applications/{application}/interviews"),
            Body::Json(json!({"scheduled_at": "2026-12-02T10:00:00Z", "kind": "video", "interviewers": ["x"]})),
            [201, 201, 403, 404, 401],
        ),
        row(
            "POST",
            "/api/interviews/{id}/feedback",
            format!("/api/interviews/{interview}/feedback"),
            Body::Json(json!({"rating": 3, "recommendation": "yes"})),
            [201, 201, 201, 404, 401],
        ),
        // Privacy requests act on a person as a whole: admins only. Everyone else is refused before
        // anything is read, so the answer says nothing about whether the person exists.
        row(
            "GET",
            "/api/candidates/{id}/export",
            format!("/api/candidates/{candidate}/export"),
            none(),
            [200, 403, 403, 403, 401],
        ),
        row(
            "PUT",
            "/api/candidates/{id}/consents/{purpose}",
            format!("/api/candidates/{candidate}/consents/marketing_email"),
            Body::Json(json!({"given": true, "note": "on the phone"})),
            [200, 403, 403, 403, 401],
        ),
        row("DELETE", "/api/candidates/{id}", format!("/api/candidates/{erasable}"), none(), [204, 403, 403, 403, 401]),
        // Reports: a hiring manager sees those of their own jobs; demographics are admins' only.
        row(
            "GET",
            "/api/reports/sources",
            format!("/api/reports/sources?job_id={job}"),
            none(),
            [200, 200, 200, 404, 401],
        ),
        row(
            "GET",
            "/api/reports/funnel",
            format!("/api/reports/funnel?job_id={job}"),
            none(),
            [200, 200, 200, 404, 401],
        ),
        row(
            "GET",
            "/api/reports/time-in-stage",
            format!("/api/reports/time-in-stage?job_id={job}"),
            none(),
            [200, 200, 200, 404, 401],
        ),
        row(
            "GET",
            "/api/reports/demographics",
            format!("/api/reports/demographics?job_id={job}"),
            none(),
            [200, 403, 403, 403, 401],
        ),
        row(
            "PUT",
            "/api/reports/spend",
            "/api/reports/spend".into(),
            Body::Json(json!({"month": "2026-11", "channel": "job_board", "source": "indeed", "amount": 10,
                              "currency": "USD"})),
            [200, 200, 403, 403, 401],
        ),
        row(
            "GET",
            "/api/reports/nurture",
            format!("/api/reports/nurture?campaign_id={campaign}"),
            none(),
            [200, 200, 403, 403, 401],
        ),
        row("GET", "/dashboard", "/dashboard".into(), none(), public(200)),
        // The CRM: recruiters and admins only; hiring managers work on their jobs' applicants.
        row("GET", "/api/prospects", "/api/prospects".into(), none(), [200, 200, 403, 403, 401]),
        row(
            "POST",
            "/api/prospects",
            "/api/prospects".into(),
            Body::Json(json!({"email": "matrix.{n}@example.com", "consent": true})),
            [201, 201, 403, 403, 401],
        ),
        row(
            "PATCH",
            "/api/prospects/{id}",
            format!("/api/prospects/{prospect}"),
            Body::Json(json!({"tags": ["a"]})),
            [200, 200, 403, 403, 401],
        ),
        row(
            "POST",
            "/api/prospects/import",
            "/api/prospects/import".into(),
            Body::Raw("text/csv", csv),
            [200, 200, 403, 403, 401],
        ),
        row(
            "POST",
            "/api/prospects/import/uploads",
            "/api/prospects/import/uploads".into(),
            Body::Json(json!({"size": 100})),
            [201, 201, 403, 403, 401],
        ),
        // No such import: staff learn so, no one else learns anything.
        row(
            "GET",
            "/api/prospects/imports/{id}",
            format!("/api/prospects/imports/{}", rapport::ids::ImportId::new(&rapport::clock::SystemClock)),
            none(),
            [404, 404, 403, 403, 401],
        ),
        row("GET", "/api/content", "/api/content".into(), none(), [200, 200, 403, 403, 401]),
        row(
            "POST",
            "/api/content",
            "/api/content".into(),
            Body::Json(json!({"kind": "story", "title": "t", "summary": "s", "body_html": "<p>b</p>"})),
            [201, 201, 403, 403, 401],
        ),
        row("GET", "/api/campaigns", "/api/campaigns".into(), none(), [200, 200, 403, 403, 401]),
        row(
            "POST",
            "/api/campaigns",
            "/api/campaigns".into(),
            Body::Json(json!({"name": "c", "segment": {}, "steps": [{"after_days": 1, "content": {"kind": "jobs"}}]})),
            [201, 201, 403, 403, 401],
        ),
        row("GET", "/api/campaigns/{id}", format!("/api/campaigns/{campaign}"), none(), [200, 200, 403, 403, 401]),
        row(
            "POST",
            "/api/campaigns/{id}/activate",
            format!("/api/campaigns/{campaign}/activate"),
            none(),
            [200, 200, 403, 403, 401],
        ),
        row(
            "POST",
            "/api/campaigns/{id}/preview",
            format!("/api/campaigns/{campaign}/preview"),
            none(),
            [200, 200, 403, 403, 401],
        ),
        // The career site and the job boards: public, whoever calls and whatever token they send.
        row("GET", "/careers/jobs", "/careers/jobs".into(), none(), public(200)),
        row("GET", "/careers/jobs/{id}", format!("/careers/jobs/{open_job}"), none(), public(200)),
        row("GET", "/feeds/indeed.xml", "/feeds/indeed.xml".into(), none(), public(200)),
        row("GET", "/feeds/linkedin.xml", "/feeds/linkedin.xml".into(), none(), public(200)),
        row("GET", "/feeds/jobs.json", "/feeds/jobs.json".into(), none(), public(200)),
        row(
            "POST",
            "/careers/uploads",
            "/careers/uploads".into(),
            Body::Json(json!({"content_type": "application/pdf", "size": 100, "purpose": "resume"})),
            public(201),
        ),
        row(
            "POST",
            "/careers/jobs/{id}/applications",
            format!("/careers/jobs/{open_job}/applications"),
            Body::Json(json!({"first_name": "A", "last_name": "B", "email": "matrix.{n}@example.com",
                              "consent": {"processing": true}})),
            public(201),
        ),
        row(
            "POST",
            "/careers/jobs/{id}/drafts",
            format!("/careers/jobs/{open_job}/drafts"),
            Body::Json(json!({"email": "matrix.{n}@example.com", "consent": {"talent_pool": false}})),
            public(201),
        ),
        row("GET", "/careers/thanks", "/careers/thanks".into(), none(), public(200)),
        row("GET", "/careers/widget.js", "/careers/widget.js".into(), none(), public(200)),
        row(
            "POST",
            "/careers/talent-pool",
            "/careers/talent-pool".into(),
            Body::Json(json!({"email": "matrix.{n}@example.com", "interests": {}, "consent": {"talent_pool": true}})),
            public(202),
        ),
        row(
            "GET",
            "/careers/talent-pool/confirm",
            format!("/careers/talent-pool/confirm?token={}", ids.confirm_token),
            none(),
            public(200),
        ),
        row(
            "POST",
            "/careers/talent-pool/confirm",
            format!("/careers/talent-pool/confirm?token={}", ids.confirm_token),
            none(),
            public(200),
        ),
        row(
            "GET",
            "/careers/unsubscribe",
            format!("/careers/unsubscribe?token={}", ids.unsubscribe_token),
            none(),
            public(200),
        ),
        row(
            "POST",
            "/careers/unsubscribe",
            format!("/careers/unsubscribe?token={}", ids.unsubscribe_token),
            Body::Raw("application/x-www-form-urlencoded", "List-Unsubscribe=One-Click"),
            public(200),
        ),
        // Webhooks: admins only (the endpoint refuses connections: a ping answers what it got).
        row(
            "POST",
            "/api/webhooks",
            "/api/webhooks".into(),
            Body::Json(json!({"url": "http://127.0.0.1:9/matrix", "events": ["*"]})),
            [201, 403, 403, 403, 401],
        ),
        row("GET", "/api/webhooks", "/api/webhooks".into(), none(), [200, 403, 403, 403, 401]),
        row("GET", "/api/webhooks/{id}", format!("/api/webhooks/{webhook}"), none(), [200, 403, 403, 403, 401]),
        row(
            "PATCH",
            "/api/webhooks/{id}",
            format!("/api/webhooks/{webhook}"),
            Body::Json(json!({"description": "matrix"})),
            [200, 403, 403, 403, 401],
        ),
        row(
            "POST",
            "/api/webhooks/{id}/rotate",
            format!("/api/webhooks/{webhook}/rotate"),
            none(),
            [200, 403, 403, 403, 401],
        ),
        row(
            "POST",
            "/api/webhooks/{id}/test",
            format!("/api/webhooks/{webhook}/test"),
            none(),
            [200, 403, 403, 403, 401],
        ),
        row(
            "GET",
            "/api/webhooks/{id}/deliveries",
            format!("/api/webhooks/{webhook}/deliveries"),
            none(),
            [200, 403, 403, 403, 401],
        ),
        // No such delivery: an admin learns that, others not even that.
        row(
            "POST",
            "/api/webhooks/{id}/deliveries/{event_id}/replay",
            format!("/api/webhooks/{webhook}/deliveries/01ARZ3NDEKTSV4RRFFQ69G5FAV/replay"),
            none(),
            [404, 403, 403, 403, 401],
        ),
        row("DELETE", "/api/webhooks/{id}", format!("/api/webhooks/{webhook}"), none(), [204, 403, 403, 403, 401]),
        row(
            "POST",
            "/api/jobs/{id}/close",
            format!("/api/jobs/{job}/close"),
            Body::Json(json!({"reason": "cancelled"})),
            [200, 200, 403, 404, 401],
        ),
    ]
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
