//! External PSKs and the server-side PSK store.

use std::collections::HashMap;
use std::fmt;

use zeroize::Zeroizing;

use crate::error::Error;
use crate::key_schedule::BinderLabel;
use crate::suites::HashAlgorithm;

/// Shortest PSK accepted (stunnel's limit; 128 bits).
pub const MIN_PSK_LEN: usize = 16;

/// An external PSK: identity, key, the hash it is bound to and its binder
/// label. The key is wiped on drop and never printed by `Debug`.
#[derive(Clone)]
pub struct Psk {
    identity: Vec<u8>,
    key: Zeroizing<Vec<u8>>,
    hash: HashAlgorithm,
    binder: BinderLabel,
}

impl Psk {
    /// A plain external PSK (binder label "ext binder") bound to `hash`.
    /// Fails for an empty identity, an identity longer than 65535 bytes or
    /// a key shorter than [`MIN_PSK_LEN`].
    pub fn new(identity: &[u8], key: &[u8], hash: HashAlgorithm) -> Result<Self, Error> {
        if identity.is_empty() || identity.len() > usize::from(u16::MAX) {
            return Err(Error::Config(
                "PSK identity must be 1 to 65535 bytes long".into(),
            ));
        }
        if key.len() < MIN_PSK_LEN {
            return Err(Error::Config(format!(
                "PSK key is {} bytes; at least {MIN_PSK_LEN} are required",
                key.len()
            )));
        }
        Ok(Self {
            identity: identity.to_vec(),
            key: Zeroizing::new(key.to_vec()),
            hash,
            binder: BinderLabel::External,
        })
    }

    /// Same PSK with another binder label (e.g. [`BinderLabel::Imported`]
    /// for RFC 9258 imported PSKs).
    pub fn with_binder_label(mut self, label: BinderLabel) -> Self {
        self.binder = label;
        self
    }

    /// The identity.
    pub fn identity(&self) -> &[u8] {
        &self.identity
    }

    /// The key bytes.
    pub fn key(&self) -> &[u8] {
        &self.key
    }

    /// The hash this PSK is bound to.
    pub fn hash(&self) -> HashAlgorithm {
        self.hash
    }

    /// The binder label.
    pub fn binder_label(&self) -> BinderLabel {
        self.binder
    }
}

impl fmt::Debug for Psk {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Psk")
            .field("identity", &String::from_utf8_lossy(&self.identity))
            .field("key", &"<redacted>")
            .field("hash", &self.hash)
            .field("binder", &self.binder)
            .finish()
    }
}

/// Where a server looks PSKs up by identity.
pub trait PskStore: Send + Sync {
    /// The PSK for `identity`, if any.
    fn lookup(&self, identity: &[u8]) -> Option<Psk>;
}

/// A fixed set of PSKs held in memory.
#[derive(Default, Clone)]
pub struct StaticPskStore {
    keys: HashMap<Vec<u8>, Psk>,
}

impl StaticPskStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds (or replaces) a PSK.
    pub fn insert(&mut self, psk: Psk) {
        self.keys.insert(psk.identity.clone(), psk);
    }

    /// Number of PSKs.
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// True when empty.
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// Every PSK, in no particular order.
    pub fn iter(&self) -> impl Iterator<Item = &Psk> {
        self.keys.values()
    }
}

impl FromIterator<Psk> for StaticPskStore {
    fn from_iter<I: IntoIterator<Item = Psk>>(iter: I) -> Self {
        let mut s = Self::new();
        for p in iter {
            s.insert(p);
        }
        s
    }
}

impl fmt::Debug for StaticPskStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StaticPskStore")
            .field("len", &self.keys.len())
            .finish()
    }
}

impl PskStore for StaticPskStore {
    fn lookup(&self, identity: &[u8]) -> Option<Psk> {
        self.keys.get(identity).cloned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_does_not_print_key() {
        let key = b"SECRETSECRETSECRET-key-bytes";
        let psk = Psk::new(b"alice", key, HashAlgorithm::Sha256).unwrap();
        let dbg = format!("{psk:?}");
        assert!(dbg.contains("alice"));
        assert!(!dbg.contains("SECRET"));
        assert!(!dbg.contains(&hex::encode(key)));
        assert!(!dbg.contains(&format!("{:?}", key.as_slice())));
        let store: StaticPskStore = [psk].into_iter().collect();
        assert!(!format!("{store:?}").contains("SECRET"));
    }

    #[test]
    fn rejects_short_keys_and_bad_identities() {
        assert!(Psk::new(b"a", &[0; 15], HashAlgorithm::Sha256).is_err());
        assert!(Psk::new(b"", &[0; 16], HashAlgorithm::Sha256).is_err());
        assert!(Psk::new(&vec![1; 70000], &[0; 16], HashAlgorithm::Sha256).is_err());
        assert!(Psk::new(b"a", &[0; 16], HashAlgorithm::Sha256).is_ok());
    }

    #[test]
    fn store_lookup() {
        let mut s = StaticPskStore::new();
        s.insert(Psk::new(b"a", &[1; 16], HashAlgorithm::Sha256).unwrap());
        assert_eq!(s.lookup(b"a").unwrap().key(), &[1; 16]);
        assert!(s.lookup(b"b").is_none());
        assert_eq!(s.len(), 1);
        let p = s
            .lookup(b"a")
            .unwrap()
            .with_binder_label(BinderLabel::Imported);
        assert_eq!(p.binder_label(), BinderLabel::Imported);
    }
}
