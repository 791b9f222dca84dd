//! Shared setup for the `mpin_server` fuzz target and its seed generator: one fixed world
//! (the mpin-kex fuzz D-TAs, server context and clock), built once.

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use milagro_tls::mpin::{MpinAcceptor, MpinServerConfig};
use milagro_tls::{HashAlgorithm, Psk, StaticPskStore};
use mpin_kex::{ClientSecret, Credential, HashedId, MasterShare, Pin, Token};
use mpin_kex_fuzz::{context, master_shares, IDENTITY, NOW};

/// The PIN of the fixed credential.
pub const PIN: u32 = 1234;
/// The static PSK identity plain TLS peers may use.
pub const STATIC_ID: &[u8] = b"legacy";
/// Its key.
pub const STATIC_KEY: &[u8] = b"0123456789abcdef0123456789abcdef";

/// Scenario selectors (the first input byte, `% 4`).
pub mod scenario {
    /// The rest is written to the acceptor as is (preface, frames, `0x16` TLS path, garbage).
    pub const RAW: u8 = 0;
    /// `be16(n) ‖ hello[n] ‖ be16(m) ‖ response[m] ‖ tls`: the client sends the preface and a
    /// HELLO frame, reads the server's frame, then sends a RESPONSE frame and the TLS bytes.
    pub const MULTI_PASS: u8 = 1;
    /// `be16(n) ‖ hello[n] ‖ tls`: preface, a ONE-PASS HELLO frame, then the TLS bytes.
    pub const ONE_PASS: u8 = 2;
    /// A genuine M-Pin exchange with the fixed credential (bit 2 of the selector: one-pass),
    /// then the rest as the client's TLS bytes (the post-M-Pin TLS path, imported PSK only).
    pub const GENUINE: u8 = 3;
}

/// The fixed credential of `IDENTITY` (no time permit: the fuzz context does not require one).
pub fn credential() -> Arc<Credential> {
    static CRED: OnceLock<Arc<Credential>> = OnceLock::new();
    CRED.get_or_init(|| {
        let h = HashedId::of(IDENTITY);
        let shares: Vec<_> = master_shares()
            .iter()
            .map(|d: &MasterShare| d.client_secret_share(&h))
            .collect();
        let cred = ClientSecret::combine(&shares)
            .ok()
            .zip(Pin::new(PIN).ok())
            .and_then(|(cs, pin)| Token::extract(&cs, IDENTITY, &pin).ok())
            .and_then(|token| Credential::new(IDENTITY, token, None).ok());
        match cred {
            Some(c) => Arc::new(c),
            None => unreachable!("the fixed credential is valid"),
        }
    })
    .clone()
}

/// The static PSK store's one key.
pub fn static_psk() -> Option<Psk> {
    Psk::new(STATIC_ID, STATIC_KEY, HashAlgorithm::Sha256).ok()
}

/// The server settings under test: the mpin-kex fuzz server context (no lockout, no replay
/// cache, so inputs do not depend on each other), clock fixed at `NOW`, a static PSK for plain
/// TLS peers and the default ticket store.
pub fn server_config() -> Arc<MpinServerConfig> {
    static CONFIG: OnceLock<Arc<MpinServerConfig>> = OnceLock::new();
    CONFIG
        .get_or_init(|| {
            let mut cfg = MpinServerConfig::new(context().clone());
            cfg.options.clock = Arc::new(|| NOW);
            cfg.static_psks = static_psk()
                .map(|p| Arc::new([p].into_iter().collect::<StaticPskStore>()) as Arc<_>);
            Arc::new(cfg)
        })
        .clone()
}

/// The acceptor under test: [`server_config`] with a 2 s handshake timeout.
pub fn acceptor() -> &'static MpinAcceptor {
    static ACCEPTOR: OnceLock<MpinAcceptor> = OnceLock::new();
    ACCEPTOR.get_or_init(|| {
        MpinAcceptor::new(server_config()).with_handshake_timeout(Duration::from_secs(2))
    })
}
