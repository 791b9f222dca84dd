//! ClientHello, ServerHello / HelloRetryRequest and their extensions.

use std::collections::HashSet;

use crate::codec::{put_u16, put_vec, Reader};
use crate::error::Error;

use super::{frame, typ};

/// Extension type codes used here.
pub(crate) mod ext {
    pub const SUPPORTED_GROUPS: u16 = 10;
    pub const PRE_SHARED_KEY: u16 = 41;
    pub const EARLY_DATA: u16 = 42;
    pub const SUPPORTED_VERSIONS: u16 = 43;
    pub const COOKIE: u16 = 44;
    pub const PSK_KEY_EXCHANGE_MODES: u16 = 45;
    pub const KEY_SHARE: u16 = 51;
}

/// The special ServerHello.random that marks a HelloRetryRequest.
pub const HRR_RANDOM: [u8; 32] = [
    0xcf, 0x21, 0xad, 0x74, 0xe5, 0x9a, 0x61, 0x11, 0xbe, 0x1d, 0x8c, 0x02, 0x1e, 0x65, 0xb8, 0x91,
    0xc2, 0xa2, 0x11, 0x16, 0x7a, 0xbb, 0x8c, 0x5e, 0x07, 0x9e, 0x09, 0xe2, 0xc8, 0xa8, 0x33, 0x9c,
];

/// One raw extension.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Extension {
    /// Extension type.
    pub typ: u16,
    /// Extension body.
    pub data: Vec<u8>,
}

pub(crate) fn decode_extensions(buf: &[u8]) -> Result<Vec<Extension>, Error> {
    let mut r = Reader::new(buf);
    let mut out: Vec<Extension> = Vec::new();
    let mut seen = HashSet::new();
    while r.left() > 0 {
        let typ = r.u16("extension type")?;
        let data = r.vec16("extension body")?.to_vec();
        if !seen.insert(typ) {
            return Err(Error::IllegalParameter("duplicate extension"));
        }
        out.push(Extension { typ, data });
    }
    Ok(out)
}

pub(crate) fn encode_extensions(out: &mut Vec<u8>, exts: &[Extension]) {
    put_vec(out, 2, |o| {
        for e in exts {
            put_u16(o, e.typ);
            put_vec(o, 2, |o| o.extend_from_slice(&e.data));
        }
    });
}

fn find(exts: &[Extension], t: u16) -> Option<&[u8]> {
    exts.iter().find(|e| e.typ == t).map(|e| e.data.as_slice())
}

fn u16_list(data: &[u8], what: &'static str, prefix: usize) -> Result<Vec<u16>, Error> {
    let mut r = Reader::new(data);
    let body = if prefix == 1 {
        r.vec8(what)?
    } else {
        r.vec16(what)?
    };
    r.finish(what)?;
    if body.is_empty() || body.len() % 2 != 0 {
        return Err(Error::Decode(what));
    }
    Ok(body
        .chunks_exact(2)
        .map(|c| u16::from_be_bytes([c[0], c[1]]))
        .collect())
}

/// One key_share entry: (group code, key exchange bytes).
pub type KeyShareEntry = (u16, Vec<u8>);

/// The pre_shared_key extension as offered by a client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OfferedPsk {
    /// (identity, obfuscated_ticket_age) pairs.
    pub identities: Vec<(Vec<u8>, u32)>,
    /// One binder per identity.
    pub binders: Vec<Vec<u8>>,
    /// Encoded length of the binders list including its length prefix; the
    /// partial ClientHello for binder computation stops this many bytes
    /// before the end of the message.
    pub binders_len: usize,
}

/// A ClientHello (RFC 8446 §4.1.2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientHello {
    /// legacy_version.
    pub legacy_version: u16,
    /// Client random.
    pub random: [u8; 32],
    /// legacy_session_id.
    pub session_id: Vec<u8>,
    /// Offered cipher suite codes.
    pub cipher_suites: Vec<u16>,
    /// legacy_compression_methods.
    pub compression_methods: Vec<u8>,
    /// Extensions in order.
    pub extensions: Vec<Extension>,
}

impl ClientHello {
    /// Decodes a ClientHello body.
    pub fn decode(body: &[u8]) -> Result<Self, Error> {
        let mut r = Reader::new(body);
        let legacy_version = r.u16("ClientHello version")?;
        let mut random = [0u8; 32];
        random.copy_from_slice(r.take(32, "ClientHello random")?);
        let session_id = r.vec8("ClientHello session id")?.to_vec();
        if session_id.len() > 32 {
            return Err(Error::Decode("ClientHello session id too long"));
        }
        let suites = r.vec16("ClientHello cipher suites")?;
        if suites.is_empty() || suites.len() % 2 != 0 {
            return Err(Error::Decode("ClientHello cipher suites"));
        }
        let cipher_suites = suites
            .chunks_exact(2)
            .map(|c| u16::from_be_bytes([c[0], c[1]]))
            .collect();
        let compression_methods = r.vec8("ClientHello compression")?.to_vec();
        if compression_methods.is_empty() {
            return Err(Error::Decode("ClientHello compression"));
        }
        let extensions = if r.left() == 0 {
            Vec::new()
        } else {
            decode_extensions(r.vec16("ClientHello extensions")?)?
        };
        r.finish("ClientHello")?;
        if let Some(pos) = extensions.iter().position(|e| e.typ == ext::PRE_SHARED_KEY) {
            if pos + 1 != extensions.len() {
                return Err(Error::IllegalParameter(
                    "pre_shared_key is not the last extension",
                ));
            }
        }
        Ok(Self {
            legacy_version,
            random,
            session_id,
            cipher_suites,
            compression_methods,
            extensions,
        })
    }

    /// Encodes the whole framed message.
    pub fn encode(&self) -> Vec<u8> {
        let mut b = Vec::with_capacity(512);
        put_u16(&mut b, self.legacy_version);
        b.extend_from_slice(&self.random);
        put_vec(&mut b, 1, |o| o.extend_from_slice(&self.session_id));
        put_vec(&mut b, 2, |o| {
            for s in &self.cipher_suites {
                put_u16(o, *s);
            }
        });
        put_vec(&mut b, 1, |o| {
            o.extend_from_slice(&self.compression_methods)
        });
        encode_extensions(&mut b, &self.extensions);
        frame(typ::CLIENT_HELLO, &b)
    }

    /// Raw body of an extension.
    pub fn extension(&self, t: u16) -> Option<&[u8]> {
        find(&self.extensions, t)
    }

    /// supported_versions, if present.
    pub fn supported_versions(&self) -> Result<Option<Vec<u16>>, Error> {
        self.extension(ext::SUPPORTED_VERSIONS)
            .map(|d| u16_list(d, "supported_versions", 1))
            .transpose()
    }

    /// supported_groups (empty when absent).
    pub fn supported_groups(&self) -> Result<Vec<u16>, Error> {
        Ok(self
            .extension(ext::SUPPORTED_GROUPS)
            .map(|d| u16_list(d, "supported_groups", 2))
            .transpose()?
            .unwrap_or_default())
    }

    /// key_share entries, or `None` when the extension is absent.
    pub fn key_shares(&self) -> Result<Option<Vec<KeyShareEntry>>, Error> {
        let Some(d) = self.extension(ext::KEY_SHARE) else {
            return Ok(None);
        };
        let mut outer = Reader::new(d);
        let mut r = Reader::new(outer.vec16("key_share")?);
        outer.finish("key_share")?;
        let mut out: Vec<KeyShareEntry> = Vec::new();
        let mut seen = HashSet::new();
        while r.left() > 0 {
            let g = r.u16("key_share group")?;
            let k = r.vec16("key_share entry")?;
            if k.is_empty() {
                return Err(Error::Decode("empty key_share entry"));
            }
            if !seen.insert(g) {
                return Err(Error::IllegalParameter("duplicate key_share group"));
            }
            out.push((g, k.to_vec()));
        }
        Ok(Some(out))
    }

    /// psk_key_exchange_modes, if present.
    pub fn psk_modes(&self) -> Result<Option<Vec<u8>>, Error> {
        self.extension(ext::PSK_KEY_EXCHANGE_MODES)
            .map(|d| {
                let mut r = Reader::new(d);
                let m = r.vec8("psk_key_exchange_modes")?;
                r.finish("psk_key_exchange_modes")?;
                if m.is_empty() {
                    return Err(Error::Decode("psk_key_exchange_modes"));
                }
                Ok(m.to_vec())
            })
            .transpose()
    }

    /// cookie, if present.
    #[cfg_attr(not(feature = "fuzzing"), allow(dead_code))] // for the fuzz targets and decoder tests
    pub fn cookie(&self) -> Result<Option<Vec<u8>>, Error> {
        self.extension(ext::COOKIE)
            .map(|d| {
                let mut r = Reader::new(d);
                let c = r.vec16("cookie")?;
                r.finish("cookie")?;
                Ok(c.to_vec())
            })
            .transpose()
    }

    /// pre_shared_key, if present.
    pub fn pre_shared_key(&self) -> Result<Option<OfferedPsk>, Error> {
        let Some(d) = self.extension(ext::PRE_SHARED_KEY) else {
            return Ok(None);
        };
        let mut outer = Reader::new(d);
        let mut r = Reader::new(outer.vec16("psk identities")?);
        let mut identities = Vec::new();
        while r.left() > 0 {
            let id = r.vec16("psk identity")?;
            if id.is_empty() {
                return Err(Error::Decode("empty psk identity"));
            }
            let age = r.u32("psk ticket age")?;
            identities.push((id.to_vec(), age));
        }
        let binders_start = outer.position();
        let mut br = Reader::new(outer.vec16("psk binders")?);
        let binders_len = outer.position() - binders_start;
        outer.finish("pre_shared_key")?;
        let mut binders = Vec::new();
        while br.left() > 0 {
            let b = br.vec8("psk binder")?;
            if b.len() < 32 {
                return Err(Error::Decode("psk binder too short"));
            }
            binders.push(b.to_vec());
        }
        if identities.is_empty() || identities.len() != binders.len() {
            return Err(Error::IllegalParameter(
                "psk identities and binders differ in number",
            ));
        }
        Ok(Some(OfferedPsk {
            identities,
            binders,
            binders_len,
        }))
    }
}

/// Extension body: client supported_versions with TLS 1.3 only.
pub(crate) fn client_versions() -> Vec<u8> {
    vec![2, 0x03, 0x04]
}

/// Extension body: a list of u16 with a 2-byte prefix.
pub(crate) fn u16_vec(list: &[u16]) -> Vec<u8> {
    let mut o = Vec::new();
    put_vec(&mut o, 2, |o| {
        for v in list {
            put_u16(o, *v);
        }
    });
    o
}

/// Extension body: client key_share entries.
pub(crate) fn client_key_shares(shares: &[(u16, &[u8])]) -> Vec<u8> {
    let mut o = Vec::new();
    put_vec(&mut o, 2, |o| {
        for (g, k) in shares {
            put_u16(o, *g);
            put_vec(o, 2, |o| o.extend_from_slice(k));
        }
    });
    o
}

/// Extension body: a pre_shared_key offer (one identity with its
/// obfuscated ticket age, 0 for external PSKs) with zeroed binders of `binder_len`.
pub(crate) fn client_psk(identity: &[u8], obfuscated_age: u32, binder_len: usize) -> Vec<u8> {
    let mut o = Vec::new();
    put_vec(&mut o, 2, |o| {
        put_vec(o, 2, |o| o.extend_from_slice(identity));
        o.extend_from_slice(&obfuscated_age.to_be_bytes());
    });
    put_vec(&mut o, 2, |o| {
        put_vec(o, 1, |o| o.resize(o.len() + binder_len, 0));
    });
    o
}

/// A ServerHello or HelloRetryRequest (RFC 8446 §4.1.3).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerHello {
    /// legacy_version.
    pub legacy_version: u16,
    /// Server random ([`HRR_RANDOM`] for a HelloRetryRequest).
    pub random: [u8; 32],
    /// legacy_session_id_echo.
    pub session_id: Vec<u8>,
    /// Selected cipher suite code.
    pub cipher_suite: u16,
    /// legacy_compression_method.
    pub compression_method: u8,
    /// Extensions in order.
    pub extensions: Vec<Extension>,
}

impl ServerHello {
    /// Decodes a ServerHello body.
    pub fn decode(body: &[u8]) -> Result<Self, Error> {
        let mut r = Reader::new(body);
        let legacy_version = r.u16("ServerHello version")?;
        let mut random = [0u8; 32];
        random.copy_from_slice(r.take(32, "ServerHello random")?);
        let session_id = r.vec8("ServerHello session id")?.to_vec();
        if session_id.len() > 32 {
            return Err(Error::Decode("ServerHello session id too long"));
        }
        let cipher_suite = r.u16("ServerHello cipher suite")?;
        let compression_method = r.u8("ServerHello compression")?;
        let extensions = if r.left() == 0 {
            Vec::new()
        } else {
            decode_extensions(r.vec16("ServerHello extensions")?)?
        };
        r.finish("ServerHello")?;
        Ok(Self {
            legacy_version,
            random,
            session_id,
            cipher_suite,
            compression_method,
            extensions,
        })
    }

    /// Encodes the whole framed message.
    pub fn encode(&self) -> Vec<u8> {
        let mut b = Vec::with_capacity(256);
        put_u16(&mut b, self.legacy_version);
        b.extend_from_slice(&self.random);
        put_vec(&mut b, 1, |o| o.extend_from_slice(&self.session_id));
        put_u16(&mut b, self.cipher_suite);
        b.push(self.compression_method);
        encode_extensions(&mut b, &self.extensions);
        frame(typ::SERVER_HELLO, &b)
    }

    /// True for a HelloRetryRequest.
    pub fn is_hrr(&self) -> bool {
        self.random == HRR_RANDOM
    }

    /// Raw body of an extension.
    pub fn extension(&self, t: u16) -> Option<&[u8]> {
        find(&self.extensions, t)
    }

    /// selected supported_version, if present.
    pub fn selected_version(&self) -> Result<Option<u16>, Error> {
        self.extension(ext::SUPPORTED_VERSIONS)
            .map(|d| {
                let mut r = Reader::new(d);
                let v = r.u16("supported_versions")?;
                r.finish("supported_versions")?;
                Ok(v)
            })
            .transpose()
    }

    /// ServerHello key_share entry (group, key_exchange).
    pub fn key_share(&self) -> Result<Option<(u16, Vec<u8>)>, Error> {
        self.extension(ext::KEY_SHARE)
            .map(|d| {
                let mut r = Reader::new(d);
                let g = r.u16("key_share group")?;
                let k = r.vec16("key_share")?;
                r.finish("key_share")?;
                if k.is_empty() {
                    return Err(Error::Decode("empty key_share"));
                }
                Ok((g, k.to_vec()))
            })
            .transpose()
    }

    /// HelloRetryRequest key_share: the selected group.
    pub fn hrr_group(&self) -> Result<Option<u16>, Error> {
        self.extension(ext::KEY_SHARE)
            .map(|d| {
                let mut r = Reader::new(d);
                let g = r.u16("key_share group")?;
                r.finish("key_share")?;
                Ok(g)
            })
            .transpose()
    }

    /// Selected PSK index, if present.
    pub fn selected_psk(&self) -> Result<Option<u16>, Error> {
        self.extension(ext::PRE_SHARED_KEY)
            .map(|d| {
                let mut r = Reader::new(d);
                let v = r.u16("pre_shared_key")?;
                r.finish("pre_shared_key")?;
                Ok(v)
            })
            .transpose()
    }

    /// HelloRetryRequest cookie, if present.
    pub fn cookie(&self) -> Result<Option<Vec<u8>>, Error> {
        self.extension(ext::COOKIE)
            .map(|d| {
                let mut r = Reader::new(d);
                let c = r.vec16("cookie")?;
                r.finish("cookie")?;
                if c.is_empty() {
                    return Err(Error::Decode("empty cookie"));
                }
                Ok(c.to_vec())
            })
            .transpose()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample_ch() -> ClientHello {
        ClientHello {
            legacy_version: 0x0303,
            random: [3; 32],
            session_id: vec![1; 32],
            cipher_suites: vec![0x1301, 0x1303],
            compression_methods: vec![0],
            extensions: vec![
                Extension {
                    typ: ext::SUPPORTED_VERSIONS,
                    data: client_versions(),
                },
                Extension {
                    typ: ext::SUPPORTED_GROUPS,
                    data: u16_vec(&[0x1d, 0x17]),
                },
                Extension {
                    typ: ext::KEY_SHARE,
                    data: client_key_shares(&[(0x1d, &[9; 32])]),
                },
                Extension {
                    typ: ext::PSK_KEY_EXCHANGE_MODES,
                    data: vec![1, 1],
                },
                Extension {
                    typ: ext::PRE_SHARED_KEY,
                    data: client_psk(b"id", 0, 32),
                },
            ],
        }
    }

    #[test]
    fn client_hello_roundtrip() {
        let ch = sample_ch();
        let enc = ch.encode();
        let dec = ClientHello::decode(&enc[4..]).unwrap();
        assert_eq!(dec, ch);
        assert_eq!(dec.supported_versions().unwrap(), Some(vec![0x0304]));
        assert_eq!(dec.supported_groups().unwrap(), vec![0x1d, 0x17]);
        assert_eq!(
            dec.key_shares().unwrap().unwrap(),
            vec![(0x1d, vec![9; 32])]
        );
        assert_eq!(dec.psk_modes().unwrap(), Some(vec![1]));
        let psk = dec.pre_shared_key().unwrap().unwrap();
        assert_eq!(psk.identities, vec![(b"id".to_vec(), 0)]);
        assert_eq!(psk.binders_len, 2 + 1 + 32);
    }

    #[test]
    fn client_hello_negatives() {
        let enc = sample_ch().encode();
        for cut in [0, 10, 40, 80, enc.len() - 5] {
            assert!(
                ClientHello::decode(&enc[4..cut.max(4)]).is_err(),
                "cut {cut}"
            );
        }
        // psk not last
        let mut ch = sample_ch();
        ch.extensions.swap(3, 4);
        assert_eq!(
            ClientHello::decode(&ch.encode()[4..]),
            Err(Error::IllegalParameter(
                "pre_shared_key is not the last extension"
            ))
        );
        // duplicate extension
        let mut ch = sample_ch();
        ch.extensions.insert(0, ch.extensions[0].clone());
        assert_eq!(
            ClientHello::decode(&ch.encode()[4..]),
            Err(Error::IllegalParameter("duplicate extension"))
        );
        // odd cipher suite list
        let mut body = enc[4..].to_vec();
        body[2 + 32 + 1 + 32 + 1] = 3;
        assert!(ClientHello::decode(&body).is_err());
        // bad inner extension bodies
        let mut ch = sample_ch();
        ch.extensions[1].data = vec![0, 3, 0, 0x1d, 0];
        assert!(ch.supported_groups().is_err());
        ch.extensions[2].data = client_key_shares(&[(0x1d, &[1]), (0x1d, &[2])]);
        assert!(ch.key_shares().is_err());
        ch.extensions[3].data = vec![0];
        assert!(ch.psk_modes().is_err());
        ch.extensions[4].data = client_psk(b"id", 0, 8);
        assert_eq!(
            ch.pre_shared_key(),
            Err(Error::Decode("psk binder too short"))
        );
        ch.extensions[4].data = vec![0, 0, 0, 0];
        assert!(ch.pre_shared_key().is_err());
    }

    #[test]
    fn server_hello_roundtrip_and_negatives() {
        let sh = ServerHello {
            legacy_version: 0x0303,
            random: HRR_RANDOM,
            session_id: vec![],
            cipher_suite: 0x1301,
            compression_method: 0,
            extensions: vec![Extension {
                typ: ext::KEY_SHARE,
                data: vec![0, 0x17],
            }],
        };
        let enc = sh.encode();
        let dec = ServerHello::decode(&enc[4..]).unwrap();
        assert!(dec.is_hrr());
        assert_eq!(dec.hrr_group().unwrap(), Some(0x17));
        assert!(dec.key_share().is_err());
        assert!(ServerHello::decode(&enc[4..enc.len() - 1]).is_err());
        assert!(ServerHello::decode(&[3, 3]).is_err());
    }
}
