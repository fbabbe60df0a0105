use crate::helpers::*;
use rapport::email::Email;
use serde_json::{json, Value};

fn unique_email() -> String {
    format!("sub.{}@example.com", ulid::Ulid::generate().to_string().to_lowercase())
}

fn subscription(email: &str) -> Value {
    json!({"email": email, "first_name": "Mary", "interests": {"departments": ["Nursing"], "locations": ["GB"], "workplace": ["onsite"]},
           "credentials": [{"type": "RN", "jurisdiction": "GB"}], "consent": {"talent_pool": true}})
}

/// The confirmation link in the opt-in email, as a path on this stack.
fn confirm_path(app: &TestApp, email: &Value) -> String {
    let text = email["text"].as_str().unwrap();
    let url = text.split_whitespace().find(|w| w.contains("/careers/talent-pool/confirm?token=")).expect("a link");
    url.strip_prefix(&app.url).expect("the link points at this API").to_string()
}

#[tokio::test]
async fn double_opt_in_makes_one_prospect_once_confirmed() {
    let app = spawn_app().await;
    let email = unique_email();
    let res = app.post("/careers/talent-pool").json(&subscription(&email)).send().await.unwrap();
    assert_eq!(res.status(), 202);
    let again = app.post("/careers/talent-pool").json(&subscription(&email.to_uppercase())).send().await.unwrap();
    assert_eq!(again.status(), 202);
    let sent = app.emails_to(&email).await;
    assert_eq!(sent.len(), 1, "one opt-in email an hour, however often the form is sent");

    let st = &app.stack.state;
    let hash = st.email_hash(&Email::parse(&email).unwrap()).await.unwrap();
    let before = st.store.prospect_by_email_hash(&hash).await.unwrap().unwrap();
    assert_eq!(before["status"].as_s().unwrap(), "pending_consent");

    let link = confirm_path(&app, &sent[0]);
    // Opening the link (as a mail scanner does) confirms nothing.
    assert_eq!(app.get(&link).send().await.unwrap().status(), 200);
    let opened = st.store.prospect_by_email_hash(&hash).await.unwrap().unwrap();
    assert_eq!(opened["status"].as_s().unwrap(), "pending_consent");
    let page = app.confirm(&link).await;
    assert_eq!(page.status(), 200);
    assert!(page.text().await.unwrap().contains("subscribed"));
    let after = st.store.prospect_by_email_hash(&hash).await.unwrap().unwrap();
    assert_eq!(after["status"].as_s().unwrap(), "active");
    assert_eq!(after["origins"].as_ss().unwrap(), &vec!["subscriber".to_string()]);
    assert!(after["interests"].as_s().unwrap().contains("Nursing"));
    assert!(after["credentials"].as_s().unwrap().contains("RN"));
    assert!(after["talent_pool_consent"].as_s().unwrap().contains("confirmation_link"));
    assert!(!after.contains_key("pending_interests"));
    assert_eq!(app.confirm(&link).await.status(), 200, "a second click is harmless");

    let forged = format!("{}x", link);
    assert_eq!(app.get(&forged).send().await.unwrap().status(), 400);
    assert_eq!(app.post(&forged).send().await.unwrap().status(), 400);
    let res = app
        .post("/careers/talent-pool")
        .json(&json!({"email": "nope", "interests": {}, "consent": {"talent_pool": false}}))
        .send()
        .await
        .unwrap();
    let mut fields = error_fields(&problem(res, 422).await);
    fields.sort();
    assert_eq!(fields, vec!["consent.talent_pool", "email"]);
}

#[tokio::test]
async fn unsubscribe_needs_a_post_and_is_repeatable() {
    let app = spawn_app().await;
    let email = unique_email();
    app.post("/careers/talent-pool").json(&subscription(&email)).send().await.unwrap();
    let st = &app.stack.state;
    let hash = st.email_hash(&Email::parse(&email).unwrap()).await.unwrap();
    let token = rapport::prospect::unsubscribe_token(st.signer().await.unwrap(), &hash);

    let page = app.get("/careers/unsubscribe").query(&[("token", &token)]).send().await.unwrap();
    assert_eq!(page.status(), 200);
    assert!(calls(&page).is_empty(), "showing the page reads and writes nothing");
    assert!(page.text().await.unwrap().contains("<form method=\"post\""));
    assert_eq!(st.store.suppression(&hash).await.unwrap(), None);

    // RFC 8058: what a mail client's one-click sends.
    let res = app
        .post("/careers/unsubscribe")
        .query(&[("token", &token)])
        .header("content-type", "application/x-www-form-urlencoded")
        .body("List-Unsubscribe=One-Click")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(st.store.suppression(&hash).await.unwrap().map(|r| r.as_str()), Some("unsubscribed"));
    let prospect = st.store.prospect_by_email_hash(&hash).await.unwrap().unwrap();
    assert_eq!(prospect["status"].as_s().unwrap(), "unsubscribed");
    let again = app.post("/careers/unsubscribe").query(&[("token", &token)]).send().await.unwrap();
    assert_eq!(again.status(), 200);

    let confirm = rapport::prospect::confirm_token(st.signer().await.unwrap(), &hash, None, chrono::Utc::now());
    let res = app.post("/careers/unsubscribe").query(&[("token", &confirm)]).send().await.unwrap();
    assert_eq!(res.status(), 400, "a confirmation token is not an unsubscribe token");
    assert_eq!(app.post("/careers/unsubscribe").send().await.unwrap().status(), 400);
}

#[tokio::test]
async fn the_public_form_changes_nothing_about_a_known_person_until_they_confirm() {
    let app = spawn_app().await;
    let email = unique_email();
    let mut sub = subscription(&email);
    sub["first_name"] = json!("Ada");
    app.post("/careers/talent-pool").json(&sub).send().await.unwrap();
    let link = confirm_path(&app, &app.emails_to(&email).await[0]);
    assert_eq!(app.confirm(&link).await.status(), 200);
    let st = &app.stack.state;
    let hash = st.email_hash(&Email::parse(&email).unwrap()).await.unwrap();
    let known = st.store.prospect_by_email_hash(&hash).await.unwrap().unwrap();
    assert_eq!(known["first_name"].as_s().unwrap(), "Ada");

    // Someone else sends the form with Ada's address and their own text for the greeting.
    let hostile = json!({"email": email, "first_name": "Click evil.example", "last_name": "now",
                         "interests": {"departments": ["Spam"]}, "consent": {"talent_pool": true}});
    assert_eq!(app.post("/careers/talent-pool").json(&hostile).send().await.unwrap().status(), 202);
    let after = st.store.prospect_by_email_hash(&hash).await.unwrap().unwrap();
    for attr in ["first_name", "interests", "status", "updated_at", "origins"] {
        assert_eq!(after.get(attr), known.get(attr), "{attr} changed before any confirmation");
    }
    assert!(!after.contains_key("last_name"));
}

#[tokio::test]
async fn a_pending_sign_up_is_confirmed_only_as_its_own_email_showed_it() {
    let start = chrono::Utc::now();
    let (app, clock) = spawn_app_at(start).await;
    let email = unique_email();
    let st = &app.stack.state;
    let hash = st.email_hash(&Email::parse(&email).unwrap()).await.unwrap();
    assert_eq!(app.post("/careers/talent-pool").json(&subscription(&email)).send().await.unwrap().status(), 202);
    let first = confirm_path(&app, &app.emails_to(&email).await[0]);

    // Within the hour someone else sends the form with Mary's address: no email, and nothing pending changes.
    let hostile = json!({"email": email, "first_name": "Click evil.example", "interests": {"departments": ["Spam"]},
                         "consent": {"talent_pool": true}});
    assert_eq!(app.post("/careers/talent-pool").json(&hostile).send().await.unwrap().status(), 202);
    assert_eq!(app.emails_to(&email).await.len(), 1);

    // Later, a new submission sends a new email: the first link is superseded, and confirms nothing.
    clock.set(start + chrono::Duration::hours(2));
    assert_eq!(app.post("/careers/talent-pool").json(&hostile).send().await.unwrap().status(), 202);
    let sent = app.emails_to(&email).await;
    assert_eq!(sent.len(), 2);
    let page = app.confirm(&first).await;
    assert_eq!(page.status(), 404, "the older link no longer confirms");
    let p = st.store.prospect_by_email_hash(&hash).await.unwrap().unwrap();
    assert_eq!(p["status"].as_s().unwrap(), "pending_consent");

    // The newest link confirms what its own email was sent for.
    let newest = sent.iter().map(|e| confirm_path(&app, e)).find(|l| *l != first).unwrap();
    assert_eq!(app.confirm(&newest).await.status(), 200);
    let p = st.store.prospect_by_email_hash(&hash).await.unwrap().unwrap();
    assert_eq!(p["first_name"].as_s().unwrap(), "Click evil.example");
}

#[tokio::test]
async fn a_drop_off_tick_keeps_what_a_recruiter_recorded_for_a_pending_person() {
    let app = spawn_app().await;
    let token = app.token("recruiter").await;
    let email = unique_email();
    let res = app
        .post("/api/prospects")
        .bearer_auth(&token)
        .json(&json!({"email": email, "interests": {"departments": ["ICU"]}, "credentials": [{"type": "RN"}]}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201, "{}", res.text().await.unwrap());
    let job = app.open_job(&token, |b| b["required_credentials"] = json!([])).await;
    let draft = json!({"email": email, "first_name": "Ida", "consent": {"talent_pool": true}});
    assert_eq!(app.post(&format!("/careers/jobs/{job}/drafts")).json(&draft).send().await.unwrap().status(), 201);
    let later = (chrono::Utc::now() + chrono::Duration::hours(25)).to_rfc3339();
    let r: Value = app.post("/_local/run/drafts").query(&[("now", &later)]).send().await.unwrap().json().await.unwrap();
    assert_eq!(r["optin_requested"], 1, "{r}");
    let sent = app.emails_to(&email).await;
    let link = confirm_path(&app, sent.last().unwrap());
    assert_eq!(app.confirm(&link).await.status(), 200);
    let st = &app.stack.state;
    let p = st.store.prospect(&st.email_hash(&Email::parse(&email).unwrap()).await.unwrap()).await.unwrap().unwrap();
    assert_eq!((p.status.as_str(), p.interests.departments.clone()), ("active", vec!["ICU".to_string()]));
    assert_eq!(p.credentials.len(), 1, "the recruiter's record of credentials stays");
}
