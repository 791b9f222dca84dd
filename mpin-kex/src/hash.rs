//! The legacy Milagro hash `Hn` (MPIN-SPEC §1.3).

use sha2::{Digest, Sha256};

use crate::curve::MB;

/// `Hn(n?, data…)`: SHA-256 over `be32(n)` (only when `n > 0` as a signed 32-bit integer)
/// followed by the parts, left-padded with zeros to MB bytes.
pub(crate) fn hn(n: Option<u32>, parts: &[&[u8]]) -> [u8; MB] {
    let mut h = Sha256::new();
    if let Some(n) = n {
        if n > 0 && n <= i32::MAX as u32 {
            h.update(n.to_be_bytes());
        }
    }
    for p in parts {
        h.update(p);
    }
    let d = h.finalize();
    let mut out = [0u8; MB];
    out[MB - 32..].copy_from_slice(&d);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hn_left_pads_and_prefixes_positive_numbers_only() {
        let plain = hn(None, &[b"abc"]);
        assert_eq!(&plain[..16], &[0u8; 16]);
        assert_eq!(&plain[16..], Sha256::digest(b"abc").as_slice());
        assert_eq!(hn(Some(0), &[b"abc"]), plain);
        let mut data = 7u32.to_be_bytes().to_vec();
        data.extend_from_slice(b"abc");
        assert_eq!(
            &hn(Some(7), &[b"abc"])[16..],
            Sha256::digest(&data).as_slice()
        );
        // split parts hash like their concatenation
        assert_eq!(hn(None, &[b"a", b"bc"]), plain);
    }
}
