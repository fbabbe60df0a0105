//! Parsing at the edge: a JSON object becomes a domain value, or a list of every bad field.
//!
//! [`Fields`] takes fields out of the object one by one; whatever is left at [`Fields::finish`] is an
//! unknown field (no mass assignment). Each field type says how it parses in [`FromField`].
use crate::error::{FieldError, Invalid};
use serde_json::{Map, Value};

/// A value that parses from one JSON field, with a message for the client when it does not.
pub trait FromField: Sized {
    fn from_field(v: &Value) -> Result<Self, String>;
}

/// A JSON object being parsed, with the errors found so far.
pub struct Fields {
    map: Map<String, Value>,
    prefix: String,
    errors: Vec<FieldError>,
}

impl Fields {
    pub fn new(map: Map<String, Value>) -> Self {
        Self { map, prefix: String::new(), errors: Vec::new() }
    }

    /// Parses the whole object with `f`, then reports unknown fields along with the rest.
    pub fn parse<T>(v: Value, f: impl FnOnce(&mut Fields) -> Option<T>) -> Result<T, Invalid> {
        let Value::Object(map) = v else {
            return Err(Invalid::Malformed("the body must be a JSON object".into()));
        };
        let mut fields = Fields::new(map);
        let out = f(&mut fields);
        fields.finish()?;
        out.ok_or_else(|| Invalid::Fields(vec![FieldError::new("", "invalid")]))
    }

    fn path(&self, name: &str) -> String {
        if self.prefix.is_empty() {
            name.to_string()
        } else {
            format!("{}.{name}", self.prefix)
        }
    }

    pub fn error(&mut self, name: &str, message: impl Into<String>) {
        let field = self.path(name);
        self.errors.push(FieldError::new(field, message));
    }

    pub fn has_errors(&self) -> bool {
        !self.errors.is_empty()
    }

    /// Takes a field out; `null` counts as absent.
    pub fn take(&mut self, name: &str) -> Option<Value> {
        self.map.remove(name).filter(|v| !v.is_null())
    }

    /// A required field. `None` means it was missing or bad (and the error is recorded).
    pub fn req<T: FromField>(&mut self, name: &str) -> Option<T> {
        match self.take(name) {
            None => {
                self.error(name, "is required");
                None
            }
            Some(v) => self.convert(name, &v),
        }
    }

    /// An optional field: `Some(None)` when absent, `None` when present but bad.
    pub fn opt<T: FromField>(&mut self, name: &str) -> Option<Option<T>> {
        match self.take(name) {
            None => Some(None),
            Some(v) => self.convert(name, &v).map(Some),
        }
    }

    fn convert<T: FromField>(&mut self, name: &str, v: &Value) -> Option<T> {
        match T::from_field(v) {
            Ok(t) => Some(t),
            Err(msg) => {
                self.error(name, msg);
                None
            }
        }
    }

    /// A nested object, parsed with its own field names prefixed (`location.city`).
    pub fn object<T>(
        &mut self,
        name: &str,
        required: bool,
        f: impl FnOnce(&mut Fields) -> Option<T>,
    ) -> Option<Option<T>> {
        match self.take(name) {
            None if required => {
                self.error(name, "is required");
                None
            }
            None => Some(None),
            Some(Value::Object(map)) => {
                let path = self.path(name);
                let mut inner = Fields { map, prefix: path, errors: Vec::new() };
                let out = f(&mut inner);
                let ok = inner.collect_unknown();
                self.errors.extend(inner.errors);
                if ok {
                    out.map(Some)
                } else {
                    None
                }
            }
            Some(_) => {
                self.error(name, "must be an object");
                None
            }
        }
    }

    /// An array of objects, each parsed with `f` and named `name[i].field` in errors.
    pub fn objects<T>(
        &mut self,
        name: &str,
        max: usize,
        mut f: impl FnMut(&mut Fields) -> Option<T>,
    ) -> Option<Option<Vec<T>>> {
        let items = match self.take(name) {
            None => return Some(None),
            Some(Value::Array(items)) if items.len() <= max => items,
            Some(Value::Array(_)) => {
                self.error(name, format!("must have at most {max} items"));
                return None;
            }
            Some(_) => {
                self.error(name, "must be an array");
                return None;
            }
        };
        let mut out = Vec::with_capacity(items.len());
        let mut ok = true;
        for (i, item) in items.into_iter().enumerate() {
            let path = format!("{}[{i}]", self.path(name));
            let Value::Object(map) = item else {
                self.errors.push(FieldError::new(path, "must be an object"));
                ok = false;
                continue;
            };
            let mut inner = Fields { map, prefix: path, errors: Vec::new() };
            let parsed = f(&mut inner);
            ok &= inner.collect_unknown();
            self.errors.extend(inner.errors);
            match parsed {
                Some(t) => out.push(t),
                None => ok = false,
            }
        }
        ok.then_some(Some(out))
    }

    fn collect_unknown(&mut self) -> bool {
        let unknown: Vec<String> = self.map.keys().cloned().collect();
        for name in &unknown {
            self.error(name, "unknown field");
        }
        unknown.is_empty() && self.errors.is_empty()
    }

    /// Ends the parse: unknown fields and every earlier error become one 422.
    pub fn finish(mut self) -> Result<(), Invalid> {
        self.collect_unknown();
        if self.errors.is_empty() {
            Ok(())
        } else {
            Err(Invalid::Fields(self.errors))
        }
    }
}

fn check_chars(s: &str, multiline: bool) -> Result<(), String> {
    let bad = s.chars().any(|c| {
        let allowed_ws = multiline && matches!(c, '\n' | '\r' | '\t');
        (c.is_control() && !allowed_ws) || matches!(c, '\u{FFFE}' | '\u{FFFF}')
    });
    if bad {
        Err("must not contain control characters".into())
    } else {
        Ok(())
    }
}

fn text_field(v: &Value, min: usize, max: usize, multiline: bool) -> Result<String, String> {
    let Value::String(s) = v else {
        return Err("must be a string".into());
    };
    let s = s.trim();
    let n = s.chars().count();
    if n < min {
        return Err(if min == 1 { "must not be empty".into() } else { format!("must be at least {min} characters") });
    }
    if n > max {
        return Err(format!("must be at most {max} characters"));
    }
    check_chars(s, multiline)?;
    Ok(s.to_string())
}

/// A single line of text, trimmed, `MIN..=MAX` characters, no control characters.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(transparent)]
pub struct Line<const MIN: usize, const MAX: usize>(pub String);

impl<const MIN: usize, const MAX: usize> FromField for Line<MIN, MAX> {
    fn from_field(v: &Value) -> Result<Self, String> {
        text_field(v, MIN, MAX, false).map(Self)
    }
}

/// Text that may span lines (newlines and tabs allowed), `MIN..=MAX` characters.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(transparent)]
pub struct Text<const MIN: usize, const MAX: usize>(pub String);

impl<const MIN: usize, const MAX: usize> FromField for Text<MIN, MAX> {
    fn from_field(v: &Value) -> Result<Self, String> {
        text_field(v, MIN, MAX, true).map(Self)
    }
}

impl<const MIN: usize, const MAX: usize> std::ops::Deref for Line<MIN, MAX> {
    type Target = str;
    fn deref(&self) -> &str {
        &self.0
    }
}

impl FromField for bool {
    fn from_field(v: &Value) -> Result<Self, String> {
        v.as_bool().ok_or_else(|| "must be true or false".into())
    }
}

impl FromField for f64 {
    fn from_field(v: &Value) -> Result<Self, String> {
        v.as_f64().filter(|f| f.is_finite()).ok_or_else(|| "must be a number".into())
    }
}

impl FromField for u64 {
    fn from_field(v: &Value) -> Result<Self, String> {
        v.as_u64().ok_or_else(|| "must be a non-negative whole number".into())
    }
}

impl FromField for chrono::DateTime<chrono::Utc> {
    fn from_field(v: &Value) -> Result<Self, String> {
        v.as_str()
            .and_then(|s| chrono::DateTime::parse_from_rfc3339(s).ok())
            .map(|t| t.with_timezone(&chrono::Utc))
            .ok_or_else(|| "must be an RFC 3339 date-time".into())
    }
}

/// Arrays of simple values; duplicates are refused since every list in the API is a set.
impl<T: FromField + PartialEq> FromField for Vec<T> {
    fn from_field(v: &Value) -> Result<Self, String> {
        let Value::Array(items) = v else {
            return Err("must be an array".into());
        };
        if items.len() > 100 {
            return Err("must have at most 100 items".into());
        }
        let mut out: Vec<T> = Vec::with_capacity(items.len());
        for (i, item) in items.iter().enumerate() {
            let t = T::from_field(item).map_err(|m| format!("item {i} {m}"))?;
            if out.contains(&t) {
                return Err(format!("item {i} is a duplicate"));
            }
            out.push(t);
        }
        Ok(out)
    }
}

/// Enums of the API: snake_case names, parsed through serde, with the allowed values in the message.
#[macro_export]
macro_rules! choice {
    ($(#[$doc:meta])* $name:ident { $($variant:ident = $text:literal),+ $(,)? }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
        pub enum $name { $(#[serde(rename = $text)] $variant),+ }

        impl $name {
            #[allow(dead_code)]
            pub const ALL: &'static [$name] = &[$($name::$variant),+];
            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text),+ }
            }
        }
        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result { f.write_str(self.as_str()) }
        }
        impl std::str::FromStr for $name {
            type Err = String;
            fn from_str(s: &str) -> Result<Self, String> {
                match s {
                    $($text => Ok($name::$variant),)+
                    _ => Err(format!("must be one of: {}", [$($text),+].join(", "))),
                }
            }
        }
        impl $crate::parse::FromField for $name {
            fn from_field(v: &serde_json::Value) -> Result<Self, String> {
                match v.as_str() {
                    Some(s) => s.parse(),
                    None => Err(format!("must be one of: {}", [$($text),+].join(", "))),
                }
            }
        }
    };
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    choice!(Color { Red = "red", Blue = "blue" });

    #[derive(Debug)]
    #[allow(dead_code)]
    struct Thing {
        name: Line<1, 10>,
        color: Option<Color>,
        tags: Vec<Line<1, 5>>,
        inner: Option<u64>,
    }

    fn parse(v: Value) -> Result<Thing, Invalid> {
        Fields::parse(v, |f| {
            let name = f.req("name");
            let color = f.opt("color");
            let tags = f.opt("tags");
            let inner = f.object("inner", false, |f| f.req::<u64>("n"));
            Some(Thing { name: name?, color: color?, tags: tags?.unwrap_or_default(), inner: inner? })
        })
    }

    fn fields(e: Invalid) -> Vec<String> {
        match e {
            Invalid::Fields(errs) => errs.into_iter().map(|e| e.field).collect(),
            other => panic!("not a validation error: {other:?}"),
        }
    }

    #[test]
    fn every_bad_field_is_listed() {
        let e = parse(
            json!({"name": "", "color": "green", "tags": ["ok", "toolong"], "inner": {"n": -1, "x": 1}, "admin": true}),
        )
        .unwrap_err();
        assert_eq!(fields(e), vec!["name", "color", "tags", "inner.n", "inner.x", "admin"]);
    }

    #[test]
    fn good_input_parses_and_trims() {
        let t = parse(json!({"name": "  Ada ", "color": "red", "inner": {"n": 3}, "tags": null})).unwrap();
        assert_eq!(t.name.0, "Ada");
        assert_eq!(t.color, Some(Color::Red));
        assert_eq!(t.inner, Some(3));
    }

    #[test]
    fn control_characters_and_wrong_types_are_refused() {
        assert_eq!(fields(parse(json!({"name": "a\u{0007}b"})).unwrap_err()), vec!["name"]);
        assert_eq!(fields(parse(json!({"name": 5})).unwrap_err()), vec!["name"]);
        assert_eq!(fields(parse(json!({"name": "x", "tags": ["a", "a"]})).unwrap_err()), vec!["tags"]);
        assert!(matches!(parse(json!([1])), Err(Invalid::Malformed(_))));
    }
}

impl FromField for chrono::NaiveDate {
    fn from_field(v: &Value) -> Result<Self, String> {
        v.as_str()
            .and_then(|s| chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d").ok())
            .ok_or_else(|| "must be a date, YYYY-MM-DD".into())
    }
}

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
mod form_tests {
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
