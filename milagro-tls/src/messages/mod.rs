//! Handshake messages: framing and the typed messages this engine uses.

pub(crate) mod hello;

pub use hello::{ClientHello, Extension, OfferedPsk, ServerHello, HRR_RANDOM};

use crate::codec::{put_u24, put_vec, Reader};
use crate::error::Error;

/// Handshake message type codes (RFC 8446 §4).
pub mod typ {
    /// client_hello
    pub const CLIENT_HELLO: u8 = 1;
    /// server_hello (also HelloRetryRequest)
    pub const SERVER_HELLO: u8 = 2;
    /// new_session_ticket
    pub const NEW_SESSION_TICKET: u8 = 4;
    /// end_of_early_data
    #[cfg_attr(not(feature = "fuzzing"), allow(dead_code))] // for the fuzz targets and decoder tests
    pub const END_OF_EARLY_DATA: u8 = 5;
    /// encrypted_extensions
    pub const ENCRYPTED_EXTENSIONS: u8 = 8;
    /// certificate
    pub const CERTIFICATE: u8 = 11;
    /// certificate_request
    pub const CERTIFICATE_REQUEST: u8 = 13;
    /// certificate_verify
    pub const CERTIFICATE_VERIFY: u8 = 15;
    /// finished
    pub const FINISHED: u8 = 20;
    /// key_update
    pub const KEY_UPDATE: u8 = 24;
}

/// Largest handshake message accepted (bounds pre-authentication memory).
pub const MAX_HANDSHAKE_MESSAGE: usize = 64 * 1024;

/// A NewSessionTicket (RFC 8446 §4.6.1): sent by a server with
/// [`TicketSettings`](crate::TicketSettings), turned into a
/// [`ClientTicket`](crate::ClientTicket) by the client.
#[derive(Clone, PartialEq, Eq)]
pub struct NewSessionTicket {
    /// Ticket lifetime in seconds.
    pub lifetime: u32,
    /// Obfuscation value for the ticket age.
    pub age_add: u32,
    /// Per-ticket nonce.
    pub nonce: Vec<u8>,
    /// The opaque ticket.
    pub ticket: Vec<u8>,
    /// Extensions (raw).
    pub extensions: Vec<Extension>,
}

impl std::fmt::Debug for NewSessionTicket {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NewSessionTicket")
            .field("lifetime", &self.lifetime)
            .field("ticket_len", &self.ticket.len())
            .finish_non_exhaustive()
    }
}

/// A decoded handshake message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HandshakeMessage {
    /// ClientHello.
    ClientHello(ClientHello),
    /// ServerHello or HelloRetryRequest.
    ServerHello(ServerHello),
    /// EncryptedExtensions.
    EncryptedExtensions(Vec<Extension>),
    /// Finished with its verify_data.
    Finished(Vec<u8>),
    /// KeyUpdate; `true` when the peer requests an update in return.
    KeyUpdate(bool),
    /// NewSessionTicket.
    NewSessionTicket(NewSessionTicket),
    /// A message type this engine never accepts (certificates, …).
    Unsupported(u8),
}

/// A complete message at the front of a buffer: (type, body, bytes used).
pub type Split<'a> = (u8, &'a [u8], usize);

/// Splits one complete handshake message off the front of `buf`.
/// Returns `Ok(None)` when more bytes are needed, or
/// `Some((type, body, total_len))`.
pub fn split_message(buf: &[u8]) -> Result<Option<Split<'_>>, Error> {
    if buf.len() < 4 {
        return Ok(None);
    }
    let typ = buf[0];
    let len = (usize::from(buf[1]) << 16) | (usize::from(buf[2]) << 8) | usize::from(buf[3]);
    if len > MAX_HANDSHAKE_MESSAGE {
        return Err(Error::Decode("oversized handshake message"));
    }
    match buf.get(4..4 + len) {
        Some(body) => Ok(Some((typ, body, 4 + len))),
        None => Ok(None),
    }
}

/// Decodes a handshake message body of the given type.
pub fn decode(typ: u8, body: &[u8]) -> Result<HandshakeMessage, Error> {
    Ok(match typ {
        typ::CLIENT_HELLO => HandshakeMessage::ClientHello(ClientHello::decode(body)?),
        typ::SERVER_HELLO => HandshakeMessage::ServerHello(ServerHello::decode(body)?),
        typ::ENCRYPTED_EXTENSIONS => {
            let mut r = Reader::new(body);
            let exts = hello::decode_extensions(r.vec16("encrypted extensions")?)?;
            r.finish("encrypted extensions")?;
            HandshakeMessage::EncryptedExtensions(exts)
        }
        typ::FINISHED => HandshakeMessage::Finished(body.to_vec()),
        typ::KEY_UPDATE => match body {
            [0] => HandshakeMessage::KeyUpdate(false),
            [1] => HandshakeMessage::KeyUpdate(true),
            [_] => return Err(Error::IllegalParameter("KeyUpdate request value")),
            _ => return Err(Error::Decode("KeyUpdate")),
        },
        typ::NEW_SESSION_TICKET => {
            let mut r = Reader::new(body);
            let lifetime = r.u32("ticket lifetime")?;
            let age_add = r.u32("ticket age_add")?;
            let nonce = r.vec8("ticket nonce")?.to_vec();
            let ticket = r.vec16("ticket")?.to_vec();
            if ticket.is_empty() {
                return Err(Error::Decode("empty ticket"));
            }
            let extensions = hello::decode_extensions(r.vec16("ticket extensions")?)?;
            r.finish("NewSessionTicket")?;
            HandshakeMessage::NewSessionTicket(NewSessionTicket {
                lifetime,
                age_add,
                nonce,
                ticket,
                extensions,
            })
        }
        other => HandshakeMessage::Unsupported(other),
    })
}

/// Decodes one whole framed handshake message (header included); trailing
/// bytes are an error. This is the entry point used by the fuzz target.
#[cfg_attr(not(feature = "fuzzing"), allow(dead_code))] // for the fuzz targets and decoder tests
pub fn decode_framed(buf: &[u8]) -> Result<HandshakeMessage, Error> {
    match split_message(buf)? {
        Some((t, body, used)) if used == buf.len() => decode(t, body),
        _ => Err(Error::Decode("handshake framing")),
    }
}

/// Frames a handshake message: type, u24 length, body.
pub fn frame(typ: u8, body: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(4 + body.len());
    out.push(typ);
    put_u24(&mut out, body.len());
    out.extend_from_slice(body);
    out
}

/// Encodes an EncryptedExtensions message with the given extensions.
pub fn encrypted_extensions(exts: &[Extension]) -> Vec<u8> {
    let mut body = Vec::new();
    hello::encode_extensions(&mut body, exts);
    frame(typ::ENCRYPTED_EXTENSIONS, &body)
}

/// Encodes a KeyUpdate.
pub fn key_update(request: bool) -> Vec<u8> {
    frame(typ::KEY_UPDATE, &[u8::from(request)])
}

/// Encodes a NewSessionTicket.
pub fn new_session_ticket(t: &NewSessionTicket) -> Vec<u8> {
    let mut body = Vec::new();
    body.extend_from_slice(&t.lifetime.to_be_bytes());
    body.extend_from_slice(&t.age_add.to_be_bytes());
    put_vec(&mut body, 1, |o| o.extend_from_slice(&t.nonce));
    put_vec(&mut body, 2, |o| o.extend_from_slice(&t.ticket));
    hello::encode_extensions(&mut body, &t.extensions);
    frame(typ::NEW_SESSION_TICKET, &body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_waits_for_whole_message() {
        let m = frame(typ::FINISHED, &[7; 32]);
        assert_eq!(split_message(&m[..3]).unwrap(), None);
        assert_eq!(split_message(&m[..20]).unwrap(), None);
        let (t, body, used) = split_message(&m).unwrap().unwrap();
        assert_eq!((t, body.len(), used), (typ::FINISHED, 32, 36));
    }

    #[test]
    fn oversized_message_rejected() {
        assert_eq!(
            split_message(&[1, 0x10, 0, 0]),
            Err(Error::Decode("oversized handshake message"))
        );
    }

    #[test]
    fn key_update_values() {
        assert_eq!(
            decode_framed(&key_update(true)).unwrap(),
            HandshakeMessage::KeyUpdate(true)
        );
        assert_eq!(
            decode(typ::KEY_UPDATE, &[2]),
            Err(Error::IllegalParameter("KeyUpdate request value"))
        );
        assert_eq!(
            decode(typ::KEY_UPDATE, &[]),
            Err(Error::Decode("KeyUpdate"))
        );
        assert_eq!(
            decode(typ::KEY_UPDATE, &[0, 0]),
            Err(Error::Decode("KeyUpdate"))
        );
    }

    #[test]
    fn ticket_roundtrip_and_negatives() {
        let t = NewSessionTicket {
            lifetime: 7200,
            age_add: 5,
            nonce: vec![0],
            ticket: vec![1, 2, 3],
            extensions: vec![],
        };
        let enc = new_session_ticket(&t);
        assert_eq!(
            decode_framed(&enc).unwrap(),
            HandshakeMessage::NewSessionTicket(t)
        );
        assert!(decode_framed(&enc[..enc.len() - 1]).is_err());
        let mut extra = enc.clone();
        extra.push(0);
        assert!(decode_framed(&extra).is_err());
        // empty ticket
        assert!(decode(
            typ::NEW_SESSION_TICKET,
            &[0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0]
        )
        .is_err());
    }

    #[test]
    fn certificate_is_unsupported() {
        assert_eq!(
            decode(typ::CERTIFICATE, &[0, 0, 0, 0]).unwrap(),
            HandshakeMessage::Unsupported(typ::CERTIFICATE)
        );
        assert!(decode(typ::ENCRYPTED_EXTENSIONS, &[0, 4, 0, 0]).is_err());
    }
}
