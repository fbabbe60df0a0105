//! What a function's role allows: the statements of its inline policies, evaluated as IAM evaluates
//! them (wildcards; an explicit deny wins), so the interceptor can hold each call to them.
use crate::sam::{fill, SamFunction};
use anyhow::Context as _;
use serde_json::Value;
use std::collections::{BTreeSet, HashMap};

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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::iam::calls::table_arn;
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
}
