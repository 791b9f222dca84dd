//! The hash-chained audit log: every record holds SHA-256 of the previous record's bytes, so
//! removing or editing a record breaks the chain ([`verify_chain`]). Records name identities
//! only by their hashed form.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// `prev` of the first record.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// One audit record (stored as its JSON bytes).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct AuditRecord {
    /// Sequence number, from 0.
    pub seq: u64,
    /// Unix seconds.
    pub time: u64,
    /// What happened: `client-secret`, `time-permits`, `server-secret`, `revocation`.
    pub event: String,
    /// Whom it concerns: a hashed identity (short hex) or a server name.
    pub subject: String,
    /// Details (grant id, days, RA key).
    pub detail: String,
    /// SHA-256 (hex) of the previous record's bytes, or [`GENESIS`].
    pub prev: String,
}

/// What to record; [`AuditEvent::into_record`] chains it.
#[derive(Debug, Clone)]
pub struct AuditEvent {
    /// See [`AuditRecord::event`].
    pub event: &'static str,
    /// See [`AuditRecord::subject`].
    pub subject: String,
    /// See [`AuditRecord::detail`].
    pub detail: String,
}

impl AuditEvent {
    /// The record following a record whose bytes hash to `prev`.
    pub fn into_record(self, seq: u64, time: u64, prev: String) -> AuditRecord {
        AuditRecord {
            seq,
            time,
            event: self.event.to_owned(),
            subject: self.subject,
            detail: self.detail,
            prev,
        }
    }
}

/// The hash a following record must carry.
pub fn hash_of(record_bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(record_bytes))
}

/// A broken audit chain.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ChainError {
    /// A record does not parse.
    #[error("audit record {0} does not parse")]
    Parse(u64),
    /// A record's sequence number or `prev` hash does not follow its predecessor.
    #[error("audit chain broken at record {0}")]
    Broken(u64),
}

/// Verifies a sequence of stored records (key, bytes) in order; returns how many there are.
pub fn verify_chain<'a>(
    records: impl IntoIterator<Item = (u64, &'a [u8])>,
) -> Result<u64, ChainError> {
    let mut prev = GENESIS.to_owned();
    let mut n = 0u64;
    for (key, bytes) in records {
        let r: AuditRecord = serde_json::from_slice(bytes).map_err(|_| ChainError::Parse(key))?;
        if r.seq != key || key != n || r.prev != prev {
            return Err(ChainError::Broken(key));
        }
        prev = hash_of(bytes);
        n += 1;
    }
    Ok(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chain(n: u64) -> Vec<Vec<u8>> {
        let mut prev = GENESIS.to_owned();
        (0..n)
            .map(|i| {
                let r = AuditEvent {
                    event: "revocation",
                    subject: format!("s{i}"),
                    detail: String::new(),
                }
                .into_record(i, 10 + i, prev.clone());
                let b = serde_json::to_vec(&r).unwrap();
                prev = hash_of(&b);
                b
            })
            .collect()
    }

    #[test]
    fn chain_verifies_and_detects_edits_and_removals() {
        let c = chain(4);
        let ok = verify_chain(c.iter().enumerate().map(|(i, b)| (i as u64, b.as_slice())));
        assert_eq!(ok, Ok(4));
        let mut edited = c.clone();
        edited[1] = String::from_utf8(edited[1].clone())
            .unwrap()
            .replace("s1", "s9")
            .into_bytes();
        let e = verify_chain(
            edited
                .iter()
                .enumerate()
                .map(|(i, b)| (i as u64, b.as_slice())),
        );
        assert_eq!(e, Err(ChainError::Broken(2)));
        let mut removed = c.clone();
        removed.remove(1);
        let e = verify_chain(
            removed
                .iter()
                .enumerate()
                .map(|(i, b)| (i as u64, b.as_slice())),
        );
        assert_eq!(e, Err(ChainError::Broken(1)));
        let e = verify_chain([(0u64, b"not json".as_slice())]);
        assert_eq!(e, Err(ChainError::Parse(0)));
    }
}
