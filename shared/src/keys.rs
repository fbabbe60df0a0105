//! The two secrets Rapport holds, read once when a function starts: the signing keys (rotatable)
//! and the email-hash key (never rotated).
//!
//! They are separate because they age differently. Links in emails and cursors are signed with the
//! current signing key and name its id, so a new key can be made current while the old one still
//! verifies the links already sent. The email-hash key makes the keyed hash under which every person,
//! suppression and erasure is stored: a new one would make every unsubscribed or erased address
//! unknown, and so mailable again.
//!
//! In AWS both live in Secrets Manager (`*_SECRET_ARN`); `make dev` and the tests give the values
//! themselves (`SIGNING_KEYS`, `EMAIL_HASH_KEY`).
use crate::config::{Config, ConfigError};
use std::collections::BTreeMap;

/// Shortest key accepted, in bytes.
pub const MIN_KEY_BYTES: usize = 32;

/// Signing keys by id, and the one that signs: `{"current": "k2", "k1": "…", "k2": "…"}`.
#[derive(Clone)]
pub struct Keyring {
    current: String,
    keys: BTreeMap<String, Vec<u8>>,
}

impl Keyring {
    pub fn parse(raw: &str) -> Result<Self, String> {
        let map: BTreeMap<String, String> = serde_json::from_str(raw)
            .map_err(|_| "must be a JSON object of strings: {\"current\": id, id: key, ...}".to_string())?;
        let current = map.get("current").cloned().ok_or("names no current key")?;
        let mut keys = BTreeMap::new();
        for (id, key) in map.into_iter().filter(|(id, _)| id != "current") {
            if id.is_empty() || id.len() > 16 || !id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') {
                return Err("key ids are 1 to 16 letters, digits or dashes".into());
            }
            if key.len() < MIN_KEY_BYTES {
                return Err(format!("key {id} must be at least {MIN_KEY_BYTES} bytes"));
            }
            keys.insert(id, key.into_bytes());
        }
        if !keys.contains_key(&current) {
            return Err(format!("the current key {current:?} is not among the keys"));
        }
        Ok(Self { current, keys })
    }

    /// One key, current: tests and tools.
    pub fn single(id: &str, key: &[u8]) -> Self {
        Self { current: id.to_string(), keys: BTreeMap::from([(id.to_string(), key.to_vec())]) }
    }

    /// The id and key that sign.
    pub fn current(&self) -> (&str, &[u8]) {
        (&self.current, &self.keys[&self.current])
    }

    /// The key with this id, if it is still held.
    pub fn get(&self, id: &str) -> Option<&[u8]> {
        self.keys.get(id).map(Vec::as_slice)
    }
}

/// Where a key comes from.
#[derive(Clone, PartialEq, Eq)]
pub enum KeySource {
    /// The value itself (local stack, tests).
    Value(String),
    /// A Secrets Manager secret's ARN, read at start.
    Secret(String),
}

impl std::fmt::Debug for KeySource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            KeySource::Value(_) => f.write_str("Value(<redacted>)"),
            KeySource::Secret(arn) => write!(f, "Secret({arn})"),
        }
    }
}

/// What a function signs and hashes with.
#[derive(Clone)]
pub struct Keys {
    pub signing: Keyring,
    pub email_hash: Vec<u8>,
}

/// Names of the variables behind each key: (value, secret ARN).
pub const SIGNING_VARS: (&str, &str) = ("SIGNING_KEYS", "SIGNING_KEYS_SECRET_ARN");
pub const EMAIL_HASH_VARS: (&str, &str) = ("EMAIL_HASH_KEY", "EMAIL_HASH_SECRET_ARN");

/// Checks a key's value as the config is read, so a bad one is listed with every other problem.
pub fn check_signing(raw: &str) -> Result<(), String> {
    Keyring::parse(raw).map(|_| ())
}

pub fn check_email_hash(raw: &str) -> Result<(), String> {
    if raw.len() < MIN_KEY_BYTES {
        return Err(format!("must be at least {MIN_KEY_BYTES} bytes"));
    }
    Ok(())
}

impl Keys {
    /// The keys from the values the config holds: no AWS call. `None` if one is a secret.
    pub fn from_values(config: &Config) -> Option<Result<Self, ConfigError>> {
        match (&config.signing_keys, &config.email_hash_key) {
            (KeySource::Value(s), KeySource::Value(h)) => Some(Self::parse(s, h)),
            _ => None,
        }
    }

    /// Reads what is in Secrets Manager (one call per secret, at start); every problem is listed.
    pub async fn load(config: &Config, secrets: &aws_sdk_secretsmanager::Client) -> Result<Self, ConfigError> {
        let (signing, email_hash) =
            (read(&config.signing_keys, secrets).await, read(&config.email_hash_key, secrets).await);
        let mut errors = BTreeMap::new();
        for (var, got) in [(SIGNING_VARS.1, &signing), (EMAIL_HASH_VARS.1, &email_hash)] {
            if let Err(e) = got {
                errors.insert(var, e.clone());
            }
        }
        if !errors.is_empty() {
            return Err(ConfigError(errors));
        }
        Self::parse(&signing.unwrap_or_default(), &email_hash.unwrap_or_default())
    }

    fn parse(signing: &str, email_hash: &str) -> Result<Self, ConfigError> {
        let mut errors = BTreeMap::new();
        let ring = Keyring::parse(signing).map_err(|e| errors.insert(SIGNING_VARS.0, e)).ok();
        if let Err(e) = check_email_hash(email_hash) {
            errors.insert(EMAIL_HASH_VARS.0, e);
        }
        match ring {
            Some(signing) if errors.is_empty() => Ok(Self { signing, email_hash: email_hash.as_bytes().to_vec() }),
            _ => Err(ConfigError(errors)),
        }
    }
}

async fn read(source: &KeySource, secrets: &aws_sdk_secretsmanager::Client) -> Result<String, String> {
    match source {
        KeySource::Value(v) => Ok(v.clone()),
        KeySource::Secret(arn) => match secrets.get_secret_value().secret_id(arn).send().await {
            Ok(out) => out.secret_string.ok_or_else(|| "the secret holds no string".to_string()),
            Err(e) => Err(format!("the secret cannot be read: {}", crate::aws::code(&e))),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keyrings_name_a_current_key_they_hold() {
        let k = "x".repeat(32);
        let ring = Keyring::parse(&format!(r#"{{"current": "k2", "k1": "{k}", "k2": "{}"}}"#, "y".repeat(40))).unwrap();
        assert_eq!(ring.current().0, "k2");
        assert!(ring.get("k1").is_some() && ring.get("k3").is_none());
        for bad in [
            "".to_string(),
            "[]".into(),
            format!(r#"{{"k1": "{k}"}}"#),
            format!(r#"{{"current": "k2", "k1": "{k}"}}"#),
            r#"{"current": "k1", "k1": "short"}"#.into(),
            format!(r#"{{"current": "k 1", "k 1": "{k}"}}"#),
        ] {
            assert!(Keyring::parse(&bad).is_err(), "{bad}");
        }
    }
}
