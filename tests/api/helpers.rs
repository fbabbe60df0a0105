use rapport_local::{spawn, Options, Stack};
use reqwest::{Client, RequestBuilder, Response};
use serde_json::{json, Value};

pub const ORIGIN: &str = "https://careers.example.com";

pub struct TestApp {
    pub url: String,
    pub http: Client,
    pub stack: Stack,
}

fn random_key() -> Vec<u8> {
    ulid::Ulid::generate().to_string().repeat(2).into_bytes()
}

pub async fn spawn_app() -> TestApp {
    spawn_app_with(|_| {}).await
}

/// A stack whose functions read a clock the test moves (to spread history over days and years).
pub async fn spawn_app_at(
    start: chrono::DateTime<chrono::Utc>,
) -> (TestApp, std::sync::Arc<rapport::clock::FixedClock>) {
    let clock = std::sync::Arc::new(rapport::clock::FixedClock::new(start));
    let shared: rapport::SharedClock = clock.clone();
    (spawn_app_with(|o| o.clock = Some(shared)).await, clock)
}

/// A stack with some options changed.
pub async fn spawn_app_with(change: impl FnOnce(&mut Options)) -> TestApp {
    let moto_url = std::env::var("MOTO_URL")
        .expect("MOTO_URL is not set: run the tests with `make test`, which starts the emulator");
    let mut opts = Options {
        moto_url,
        name_prefix: format!("t{}", ulid::Ulid::generate()),
        port: 0,
        signing_keys: rapport_local::keyring(&String::from_utf8(random_key()).unwrap()),
        email_hash_key: String::from_utf8(random_key()).unwrap(),
        jwt_key: random_key(),
        seed: false,
        allowed_origins: vec![ORIGIN.to_string()],
        draft_abandon_after: chrono::Duration::hours(24),
        run_schedules: false,
        adjust_policy: None,
        clock: None,
        // Tests send bursts from one address; the limiter has its own test.
        rate_limit_per_minute: 100_000,
        counter_shards: 8,
    };
    change(&mut opts);
    let stack = spawn(opts).await.expect("the local stack starts");
    TestApp { url: stack.url.clone(), http: Client::new(), stack }
}

/// Stacks over one table, bucket and set of keys (one name prefix), on one clock, each writing the
/// report counters over its own number of shards: as when `COUNTER_SHARDS` changes between writes.
pub async fn stacks_over_one_table(shards: &[u32], clock: &std::sync::Arc<rapport::clock::FixedClock>) -> Vec<TestApp> {
    let prefix = format!("t{}", ulid::Ulid::generate());
    let signing_keys = rapport_local::keyring(&String::from_utf8(random_key()).unwrap());
    let (email_hash_key, jwt_key) = (String::from_utf8(random_key()).unwrap(), random_key());
    let mut out = Vec::new();
    for &n in shards {
        let shared: rapport::SharedClock = clock.clone();
        out.push(
            spawn_app_with(|o| {
                o.name_prefix = prefix.clone();
                o.signing_keys = signing_keys.clone();
                o.email_hash_key = email_hash_key.clone();
                o.jwt_key = jwt_key.clone();
                o.clock = Some(shared);
                o.counter_shards = n;
            })
            .await,
        );
    }
    out
}

impl TestApp {
    pub async fn token_for(&self, body: Value) -> String {
        let res = self.http.post(format!("{}/_local/token", self.url)).json(&body).send().await.unwrap();
        assert_eq!(res.status(), 200);
        res.json::<Value>().await.unwrap()["token"].as_str().unwrap().to_string()
    }

    pub async fn token(&self, role: &str) -> String {
        self.token_for(json!({ "role": role })).await
    }

    pub fn get(&self, path: &str) -> RequestBuilder {
        self.http.get(format!("{}{path}", self.url))
    }

    pub fn post(&self, path: &str) -> RequestBuilder {
        self.http.post(format!("{}{path}", self.url))
    }

    pub fn patch(&self, path: &str) -> RequestBuilder {
        self.http.patch(format!("{}{path}", self.url))
    }

    /// A GET with a token, its body as JSON (whatever the status; callers assert what matters).
    pub async fn get_json(&self, path: &str, token: &str) -> Value {
        self.get(path).bearer_auth(token).send().await.unwrap().json().await.unwrap()
    }

    /// Creates a job as a recruiter and returns it.
    pub async fn create_job(&self, token: &str, body: Value) -> Value {
        let res = self.post("/api/jobs").bearer_auth(token).json(&body).send().await.unwrap();
        assert_eq!(res.status(), 201, "{}", res.text().await.unwrap());
        res.json().await.unwrap()
    }

    /// Creates and publishes a job (`job_body` changed by `change`) and returns its id.
    pub async fn open_job(&self, token: &str, change: impl FnOnce(&mut Value)) -> String {
        let mut body = job_body();
        change(&mut body);
        let id = self.create_job(token, body).await["id"].as_str().unwrap().to_string();
        self.publish(token, &id).await;
        id
    }

    /// Creates a campaign and activates it; returns its id.
    pub async fn active_campaign(&self, token: &str, body: Value) -> String {
        let res = self.post("/api/campaigns").bearer_auth(token).json(&body).send().await.unwrap();
        assert_eq!(res.status(), 201, "{}", res.text().await.unwrap());
        let id = res.json::<Value>().await.unwrap()["id"].as_str().unwrap().to_string();
        let res = self.post(&format!("/api/campaigns/{id}/activate")).bearer_auth(token).send().await.unwrap();
        assert_eq!(res.status(), 200);
        id
    }

    pub async fn publish(&self, token: &str, id: &str) -> Value {
        let res = self.post(&format!("/api/jobs/{id}/publish")).bearer_auth(token).send().await.unwrap();
        assert_eq!(res.status(), 200);
        res.json().await.unwrap()
    }

    /// Every item of the table, read behind the API's back: what a recount or a privacy audit looks at.
    pub async fn scan_table(&self) -> Vec<std::collections::HashMap<String, aws_sdk_dynamodb::types::AttributeValue>> {
        let mut out = Vec::new();
        let mut start = None;
        loop {
            let page = self
                .stack
                .aws
                .dynamo()
                .scan()
                .table_name(&self.stack.state.config.table)
                .set_exclusive_start_key(start)
                .send()
                .await
                .unwrap();
            out.extend(page.items().iter().cloned());
            start = page.last_evaluated_key().cloned();
            if start.is_none() {
                return out;
            }
        }
    }

    /// The documents of every item whose sort key is `sk` (applications: `APP`).
    /// Moves an application as the recruiter API does (`POST /api/applications/{id}/transitions`).
    pub async fn transition(&self, token: &str, id: &str, body: Value) -> Response {
        self.post(&format!("/api/applications/{id}/transitions")).bearer_auth(token).json(&body).send().await.unwrap()
    }

    /// Every draft in the table, read behind the API's back.
    pub async fn drafts(&self) -> Vec<rapport::draft::Draft> {
        self.scan_table()
            .await
            .iter()
            .filter(|i| i.get("sk").and_then(|v| v.as_s().ok()).is_some_and(|v| v == "DRAFT"))
            .map(|i| rapport::store::draft_of(i).unwrap())
            .collect()
    }

    pub async fn docs<T: serde::de::DeserializeOwned>(&self, sk: &str) -> Vec<T> {
        self.scan_table()
            .await
            .into_iter()
            .filter(|i| i.get("sk").and_then(|v| v.as_s().ok()).is_some_and(|v| v == sk))
            .map(|i| serde_json::from_str(i["doc"].as_s().unwrap()).unwrap())
            .collect()
    }

    /// Follows a confirmation link as a person does: the page it opens changes nothing and shows a
    /// button, whose POST confirms. Returns the POST's answer.
    pub async fn confirm(&self, path: &str) -> reqwest::Response {
        let page = self.get(path).send().await.unwrap();
        assert_eq!(page.status(), 200);
        let html = page.text().await.unwrap();
        assert!(html.contains("method=\"post\""), "{html}");
        self.post(path).send().await.unwrap()
    }

    /// The emails SES sent to one address (the emulator is shared, so addresses are unique per test),
    /// once the events written so far have been handled.
    pub async fn emails_to(&self, email: &str) -> Vec<Value> {
        let all = self.emails().await;
        all["items"].as_array().unwrap().iter().filter(|e| e["to"] == json!([email])).cloned().collect()
    }

    /// Every email SES sent (`/_local/emails`), once the events written so far have been handled.
    pub async fn emails(&self) -> Value {
        self.run_events().await;
        self.get("/_local/emails").send().await.unwrap().json().await.unwrap()
    }

    /// Hands the table's new events to the events function, as Lambda's stream mapping does
    /// (`/_local/run/events`); answers what the poll did.
    pub async fn run_events(&self) -> Value {
        let res = self.post("/_local/run/events").send().await.unwrap();
        assert_eq!(res.status(), 200, "the stream was not read");
        res.json().await.unwrap()
    }

    /// Sets faults in the emulator (`POST /_rapport/faults`, see infra/local/emulator.py): SES and S3
    /// DeleteObjects faults by recipient or key, DynamoDB and S3 faults and contention by name prefix.
    pub async fn faults(&self, body: Value) {
        let res = self.http.post(format!("{}/_rapport/faults", self.stack.moto_url)).json(&body).send().await.unwrap();
        let status = res.status();
        assert_eq!(status, 204, "{}", res.text().await.unwrap_or_default());
    }

    /// What the emulator's rules for this app's prefix did: `{"dynamodb": {"calls", "faults": {kind: n}},
    /// "s3": {...}, "contention": {"transactions", "conflicts", "writes", "write_conflicts"}}`.
    pub async fn fault_stats(&self) -> Value {
        let res = self
            .http
            .get(format!("{}/_rapport/faults/stats", self.stack.moto_url))
            .query(&[("prefix", &self.stack.name_prefix)])
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200);
        res.json().await.unwrap()
    }

    /// Faults of every kind on this app's tables and bucket, each request faulted with probability
    /// `rate`, drawn from `seed`.
    pub async fn inject(&self, rate: f64, seed: u64) {
        let rule = json!([{"prefix": self.stack.name_prefix, "rate": rate, "seed": seed}]);
        self.faults(json!({"dynamodb": rule, "s3": rule})).await;
    }

    /// Removes this app's DynamoDB, S3 and contention rules (their counts stay).
    pub async fn clear_faults(&self) {
        self.faults(json!({"clear": self.stack.name_prefix})).await;
    }

    /// Every job in the table, through the recruiter API.
    pub async fn all_jobs(&self, token: &str) -> Vec<Value> {
        let mut out = Vec::new();
        let mut cursor: Option<String> = None;
        loop {
            let mut req = self.get("/api/jobs?limit=100").bearer_auth(token);
            if let Some(c) = &cursor {
                req = req.query(&[("cursor", c)]);
            }
            let page: Value = req.send().await.unwrap().json().await.unwrap();
            out.extend(page["items"].as_array().unwrap().iter().cloned());
            match page["next_cursor"].as_str() {
                Some(c) => cursor = Some(c.to_string()),
                None => return out,
            }
        }
    }
}

/// The AWS operations the request made, as reported by the local gateway.
pub fn calls(res: &Response) -> Vec<String> {
    let raw = res.headers().get(rapport_local::gateway::CALLS_HEADER).expect("the gateway reports calls");
    raw.to_str().unwrap().split(',').filter(|s| !s.is_empty()).map(str::to_string).collect()
}

/// Asserts a problem+json response and returns it.
pub async fn problem(res: Response, status: u16) -> Value {
    assert_eq!(res.status(), status);
    assert_eq!(res.headers()["content-type"], "application/problem+json");
    let v: Value = res.json().await.unwrap();
    assert_eq!(v["status"], status);
    assert!(v["type"].is_string() && v["title"].is_string() && v["detail"].is_string());
    v
}

pub fn error_fields(problem: &Value) -> Vec<String> {
    problem["errors"].as_array().unwrap().iter().map(|e| e["field"].as_str().unwrap().to_string()).collect()
}

pub fn job_body() -> Value {
    json!({
        "title": "Registered Nurse",
        "department": "Nursing",
        "location": {"city": "Leeds", "region": "West Yorkshire", "country": "GB"},
        "workplace": "onsite",
        "employment_type": "full_time",
        "salary": {"min": 30000, "max": 40000, "currency": "GBP", "period": "year"},
        "description_html": "<p>Care for patients.</p>",
        "required_credentials": ["RN"],
        "hiring_team": [{"sub": "hm-on-team", "role": "hiring_manager"}]
    })
}
