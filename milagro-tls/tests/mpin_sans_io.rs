//! The sans-IO M-Pin connections pumped against each other in memory: no sockets, no async
//! runtime; each job runs on a `std::thread`.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;

use milagro_tls::mpin::{
    Handshake, JobOutput, MpinClientConfig, MpinClientConnection, MpinError, MpinServerConfig,
    MpinServerConnection, Peer, Status, REFUSAL_FLOOR,
};
use milagro_tls::{
    ClientConfig, ClientConnection, ConnectionCommon, HashAlgorithm, Psk, StaticPskStore,
    TicketCache,
};
use mpin_kex::*;
use rand_core::OsRng;

const ID: &[u8] = b"alice@example.com";

struct World {
    dtas: Vec<MasterShare>,
    ss: ServerSecret,
}

impl World {
    fn new() -> Self {
        let dtas: Vec<_> = (0..2).map(|_| MasterShare::generate(&mut OsRng)).collect();
        let shares: Vec<_> = dtas.iter().map(MasterShare::server_secret_share).collect();
        let ss = ServerSecret::combine(&shares).unwrap();
        Self { dtas, ss }
    }

    fn credential(&self, pin: u32) -> Arc<Credential> {
        let h = HashedId::of(ID);
        let day = policy::day_of(milagro_tls::system_clock());
        let shares: Vec<_> = self
            .dtas
            .iter()
            .map(|d| d.client_secret_share(&h))
            .collect();
        let cs = ClientSecret::combine(&shares).unwrap();
        let token = Token::extract(&cs, ID, &Pin::new(pin).unwrap()).unwrap();
        let permits: Vec<_> = self
            .dtas
            .iter()
            .map(|d| d.time_permit_share(&h, day).unwrap())
            .collect();
        let permit = TimePermit::combine(&permits).unwrap();
        Arc::new(Credential::new(ID, token, Some(permit)).unwrap())
    }

    fn server(&self) -> MpinServerConfig {
        let key = ServerKey::new(self.ss.clone()).unwrap();
        MpinServerConfig::new(ServerContext::new(key, ServerPolicy::default()))
    }

    fn client(&self, pin_used: u32, mode: Mode) -> MpinClientConfig {
        let mut cfg = MpinClientConfig::new(self.credential(1234), Pin::new(pin_used).unwrap());
        cfg.mode = mode;
        cfg
    }
}

/// Runs `conn` until it needs input or is established (true); jobs run on another thread.
/// Counts the jobs run, and those that said they wait on the network.
fn step(conn: &mut impl Handshake, jobs: &mut Jobs) -> Result<bool, MpinError> {
    for _ in 0..64 {
        match conn.process()? {
            Status::NeedInput => return Ok(false),
            Status::Established => return Ok(true),
            Status::Compute(job) => {
                jobs.run += 1;
                jobs.on_network += usize::from(job.waits_on_network());
                let output = std::thread::spawn(move || job.run()).join().unwrap();
                conn.complete(output)?;
            }
            // no other connection of the identity is being verified here
            Status::RetryAfter(pause) => panic!("unexpected busy answer ({pause:?})"),
        }
    }
    panic!("no progress in 64 steps");
}

/// Jobs a pumped pair ran.
#[derive(Default, Debug, Clone, Copy, PartialEq, Eq)]
struct Jobs {
    run: usize,
    on_network: usize,
}

/// What a pumped pair ended with.
#[derive(Default)]
struct Pumped {
    client: Option<MpinError>,
    server: Option<MpinError>,
    jobs: Jobs,
}

/// Pumps bytes both ways until both ends are established or one fails (the other then gets
/// what the failing end queued, once).
fn pump(c: &mut impl Handshake, s: &mut impl Handshake) -> Pumped {
    let mut p = Pumped::default();
    for _ in 0..32 {
        let cd = match step(c, &mut p.jobs) {
            Ok(done) => done,
            Err(e) => {
                s.read_input(&c.take_output());
                p.server = step(s, &mut p.jobs).err();
                p.client = Some(e);
                return p;
            }
        };
        s.read_input(&c.take_output());
        let sd = match step(s, &mut p.jobs) {
            Ok(done) => done,
            Err(e) => {
                c.read_input(&s.take_output());
                p.client = step(c, &mut p.jobs).err();
                p.server = Some(e);
                return p;
            }
        };
        c.read_input(&s.take_output());
        if cd && sd {
            return p;
        }
    }
    panic!("the handshake did not finish in 32 rounds");
}

/// Application data both ways over the established TLS connections.
fn exchange(c: &mut ConnectionCommon, s: &mut ConnectionCommon) {
    c.write_plaintext(b"ping").unwrap();
    s.read_tls(&c.take_tls());
    s.process_new_packets().unwrap();
    let mut buf = [0u8; 16];
    let n = s.read_plaintext(&mut buf);
    assert_eq!(&buf[..n], b"ping");
    s.write_plaintext(b"pong").unwrap();
    c.read_tls(&s.take_tls());
    c.process_new_packets().unwrap();
    let n = c.read_plaintext(&mut buf);
    assert_eq!(&buf[..n], b"pong");
}

fn establish(
    w: &World,
    server: &Arc<MpinServerConfig>,
    mode: Mode,
    tickets: &Arc<TicketCache>,
) -> (ConnectionCommon, ConnectionCommon, Peer, Jobs) {
    let mut c = MpinClientConnection::new(Arc::new(w.client(1234, mode)), tickets.clone()).unwrap();
    let mut s = MpinServerConnection::new(server.clone(), Some(b"10.0.0.1"));
    let p = pump(&mut c, &mut s);
    assert!(
        p.client.is_none() && p.server.is_none(),
        "{:?} {:?}",
        p.client,
        p.server
    );
    assert!(!c.is_handshaking() && !s.is_handshaking());
    let (sc, peer) = s.into_parts().unwrap();
    (c.into_connection().unwrap(), sc, peer, p.jobs)
}

fn run_mode(mode: Mode) {
    let w = World::new();
    let server = Arc::new(w.server());
    let (mut c, mut s, peer, jobs) = establish(&w, &server, mode, &Arc::new(TicketCache::new()));
    exchange(&mut c, &mut s);
    let Peer::Mpin {
        identity,
        mode: m,
        resumed,
        ..
    } = peer
    else {
        panic!("expected an M-Pin peer, got {peer:?}");
    };
    assert_eq!((identity.as_slice(), m, resumed), (ID, mode, false));
    // multi-pass: client hello, server challenge, client response, server decision;
    // one-pass: client hello, server decision, client reply
    let want = if mode == Mode::MultiPass { 4 } else { 3 };
    assert_eq!(jobs.run, want, "every pairing/G1 computation is a job");
    assert_eq!(
        jobs.on_network, 0,
        "in-memory stores: every job may run inline"
    );
    assert!(!c.resumed() && !s.resumed());
}

#[test]
fn multi_pass_in_memory() {
    run_mode(Mode::MultiPass);
}

#[test]
fn one_pass_in_memory() {
    run_mode(Mode::OnePass);
}

#[test]
fn resumption_in_memory_runs_no_job() {
    let w = World::new();
    let server = Arc::new(w.server());
    let tickets = Arc::new(TicketCache::new());
    let (mut c, mut s, _, _) = establish(&w, &server, Mode::MultiPass, &tickets);
    // the ticket travels after the handshake, with application data
    exchange(&mut c, &mut s);
    assert!(tickets.has_ticket(), "no ticket after the M-Pin handshake");
    let (mut c, mut s, peer, jobs) = establish(&w, &server, Mode::MultiPass, &tickets);
    exchange(&mut c, &mut s);
    assert_eq!(jobs.run, 0, "a resumption computes nothing");
    assert!(c.resumed() && s.resumed());
    assert!(
        matches!(&peer, Peer::Mpin { identity, resumed: true, .. } if identity == ID),
        "{peer:?}"
    );
}

#[test]
fn static_psk_peer_is_dispatched_on_its_first_byte() {
    let w = World::new();
    let psk = Psk::new(b"legacy", b"0123456789abcdef0123", HashAlgorithm::Sha256).unwrap();
    let mut cfg = w.server();
    cfg.static_psks = Some(Arc::new(
        [psk.clone()].into_iter().collect::<StaticPskStore>(),
    ));
    let mut s = MpinServerConnection::new(Arc::new(cfg), None);
    let mut c = ClientConnection::new(Arc::new(ClientConfig::new(psk)))
        .unwrap()
        .into_common();
    let mut jobs = Jobs::default();
    for _ in 0..8 {
        s.read_input(&c.take_tls());
        if step(&mut s, &mut jobs).unwrap() {
            break;
        }
        c.read_tls(&s.take_output());
        c.process_new_packets().unwrap();
    }
    c.read_tls(&s.take_output());
    c.process_new_packets().unwrap();
    assert!(!c.is_handshaking());
    let (mut sc, peer) = s.into_parts().unwrap();
    assert_eq!(
        peer,
        Peer::Psk {
            identity: b"legacy".to_vec()
        }
    );
    assert_eq!(jobs.run, 0);
    exchange(&mut c, &mut sc);
}

#[test]
fn wrong_pin_is_refused_with_the_generic_failure_frame() {
    let w = World::new();
    let server = Arc::new(w.server());
    for mode in [Mode::MultiPass, Mode::OnePass] {
        let cfg = Arc::new(w.client(1235, mode));
        let mut c = MpinClientConnection::new(cfg, Arc::new(TicketCache::new())).unwrap();
        let mut s = MpinServerConnection::new(server.clone(), None);
        let p = pump(&mut c, &mut s);
        assert!(
            matches!(
                p.server,
                Some(MpinError::Auth(AuthError::BadProof {
                    genuine_token: true,
                    ..
                }))
            ),
            "{mode:?}: {:?}",
            p.server
        );
        assert!(s.refused());
        assert_eq!(s.refusal_floor(), Some(REFUSAL_FLOOR));
        assert!(
            matches!(p.client, Some(MpinError::Refused)),
            "{:?}",
            p.client
        );
        assert!(s.into_parts().is_none() && c.into_connection().is_none());
    }
}

/// A fresh server connection fed `bytes`: the error, and what it queued for the peer.
fn feed(bytes: &[u8]) -> (Result<Status, MpinError>, bool, Vec<u8>) {
    let w = World::new();
    let mut s = MpinServerConnection::new(Arc::new(w.server()), None);
    s.read_input(bytes);
    let r = s.process();
    (r, s.refused(), s.take_output())
}

#[test]
fn garbage_prefaces_are_refused_without_a_frame() {
    for (bytes, want) in [
        (&b"GET / HTTP/1.1\r\n"[..], 'G'),
        (b"MPIX\x01", 'M'),
        (b"\x00\x00", '\0'),
    ] {
        let (r, refused, out) = feed(bytes);
        assert!(
            matches!(r, Err(MpinError::UnknownProtocol(b)) if char::from(b) == want),
            "{bytes:?}: {r:?}"
        );
        assert!(!refused && out.is_empty(), "nothing is sent to a stranger");
    }
    let (r, _, out) = feed(b"MPIN\x02");
    assert!(matches!(r, Err(MpinError::Version(2))), "{r:?}");
    assert!(out.is_empty());
    // without a static PSK store nor tickets, a TLS record is not expected either
    let w = World::new();
    let mut cfg = w.server();
    cfg.tickets = None;
    let mut s = MpinServerConnection::new(Arc::new(cfg), None);
    s.read_input(&[0x16, 0x03, 0x01]);
    assert!(matches!(s.process(), Err(MpinError::UnknownProtocol(0x16))));
    // an incomplete preface waits
    let (r, _, _) = feed(b"MPI");
    assert!(matches!(r, Ok(Status::NeedInput)), "{r:?}");
}

#[test]
fn bad_frames_after_the_preface_get_the_failure_frame() {
    let failure = [0x7f, 0, 0, 0];
    // oversized: refused on the header, before any body is buffered
    let (r, refused, out) = feed(b"MPIN\x01\x04\xff\xff\xff");
    assert!(matches!(r, Err(MpinError::Protocol(_))), "{r:?}");
    assert!(refused);
    assert_eq!(out, failure);
    // unknown frame type
    let (r, _, out) = feed(b"MPIN\x01\x09\x00\x00\x00");
    assert!(matches!(r, Err(MpinError::Protocol(_))), "{r:?}");
    assert_eq!(out, failure);
    // a response frame where the hello belongs
    let (r, _, _) = feed(b"MPIN\x01\x03\x00\x00\x01\x00");
    assert!(matches!(r, Err(MpinError::Protocol(_))), "{r:?}");
    // a hello that does not decode
    let (r, _, out) = feed(b"MPIN\x01\x01\x00\x00\x03abc");
    assert!(matches!(r, Err(MpinError::Decode(_))), "{r:?}");
    assert_eq!(out, failure);
    // truncated: waits for the rest; the peer closing then is an I/O error, still refused
    let w = World::new();
    let mut s = MpinServerConnection::new(Arc::new(w.server()), None);
    s.read_input(b"MPIN\x01\x01\x00\x01\x00abc");
    assert!(matches!(s.process(), Ok(Status::NeedInput)));
    assert!(s.take_output().is_empty());
    assert!(matches!(s.read_eof(), MpinError::Io(_)));
    assert!(s.refused() && s.refusal_floor().is_none());
    assert_eq!(s.take_output(), failure);
    assert!(matches!(s.process(), Err(MpinError::Internal(_))));
}

#[test]
fn client_rejects_truncated_and_unexpected_server_frames() {
    let w = World::new();
    let new_client = || {
        let cfg = Arc::new(w.client(1234, Mode::MultiPass));
        let mut c = MpinClientConnection::new(cfg, Arc::new(TicketCache::new())).unwrap();
        let mut jobs = Jobs::default();
        assert!(!step(&mut c, &mut jobs).unwrap());
        assert_eq!(jobs.run, 1);
        assert!(c.take_output().starts_with(b"MPIN\x01\x01"));
        c
    };
    let mut c = new_client();
    c.read_input(&[0x02, 0, 0, 8, 1, 2, 3]);
    assert!(
        matches!(c.process(), Ok(Status::NeedInput)),
        "truncated waits"
    );
    assert!(matches!(c.read_eof(), MpinError::Io(_)));
    let mut c = new_client();
    c.read_input(&[0x05, 0, 0, 0]);
    assert!(matches!(c.process(), Err(MpinError::Protocol(_))));
    let mut c = new_client();
    c.read_input(&[0x02, 0, 0, 3, 1, 2, 3]);
    assert!(
        matches!(c.process(), Err(MpinError::Protocol(_))),
        "shorter than a session id"
    );
    let mut c = new_client();
    c.read_input(&[0x02, 0xff, 0xff, 0xff]);
    assert!(
        matches!(c.process(), Err(MpinError::Protocol(_))),
        "oversized"
    );
    let mut c = new_client();
    c.read_input(&[0x7f, 0, 0, 0]);
    assert!(matches!(c.process(), Err(MpinError::Refused)));
}

/// The first job a multi-pass server hands out (the challenge), with the connection.
fn server_waiting_for_a_job(w: &World) -> (MpinServerConnection, JobOutput) {
    let cfg = Arc::new(w.client(1234, Mode::MultiPass));
    let mut c = MpinClientConnection::new(cfg, Arc::new(TicketCache::new())).unwrap();
    let mut jobs = Jobs::default();
    step(&mut c, &mut jobs).unwrap();
    let mut s = MpinServerConnection::new(Arc::new(w.server()), None);
    s.read_input(&c.take_output());
    let Ok(Status::Compute(job)) = s.process() else {
        panic!("the server should ask for the challenge computation");
    };
    (s, job.run())
}

#[test]
fn job_output_fed_to_the_wrong_state_is_refused_and_changes_nothing() {
    let w = World::new();
    let (mut a, out_a) = server_waiting_for_a_job(&w);
    let (mut b, out_b) = server_waiting_for_a_job(&w);
    // another connection's output (same kind of job) is refused; the right one still works
    assert!(matches!(a.complete(out_b), Err(MpinError::Internal(_))));
    assert!(
        matches!(a.process(), Err(MpinError::Internal(_))),
        "still waiting"
    );
    let (mut a, out_a2) = server_waiting_for_a_job(&w);
    assert!(matches!(a.complete(out_a), Err(MpinError::Internal(_))));
    a.complete(out_a2).unwrap();
    assert!(matches!(a.process(), Ok(Status::NeedInput)));
    assert_eq!(a.take_output()[0], 0x02, "the challenge frame");
    // an output fed to a connection that is not computing
    let (_, out_c) = server_waiting_for_a_job(&w);
    let mut fresh = MpinServerConnection::new(Arc::new(w.server()), None);
    assert!(matches!(fresh.complete(out_c), Err(MpinError::Internal(_))));
    // a client job's output fed to a server waiting for its own
    let cfg = Arc::new(w.client(1234, Mode::MultiPass));
    let mut c = MpinClientConnection::new(cfg, Arc::new(TicketCache::new())).unwrap();
    let Ok(Status::Compute(job)) = c.process() else {
        panic!("the client starts with the hello computation");
    };
    assert!(matches!(b.complete(job.run()), Err(MpinError::Internal(_))));
    let _ = b.take_output();
}

/// A failure store that says it answers over the network (as the Redis store does).
struct Remote(MemoryFailureStore);

impl FailureStore for Remote {
    fn begin(&self, id: &HashedId, now: u64, rules: &LockoutRules) -> Gate {
        self.0.begin(id, now, rules)
    }
    fn finish(&self, id: &HashedId, outcome: Outcome, now: u64, rules: &LockoutRules) {
        self.0.finish(id, outcome, now, rules);
    }
    fn standing(&self, id: &HashedId, now: u64) -> Standing {
        self.0.standing(id, now)
    }
    fn clear(&self, id: &HashedId) {
        self.0.clear(id);
    }
    fn waits_on_network(&self) -> bool {
        true
    }
}

#[test]
fn server_jobs_say_they_wait_on_the_network_when_the_store_does() {
    let w = World::new();
    let mut server = w.server();
    server.context.failures = Arc::new(Remote(MemoryFailureStore::default()));
    let server = Arc::new(server);
    let (_, _, _, jobs) = establish(&w, &server, Mode::MultiPass, &Arc::new(TicketCache::new()));
    // the server's two jobs (hello, response) go to a blocking pool; the client's run inline
    assert_eq!(
        jobs,
        Jobs {
            run: 4,
            on_network: 2
        }
    );
}
