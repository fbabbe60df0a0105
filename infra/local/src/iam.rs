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
use crate::sam::{fill, SamFunction};
use anyhow::Context as _;
use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::context::{
    BeforeDeserializationInterceptorContextMut, BeforeTransmitInterceptorContextRef,
};
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::orchestrator::{HttpRequest, Metadata};
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::config_bag::{ConfigBag, Storable, StoreReplace};
use serde_json::Value;
use std::collections::{BTreeSet, HashMap};
use std::io::Write as _;
use std::sync::{Arc, Mutex};

/// The emulator's account and region, as the expanded template's ARNs name them.
const REGION: &str = "us-east-1";
const ACCOUNT: &str = "123456789012";

#[derive(Debug, Clone, PartialEq, Eq)]
struct Statement {
    allow: bool,
    actions: Vec<String>,
    resources: Vec<String>,
}

/// One function's role: the statements of its inline policies.
#[derive(Debug, Clone)]
pub struct Policy {
    pub function: String,
    statements: Vec<Statement>,
}

fn strings(v: &Value, what: &str) -> anyhow::Result<Vec<String>> {
    match v {
        Value::String(s) => Ok(vec![s.clone()]),
        Value::Array(items) => items.iter().map(|i| i.as_str().map(str::to_string).context(what.to_string())).collect(),
        _ => anyhow::bail!("{what} must be a string or a list of strings"),
    }
}

impl Policy {
    /// The function's statements with the template's names filled in. Elements this check cannot
    /// evaluate (conditions, NotAction, NotResource) are refused rather than guessed at.
    pub fn new(function: &str, sam: &SamFunction, names: &HashMap<&str, String>) -> anyhow::Result<Self> {
        let mut statements = Vec::new();
        for st in &sam.statements {
            let obj = st.as_object().context("a policy statement must be an object")?;
            if let Some(k) = obj.keys().find(|k| !["Effect", "Action", "Resource", "Sid"].contains(&k.as_str())) {
                anyhow::bail!("{function}: the local IAM check cannot evaluate {k} in a statement");
            }
            let resources = strings(&st["Resource"], "Resource")?
                .iter()
                .map(|r| fill(r, names))
                .collect::<anyhow::Result<Vec<_>>>()?;
            statements.push(Statement {
                allow: st["Effect"] == "Allow",
                actions: strings(&st["Action"], "Action")?.iter().map(|a| a.to_ascii_lowercase()).collect(),
                resources,
            });
        }
        Ok(Self { function: function.to_string(), statements })
    }

    /// The same policy less one action wherever it is granted (for the test that proves the check bites).
    pub fn without_action(mut self, action: &str) -> Self {
        let action = action.to_ascii_lowercase();
        for st in &mut self.statements {
            st.actions.retain(|a| *a != action);
        }
        self
    }

    /// Allowed when a statement allows it and none denies it (AWS's evaluation, less conditions).
    pub fn allows(&self, action: &str, resource: &str) -> bool {
        let action = action.to_ascii_lowercase();
        let hits = |st: &&Statement| {
            st.actions.iter().any(|a| glob(a, &action)) && st.resources.iter().any(|r| glob(r, resource))
        };
        let mut matching = self.statements.iter().filter(hits);
        let mut allowed = false;
        for st in &mut matching {
            if !st.allow {
                return false;
            }
            allowed = true;
        }
        allowed
    }

    /// Every action the policy grants, for the report of what the suite never used.
    pub fn granted(&self) -> BTreeSet<String> {
        self.statements.iter().filter(|s| s.allow).flat_map(|s| s.actions.iter().cloned()).collect()
    }
}

/// IAM's wildcard match: `*` any run of characters, `?` any one.
fn glob(pattern: &str, text: &str) -> bool {
    let (p, t): (Vec<char>, Vec<char>) = (pattern.chars().collect(), text.chars().collect());
    let (mut pi, mut ti, mut star, mut mark) = (0, 0, None, 0);
    while ti < t.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == t[ti]) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some(pi);
            mark = ti;
            pi += 1;
        } else if let Some(s) = star {
            pi = s + 1;
            mark += 1;
            ti = mark;
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|c| *c == '*')
}

/// An IAM action on a resource ARN.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Need {
    pub action: String,
    pub resource: String,
}

fn need(action: &str, resource: String) -> Need {
    Need { action: action.to_string(), resource }
}

fn table_arn(name: &str) -> String {
    format!("arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/{name}")
}

/// What AWS authorises a DynamoDB call with, from its JSON body.
fn dynamodb(op: &str, body: &Value) -> anyhow::Result<Vec<Need>> {
    let table = |v: &Value| v["TableName"].as_str().map(table_arn).context("no TableName");
    Ok(match op {
        "BatchGetItem" | "BatchWriteItem" => {
            let items = body["RequestItems"].as_object().context("no RequestItems")?;
            items.keys().map(|t| need(&format!("dynamodb:{op}"), table_arn(t))).collect()
        }
        "TransactWriteItems" | "TransactGetItems" => {
            let mut out = Vec::new();
            for item in body["TransactItems"].as_array().context("no TransactItems")? {
                let (kind, inner) = item.as_object().and_then(|o| o.iter().next()).context("an empty TransactItem")?;
                let action = match kind.as_str() {
                    "Put" => "dynamodb:PutItem",
                    "Update" => "dynamodb:UpdateItem",
                    "Delete" => "dynamodb:DeleteItem",
                    "ConditionCheck" => "dynamodb:ConditionCheckItem",
                    "Get" => "dynamodb:GetItem",
                    other => anyhow::bail!("unknown TransactItem {other}"),
                };
                out.push(need(action, table(inner)?));
            }
            out
        }
        _ => {
            let mut arn = table(body)?;
            if let Some(index) = body["IndexName"].as_str() {
                arn = format!("{arn}/index/{index}");
            }
            vec![need(&format!("dynamodb:{op}"), arn)]
        }
    })
}

fn decode(s: &str) -> String {
    url::form_urlencoded::parse(format!("k={}", s.replace('+', "%2B")).as_bytes())
        .next()
        .map(|(_, v)| v.into_owned())
        .unwrap_or_default()
}

/// What AWS authorises an S3 call with, from its path-style URL (the local stack forces path style).
fn s3(op: &str, req: &HttpRequest) -> anyhow::Result<Vec<Need>> {
    let url = url::Url::parse(req.uri()).context("an S3 request without a URL")?;
    let mut path = url.path().trim_start_matches('/').splitn(2, '/');
    let bucket = path.next().filter(|b| !b.is_empty()).context("an S3 request without a bucket")?.to_string();
    let key = path.next().map(decode).unwrap_or_default();
    let versioned = url.query_pairs().any(|(k, _)| k == "versionId");
    let object = format!("arn:aws:s3:::{bucket}/{key}");
    let bucket_arn = format!("arn:aws:s3:::{bucket}");
    Ok(match op {
        "GetObject" | "HeadObject" if versioned => vec![need("s3:GetObjectVersion", object)],
        "GetObject" | "HeadObject" => vec![need("s3:GetObject", object)],
        "PutObject" | "CreateMultipartUpload" | "UploadPart" | "CompleteMultipartUpload" => {
            vec![need("s3:PutObject", object)]
        }
        "AbortMultipartUpload" => vec![need("s3:AbortMultipartUpload", object)],
        "DeleteObject" if versioned => vec![need("s3:DeleteObjectVersion", object)],
        "DeleteObject" => vec![need("s3:DeleteObject", object)],
        "CopyObject" => {
            let source = req.headers().get("x-amz-copy-source").context("CopyObject without a source")?;
            let (source, version) = match source.split_once("?versionId=") {
                Some((s, _)) => (s, true),
                None => (source, false),
            };
            let read = if version { "s3:GetObjectVersion" } else { "s3:GetObject" };
            vec![
                need("s3:PutObject", object),
                need(read, format!("arn:aws:s3:::{}", decode(source.trim_start_matches('/')))),
            ]
        }
        "DeleteObjects" => {
            // One action per object named in the body (`<Object><Key>…</Key><VersionId>…`).
            let body = std::str::from_utf8(req.body().bytes().context("DeleteObjects without a body")?)?;
            let mut out = Vec::new();
            for obj in body.split("<Object>").skip(1) {
                let key = between(obj, "<Key>", "</Key>").context("an Object without a Key")?;
                let key = quick_xml::escape::unescape(key)?.into_owned();
                let action = if obj.contains("<VersionId>") { "s3:DeleteObjectVersion" } else { "s3:DeleteObject" };
                out.push(need(action, format!("arn:aws:s3:::{bucket}/{key}")));
            }
            out
        }
        "ListObjectVersions" => vec![need("s3:ListBucketVersions", bucket_arn)],
        "ListObjectsV2" | "ListObjects" => vec![need("s3:ListBucket", bucket_arn)],
        other => vec![need(&format!("s3:{other}"), if key.is_empty() { bucket_arn } else { object })],
    })
}

fn between<'a>(text: &'a str, open: &str, close: &str) -> Option<&'a str> {
    let start = text.find(open)? + open.len();
    Some(&text[start..start + text[start..].find(close)?])
}

/// What AWS authorises an SES v2 call with: sending needs the sender's identity and the configuration set.
fn ses(op: &str, body: &Value) -> anyhow::Result<Vec<Need>> {
    let arn = |what: &str| format!("arn:aws:ses:{REGION}:{ACCOUNT}:{what}");
    Ok(match op {
        "SendEmail" => {
            let from = body["FromEmailAddress"].as_str().context("SendEmail without FromEmailAddress")?;
            let domain = from.rsplit('@').next().unwrap_or(from).trim_end_matches('>');
            let mut out = vec![need("ses:SendEmail", arn(&format!("identity/{domain}")))];
            if let Some(set) = body["ConfigurationSetName"].as_str() {
                out.push(need("ses:SendEmail", arn(&format!("configuration-set/{set}"))));
            }
            out
        }
        other => vec![need(&format!("ses:{other}"), "*".to_string())],
    })
}

/// The IAM actions and resources one SDK request needs.
pub fn needs(service: &str, op: &str, req: &HttpRequest) -> anyhow::Result<Vec<Need>> {
    let json = || -> anyhow::Result<Value> {
        match req.body().bytes() {
            Some(b) if !b.is_empty() => Ok(serde_json::from_slice(b)?),
            _ => Ok(Value::Null),
        }
    };
    match service.to_ascii_lowercase().as_str() {
        "dynamodb" => dynamodb(op, &json()?),
        "s3" => s3(op, req),
        "sesv2" | "ses" => ses(op, &json()?),
        "secrets manager" | "secretsmanager" => {
            let body = json()?;
            let id = body["SecretId"].as_str().context("a Secrets Manager call without SecretId")?;
            Ok(vec![need(&format!("secretsmanager:{op}"), id.to_string())])
        }
        other => anyhow::bail!("the local IAM check does not know the service {other}"),
    }
}

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

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn policy(statements: Value) -> Policy {
        let sam: SamFunction = serde_json::from_value(json!({
            "logical_id": "TestFunction", "environment": {}, "managed_policies": [], "event_rules": {},
            "statements": statements,
        }))
        .unwrap();
        let names = HashMap::from([("MainTable", "t-main".to_string()), ("FilesBucket", "t-files".to_string())]);
        Policy::new("test", &sam, &names).unwrap()
    }

    #[test]
    fn wildcards_and_denies_follow_iam() {
        assert!(glob("arn:aws:s3:::b/feeds/*", "arn:aws:s3:::b/feeds/indeed.xml"));
        assert!(!glob("arn:aws:s3:::b/feeds/*", "arn:aws:s3:::b/resumes/x"));
        assert!(glob("s3:get*", "s3:getobject"));
        assert!(glob("a?c", "abc") && !glob("a?c", "ac"));
        let p = policy(json!([
            {"Effect": "Allow", "Action": ["dynamodb:GetItem", "s3:*"],
             "Resource": ["arn:aws:dynamodb:us-east-1:123456789012:table/{{MainTable}}", "arn:aws:s3:::{{FilesBucket}}/*"]},
            {"Effect": "Deny", "Action": "s3:DeleteObject", "Resource": "arn:aws:s3:::{{FilesBucket}}/keep/*"},
        ]));
        assert!(p.allows("dynamodb:GetItem", &table_arn("t-main")));
        assert!(!p.allows("dynamodb:GetItem", &table_arn("other")));
        assert!(!p.allows("dynamodb:GetItem", &format!("{}/index/GSI1", table_arn("t-main"))));
        assert!(!p.allows("dynamodb:PutItem", &table_arn("t-main")));
        assert!(p.allows("s3:DeleteObject", "arn:aws:s3:::t-files/x"));
        assert!(!p.allows("s3:DeleteObject", "arn:aws:s3:::t-files/keep/x"));
        assert!(!p.clone().without_action("dynamodb:GetItem").allows("dynamodb:GetItem", &table_arn("t-main")));
    }

    #[test]
    fn conditions_are_refused_not_guessed() {
        let sam: SamFunction = serde_json::from_value(json!({
            "logical_id": "T", "environment": {}, "managed_policies": [], "event_rules": {},
            "statements": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*", "Condition": {}}],
        }))
        .unwrap();
        assert!(Policy::new("t", &sam, &HashMap::new()).is_err());
    }

    #[test]
    fn transactions_need_each_write_on_each_table() {
        let body = json!({"TransactItems": [
            {"Put": {"TableName": "a"}}, {"Update": {"TableName": "a"}},
            {"ConditionCheck": {"TableName": "b"}}, {"Delete": {"TableName": "a"}}]});
        let got: Vec<_> = dynamodb("TransactWriteItems", &body).unwrap().into_iter().map(|n| n.action).collect();
        assert_eq!(
            got,
            ["dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:ConditionCheckItem", "dynamodb:DeleteItem"]
        );
        let q = dynamodb("Query", &json!({"TableName": "a", "IndexName": "GSI1"})).unwrap();
        assert_eq!(q, vec![need("dynamodb:Query", format!("{}/index/GSI1", table_arn("a")))]);
        let b = dynamodb("BatchWriteItem", &json!({"RequestItems": {"a": []}})).unwrap();
        assert_eq!(b, vec![need("dynamodb:BatchWriteItem", table_arn("a"))]);
    }

    #[test]
    fn sending_needs_the_identity_and_the_configuration_set() {
        let got = ses("SendEmail", &json!({"FromEmailAddress": "careers@acme.example", "ConfigurationSetName": "s"}))
            .unwrap();
        assert_eq!(got[0].resource, "arn:aws:ses:us-east-1:123456789012:identity/acme.example");
        assert_eq!(got[1].resource, "arn:aws:ses:us-east-1:123456789012:configuration-set/s");
    }
}
