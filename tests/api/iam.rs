//! IAM as AWS applies it: the local stack holds each function's AWS clients to the policy the SAM
//! template gives its role (expanded by the SAM translator), so a missing action fails here as it
//! would after a deploy. `make test` also fails when any call of the whole suite was refused.
use crate::helpers::*;
use rapport::email::Email;
use rapport_local::iam::Policy;
use rapport_local::sam::SamFunctions;
use reqwest::Response;
use serde_json::json;

async fn subscribe_and_one_click_unsubscribe(app: &TestApp) -> Response {
    let email = format!("iam.{}@example.com", ulid::Ulid::generate().to_string().to_lowercase());
    let res = app
        .post("/careers/talent-pool")
        .json(&json!({"email": email, "first_name": "Mary", "consent": {"talent_pool": true},
            "interests": {"departments": ["Nursing"], "locations": ["GB"], "workplace": ["onsite"]}}))
        .send()
        .await
        .unwrap();
    assert!(res.status().is_success(), "{}", res.status());
    let st = &app.stack.state;
    let hash = st.email_hash(&Email::parse(&email).unwrap()).await.unwrap();
    let token = rapport::prospect::unsubscribe_token(st.signer().await.unwrap(), &hash);
    app.post("/careers/unsubscribe")
        .query(&[("token", &token)])
        .header("content-type", "application/x-www-form-urlencoded")
        .body("List-Unsubscribe=One-Click")
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn unsubscribe_and_a_recruiters_consent_record_work_under_the_deployed_policies() {
    let app = spawn_app().await;
    let res = subscribe_and_one_click_unsubscribe(&app).await;
    assert_eq!(res.status(), 200);

    // An admin records consent for someone who applied (the pipeline function's role).
    let token = app.token("admin").await;
    let job = app.open_job(&token, |_| {}).await;
    let res = app
        .post(&format!("/careers/jobs/{job}/applications"))
        .header("origin", ORIGIN)
        .json(&json!({"first_name": "Ada", "last_name": "Lovelace", "email": "ada.iam@example.com",
                      "consent": {"processing": true}}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201, "{}", res.text().await.unwrap());
    let application: serde_json::Value = res.json().await.unwrap();
    let candidate = application["candidate_id"].as_str().unwrap();
    let res = app
        .http
        .put(format!("{}/api/candidates/{candidate}/consents/marketing_email", app.url))
        .bearer_auth(&token)
        .json(&json!({"given": true, "note": "asked by phone"}))
        .send()
        .await
        .unwrap();
    assert!(res.status().is_success(), "{}", res.text().await.unwrap());
    assert_eq!(app.stack.iam.refused(), Vec::<String>::new());
}

#[tokio::test]
async fn a_policy_without_one_action_refuses_the_call_as_aws_would() {
    // The template as it was: intake's role without BatchWriteItem, which recording the
    // withdrawal of consent needs.
    let app = spawn_app_with(|o| {
        o.adjust_policy = Some(|p| if p.function == "intake" { p.without_action("dynamodb:BatchWriteItem") } else { p })
    })
    .await;
    let res = subscribe_and_one_click_unsubscribe(&app).await;
    assert_eq!(res.status(), 503);
    let refused = app.stack.iam.refused();
    assert_eq!(refused.len(), 1, "{refused:?}");
    assert!(refused[0].starts_with("intake: dynamodb:BatchWriteItem on arn:aws:dynamodb:"), "{refused:?}");
}

#[test]
fn every_function_has_a_policy_the_check_can_read_and_no_wildcard_actions() {
    let sam = SamFunctions::from_env().expect("the expanded template");
    let names = std::collections::HashMap::from([
        ("MainTable", "t".to_string()),
        ("FilesBucket", "b".to_string()),
        ("EmailConfigurationSet", "s".to_string()),
        ("SigningKeys", "arn:aws:secretsmanager:us-east-1:123456789012:secret:k-AbCdEf".to_string()),
        ("EmailHashKey", "arn:aws:secretsmanager:us-east-1:123456789012:secret:h-AbCdEf".to_string()),
    ]);
    for name in rapport_local::FUNCTIONS {
        let policy = Policy::new(name, sam.function(name).unwrap(), &names).unwrap();
        let granted = policy.granted();
        assert!(!granted.is_empty(), "{name} has no policy");
        assert!(granted.iter().all(|a| !a.contains('*')), "{name} grants a wildcard action: {granted:?}");
    }
    assert_eq!(sam.functions.len(), rapport_local::FUNCTIONS.len(), "a function in the template is not in the stack");
}
