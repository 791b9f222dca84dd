//! Shared, deterministic setup for the mpin-kex fuzz targets and the seed generator.

use std::sync::{Arc, OnceLock};

pub mod wcc;

use mpin_kex::{
    FailureStore, Gate, HashedId, LockoutRules, MasterShare, Outcome, ReplayCache, ServerContext,
    ServerKey, ServerPolicy, ServerSecret, Standing,
};
use rand_core::{CryptoRng, RngCore};

/// The server's clock in every fuzz run (2027-01-15T08:00:00Z).
pub const NOW: u64 = 1_800_000_000;

/// Raw identity enrolled by the seed generator.
pub const IDENTITY: &[u8] = b"alice@example.com";

/// A deterministic RNG (splitmix64). Fuzzing only: it is *not* cryptographic, but the targets
/// must be reproducible, and the seed generator must be able to predict the server's challenge.
#[derive(Clone, Debug)]
pub struct FixedRng(u64);

impl FixedRng {
    /// An RNG whose stream depends only on `seed`.
    pub fn new(seed: u64) -> Self {
        Self(seed)
    }
}

impl RngCore for FixedRng {
    fn next_u32(&mut self) -> u32 {
        self.next_u64() as u32
    }
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    fn fill_bytes(&mut self, dest: &mut [u8]) {
        for chunk in dest.chunks_mut(8) {
            let v = self.next_u64().to_le_bytes();
            chunk.copy_from_slice(&v[..chunk.len()]);
        }
    }
    fn try_fill_bytes(&mut self, dest: &mut [u8]) -> Result<(), rand_core::Error> {
        self.fill_bytes(dest);
        Ok(())
    }
}

impl CryptoRng for FixedRng {}

/// The seed of the server RNG: every server run starts from it, so a hello always gets the
/// same challenge.
pub const SERVER_RNG_SEED: u64 = 0;

/// Two D-TAs with fixed master shares.
pub fn master_shares() -> [MasterShare; 2] {
    // 32 significant bytes below the 255-bit group order.
    let share = |b: u8| {
        let mut bytes = [0u8; MasterShare::LEN];
        bytes[MasterShare::LEN - 32..].fill(b);
        MasterShare::from_bytes(&bytes).ok()
    };
    match (share(0x11), share(0x22)) {
        (Some(a), Some(b)) => [a, b],
        _ => unreachable!("fixed shares are canonical"),
    }
}

/// Never locks out (the lockout would make the targets depend on earlier inputs).
struct NoLockout;

impl FailureStore for NoLockout {
    fn begin(&self, _: &HashedId, _: u64, _: &LockoutRules) -> Gate {
        Gate::Go
    }
    fn finish(&self, _: &HashedId, _: Outcome, _: u64, _: &LockoutRules) {}
    fn standing(&self, _: &HashedId, _: u64) -> Standing {
        Standing::default()
    }
    fn clear(&self, _: &HashedId) {}
}

/// Accepts every one-pass hello (replay detection would make the targets stateful).
struct NoReplayCheck;

impl ReplayCache for NoReplayCheck {
    fn contains(&self, _: &[u8; 32], _: u64) -> bool {
        false
    }
    fn insert_new(&self, _: [u8; 32], _: u64, _: u64) -> bool {
        true
    }
}

/// The server context of the fixed D-TAs: permits optional, PIN-error detection on (more code
/// reachable), stateless stores.
pub fn context() -> &'static ServerContext {
    static CTX: OnceLock<ServerContext> = OnceLock::new();
    CTX.get_or_init(|| {
        let shares: Vec<_> = master_shares()
            .iter()
            .map(MasterShare::server_secret_share)
            .collect();
        let key = ServerSecret::combine(&shares)
            .ok()
            .and_then(|ss| ServerKey::new(ss).ok());
        let Some(key) = key else {
            unreachable!("fixed server secret is valid")
        };
        let mut ctx = ServerContext::new(
            key,
            ServerPolicy {
                require_permits: false,
                pin_error_detection: true,
                ..ServerPolicy::default()
            },
        );
        ctx.failures = Arc::new(NoLockout);
        ctx.replay = Arc::new(NoReplayCheck);
        ctx
    })
}

/// Input layout of the `server` target: `mode` byte, then for multi-pass (`mode` even)
/// `be16(hello_len) ‖ hello ‖ response`, for one-pass (`mode` odd) the one-pass hello.
pub fn server_multipass_input(hello: &[u8], response: &[u8]) -> Vec<u8> {
    let mut v = vec![0u8];
    v.extend_from_slice(&(hello.len() as u16).to_be_bytes());
    v.extend_from_slice(hello);
    v.extend_from_slice(response);
    v
}
