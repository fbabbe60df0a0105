//! EventBridge event patterns, matched as EventBridge matches them, so that what reaches a function
//! locally is what its rule lets through in AWS (the rules come from the template as SAM expands it).
//!
//! The semantics follow AWS's EventBridge user guide ("Event patterns", "Arrays in event patterns",
//! "Matching null values and empty strings", "Content filtering in event patterns"):
//! - a pattern is a JSON object; each field holds either a nested object or an array of allowed values,
//!   any of which may match; every field of the pattern must match (fields not named are ignored);
//! - an exact value matches a value of the same JSON type and value (`null` matches only `null`, `""`
//!   only `""`); numbers compare as numbers;
//! - when the event holds an array where the pattern expects a value, the field matches if any element
//!   matches; an array of objects where the pattern has a nested object matches if any element does;
//! - content filters: `prefix` and `suffix` (optionally `{"equals-ignore-case": ...}`),
//!   `equals-ignore-case`, `anything-but` (a string, a number, a list of only strings or only numbers,
//!   or `{"prefix"}`, `{"suffix"}`, `{"equals-ignore-case"}`), `exists` (leaf nodes only: an object is
//!   not a leaf), and `numeric` (`=`, or up to one lower and one upper bound, on JSON numbers only).
//!
//! Anything else (`wildcard`, `cidr`, `$or`, an unknown filter, a malformed pattern) is an error, found
//! when the pattern is read and before any event is looked at, so an unsupported rule can never match
//! silently. Where AWS's guide is silent the matcher errs towards no match: prefix, suffix and
//! ignore-case filters (plain or under `anything-but`) apply to strings only.
mod parse;

use anyhow::{anyhow, Context as _};
use serde_json::Value;
use std::collections::BTreeMap;

/// Whether any of the rules' patterns (by rule id) matches the event. Every pattern is checked for
/// constructs this matcher does not support, even after one has matched.
pub fn matches_any(patterns: &BTreeMap<String, Value>, event: &Value) -> anyhow::Result<bool> {
    let mut matched = false;
    for (rule, pattern) in patterns {
        let pattern = Pattern::parse(pattern).with_context(|| format!("the event pattern of rule {rule}"))?;
        matched |= pattern.matches(event);
    }
    Ok(matched)
}

/// A pattern, checked and ready to match events.
#[derive(Debug, Clone, PartialEq)]
pub struct Pattern(Fields);

impl Pattern {
    pub fn parse(pattern: &Value) -> anyhow::Result<Self> {
        let obj = pattern.as_object().ok_or_else(|| anyhow!("an event pattern must be a JSON object"))?;
        Ok(Pattern(Fields::parse(obj, "")?))
    }

    pub fn matches(&self, event: &Value) -> bool {
        self.0.matches(Some(event))
    }
}

#[derive(Debug, Clone, PartialEq)]
struct Fields(Vec<(String, Node)>);

#[derive(Debug, Clone, PartialEq)]
enum Node {
    Nested(Fields),
    /// Allowed values: the field matches if any of them does.
    Leaf(Vec<Matcher>),
}

#[derive(Debug, Clone, PartialEq)]
enum Matcher {
    Exact(Value),
    Prefix { text: String, ignore_case: bool },
    Suffix { text: String, ignore_case: bool },
    EqualsIgnoreCase(String),
    AnythingBut(AnythingBut),
    Exists(bool),
    Numeric { lower: Option<Bound>, upper: Option<Bound> },
}

#[derive(Debug, Clone, PartialEq)]
enum AnythingBut {
    /// Only strings or only numbers.
    Values(Vec<Value>),
    Prefix(String),
    Suffix(String),
    IgnoreCase(Vec<String>),
}

#[derive(Debug, Clone, Copy, PartialEq)]
struct Bound {
    value: f64,
    inclusive: bool,
}

impl Fields {
    /// `event` is the value at this level (None when the event has no such field).
    fn matches(&self, event: Option<&Value>) -> bool {
        match event {
            Some(Value::Array(items)) if !items.is_empty() => items.iter().any(|item| self.matches(Some(item))),
            Some(Value::Object(obj)) => self.0.iter().all(|(key, node)| node.matches(obj.get(key))),
            // Absent, an empty array, or a leaf where the pattern expects an object: no field below exists.
            _ => self.0.iter().all(|(_, node)| node.matches(None)),
        }
    }
}

impl Node {
    fn matches(&self, event: Option<&Value>) -> bool {
        match self {
            Node::Nested(fields) => fields.matches(event),
            Node::Leaf(matchers) => {
                let mut leaves = Vec::new();
                if let Some(v) = event {
                    collect_leaves(v, &mut leaves);
                }
                matchers.iter().any(|m| m.matches(&leaves))
            }
        }
    }
}

/// The leaf values of an event field: the value itself, or an array's elements (at any depth).
/// Objects are not leaves.
fn collect_leaves<'a>(v: &'a Value, out: &mut Vec<&'a Value>) {
    match v {
        Value::Array(items) => items.iter().for_each(|i| collect_leaves(i, out)),
        Value::Object(_) => {}
        leaf => out.push(leaf),
    }
}

impl Matcher {
    /// `leaves` are the event field's leaf values (none when it is absent).
    fn matches(&self, leaves: &[&Value]) -> bool {
        match self {
            Matcher::Exists(true) => !leaves.is_empty(),
            Matcher::Exists(false) => leaves.is_empty(),
            m => leaves.iter().any(|v| m.matches_value(v)),
        }
    }

    fn matches_value(&self, v: &Value) -> bool {
        let text = v.as_str();
        match self {
            Matcher::Exact(p) => same(p, v),
            Matcher::Prefix { text: p, ignore_case } => text.is_some_and(|t| affixed(t, p, *ignore_case, true)),
            Matcher::Suffix { text: p, ignore_case } => text.is_some_and(|t| affixed(t, p, *ignore_case, false)),
            Matcher::EqualsIgnoreCase(p) => text.is_some_and(|t| t.to_lowercase() == p.to_lowercase()),
            Matcher::Numeric { lower, upper } => v.as_f64().is_some_and(|n| {
                lower.is_none_or(|b| if b.inclusive { n >= b.value } else { n > b.value })
                    && upper.is_none_or(|b| if b.inclusive { n <= b.value } else { n < b.value })
            }),
            Matcher::AnythingBut(but) => but.matches_value(v),
            Matcher::Exists(_) => unreachable!("exists is matched on the field, not a value"),
        }
    }
}

impl AnythingBut {
    fn matches_value(&self, v: &Value) -> bool {
        let text = v.as_str();
        match self {
            AnythingBut::Values(values) => !values.iter().any(|p| same(p, v)),
            AnythingBut::Prefix(p) => text.is_some_and(|t| !t.starts_with(p.as_str())),
            AnythingBut::Suffix(p) => text.is_some_and(|t| !t.ends_with(p.as_str())),
            AnythingBut::IgnoreCase(ps) => {
                text.is_some_and(|t| !ps.iter().any(|p| p.to_lowercase() == t.to_lowercase()))
            }
        }
    }
}

/// An exact match: same JSON type and value; numbers compare as numbers (`5` matches `5.0`).
fn same(pattern: &Value, v: &Value) -> bool {
    match (pattern, v) {
        (Value::Number(a), Value::Number(b)) => a.as_f64() == b.as_f64(),
        (a, b) => a == b,
    }
}

fn affixed(text: &str, affix: &str, ignore_case: bool, prefix: bool) -> bool {
    let (text, affix) =
        if ignore_case { (text.to_lowercase(), affix.to_lowercase()) } else { (text.into(), affix.into()) };
    if prefix {
        text.starts_with(&affix)
    } else {
        text.ends_with(&affix)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn m(pattern: Value, event: Value) -> bool {
        Pattern::parse(&pattern).unwrap_or_else(|e| panic!("{pattern}: {e:#}")).matches(&event)
    }

    /// The EC2 event the EventBridge user guide uses in "Event patterns".
    fn ec2() -> Value {
        json!({
            "version": "0", "id": "6a7e8feb-b491-4cf7-a9f1-bf3703467718",
            "detail-type": "EC2 Instance State-change Notification", "source": "aws.ec2",
            "account": "111122223333", "time": "2017-12-22T18:43:48Z", "region": "us-west-1",
            "resources": ["arn:aws:ec2:us-west-1:123456789012:instance/i-1234567890abcdef0"],
            "detail": {"instance-id": "i-1234567890abcdef0", "state": "terminated"}
        })
    }

    #[test]
    fn fields_are_anded_values_are_ored_and_unnamed_fields_ignored() {
        let p = json!({"source": ["aws.ec2", "aws.fargate"], "detail-type": ["EC2 Instance State-change Notification"],
                       "detail": {"state": ["terminated"]}});
        assert!(m(p.clone(), ec2()));
        let mut running = ec2();
        running["detail"]["state"] = json!("running");
        assert!(!m(p.clone(), running));
        let mut other = ec2();
        other["source"] = json!("aws.s3");
        assert!(!m(p, other));
        // A field the pattern names must be there.
        assert!(!m(json!({"detail": {"missing": ["x"]}}), ec2()));
        assert!(!m(json!({"detail": {"state": {"deeper": ["x"]}}}), ec2()));
    }

    #[test]
    fn exact_values_keep_their_json_type() {
        let e = json!({"detail": {"n": 5, "s": "5", "t": true, "z": null, "e": ""}});
        assert!(m(json!({"detail": {"n": [5]}}), e.clone()));
        assert!(m(json!({"detail": {"n": [5.0]}}), e.clone()));
        assert!(!m(json!({"detail": {"n": ["5"]}}), e.clone()));
        assert!(!m(json!({"detail": {"s": [5]}}), e.clone()));
        assert!(m(json!({"detail": {"t": [true]}}), e.clone()));
        assert!(!m(json!({"detail": {"t": ["true"]}}), e.clone()));
        // "Matching null values and empty strings": not interchangeable, and null is not absence.
        assert!(m(json!({"detail": {"z": [null]}}), e.clone()));
        assert!(!m(json!({"detail": {"z": [""]}}), e.clone()));
        assert!(m(json!({"detail": {"e": [""]}}), e.clone()));
        assert!(!m(json!({"detail": {"e": [null]}}), e.clone()));
        assert!(!m(json!({"detail": {"absent": [null]}}), e));
        assert!(!m(json!({"source": ["aws.EC2"]}), ec2()), "case-sensitive");
    }

    #[test]
    fn an_event_array_matches_if_any_element_does() {
        // "Arrays in Amazon EventBridge event patterns".
        let p = json!({"resources": ["arn:aws:ec2:us-east-1:123456789012:instance/i-b188560f",
                                     "arn:aws:ec2:us-east-1:111122223333:instance/i-b188560f"]});
        let e = json!({"resources": [
            "arn:aws:autoscaling:us-east-1:123456789012:autoScalingGroup:eb56d16b:autoScalingGroupName/ASGTerminate",
            "arn:aws:ec2:us-east-1:123456789012:instance/i-b188560f"]});
        assert!(m(p.clone(), e));
        assert!(!m(p, json!({"resources": ["arn:aws:ec2:us-east-1:444455556666:instance/i-b188560f"]})));
        // An array of objects: any element with all the named fields.
        let recipients = json!({"detail": {"bounce": {"bouncedRecipients": [
            {"emailAddress": "a@example.com", "status": "5.1.1"},
            {"emailAddress": "b@example.com", "status": "4.4.7"}]}}});
        assert!(m(
            json!({"detail": {"bounce": {"bouncedRecipients": {"emailAddress": ["b@example.com"]}}}}),
            recipients.clone()
        ));
        assert!(!m(
            json!({"detail": {"bounce": {"bouncedRecipients": {
            "emailAddress": ["a@example.com"], "status": ["4.4.7"]}}}}),
            recipients
        ));
    }

    #[test]
    fn prefix_suffix_and_ignore_case() {
        let e = json!({"time": "2017-10-02T18:43:48Z", "detail": {"service": "EventBridge", "FileName": "cat.PNG"}});
        assert!(m(json!({"time": [{"prefix": "2017-10-02"}]}), e.clone()));
        assert!(!m(json!({"time": [{"prefix": "2017-10-03"}]}), e.clone()));
        assert!(!m(json!({"detail": {"service": [{"prefix": "eventb"}]}}), e.clone()));
        assert!(m(json!({"detail": {"service": [{"prefix": {"equals-ignore-case": "eventb"}}]}}), e.clone()));
        assert!(!m(json!({"detail": {"FileName": [{"suffix": ".png"}]}}), e.clone()));
        assert!(m(json!({"detail": {"FileName": [{"suffix": {"equals-ignore-case": ".png"}}]}}), e.clone()));
        assert!(m(json!({"detail": {"service": [{"equals-ignore-case": "EVENTBRIDGE"}]}}), e.clone()));
        assert!(!m(json!({"detail": {"service": [{"equals-ignore-case": "eventbus"}]}}), e));
        // String filters never match numbers.
        assert!(!m(json!({"n": [{"prefix": "1"}]}), json!({"n": 12})));
    }

    #[test]
    fn anything_but() {
        let e = |state: Value| json!({"detail": {"state": state, "x-limit": 150}});
        let p = json!({"detail": {"state": [{"anything-but": "initializing"}]}});
        assert!(m(p.clone(), e(json!("running"))));
        assert!(!m(p.clone(), e(json!("initializing"))));
        assert!(!m(p, json!({"detail": {}})), "the field must be there");
        let list = json!({"detail": {"state": [{"anything-but": ["stopped", "overloaded"]}]}});
        assert!(m(list.clone(), e(json!("running"))));
        assert!(!m(list, e(json!("stopped"))));
        assert!(m(json!({"detail": {"x-limit": [{"anything-but": [100, 200, 300]}]}}), e(json!("x"))));
        assert!(!m(json!({"detail": {"x-limit": [{"anything-but": 150}]}}), e(json!("x"))));
        let prefix = json!({"detail": {"state": [{"anything-but": {"prefix": "init"}}]}});
        assert!(m(prefix.clone(), e(json!("running"))));
        assert!(!m(prefix, e(json!("initializing"))));
        let suffix = json!({"detail": {"state": [{"anything-but": {"suffix": "ing"}}]}});
        assert!(m(suffix.clone(), e(json!("stopped"))));
        assert!(!m(suffix, e(json!("running"))));
        let case = json!({"detail": {"state": [{"anything-but": {"equals-ignore-case": ["Running", "STOPPED"]}}]}});
        assert!(!m(case.clone(), e(json!("running"))));
        assert!(m(case, e(json!("pending"))));
    }

    #[test]
    fn exists_works_on_leaves_only() {
        // The guide's examples: absent, and present only as an object (not a leaf), both "don't exist".
        let p = json!({"detail": {"c-count": [{"exists": false}]}});
        assert!(m(p.clone(), json!({"detail": {"state": ["initializing", "running"]}})));
        assert!(m(p.clone(), json!({"detail": {"state": "running", "c-count": {"c1": 100}}})));
        assert!(!m(p.clone(), json!({"detail": {"c-count": 3}})));
        assert!(m(p, json!({"source": "x"})), "no detail at all");
        let present = json!({"detail": {"c-count": [{"exists": true}]}});
        assert!(m(present.clone(), json!({"detail": {"c-count": 0}})));
        assert!(m(present.clone(), json!({"detail": {"c-count": null}})));
        assert!(!m(present.clone(), json!({"detail": {"c-count": {"c1": 100}}})));
        assert!(!m(present, json!({"detail": {}})));
    }

    #[test]
    fn numeric_ranges() {
        let p = json!({"detail": {"c-count": [{"numeric": [">", 0, "<=", 5]}], "d-count": [{"numeric": ["<", 10]}],
                                  "x-limit": [{"numeric": ["=", 3.018e2]}]}});
        let e = |c: Value| json!({"detail": {"c-count": c, "d-count": 9.5, "x-limit": 301.8}});
        assert!(m(p.clone(), e(json!(5))));
        assert!(m(p.clone(), e(json!(0.1))));
        assert!(!m(p.clone(), e(json!(0))));
        assert!(!m(p.clone(), e(json!(5.01))));
        assert!(!m(p.clone(), e(json!("3"))), "numbers only");
        assert!(m(json!({"n": [{"numeric": [">=", -1]}]}), json!({"n": [-5, -1]})));
        assert!(!m(json!({"n": [{"numeric": [">=", -1]}]}), json!({"n": [-5, -2]})));
    }

    #[test]
    fn several_filters_for_one_field_are_alternatives() {
        let p = json!({"detail-type": ["Email Bounced", {"prefix": "Email Complaint"}]});
        assert!(m(p.clone(), json!({"detail-type": "Email Bounced"})));
        assert!(m(p.clone(), json!({"detail-type": "Email Complaint Received"})));
        assert!(!m(p, json!({"detail-type": "Email Delivered"})));
    }

    #[test]
    fn matches_any_checks_every_rule_even_after_a_match() {
        let mut rules = BTreeMap::new();
        rules.insert("A".to_string(), json!({"source": ["aws.ec2"]}));
        assert!(matches_any(&rules, &ec2()).unwrap());
        assert!(!matches_any(&rules, &json!({"source": "aws.ses"})).unwrap());
        rules.insert("B".to_string(), json!({"source": [{"wildcard": "aws.*"}]}));
        let err = format!("{:#}", matches_any(&rules, &ec2()).unwrap_err());
        assert!(err.contains("rule B") && err.contains("wildcard"), "{err}");
        assert!(!matches_any(&BTreeMap::new(), &ec2()).unwrap(), "no rule, no match");
    }
}
