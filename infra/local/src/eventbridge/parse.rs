//! Reading an event pattern into the tree the matcher walks. Every construct the matcher cannot
//! evaluate is refused here, when the rule is read, so it can never fail to match silently.
use super::{AnythingBut, Bound, Fields, Matcher, Node};
use anyhow::{anyhow, bail, Context as _};
use serde_json::{Map, Value};

fn path(parent: &str, key: &str) -> String {
    if parent.is_empty() {
        key.to_string()
    } else {
        format!("{parent}.{key}")
    }
}

impl Fields {
    pub(super) fn parse(obj: &Map<String, Value>, at: &str) -> anyhow::Result<Self> {
        if obj.is_empty() {
            bail!(
                "{}: an empty object matches nothing in an event pattern",
                if at.is_empty() { "pattern" } else { at }
            );
        }
        let mut fields = Vec::with_capacity(obj.len());
        for (key, value) in obj {
            let here = path(at, key);
            if key.starts_with('$') {
                bail!("{here}: `{key}` is not supported by the local matcher");
            }
            let node = match value {
                Value::Object(nested) => Node::Nested(Fields::parse(nested, &here)?),
                Value::Array(values) if values.is_empty() => bail!("{here}: an empty array of values"),
                Value::Array(values) => Node::Leaf(
                    values.iter().map(|v| Matcher::parse(v).with_context(|| here.clone())).collect::<Result<_, _>>()?,
                ),
                other => bail!("{here}: must be an array of values or an object, not {other}"),
            };
            fields.push((key.clone(), node));
        }
        Ok(Fields(fields))
    }
}

fn single_key<'a>(obj: &'a Map<String, Value>, what: &str) -> anyhow::Result<(&'a str, &'a Value)> {
    let mut it = obj.iter();
    match (it.next(), it.next()) {
        (Some((k, v)), None) => Ok((k.as_str(), v)),
        _ => bail!("{what} must have exactly one key: {}", Value::Object(obj.clone())),
    }
}

fn string(v: &Value, what: &str) -> anyhow::Result<String> {
    v.as_str().map(str::to_string).ok_or_else(|| anyhow!("`{what}` takes a string, not {v}"))
}

/// `"text"` or `{"equals-ignore-case": "text"}`, as `prefix` and `suffix` take.
fn affix(v: &Value, what: &str) -> anyhow::Result<(String, bool)> {
    match v {
        Value::String(s) => Ok((s.clone(), false)),
        Value::Object(obj) => match single_key(obj, what)? {
            ("equals-ignore-case", v) => Ok((string(v, "equals-ignore-case")?, true)),
            (k, _) => bail!("`{what}` does not take `{k}`"),
        },
        other => bail!("`{what}` takes a string, not {other}"),
    }
}

impl Matcher {
    fn parse(v: &Value) -> anyhow::Result<Self> {
        let obj = match v {
            Value::String(_) | Value::Number(_) | Value::Bool(_) | Value::Null => return Ok(Matcher::Exact(v.clone())),
            Value::Array(_) => bail!("a value in an event pattern cannot be an array: {v}"),
            Value::Object(obj) => obj,
        };
        Ok(match single_key(obj, "a content filter")? {
            ("prefix", v) => {
                let (text, ignore_case) = affix(v, "prefix")?;
                Matcher::Prefix { text, ignore_case }
            }
            ("suffix", v) => {
                let (text, ignore_case) = affix(v, "suffix")?;
                Matcher::Suffix { text, ignore_case }
            }
            ("equals-ignore-case", v) => Matcher::EqualsIgnoreCase(string(v, "equals-ignore-case")?),
            ("exists", Value::Bool(b)) => Matcher::Exists(*b),
            ("exists", other) => bail!("`exists` takes true or false, not {other}"),
            ("numeric", v) => Self::numeric(v)?,
            ("anything-but", v) => Matcher::AnythingBut(AnythingBut::parse(v)?),
            (k @ ("wildcard" | "cidr"), _) => bail!("the `{k}` filter is not supported by the local matcher"),
            (k, _) => bail!("unknown content filter `{k}`"),
        })
    }

    fn numeric(v: &Value) -> anyhow::Result<Self> {
        let terms = v.as_array().ok_or_else(|| anyhow!("`numeric` takes an array, not {v}"))?;
        if terms.is_empty() || terms.len() % 2 != 0 {
            bail!("`numeric` takes operator and number pairs: {v}");
        }
        let (mut lower, mut upper) = (None, None);
        for (i, pair) in terms.chunks(2).enumerate() {
            let op = pair[0].as_str().ok_or_else(|| anyhow!("`numeric`: {} is not an operator", pair[0]))?;
            let value = pair[1].as_f64().ok_or_else(|| anyhow!("`numeric`: {} is not a number", pair[1]))?;
            let bound = |inclusive| Some(Bound { value, inclusive });
            let slot = match op {
                "=" if terms.len() == 2 => {
                    return Ok(Matcher::Numeric { lower: bound(true), upper: bound(true) });
                }
                "=" => bail!("`numeric`: `=` stands alone: {v}"),
                ">" | ">=" => &mut lower,
                "<" | "<=" => &mut upper,
                other => bail!("`numeric`: unknown operator {other:?}"),
            };
            if slot.is_some() {
                bail!(
                    "`numeric`: two {} bounds (term {}): {v}",
                    if op.starts_with('>') { "lower" } else { "upper" },
                    i + 1
                );
            }
            *slot = bound(op.ends_with('='));
        }
        if let (Some(lo), Some(hi)) = (lower, upper) {
            if lo.value > hi.value {
                bail!("`numeric`: the range is empty: {v}");
            }
        }
        Ok(Matcher::Numeric { lower, upper })
    }
}

impl AnythingBut {
    fn parse(v: &Value) -> anyhow::Result<Self> {
        Ok(match v {
            Value::String(_) | Value::Number(_) => AnythingBut::Values(vec![v.clone()]),
            Value::Array(items) => {
                let strings = items.iter().all(Value::is_string);
                let numbers = items.iter().all(Value::is_number);
                if items.is_empty() || !(strings || numbers) {
                    bail!("`anything-but` takes a list of only strings or only numbers: {v}");
                }
                AnythingBut::Values(items.clone())
            }
            Value::Object(obj) => match single_key(obj, "`anything-but`")? {
                ("prefix", v) => AnythingBut::Prefix(string(v, "anything-but prefix")?),
                ("suffix", v) => AnythingBut::Suffix(string(v, "anything-but suffix")?),
                ("equals-ignore-case", Value::String(s)) => AnythingBut::IgnoreCase(vec![s.clone()]),
                ("equals-ignore-case", Value::Array(items)) if !items.is_empty() => AnythingBut::IgnoreCase(
                    items.iter().map(|i| string(i, "anything-but equals-ignore-case")).collect::<Result<_, _>>()?,
                ),
                ("equals-ignore-case", other) => {
                    bail!("`anything-but` `equals-ignore-case` takes a string or a list of strings, not {other}")
                }
                ("wildcard", _) => bail!("`anything-but` `wildcard` is not supported by the local matcher"),
                (k, _) => bail!("`anything-but` does not take `{k}`"),
            },
            other => bail!("`anything-but` takes strings or numbers, not {other}"),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::super::Pattern;
    use serde_json::{json, Value};

    fn refused(pattern: Value) -> String {
        match Pattern::parse(&pattern) {
            Ok(p) => panic!("{pattern} was accepted: {p:?}"),
            Err(e) => format!("{e:#}"),
        }
    }

    #[test]
    fn what_it_cannot_match_it_refuses_before_looking_at_an_event() {
        for (pattern, says) in [
            (json!({"source": [{"wildcard": "aws.*"}]}), "wildcard"),
            (json!({"detail": {"ip": [{"cidr": "10.0.0.0/24"}]}}), "cidr"),
            (json!({"$or": [{"source": ["a"]}, {"source": ["b"]}]}), "$or"),
            (json!({"detail": {"state": [{"anything-but": {"wildcard": "*/lib/*"}}]}}), "wildcard"),
            (json!({"source": [{"contains": "ses"}]}), "unknown content filter"),
            (json!({"source": "aws.ses"}), "must be an array"),
            (json!({"source": []}), "empty array"),
            (json!({"source": [["aws.ses"]]}), "cannot be an array"),
            (json!({"source": [{"prefix": "a", "suffix": "b"}]}), "exactly one key"),
            (json!({"n": [{"numeric": [">", 5, ">", 6]}]}), "two lower bounds"),
            (json!({"n": [{"numeric": ["=", 5, "<", 6]}]}), "stands alone"),
            (json!({"n": [{"numeric": [">", "5"]}]}), "not a number"),
            (json!({"n": [{"numeric": ["~", 5]}]}), "unknown operator"),
            (json!({"n": [{"numeric": [">", 6, "<", 5]}]}), "empty"),
            (json!({"s": [{"anything-but": ["a", 1]}]}), "only strings or only numbers"),
            (json!({"s": [{"anything-but": true}]}), "strings or numbers"),
            (json!({"s": [{"exists": "yes"}]}), "true or false"),
            (json!({"s": [{"prefix": 5}]}), "takes a string"),
            (json!({}), "empty object"),
            (json!(["aws.ses"]), "JSON object"),
        ] {
            let err = refused(pattern.clone());
            assert!(err.contains(says), "{pattern}: {err}");
        }
    }
}
