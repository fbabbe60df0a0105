//! The widget in a real browser: headless Chromium (Debian's `chromium` and `chromium-driver`, which
//! `make test` installs) fills and submits the demo career page's apply form, and starts and abandons
//! another. Without chromedriver the test is skipped, unless RAPPORT_BROWSER_TESTS=required (make test).
use crate::helpers::*;
use fantoccini::{Client, ClientBuilder, Locator};
use rapport::ids::JobId;
use serde_json::{json, Value};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

struct Driver {
    child: Child,
    port: u16,
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn chromedriver() -> Option<Driver> {
    let path = std::env::var("CHROMEDRIVER").unwrap_or_else(|_| "/usr/bin/chromedriver".into());
    if !std::path::Path::new(&path).exists() {
        assert_ne!(
            std::env::var("RAPPORT_BROWSER_TESTS").as_deref(),
            Ok("required"),
            "chromedriver is not installed at {path}"
        );
        eprintln!("skipped: no chromedriver at {path}");
        return None;
    }
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let child = Command::new(path)
        .arg(format!("--port={port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("chromedriver starts");
    Some(Driver { child, port })
}

async fn browser(driver: &Driver, profile: &std::path::Path) -> Client {
    // Two TLS backends are in the build; the WebDriver client needs one chosen (it speaks plain HTTP here).
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    let mut caps = serde_json::Map::new();
    caps.insert(
        "goog:chromeOptions".into(),
        json!({"binary": std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into()),
               "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-quic",
                        "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync",
                        "--window-size=1200,1600", format!("--user-data-dir={}", profile.display())]}),
    );
    let url = format!("http://127.0.0.1:{}", driver.port);
    for _ in 0..50 {
        if let Ok(c) = ClientBuilder::rustls().unwrap().capabilities(caps.clone()).connect(&url).await {
            return c;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    panic!("chromedriver did not answer at {url}");
}

async fn fill(c: &Client, css: &str, text: &str) {
    c.wait().for_element(Locator::Css(css)).await.unwrap().send_keys(text).await.unwrap();
}

#[tokio::test]
async fn the_widget_applies_uploads_and_captures_a_drop_off_in_chromium() {
    let Some(driver) = chromedriver() else { return };
    let app = spawn_app().await;
    let token = app.token("recruiter").await;
    let job = app.create_job(&token, job_body()).await;
    let job_id = job["id"].as_str().unwrap().to_string();
    app.publish(&token, &job_id).await;
    let profile = std::env::temp_dir().join(format!("rapport-chromium-{}", ulid::Ulid::generate()));
    let artifacts = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/test-artifacts");
    std::fs::create_dir_all(&artifacts).unwrap();
    let artifacts = artifacts.canonicalize().unwrap();
    let resume = artifacts.join("resume.pdf");
    std::fs::write(&resume, b"%PDF-1.4\n1 0 obj << >> endobj\ntrailer\n%%EOF\n").unwrap();

    let c = browser(&driver, &profile).await;
    c.goto(&format!("{}/?job={job_id}&utm_source=indeed&utm_medium=job_board", app.url)).await.unwrap();
    c.wait().for_element(Locator::Css("[data-rapport-apply] form")).await.unwrap();

    // An empty submission: the API's field errors are shown next to their fields.
    c.find(Locator::Css("[data-rapport-apply] button[type=submit]")).await.unwrap().click().await.unwrap();
    let err = c.wait().for_element(Locator::Css("[data-field=email] .rapport-error:not(:empty)")).await.unwrap();
    assert!(!err.text().await.unwrap().is_empty());
    let consent_err = c.find(Locator::Css("[data-field='consent.processing'] .rapport-error")).await.unwrap();
    assert!(!consent_err.text().await.unwrap().is_empty());

    let email = format!("browser.{}@example.com", ulid::Ulid::generate().to_string().to_lowercase());
    fill(&c, "[data-rapport-apply] [name=first_name]", "Rosalind").await;
    fill(&c, "[data-rapport-apply] [name=last_name]", "Franklin").await;
    fill(&c, "[data-rapport-apply] [name=email]", &email).await;
    // Leaving the email field starts a draft.
    c.find(Locator::Css("[data-rapport-apply] [name=phone]")).await.unwrap().click().await.unwrap();
    c.wait().for_element(Locator::Css("[data-rapport-apply][data-draft]")).await.unwrap();
    c.find(Locator::Css("[data-rapport-apply] [name=resume]"))
        .await
        .unwrap()
        .send_keys(resume.to_str().unwrap())
        .await
        .unwrap();
    c.find(Locator::Css("[data-rapport-apply] [name='consent.processing']")).await.unwrap().click().await.unwrap();
    c.find(Locator::Css("[data-rapport-apply] button[type=submit]")).await.unwrap().click().await.unwrap();
    let done =
        c.wait().at_most(Duration::from_secs(20)).for_element(Locator::Css("[data-rapport-apply] .rapport-done")).await;
    let shot = c.screenshot().await.unwrap();
    std::fs::write(artifacts.join("widget-apply.png"), shot).unwrap();
    done.expect("the application was accepted");
    let host = c.find(Locator::Css("[data-rapport-apply]")).await.unwrap();
    let application_id = host.attr("data-application").await.unwrap().expect("the widget keeps the id");

    let st = &app.stack.state;
    let a = st.store.get_application(&application_id.parse().unwrap()).await.unwrap().expect("stored");
    assert_eq!((a.attribution.channel.as_str(), a.attribution.source.as_str()), ("job_board", "indeed"));
    assert!(a.resume_key.as_deref().is_some_and(|k| k.starts_with("resumes/")), "{:?}", a.resume_key);
    assert!(a.draft_id.is_some(), "the submission completed its draft");

    // Someone else starts and walks away.
    c.goto(&format!("{}/?job={job_id}", app.url)).await.unwrap();
    let quitter = format!("quitter.{}@example.com", ulid::Ulid::generate().to_string().to_lowercase());
    c.wait()
        .for_element(Locator::Css("[data-rapport-apply] [name='consent.talent_pool']"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    fill(&c, "[data-rapport-apply] [name=email]", &quitter).await;
    c.find(Locator::Css("[data-rapport-apply] [name=first_name]")).await.unwrap().click().await.unwrap();
    c.wait().for_element(Locator::Css("[data-rapport-apply][data-draft]")).await.unwrap();
    c.close().await.unwrap();
    let _ = std::fs::remove_dir_all(&profile);

    let later = (chrono::Utc::now() + chrono::Duration::hours(25)).to_rfc3339();
    let report: Value =
        app.post("/_local/run/drafts").query(&[("now", &later)]).send().await.unwrap().json().await.unwrap();
    assert_eq!(report["abandoned"], 1, "{report}");
    let hash = st.email_hash(&rapport::email::Email::parse(&quitter).unwrap()).await.unwrap();
    assert!(st.store.prospect_by_email_hash(&hash).await.unwrap().is_some(), "the drop-off joined the pool");
    assert_eq!(st.store.count_applications(&job_id.parse::<JobId>().unwrap()).await.unwrap(), 1);
}

#[tokio::test]
async fn the_dashboard_draws_the_reports_from_seeded_data() {
    let Some(driver) = chromedriver() else { return };
    let app = spawn_app_with(|o| o.seed = true).await;
    let token = app.token("recruiter").await;
    let jobs: Value = app.get_json("/api/jobs?status=open&limit=100", &token).await;
    let nurse = jobs["items"].as_array().unwrap().iter().find(|j| j["department"] == "Nursing").unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let artifacts = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/test-artifacts");
    std::fs::create_dir_all(&artifacts).unwrap();
    let profile = std::env::temp_dir().join(format!("rapport-chromium-{}", ulid::Ulid::generate()));

    let c = browser(&driver, &profile).await;
    // Console errors and uncaught exceptions are collected from the first script on.
    c.goto(&format!("{}/dashboard?job_id={nurse}", app.url)).await.unwrap();
    c.wait()
        .at_most(Duration::from_secs(20))
        .for_element(Locator::Css("body[data-drawn]"))
        .await
        .expect("the charts are drawn");
    let shot = c.screenshot().await.unwrap();
    std::fs::write(artifacts.join("dashboard.png"), shot).unwrap();
    let error = c.find(Locator::Css("#error")).await.unwrap().text().await.unwrap();
    assert!(error.is_empty(), "the page shows an error: {error}");
    let console = c.execute("return window.__rapportErrors;", vec![]).await.unwrap();
    assert_eq!(console, json!([]), "no console errors");

    // The bars carry the numbers the API gives.
    let bars = |chart: &'static str| {
        let c = c.clone();
        async move {
            let script = format!(
                "return Array.from(document.querySelectorAll('svg[data-chart=\"{chart}\"] rect[data-label]')).map(r => [r.dataset.label, r.dataset.series, Number(r.dataset.value)]);"
            );
            c.execute(&script, vec![]).await.unwrap()
        }
    };
    let sources: Value = app.get_json(&format!("/api/reports/sources?group=source&job_id={nurse}"), &token).await;
    let drawn = bars("sources").await;
    for row in sources["rows"].as_array().unwrap() {
        let label = format!("{} / {}", row["channel"].as_str().unwrap(), row["source"].as_str().unwrap());
        for series in ["applicants", "hires"] {
            assert!(
                drawn
                    .as_array()
                    .unwrap()
                    .iter()
                    .any(|b| b[0] == label.as_str() && b[1] == series && b[2] == row[series]),
                "{label} {series} = {} is drawn: {drawn}",
                row[series]
            );
        }
    }
    let funnel: Value = app.get_json(&format!("/api/reports/funnel?job_id={nurse}"), &token).await;
    let drawn = bars("funnel").await;
    assert!(funnel["submitted"].as_u64().unwrap() > 0, "seeded applications: {funnel}");
    for (label, value) in
        [("started", &funnel["started"]), ("dropped", &funnel["dropped"]), ("submitted", &funnel["submitted"])]
    {
        assert!(drawn.as_array().unwrap().iter().any(|b| b[0] == label && &b[2] == value), "{label}: {drawn}");
    }
    assert!(funnel["dropped"].as_u64().unwrap() > 0, "drop-offs are in the funnel");
    let drawn = bars("time-in-stage").await;
    assert!(drawn.as_array().unwrap().iter().any(|b| b[0] == "Applied"), "{drawn}");
    // The seeded campaign: what went out, as the nurture report gives it.
    let campaigns: Value = app.get_json("/api/campaigns", &token).await;
    let seeded = &campaigns["items"][0];
    let report: Value = app
        .get_json(&format!("/api/reports/nurture?campaign_id={}", seeded["campaign"]["id"].as_str().unwrap()), &token)
        .await;
    assert!(report["sent"].as_u64().unwrap() > 0, "the seed sends the first step: {report}");
    let drawn = bars("nurture").await;
    assert!(
        drawn
            .as_array()
            .unwrap()
            .iter()
            .any(|b| b[0] == seeded["campaign"]["name"] && b[1] == "sent" && b[2] == report["sent"]),
        "{drawn} vs {report}"
    );

    // All jobs, with spend recorded: cost per applicant and per hire are drawn too.
    let month = chrono::Utc::now().format("%Y-%m").to_string();
    let res = app
        .http
        .put(format!("{}/api/reports/spend", app.url))
        .bearer_auth(&token)
        .json(&json!({"month": month, "channel": "job_board", "source": "indeed", "amount": 900, "currency": "USD"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    c.goto(&format!("{}/dashboard", app.url)).await.unwrap();
    c.wait().at_most(Duration::from_secs(20)).for_element(Locator::Css("body[data-drawn]")).await.unwrap();
    let all: Value = app.get_json("/api/reports/sources?group=source", &token).await;
    let indeed = all["rows"].as_array().unwrap().iter().find(|r| r["source"] == "indeed").unwrap().clone();
    let drawn = bars("cost").await;
    assert!(
        drawn.as_array().unwrap().iter().any(|b| b[0] == "job_board / indeed"
            && b[1] == "per applicant"
            && b[2].as_f64() == indeed["cost_per_applicant"].as_f64()),
        "{drawn} vs {indeed}"
    );
    std::fs::write(artifacts.join("dashboard-all-jobs.png"), c.screenshot().await.unwrap()).unwrap();
    assert_eq!(c.execute("return window.__rapportErrors;", vec![]).await.unwrap(), json!([]));
    c.close().await.unwrap();
    let _ = std::fs::remove_dir_all(&profile);
}
