//! Keys by id: the signing keyring, rotatable because every signed value names the key that signed it.
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
