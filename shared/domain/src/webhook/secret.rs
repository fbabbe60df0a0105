//! Signing secrets as Standard Webhooks writes them (`whsec_` and the base64 of the key), the
//! signature of one attempt, and the day a rotated-out secret keeps signing beside the new one.
use base64::{engine::general_purpose::STANDARD as B64, Engine};
use chrono::{DateTime, Duration, Utc};
use hmac::{Hmac, Mac};
use sha2::Sha256;

/// How many random bytes a secret holds.
pub const SECRET_BYTES: usize = 24;
const SECRET_PREFIX: &str = "whsec_";

/// A signing secret as Standard Webhooks writes it: `whsec_` and the base64 of its key. Shown to the
/// admin once, when made; never logged.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

impl Secret {
    /// A secret of these (random) bytes.
    pub fn from_bytes(key: &[u8; SECRET_BYTES]) -> Secret {
        Secret(format!("{SECRET_PREFIX}{}", B64.encode(key)))
    }

    /// A stored secret; `None` unless it is `whsec_` and base64 of a key.
    pub fn parse(s: &str) -> Option<Secret> {
        let key = B64.decode(s.strip_prefix(SECRET_PREFIX)?).ok()?;
        (!key.is_empty()).then(|| Secret(s.to_string()))
    }

    /// The secret as the admin copies it (`whsec_…`).
    pub fn expose(&self) -> &str {
        &self.0
    }

    fn key(&self) -> Vec<u8> {
        B64.decode(&self.0[SECRET_PREFIX.len()..]).unwrap_or_default()
    }

    /// `v1,<base64 HMAC-SHA256(key, "{id}.{timestamp}.{body}")>`.
    pub fn sign(&self, id: &str, timestamp: i64, body: &str) -> String {
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.key()).expect("HMAC takes any key length");
        mac.update(format!("{id}.{timestamp}.{body}").as_bytes());
        format!("v1,{}", B64.encode(mac.finalize().into_bytes()))
    }
}

/// How long a rotated-out secret still signs, so receivers can switch to the new one unhurried.
pub fn old_secret_valid() -> Duration {
    Duration::hours(24)
}

/// An endpoint's secrets: the current one, and the one it replaced with the time it stops signing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Secrets {
    pub current: Secret,
    pub previous: Option<(Secret, DateTime<Utc>)>,
}

impl Secrets {
    pub fn new(current: Secret) -> Secrets {
        Secrets { current, previous: None }
    }

    /// After a rotation at `now` to `next`: the current secret becomes the previous one for
    /// [`old_secret_valid`]. (A second rotation within that time drops the oldest.)
    pub fn rotated(self, next: Secret, now: DateTime<Utc>) -> Secrets {
        Secrets { current: next, previous: Some((self.current, now + old_secret_valid())) }
    }

    /// The secrets that sign at `now`: the current one first.
    pub fn signing(&self, now: DateTime<Utc>) -> Vec<&Secret> {
        let mut out = vec![&self.current];
        if let Some((old, until)) = &self.previous {
            if now < *until {
                out.push(old);
            }
        }
        out
    }

    /// The three Standard Webhooks headers of one attempt at `now` of message `id` with `body`.
    pub fn headers(&self, id: &str, now: DateTime<Utc>, body: &str) -> [(&'static str, String); 3] {
        let ts = now.timestamp();
        let signatures: Vec<String> = self.signing(now).iter().map(|s| s.sign(id, ts, body)).collect();
        [
            ("webhook-id", id.to_string()),
            ("webhook-timestamp", ts.to_string()),
            ("webhook-signature", signatures.join(" ")),
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn t0() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 12, 1, 9, 0, 0).unwrap()
    }

    #[test]
    fn signs_as_the_reference_library_and_the_spec_do() {
        // The known vector of the Standard Webhooks reference library's own tests (Rust, 1.0.1).
        let secret = Secret::parse("whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD").unwrap();
        assert_eq!(
            secret.sign(
                "msg_27UH4WbU6Z5A5EzD8u03UvzRbpk",
                1649367553,
                r#"{"email":"test@example.com","username":"test_user"}"#
            ),
            "v1,tZ1I4/hDygAJgO5TYxiSd6Sd0kDW6hPenDe+bTa3Kkw="
        );
    }

    #[test]
    fn secrets_are_whsec_and_24_bytes_of_base64() {
        let s = Secret::from_bytes(&[7; SECRET_BYTES]);
        assert!(s.expose().starts_with("whsec_"));
        assert_eq!(B64.decode(&s.expose()[6..]).unwrap().len(), 24);
        assert_eq!(Secret::parse(s.expose()), Some(s.clone()));
        assert!(Secret::parse("whsec_").is_none() && Secret::parse("nope").is_none());
        assert!(!format!("{s:?}").contains("whsec_"), "never in logs");
    }

    #[test]
    fn a_rotated_out_secret_signs_too_for_24_hours() {
        let old = Secret::from_bytes(&[1; SECRET_BYTES]);
        let new = Secret::from_bytes(&[2; SECRET_BYTES]);
        let s = Secrets::new(old.clone()).rotated(new.clone(), t0());
        let [(_, id), (_, ts), (_, sig)] = s.headers("e1", t0() + Duration::hours(23), "{}");
        assert_eq!(id, "e1");
        let ts: i64 = ts.parse().unwrap();
        assert_eq!(sig, format!("{} {}", new.sign("e1", ts, "{}"), old.sign("e1", ts, "{}")));
        let [_, _, (_, sig)] = s.headers("e1", t0() + Duration::hours(24), "{}");
        assert_eq!(sig.split(' ').count(), 1);
        assert_eq!(s.signing(t0() + Duration::hours(24)), vec![&new]);
    }
}
