//! Shared setup for the `mpin_server` fuzz target and its seed generator: one fixed world
//! (the mpin-kex fuzz D-TAs, server context and clock), built once; and the inline driver of
//! the sans-IO connection targets (`mpin_server_connection`, `p2p_server_connection`).

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use milagro_tls::mpin::{Handshake, MpinAcceptor, MpinError, MpinServerConfig, Status};
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

/// Most steps per chunk (each job or retry is one).
const MAX_STEPS: usize = 16;

/// Runs `conn` until it needs input, its jobs inline; `false` once it failed or is
/// established. Panics on an `MpinError::Internal` (each job output is fed back once, in
/// order, so a well-driven connection never reports one).
pub fn drive(conn: &mut impl Handshake) -> bool {
    for _ in 0..MAX_STEPS {
        match conn.process() {
            Ok(Status::NeedInput) => return true,
            Ok(Status::Established) => return false,
            Ok(Status::RetryAfter(_)) => {}
            Ok(Status::Compute(job)) => {
                if let Err(e) = conn.complete(job.run()) {
                    check(&e);
                    return false;
                }
            }
            Err(e) => {
                check(&e);
                return false;
            }
        }
    }
    true
}

fn check(e: &MpinError) {
    if let MpinError::Internal(what) = e {
        panic!("internal error from a well-driven connection: {what}");
    }
}

/// Splits `be16(n) ‖ bytes[n] ‖ rest` (short inputs give what there is).
fn take16(data: &[u8]) -> (&[u8], &[u8]) {
    let [a, b, rest @ ..] = data else {
        return (data, &[]);
    };
    let n = usize::from(u16::from_be_bytes([*a, *b])).min(rest.len());
    rest.split_at(n)
}

/// Pumps a genuine `client` against `server` for `rounds` rounds (at most 8); `false` once
/// the server failed or is established.
pub fn pump(client: &mut impl Handshake, server: &mut impl Handshake, rounds: u8) -> bool {
    for _ in 0..rounds.min(8) {
        let client_alive = drive(client);
        server.read_input(&client.take_output());
        if !drive(server) {
            return false;
        }
        client.read_input(&server.take_output());
        if !client_alive {
            break;
        }
    }
    true
}

/// Feeds `data` (`be16(n) ‖ chunk[n]` repeated) to `server` chunk by chunk, driving it after
/// each, then ends the input.
pub fn feed_chunks(server: &mut impl Handshake, mut data: &[u8]) {
    while !data.is_empty() {
        let (chunk, tail) = take16(data);
        data = tail;
        server.read_input(chunk);
        let alive = drive(server);
        let _ = server.take_output();
        if !alive {
            break;
        }
    }
    let _ = server.read_eof();
    let _ = server.take_output();
}
