//! AWS clients, built once per process, and the call counter every operation's round-trip budget is
//! measured with.
use crate::config::Config;
use aws_config::{retry::RetryConfig, timeout::TimeoutConfig, BehaviorVersion, SdkConfig};
use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::context::BeforeSerializationInterceptorContextRef;
use aws_smithy_runtime_api::client::interceptors::{Intercept, SharedInterceptor};
use aws_smithy_runtime_api::client::orchestrator::Metadata;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::config_bag::ConfigBag;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// What every AWS client of a process is built from: the SDK config (credentials, region, the one
/// HTTP client), S3's addressing and, on the local stack, its IAM check. A client is built when a port
/// first needs it (see [`Lazy`]), so a function never sets up, nor links, an SDK it does not call.
#[derive(Clone, Debug)]
pub struct Aws {
    sdk: SdkConfig,
    s3_force_path_style: bool,
    check: Option<SharedInterceptor>,
}

/// The roots AWS service endpoints chain to: Amazon Trust Services (Amazon Root CA 1 to 4, and the
/// Starfield root that cross-signs them). Compiled in, so a cold start reads no certificate file
/// (the system store is some 150 files); every AWS endpoint has used these since S3 finished its
/// move in June 2022. The webhook client, which reaches anyone's server, has its own roots.
const AMAZON_TRUST_SERVICES: &[u8] = include_bytes!("../certs/amazon-trust-services.pem");

/// One HTTPS client for every SDK client of the process: rustls (aws-lc) trusting
/// [`AMAZON_TRUST_SERVICES`]. Its connection pool is shared, so a connection opened by one client
/// (the warm-up's, say) serves the next request to the same endpoint.
pub fn https_client() -> aws_smithy_runtime_api::client::http::SharedHttpClient {
    use aws_smithy_http_client::tls::{self, rustls_provider::CryptoMode, TlsContext, TrustStore};
    let trust = TrustStore::empty().with_native_roots(false).with_pem_certificate(AMAZON_TRUST_SERVICES);
    let tls = TlsContext::builder().with_trust_store(trust).build().expect("a trust store of PEM roots builds");
    aws_smithy_http_client::Builder::new()
        .tls_provider(tls::Provider::Rustls(CryptoMode::AwsLc))
        .tls_context(tls)
        .build_https()
}

impl Aws {
    /// The SDK config a function needs in Lambda, and no more: the region and the role's credentials
    /// from the variables Lambda sets (`AWS_REGION`, `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`,
    /// `AWS_SESSION_TOKEN`), `AWS_ENDPOINT_URL` for an emulator. Not `aws_config`'s default chains:
    /// profile files, SSO, web identity and instance metadata are never used in Lambda, and linking
    /// them (three more SDKs) and running them cost every binary size and every start time.
    pub fn load(config: &Config) -> Self {
        use aws_config::environment::EnvironmentVariableCredentialsProvider;
        use aws_sdk_dynamodb::config::SharedCredentialsProvider;
        let env = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
        let mut sdk = SdkConfig::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(env("AWS_REGION").or_else(|| env("AWS_DEFAULT_REGION")).map(aws_config::Region::new))
            .credentials_provider(SharedCredentialsProvider::new(EnvironmentVariableCredentialsProvider::new()))
            .http_client(https_client())
            .timeout_config(timeouts(config.aws_attempt_timeout))
            .retry_config(retries());
        sdk.set_endpoint_url(env("AWS_ENDPOINT_URL"));
        Self::from_sdk(&sdk.build(), config)
    }

    pub fn from_sdk(sdk: &SdkConfig, config: &Config) -> Self {
        Self::from_sdk_checked(sdk, config, None)
    }

    /// Like [`Aws::from_sdk`], with one more interceptor on every client: the local stack's IAM check,
    /// which refuses what the function's policy in the template would refuse in AWS.
    pub fn from_sdk_checked(sdk: &SdkConfig, config: &Config, check: Option<SharedInterceptor>) -> Self {
        Self { sdk: sdk.clone(), s3_force_path_style: config.s3_force_path_style, check }
    }

    pub fn dynamo(&self) -> aws_sdk_dynamodb::Client {
        let mut b = aws_sdk_dynamodb::config::Builder::from(&self.sdk)
            .interceptor(CountCalls)
            .retry_classifier(WriteConflictIsTransient);
        if let Some(check) = &self.check {
            b.push_interceptor(check.clone());
        }
        aws_sdk_dynamodb::Client::from_conf(b.build())
    }

    pub fn s3(&self) -> aws_sdk_s3::Client {
        let mut b = aws_sdk_s3::config::Builder::from(&self.sdk)
            .force_path_style(self.s3_force_path_style)
            .interceptor(CountCalls);
        if let Some(check) = &self.check {
            b.push_interceptor(check.clone());
        }
        aws_sdk_s3::Client::from_conf(b.build())
    }

    pub fn ses(&self) -> aws_sdk_sesv2::Client {
        let mut b = aws_sdk_sesv2::config::Builder::from(&self.sdk).interceptor(CountCalls);
        if let Some(check) = &self.check {
            b.push_interceptor(check.clone());
        }
        aws_sdk_sesv2::Client::from_conf(b.build())
    }

    /// Read at start, for the keys.
    pub fn secrets(&self) -> aws_sdk_secretsmanager::Client {
        let mut b = aws_sdk_secretsmanager::config::Builder::from(&self.sdk).interceptor(CountCalls);
        if let Some(check) = &self.check {
            b.push_interceptor(check.clone());
        }
        aws_sdk_secretsmanager::Client::from_conf(b.build())
    }
}

/// A client built at its first use, once, and shared by the clones of the port that holds it. The
/// port passes the builder at that use (`get(|| aws.s3())`), so a binary whose routes never reach
/// the port carries no code of its SDK.
pub struct Lazy<T>(Arc<std::sync::OnceLock<T>>);

impl<T> Lazy<T> {
    pub fn new() -> Self {
        Self(Arc::new(std::sync::OnceLock::new()))
    }

    pub fn get(&self, build: impl FnOnce() -> T) -> &T {
        self.0.get_or_init(build)
    }
}

impl<T> Default for Lazy<T> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T> Clone for Lazy<T> {
    fn clone(&self) -> Self {
        Self(self.0.clone())
    }
}

impl<T> std::fmt::Debug for Lazy<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.0.get().is_some() { "Lazy(built)" } else { "Lazy(not yet)" })
    }
}

/// The SDK's own retries, the same in AWS and on the local stack: three attempts with exponential
/// backoff for throttles, 5xx answers and timeouts (a transaction's conflicts are tried again by
/// the store, which knows the transaction may be sent again).
pub fn retries() -> RetryConfig {
    RetryConfig::standard().with_max_attempts(3)
}

/// A pause before trying again after a conflict or a throttle: exponential from 20 ms, capped at 1 s,
/// with full jitter so that writers who collided do not collide again in step.
pub fn backoff(attempt: u32) -> Duration {
    use rand::Rng;
    let ceiling = (20u64 << attempt.min(6)).min(1_000);
    Duration::from_millis(rand::thread_rng().gen_range(0..=ceiling))
}

/// A single-item write that met a transaction on its item is answered `TransactionConflictException`:
/// nothing was written and trying again is safe, but the SDK's own classifiers do not list the code.
#[derive(Debug)]
struct WriteConflictIsTransient;

impl aws_smithy_runtime_api::client::retries::classifiers::ClassifyRetry for WriteConflictIsTransient {
    fn classify_retry(
        &self,
        ctx: &aws_smithy_runtime_api::client::interceptors::context::InterceptorContext,
    ) -> aws_smithy_runtime_api::client::retries::classifiers::RetryAction {
        use aws_sdk_dynamodb::operation::{
            delete_item::DeleteItemError, put_item::PutItemError, update_item::UpdateItemError,
        };
        use aws_smithy_runtime_api::client::retries::classifiers::RetryAction;
        use aws_smithy_types::error::metadata::ProvideErrorMetadata;
        let Some(Err(err)) = ctx.output_or_error() else { return RetryAction::NoActionIndicated };
        let Some(e) = err.as_operation_error() else { return RetryAction::NoActionIndicated };
        let code = e
            .downcast_ref::<PutItemError>()
            .and_then(|e| e.code())
            .or_else(|| e.downcast_ref::<UpdateItemError>().and_then(|e| e.code()))
            .or_else(|| e.downcast_ref::<DeleteItemError>().and_then(|e| e.code()));
        if code == Some("TransactionConflictException") {
            RetryAction::transient_error()
        } else {
            RetryAction::NoActionIndicated
        }
    }

    fn name(&self) -> &'static str {
        "WriteConflictIsTransient"
    }
}

/// Short attempts, bounded operations: a request fails fast with 503 rather than hanging the function.
/// Without an attempt timeout (a busy emulator), only the operation is bounded.
pub fn timeouts(attempt: Option<Duration>) -> TimeoutConfig {
    let builder = TimeoutConfig::builder().connect_timeout(Duration::from_secs(2));
    match attempt {
        Some(a) => builder.operation_attempt_timeout(a).operation_timeout(Duration::from_secs(12)).build(),
        None => builder.operation_timeout(Duration::from_secs(300)).build(),
    }
}

/// What an AWS error may tell the logs: its kind, code and HTTP status, never the message, which can
/// quote a key, an address or an item's values.
pub fn code<E, R>(err: &aws_smithy_runtime_api::client::result::SdkError<E, R>) -> String
where
    E: aws_smithy_types::error::metadata::ProvideErrorMetadata,
    R: std::fmt::Debug + HttpStatus,
{
    use aws_smithy_runtime_api::client::result::SdkError;
    match err {
        SdkError::ServiceError(se) => {
            format!("{} ({})", se.err().code().unwrap_or("unknown service error"), se.raw().status_code())
        }
        SdkError::ConstructionFailure(_) => "request not built".into(),
        SdkError::TimeoutError(_) => "timeout".into(),
        SdkError::DispatchFailure(_) => "dispatch failure".into(),
        SdkError::ResponseError(_) => "unreadable response".into(),
        _ => "unknown error".into(),
    }
}

/// The HTTP status of a raw response, for [`code`].
pub trait HttpStatus {
    fn status_code(&self) -> u16;
}

impl HttpStatus for aws_smithy_runtime_api::http::Response {
    fn status_code(&self) -> u16 {
        self.status().as_u16()
    }
}

/// The AWS operations one request made, in order, as (service, operation).
#[derive(Debug, Default, Clone)]
pub struct Calls(Arc<Mutex<Vec<(String, String)>>>);

impl Calls {
    fn push(&self, service: &str, op: &str) {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).push((service.to_ascii_lowercase(), op.to_string()));
    }

    pub fn list(&self) -> Vec<(String, String)> {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// `dynamodb.GetItem,dynamodb.PutItem`: the form the local gateway reports in a header.
    pub fn summary(&self) -> String {
        self.list().iter().map(|(s, o)| format!("{s}.{o}")).collect::<Vec<_>>().join(",")
    }
}

tokio::task_local! {
    static CALLS: Calls;
}

/// Runs `f` and returns the AWS operations it made (retries of one operation count once).
pub async fn count_calls<F: Future>(f: F) -> (F::Output, Calls) {
    let calls = Calls::default();
    let out = CALLS.scope(calls.clone(), f).await;
    (out, calls)
}

/// Records each operation in the task's [`Calls`], when there is one. Before serialization runs once
/// per operation (not per retry), and the operation's metadata is in the bag by then.
#[derive(Debug)]
struct CountCalls;

impl Intercept for CountCalls {
    fn name(&self) -> &'static str {
        "CountCalls"
    }

    fn read_before_serialization(
        &self,
        _ctx: &BeforeSerializationInterceptorContextRef<'_>,
        _rc: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        if let Some(meta) = cfg.load::<Metadata>() {
            let _ = CALLS.try_with(|c| c.push(meta.service(), meta.name()));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_smithy_runtime_api::client::result::SdkError;
    use aws_smithy_runtime_api::http::{Response, StatusCode};
    use aws_smithy_types::body::SdkBody;

    #[tokio::test]
    async fn the_https_client_trusts_the_five_compiled_in_roots() {
        let pems = AMAZON_TRUST_SERVICES.windows(27).filter(|w| w == b"-----BEGIN CERTIFICATE-----").count();
        assert_eq!(pems, 5, "Amazon Root CA 1 to 4 and Starfield Services Root CA G2");
        // Building a client makes its connector, which parses every root: a bad one panics here.
        let conf = aws_sdk_dynamodb::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(aws_config::Region::new("eu-west-1"))
            .http_client(https_client())
            .build();
        let _ = aws_sdk_dynamodb::Client::from_conf(conf);
    }

    #[test]
    fn an_aws_error_logs_its_code_never_its_message() {
        let err = aws_sdk_dynamodb::operation::put_item::PutItemError::generic(
            aws_smithy_types::error::ErrorMetadata::builder()
                .code("ValidationException")
                .message("One or more parameter values were invalid: ada@example.com")
                .build(),
        );
        let raw = Response::new(StatusCode::try_from(400).unwrap(), SdkBody::from("ada@example.com"));
        let text = code(&SdkError::service_error(err, raw));
        assert_eq!(text, "ValidationException (400)");
        let e = serde_json::from_str::<u32>("\"ada@example.com\"").unwrap_err();
        assert!(!crate::error::json_error(&e).contains("ada"), "{}", crate::error::json_error(&e));
    }
}
