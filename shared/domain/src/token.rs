//! Signed, purpose-bound tokens: pagination cursors, links in emails (confirm, unsubscribe,
//! attribution). A token names its purpose in the MAC, so one kind can never be used as another, and
//! the id of the key that signed it, so keys can be rotated; the MAC is compared in constant time.
//! Keyed hashes (email addresses, idempotency keys, rate-limit buckets) use the separate key that is
//! never rotated: they are stored.
use base64::{engine::general_purpose::URL_SAFE_NO_PAD as B64, Engine};
use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use serde::{de::DeserializeOwned, Deserialize, Serialize};
use sha2::Sha256;

#[derive(Clone)]
pub struct Signer {
    keys: crate::keys::Keyring,
}

fn mac(key: &[u8], purpose: &str, payload: &[u8]) -> Hmac<Sha256> {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes any key length");
    mac.update(purpose.as_bytes());
    mac.update(b"\0");
    mac.update(payload);
    mac
}

#[derive(Serialize, Deserialize)]
struct Envelope<T> {
    c: T,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    exp: Option<i64>,
}

impl Signer {
    pub fn new(keys: crate::keys::Keyring) -> Self {
        Self { keys }
    }

    pub fn sign<T: Serialize>(&self, purpose: &str, claims: &T, expires: Option<DateTime<Utc>>) -> String {
        let payload =
            serde_json::to_vec(&Envelope { c: claims, exp: expires.map(|t| t.timestamp()) }).unwrap_or_default();
        let (id, key) = self.keys.current();
        let tag = mac(key, purpose, &payload).finalize().into_bytes();
        format!("{id}.{}.{}", B64.encode(&payload), B64.encode(tag))
    }

    /// The claims, if the token is intact, for this purpose, and not expired at `now`.
    pub fn verify<T: DeserializeOwned>(&self, purpose: &str, token: &str, now: DateTime<Utc>) -> Option<T> {
        let (id, rest) = token.trim().split_once('.')?;
        let (payload, tag) = rest.split_once('.')?;
        let key = self.keys.get(id)?;
        let payload = B64.decode(payload).ok()?;
        let tag = B64.decode(tag).ok()?;
        mac(key, purpose, &payload).verify_slice(&tag).ok()?;
        let env: Envelope<T> = serde_json::from_slice(&payload).ok()?;
        match env.exp {
            Some(exp) if exp <= now.timestamp() => None,
            _ => Some(env.c),
        }
    }
}

/// Keyed hashes of what is stored by value: with the key that is never rotated.
#[derive(Clone)]
pub struct Hasher {
    key: Vec<u8>,
}

impl Hasher {
    pub fn new(key: &[u8]) -> Self {
        Self { key: key.to_vec() }
    }

    /// Lets the store find a person by email without keeping the address in a key, and is all that
    /// remains of an erased person's address.
    pub fn keyed_hash(&self, purpose: &str, value: &str) -> String {
        let bytes = mac(&self.key, purpose, value.as_bytes()).finalize().into_bytes();
        bytes.iter().take(20).map(|b| format!("{b:02x}")).collect()
    }

    /// The keyed hash under which a person's (normalised) address is stored.
    pub fn email(&self, email: &crate::email::Email) -> crate::email::EmailHash {
        crate::email::EmailHash::from_hex(self.keyed_hash("email", &email.0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Duration;

    fn ring(id: &str, key: &[u8]) -> crate::keys::Keyring {
        crate::keys::Keyring::single(id, key)
    }

    #[test]
    fn tokens_are_bound_to_purpose_key_and_time() {
        let s = Signer::new(ring("k1", b"0123456789abcdef0123456789abcdef"));
        let now = Utc::now();
        let t = s.sign("unsubscribe", &"p1", Some(now + Duration::hours(1)));
        assert_eq!(s.verify::<String>("unsubscribe", &t, now).as_deref(), Some("p1"));
        assert_eq!(s.verify::<String>("confirm", &t, now), None);
        assert_eq!(s.verify::<String>("unsubscribe", &t, now + Duration::hours(2)), None);
        assert_eq!(
            Signer::new(ring("k1", b"another key entirely, 32 bytes!!")).verify::<String>("unsubscribe", &t, now),
            None
        );
        let (id, rest) = t.split_once('.').unwrap();
        let (p, tag) = rest.split_once('.').unwrap();
        let forged = format!("{id}.{}.{tag}", B64.encode(br#"{"c":"p2"}"#));
        assert_eq!(s.verify::<String>("unsubscribe", &forged, now), None);
        assert!(s.verify::<String>("unsubscribe", &format!("{id}.{p}.{p}"), now).is_none());
        assert!(s.verify::<String>("unsubscribe", rest, now).is_none(), "a token names its key");
        let h = Hasher::new(b"0123456789abcdef0123456789abcdef");
        assert_eq!(h.keyed_hash("email", "a@b.co").len(), 40);
        assert_ne!(h.keyed_hash("email", "a@b.co"), h.keyed_hash("email", "a@b.com"));
    }

    #[test]
    fn a_new_current_key_signs_while_the_old_one_still_verifies() {
        let (k1, k2) = (b"first key, thirty-two bytes long".as_slice(), b"second key, also 32 bytes long!!".as_slice());
        let old = Signer::new(ring("k1", k1));
        let raw = format!(
            r#"{{"current": "k2", "k1": "{}", "k2": "{}"}}"#,
            std::str::from_utf8(k1).unwrap(),
            std::str::from_utf8(k2).unwrap()
        );
        let rotated = Signer::new(crate::keys::Keyring::parse(&raw).unwrap());
        let now = Utc::now();
        let before = old.sign("unsubscribe", &"p1", None);
        assert_eq!(rotated.verify::<String>("unsubscribe", &before, now).as_deref(), Some("p1"));
        let after = rotated.sign("unsubscribe", &"p1", None);
        assert!(after.starts_with("k2."), "{after}");
        assert_eq!(old.verify::<String>("unsubscribe", &after, now), None, "k2 is unknown to the old ring");
        // A forged id cannot make another key verify.
        let relabelled = format!("k1.{}", after.split_once('.').unwrap().1);
        assert_eq!(rotated.verify::<String>("unsubscribe", &relabelled, now), None);
    }
}
