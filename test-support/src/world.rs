//! The M-Pin world in process: D-TAs and everything they issue.

use std::sync::Arc;

use milagro_tls::{HashAlgorithm, Psk, StaticPskStore};
use mpin_kex::{
    policy, ClientSecret, Credential, HashedId, MasterShare, Pin, ServerContext, ServerKey,
    ServerPolicy, ServerSecret, TimePermit, Token,
};
use rand_core::OsRng;

/// `n` D-TAs (master shares) and the server secret they issued together.
pub struct MpinWorld {
    /// The D-TAs' master shares.
    pub dtas: Vec<MasterShare>,
    /// The combined server secret.
    pub ss: ServerSecret,
}

/// Seconds since the Unix epoch by the system clock (as `milagro_tls`'s system clock).
fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// Today's day number by the system clock (the day a time permit is for).
pub fn today() -> u32 {
    policy::day_of(unix_now())
}

impl MpinWorld {
    /// `n` fresh D-TAs.
    pub fn new(n: usize) -> Self {
        let dtas: Vec<_> = (0..n).map(|_| MasterShare::generate(&mut OsRng)).collect();
        let shares: Vec<_> = dtas.iter().map(MasterShare::server_secret_share).collect();
        let ss = ServerSecret::combine(&shares).expect("server secret shares combine");
        Self { dtas, ss }
    }

    /// The client secret of `id`, combined from every D-TA's share.
    pub fn client_secret(&self, id: &[u8]) -> ClientSecret {
        let h = HashedId::of(id);
        let shares: Vec<_> = self
            .dtas
            .iter()
            .map(|d| d.client_secret_share(&h))
            .collect();
        ClientSecret::combine(&shares).expect("client secret shares combine")
    }

    /// The time permit of `id` for `day`, combined from every D-TA's share.
    pub fn permit(&self, id: &[u8], day: u32) -> TimePermit {
        let h = HashedId::of(id);
        let shares: Vec<_> = self
            .dtas
            .iter()
            .map(|d| d.time_permit_share(&h, day).expect("time permit share"))
            .collect();
        TimePermit::combine(&shares).expect("time permit shares combine")
    }

    /// The token of `id` for PIN `pin` (the client secret with the PIN taken out).
    pub fn token(&self, id: &[u8], pin: u32) -> Token {
        let pin = Pin::new(pin).expect("a valid test PIN");
        Token::extract(&self.client_secret(id), id, &pin).expect("token extraction")
    }

    /// A credential of `id` for PIN `pin`, with a time permit for `permit_day` (if any).
    pub fn credential(&self, id: &[u8], pin: u32, permit_day: Option<u32>) -> Credential {
        let permit = permit_day.map(|d| self.permit(id, d));
        Credential::new(id, self.token(id, pin), permit).expect("credential")
    }

    /// [`MpinWorld::credential`] with today's permit (or none), shared.
    pub fn credential_today(&self, id: &[u8], pin: u32, permit: bool) -> Arc<Credential> {
        Arc::new(self.credential(id, pin, permit.then(today)))
    }

    /// The server's key.
    pub fn server_key(&self) -> ServerKey {
        ServerKey::new(self.ss.clone()).expect("server key")
    }

    /// A server context with `policy`.
    pub fn context(&self, policy: ServerPolicy) -> ServerContext {
        ServerContext::new(self.server_key(), policy)
    }
}

/// A static PSK store holding one SHA-256 PSK `identity` → `key`.
pub fn static_psk_store(identity: &[u8], key: &[u8]) -> Arc<StaticPskStore> {
    let psk = Psk::new(identity, key, HashAlgorithm::Sha256).expect("a valid test PSK");
    Arc::new([psk].into_iter().collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_credential_logs_in_with_its_pin_and_not_another() {
        let w = MpinWorld::new(2);
        let ctx = w.context(ServerPolicy::default());
        let cred = w.credential(b"alice", 1234, Some(today()));
        let now = unix_now();
        let run = |pin: u32| {
            let mut c = mpin_kex::Client::new(&cred, Pin::new(pin).expect("pin"));
            let mut s = mpin_kex::Server::new(ctx.clone());
            let hello = c.hello(&mut OsRng).expect("hello");
            let ch = s.hello(&hello, now, &mut OsRng).expect("challenge");
            let (resp, _) = c.challenge(&ch).expect("response");
            s.response(&resp, now).map(|sess| sess.identity)
        };
        assert_eq!(run(1234).expect("right PIN"), b"alice".to_vec());
        assert!(run(1235).is_err(), "a wrong PIN must fail");
    }
}
