//! RFC 9258 PSK importer: turns the 16-byte M-Pin Full key into a one-time TLS 1.3 PSK.
//!
//! ```text
//! ImportedIdentity { external_identity<1..2^16-1> = session id (16 bytes),
//!                    context<0..2^16-1>           = "MPIN1" ‖ HM ‖ client identity ‖ server label,
//!                    target_protocol              = 0x0304 (TLS 1.3),
//!                    target_kdf                   = 0x0001 (HKDF-SHA256) }
//! epskx = HKDF-Extract(0, epsk)                       epsk = the M-Pin Full key
//! ipskx = HKDF-Expand-Label(epskx, "derived psk", SHA-256(ImportedIdentity), 32)
//! ```
//!
//! The TLS PSK identity on the wire is the serialized `ImportedIdentity`; its binder uses the
//! label "imp binder". Both ends compute the same value from their own M-Pin results, so a
//! PSK exists only where the M-Pin run succeeded.

use crate::codec::put_vec;
use crate::error::Error;
use crate::key_schedule::{expand_label, extract, hash, BinderLabel};
use crate::psk::Psk;
use crate::suites::HashAlgorithm;
use crate::TLS13;

/// RFC 9258 target KDF code point for HKDF-SHA256.
pub const KDF_HKDF_SHA256: u16 = 0x0001;
/// Length of the server-chosen one-time session id (the external identity).
pub const SESSION_ID_LEN: usize = 16;
/// Version tag at the start of the importer context.
const CONTEXT_TAG: &[u8] = b"MPIN1";

/// The `ImportedIdentity` structure for an M-Pin session.
pub fn imported_identity(
    session_id: &[u8; SESSION_ID_LEN],
    transcript_hash: &[u8],
    client_identity: &[u8],
    server_label: &[u8],
) -> Vec<u8> {
    let mut context =
        Vec::with_capacity(9 + transcript_hash.len() + client_identity.len() + server_label.len());
    context.extend_from_slice(CONTEXT_TAG);
    context.extend_from_slice(transcript_hash);
    put_vec(&mut context, 2, |o| o.extend_from_slice(client_identity));
    put_vec(&mut context, 2, |o| o.extend_from_slice(server_label));
    imported_identity_with_context(session_id, &context)
}

/// The `ImportedIdentity` structure for any channel: the session id as external identity and
/// the channel's `context` (which starts with the channel's own tag: "MPIN1", "P2PWCC1").
pub fn imported_identity_with_context(
    session_id: &[u8; SESSION_ID_LEN],
    context: &[u8],
) -> Vec<u8> {
    let mut out = Vec::with_capacity(8 + SESSION_ID_LEN + context.len());
    put_vec(&mut out, 2, |o| o.extend_from_slice(session_id));
    put_vec(&mut out, 2, |o| o.extend_from_slice(context));
    out.extend_from_slice(&TLS13.to_be_bytes());
    out.extend_from_slice(&KDF_HKDF_SHA256.to_be_bytes());
    out
}

/// The imported PSK (identity = serialized `ImportedIdentity`, SHA-256, "imp binder").
pub fn import(epsk: &[u8], imported_identity: &[u8]) -> Result<Psk, Error> {
    let alg = HashAlgorithm::Sha256;
    let zeros = [0u8; 32];
    let epskx = extract(alg, &zeros, epsk);
    let ipskx = expand_label(
        alg,
        &epskx,
        b"derived psk",
        &hash(alg, imported_identity),
        32,
    )?;
    Ok(Psk::new(imported_identity, &ipskx, alg)?.with_binder_label(BinderLabel::Imported))
}

/// The one-time PSK of an M-Pin session: its key imported under its [`imported_identity`]
/// (session id, transcript hash, client identity, server label). Both ends call this with
/// their own M-Pin results.
pub(crate) fn session_psk(
    session_id: &[u8; SESSION_ID_LEN],
    session: &mpin_kex::Session,
    server_label: &[u8],
) -> Result<Psk, Error> {
    let imported = imported_identity(
        session_id,
        &session.transcript_hash,
        &session.identity,
        server_label,
    );
    import(session.key.as_bytes(), &imported)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layout_and_determinism() {
        let id = imported_identity(&[7; 16], &[1; 48], b"alice", b"srv");
        assert_eq!(&id[..2], &[0, 16]);
        assert_eq!(&id[2..18], &[7; 16]);
        let ctx_len = usize::from(u16::from_be_bytes([id[18], id[19]]));
        assert_eq!(ctx_len, 5 + 48 + 2 + 5 + 2 + 3);
        assert_eq!(&id[id.len() - 4..], &[0x03, 0x04, 0x00, 0x01]);
        let a = import(&[9; 16], &id).unwrap();
        let b = import(&[9; 16], &id).unwrap();
        assert_eq!(a.key(), b.key());
        assert_eq!(a.binder_label(), BinderLabel::Imported);
        // Any change of key or context changes the PSK.
        assert_ne!(import(&[8; 16], &id).unwrap().key(), a.key());
        let other = imported_identity(&[7; 16], &[1; 48], b"alice", b"other");
        assert_ne!(import(&[9; 16], &other).unwrap().key(), a.key());
    }
}
