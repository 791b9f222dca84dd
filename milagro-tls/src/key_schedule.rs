//! The RFC 8446 §7.1 key schedule on top of `hkdf` + `sha2`, the running
//! transcript hash, binders, Finished MACs and the exporter.

use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256, Sha384};
use zeroize::Zeroizing;

use crate::codec::put_vec;
use crate::error::Error;
use crate::suites::HashAlgorithm;

/// A secret byte string that is wiped on drop.
pub(crate) type Secret = Zeroizing<Vec<u8>>;

/// HKDF-Extract(salt, ikm).
pub(crate) fn extract(alg: HashAlgorithm, salt: &[u8], ikm: &[u8]) -> Secret {
    match alg {
        HashAlgorithm::Sha256 => {
            let (prk, _) = hkdf::Hkdf::<Sha256>::extract(Some(salt), ikm);
            Zeroizing::new(prk.to_vec())
        }
        HashAlgorithm::Sha384 => {
            let (prk, _) = hkdf::Hkdf::<Sha384>::extract(Some(salt), ikm);
            Zeroizing::new(prk.to_vec())
        }
    }
}

/// HKDF-Expand-Label(secret, label, context, len).
pub(crate) fn expand_label(
    alg: HashAlgorithm,
    secret: &[u8],
    label: &[u8],
    context: &[u8],
    len: usize,
) -> Result<Secret, Error> {
    let mut info = Vec::with_capacity(4 + 6 + label.len() + context.len());
    info.extend_from_slice(&(len as u16).to_be_bytes());
    put_vec(&mut info, 1, |o| {
        o.extend_from_slice(b"tls13 ");
        o.extend_from_slice(label);
    });
    put_vec(&mut info, 1, |o| o.extend_from_slice(context));
    let mut out = Zeroizing::new(vec![0u8; len]);
    let ok = match alg {
        HashAlgorithm::Sha256 => hkdf::Hkdf::<Sha256>::from_prk(secret)
            .map_err(|_| ())
            .and_then(|h| h.expand(&info, &mut out).map_err(|_| ())),
        HashAlgorithm::Sha384 => hkdf::Hkdf::<Sha384>::from_prk(secret)
            .map_err(|_| ())
            .and_then(|h| h.expand(&info, &mut out).map_err(|_| ())),
    };
    ok.map_err(|()| Error::Internal("HKDF expand failed"))?;
    Ok(out)
}

/// Derive-Secret(secret, label, transcript_hash).
pub(crate) fn derive_secret(
    alg: HashAlgorithm,
    secret: &[u8],
    label: &[u8],
    transcript_hash: &[u8],
) -> Result<Secret, Error> {
    expand_label(alg, secret, label, transcript_hash, alg.output_len())
}

/// Hash of the given bytes.
pub(crate) fn hash(alg: HashAlgorithm, data: &[u8]) -> Vec<u8> {
    match alg {
        HashAlgorithm::Sha256 => Sha256::digest(data).to_vec(),
        HashAlgorithm::Sha384 => Sha384::digest(data).to_vec(),
    }
}

/// HMAC(key, data).
pub(crate) fn hmac(alg: HashAlgorithm, key: &[u8], data: &[u8]) -> Result<Vec<u8>, Error> {
    let bad = |_| Error::Internal("HMAC key rejected");
    Ok(match alg {
        HashAlgorithm::Sha256 => {
            let mut m = Hmac::<Sha256>::new_from_slice(key).map_err(bad)?;
            m.update(data);
            m.finalize().into_bytes().to_vec()
        }
        HashAlgorithm::Sha384 => {
            let mut m = Hmac::<Sha384>::new_from_slice(key).map_err(bad)?;
            m.update(data);
            m.finalize().into_bytes().to_vec()
        }
    })
}

/// The verify_data of a Finished message (or a binder) for `base_key`.
pub(crate) fn finished_mac(
    alg: HashAlgorithm,
    base_key: &[u8],
    transcript_hash: &[u8],
) -> Result<Vec<u8>, Error> {
    let key = expand_label(alg, base_key, b"finished", &[], alg.output_len())?;
    hmac(alg, &key, transcript_hash)
}

/// The running transcript hash.
#[derive(Clone)]
pub(crate) enum Transcript {
    Sha256(Sha256),
    Sha384(Sha384),
}

impl Transcript {
    pub(crate) fn new(alg: HashAlgorithm) -> Self {
        match alg {
            HashAlgorithm::Sha256 => Self::Sha256(Sha256::new()),
            HashAlgorithm::Sha384 => Self::Sha384(Sha384::new()),
        }
    }

    pub(crate) fn alg(&self) -> HashAlgorithm {
        match self {
            Self::Sha256(_) => HashAlgorithm::Sha256,
            Self::Sha384(_) => HashAlgorithm::Sha384,
        }
    }

    pub(crate) fn update(&mut self, data: &[u8]) {
        match self {
            Self::Sha256(h) => h.update(data),
            Self::Sha384(h) => h.update(data),
        }
    }

    /// Hash of everything so far (the transcript keeps running).
    pub(crate) fn current(&self) -> Vec<u8> {
        match self {
            Self::Sha256(h) => h.clone().finalize().to_vec(),
            Self::Sha384(h) => h.clone().finalize().to_vec(),
        }
    }

    /// Hash of everything so far plus `extra`, without adding `extra`.
    pub(crate) fn current_with(&self, extra: &[u8]) -> Vec<u8> {
        let mut t = self.clone();
        t.update(extra);
        t.current()
    }

    /// Replaces ClientHello1 by the synthetic `message_hash` message
    /// (RFC 8446 §4.4.1), for a HelloRetryRequest.
    pub(crate) fn rollup_for_hrr(&mut self) {
        let h = self.current();
        let mut fresh = Self::new(self.alg());
        fresh.update(&[254, 0, 0, h.len() as u8]);
        fresh.update(&h);
        *self = fresh;
    }
}

/// Which binder label a PSK uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum BinderLabel {
    /// `"ext binder"`: a plain external PSK (interop with OpenSSL, GnuTLS, stunnel).
    External,
    /// `"imp binder"`: an RFC 9258 imported PSK.
    Imported,
    /// `"res binder"`: a resumption PSK.
    Resumption,
}

impl BinderLabel {
    fn label(self) -> &'static [u8] {
        match self {
            Self::External => b"ext binder",
            Self::Imported => b"imp binder",
            Self::Resumption => b"res binder",
        }
    }
}

/// The early secret and binder key of a PSK.
pub(crate) fn early_secret(alg: HashAlgorithm, psk: &[u8]) -> Secret {
    extract(alg, &[], psk)
}

/// The binder value for a truncated ClientHello transcript hash.
pub(crate) fn binder(
    alg: HashAlgorithm,
    early: &[u8],
    label: BinderLabel,
    truncated_hash: &[u8],
) -> Result<Vec<u8>, Error> {
    let empty = hash(alg, &[]);
    let binder_key = derive_secret(alg, early, label.label(), &empty)?;
    finished_mac(alg, &binder_key, truncated_hash)
}

/// Handshake-stage secrets.
pub(crate) struct HandshakeSecrets {
    pub(crate) handshake_secret: Secret,
    pub(crate) client: Secret,
    pub(crate) server: Secret,
}

/// Computes the handshake secrets from the early secret, the (EC)DHE secret
/// and the transcript hash through ServerHello.
pub(crate) fn handshake_secrets(
    alg: HashAlgorithm,
    early: &[u8],
    dhe: &[u8],
    hello_hash: &[u8],
) -> Result<HandshakeSecrets, Error> {
    let empty = hash(alg, &[]);
    let derived = derive_secret(alg, early, b"derived", &empty)?;
    let hs = extract(alg, &derived, dhe);
    Ok(HandshakeSecrets {
        client: derive_secret(alg, &hs, b"c hs traffic", hello_hash)?,
        server: derive_secret(alg, &hs, b"s hs traffic", hello_hash)?,
        handshake_secret: hs,
    })
}

/// Application-stage secrets.
pub(crate) struct AppSecrets {
    pub(crate) client: Secret,
    pub(crate) server: Secret,
    pub(crate) exporter: Secret,
    /// Master secret; the resumption master secret is derived from it.
    pub(crate) master: Secret,
}

/// Computes application secrets from the handshake secret and the transcript
/// hash through server Finished.
pub(crate) fn app_secrets(
    alg: HashAlgorithm,
    handshake_secret: &[u8],
    finished_hash: &[u8],
) -> Result<AppSecrets, Error> {
    let empty = hash(alg, &[]);
    let derived = derive_secret(alg, handshake_secret, b"derived", &empty)?;
    let zeros = vec![0u8; alg.output_len()];
    let master = extract(alg, &derived, &zeros);
    Ok(AppSecrets {
        client: derive_secret(alg, &master, b"c ap traffic", finished_hash)?,
        server: derive_secret(alg, &master, b"s ap traffic", finished_hash)?,
        exporter: derive_secret(alg, &master, b"exp master", finished_hash)?,
        master,
    })
}

/// The next application traffic secret (KeyUpdate, RFC 8446 §7.2).
pub(crate) fn next_traffic_secret(alg: HashAlgorithm, secret: &[u8]) -> Result<Secret, Error> {
    expand_label(alg, secret, b"traffic upd", &[], alg.output_len())
}

/// RFC 8446 §7.5 exporter.
pub(crate) fn export(
    alg: HashAlgorithm,
    exporter_master: &[u8],
    label: &[u8],
    context: &[u8],
    out: &mut [u8],
) -> Result<(), Error> {
    let empty = hash(alg, &[]);
    let s = derive_secret(alg, exporter_master, label, &empty)?;
    let v = expand_label(alg, &s, b"exporter", &hash(alg, context), out.len())?;
    out.copy_from_slice(&v);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unhex(s: &str) -> Vec<u8> {
        hex::decode(s.split_whitespace().collect::<String>()).unwrap()
    }

    /// RFC 8448 §3 (simple 1-RTT): early secret with no PSK, then the
    /// derived "derived" secret and handshake secret.
    #[test]
    fn rfc8448_schedule() {
        let alg = HashAlgorithm::Sha256;
        let early = early_secret(alg, &[0u8; 32]);
        assert_eq!(
            *early,
            unhex("33ad0a1c607ec03b09e6cd9893680ce210adf300aa1f2660e1b22e10f170f92a")
        );
        let dhe = unhex("8bd4054fb55b9d63fdfbacf9f04b9f0d35e6d63f537563efd46272900f89492d");
        let hello_hash = unhex("860c06edc07858ee8e78f0e7428c58edd6b43f2ca3e6e95f02ed063cf0e1cad8");
        let hs = handshake_secrets(alg, &early, &dhe, &hello_hash).unwrap();
        assert_eq!(
            *hs.handshake_secret,
            unhex("1dc826e93606aa6fdc0aadc12f741b01046aa6b99f691ed221a9f0ca043fbeac")
        );
        assert_eq!(
            *hs.client,
            unhex("b3eddb126e067f35a780b3abf45e2d8f3b1a950738f52e9600746a0e27a55a21")
        );
        assert_eq!(
            *hs.server,
            unhex("b67b7d690cc16c4e75e54213cb2d37b4e9c912bcded9105d42befd59d391ad38")
        );
        let key = expand_label(alg, &hs.server, b"key", &[], 16).unwrap();
        assert_eq!(*key, unhex("3fce516009c21727d0f2e4e86ee403bc"));
    }

    #[test]
    fn hrr_rollup_changes_transcript() {
        let mut t = Transcript::new(HashAlgorithm::Sha384);
        t.update(b"client hello");
        let before = t.current();
        t.rollup_for_hrr();
        assert_ne!(t.current(), before);
        assert_eq!(t.current().len(), 48);
    }
}
