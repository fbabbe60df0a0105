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
use crate::cursor::Cursors;
use crate::error::{ApiError, StoreError};
use crate::token::{Hasher, Signer};
use std::collections::BTreeMap;
use std::sync::Arc;
use tokio::sync::OnceCell;

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

/// The keys as a function holds them: read at the first need (the warm-up started at init,
/// normally), and awaited only by what signs or hashes, so an answer that needs neither (a 422, a 403,
/// the widget's script) never waits for Secrets Manager. A read that fails is logged, answered 503 and
/// tried again at the next need: a fixed permission needs no restart.
#[derive(Clone)]
pub struct LazyKeys(Arc<Lazy>);

struct Lazy {
    ready: OnceCell<Held>,
    /// Where to read them; `None` when they were given ready.
    source: Option<(Arc<Config>, aws_sdk_secretsmanager::Client)>,
}

/// The keys in use: the signer for links, the store's cursors (signed too), the hasher for stored
/// values.
pub struct Held {
    pub signer: Signer,
    pub cursors: Cursors,
    pub hasher: Hasher,
}

impl Held {
    fn new(keys: Keys) -> Self {
        let signer = Signer::new(keys.signing);
        Self { cursors: Cursors::new(signer.clone()), signer, hasher: Hasher::new(&keys.email_hash) }
    }
}

/// The keys could not be read; what the caller answers is a 503.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{0}")]
pub struct KeysUnavailable(pub String);

impl From<KeysUnavailable> for ApiError {
    fn from(e: KeysUnavailable) -> Self {
        ApiError::Unavailable(e.0)
    }
}

impl From<KeysUnavailable> for StoreError {
    fn from(e: KeysUnavailable) -> Self {
        StoreError::Unavailable(e.0)
    }
}

impl LazyKeys {
    /// Keys already at hand (the values in the config, or a test's).
    pub fn ready(keys: Keys) -> Self {
        Self(Arc::new(Lazy { ready: OnceCell::new_with(Some(Held::new(keys))), source: None }))
    }

    /// Keys read from where the config says, at the first `get`.
    pub fn reading(config: Arc<Config>, secrets: aws_sdk_secretsmanager::Client) -> Self {
        Self(Arc::new(Lazy { ready: OnceCell::new(), source: Some((config, secrets)) }))
    }

    pub async fn get(&self) -> Result<&Held, KeysUnavailable> {
        if let Some(held) = self.0.ready.get() {
            return Ok(held);
        }
        self.0.ready.get_or_try_init(|| self.read()).await
    }

    /// Boxed: every use case awaits `get`, and the SDK call's future would otherwise be inlined into
    /// each of theirs.
    fn read(&self) -> std::pin::Pin<Box<dyn std::future::Future<Output = Result<Held, KeysUnavailable>> + Send + '_>> {
        Box::pin(async {
            let Some((config, secrets)) = &self.0.source else {
                return Err(KeysUnavailable("the keys were given but are not held".into()));
            };
            let keys = Keys::load(config, secrets).await.map_err(|e| {
                tracing::error!(error = %e, "the keys cannot be read");
                KeysUnavailable(e.to_string())
            })?;
            Ok(Held::new(keys))
        })
    }

    pub async fn signer(&self) -> Result<&Signer, KeysUnavailable> {
        Ok(&self.get().await?.signer)
    }

    pub async fn hasher(&self) -> Result<&Hasher, KeysUnavailable> {
        Ok(&self.get().await?.hasher)
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
