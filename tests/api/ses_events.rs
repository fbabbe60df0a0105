//! SES events through the rule the template deploys: the nurture function's EventBridge rule, read
//! from the template as the SAM translator expands it, is matched against the envelopes AWS documents
//! for SES bounce, complaint and delivery events (tests/fixtures/ses), and the same envelopes, posted
//! to `/_local/ses-events`, suppress bounced and complaining people (or, when the rule lets them pass
//! by, change nothing).
use crate::helpers::*;
use rapport_local::eventbridge::matches_any;
use rapport_local::sam::SamFunctions;
use serde_json::{json, Value};
use std::collections::BTreeMap;

/// The address AWS's examples send to; each test puts its own person in its place.
const DOC_RECIPIENT: &str = "recipient@example.com";

fn fixture(name: &str) -> Value {
    let path = format!("{}/fixtures/ses/{name}.json", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// The fixture with every mention of the documented recipient (recipients, destination, headers)
/// replaced by `email`.
fn fixture_for(name: &str, email: &str) -> Value {
    let text = fixture(name).to_string();
    assert!(text.contains(DOC_RECIPIENT), "{name} names {DOC_RECIPIENT}");
    serde_json::from_str(&text.replace(DOC_RECIPIENT, email)).unwrap()
}

fn nurture_rules() -> BTreeMap<String, Value> {
    let sam = SamFunctions::from_env().expect("the expanded template (run through infra/local/with-emulator.sh)");
    let rules = sam.function("nurture").expect("a nurture function").event_rules.clone();
    assert!(!rules.is_empty(), "the template gives nurture an EventBridge rule for SES events");
    rules
}

#[test]
fn the_nurture_rule_takes_bounces_and_complaints_and_nothing_else() {
    let rules = nurture_rules();
    for name in ["bounce", "bounce-transient", "complaint"] {
        assert!(matches_any(&rules, &fixture(name)).unwrap(), "{name} reaches nurture: {rules:?}");
    }
    assert!(!matches_any(&rules, &fixture("delivery")).unwrap(), "deliveries stay out: {rules:?}");

    // What the fixtures stand for: the envelope EventBridge delivers, SES's record as its detail.
    for (name, detail_type, event_type) in [
        ("bounce", "Email Bounced", "Bounce"),
        ("bounce-transient", "Email Bounced", "Bounce"),
        ("complaint", "Email Complaint Received", "Complaint"),
        ("delivery", "Email Delivered", "Delivery"),
    ] {
        let e = fixture(name);
        assert_eq!((e["source"].as_str(), e["detail-type"].as_str()), (Some("aws.ses"), Some(detail_type)), "{name}");
        assert_eq!(e["detail"]["eventType"], event_type, "{name}");
        for field in ["version", "id", "account", "time", "region", "resources"] {
            assert!(e.get(field).is_some(), "{name} has the envelope's {field}");
        }
    }
}

async fn prospect(app: &TestApp, token: &str, email: &str) -> Value {
    let body = json!({"email": email, "first_name": "Sam", "consent": true, "tags": ["ses-events"]});
    let res = app.post("/api/prospects").bearer_auth(token).json(&body).send().await.unwrap();
    assert_eq!(res.status(), 201, "{}", res.text().await.unwrap());
    let p: Value = res.json().await.unwrap();
    assert_eq!(p["status"], "active", "{p}");
    p
}

/// The people in the pool with this status, by email.
async fn with_status(app: &TestApp, token: &str, status: &str) -> Vec<String> {
    let page = app.get_json(&format!("/api/prospects?status={status}"), token).await;
    let items = page["items"].as_array().unwrap_or_else(|| panic!("a page of prospects: {page}"));
    items.iter().map(|p| p["email"].as_str().unwrap().to_string()).collect()
}

async fn post_event(app: &TestApp, event: &Value) -> Value {
    let res = app.post("/_local/ses-events").json(event).send().await.unwrap();
    let status = res.status();
    let body = res.text().await.unwrap();
    assert_eq!(status, 200, "{body}");
    serde_json::from_str(&body).unwrap_or_else(|e| panic!("{e}: {body}"))
}

fn unique(name: &str) -> String {
    format!("{name}.{}@example.com", ulid::Ulid::generate().to_string().to_lowercase())
}

#[tokio::test]
async fn documented_bounce_and_complaint_events_suppress_the_person_and_a_delivery_changes_nothing() {
    let app = spawn_app().await;
    let token = app.token("recruiter").await;
    let bouncer = unique("bouncer");
    let complainer = unique("complainer");
    let soft = unique("soft");
    let delivered = unique("delivered");
    for email in [&bouncer, &complainer, &soft, &delivered] {
        prospect(&app, &token, email).await;
    }

    // A delivery never reaches nurture: the rule does not match it.
    let before = app.scan_table().await.len();
    assert_eq!(post_event(&app, &fixture_for("delivery", &delivered)).await, json!({"matched": false}));
    assert_eq!(app.scan_table().await.len(), before, "nothing written");

    // A permanent bounce suppresses the recipient.
    let res = post_event(&app, &fixture_for("bounce", &bouncer)).await;
    assert_eq!(res["suppressed"], 1, "{res}");
    assert_eq!(with_status(&app, &token, "bounced").await, vec![bouncer.clone()]);

    // A complaint suppresses the complainant.
    let res = post_event(&app, &fixture_for("complaint", &complainer)).await;
    assert_eq!(res["suppressed"], 1, "{res}");
    assert_eq!(with_status(&app, &token, "complained").await, vec![complainer.clone()]);

    // A soft bounce reaches nurture (it is an "Email Bounced" event) but suppresses no one.
    let res = post_event(&app, &fixture_for("bounce-transient", &soft)).await;
    assert_eq!(res["suppressed"], 0, "{res}");

    let mut active = with_status(&app, &token, "active").await;
    active.sort();
    let mut expected = vec![soft, delivered];
    expected.sort();
    assert_eq!(active, expected, "only the bouncer and the complainer left the active pool");

    // A repeated delivery of the same event (EventBridge delivers at least once) changes nothing more.
    let res = post_event(&app, &fixture_for("bounce", &bouncer)).await;
    assert_eq!(res["suppressed"], 1, "{res}");
    assert_eq!(with_status(&app, &token, "bounced").await, vec![bouncer]);
}
