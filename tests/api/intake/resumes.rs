//! Resumes: uploaded to S3 through a short-lived presigned PUT, checked when an application names
//! one, and always downloaded (never rendered) through the recruiter's link.
use super::{application, open_job, stored};
use crate::helpers::*;
use serde_json::{json, Value};

#[tokio::test]
async fn a_resume_goes_to_s3_through_a_presigned_put_and_is_checked_when_referenced() {
    let app = spawn_app().await;
    let (job, email) = open_job(&app).await;
    let pdf = b"%PDF-1.7\n1 0 obj << >> endobj\ntrailer\n%%EOF\n".to_vec();
    let upload = |ct: &'static str, size: usize| {
        app.post("/careers/uploads").json(&json!({"content_type": ct, "size": size, "purpose": "resume"})).send()
    };

    let res = upload("application/pdf", pdf.len()).await.unwrap();
    assert_eq!(res.status(), 201);
    let u: Value = res.json().await.unwrap();
    let key = u["key"].as_str().unwrap().to_string();
    assert!(key.starts_with("uploads/") && key.ends_with(".pdf"));
    let mut put = app.http.put(u["upload_url"].as_str().unwrap()).body(pdf.clone());
    for (k, v) in u["headers"].as_object().unwrap() {
        put = put.header(k, v.as_str().unwrap());
    }
    assert!(put.send().await.unwrap().status().is_success());

    let mut body = application(&email);
    body["resume_key"] = json!(key);
    let res = app.post(&format!("/careers/jobs/{job}/applications")).json(&body).send().await.unwrap();
    assert_eq!(res.status(), 201);
    let ids: Value = res.json().await.unwrap();
    let a = stored(&app, ids["application_id"].as_str().unwrap()).await;
    let resume = a.resume_key.expect("the resume is attached");
    assert!(resume.starts_with("resumes/"));
    let st = &app.stack.state;
    let got = app.stack.aws.s3().get_object().bucket(&st.config.bucket).key(&resume).send().await.unwrap();
    assert_eq!(got.body.collect().await.unwrap().into_bytes().to_vec(), pdf);

    // An executable that claims to be a PDF is refused when the application references it.
    let exe = b"MZ\x90\x00\x03\x00\x00\x00".to_vec();
    let u: Value = upload("application/pdf", exe.len()).await.unwrap().json().await.unwrap();
    let mut put = app.http.put(u["upload_url"].as_str().unwrap()).body(exe);
    for (k, v) in u["headers"].as_object().unwrap() {
        put = put.header(k, v.as_str().unwrap());
    }
    put.send().await.unwrap();
    let mut body = application(&format!("x.{email}"));
    body["resume_key"] = u["key"].clone();
    let res = app.post(&format!("/careers/jobs/{job}/applications")).json(&body).send().await.unwrap();
    assert_eq!(error_fields(&problem(res, 422).await), vec!["resume_key"]);

    for bad in [
        json!({"content_type": "image/svg+xml", "size": 10, "purpose": "resume"}),
        json!({"content_type": "application/pdf", "size": 11 * 1024 * 1024, "purpose": "resume"}),
        json!({"content_type": "application/pdf", "size": 10, "purpose": "resume", "acl": "public-read"}),
    ] {
        problem(app.post("/careers/uploads").json(&bad).send().await.unwrap(), 422).await;
    }
}

/// One query parameter of a URL.
fn query_param(url: &str, name: &str) -> Option<String> {
    reqwest::Url::parse(url).unwrap().query_pairs().find(|(k, _)| k == name).map(|(_, v)| v.into_owned())
}

#[tokio::test]
async fn an_upload_url_lives_five_minutes_and_a_resume_link_always_downloads() {
    let app = spawn_app().await;
    let (job, email) = open_job(&app).await;
    // An HTML page posing as a plain-text resume: opened in a browser from S3 it would run.
    let text = b"<html><script>alert(document.domain)</script></html>\n".to_vec();
    let before = chrono::Utc::now();
    let res = app
        .post("/careers/uploads")
        .json(&json!({"content_type": "text/plain", "size": text.len(), "purpose": "resume"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201);
    let u: Value = res.json().await.unwrap();
    let upload_url = u["upload_url"].as_str().unwrap();
    assert_eq!(query_param(upload_url, "X-Amz-Expires").as_deref(), Some("300"), "{upload_url}");
    let expires_at: chrono::DateTime<chrono::Utc> = u["expires_at"].as_str().unwrap().parse().unwrap();
    let ttl = expires_at - before;
    assert!(ttl > chrono::Duration::minutes(4) && ttl <= chrono::Duration::minutes(5) + chrono::Duration::seconds(5));
    let mut put = app.http.put(upload_url).body(text.clone());
    for (k, v) in u["headers"].as_object().unwrap() {
        put = put.header(k, v.as_str().unwrap());
    }
    assert!(put.send().await.unwrap().status().is_success());
    let mut body = application(&email);
    body["resume_key"] = u["key"].clone();
    let res = app.post(&format!("/careers/jobs/{job}/applications")).json(&body).send().await.unwrap();
    assert_eq!(res.status(), 201, "{}", res.text().await.unwrap());
    let ids: Value = res.json().await.unwrap();

    // The recruiter's link names the download in its signed query, and S3 answers with it.
    let token = app.token("recruiter").await;
    let a: Value =
        app.get_json(&format!("/api/applications/{}", ids["application_id"].as_str().unwrap()), &token).await;
    let link = a["resume_url"].as_str().unwrap();
    let disposition = query_param(link, "response-content-disposition").expect("a forced disposition");
    assert!(disposition.starts_with("attachment"), "{disposition}");
    assert!(link.contains("response-content-disposition=attachment"), "{link}");
    assert_eq!(query_param(link, "X-Amz-Expires").as_deref(), Some("300"));
    let res = app.http.get(link).send().await.unwrap();
    assert_eq!(res.status(), 200);
    let header = res.headers()["content-disposition"].to_str().unwrap().to_string();
    assert!(header.starts_with("attachment"), "{header}");
    assert_eq!(res.bytes().await.unwrap().to_vec(), text);
}
