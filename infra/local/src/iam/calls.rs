//! What AWS authorises each SDK call with: the IAM actions and resource ARNs a request needs, read
//! from the request itself, for the interceptor to check against the role's policy.
use anyhow::Context as _;
use aws_smithy_runtime_api::client::orchestrator::HttpRequest;
use serde_json::Value;

/// The emulator's account and region, as the expanded template's ARNs name them.
const REGION: &str = "us-east-1";
const ACCOUNT: &str = "123456789012";

/// An IAM action on a resource ARN.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Need {
    pub action: String,
    pub resource: String,
}

fn need(action: &str, resource: String) -> Need {
    Need { action: action.to_string(), resource }
}

pub(super) fn table_arn(name: &str) -> String {
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

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

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
