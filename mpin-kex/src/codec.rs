//! A bounds-checked reader for the protocol messages.

use crate::curve::{G1_LEN, MB};
use crate::error::DecodeError;

pub(crate) struct Reader<'a> {
    buf: &'a [u8],
}

impl<'a> Reader<'a> {
    pub fn new(buf: &'a [u8]) -> Self {
        Self { buf }
    }

    pub fn take(&mut self, n: usize, field: &'static str) -> Result<&'a [u8], DecodeError> {
        if self.buf.len() < n {
            return Err(DecodeError::Truncated(field));
        }
        let (head, tail) = self.buf.split_at(n);
        self.buf = tail;
        Ok(head)
    }

    pub fn u16(&mut self, field: &'static str) -> Result<u16, DecodeError> {
        let b = self.take(2, field)?;
        Ok(u16::from_be_bytes([b[0], b[1]]))
    }

    pub fn u32(&mut self, field: &'static str) -> Result<u32, DecodeError> {
        let b = self.take(4, field)?;
        Ok(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }

    /// A `u16`-length-prefixed byte string of at most `max` bytes.
    pub fn vec16(&mut self, field: &'static str, max: usize) -> Result<&'a [u8], DecodeError> {
        let len = usize::from(self.u16(field)?);
        if len > max {
            return Err(DecodeError::TooLong { field, len, max });
        }
        self.take(len, field)
    }

    pub fn g1(&mut self, field: &'static str) -> Result<[u8; G1_LEN], DecodeError> {
        let b = self.take(G1_LEN, field)?;
        let mut out = [0u8; G1_LEN];
        out.copy_from_slice(b);
        Ok(out)
    }

    pub fn scalar(&mut self, field: &'static str) -> Result<[u8; MB], DecodeError> {
        let b = self.take(MB, field)?;
        let mut out = [0u8; MB];
        out.copy_from_slice(b);
        Ok(out)
    }

    pub fn finish(self) -> Result<(), DecodeError> {
        if self.buf.is_empty() {
            Ok(())
        } else {
            Err(DecodeError::Trailing(self.buf.len()))
        }
    }
}

pub(crate) fn put_vec16(out: &mut Vec<u8>, v: &[u8]) {
    // Callers bound v by MAX_* (< 65536) before encoding.
    out.extend_from_slice(&(v.len() as u16).to_be_bytes());
    out.extend_from_slice(v);
}
