use crate::helpers::*;
use rapport::routes::ROUTES;
use serde_json::{json, Value};

const SOME_ID: &str = "01ARZ3NDEKTSV4RRFFQ69G5FAV";

#[tokio::test]
async fn every_api_route_refuses_missing_forged_expired_and_wrong_audience_tokens() {
    let app = spawn_app().await;
    let expired = app.token_for(json!({"role": "admin", "ttl_seconds": -60})).await;
    let wrong_aud = app.token_for(json!({"role": "admin", "aud": "someone-else"})).await;
    let good = app.token("admin").await;
    // Same claims, signed with another key.
    let forged = {
        let (head_body, _) = good.rsplit_once('.').unwrap();
        format!("{head_body}.c2lnbmVkIGJ5IHNvbWVvbmUgZWxzZQ")
    };
    for route in ROUTES.iter().filter(|r| r.needs_token()) {
        let path = route.path.replace("{id}", SOME_ID);
        let url = format!("{}{path}", app.url);
        let method = reqwest::Method::from_bytes(route.method.as_bytes()).unwrap();
        for token in [None, Some(&forged), Some(&expired), Some(&wrong_aud), Some(&"not.a.jwt".to_string())] {
            let mut req = app.http.request(method.clone(), &url).json(&json!({}));
            if let Some(t) = token {
                req = req.bearer_auth(t);
            }
            let res = req.send().await.unwrap();
            assert_eq!(res.status(), 401, "{} with {token:?}", route.key());
            assert!(!res.headers().contains_key(rapport_local::gateway::CALLS_HEADER), "the function never ran");
        }
    }
}

#[tokio::test]
async fn a_hiring_manager_sees_only_their_jobs_and_cannot_change_them() {
    let app = spawn_app().await;
    let recruiter = app.token("recruiter").await;
    let hm = app.token_for(json!({"role": "hiring_manager", "sub": "hm-on-team"})).await;
    let theirs = app.create_job(&recruiter, job_body()).await;
    let mut other_body = job_body();
    other_body["hiring_team"] = json!([{"sub": "someone-else", "role": "hiring_manager"}]);
    let other = app.create_job(&recruiter, other_body).await;
    let (theirs_id, other_id) = (theirs["id"].as_str().unwrap(), other["id"].as_str().unwrap());

    let listed: Value = app.get_json("/api/jobs", &hm).await;
    let ids: Vec<&str> = listed["items"].as_array().unwrap().iter().map(|j| j["id"].as_str().unwrap()).collect();
    assert_eq!(ids, vec![theirs_id]);
    let all: Value = app.get_json("/api/jobs", &recruiter).await;
    assert_eq!(all["items"].as_array().unwrap().len(), 2);

    assert_eq!(app.get(&format!("/api/jobs/{theirs_id}")).bearer_auth(&hm).send().await.unwrap().status(), 200);
    problem(app.get(&format!("/api/jobs/{other_id}")).bearer_auth(&hm).send().await.unwrap(), 404).await;
    problem(app.post("/api/jobs").bearer_auth(&hm).json(&job_body()).send().await.unwrap(), 403).await;
    let patch = json!({"expected_version": 1, "title": "Mine now"});
    problem(app.patch(&format!("/api/jobs/{theirs_id}")).bearer_auth(&hm).json(&patch).send().await.unwrap(), 403)
        .await;
    problem(app.patch(&format!("/api/jobs/{other_id}")).bearer_auth(&hm).json(&patch).send().await.unwrap(), 404).await;
    problem(app.post(&format!("/api/jobs/{theirs_id}/publish")).bearer_auth(&hm).send().await.unwrap(), 403).await;
    let close = json!({"reason": "cancelled"});
    problem(app.post(&format!("/api/jobs/{other_id}/close")).bearer_auth(&hm).json(&close).send().await.unwrap(), 404)
        .await;
    assert_eq!(app.all_jobs(&recruiter).await.iter().filter(|j| j["version"] != 1).count(), 0, "nothing changed");
}

#[tokio::test]
async fn a_user_in_no_rapport_group_is_forbidden() {
    let app = spawn_app().await;
    let guest = app.token("guest").await;
    problem(app.get("/api/jobs").bearer_auth(&guest).send().await.unwrap(), 403).await;
}

#[tokio::test]
async fn public_routes_need_no_token() {
    let app = spawn_app().await;
    assert_eq!(app.get("/careers/jobs").send().await.unwrap().status(), 200);
    let res = app.post("/_local/token").json(&json!({"role": "Robert'); DROP"})).send().await.unwrap();
    problem(res, 422).await;
}
