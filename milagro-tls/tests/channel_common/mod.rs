//! Shared by the channel tests over sockets (`mpin_channel`, `mpin_lockout`, `p2p_channel`):
//! the static PSK of their plain TLS-PSK peers, and the server's side of an echo.

#![allow(dead_code, clippy::unwrap_used)]

use std::sync::Arc;

use milagro_tls::{HashAlgorithm, Psk, StaticPskStore};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

/// The identity of the plain TLS-PSK peers' static PSK.
pub const LEGACY_ID: &[u8] = b"legacy";
/// Its key.
pub const LEGACY_KEY: &[u8] = b"0123456789abcdef0123456789abcdef";

/// The static PSK ([`LEGACY_ID`], SHA-256) of the plain TLS-PSK peers.
pub fn legacy_psk() -> Psk {
    Psk::new(LEGACY_ID, LEGACY_KEY, HashAlgorithm::Sha256).unwrap()
}

/// A static PSK store holding [`legacy_psk`] only.
pub fn legacy_store() -> Arc<StaticPskStore> {
    test_support::static_psk_store(LEGACY_ID, LEGACY_KEY)
}

/// Writes back everything read from `tls` until the peer closes, then shuts `tls` down.
pub async fn echo_until_closed(
    tls: &mut (impl AsyncRead + AsyncWrite + Unpin),
) -> std::io::Result<()> {
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = tls.read(&mut buf).await?;
        if n == 0 {
            break;
        }
        tls.write_all(&buf[..n]).await?;
    }
    tls.shutdown().await
}
