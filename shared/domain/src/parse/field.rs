//! How each field type parses: bounded text without control characters, numbers, dates, sets,
//! and the API's enums ([`choice!`](crate::choice)).
use super::FromField;
use serde_json::Value;

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

impl FromField for chrono::NaiveDate {
    fn from_field(v: &Value) -> Result<Self, String> {
        v.as_str()
            .and_then(|s| chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d").ok())
            .ok_or_else(|| "must be a date, YYYY-MM-DD".into())
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
