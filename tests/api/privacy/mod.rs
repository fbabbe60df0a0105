//! A person's access and erasure requests, the retention sweep, and the audit log, through the
//! local stack; erasure is checked by reading every item and every object version behind the API.
mod consent;
mod erasure;
mod retention;

use crate::helpers::*;
use serde_json::{json, Value};

pub(super) fn unique(name: &str) -> String {
    format!("{name}.{}@example.com", ulid::Ulid::generate().to_string().to_lowercase())
}

pub(super) async fn add_sourced(app: &TestApp, token: &str, email: &str) -> Value {
    let res = app
        .post("/api/prospects")
        .bearer_auth(token)
        .json(&json!({"email": email, "consent": true}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201, "{}", res.text().await.unwrap());
    res.json().await.unwrap()
}

pub(super) async fn apply(app: &TestApp, job: &str, body: Value) -> Value {
    let res = app.post(&format!("/careers/jobs/{job}/applications")).json(&body).send().await.unwrap();
    assert_eq!(res.status(), 201, "{}", res.text().await.unwrap());
    res.json().await.unwrap()
}

pub(super) async fn transition(app: &TestApp, token: &str, id: &str, body: Value) {
    let res =
        app.post(&format!("/api/applications/{id}/transitions")).bearer_auth(token).json(&body).send().await.unwrap();
    assert_eq!(res.status(), 200, "{}", res.text().await.unwrap());
}

/// Every string in the table, and every object version's bytes in the bucket.
pub(super) async fn everything_stored(app: &TestApp) -> (String, Vec<Vec<u8>>) {
    let items = app.scan_table().await;
    let text = items.iter().map(|i| format!("{i:?}")).collect::<Vec<_>>().join("\n");
    let st = &app.stack.state;
    let versions = app.stack.aws.s3().list_object_versions().bucket(&st.config.bucket).send().await.unwrap();
    let mut objects = Vec::new();
    for v in versions.versions() {
        let got = app
            .stack
            .aws
            .s3()
            .get_object()
            .bucket(&st.config.bucket)
            .key(v.key().unwrap())
            .set_version_id(v.version_id().map(str::to_string))
            .send()
            .await
            .unwrap();
        objects.push(got.body.collect().await.unwrap().into_bytes().to_vec());
    }
    (text, objects)
}
