//! The local stack: every function of Rapport behind a faithful local API Gateway, against the AWS
//! APIs served by the emulator (moto server). `make dev` runs it; the integration tests spawn it.
pub mod bootstrap;
pub mod emails;
pub mod eventbridge;
pub mod gateway;
pub mod iam;
mod local_routes;
pub mod runtime;
pub mod sam;
pub mod streams;
pub mod token;

use anyhow::Context as _;
use aws_sdk_dynamodb::config::{Credentials, Region};
use aws_smithy_runtime_api::client::interceptors::SharedInterceptor;
use axum::Router;
use gateway::Gateway;
use local_routes::Local;
use rapport::api::AppState;
use rapport::aws::Aws;
use rapport::clock::{Clock, SystemClock};
use rapport::Config;
use std::collections::HashMap;
use std::sync::Arc;
use token::{Issuer, TokenRequest};
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

pub struct Options {
    /// Where the emulator listens, e.g. `http://127.0.0.1:4566`.
    pub moto_url: String,
    /// Prefix of the table and bucket names, so several stacks can share one emulator.
    pub name_prefix: String,
    /// 0 picks a free port.
    pub port: u16,
    /// The keys that sign cursors and email links (`SIGNING_KEYS`: a keyring, see [`keyring`]); in
    /// the functions they come from a Secrets Manager secret the stack creates with this value.
    pub signing_keys: String,
    /// The email hash's key (`EMAIL_HASH_KEY`), likewise served from a secret.
    pub email_hash_key: String,
    /// Signs the local JWTs (Cognito's keys in AWS).
    pub jwt_key: Vec<u8>,
    pub seed: bool,
    pub allowed_origins: Vec<String>,
    pub draft_abandon_after: chrono::Duration,
    pub rate_limit_per_minute: u32,
    /// Shards per hot report counter (`COUNTER_SHARDS`).
    pub counter_shards: u32,
    /// The functions' clock; the system clock when `None` (tests set a fixed one to spread history over days).
    pub clock: Option<rapport::SharedClock>,
    /// Run the EventBridge schedules here (make dev); tests run tasks through `/_local/run` instead.
    pub run_schedules: bool,
    /// Changes a function's policy before the stack holds it to it (the IAM test removes an action).
    pub adjust_policy: Option<fn(iam::Policy) -> iam::Policy>,
}

pub struct Stack {
    pub url: String,
    /// What each function reads from its environment: the keys as the secrets' ARNs, read through
    /// Secrets Manager at start as in AWS.
    pub functions_config: Config,
    /// Unrestricted ports, for bootstrap and for tests that act through the domain; the functions
    /// themselves each run with clients held to their own role's policy.
    pub state: AppState,
    /// Unrestricted AWS clients, for bootstrap and for tests that look behind the API's back.
    pub aws: Aws,
    /// Every AWS call a function made that its policy refused.
    pub iam: iam::Ledger,
    pub issuer: Issuer,
    pub moto_url: String,
    /// The prefix of the table and bucket names as they are in the emulator (`<prefix>-main`,
    /// `<prefix>-files`: [`Options::name_prefix`] in lower case), which its fault rules match.
    pub name_prefix: String,
    shutdown: Option<oneshot::Sender<()>>,
    server: JoinHandle<()>,
    schedules: Vec<JoinHandle<()>>,
}

/// Every function of the template, by the name the route table and the template use.
pub const FUNCTIONS: &[&str] = &["jobs", "intake", "pipeline", "reports", "crm", "nurture", "events"];

/// Each HTTP function's router, each over its own state.
pub fn functions(states: &HashMap<&'static str, AppState>) -> anyhow::Result<HashMap<&'static str, Router>> {
    let state = |name: &str| states.get(name).cloned().with_context(|| format!("no state for function {name}"));
    Ok(HashMap::from([
        ("jobs", rapport_jobs::router(state("jobs")?)),
        ("intake", rapport_intake::router(state("intake")?)),
        ("pipeline", rapport_pipeline::router(state("pipeline")?)),
        ("reports", rapport_reports::router(state("reports")?)),
        ("crm", rapport_crm::router(state("crm")?)),
    ]))
}

/// The AWS SDK pointed at the emulator, with the functions' retries and timeouts (the stack's config sets
/// no attempt timeout: a busy machine slows the emulator, and a slow answer must not fail a test).
pub async fn emulator_sdk(moto_url: &str, config: &Config) -> aws_config::SdkConfig {
    aws_config::defaults(aws_config::BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .endpoint_url(moto_url)
        .credentials_provider(Credentials::new("local", "local", None, None, "rapport-local"))
        .timeout_config(rapport::aws::timeouts(config.aws_attempt_timeout))
        .retry_config(rapport::aws::retries())
        .load()
        .await
}

/// A keyring of one key, current: `{"current": "local", "local": key}`.
pub fn keyring(key: &str) -> String {
    serde_json::json!({"current": "local", "local": key}).to_string()
}

/// The secrets that hold the functions' keys, as the template's `SigningKeys` and `EmailHashKey`.
pub struct Secrets {
    pub signing_keys: String,
    pub email_hash_key: String,
}

/// The prefix the stack's resource names start with: bucket names are lower case.
fn name_prefix(option: &str) -> String {
    option.to_ascii_lowercase()
}

/// The functions' configuration, read by the parser Lambda uses from the variables the template sets;
/// the keys as values (`secrets: None`, for the stack's own unrestricted state) or as secrets' ARNs.
fn config(opts: &Options, url: &str, secrets: Option<&Secrets>) -> anyhow::Result<Config> {
    let keys = match secrets {
        None => [("SIGNING_KEYS", opts.signing_keys.clone()), ("EMAIL_HASH_KEY", opts.email_hash_key.clone())],
        Some(s) => {
            [("SIGNING_KEYS_SECRET_ARN", s.signing_keys.clone()), ("EMAIL_HASH_SECRET_ARN", s.email_hash_key.clone())]
        }
    };
    let prefix = name_prefix(&opts.name_prefix);
    let env = HashMap::from([
        ("RAPPORT_TABLE", format!("{prefix}-main")),
        ("RAPPORT_BUCKET", format!("{prefix}-files")),
        ("RAPPORT_SENDER", "Acme Health Careers <careers@acme-health.example>".into()),
        ("SES_CONFIGURATION_SET", format!("{prefix}-email")),
        ("COMPANY_NAME", "Acme Health".into()),
        ("CAREERS_URL", url.to_string()),
        ("PUBLIC_API_URL", url.to_string()),
        ("ALLOWED_ORIGINS", opts.allowed_origins.join(",")),
        keys[0].clone(),
        keys[1].clone(),
        ("S3_FORCE_PATH_STYLE", "true".into()),
        ("RAPPORT_AWS_ATTEMPT_TIMEOUT", "none".into()),
        ("DRAFT_ABANDON_AFTER", format!("{}s", opts.draft_abandon_after.num_seconds())),
        ("RATE_LIMIT_PER_MINUTE", opts.rate_limit_per_minute.to_string()),
        ("COUNTER_SHARDS", opts.counter_shards.to_string()),
        ("POSTAL_ADDRESS", "Acme Health, 1 Infirmary Street, Leeds LS1 2AA, United Kingdom".into()),
        // The emulator has no quota; pacing is still exercised, just quickly.
        ("SES_MAX_SEND_RATE", "50".into()),
        ("IMPORT_CONSENT_POLICY", "ask".into()),
        ("RETENTION_DAYS", "730".into()),
        // Webhook receivers of the local stack and its tests listen on 127.0.0.1, over plain http.
        ("WEBHOOKS_ALLOW_PRIVATE", "true".into()),
        ("ADMIN_EMAIL", format!("admin@{prefix}.example")),
    ]);
    Config::from_lookup(|k| env.get(k).cloned()).map_err(|e| anyhow::anyhow!("{e}"))
}

/// One state per function, its AWS clients held to that function's role in the template, its keys
/// read through them from Secrets Manager.
async fn function_states(
    sam: &sam::SamFunctions,
    sdk: &aws_config::SdkConfig,
    config: &Config,
    clock: &rapport::SharedClock,
    opts: &Options,
    ledger: &iam::Ledger,
) -> anyhow::Result<HashMap<&'static str, AppState>> {
    let names = runtime::template_values(config)?;
    let mut states = HashMap::new();
    for name in FUNCTIONS {
        let mut policy = iam::Policy::new(name, sam.function(name)?, &names)?;
        if let Some(adjust) = opts.adjust_policy {
            policy = adjust(policy);
        }
        let check = iam::Enforce { policy: Arc::new(policy), ledger: ledger.clone() };
        let aws = Aws::from_sdk_checked(sdk, config, Some(SharedInterceptor::new(check)));
        let keys =
            rapport::keys::Keys::load(config, &aws.secrets()).await.map_err(|e| anyhow::anyhow!("{name}: {e}"))?;
        states.insert(*name, AppState::new(config.clone(), &aws, keys, clock.clone()));
    }
    Ok(states)
}

pub async fn spawn(opts: Options) -> anyhow::Result<Stack> {
    let listener =
        TcpListener::bind(("127.0.0.1", opts.port)).await.with_context(|| format!("binding port {}", opts.port))?;
    let url = format!("http://{}", listener.local_addr()?);
    let config = config(&opts, &url, None)?;
    let sdk = emulator_sdk(&opts.moto_url, &config).await;
    let clock: Arc<dyn Clock> = opts.clock.clone().unwrap_or_else(|| Arc::new(SystemClock));
    let ledger = if opts.adjust_policy.is_some() { iam::Ledger::private() } else { iam::Ledger::default() };
    let keys = rapport::keys::Keys::from_values(&config)
        .context("the stack's keys are values")?
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let aws = Aws::from_sdk(&sdk, &config);
    let state = AppState::new(config.clone(), &aws, keys, clock.clone());
    // What the template gives each function in AWS: its role's policy, its event rules, its secrets.
    let secrets = bootstrap::secrets(&aws, &opts).await?;
    let functions_config = self::config(&opts, &url, Some(&secrets))?;
    let sam = sam::SamFunctions::from_env()?;
    let states = function_states(&sam, &sdk, &functions_config, &clock, &opts, &ledger).await?;
    bootstrap::resources(&aws, &state.config).await?;
    let seeded = if opts.seed { bootstrap::seed(&state).await? > 0 } else { false };
    let issuer = Issuer::new(opts.jwt_key.clone(), format!("{url}/_local"));
    let functions = functions(&states)?;
    for name in rapport::routes::functions() {
        anyhow::ensure!(functions.contains_key(name), "no router for function {name}");
    }
    let gw = Arc::new(Gateway { functions, issuer: issuer.clone(), allowed_origins: opts.allowed_origins.clone() });
    let nurture = states.get("nurture").cloned().context("no state for the nurture function")?;
    let events = Arc::new(events_mapping(&sam, &states, &opts.moto_url, &state.config.table)?);
    let local = Local {
        issuer: issuer.clone(),
        nurture: nurture.clone(),
        nurture_rules: Arc::new(sam.function("nurture")?.event_rules.clone()),
        events: events.clone(),
        http: reqwest::Client::new(),
        moto_url: opts.moto_url.clone(),
    };
    let app = local_routes::router(local).merge(gateway::router(gw));
    let schedules = if opts.run_schedules {
        let mut running = start_schedules(nurture);
        running.push(follow_stream(events));
        running
    } else {
        Vec::new()
    };
    let (tx, rx) = oneshot::channel::<()>();
    let server = tokio::spawn(async move {
        let _ = axum::serve(listener, app)
            .with_graceful_shutdown(async {
                let _ = rx.await;
            })
            .await;
    });
    if seeded {
        // Through the public routes, as visitors and recruiters would, so the dashboard has something to show.
        let token = issuer
            .issue(&TokenRequest {
                role: "recruiter".into(),
                sub: None,
                email: None,
                ttl_seconds: Some(600),
                aud: None,
            })
            .map_err(|e| anyhow::anyhow!(e))?
            .token;
        bootstrap::demo_activity(&url, &token).await.context("seeding demo activity")?;
    }
    Ok(Stack {
        url,
        functions_config,
        state,
        aws,
        iam: ledger,
        issuer,
        name_prefix: name_prefix(&opts.name_prefix),
        moto_url: opts.moto_url,
        shutdown: Some(tx),
        server,
        schedules,
    })
}

impl Stack {
    pub async fn stop(mut self) {
        for s in &self.schedules {
            s.abort();
        }
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        let _ = (&mut self.server).await;
    }
}

/// The events function's mapping from the table's stream, as the template declares it.
fn events_mapping(
    sam: &sam::SamFunctions,
    states: &HashMap<&'static str, AppState>,
    moto_url: &str,
    table: &str,
) -> anyhow::Result<streams::StreamMapping> {
    let function = sam.function("events")?;
    let mut sources = function.stream_sources.values();
    let (Some(source), None) = (sources.next(), sources.next()) else {
        anyhow::bail!("the events function must have exactly one stream source in the template");
    };
    let state = states.get("events").cloned().context("no state for the events function")?;
    let handler: streams::Handler = Arc::new(|st: AppState, batch: serde_json::Value| {
        Box::pin(async move { rapport_events::handle(&st, &batch).await })
    });
    streams::StreamMapping::new(moto_url, table, source.clone(), state, handler)
}

/// Polls the stream every second, as Lambda's mapping does, until the stack stops (make dev).
fn follow_stream(events: Arc<streams::StreamMapping>) -> JoinHandle<()> {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(std::time::Duration::from_secs(1));
        loop {
            tick.tick().await;
            match events.poll().await {
                Ok(p) if p.passed > 0 => tracing::info!(events = p.passed, failed = p.on_failure.len(), "stream read"),
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "stream not read"),
            }
        }
    })
}

/// Runs each schedule at its rate, as EventBridge Scheduler would, until the stack stops.
fn start_schedules(state: AppState) -> Vec<JoinHandle<()>> {
    rapport::routes::SCHEDULES
        .iter()
        .filter_map(|s| Some((*s, s.period()?)))
        .map(|(schedule, period)| {
            let state = state.clone();
            tokio::spawn(async move {
                let mut tick = tokio::time::interval(period);
                loop {
                    tick.tick().await;
                    let task = rapport_nurture::Task { name: schedule.task.to_string(), now: state.clock.now() };
                    match rapport_nurture::run(&state, &task, period).await {
                        Ok(report) => tracing::info!(task = schedule.task, %report, "scheduled run"),
                        Err(e) => tracing::warn!(task = schedule.task, error = %e, "scheduled run failed"),
                    }
                }
            })
        })
        .collect()
}
