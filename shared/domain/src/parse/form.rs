//! Bodies before the field parser reads them: a form post becomes the JSON it reads, and JSON nested
//! too deep is refused unparsed. Both bound hostile input before it becomes a deep value.
use crate::error::Invalid;
use serde_json::{Map, Value};

/// At most this many fields in a form post (a job's questions are at most 100).
pub const MAX_FORM_FIELDS: usize = 200;
/// The longest form field name, in bytes (`answers.` and a 64-character question id fit).
pub const MAX_FORM_NAME_BYTES: usize = 128;
/// Dotted parts in a form field name: `consent.talent_pool` has two; a form never nests deeper.
pub const MAX_FORM_NAME_PARTS: usize = 4;

/// `application/x-www-form-urlencoded` as the JSON the same parser reads: dotted names nest
/// (`consent.talent_pool`, `source.utm_source`), and the named checkbox fields become booleans
/// (`on`, `true`, `1`, `yes` are true; anything else false).
///
/// Field names are bounded in number, length and depth before anything is built, so a hostile
/// name (`a.a.a.…`, tens of thousands of parts) is a 400 rather than an arbitrarily deep value.
pub fn form_to_json(body: &[u8], checkboxes: &[&str]) -> Result<Value, Invalid> {
    fn object_at<'a>(node: &'a mut Map<String, Value>, parts: &[&str]) -> Option<&'a mut Map<String, Value>> {
        let mut node = node;
        for part in parts {
            match node.entry(part.to_string()).or_insert_with(|| Value::Object(Map::new())) {
                Value::Object(m) => node = m,
                // `a=1&a.b=2`: a name cannot be both a value and a group; the group loses.
                _ => return None,
            }
        }
        Some(node)
    }
    let mut root = Map::new();
    for (i, (name, value)) in url::form_urlencoded::parse(body).enumerate() {
        if i >= MAX_FORM_FIELDS {
            return Err(Invalid::Malformed(format!("a form may have at most {MAX_FORM_FIELDS} fields")));
        }
        if name.len() > MAX_FORM_NAME_BYTES {
            return Err(Invalid::Malformed(format!(
                "a form field name may be at most {MAX_FORM_NAME_BYTES} bytes long"
            )));
        }
        let parts: Vec<&str> = name.split('.').collect();
        if parts.len() > MAX_FORM_NAME_PARTS {
            return Err(Invalid::Malformed(format!(
                "a form field name may have at most {MAX_FORM_NAME_PARTS} dotted parts"
            )));
        }
        let value = if checkboxes.contains(&name.as_ref()) {
            Value::Bool(matches!(value.as_ref(), "on" | "true" | "1" | "yes"))
        } else {
            Value::String(value.into_owned())
        };
        let (last, parents) = parts.split_last().expect("split yields at least one part");
        if let Some(node) = object_at(&mut root, parents) {
            node.insert(last.to_string(), value);
        }
    }
    // An unticked checkbox is not sent at all: it means false.
    for name in checkboxes {
        let parts: Vec<&str> = name.split('.').collect();
        let (last, parents) = parts.split_last().expect("split yields at least one part");
        if let Some(node) = object_at(&mut root, parents) {
            node.entry(last.to_string()).or_insert(Value::Bool(false));
        }
    }
    Ok(Value::Object(root))
}

/// The deepest nesting of objects and arrays a JSON body may have (DynamoDB's own limit for a
/// document is 32; no body of the API comes near it).
pub const MAX_JSON_DEPTH: usize = 32;

/// Whether JSON text nests objects and arrays deeper than `max`, read without recursion (and before
/// parsing, so a hostile body never becomes a deep value).
pub fn json_too_deep(bytes: &[u8], max: usize) -> bool {
    let (mut depth, mut in_string, mut escaped) = (0usize, false, false);
    for &b in bytes {
        if in_string {
            match b {
                _ if escaped => escaped = false,
                b'\\' => escaped = true,
                b'"' => in_string = false,
                _ => {}
            }
            continue;
        }
        match b {
            b'"' => in_string = true,
            b'{' | b'[' => {
                depth += 1;
                if depth > max {
                    return true;
                }
            }
            b'}' | b']' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forms_nest_and_checkboxes_become_booleans() {
        let v = form_to_json(
            b"first_name=Ada&consent.processing=on&source.utm_source=indeed&answers.q1=Yes%21",
            &["consent.processing", "consent.talent_pool"],
        )
        .unwrap();
        assert_eq!(
            v,
            serde_json::json!({"first_name": "Ada", "consent": {"processing": true, "talent_pool": false},
                "source": {"utm_source": "indeed"}, "answers": {"q1": "Yes!"}})
        );
    }

    fn status(r: Result<Value, Invalid>) -> u16 {
        match r {
            Ok(_) => 200,
            Err(Invalid::Malformed(_)) => 400,
            Err(Invalid::Fields(_)) => 422,
        }
    }

    #[test]
    fn form_field_names_are_bounded_in_depth_length_and_count() {
        let deep = format!("{}=x", vec!["a"; 50_000].join("."));
        assert_eq!(status(form_to_json(deep.as_bytes(), &[])), 400);
        assert_eq!(status(form_to_json(b"a.b.c.d.e=x", &[])), 400);
        assert_eq!(status(form_to_json(b"a.b.c.d=x", &[])), 200);
        let long = format!("{}=x", "n".repeat(MAX_FORM_NAME_BYTES + 1));
        assert_eq!(status(form_to_json(long.as_bytes(), &[])), 400);
        let many: Vec<String> = (0..=MAX_FORM_FIELDS).map(|i| format!("f{i}=x")).collect();
        assert_eq!(status(form_to_json(many.join("&").as_bytes(), &[])), 400);
        assert_eq!(status(form_to_json(many[1..].join("&").as_bytes(), &[])), 200);
    }

    #[test]
    fn json_depth_is_read_without_parsing_and_ignores_strings() {
        let nested = |n: usize| format!("{}{}", "[".repeat(n), "]".repeat(n));
        assert!(!json_too_deep(nested(MAX_JSON_DEPTH).as_bytes(), MAX_JSON_DEPTH));
        assert!(json_too_deep(nested(MAX_JSON_DEPTH + 1).as_bytes(), MAX_JSON_DEPTH));
        assert!(json_too_deep(nested(100_000).as_bytes(), MAX_JSON_DEPTH));
        let in_string = format!("{{\"a\": \"{}\\\"{}\"}}", "[".repeat(100), "{".repeat(100));
        assert!(!json_too_deep(in_string.as_bytes(), 2));
        assert!(serde_json::from_str::<Value>(&in_string).is_ok());
    }
}
