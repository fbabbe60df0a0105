//! Keys: the signing key rotates (links name the key that signed them, and every key held still
//! verifies); the email-hash key does not, so suppressions hold across a rotation.
use crate::helpers::*;
use serde_json::{json, Value};

fn key() -> String {
    ulid::Ulid::generate().to_string().repeat(2)
}

fn email(who: &str) -> String {
    format!("{who}.{}@example.com", ulid::Ulid::generate().to_string().to_lowercase())
}

/// A stack over the same table and bucket as others with `prefix`, holding `ring` and `hash_key`.
async fn stack(prefix: &str, ring: Value, hash_key: &str) -> TestApp {
    spawn_app_with(|o| {
        o.name_prefix = prefix.to_string();
        o.signing_keys = ring.to_string();
        o.email_hash_key = hash_key.to_string();
    })
    .await
}

/// The links (as paths on `app`) in the newest email to `to`.
async fn links(app: &TestApp, to: &str) -> Vec<String> {
    let sent = app.emails_to(to).await;
    let text = sent.last().expect("an email")["text"].as_str().unwrap().to_string();
    text.split_whitespace()
        .filter_map(|w| w.find("/careers/").map(|i| w[i..].trim_end_matches(['.', ',', ')', '>']).to_string()))
        .collect()
}

fn token_of(link: &str) -> &str {
    link.split("token=").nth(1).unwrap_or_default()
}

#[tokio::test]
async fn a_rotated_signing_key_keeps_old_links_working_and_suppressions_holding() {
    let prefix = format!("t{}", ulid::Ulid::generate());
    let (k1, k2, hash_key) = (key(), key(), key());
    let before = stack(&prefix, json!({"current": "k1", "k1": k1}), &hash_key).await;

    // Ada signs up: her opt-in email's links are signed with k1. Bo unsubscribes.
    let (ada, bo) = (email("ada"), email("bo"));
    let sub = |e: &str| json!({"email": e, "interests": {}, "consent": {"talent_pool": true}});
    assert_eq!(before.post("/careers/talent-pool").json(&sub(&ada)).send().await.unwrap().status(), 202);
    let ada_links = links(&before, &ada).await;
    let confirm = ada_links.iter().find(|l| l.contains("/talent-pool/confirm")).expect("a confirm link").clone();
    let unsubscribe = ada_links.iter().find(|l| l.contains("/unsubscribe")).expect("an unsubscribe link").clone();
    assert!(token_of(&confirm).starts_with("k1."), "{confirm}");
    assert_eq!(before.post("/careers/talent-pool").json(&sub(&bo)).send().await.unwrap().status(), 202);
    let bo_unsubscribe = links(&before, &bo).await.into_iter().find(|l| l.contains("/unsubscribe")).unwrap();
    assert_eq!(before.post(&bo_unsubscribe).send().await.unwrap().status(), 200);

    // The deployment makes k2 current and keeps k1; the email-hash key stays.
    let after = stack(&prefix, json!({"current": "k2", "k1": k1, "k2": k2}), &hash_key).await;
    assert_eq!(after.confirm(&confirm).await.status(), 200, "a link signed with k1 still confirms");
    assert_eq!(after.get(&unsubscribe).send().await.unwrap().status(), 200, "and still unsubscribes");
    let carl = email("carl");
    assert_eq!(after.post("/careers/talent-pool").json(&sub(&carl)).send().await.unwrap().status(), 202);
    let carl_confirm = links(&after, &carl).await.into_iter().find(|l| l.contains("/talent-pool/confirm")).unwrap();
    assert!(token_of(&carl_confirm).starts_with("k2."), "new links are signed with k2: {carl_confirm}");

    // Bo is still suppressed: applying brings him no email, as before the rotation.
    let token = after.token("recruiter").await;
    let job = after.open_job(&token, |b| b["required_credentials"] = json!([])).await;
    let application = json!({"first_name": "Bo", "last_name": "B", "email": bo, "consent": {"processing": true}});
    let res = after.post(&format!("/careers/jobs/{job}/applications")).json(&application).send().await.unwrap();
    assert_eq!(res.status(), 201, "{}", res.text().await.unwrap());
    let to_bo = after.emails_to(&bo).await;
    assert_eq!(to_bo.len(), 1, "only the opt-in from before he unsubscribed: {to_bo:?}");

    // Once k1 is dropped, its links stop working; a token naming an unknown key is refused.
    let retired = stack(&prefix, json!({"current": "k2", "k2": k2}), &hash_key).await;
    assert_eq!(retired.get(&unsubscribe).send().await.unwrap().status(), 400);
    assert_eq!(retired.get(&carl_confirm).send().await.unwrap().status(), 200);
    let relabelled = carl_confirm.replace("token=k2.", "token=k9.");
    assert_eq!(retired.get(&relabelled).send().await.unwrap().status(), 400);
}
