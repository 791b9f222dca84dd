//! Self-contained tickets: the server's ticket keys ([`TicketKeys`]) and the sealed format.
//!
//! A ticket is `key id (4) ‖ nonce (12) ‖ AES-256-GCM(key, nonce, aad = TAG ‖ key id,
//! entry)`, where the entry is `ticket id (16) ‖ hash (1) ‖ expires (8) ‖ chain not after (8)
//! ‖ psk length (1) ‖ psk ‖ app data`. Any server holding the key opens it: replicas sharing
//! a key resume each other's tickets, and a restarted server resumes the tickets it issued
//! before. The key is named by its id so a rotation keeps the previous key accepted.

use std::fmt;
use std::path::Path;

use aws_lc_rs::aead::{Aad, LessSafeKey, Nonce, UnboundKey, AES_256_GCM, NONCE_LEN};
use zeroize::Zeroizing;

use crate::error::Error;
use crate::suites::HashAlgorithm;

/// Associated data of every sealed ticket (with the key id).
const TAG: &[u8] = b"milagro-tls ticket v1";

/// Length of a ticket key id.
pub const KEY_ID_LEN: usize = 4;
/// Length of a ticket's single-use id (inside the sealed entry).
pub const TICKET_ID_LEN: usize = 16;
/// Length of a ticket key (AES-256).
pub const TICKET_KEY_LEN: usize = 32;

/// Why a ticket key file cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum TicketKeyError {
    /// The file cannot be read.
    #[error("cannot read the ticket key file {path}: {source}")]
    Read {
        /// The file.
        path: String,
        /// The I/O error.
        source: std::io::Error,
    },
    /// Group or others may read it.
    #[error("the ticket key file {path} has mode {mode:o}; it holds secret keys: make it readable by its owner only (chmod 600 {path})")]
    Mode {
        /// The file.
        path: String,
        /// Its permission bits.
        mode: u32,
    },
    /// A line is not `ID KEY` in hex.
    #[error("the ticket key file {path}, line {line}: expected \"<8 hex digits: key id> <64 hex digits: key>\" (first line the current key, an optional second line the previous one)")]
    Format {
        /// The file.
        path: String,
        /// 1-based line number.
        line: usize,
    },
    /// No key, or more than two.
    #[error("the ticket key file {path} must hold one or two keys (current, then previous); it holds {count}")]
    Count {
        /// The file.
        path: String,
        /// Keys found.
        count: usize,
    },
}

/// One ticket key: an id and 32 secret bytes (wiped on drop, never printed).
#[derive(Clone)]
pub struct TicketKey {
    id: [u8; KEY_ID_LEN],
    secret: Zeroizing<[u8; TICKET_KEY_LEN]>,
}

impl TicketKey {
    /// A key from its id and secret bytes.
    pub fn new(id: [u8; KEY_ID_LEN], secret: &[u8; TICKET_KEY_LEN]) -> Self {
        Self {
            id,
            secret: Zeroizing::new(*secret),
        }
    }

    /// A fresh random key with a random id.
    pub fn generate() -> Result<Self, Error> {
        let mut id = [0u8; KEY_ID_LEN];
        let mut secret = Zeroizing::new([0u8; TICKET_KEY_LEN]);
        aws_lc_rs::rand::fill(&mut id).map_err(|_| Error::Internal("random"))?;
        aws_lc_rs::rand::fill(&mut secret[..]).map_err(|_| Error::Internal("random"))?;
        Ok(Self { id, secret })
    }

    /// The key id (public: it is the first bytes of every ticket).
    pub fn id(&self) -> [u8; KEY_ID_LEN] {
        self.id
    }

    /// The secret bytes (e.g. to store the key in a shared state store).
    pub fn secret(&self) -> &[u8; TICKET_KEY_LEN] {
        &self.secret
    }

    fn aead(&self) -> Result<LessSafeKey, Error> {
        UnboundKey::new(&AES_256_GCM, &self.secret[..])
            .map(LessSafeKey::new)
            .map_err(|_| Error::Internal("ticket key"))
    }
}

impl fmt::Debug for TicketKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TicketKey")
            .field("id", &hex::encode(self.id))
            .finish_non_exhaustive()
    }
}

/// The server's ticket keys: tickets are sealed under the current key and opened under the
/// current or the previous one (a rotation keeps tickets of the last period valid).
#[derive(Clone, Debug)]
pub struct TicketKeys {
    current: TicketKey,
    previous: Option<TicketKey>,
}

impl TicketKeys {
    /// Keys with `current` and, optionally, the `previous` one.
    pub fn new(current: TicketKey, previous: Option<TicketKey>) -> Self {
        Self { current, previous }
    }

    /// A fresh random key of this process only (tickets do not survive a restart).
    pub fn generate() -> Result<Self, Error> {
        Ok(Self::new(TicketKey::generate()?, None))
    }

    /// Rotation: `next` becomes current, the current key becomes the previous one and the
    /// previous one is dropped (its tickets are refused from now on).
    pub fn rotated(&self, next: TicketKey) -> Self {
        Self::new(next, Some(self.current.clone()))
    }

    /// The key new tickets are sealed under.
    pub fn current(&self) -> &TicketKey {
        &self.current
    }

    /// The previous key, still accepted.
    pub fn previous(&self) -> Option<&TicketKey> {
        self.previous.as_ref()
    }

    /// Reads `ticket_key_file`: one line `ID KEY` (8 and 64 hex digits) for the current key,
    /// optionally a second for the previous one; `#` comments and blank lines are ignored.
    /// On Unix the file must not be readable by group or others (mode 0600 or stricter).
    pub fn from_file(path: &Path) -> Result<Self, TicketKeyError> {
        let shown = path.display().to_string();
        let read = |source| TicketKeyError::Read {
            path: shown.clone(),
            source,
        };
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(path).map_err(read)?.permissions().mode() & 0o777;
            if mode & 0o077 != 0 {
                return Err(TicketKeyError::Mode {
                    path: shown.clone(),
                    mode,
                });
            }
        }
        let text = Zeroizing::new(std::fs::read_to_string(path).map_err(read)?);
        Self::from_text(&text, &shown)
    }

    /// Parses the text of a ticket key file (see [`from_file`](Self::from_file)); `source`
    /// names it in errors.
    pub fn from_text(text: &str, source: &str) -> Result<Self, TicketKeyError> {
        let shown = source.to_owned();
        let mut keys = Vec::new();
        for (n, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let format = || TicketKeyError::Format {
                path: shown.clone(),
                line: n + 1,
            };
            let mut parts = line.split_whitespace();
            let (Some(id), Some(secret), None) = (parts.next(), parts.next(), parts.next()) else {
                return Err(format());
            };
            let mut key_id = [0u8; KEY_ID_LEN];
            let mut key = Zeroizing::new([0u8; TICKET_KEY_LEN]);
            hex::decode_to_slice(id, &mut key_id).map_err(|_| format())?;
            hex::decode_to_slice(secret, &mut key[..]).map_err(|_| format())?;
            keys.push(TicketKey::new(key_id, &key));
        }
        let count = keys.len();
        let mut keys = keys.into_iter();
        match (keys.next(), keys.next(), keys.next()) {
            (Some(current), previous, None) => Ok(Self::new(current, previous)),
            _ => Err(TicketKeyError::Count { path: shown, count }),
        }
    }

    fn by_id(&self, id: &[u8]) -> Option<&TicketKey> {
        std::iter::once(&self.current)
            .chain(self.previous.as_ref())
            .find(|k| k.id[..] == *id)
    }
}

/// What a sealed ticket holds.
pub(crate) struct Sealed {
    pub(crate) id: [u8; TICKET_ID_LEN],
    pub(crate) hash: HashAlgorithm,
    pub(crate) expires: u64,
    pub(crate) chain_not_after: u64,
    pub(crate) psk: Zeroizing<Vec<u8>>,
    pub(crate) app_data: Vec<u8>,
}

fn hash_code(h: HashAlgorithm) -> u8 {
    match h {
        HashAlgorithm::Sha256 => 1,
        HashAlgorithm::Sha384 => 2,
    }
}

impl TicketKeys {
    /// Seals `entry` under the current key.
    pub(crate) fn seal(&self, entry: &Sealed) -> Result<Vec<u8>, Error> {
        let psk_len = u8::try_from(entry.psk.len()).map_err(|_| Error::Internal("psk length"))?;
        let mut nonce = [0u8; NONCE_LEN];
        aws_lc_rs::rand::fill(&mut nonce).map_err(|_| Error::Internal("random"))?;
        let mut body = Zeroizing::new(Vec::with_capacity(64 + entry.app_data.len()));
        body.extend_from_slice(&entry.id);
        body.push(hash_code(entry.hash));
        body.extend_from_slice(&entry.expires.to_be_bytes());
        body.extend_from_slice(&entry.chain_not_after.to_be_bytes());
        body.push(psk_len);
        body.extend_from_slice(&entry.psk);
        body.extend_from_slice(&entry.app_data);
        let key = &self.current;
        let aad = [TAG, &key.id[..]].concat();
        key.aead()?
            .seal_in_place_append_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(aad),
                &mut *body,
            )
            .map_err(|_| Error::Internal("ticket seal"))?;
        // `body` now holds only ciphertext and tag
        let mut ticket = Vec::with_capacity(KEY_ID_LEN + NONCE_LEN + body.len());
        ticket.extend_from_slice(&key.id);
        ticket.extend_from_slice(&nonce);
        ticket.extend_from_slice(&body);
        Ok(ticket)
    }

    /// Opens a ticket sealed under the current or previous key; `None` for an unknown key
    /// id, a tampered or truncated ticket, or a malformed entry.
    pub(crate) fn open(&self, ticket: &[u8]) -> Option<Sealed> {
        let (key_id, rest) = ticket.split_at_checked(KEY_ID_LEN)?;
        let (nonce, ciphertext) = rest.split_at_checked(NONCE_LEN)?;
        let key = self.by_id(key_id)?;
        let aad = [TAG, key_id].concat();
        let mut buf = Zeroizing::new(ciphertext.to_vec());
        let nonce = Nonce::try_assume_unique_for_key(nonce).ok()?;
        let body = key
            .aead()
            .ok()?
            .open_in_place(nonce, Aad::from(aad), &mut buf)
            .ok()?;
        decode(body)
    }
}

fn decode(body: &[u8]) -> Option<Sealed> {
    let (id, rest) = body.split_at_checked(TICKET_ID_LEN)?;
    let (&hash, rest) = rest.split_first()?;
    let (expires, rest) = rest.split_at_checked(8)?;
    let (chain, rest) = rest.split_at_checked(8)?;
    let (&psk_len, rest) = rest.split_first()?;
    let (psk, app_data) = rest.split_at_checked(usize::from(psk_len))?;
    Some(Sealed {
        id: id.try_into().ok()?,
        hash: match hash {
            1 => HashAlgorithm::Sha256,
            2 => HashAlgorithm::Sha384,
            _ => return None,
        },
        expires: u64::from_be_bytes(expires.try_into().ok()?),
        chain_not_after: u64::from_be_bytes(chain.try_into().ok()?),
        psk: Zeroizing::new(psk.to_vec()),
        app_data: app_data.to_vec(),
    })
}
