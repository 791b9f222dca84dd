//! The D-TA's embedded database (redb): revocations, counters, used grant ids, request
//! nonces and the audit log. Every issuance and revocation is one transaction that also
//! appends its audit record: if the record cannot be written nothing is committed and
//! nothing is issued (fail closed).

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};

use mpin_kex::HashedId;
use redb::{Database, ReadableTable, ReadableTableMetadata, TableDefinition};

use crate::audit::{self, AuditEvent, ChainError, GENESIS};

const REVOKED: TableDefinition<&[u8], u64> = TableDefinition::new("revoked");
const COUNTERS: TableDefinition<&str, u64> = TableDefinition::new("counters");
const USED_GRANTS: TableDefinition<&[u8], u64> = TableDefinition::new("used_grants");
const NONCES: TableDefinition<&[u8], u64> = TableDefinition::new("nonces");
const AUDIT: TableDefinition<u64, &[u8]> = TableDefinition::new("audit");

/// Most nonces kept (each lives for the request window only).
const MAX_NONCES: u64 = 100_000;

/// Database errors.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    /// The database is held by another process.
    #[error(
        "{path}: database in use by another process (is `dta-lite serve` running on this folder?)"
    )]
    InUse {
        /// The database file.
        path: String,
    },
    /// A storage error.
    #[error("database: {0}")]
    Storage(String),
    /// The audit record could not be written (nothing was committed).
    #[error("audit log unavailable: {0}; refusing to issue (fail closed)")]
    Audit(String),
    /// The grant id was already used at this D-TA.
    #[error("grant already used at this D-TA; ask the RA for a new grant")]
    GrantUsed,
    /// The audit chain does not verify.
    #[error(transparent)]
    Chain(#[from] ChainError),
}

fn st<E: Into<redb::Error>>(e: E) -> DbError {
    DbError::Storage(e.into().to_string())
}

/// The database.
pub struct Db {
    db: Database,
    fail_audit: AtomicBool,
}

impl std::fmt::Debug for Db {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Db")
    }
}

/// Counter names.
pub mod counter {
    /// Client-secret shares issued.
    pub const CLIENT_SECRETS: &str = "client_secrets_issued";
    /// Time-permit shares issued (one per day).
    pub const TIME_PERMITS: &str = "time_permits_issued";
    /// Server-secret shares issued.
    pub const SERVER_SECRETS: &str = "server_secrets_issued";
    /// Device-key issuances (one per device grant, whatever its keys).
    pub const DEVICE_KEYS: &str = "device_keys_issued";
    /// Device-permit issuances (one per day, whatever the keys).
    pub const DEVICE_PERMITS: &str = "device_permits_issued";
    /// Revocations recorded.
    pub const REVOCATIONS: &str = "revocations";
}

impl Db {
    /// Opens (or creates) the database file.
    pub fn open(path: &Path) -> Result<Self, DbError> {
        let db = Database::create(path).map_err(|e| match e {
            redb::DatabaseError::DatabaseAlreadyOpen => DbError::InUse {
                path: path.display().to_string(),
            },
            e => DbError::Storage(format!("{}: {e}", path.display())),
        })?;
        let tx = db.begin_write().map_err(st)?;
        {
            tx.open_table(REVOKED).map_err(st)?;
            tx.open_table(COUNTERS).map_err(st)?;
            tx.open_table(USED_GRANTS).map_err(st)?;
            tx.open_table(NONCES).map_err(st)?;
            tx.open_table(AUDIT).map_err(st)?;
        }
        tx.commit().map_err(st)?;
        Ok(Self {
            db,
            fail_audit: AtomicBool::new(false),
        })
    }

    /// Test hook: make every audit append fail (as a full or read-only disk would).
    #[doc(hidden)]
    pub fn inject_audit_failure(&self, on: bool) {
        self.fail_audit.store(on, Ordering::SeqCst);
    }

    /// Whether an identity is revoked.
    pub fn is_revoked(&self, id: &HashedId) -> Result<bool, DbError> {
        let tx = self.db.begin_read().map_err(st)?;
        let t = tx.open_table(REVOKED).map_err(st)?;
        Ok(t.get(id.as_bytes().as_slice()).map_err(st)?.is_some())
    }

    /// Number of revoked identities.
    pub fn revoked_count(&self) -> Result<u64, DbError> {
        let tx = self.db.begin_read().map_err(st)?;
        let t = tx.open_table(REVOKED).map_err(st)?;
        t.len().map_err(st)
    }

    /// All counters.
    pub fn counters(&self) -> Result<Vec<(String, u64)>, DbError> {
        let tx = self.db.begin_read().map_err(st)?;
        let t = tx.open_table(COUNTERS).map_err(st)?;
        let mut out = Vec::new();
        for item in t.iter().map_err(st)? {
            let (k, v) = item.map_err(st)?;
            out.push((k.value().to_owned(), v.value()));
        }
        Ok(out)
    }

    /// Verifies the audit chain; returns the number of records.
    pub fn verify_audit(&self) -> Result<u64, DbError> {
        let tx = self.db.begin_read().map_err(st)?;
        let t = tx.open_table(AUDIT).map_err(st)?;
        let mut recs = Vec::new();
        for item in t.iter().map_err(st)? {
            let (k, v) = item.map_err(st)?;
            recs.push((k.value(), v.value().to_vec()));
        }
        Ok(audit::verify_chain(
            recs.iter().map(|(k, v)| (*k, v.as_slice())),
        )?)
    }

    /// All audit records' bytes (for inspection and tests).
    pub fn audit_records(&self) -> Result<Vec<Vec<u8>>, DbError> {
        let tx = self.db.begin_read().map_err(st)?;
        let t = tx.open_table(AUDIT).map_err(st)?;
        let mut out = Vec::new();
        for item in t.iter().map_err(st)? {
            out.push(item.map_err(st)?.1.value().to_vec());
        }
        Ok(out)
    }

    /// Records an issuance in one transaction: consumes `grant_id` (if given; fails with
    /// [`DbError::GrantUsed`] when already used), adds `count` to `counter_name`, and
    /// appends the audit record. Issue the share only after this returned `Ok`.
    pub fn record_issuance(
        &self,
        event: AuditEvent,
        grant_id: Option<&[u8; 16]>,
        counter_name: &str,
        count: u64,
        now: u64,
    ) -> Result<(), DbError> {
        let tx = self.db.begin_write().map_err(st)?;
        if let Some(gid) = grant_id {
            let mut t = tx.open_table(USED_GRANTS).map_err(st)?;
            if t.get(gid.as_slice()).map_err(st)?.is_some() {
                return Err(DbError::GrantUsed);
            }
            t.insert(gid.as_slice(), now).map_err(st)?;
        }
        bump(&tx, counter_name, count)?;
        self.append_audit(&tx, event, now)?;
        tx.commit()
            .map_err(|e| DbError::Audit(redb::Error::from(e).to_string()))
    }

    /// Revokes an identity (idempotent); returns whether it was newly revoked.
    pub fn revoke(&self, id: &HashedId, by: &str, now: u64) -> Result<bool, DbError> {
        let tx = self.db.begin_write().map_err(st)?;
        let newly = {
            let mut t = tx.open_table(REVOKED).map_err(st)?;
            let had = t.get(id.as_bytes().as_slice()).map_err(st)?.is_some();
            if !had {
                t.insert(id.as_bytes().as_slice(), now).map_err(st)?;
            }
            !had
        };
        if newly {
            bump(&tx, counter::REVOCATIONS, 1)?;
        }
        self.append_audit(
            &tx,
            AuditEvent {
                event: "revocation",
                subject: id.short_hex(),
                detail: format!("by {by}; newly revoked: {newly}"),
            },
            now,
        )?;
        tx.commit()
            .map_err(|e| DbError::Audit(redb::Error::from(e).to_string()))?;
        Ok(newly)
    }

    /// Records a request nonce until `expires`; `Ok(false)` if it was seen before (a replay).
    /// Fails closed when the table is full of live nonces.
    pub fn insert_nonce(&self, nonce: &[u8; 16], now: u64, expires: u64) -> Result<bool, DbError> {
        let tx = self.db.begin_write().map_err(st)?;
        {
            let mut t = tx.open_table(NONCES).map_err(st)?;
            if t.get(nonce.as_slice()).map_err(st)?.is_some() {
                return Ok(false);
            }
            if t.len().map_err(st)? >= MAX_NONCES / 2 {
                t.retain(|_, exp| exp >= now).map_err(st)?;
                if t.len().map_err(st)? >= MAX_NONCES {
                    return Ok(false);
                }
            }
            t.insert(nonce.as_slice(), expires).map_err(st)?;
        }
        tx.commit().map_err(st)?;
        Ok(true)
    }

    fn append_audit(
        &self,
        tx: &redb::WriteTransaction,
        event: AuditEvent,
        now: u64,
    ) -> Result<(), DbError> {
        let audit_err = |e: redb::Error| DbError::Audit(e.to_string());
        if self.fail_audit.load(Ordering::SeqCst) {
            return Err(DbError::Audit("injected failure".to_owned()));
        }
        let mut t = tx.open_table(AUDIT).map_err(|e| audit_err(e.into()))?;
        let (seq, prev) = match t.last().map_err(|e| audit_err(e.into()))? {
            Some((k, v)) => (k.value() + 1, audit::hash_of(v.value())),
            None => (0, GENESIS.to_owned()),
        };
        let rec = event.into_record(seq, now, prev);
        let bytes = serde_json::to_vec(&rec).map_err(|e| DbError::Audit(e.to_string()))?;
        t.insert(seq, bytes.as_slice())
            .map_err(|e| audit_err(e.into()))?;
        Ok(())
    }
}

fn bump(tx: &redb::WriteTransaction, name: &str, by: u64) -> Result<(), DbError> {
    let mut t = tx.open_table(COUNTERS).map_err(st)?;
    let cur = t.get(name).map_err(st)?.map(|g| g.value()).unwrap_or(0);
    t.insert(name, cur.saturating_add(by)).map_err(st)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev() -> AuditEvent {
        AuditEvent {
            event: "client-secret",
            subject: "abc".into(),
            detail: String::new(),
        }
    }

    #[test]
    fn issuance_consumes_grants_counts_and_chains() {
        let d = tempfile::tempdir().unwrap();
        let db = Db::open(&d.path().join("db")).unwrap();
        db.record_issuance(ev(), Some(&[1; 16]), counter::CLIENT_SECRETS, 1, 5)
            .unwrap();
        assert!(matches!(
            db.record_issuance(ev(), Some(&[1; 16]), counter::CLIENT_SECRETS, 1, 6),
            Err(DbError::GrantUsed)
        ));
        db.record_issuance(ev(), None, counter::TIME_PERMITS, 3, 7)
            .unwrap();
        let c = db.counters().unwrap();
        assert!(c.contains(&(counter::CLIENT_SECRETS.to_owned(), 1)));
        assert!(c.contains(&(counter::TIME_PERMITS.to_owned(), 3)));
        assert_eq!(db.verify_audit().unwrap(), 2);
    }

    #[test]
    fn audit_failure_commits_nothing() {
        let d = tempfile::tempdir().unwrap();
        let db = Db::open(&d.path().join("db")).unwrap();
        db.inject_audit_failure(true);
        assert!(matches!(
            db.record_issuance(ev(), Some(&[2; 16]), counter::CLIENT_SECRETS, 1, 5),
            Err(DbError::Audit(_))
        ));
        let id = HashedId::of(b"x");
        assert!(matches!(db.revoke(&id, "test", 5), Err(DbError::Audit(_))));
        assert!(!db.is_revoked(&id).unwrap());
        db.inject_audit_failure(false);
        // The grant was not consumed and no counter moved.
        assert!(db.counters().unwrap().is_empty());
        db.record_issuance(ev(), Some(&[2; 16]), counter::CLIENT_SECRETS, 1, 5)
            .unwrap();
        assert_eq!(db.verify_audit().unwrap(), 1);
    }

    #[test]
    fn revocations_and_nonces_survive_reopen() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("db");
        let id = HashedId::of(b"x");
        {
            let db = Db::open(&p).unwrap();
            assert!(db.revoke(&id, "test", 5).unwrap());
            assert!(!db.revoke(&id, "test", 6).unwrap());
            assert!(db.insert_nonce(&[7; 16], 5, 65).unwrap());
            assert!(!db.insert_nonce(&[7; 16], 6, 66).unwrap());
            assert!(matches!(Db::open(&p), Err(DbError::InUse { .. })));
        }
        let db = Db::open(&p).unwrap();
        assert!(db.is_revoked(&id).unwrap());
        assert!(!db.is_revoked(&HashedId::of(b"y")).unwrap());
        assert_eq!(db.revoked_count().unwrap(), 1);
        assert!(!db.insert_nonce(&[7; 16], 7, 67).unwrap());
        assert_eq!(db.verify_audit().unwrap(), 2);
    }
}
