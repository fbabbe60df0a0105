//! What the public forms refuse: bad fields, the honeypot, bodies too big or too deep, too many posts
//! from one client, and origins or redirects not the career site's.
use super::{application, count, open_job};
use crate::helpers::*;
use serde_json::{json, Value};

#[tokio::test]
async fn bad_submissions_name_the_field_and_store_nothing() {
    let app = spawn_app().await;
    let (job, email) = open_job(&app).await;
    let url = format!("/careers/jobs/{job}/applications");
    let cases: Vec<(Value, Vec<&str>)> = vec![
        (
            {
                let mut b = application(&email);
                b.as_object_mut().unwrap().remove("consent");
                b
            },
            vec!["consent"],
        ),
        (
            {
                let mut b = application(&email);
                b["consent"]["processing"] = json!(false);
                b
            },
            vec!["consent.processing"],
        ),
        (
            {
                let mut b = application(&email);
                b["email"] = json!("ada@");
                b
            },
            vec!["email"],
        ),
        (
            {
                let mut b = application(&email);
                b["last_name"] = json!(42);
                b
            },
            vec!["last_name"],
        ),
        (
            {
                let mut b = application(&email);
                b["status"] = json!("hired");
                b
            },
            vec!["status"],
        ),
        (
            {
                let mut b = application(&email);
                b["first_name"] = json!("Ada\r\nBcc: victim@example.com");
                b
            },
            vec!["first_name"],
        ),
        (
            {
                let mut b = application(&email);
                b["resume_key"] = json!("resumes/someone-else.pdf");
                b
            },
            vec!["resume_key"],
        ),
        (
            {
                let mut b = application(&email);
                b["resume_key"] = json!("uploads/01ARZ3NDEKTSV4RRFFQ69G5FAV.pdf");
                b
            },
            vec!["resume_key"],
        ),
    ];
    for (body, fields) in cases {
        let res = app.post(&url).json(&body).send().await.unwrap();
        assert_eq!(error_fields(&problem(res, 422).await), fields);
    }
    let huge = vec![b' '; 20 * 1024 * 1024];
    let res = app.post(&url).header("content-type", "application/json").body(huge).send().await.unwrap();
    assert_eq!(res.status(), 413);
    let res = app.post(&url).header("content-type", "text/plain").body("hi").send().await.unwrap();
    problem(res, 415).await;
    assert_eq!(count(&app, &job).await, 0);
    assert!(app.emails_to(&email).await.is_empty());
}

#[tokio::test]
async fn the_honeypot_is_accepted_and_forgotten() {
    let app = spawn_app().await;
    let (job, email) = open_job(&app).await;
    let mut body = application(&email);
    body["website"] = json!("https://cheap-pills.example");
    let res = app.post(&format!("/careers/jobs/{job}/applications")).json(&body).send().await.unwrap();
    assert_eq!(res.status(), 202);
    assert_eq!(calls(&res), vec!["dynamodb.UpdateItem"], "nothing but the rate-limit window was touched");
    assert_eq!(count(&app, &job).await, 0);
}

#[tokio::test]
async fn intake_answers_cors_only_for_allowed_origins() {
    let app = spawn_app().await;
    let (job, _) = open_job(&app).await;
    let preflight = |origin: &'static str| {
        app.http
            .request(reqwest::Method::OPTIONS, format!("{}/careers/jobs/{job}/applications", app.url))
            .header("origin", origin)
            .header("access-control-request-method", "POST")
            .header("access-control-request-headers", "content-type,idempotency-key")
            .send()
    };
    let ok = preflight(ORIGIN).await.unwrap();
    assert_eq!(ok.headers()["access-control-allow-origin"], ORIGIN);
    assert!(ok.headers()["access-control-allow-headers"].to_str().unwrap().contains("idempotency-key"));
    assert!(!preflight("https://evil.example").await.unwrap().headers().contains_key("access-control-allow-origin"));
}

#[tokio::test]
async fn public_form_posts_are_rate_limited_per_client_and_form() {
    let app = spawn_app_with(|o| o.rate_limit_per_minute = 3).await;
    let (job, email) = open_job(&app).await;
    let url = format!("/careers/jobs/{job}/drafts");
    for i in 0..3 {
        let res = app.post(&url).json(&json!({"email": format!("{i}.{email}")})).send().await.unwrap();
        assert_eq!(res.status(), 201);
    }
    let res = app.post(&url).json(&json!({"email": email})).send().await.unwrap();
    let retry: u64 = res.headers()["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=60).contains(&retry));
    assert_eq!(calls(&res), vec!["dynamodb.UpdateItem"], "refused before any other work");
    problem(res, 429).await;
    // Another form has its own budget, and leaving is never limited.
    let res = app.post(&format!("/careers/jobs/{job}/applications")).json(&application(&email)).send().await.unwrap();
    assert_eq!(res.status(), 201);
    let hash = app.stack.state.email_hash(&rapport::email::Email::parse(&email).unwrap()).await.unwrap();
    let token = rapport::prospect::unsubscribe_token(app.stack.state.signer().await.unwrap(), &hash);
    for _ in 0..5 {
        assert_eq!(app.post("/careers/unsubscribe").query(&[("token", &token)]).send().await.unwrap().status(), 200);
    }
}

#[tokio::test]
async fn a_form_field_name_of_fifty_thousand_parts_is_a_4xx_and_the_stack_answers_after() {
    let app = spawn_app().await;
    let (job, email) = open_job(&app).await;
    let url = format!("/careers/jobs/{job}/applications");
    let deep_name = vec!["a"; 50_000].join(".");
    let body = format!("first_name=Ada&last_name=L&email={email}&consent.processing=on&{deep_name}=x");
    let res =
        app.post(&url).header("content-type", "application/x-www-form-urlencoded").body(body).send().await.unwrap();
    let p = problem(res, 400).await;
    assert!(p["detail"].as_str().unwrap().contains("form field name"), "{p}");
    // JSON nested past any body of the API, and past serde_json's own limit.
    for depth in [33, 100_000] {
        let deep = format!("{{\"first_name\": {}{}}}", "[".repeat(depth), "]".repeat(depth));
        let res = app.post(&url).header("content-type", "application/json").body(deep).send().await.unwrap();
        problem(res, 400).await;
    }
    assert_eq!(count(&app, &job).await, 0, "nothing is stored");

    // The stack is still there and serves the next person.
    assert_eq!(app.get("/careers/jobs").send().await.unwrap().status(), 200);
    let res = app.post(&url).json(&application(&email)).send().await.unwrap();
    assert_eq!(res.status(), 201);
    assert_eq!(count(&app, &job).await, 1);
}

#[tokio::test]
async fn a_redirect_is_accepted_only_with_exactly_an_allowed_origin() {
    let app = spawn_app().await;
    let (job, _) = open_job(&app).await;
    let no_redirects = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let post = |email: String, redirect: String| {
        let form = vec![
            ("first_name", "Grace".to_string()),
            ("last_name", "Hopper".to_string()),
            ("email", email),
            ("consent.processing", "on".to_string()),
            ("redirect", redirect),
        ];
        no_redirects.post(format!("{}/careers/jobs/{job}/applications", app.url)).form(&form).send()
    };
    let email = |n: usize| format!("grace.{n}.{}@example.com", ulid::Ulid::generate().to_string().to_lowercase());
    // The career site here is the stack itself (`http://127.0.0.1:<port>`), plus ORIGIN.
    let port = app.url.rsplit(':').next().unwrap();
    let host = app.url.rsplit_once(':').unwrap().0;
    let look_alikes = [
        format!("{host}:{}/thanks", &port[..port.len() - 1]), // a prefix of the career site's origin
        format!("{host}/thanks"),                             // the same host on the default port
        "https://careers.example.co/thanks".to_string(),      // a prefix of an allowed origin
        "https://careers.example.com.evil.example/thanks".to_string(),
        "http://careers.example.com/thanks".to_string(), // another scheme
        "https://careers.example.com:444/thanks".to_string(),
    ];
    for (i, redirect) in look_alikes.iter().enumerate() {
        let res = post(email(i), redirect.clone()).await.unwrap();
        assert_eq!(error_fields(&problem(res, 422).await), vec!["redirect"], "{redirect}");
    }
    assert_eq!(count(&app, &job).await, 0);
    for (i, redirect) in [format!("{}/thanks", app.url), format!("{ORIGIN}:443/thanks")].into_iter().enumerate() {
        let res = post(email(100 + i), redirect.clone()).await.unwrap();
        assert_eq!(res.status(), 303, "{redirect}");
        assert_eq!(res.headers()["location"], redirect.as_str());
    }
}
