//! An abandoned draft: with the talent-pool tick, one opt-in email, and the pool only by confirming.
use super::{application, open_job};
use crate::helpers::*;
use serde_json::{json, Value};

#[tokio::test]
async fn an_abandoned_draft_with_the_tick_gets_one_optin_and_joins_only_by_confirming() {
    let app = spawn_app().await;
    let (job, email) = open_job(&app).await;
    let draft_url = format!("/careers/jobs/{job}/drafts");
    let res = app
        .post(&draft_url)
        .json(&json!({"email": email, "first_name": "Ada", "consent": {"talent_pool": true}}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201);
    assert_eq!(calls(&res), vec!["dynamodb.UpdateItem", "dynamodb.GetItem", "dynamodb.TransactWriteItems"]);
    let ada_draft = res.json::<Value>().await.unwrap()["draft_id"].clone();
    // Another person starts and finishes: their draft is completed, never a drop-off.
    let finisher = format!("done.{email}");
    let d: Value = app.post(&draft_url).json(&json!({"email": finisher})).send().await.unwrap().json().await.unwrap();
    let mut body = application(&finisher);
    body["draft_id"] = d["draft_id"].clone();
    assert_eq!(app.post(&format!("/careers/jobs/{job}/applications")).json(&body).send().await.unwrap().status(), 201);
    // A third starts without talent-pool consent.
    app.post(&draft_url).json(&json!({"email": format!("no.{email}")})).send().await.unwrap();

    let soon = (chrono::Utc::now() + chrono::Duration::hours(1)).to_rfc3339();
    let report: Value =
        app.post("/_local/run/drafts").query(&[("now", &soon)]).send().await.unwrap().json().await.unwrap();
    assert_eq!(report["abandoned"], 0, "not yet abandoned after an hour");

    let later = (chrono::Utc::now() + chrono::Duration::hours(25)).to_rfc3339();
    let report: Value =
        app.post("/_local/run/drafts").query(&[("now", &later)]).send().await.unwrap().json().await.unwrap();
    assert_eq!((report["abandoned"].as_u64(), report["optin_requested"].as_u64()), (Some(2), Some(1)), "{report}");
    // Anyone can type an address into a form: the tick brings one opt-in email, and only the person's
    // confirmation puts them in the pool.
    let st = &app.stack.state;
    let hash = st.email_hash(&rapport::email::Email::parse(&email).unwrap()).await.unwrap();
    let prospect = st.store.prospect_by_email_hash(&hash).await.unwrap().expect("a pending drop-off");
    assert_eq!(prospect["status"].as_s().unwrap(), "pending_consent");
    assert!(!prospect.contains_key("origins"), "not in the pool before confirming");
    let nurture: Value =
        app.post("/_local/run/nurture").query(&[("now", &later)]).send().await.unwrap().json().await.unwrap();
    assert_eq!(nurture["sent"], 0, "{nurture}");
    let sent = app.emails_to(&email).await;
    assert_eq!(sent.len(), 1, "one opt-in email");
    assert!(sent[0]["subject"].as_str().unwrap().starts_with("Confirm"), "{}", sent[0]);
    let no_consent = format!("no.{email}");
    let no_hash = st.email_hash(&rapport::email::Email::parse(&no_consent).unwrap()).await.unwrap();
    assert!(st.store.prospect_by_email_hash(&no_hash).await.unwrap().is_none());
    assert!(app.emails_to(&no_consent).await.is_empty(), "a drop-off without the tick is never mailed");

    let report: Value =
        app.post("/_local/run/drafts").query(&[("now", &later)]).send().await.unwrap().json().await.unwrap();
    assert_eq!(report["abandoned"], 0, "a repeated run changes nothing");
    assert_eq!(app.emails_to(&email).await.len(), 1, "the opt-in goes once for the draft");

    let link = sent[0]["text"].as_str().unwrap().split_whitespace().find(|w| w.contains("confirm?token=")).unwrap();
    assert_eq!(app.confirm(link.strip_prefix(&app.url).unwrap()).await.status(), 200);
    let prospect = st.store.prospect_by_email_hash(&hash).await.unwrap().unwrap();
    assert_eq!(prospect["status"].as_s().unwrap(), "active");
    assert_eq!(prospect["origins"].as_ss().unwrap(), &vec!["drop_off".to_string()]);
    assert_eq!(prospect["first_name"].as_s().unwrap(), "Ada");

    // Ada comes back days later with the page still open: her application is taken, as one that
    // started afresh (the drop-off stays counted once).
    let mut body = application(&email);
    body["draft_id"] = ada_draft;
    let res = app.post(&format!("/careers/jobs/{job}/applications")).json(&body).send().await.unwrap();
    assert_eq!(res.status(), 201, "{}", res.text().await.unwrap());
    let id = res.json::<Value>().await.unwrap()["application_id"].as_str().unwrap().parse().unwrap();
    assert_eq!(st.store.get_application(&id).await.unwrap().unwrap().draft_id, None);
}
