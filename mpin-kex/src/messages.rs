//! The M-Pin Full messages and their byte layout. All integers are big-endian; points are
//! uncompressed G1 (`04 ‖ X ‖ Y`, 97 bytes), scalars 48 bytes.
//!
//! | message | layout |
//! |---|---|
//! | [`Hello`] (multi-pass, C→S) | `id_len:u16 id day:u32 U [UT if day≠0] Z` |
//! | [`Challenge`] (S→C) | `y:48 T:97` |
//! | [`Response`] (C→S) | `V:97` |
//! | [`OnePassHello`] (C→S) | `id_len:u16 id day:u32 t:u32 msg_len:u16 msg U [UT if day≠0] V Z` |
//! | [`OnePassReply`] (S→C) | `T:97` |
//!
//! `day` is the time-permit day (days since 1970-01-01 UTC), 0 for "no permit". `t` is the
//! one-pass timestamp in unix seconds, `1 ≤ t < 2^31`. Identities are at most
//! [`MAX_IDENTITY_LEN`] bytes and one-pass messages at most [`MAX_MESSAGE_LEN`]. Decoding checks
//! lengths only; points are validated by the state machines before any use.

use crate::codec::{put_vec16, Reader};
use crate::curve::{G1_LEN, MB};
use crate::error::DecodeError;

/// Longest identity accepted.
pub const MAX_IDENTITY_LEN: usize = 1024;
/// Longest one-pass message accepted.
pub const MAX_MESSAGE_LEN: usize = 1024;
/// Longest encoded message of any kind (a bound for framing layers).
pub const MAX_ENCODED_LEN: usize = 2 + MAX_IDENTITY_LEN + 4 + 4 + 2 + MAX_MESSAGE_LEN + 4 * G1_LEN;

type G1 = [u8; G1_LEN];

/// Multi-pass message 1.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Hello {
    /// Raw identity.
    pub identity: Vec<u8>,
    /// Permit day, 0 for none.
    pub day: u32,
    /// `U = x·A`.
    pub u: G1,
    /// `UT = x·(A + A_T)`, present iff `day ≠ 0`.
    pub ut: Option<G1>,
    /// `Z = r·A`.
    pub z: G1,
}

/// Multi-pass message 2.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Challenge {
    /// The challenge `y`.
    pub y: [u8; MB],
    /// The server's DH value `T = w·A'`.
    pub t: G1,
}

/// Multi-pass message 3.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Response {
    /// `V = −(x + y)·SEC`.
    pub v: G1,
}

/// One-pass message 1.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OnePassHello {
    /// Raw identity.
    pub identity: Vec<u8>,
    /// Permit day, 0 for none.
    pub day: u32,
    /// Client timestamp (unix seconds).
    pub time: u32,
    /// Application message bound into `y` (e.g. the server's name).
    pub message: Vec<u8>,
    /// `U = x·A`.
    pub u: G1,
    /// `UT`, present iff `day ≠ 0`.
    pub ut: Option<G1>,
    /// `V`.
    pub v: G1,
    /// `Z = r·A`.
    pub z: G1,
}

/// One-pass message 2.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OnePassReply {
    /// The server's DH value `T = w·A'`.
    pub t: G1,
}

fn identity(r: &mut Reader<'_>) -> Result<Vec<u8>, DecodeError> {
    let id = r.vec16("identity", MAX_IDENTITY_LEN)?;
    if id.is_empty() {
        return Err(DecodeError::Invalid {
            field: "identity",
            why: "empty",
        });
    }
    Ok(id.to_vec())
}

fn ut(r: &mut Reader<'_>, day: u32) -> Result<Option<G1>, DecodeError> {
    if day == 0 {
        Ok(None)
    } else {
        r.g1("UT").map(Some)
    }
}

impl Hello {
    /// Encodes the message.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(2 + self.identity.len() + 4 + 3 * G1_LEN);
        put_vec16(&mut out, &self.identity);
        out.extend_from_slice(&self.day.to_be_bytes());
        out.extend_from_slice(&self.u);
        if let Some(ut) = &self.ut {
            out.extend_from_slice(ut);
        }
        out.extend_from_slice(&self.z);
        out
    }

    /// Decodes the message (lengths only).
    pub fn decode(buf: &[u8]) -> Result<Self, DecodeError> {
        let mut r = Reader::new(buf);
        let identity = identity(&mut r)?;
        let day = r.u32("day")?;
        let u = r.g1("U")?;
        let ut = ut(&mut r, day)?;
        let z = r.g1("Z")?;
        r.finish()?;
        Ok(Self {
            identity,
            day,
            u,
            ut,
            z,
        })
    }
}

impl Challenge {
    /// Encoded length.
    pub const LEN: usize = MB + G1_LEN;

    /// Encodes the message.
    pub fn encode(&self) -> Vec<u8> {
        [&self.y[..], &self.t[..]].concat()
    }

    /// Decodes the message (lengths only).
    pub fn decode(buf: &[u8]) -> Result<Self, DecodeError> {
        let mut r = Reader::new(buf);
        let y = r.scalar("y")?;
        let t = r.g1("T")?;
        r.finish()?;
        Ok(Self { y, t })
    }
}

impl Response {
    /// Encodes the message.
    pub fn encode(&self) -> Vec<u8> {
        self.v.to_vec()
    }

    /// Decodes the message (lengths only).
    pub fn decode(buf: &[u8]) -> Result<Self, DecodeError> {
        let mut r = Reader::new(buf);
        let v = r.g1("V")?;
        r.finish()?;
        Ok(Self { v })
    }
}

impl OnePassHello {
    /// Encodes the message.
    pub fn encode(&self) -> Vec<u8> {
        let mut out =
            Vec::with_capacity(12 + self.identity.len() + self.message.len() + 4 * G1_LEN);
        put_vec16(&mut out, &self.identity);
        out.extend_from_slice(&self.day.to_be_bytes());
        out.extend_from_slice(&self.time.to_be_bytes());
        put_vec16(&mut out, &self.message);
        out.extend_from_slice(&self.u);
        if let Some(ut) = &self.ut {
            out.extend_from_slice(ut);
        }
        out.extend_from_slice(&self.v);
        out.extend_from_slice(&self.z);
        out
    }

    /// Decodes the message (lengths only).
    pub fn decode(buf: &[u8]) -> Result<Self, DecodeError> {
        let mut r = Reader::new(buf);
        let identity = identity(&mut r)?;
        let day = r.u32("day")?;
        let time = r.u32("time")?;
        if time == 0 || time > i32::MAX as u32 {
            return Err(DecodeError::Invalid {
                field: "time",
                why: "must be 1..2^31",
            });
        }
        let message = r.vec16("message", MAX_MESSAGE_LEN)?.to_vec();
        let u = r.g1("U")?;
        let ut = ut(&mut r, day)?;
        let v = r.g1("V")?;
        let z = r.g1("Z")?;
        r.finish()?;
        Ok(Self {
            identity,
            day,
            time,
            message,
            u,
            ut,
            v,
            z,
        })
    }
}

impl OnePassReply {
    /// Encodes the message.
    pub fn encode(&self) -> Vec<u8> {
        self.t.to_vec()
    }

    /// Decodes the message (lengths only).
    pub fn decode(buf: &[u8]) -> Result<Self, DecodeError> {
        let mut r = Reader::new(buf);
        let t = r.g1("T")?;
        r.finish()?;
        Ok(Self { t })
    }
}
