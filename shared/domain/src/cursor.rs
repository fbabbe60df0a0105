//! Opaque pagination cursors. A cursor is the store's position, signed together with the query it
//! belongs to, so a client can neither read it as a key nor forge or move it to another query.
use crate::error::Invalid;
use crate::token::Signer;
use serde::{de::DeserializeOwned, Serialize};

#[derive(Clone)]
pub struct Cursors {
    signer: Signer,
}

impl Cursors {
    pub fn new(signer: Signer) -> Self {
        Self { signer }
    }

    /// `scope` names the query (index, partition, filters); the cursor only works for that query.
    pub fn encode<T: Serialize>(&self, scope: &str, position: &T) -> String {
        self.signer.sign(&format!("cursor:{scope}"), position, None)
    }

    pub fn decode<T: DeserializeOwned>(&self, scope: &str, cursor: &str) -> Result<T, Invalid> {
        // Cursors never expire, so the time does not matter.
        self.signer
            .verify(&format!("cursor:{scope}"), cursor, chrono::DateTime::UNIX_EPOCH)
            .ok_or_else(|| Invalid::field("cursor", "is not a cursor of this list"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::{engine::general_purpose::URL_SAFE_NO_PAD as B64, Engine};
    use proptest::prelude::*;
    use std::collections::BTreeMap;

    fn cursors() -> Cursors {
        Cursors::new(Signer::new(crate::keys::Keyring::single("k1", b"0123456789abcdef0123456789abcdef")))
    }

    #[test]
    fn round_trips_within_its_scope_only() {
        let pos = BTreeMap::from([("pk".to_string(), "JOB#1".to_string())]);
        let c = cursors().encode("jobs:open", &pos);
        assert_eq!(cursors().decode::<BTreeMap<String, String>>("jobs:open", &c).unwrap(), pos);
        assert!(cursors().decode::<BTreeMap<String, String>>("jobs:closed", &c).is_err());
        assert!(Cursors::new(Signer::new(crate::keys::Keyring::single("k1", b"another key, another deployment!")))
            .decode::<BTreeMap<String, String>>("jobs:open", &c)
            .is_err());
    }

    #[test]
    fn a_forged_position_is_refused() {
        let c = cursors().encode("s", &BTreeMap::from([("pk".to_string(), "JOB#1".to_string())]));
        let (_, tag) = c.split_once('.').unwrap();
        let forged = format!("{}.{tag}", B64.encode(br#"{"c":{"pk":"CANDIDATE#1"}}"#));
        assert!(cursors().decode::<BTreeMap<String, String>>("s", &forged).is_err());
    }

    proptest! {
        #[test]
        fn garbage_never_decodes(s in ".*") {
            prop_assert!(cursors().decode::<BTreeMap<String, String>>("s", &s).is_err());
        }
    }
}
