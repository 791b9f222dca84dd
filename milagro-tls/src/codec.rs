//! Byte-level reading and writing helpers for TLS wire formats.

use crate::error::Error;

/// A cursor over a byte slice; every read is bounds-checked and fails with
/// [`Error::Decode`] instead of panicking.
#[derive(Debug)]
pub struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    /// Starts reading `buf` from its beginning.
    pub fn new(buf: &'a [u8]) -> Self {
        Self { buf, pos: 0 }
    }

    /// Bytes not yet read.
    #[allow(dead_code)] // the reader is complete; no message decodes this width today
    pub fn rest(&self) -> &'a [u8] {
        self.buf.get(self.pos..).unwrap_or_default()
    }

    /// Number of bytes not yet read.
    pub fn left(&self) -> usize {
        self.buf.len().saturating_sub(self.pos)
    }

    /// Current read position.
    pub fn position(&self) -> usize {
        self.pos
    }

    /// Takes exactly `n` bytes.
    pub fn take(&mut self, n: usize, what: &'static str) -> Result<&'a [u8], Error> {
        let end = self.pos.checked_add(n).ok_or(Error::Decode(what))?;
        let out = self.buf.get(self.pos..end).ok_or(Error::Decode(what))?;
        self.pos = end;
        Ok(out)
    }

    /// Reads one byte.
    pub fn u8(&mut self, what: &'static str) -> Result<u8, Error> {
        Ok(self.take(1, what)?[0])
    }

    /// Reads a big-endian u16.
    pub fn u16(&mut self, what: &'static str) -> Result<u16, Error> {
        let b = self.take(2, what)?;
        Ok(u16::from_be_bytes([b[0], b[1]]))
    }

    /// Reads a big-endian u24.
    #[allow(dead_code)] // the reader is complete; no message decodes this width today
    pub fn u24(&mut self, what: &'static str) -> Result<usize, Error> {
        let b = self.take(3, what)?;
        Ok((usize::from(b[0]) << 16) | (usize::from(b[1]) << 8) | usize::from(b[2]))
    }

    /// Reads a big-endian u32.
    pub fn u32(&mut self, what: &'static str) -> Result<u32, Error> {
        let b = self.take(4, what)?;
        Ok(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }

    /// Reads a vector with a one-byte length prefix.
    pub fn vec8(&mut self, what: &'static str) -> Result<&'a [u8], Error> {
        let n = self.u8(what)?;
        self.take(usize::from(n), what)
    }

    /// Reads a vector with a two-byte length prefix.
    pub fn vec16(&mut self, what: &'static str) -> Result<&'a [u8], Error> {
        let n = self.u16(what)?;
        self.take(usize::from(n), what)
    }

    /// Reads a vector with a three-byte length prefix.
    #[allow(dead_code)] // the reader is complete; no message decodes this width today
    pub fn vec24(&mut self, what: &'static str) -> Result<&'a [u8], Error> {
        let n = self.u24(what)?;
        self.take(n, what)
    }

    /// Fails with [`Error::Decode`] unless every byte was consumed.
    pub fn finish(&self, what: &'static str) -> Result<(), Error> {
        if self.left() == 0 {
            Ok(())
        } else {
            Err(Error::Decode(what))
        }
    }
}

/// Appends a big-endian u16.
pub fn put_u16(out: &mut Vec<u8>, v: u16) {
    out.extend_from_slice(&v.to_be_bytes());
}

/// Appends a big-endian u24 (the value is truncated to 24 bits).
pub fn put_u24(out: &mut Vec<u8>, v: usize) {
    out.extend_from_slice(&[(v >> 16) as u8, (v >> 8) as u8, v as u8]);
}

/// Writes a length-prefixed vector: `len_bytes` (1, 2 or 3) length bytes,
/// then whatever `body` appends.
pub fn put_vec(out: &mut Vec<u8>, len_bytes: usize, body: impl FnOnce(&mut Vec<u8>)) {
    let start = out.len();
    out.resize(start + len_bytes, 0);
    body(out);
    let len = out.len() - start - len_bytes;
    let be = len.to_be_bytes();
    out[start..start + len_bytes].copy_from_slice(&be[be.len() - len_bytes..]);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_integers_and_vectors() {
        let data = [1u8, 0, 2, 0, 0, 3, 2, 0xaa, 0xbb, 0, 1, 0xcc];
        let mut r = Reader::new(&data);
        assert_eq!(r.u8("a").unwrap(), 1);
        assert_eq!(r.u16("b").unwrap(), 2);
        assert_eq!(r.u24("c").unwrap(), 3);
        assert_eq!(r.vec8("d").unwrap(), &[0xaa, 0xbb]);
        assert_eq!(r.vec16("e").unwrap(), &[0xcc]);
        r.finish("f").unwrap();
    }

    #[test]
    fn truncated_input_is_decode_error() {
        assert_eq!(Reader::new(&[1]).u16("x"), Err(Error::Decode("x")));
        assert_eq!(Reader::new(&[0, 5, 1]).vec16("y"), Err(Error::Decode("y")));
        assert_eq!(Reader::new(&[0, 0]).u24("z"), Err(Error::Decode("z")));
        assert_eq!(Reader::new(&[3, 1, 2]).vec8("v"), Err(Error::Decode("v")));
        let r = Reader::new(&[1]);
        assert_eq!(r.finish("trailing"), Err(Error::Decode("trailing")));
        assert!(Reader::new(&[]).take(usize::MAX, "huge").is_err());
    }

    #[test]
    fn put_vec_writes_length() {
        let mut out = Vec::new();
        put_vec(&mut out, 2, |o| o.extend_from_slice(&[9, 9, 9]));
        put_vec(&mut out, 3, |o| o.push(1));
        assert_eq!(out, vec![0, 3, 9, 9, 9, 0, 0, 1, 1]);
    }
}
