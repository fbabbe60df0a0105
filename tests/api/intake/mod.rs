//! Intake: the career site's public forms, through the local stack.
mod applications;
mod drafts;
mod refusals;
mod resumes;

use crate::helpers::*;
use rapport::ids::{ApplicationId, JobId};
use serde_json::{json, Value};

/// An open job and a unique applicant address for this test.
pub(super) async fn open_job(app: &TestApp) -> (String, String) {
    let token = app.token("recruiter").await;
    let job = app.create_job(&token, job_body()).await;
    let id = job["id"].as_str().unwrap().to_string();
    app.publish(&token, &id).await;
    (id, format!("ada.{}@example.com", ulid::Ulid::generate().to_string().to_lowercase()))
}

pub(super) fn application(email: &str) -> Value {
    json!({"first_name": "Ada", "last_name": "Lovelace", "email": email,
           "consent": {"processing": true, "talent_pool": true},
           "credentials": [{"type": "RN", "jurisdiction": "GB"}],
           "answers": {"right_to_work": true},
           "source": {"landing_url": "https://careers.example.com/jobs/1?utm_source=indeed&utm_medium=job_board"}})
}

pub(super) async fn stored(app: &TestApp, id: &str) -> rapport::application::Application {
    let id: ApplicationId = id.parse().unwrap();
    app.stack.state.store.get_application(&id).await.unwrap().expect("the application is stored")
}

pub(super) async fn count(app: &TestApp, job: &str) -> usize {
    app.stack.state.store.count_applications(&job.parse::<JobId>().unwrap()).await.unwrap()
}
