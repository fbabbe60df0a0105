//! What the SAM template gives each function in AWS (environment, IAM statements, EventBridge rules),
//! as `infra/local/expand_template.py` writes it from the template expanded by the SAM translator.
//! The local stack holds itself to it: its functions run under these policies, the real binaries are
//! started with this environment, and SES events reach nurture only through these rules.
use anyhow::Context as _;
use serde::Deserialize;
use std::collections::{BTreeMap, HashMap};

/// Where `make test`, `make dev` and `make bench` put the expanded template.
pub const ENV_VAR: &str = "RAPPORT_SAM_FUNCTIONS";

#[derive(Debug, Clone, Deserialize)]
pub struct SamFunctions {
    /// By the function's short name (`intake`, `nurture`, …): the logical id less `Function`.
    pub functions: BTreeMap<String, SamFunction>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct SamFunction {
    pub logical_id: String,
    /// Values may hold `{{Name}}` placeholders for the template's parameters and resources.
    pub environment: BTreeMap<String, String>,
    pub managed_policies: Vec<String>,
    /// The role's inline policy statements, intrinsics resolved (placeholders left for names).
    pub statements: Vec<serde_json::Value>,
    /// EventBridge rules targeting the function: their `EventPattern`s by logical id.
    pub event_rules: BTreeMap<String, serde_json::Value>,
    /// Event source mappings from the table's stream, by logical id.
    #[serde(default)]
    pub stream_sources: BTreeMap<String, StreamSource>,
    /// The function's `Timeout` in seconds and `MemorySize` in MB (Globals merged in).
    #[serde(default = "default_timeout")]
    pub timeout: u64,
    #[serde(default = "default_memory")]
    pub memory_size: u64,
}

/// How Lambda reads the table's stream for a function: batches, filters, retries.
#[derive(Debug, Clone, Deserialize)]
pub struct StreamSource {
    pub batch_size: usize,
    /// Lambda's filter patterns (EventBridge's pattern language): a record matching none is dropped.
    pub filters: Vec<serde_json::Value>,
    pub report_batch_item_failures: bool,
    pub bisect_batch_on_function_error: bool,
    /// -1: until the record expires.
    pub maximum_retry_attempts: i64,
    /// Where a batch given up on is described (an SQS queue's ARN).
    pub on_failure: Option<String>,
}

/// Lambda's defaults when a template sets neither.
fn default_timeout() -> u64 {
    3
}

fn default_memory() -> u64 {
    128
}

impl SamFunctions {
    /// Reads the file named by `RAPPORT_SAM_FUNCTIONS`.
    pub fn from_env() -> anyhow::Result<Self> {
        let path = std::env::var(ENV_VAR).with_context(|| {
            format!("{ENV_VAR} is not set: run through `make test`/`make dev`, which expand infra/template.yaml")
        })?;
        Self::read(&path)
    }

    pub fn read(path: &str) -> anyhow::Result<Self> {
        let text = std::fs::read_to_string(path).with_context(|| format!("reading {path}"))?;
        serde_json::from_str(&text).with_context(|| format!("parsing {path}"))
    }

    pub fn function(&self, name: &str) -> anyhow::Result<&SamFunction> {
        self.functions.get(name).with_context(|| format!("the template has no function {name}"))
    }
}

/// Replaces each `{{Name}}` with its value; a placeholder without one is an error, so nothing the
/// template names is silently left out.
pub fn fill(text: &str, values: &HashMap<&str, String>) -> anyhow::Result<String> {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find("{{") {
        let end = rest[start..].find("}}").map(|e| start + e).context("unclosed {{ in the expanded template")?;
        let name = &rest[start + 2..end];
        out.push_str(&rest[..start]);
        out.push_str(values.get(name).with_context(|| format!("no local value for {{{{{name}}}}}"))?);
        rest = &rest[end + 2..];
    }
    out.push_str(rest);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fills_placeholders_and_refuses_unknown_ones() {
        let values = HashMap::from([("MainTable", "t-main".to_string())]);
        assert_eq!(fill("arn:table/{{MainTable}}/index/*", &values).unwrap(), "arn:table/t-main/index/*");
        assert!(fill("{{FilesBucket}}", &values).is_err());
        assert_eq!(fill("plain", &values).unwrap(), "plain");
    }
}
