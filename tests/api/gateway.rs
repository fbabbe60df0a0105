use crate::helpers::*;
use serde_json::{json, Value};

#[tokio::test]
async fn cors_preflights_are_answered_for_allowed_origins_only() {
    let app = spawn_app().await;
    let preflight = |origin: &'static str| {
        app.http
            .request(reqwest::Method::OPTIONS, format!("{}/careers/jobs", app.url))
            .header("origin", origin)
            .header("access-control-request-method", "GET")
            .send()
    };
    let ok = preflight(ORIGIN).await.unwrap();
    assert_eq!(ok.status(), 204);
    assert_eq!(ok.headers()["access-control-allow-origin"], ORIGIN);
    assert!(ok.headers()["access-control-allow-methods"].to_str().unwrap().contains("POST"));
    let evil = preflight("https://evil.example").await.unwrap();
    assert!(!evil.headers().contains_key("access-control-allow-origin"));

    let res = app.get("/careers/jobs").header("origin", ORIGIN).send().await.unwrap();
    assert_eq!(res.headers()["access-control-allow-origin"], ORIGIN);
    let res = app.get("/careers/jobs").header("origin", "https://evil.example").send().await.unwrap();
    assert!(!res.headers().contains_key("access-control-allow-origin"));
}

#[tokio::test]
async fn routes_that_do_not_exist_get_the_gateways_404() {
    let app = spawn_app().await;
    for (method, path) in [("GET", "/nope"), ("DELETE", "/api/jobs"), ("PUT", "/careers/jobs")] {
        let res = app
            .http
            .request(reqwest::Method::from_bytes(method.as_bytes()).unwrap(), format!("{}{path}", app.url))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 404, "{method} {path}");
        assert_eq!(res.json::<Value>().await.unwrap(), json!({"message": "Not Found"}));
    }
}

#[tokio::test]
async fn a_request_over_lambdas_invocation_limit_is_413() {
    let app = spawn_app().await;
    let token = app.token("recruiter").await;
    let body = vec![b'a'; 7 * 1024 * 1024];
    let res = app
        .post("/api/jobs")
        .bearer_auth(&token)
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 413);
}

#[tokio::test]
async fn local_emails_lists_what_ses_sent_as_raw_mime() {
    let app = spawn_app().await;
    let raw = "From: Acme Health Careers <careers@acme-health.example>\r\nTo: ada@example.com\r\n\
        Subject: Hello =?utf-8?q?=F0=9F=91=8B?=\r\nList-Unsubscribe: <https://x.example/u?t=1>\r\nMIME-Version: 1.0\r\n\
        Content-Type: multipart/alternative; boundary=b1\r\n\r\n--b1\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nHi Ada\r\n\
        --b1\r\nContent-Type: text/html; charset=utf-8\r\n\r\n<p>Hi Ada</p>\r\n--b1--\r\n";
    let content = aws_sdk_sesv2::types::EmailContent::builder()
        .raw(
            aws_sdk_sesv2::types::RawMessage::builder()
                .data(aws_sdk_sesv2::primitives::Blob::new(raw))
                .build()
                .unwrap(),
        )
        .build();
    app.stack
        .aws
        .ses()
        .send_email()
        .from_email_address("careers@acme-health.example")
        .destination(aws_sdk_sesv2::types::Destination::builder().to_addresses("ada@example.com").build())
        .content(content)
        .send()
        .await
        .expect("SES accepts a raw message from the verified sender");
    let emails: Value = app.emails().await;
    let mine = emails["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["to"] == json!(["ada@example.com"]) && e["subject"] == "Hello 👋")
        .unwrap_or_else(|| panic!("the email is listed: {emails}"))
        .clone();
    assert_eq!(mine["text"].as_str().unwrap().trim(), "Hi Ada");
    assert_eq!(mine["html"].as_str().unwrap().trim(), "<p>Hi Ada</p>");
    assert!(mine["headers"].as_array().unwrap().iter().any(|h| h["name"] == "List-Unsubscribe"));
}

#[tokio::test]
async fn local_run_refuses_unknown_tasks_and_bad_times() {
    let app = spawn_app().await;
    let res = app.post("/_local/run/nonsense").send().await.unwrap();
    assert_eq!(error_fields(&problem(res, 422).await), vec!["task"]);
    let res = app.post("/_local/run/drafts?now=yesterday").send().await.unwrap();
    assert_eq!(error_fields(&problem(res, 422).await), vec!["now"]);
}
