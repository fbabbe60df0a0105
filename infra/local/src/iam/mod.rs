//! IAM as AWS applies it, for the local stack: each function's AWS calls are checked against the
//! policy the SAM template gives that function's role (expanded by the SAM translator), and a call the
//! policy does not allow fails as it would in AWS. The emulator checks no IAM, so without this a missing
//! action only shows on the first deploy.
//!
//! A call is mapped to the IAM actions and resources AWS authorises it with (a transaction needs
//! `PutItem`/`UpdateItem`/… on each table it writes; a copy needs `GetObject` on its source; a
//! presigned URL needs the signer's permission when it is used, so it is checked when it is made).
//! And as S3 answers: reading a key that does not exist is 404 only for a role that may list the
//! bucket (`s3:ListBucket`); for any other it is 403 AccessDenied, so code that expects "no such
//! key" would see a refusal in AWS.
mod calls;
mod policy;

pub use calls::{needs, Need};
pub use policy::Policy;

use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::context::{
    BeforeDeserializationInterceptorContextMut, BeforeTransmitInterceptorContextRef,
};
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::orchestrator::{HttpRequest, Metadata};
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::config_bag::{ConfigBag, Storable, StoreReplace};
use std::collections::BTreeSet;
use std::io::Write as _;
use std::sync::{Arc, Mutex};

/// What the whole run asked for, so `make test` can fail on any refusal and list unused grants.
#[derive(Clone, Default)]
pub struct Ledger(Arc<Mutex<LedgerInner>>);

#[derive(Default)]
struct LedgerInner {
    seen: BTreeSet<(String, String, bool)>,
    refused: Vec<String>,
    /// A stack whose policies a test changed on purpose keeps its refusals to itself.
    private: bool,
}

/// `RAPPORT_IAM_LOG`: a file to which each distinct (function, action, allowed) is appended as a JSON
/// line, across every stack of the test run.
pub const LOG_VAR: &str = "RAPPORT_IAM_LOG";

impl Ledger {
    /// A ledger that writes nothing to `RAPPORT_IAM_LOG` (for stacks run under altered policies).
    pub fn private() -> Self {
        Self(Arc::new(Mutex::new(LedgerInner { private: true, ..Default::default() })))
    }

    fn record(&self, function: &str, need: &Need, allowed: bool) {
        let mut inner = self.0.lock().unwrap_or_else(|e| e.into_inner());
        if !allowed {
            inner.refused.push(format!("{function}: {} on {}", need.action, need.resource));
        }
        if inner.seen.insert((function.to_string(), need.action.clone(), allowed)) && !inner.private {
            if let Ok(path) = std::env::var(LOG_VAR) {
                let line = serde_json::json!({"function": function, "action": need.action, "allowed": allowed,
                    "resource": need.resource});
                if let Ok(mut f) = std::fs::OpenOptions::new().create(true).append(true).open(path) {
                    let _ = f.write_all(format!("{line}\n").as_bytes());
                }
            }
        }
    }

    /// The calls refused so far, as `function: action on resource`.
    pub fn refused(&self) -> Vec<String> {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).refused.clone()
    }
}

/// The interceptor that holds one function's clients to its policy. It runs just before a request
/// is sent (once per attempt; presigning stops right after it, so presigned URLs are checked too).
#[derive(Clone)]
pub struct Enforce {
    pub policy: Arc<Policy>,
    pub ledger: Ledger,
}

impl std::fmt::Debug for Enforce {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Enforce({})", self.policy.function)
    }
}

/// A read of an S3 key whose "no such key" answer depends on `s3:ListBucket`: the bucket's ARN, and
/// whether the role may list it.
#[derive(Debug, Clone)]
struct MissingKeyRule {
    bucket_arn: String,
    may_list: bool,
}

impl Storable for MissingKeyRule {
    type Storer = StoreReplace<Self>;
}

/// The bucket of an S3 `GetObject`/`HeadObject`, whose missing keys S3 answers by the caller's rights.
fn read_bucket(service: &str, op: &str, req: &HttpRequest) -> Option<String> {
    if !service.eq_ignore_ascii_case("s3") || !matches!(op, "GetObject" | "HeadObject") {
        return None;
    }
    let url = url::Url::parse(req.uri()).ok()?;
    let bucket = url.path().trim_start_matches('/').split('/').next().filter(|b| !b.is_empty())?.to_string();
    Some(format!("arn:aws:s3:::{bucket}"))
}

impl Intercept for Enforce {
    fn name(&self) -> &'static str {
        "LocalIamCheck"
    }

    /// S3's answer for a missing key, as the role's rights make it.
    fn modify_before_deserialization(
        &self,
        ctx: &mut BeforeDeserializationInterceptorContextMut<'_>,
        _rc: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let Some(rule) = cfg.load::<MissingKeyRule>().cloned() else { return Ok(()) };
        if ctx.response().status().as_u16() != 404 {
            return Ok(());
        }
        let list = Need { action: "s3:ListBucket".into(), resource: rule.bucket_arn.clone() };
        if rule.may_list {
            self.ledger.record(&self.policy.function, &list, true);
            return Ok(());
        }
        tracing::warn!(
            "{}: a missing key answers 403 AccessDenied in AWS without s3:ListBucket on {}",
            self.policy.function,
            rule.bucket_arn
        );
        let body = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>AccessDenied</Code>\
                    <Message>Access Denied</Message></Error>";
        let mut res = aws_smithy_runtime_api::http::Response::new(
            aws_smithy_runtime_api::http::StatusCode::try_from(403).expect("a status"),
            aws_smithy_types::body::SdkBody::from(body),
        );
        res.headers_mut().insert("content-type", "application/xml");
        *ctx.response_mut() = res;
        Ok(())
    }

    fn read_before_transmit(
        &self,
        ctx: &BeforeTransmitInterceptorContextRef<'_>,
        _rc: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let meta = cfg.load::<Metadata>().ok_or("the local IAM check found no operation name")?;
        let needs = needs(meta.service(), meta.name(), ctx.request())
            .map_err(|e| format!("the local IAM check cannot read {}.{}: {e:#}", meta.service(), meta.name()))?;
        if let Some(bucket_arn) = read_bucket(meta.service(), meta.name(), ctx.request()) {
            let may_list = self.policy.allows("s3:ListBucket", &bucket_arn);
            cfg.interceptor_state().store_put(MissingKeyRule { bucket_arn, may_list });
        }
        for n in &needs {
            let allowed = self.policy.allows(&n.action, &n.resource);
            self.ledger.record(&self.policy.function, n, allowed);
            if !allowed {
                let msg = format!(
                    "AccessDenied: the {} function's role is not allowed to perform {} on {} (infra/template.yaml)",
                    self.policy.function, n.action, n.resource
                );
                tracing::error!("{msg}");
                return Err(msg.into());
            }
        }
        Ok(())
    }
}
