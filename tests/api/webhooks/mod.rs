//! Signed webhooks: admins register endpoints; events reach each subscribed endpoint once, signed as
//! Standard Webhooks says (checked here with its reference library), are retried on the schedule from
//! the due list, and an endpoint failing for five days is disabled and the admin address told. The
//! receivers are servers of the test on 127.0.0.1, which the local stack allows (as production never
//! does: the strict cases build the production settings over the same table).
mod delivery;
mod endpoints;
mod retries;

use crate::helpers::*;
use chrono::{DateTime, Utc};
use rapport::event::Event;
use serde_json::Value;
use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

/// One request a receiver got.
#[derive(Debug, Clone)]
pub(super) struct Received {
    headers: http::HeaderMap,
    body: String,
}

impl Received {
    pub(super) fn header(&self, name: &str) -> &str {
        self.headers.get(name).and_then(|v| v.to_str().ok()).unwrap_or_default()
    }

    /// Whether one of the request's signatures is the reference library's for `secret` (at the
    /// request's own timestamp, whatever the clock of the test).
    pub(super) fn signed_with(&self, secret: &str) -> bool {
        let wh = standardwebhooks::Webhook::new(secret).unwrap();
        let ts: i64 = self.header("webhook-timestamp").parse().unwrap();
        let expected = wh.sign(self.header("webhook-id"), ts, self.body.as_bytes()).unwrap();
        self.header("webhook-signature").split(' ').any(|s| s == expected)
    }

    /// The reference library's whole check, the timestamp's tolerance (5 minutes of now) included.
    pub(super) fn verifies(&self, secret: &str) -> bool {
        standardwebhooks::Webhook::new(secret).unwrap().verify(self.body.as_bytes(), &self.headers).is_ok()
    }
}

/// A receiver: answers each request with the next status of its list (200 once it is empty) and
/// keeps every request.
#[derive(Clone, Default)]
pub(super) struct Receiver {
    url: String,
    log: Arc<Mutex<Vec<Received>>>,
    answers: Arc<Mutex<VecDeque<u16>>>,
}

impl Receiver {
    pub(super) async fn start(answers: &[u16]) -> Receiver {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let r = Receiver {
            url: format!("http://127.0.0.1:{port}/hook"),
            log: Arc::default(),
            answers: Arc::new(Mutex::new(answers.iter().copied().collect())),
        };
        let app = axum::Router::new().route("/hook", axum::routing::post(receive)).with_state(r.clone());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        r
    }

    pub(super) fn port(&self) -> u16 {
        self.url.split(':').nth(2).unwrap().split('/').next().unwrap().parse().unwrap()
    }

    pub(super) fn got(&self) -> Vec<Received> {
        self.log.lock().unwrap().clone()
    }
}

async fn receive(
    axum::extract::State(r): axum::extract::State<Receiver>,
    headers: http::HeaderMap,
    body: String,
) -> http::StatusCode {
    r.log.lock().unwrap().push(Received { headers, body });
    let code = r.answers.lock().unwrap().pop_front().unwrap_or(200);
    http::StatusCode::from_u16(code).unwrap()
}

/// Registers an endpoint as an admin; answers it with its secret.
pub(super) async fn register(app: &TestApp, admin: &str, body: Value) -> Value {
    let res = app.post("/api/webhooks").bearer_auth(admin).json(&body).send().await.unwrap();
    assert_eq!(res.status(), 201, "{}", res.text().await.unwrap());
    assert_eq!(calls(&res), vec!["dynamodb.PutItem"]);
    assert_eq!(res.headers()["cache-control"], "no-store");
    res.json().await.unwrap()
}

/// A new event at the clock's time (an erasure: ids only).
pub(super) fn erased(clock: &dyn rapport::Clock) -> Event {
    rapport::event::candidate_erased(clock, &rapport::ids::CandidateId::new(clock), clock.now())
}

pub(super) async fn log(app: &TestApp, admin: &str, id: &str) -> Vec<Value> {
    let res = app.get(&format!("/api/webhooks/{id}/deliveries")).bearer_auth(admin).send().await.unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(calls(&res), vec!["dynamodb.GetItem", "dynamodb.Query"]);
    res.json::<Value>().await.unwrap()["items"].as_array().unwrap().clone()
}

/// Runs the retry task as the schedule does, at `now`; answers its report and AWS calls.
pub(super) async fn run_at(app: &TestApp, now: DateTime<Utc>) -> (Value, Vec<String>) {
    let res = app.post("/_local/run/webhooks").query(&[("now", rapport::clock::rfc3339(now))]).send().await.unwrap();
    assert_eq!(res.status(), 200);
    let calls = calls(&res);
    (res.json().await.unwrap(), calls)
}

/// The production settings over the same table: https only, no internal address.
pub(super) fn strict(app: &TestApp) -> rapport::api::AppState {
    let mut st = app.stack.state.clone();
    let mut config = (*st.config).clone();
    config.webhooks_allow_private = false;
    st.outbound = rapport::outbound::Outbound::new(config.webhook_reach());
    st.config = Arc::new(config);
    st
}
