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
use crate::config::{check_email_hash, Config, ConfigError, KeySource, EMAIL_HASH_VARS, SIGNING_VARS};
use std::collections::BTreeMap;

pub use rapport_domain::keys::Keyring;

/// What a function signs and hashes with.
#[derive(Clone)]
pub struct Keys {
    pub signing: Keyring,
    pub email_hash: Vec<u8>,
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
