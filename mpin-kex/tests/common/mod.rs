//! Shared setup: D-TAs, an enrolled identity, a server context.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use mpin_kex::*;
use rand_core::OsRng;

/// A fixed clock: 2027-01-15 12:00 UTC.
pub const NOW: u64 = 1_800_000_000 - (1_800_000_000 % 86_400) + 43_200;
pub const ID: &[u8] = b"alice@example.com";

pub fn today() -> u32 {
    policy::day_of(NOW)
}

pub struct World {
    pub dtas: Vec<MasterShare>,
    pub ss: ServerSecret,
}

impl World {
    pub fn new(n: usize) -> Self {
        let dtas: Vec<_> = (0..n).map(|_| MasterShare::generate(&mut OsRng)).collect();
        let ss = ServerSecret::combine(
            &dtas
                .iter()
                .map(MasterShare::server_secret_share)
                .collect::<Vec<_>>(),
        )
        .unwrap();
        Self { dtas, ss }
    }

    pub fn client_secret(&self, id: &[u8]) -> ClientSecret {
        let h = HashedId::of(id);
        ClientSecret::combine(
            &self
                .dtas
                .iter()
                .map(|d| d.client_secret_share(&h))
                .collect::<Vec<_>>(),
        )
        .unwrap()
    }

    pub fn permit(&self, id: &[u8], day: u32) -> TimePermit {
        let h = HashedId::of(id);
        TimePermit::combine(
            &self
                .dtas
                .iter()
                .map(|d| d.time_permit_share(&h, day).unwrap())
                .collect::<Vec<_>>(),
        )
        .unwrap()
    }

    pub fn credential(&self, id: &[u8], pin: u32, permit_day: Option<u32>) -> Credential {
        let token = Token::extract(&self.client_secret(id), id, &Pin::new(pin).unwrap()).unwrap();
        Credential::new(id, token, permit_day.map(|d| self.permit(id, d))).unwrap()
    }

    pub fn context(&self, policy: ServerPolicy) -> ServerContext {
        ServerContext::new(ServerKey::new(self.ss.clone()).unwrap(), policy)
    }
}

/// Runs a multi-pass exchange through encoded bytes.
pub fn multi_pass(
    cred: &Credential,
    pin: u32,
    ctx: &ServerContext,
    now: u64,
) -> Result<(Session, Session), AuthError> {
    let mut client = Client::new(cred, Pin::new(pin).unwrap());
    let mut server = Server::new(ctx.clone());
    let hello = client.hello(&mut OsRng).unwrap().encode();
    let challenge = server
        .hello(&Hello::decode(&hello)?, now, &mut OsRng)?
        .encode();
    let (response, cs) = client
        .challenge(&Challenge::decode(&challenge).unwrap())
        .unwrap();
    let ss = server.response(&Response::decode(&response.encode())?, now)?;
    Ok((cs, ss))
}

/// Runs a one-pass exchange through encoded bytes.
pub fn one_pass(
    cred: &Credential,
    pin: u32,
    ctx: &ServerContext,
    now: u64,
    msg: &[u8],
) -> Result<(Session, Session), AuthError> {
    let mut client = Client::new(cred, Pin::new(pin).unwrap());
    let mut server = Server::new(ctx.clone());
    let hello = client
        .one_pass_hello(now, msg, &mut OsRng)
        .unwrap()
        .encode();
    let (reply, ss) = server.one_pass(&OnePassHello::decode(&hello)?, now, &mut OsRng)?;
    let cs = client
        .one_pass_reply(&OnePassReply::decode(&reply.encode()).unwrap())
        .unwrap();
    Ok((cs, ss))
}
