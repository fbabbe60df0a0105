//! Use cases: what the functions do, in the product's words, over the domain and the ports (store,
//! files, mailer, clock). No HTTP type and no SDK type appears here; a handler or a task parses its
//! input, calls one of these, and maps the answer.

pub mod apply;
pub mod drafts;
pub mod events;
pub mod feeds;
pub mod imports;
pub mod jobs;
pub mod notify;
pub mod nurture;
pub mod pace;
pub mod pipeline;
pub mod pool;
pub mod privacy;
pub mod prospects;
pub mod reports;
pub mod retention;
pub mod webhooks;

use crate::aws::Aws;
use crate::clock::SharedClock;
use crate::config::Config;
use crate::error::ApiError;
use crate::files::Files;
use crate::keys::{Keys, KeysUnavailable, LazyKeys};
use crate::mailer::Mailer;
use crate::outbound::Outbound;
use crate::store::Store;
use crate::token::{Hasher, Signer};
use std::sync::Arc;

/// The ports and what every use case needs, built once per process (per Lambda instance). The AWS
/// clients are handed to the adapters here and to nothing else.
#[derive(Clone)]
pub struct AppState {
    pub config: Arc<Config>,
    pub clock: SharedClock,
    pub store: Store,
    pub files: Files,
    pub mailer: Mailer,
    /// Webhook receivers, reached as far as the config allows.
    pub outbound: Outbound,
    /// The signing and email-hash keys, awaited by what signs or hashes (`signer`, `hasher`).
    pub keys: LazyKeys,
    /// The career site's and this API's hosts: visits from them are not outside referrals.
    pub own_hosts: Arc<Vec<String>>,
}

impl AppState {
    /// The state with keys at hand (the config's values, or a test's).
    pub fn new(config: Config, aws: &Aws, keys: Keys, clock: SharedClock) -> Self {
        Self::with_keys(config, aws, LazyKeys::ready(keys), clock)
    }

    pub fn with_keys(config: Config, aws: &Aws, keys: LazyKeys, clock: SharedClock) -> Self {
        let store = Store::new(aws.dynamo(), config.table.clone(), keys.clone(), clock.clone())
            .with_counter_shards(config.counter_shards);
        let files = Files::new(aws, config.bucket.clone());
        let mailer = Mailer::new(aws, config.sender.clone(), config.ses_configuration_set.clone());
        let own_hosts = [&config.careers_url, &config.public_api_url]
            .iter()
            .filter_map(|u| url::Url::parse(u).ok()?.host_str().map(|h| h.trim_start_matches("www.").to_string()))
            .collect();
        let outbound = Outbound::new(config.webhook_reach());
        Self { config: Arc::new(config), clock, store, files, mailer, outbound, keys, own_hosts: Arc::new(own_hosts) }
    }

    /// Signs links with the current signing key; verifies with any key still held.
    pub async fn signer(&self) -> Result<&Signer, KeysUnavailable> {
        self.keys.signer().await
    }

    /// Keyed hashes of stored values (addresses, idempotency keys), with the key never rotated.
    pub async fn hasher(&self) -> Result<&Hasher, KeysUnavailable> {
        self.keys.hasher().await
    }

    /// The keyed hash under which a person's email is stored and looked up.
    pub async fn email_hash(&self, email: &crate::email::Email) -> Result<crate::email::EmailHash, ApiError> {
        Ok(self.hasher().await?.email(email))
    }
}
