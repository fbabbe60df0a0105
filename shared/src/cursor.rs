//! Opaque pagination cursors. A cursor is the store's position, signed together with the query it
//! belongs to, so a client can neither read it as a key nor forge or move it to another query.
use crate::error::ApiError;
use base64::{engine::general_purpose::URL_SAFE_NO_PAD as B64, Engine};
use hmac::{Hmac, Mac};
use serde::{de::DeserializeOwned, Serialize};
use sha2::Sha256;

#[derive(Clone)]
pub struct Cursors {
    key: Vec<u8>,
}

impl Cursors {
    pub fn new(key: &[u8]) -> Self {
        Self { key: key.to_vec() }
    }

    fn mac(&self, scope: &str, payload: &[u8]) -> Hmac<Sha256> {
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.key).expect("HMAC takes any key length");
        mac.update(b"cursor\0");
        mac.update(scope.as_bytes());
        mac.update(b"\0");
        mac.update(payload);
        mac
    }

    /// `scope` names the query (index, partition, filters); the cursor only works for that query.
    pub fn encode<T: Serialize>(&self, scope: &str, position: &T) -> String {
        let payload = serde_json::to_vec(position).unwrap_or_default();
        let tag = self.mac(scope, &payload).finalize().into_bytes();
        format!("{}.{}", B64.encode(&payload), B64.encode(tag))
    }

    pub fn decode<T: DeserializeOwned>(&self, scope: &str, cursor: &str) -> Result<T, ApiError> {
        let invalid = || ApiError::field("cursor", "is not a cursor of this list");
        let (payload, tag) = cursor.split_once('.').ok_or_else(invalid)?;
        let payload = B64.decode(payload).map_err(|_| invalid())?;
        let tag = B64.decode(tag).map_err(|_| invalid())?;
        self.mac(scope, &payload)
            .verify_slice(&tag)
            .map_err(|_| invalid())?;
        serde_json::from_slice(&payload).map_err(|_| invalid())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::BTreeMap;

    fn cursors() -> Cursors {
        Cursors::new(b"0123456789abcdef0123456789abcdef")
    }

    #[test]
    fn round_trips_within_its_scope_only() {
        let pos = BTreeMap::from([("pk".to_string(), "JOB#1".to_string())]);
        let c = cursors().encode("jobs:open", &pos);
        assert_eq!(
            cursors()
                .decode::<BTreeMap<String, String>>("jobs:open", &c)
                .unwrap(),
            pos
        );
        assert!(cursors()
            .decode::<BTreeMap<String, String>>("jobs:closed", &c)
            .is_err());
        assert!(Cursors::new(b"another key, another deployment!")
            .decode::<BTreeMap<String, String>>("jobs:open", &c)
            .is_err());
    }

    #[test]
    fn a_forged_position_is_refused() {
        let c = cursors().encode(
            "s",
            &BTreeMap::from([("pk".to_string(), "JOB#1".to_string())]),
        );
        let (_, tag) = c.split_once('.').unwrap();
        let forged = format!("{}.{tag}", B64.encode(br#"{"pk":"CANDIDATE#1"}"#));
        assert!(cursors()
            .decode::<BTreeMap<String, String>>("s", &forged)
            .is_err());
    }

    proptest! {
        #[test]
        fn garbage_never_decodes(s in ".*") {
            prop_assert!(cursors().decode::<BTreeMap<String, String>>("s", &s).is_err());
        }
    }
}
