//! The signed links in the pool's emails: confirming a sign-up (double opt-in) and unsubscribing.
use crate::email::EmailHash;
use crate::ids::CampaignId;
use crate::token::Signer;
use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

/// What a confirmation or unsubscribe link carries: the person's keyed email hash, nothing readable.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PersonRef {
    pub h: EmailHash,
    /// The campaign whose email carried the link, if any (so the unsubscribe is counted against it).
    /// Serialised as the id's string, so tokens read as before.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub c: Option<CampaignId>,
    /// The pending request a confirmation link confirms (see `Store::confirm_subscription`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub n: Option<String>,
}

pub const CONFIRM: &str = "talent-pool-confirm";
pub const UNSUBSCRIBE: &str = "unsubscribe";
/// How long a double opt-in link works.
pub const CONFIRM_TTL_DAYS: i64 = 7;

/// A confirmation link's token: for the pending request under `nonce` (a sign-up, a drop-off's tick,
/// a silver medalist's request), or, without one, for an import's.
pub fn confirm_token(signer: &Signer, email_hash: &EmailHash, nonce: Option<&str>, now: DateTime<Utc>) -> String {
    signer.sign(
        CONFIRM,
        &PersonRef { h: email_hash.clone(), c: None, n: nonce.map(str::to_string) },
        Some(now + Duration::days(CONFIRM_TTL_DAYS)),
    )
}

/// Unsubscribe links never expire: a person may use an old email to leave.
pub fn unsubscribe_token(signer: &Signer, email_hash: &EmailHash) -> String {
    unsubscribe_token_for(signer, email_hash, None)
}

pub fn unsubscribe_token_for(signer: &Signer, email_hash: &EmailHash, campaign: Option<CampaignId>) -> String {
    signer.sign(UNSUBSCRIBE, &PersonRef { h: email_hash.clone(), c: campaign, n: None }, None)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::prospect::tests::hash;

    #[test]
    fn links_are_purpose_bound() {
        let s = Signer::new(crate::keys::Keyring::single("k1", &[7; 32]));
        let now = Utc::now();
        let h1 = hash(1);
        let c = confirm_token(&s, &h1, None, now);
        assert!(s.verify::<PersonRef>(UNSUBSCRIBE, &c, now).is_none());
        assert_eq!(s.verify::<PersonRef>(CONFIRM, &c, now).unwrap().h, h1);
        assert!(s.verify::<PersonRef>(CONFIRM, &c, now + Duration::days(8)).is_none());
        let u = unsubscribe_token(&s, &h1);
        assert_eq!(s.verify::<PersonRef>(UNSUBSCRIBE, &u, now + Duration::days(3650)).unwrap().h, h1);
    }
}
