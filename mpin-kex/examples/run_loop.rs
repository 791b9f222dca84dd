//! N successful multi-pass M-Pin Full runs with a time permit (client and server, one
//! identity, fixed seeds), for instruction counts that do not depend on the machine's load:
//!
//! ```text
//! cargo build -p mpin-kex --release --example run_loop
//! valgrind --tool=callgrind target/release/examples/run_loop 5    # and again with 25:
//! ```
//! the difference of the two totals over 20 is the cost of one run (both sides), setup
//! cancelled out; `callgrind_annotate --inclusive=yes` splits it per side
//! (`Client::hello`/`challenge`, `Server::hello`/`response`). Past 64 runs the server's
//! fixed-base tables for the identity are in use (compare 70 and 90 runs).

// A measuring harness, not a user-input path: a failing step should abort loudly.
#![allow(clippy::unwrap_used, clippy::expect_used)]
use mpin_kex::{
    policy, Client, ClientSecret, Credential, HashedId, MasterShare, Pin, Server, ServerContext,
    ServerKey, ServerPolicy, ServerSecret, TimePermit, Token,
};
use rand::rngs::StdRng;
use rand::SeedableRng;

const NOW: u64 = 1_800_000_000;

fn main() {
    let n: usize = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(10);
    let mut rng = StdRng::seed_from_u64(1);
    let dtas = [
        MasterShare::generate(&mut rng),
        MasterShare::generate(&mut rng),
    ];
    let identity = b"alice@example.com";
    let id = HashedId::of(identity);
    let today = policy::day_of(NOW);
    let shares: Vec<_> = dtas.iter().map(|d| d.client_secret_share(&id)).collect();
    let cs = ClientSecret::combine(&shares).unwrap();
    let pin: Pin = "1234".parse().unwrap();
    let token = Token::extract(&cs, identity, &pin).unwrap();
    let ps: Vec<_> = dtas
        .iter()
        .map(|d| d.time_permit_share(&id, today).unwrap())
        .collect();
    let permit = TimePermit::combine(&ps).unwrap();
    let cred = Credential::new(identity, token, Some(permit)).unwrap();
    let ss = ServerSecret::combine(
        &dtas
            .iter()
            .map(MasterShare::server_secret_share)
            .collect::<Vec<_>>(),
    )
    .unwrap();
    let ctx = ServerContext::new(ServerKey::new(ss).unwrap(), ServerPolicy::default());
    for _ in 0..n {
        {
            {
                let mut c = Client::new(&cred, "1234".parse::<Pin>().unwrap());
                let hello = c.hello(&mut rng).unwrap();
                let mut s = Server::new(ctx.clone());
                let ch = s.hello(&hello, NOW, &mut rng).unwrap();
                let (resp, a) = c.challenge(&ch).unwrap();
                let b = s.response(&resp, NOW).unwrap();
                assert_eq!(a.key.as_bytes(), b.key.as_bytes());
            }
        }
    }
}
