//! A job's description file: kept byte for byte, Markdown or HTML made the description, served as a
//! download, and refused when too long once converted.
use crate::helpers::*;
use serde_json::{json, Value};

#[tokio::test]
async fn a_jd_file_too_long_once_converted_changes_nothing_and_html_is_served_as_a_download() {
    let app = spawn_app().await;
    let token = app.token("recruiter").await;
    let job = app.create_job(&token, job_body()).await;
    let path = format!("/api/jobs/{}/description", job["id"].as_str().unwrap());
    let put = |body: String| {
        app.http
            .put(format!("{}{path}", app.url))
            .bearer_auth(&token)
            .header("content-type", "text/html")
            .body(body)
            .send()
    };
    let first = "<h1>Nurse</h1><p>Care.</p><script>alert(document.cookie)</script>".to_string();
    let res = put(first).await.unwrap();
    assert_eq!(res.status(), 200);
    let saved: Value = res.json().await.unwrap();

    // Under the 5 MB file limit, over the description's 100,000 characters: refused, nothing written.
    let long = format!("<p>{}</p>", "care ".repeat(30_000));
    problem(put(long).await.unwrap(), 413).await;
    let now: Value = app.get_json(&format!("/api/jobs/{}", job["id"].as_str().unwrap()), &token).await;
    assert_eq!((&now["version"], &now["description_file"]), (&saved["version"], &saved["description_file"]));
    let got = app.get(&path).bearer_auth(&token).send().await.unwrap();
    assert_eq!(got.status(), 200);
    let h = got.headers().clone();
    assert_eq!(h["x-content-type-options"], "nosniff");
    assert!(h["content-disposition"].to_str().unwrap().starts_with("attachment"), "{h:?}");
    assert!(got.text().await.unwrap().starts_with("<h1>Nurse</h1>"), "the earlier file is still the job's");
}

#[tokio::test]
async fn a_jd_file_round_trips_byte_for_byte_and_markdown_becomes_the_description() {
    let app = spawn_app().await;
    let token = app.token("recruiter").await;
    let job = app.create_job(&token, job_body()).await;
    let path = format!("/api/jobs/{}/description", job["id"].as_str().unwrap());
    problem(app.get(&path).bearer_auth(&token).send().await.unwrap(), 404).await;

    let mut pdf = b"%PDF-1.7\n".to_vec();
    pdf.extend((0..200_000u32).map(|i| (i % 251) as u8));
    let res = app
        .http
        .put(format!("{}{path}", app.url))
        .bearer_auth(&token)
        .header("content-type", "application/pdf")
        .body(pdf.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let updated: Value = res.json().await.unwrap();
    assert_eq!(updated["description_file"]["size"], pdf.len());
    assert_eq!(updated["description_html"], job["description_html"], "a PDF leaves the HTML description alone");
    let got = app.get(&path).bearer_auth(&token).send().await.unwrap();
    assert_eq!(got.headers()["content-type"], "application/pdf");
    assert_eq!(got.bytes().await.unwrap().to_vec(), pdf, "byte for byte");

    let md = "# Registered Nurse\n\nJoin our **cardiology** team.<script>steal()</script>\n";
    let res = app
        .http
        .put(format!("{}{path}", app.url))
        .bearer_auth(&token)
        .header("content-type", "text/markdown")
        .body(md)
        .send()
        .await
        .unwrap();
    let updated: Value = res.json().await.unwrap();
    let html = updated["description_html"].as_str().unwrap();
    assert!(
        html.contains("<h1>Registered Nurse</h1>")
            && html.contains("<strong>cardiology</strong>")
            && !html.contains("script"),
        "{html}"
    );
    assert_eq!(app.get(&path).bearer_auth(&token).send().await.unwrap().text().await.unwrap(), md);

    let put = |ct: &'static str, body: Vec<u8>| {
        app.http.put(format!("{}{path}", app.url)).bearer_auth(&token).header("content-type", ct).body(body).send()
    };
    problem(put("application/pdf", b"MZ\x90\x00not a pdf".to_vec()).await.unwrap(), 422).await;
    problem(put("image/png", b"\x89PNG".to_vec()).await.unwrap(), 415).await;
    let hm = app.token_for(json!({"role": "hiring_manager", "sub": "hm-on-team"})).await;
    let res = app
        .http
        .put(format!("{}{path}", app.url))
        .bearer_auth(&hm)
        .header("content-type", "text/markdown")
        .body("x")
        .send()
        .await
        .unwrap();
    problem(res, 403).await;
    assert_eq!(app.get(&path).bearer_auth(&hm).send().await.unwrap().status(), 200, "the hiring team may read it");
}
