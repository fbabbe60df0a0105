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

#[derive(Clone, Debug)]
pub struct Aws {
    pub dynamo: aws_sdk_dynamodb::Client,
    pub s3: aws_sdk_s3::Client,
    pub ses: aws_sdk_sesv2::Client,
    /// Read once at start, for the keys.
    pub secrets: aws_sdk_secretsmanager::Client,
}

impl Aws {
    /// Loads credentials and region the standard way (Lambda's environment, or `AWS_*` variables;
    /// `AWS_ENDPOINT_URL` points every client at an emulator).
    pub async fn load(config: &Config) -> Self {
        let sdk = aws_config::defaults(BehaviorVersion::latest())
            .timeout_config(timeouts(config.aws_attempt_timeout))
            .retry_config(retries())
            .load()
            .await;
        Self::from_sdk(&sdk, config)
    }

    pub fn from_sdk(sdk: &SdkConfig, config: &Config) -> Self {
        Self::from_sdk_checked(sdk, config, None)
    }

    /// Like [`Aws::from_sdk`], with one more interceptor on every client: the local stack's IAM check,
    /// which refuses what the function's policy in the template would refuse in AWS.
    pub fn from_sdk_checked(sdk: &SdkConfig, config: &Config, check: Option<SharedInterceptor>) -> Self {
        let mut dynamo = aws_sdk_dynamodb::config::Builder::from(sdk)
            .interceptor(CountCalls)
            .retry_classifier(WriteConflictIsTransient);
        let mut s3 =
            aws_sdk_s3::config::Builder::from(sdk).force_path_style(config.s3_force_path_style).interceptor(CountCalls);
        let mut ses = aws_sdk_sesv2::config::Builder::from(sdk).interceptor(CountCalls);
        let mut secrets = aws_sdk_secretsmanager::config::Builder::from(sdk).interceptor(CountCalls);
        if let Some(check) = check {
            dynamo.push_interceptor(check.clone());
            s3.push_interceptor(check.clone());
            ses.push_interceptor(check.clone());
            secrets.push_interceptor(check);
        }
        Self {
            dynamo: aws_sdk_dynamodb::Client::from_conf(dynamo.build()),
            s3: aws_sdk_s3::Client::from_conf(s3.build()),
            ses: aws_sdk_sesv2::Client::from_conf(ses.build()),
            secrets: aws_sdk_secretsmanager::Client::from_conf(secrets.build()),
        }
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
