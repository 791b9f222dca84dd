//! The record layer: framing, the 2^14 limits and AEAD protection with
//! aws-lc-rs (RFC 8446 §5).

use aws_lc_rs::aead::{Aad, LessSafeKey, Nonce, UnboundKey, NONCE_LEN};

use crate::error::Error;
use crate::key_schedule::expand_label;
use crate::suites::CipherSuite;

/// Largest plaintext fragment (2^14).
pub const MAX_PLAINTEXT: usize = 1 << 14;
/// Largest protected record payload (2^14 + 256).
pub const MAX_CIPHERTEXT: usize = MAX_PLAINTEXT + 256;
/// Record header length.
pub const HEADER_LEN: usize = 5;

/// Record content types.
pub mod content {
    /// change_cipher_spec
    pub const CHANGE_CIPHER_SPEC: u8 = 20;
    /// alert
    pub const ALERT: u8 = 21;
    /// handshake
    pub const HANDSHAKE: u8 = 22;
    /// application_data
    pub const APPLICATION_DATA: u8 = 23;
}

/// Location of one complete record inside a [`Deframer`]'s buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RecordRef {
    /// Content type of the (outer) record.
    pub typ: u8,
    /// The five header bytes (the AEAD additional data).
    pub header: [u8; HEADER_LEN],
    /// Payload start in the buffer.
    pub start: usize,
    /// Payload end in the buffer.
    pub end: usize,
}

/// Accumulates TLS bytes and splits them into records.
#[derive(Debug, Default)]
pub struct Deframer {
    buf: Vec<u8>,
    pos: usize,
}

impl Deframer {
    /// Appends received bytes.
    pub fn push(&mut self, data: &[u8]) {
        if self.pos > 0 && self.pos == self.buf.len() {
            self.buf.clear();
            self.pos = 0;
        } else if self.pos > 4 * MAX_CIPHERTEXT {
            self.buf.drain(..self.pos);
            self.pos = 0;
        }
        self.buf.extend_from_slice(data);
    }

    /// Frees the buffer once every byte in it was returned as a record, so
    /// an idle connection holds no receive buffer (a partial record stays).
    pub fn release_if_consumed(&mut self) {
        if self.pos == self.buf.len() {
            self.buf = Vec::new();
            self.pos = 0;
        }
    }

    /// Bytes of memory the buffer holds (its capacity).
    pub fn capacity(&self) -> usize {
        self.buf.capacity()
    }

    /// Number of buffered bytes not yet returned as records.
    #[cfg_attr(not(feature = "fuzzing"), allow(dead_code))] // for the fuzz targets and decoder tests
    pub fn buffered(&self) -> usize {
        self.buf.len() - self.pos
    }

    /// Returns the next complete record, `Ok(None)` if more bytes are needed.
    pub fn next_record(&mut self) -> Result<Option<RecordRef>, Error> {
        let rest = &self.buf[self.pos..];
        if rest.len() < HEADER_LEN {
            return Ok(None);
        }
        let typ = rest[0];
        if !(content::CHANGE_CIPHER_SPEC..=content::APPLICATION_DATA).contains(&typ) {
            return Err(Error::UnexpectedMessage("unknown record content type"));
        }
        if rest[1] != 3 {
            return Err(Error::Decode("record version"));
        }
        let len = usize::from(u16::from_be_bytes([rest[3], rest[4]]));
        if len > MAX_CIPHERTEXT {
            return Err(Error::RecordOverflow);
        }
        if rest.len() < HEADER_LEN + len {
            return Ok(None);
        }
        let mut header = [0u8; HEADER_LEN];
        header.copy_from_slice(&rest[..HEADER_LEN]);
        let start = self.pos + HEADER_LEN;
        self.pos = start + len;
        Ok(Some(RecordRef {
            typ,
            header,
            start,
            end: start + len,
        }))
    }

    /// Mutable access to a record's payload returned by [`Self::next_record`].
    pub fn payload_mut(&mut self, r: &RecordRef) -> &mut [u8] {
        &mut self.buf[r.start..r.end]
    }
}

/// Appends one plaintext record.
pub fn write_plain(out: &mut Vec<u8>, typ: u8, payload: &[u8]) {
    for chunk in payload.chunks(MAX_PLAINTEXT) {
        out.push(typ);
        out.extend_from_slice(&[3, 3]);
        out.extend_from_slice(&(chunk.len() as u16).to_be_bytes());
        out.extend_from_slice(chunk);
    }
}

/// One direction's AEAD state.
pub(crate) struct RecordCipher {
    key: LessSafeKey,
    iv: zeroize::Zeroizing<[u8; NONCE_LEN]>,
    seq: u64,
}

impl RecordCipher {
    /// Keys a direction from a traffic secret.
    pub(crate) fn new(suite: CipherSuite, secret: &[u8]) -> Result<Self, Error> {
        let alg = suite.aead();
        let key_bytes = expand_label(suite.hash(), secret, b"key", &[], alg.key_len())?;
        let iv_bytes = expand_label(suite.hash(), secret, b"iv", &[], NONCE_LEN)?;
        let key = UnboundKey::new(alg, &key_bytes).map_err(|_| Error::Internal("AEAD key"))?;
        let mut iv = zeroize::Zeroizing::new([0u8; NONCE_LEN]);
        iv.copy_from_slice(&iv_bytes);
        Ok(Self {
            key: LessSafeKey::new(key),
            iv,
            seq: 0,
        })
    }

    fn nonce(&mut self) -> Result<Nonce, Error> {
        let n = self.current_nonce();
        self.advance()?;
        Ok(n)
    }

    /// The nonce for the current sequence number, which stays unchanged.
    fn current_nonce(&self) -> Nonce {
        let mut n = *self.iv;
        for (b, s) in n[4..].iter_mut().zip(self.seq.to_be_bytes()) {
            *b ^= s;
        }
        Nonce::assume_unique_for_key(n)
    }

    fn advance(&mut self) -> Result<(), Error> {
        self.seq = self
            .seq
            .checked_add(1)
            .ok_or(Error::Internal("record sequence number exhausted"))?;
        Ok(())
    }

    /// Records sealed (or opened) under this key so far.
    pub(crate) fn seq(&self) -> u64 {
        self.seq
    }

    /// Appends protected records carrying `payload` of inner type `typ`
    /// (split into fragments of at most 2^14 bytes).
    pub(crate) fn seal(&mut self, typ: u8, payload: &[u8], out: &mut Vec<u8>) -> Result<(), Error> {
        let tag_len = self.key.algorithm().tag_len();
        let mut chunks = payload.chunks(MAX_PLAINTEXT);
        // an empty payload still produces one record
        let first = chunks.next().unwrap_or_default();
        for chunk in std::iter::once(first).chain(chunks) {
            let len = chunk.len() + 1 + tag_len;
            let header = [content::APPLICATION_DATA, 3, 3, (len >> 8) as u8, len as u8];
            out.reserve(HEADER_LEN + len);
            out.extend_from_slice(&header);
            let start = out.len();
            out.extend_from_slice(chunk);
            out.push(typ);
            let nonce = self.nonce()?;
            let tag = self
                .key
                .seal_in_place_separate_tag(nonce, Aad::from(header), &mut out[start..])
                .map_err(|_| Error::Internal("AEAD seal"))?;
            out.extend_from_slice(tag.as_ref());
        }
        Ok(())
    }

    /// Opens a protected record in place; returns (inner type, plaintext length).
    /// The sequence number advances only when the record authenticates, so
    /// a record that fails can be skipped (ignored early data, RFC 8446 §4.2.10).
    pub(crate) fn open(
        &mut self,
        header: [u8; HEADER_LEN],
        payload: &mut [u8],
    ) -> Result<(u8, usize), Error> {
        let nonce = self.current_nonce();
        let plain = self
            .key
            .open_in_place(nonce, Aad::from(header), payload)
            .map_err(|_| Error::BadRecordMac)?;
        self.advance()?;
        if plain.len() > MAX_PLAINTEXT + 1 {
            return Err(Error::RecordOverflow);
        }
        let Some(last) = plain.iter().rposition(|b| *b != 0) else {
            return Err(Error::UnexpectedMessage("record without content type"));
        };
        Ok((plain[last], last))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deframer_splits_and_waits() {
        let mut out = Vec::new();
        write_plain(&mut out, content::HANDSHAKE, &[1, 2, 3]);
        write_plain(&mut out, content::ALERT, &[2, 40]);
        let mut d = Deframer::default();
        d.push(&out[..4]);
        assert_eq!(d.next_record().unwrap(), None);
        d.push(&out[4..]);
        let r = d.next_record().unwrap().unwrap();
        assert_eq!((r.typ, d.payload_mut(&r).to_vec()), (22, vec![1, 2, 3]));
        let r = d.next_record().unwrap().unwrap();
        assert_eq!((r.typ, d.payload_mut(&r).to_vec()), (21, vec![2, 40]));
        assert_eq!(d.next_record().unwrap(), None);
        assert_eq!(d.buffered(), 0);
    }

    #[test]
    fn deframer_negatives() {
        let mut d = Deframer::default();
        d.push(&[99, 3, 3, 0, 1, 0]);
        assert!(matches!(d.next_record(), Err(Error::UnexpectedMessage(_))));
        let mut d = Deframer::default();
        d.push(&[22, 3, 3, 0x41, 1]);
        assert_eq!(d.next_record(), Err(Error::RecordOverflow));
        let mut d = Deframer::default();
        d.push(b"GET / HTTP/1.1\r\n");
        assert!(d.next_record().is_err());
    }

    #[test]
    fn seal_open_roundtrip_all_suites() {
        for suite in CipherSuite::ALL {
            let secret = vec![7u8; suite.hash().output_len()];
            let mut tx = RecordCipher::new(suite, &secret).unwrap();
            let mut rx = RecordCipher::new(suite, &secret).unwrap();
            let mut out = Vec::new();
            let data = vec![0x5a; MAX_PLAINTEXT + 10];
            tx.seal(content::APPLICATION_DATA, &data, &mut out).unwrap();
            tx.seal(content::HANDSHAKE, &[], &mut out).unwrap();
            let mut d = Deframer::default();
            d.push(&out);
            let mut got = Vec::new();
            let mut types = Vec::new();
            while let Some(r) = d.next_record().unwrap() {
                let p = d.payload_mut(&r);
                let (t, n) = rx.open(r.header, p).unwrap();
                got.extend_from_slice(&p[..n]);
                types.push(t);
            }
            assert_eq!(got, data);
            assert_eq!(types, vec![23, 23, 22]);
        }
    }

    #[test]
    fn tampered_record_is_bad_mac() {
        let suite = CipherSuite::Aes128GcmSha256;
        let mut tx = RecordCipher::new(suite, &[1; 32]).unwrap();
        let mut rx = RecordCipher::new(suite, &[1; 32]).unwrap();
        let mut out = Vec::new();
        tx.seal(23, b"hello", &mut out).unwrap();
        out[7] ^= 1;
        let mut hdr = [0u8; 5];
        hdr.copy_from_slice(&out[..5]);
        assert_eq!(rx.open(hdr, &mut out[5..]), Err(Error::BadRecordMac));
    }

    #[test]
    fn all_zero_inner_plaintext_rejected() {
        let suite = CipherSuite::Chacha20Poly1305Sha256;
        let mut tx = RecordCipher::new(suite, &[1; 32]).unwrap();
        let mut rx = RecordCipher::new(suite, &[1; 32]).unwrap();
        let mut out = Vec::new();
        // inner type 0 with padding only
        tx.seal(0, &[0, 0, 0], &mut out).unwrap();
        let mut hdr = [0u8; 5];
        hdr.copy_from_slice(&out[..5]);
        assert!(matches!(
            rx.open(hdr, &mut out[5..]),
            Err(Error::UnexpectedMessage(_))
        ));
    }
}
