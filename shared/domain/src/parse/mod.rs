//! Parsing at the edge: a JSON object becomes a domain value, or a list of every bad field.
//!
//! [`Fields`] takes fields out of the object one by one; whatever is left at [`Fields::finish`] is an
//! unknown field (no mass assignment). Each field type says how it parses in [`FromField`].
//!
//! Here: [`Fields`], which collects every field error of a body. `field`: how each field type
//! parses; `form`: form posts and JSON depth, checked before a body is parsed.
mod field;
mod form;

use crate::error::{FieldError, Invalid};
use serde_json::{Map, Value};

pub use field::{Line, Text};
pub use form::{
    form_to_json, json_too_deep, MAX_FORM_FIELDS, MAX_FORM_NAME_BYTES, MAX_FORM_NAME_PARTS, MAX_JSON_DEPTH,
};

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

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    crate::choice!(Color { Red = "red", Blue = "blue" });

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
