//! Session resumption in memory: NewSessionTicket issuing, psk_dhe_ke
//! resumption, single use, expiry, hash binding, tampering, HRR.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test code

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use milagro_tls::*;

const KEY: &[u8] = b"resumption-test-key-0123456789ab";
const T0: u64 = 1_800_000_000;

struct Server {
    store: Arc<TicketStore>,
    /// The store's record of redeemed tickets (tickets themselves are sealed, not stored).
    used: Arc<MemoryUsedTickets>,
    now: Arc<AtomicU64>,
    config: Arc<ServerConfig>,
}

fn server_with(
    lifetime: u64,
    not_after: Option<u64>,
    edit: impl FnOnce(&mut ServerConfig),
) -> Server {
    let psk = Psk::new(b"client1", KEY, HashAlgorithm::Sha256).unwrap();
    let statics: StaticPskStore = [psk].into_iter().collect();
    let used = Arc::new(MemoryUsedTickets::new(16));
    let store = Arc::new(TicketStore::with_keys(
        TicketKeys::generate().unwrap(),
        used.clone(),
    ));
    let now = Arc::new(AtomicU64::new(T0));
    let clock_now = now.clone();
    let mut settings = TicketSettings::new(
        store.clone(),
        Duration::from_secs(lifetime),
        Some(b"app:alice".to_vec()),
    );
    settings.not_after = not_after;
    settings.pool = 1; // one ticket per handshake here; the pool has its own tests
    settings.clock = Arc::new(move || clock_now.load(Ordering::SeqCst));
    let mut config = ServerConfig::new(Arc::new(statics));
    config.options.tickets = Some(settings);
    edit(&mut config);
    Server {
        store,
        used,
        now,
        config: Arc::new(config),
    }
}

fn server() -> Server {
    server_with(3600, None, |_| {})
}

fn external() -> ClientConfig {
    let mut c = ClientConfig::new(Psk::new(b"client1", KEY, HashAlgorithm::Sha256).unwrap());
    c.options.clock = Arc::new(|| T0);
    c
}

/// Moves bytes both ways until nothing moves; returns (client, server) results.
fn pump(
    c: &mut ClientConnection,
    s: &mut ServerConnection,
) -> (Result<(), Error>, Result<(), Error>) {
    let (mut rc, mut rs) = (Ok(()), Ok(()));
    for _ in 0..20 {
        let to_s = c.take_tls();
        let to_c = s.take_tls();
        if to_s.is_empty() && to_c.is_empty() {
            break;
        }
        if !to_s.is_empty() && rs.is_ok() {
            s.read_tls(&to_s);
            rs = s.process_new_packets();
        }
        if !to_c.is_empty() && rc.is_ok() {
            c.read_tls(&to_c);
            rc = c.process_new_packets();
        }
    }
    (rc, rs)
}

fn read_all(conn: &mut ConnectionCommon) -> Vec<u8> {
    let mut out = vec![0u8; conn.plaintext_len()];
    let n = conn.read_plaintext(&mut out);
    out.truncate(n);
    out
}

/// Runs a handshake plus one message each way; returns both connections.
fn connect(
    cc: ClientConfig,
    s: &Server,
) -> (
    ClientConnection,
    ServerConnection,
    Result<(), Error>,
    Result<(), Error>,
) {
    let mut c = ClientConnection::new(Arc::new(cc)).unwrap();
    let mut sv = ServerConnection::new(s.config.clone()).unwrap();
    c.write_plaintext(b"ping").unwrap();
    let (rc, rs) = pump(&mut c, &mut sv);
    if rc.is_ok() && rs.is_ok() {
        assert_eq!(read_all(&mut sv), b"ping");
        sv.write_plaintext(b"pong").unwrap();
        let (rc, rs) = pump(&mut c, &mut sv);
        rc.unwrap();
        rs.unwrap();
        assert_eq!(read_all(&mut c), b"pong");
    }
    (c, sv, rc, rs)
}

fn first_ticket(s: &Server) -> ClientTicket {
    let (mut c, sv, rc, rs) = connect(external(), s);
    rc.unwrap();
    rs.unwrap();
    assert!(!c.resumed() && !sv.resumed());
    assert_eq!(sv.resumption_app_data(), None);
    let mut tickets = c.take_tickets();
    assert_eq!(tickets.len(), 1);
    tickets.pop().unwrap()
}

fn resume_config(t: ClientTicket) -> ClientConfig {
    let mut c = ClientConfig::resuming(t);
    c.options.clock = Arc::new(|| T0 + 5);
    c
}

fn assert_refused(
    rc: Result<(), Error>,
    rs: Result<(), Error>,
    server_err: Error,
    alert: AlertDescription,
) {
    assert_eq!(rs, Err(server_err));
    assert_eq!(rc, Err(Error::AlertReceived(alert)));
}

#[test]
fn full_handshake_then_resumption_chain() {
    let s = server();
    let t = first_ticket(&s);
    assert_eq!(t.lifetime(), 3600);
    assert_eq!(t.hash(), HashAlgorithm::Sha256);
    assert_eq!(s.used.len(), 0, "issued, not yet spent");
    let ticket_id = t.psk().identity().to_vec();
    let (mut c, sv, rc, rs) = connect(resume_config(t), &s);
    rc.unwrap();
    rs.unwrap();
    assert!(c.resumed() && sv.resumed());
    assert!(c.authenticated_by_psk());
    assert_eq!(sv.resumption_app_data(), Some(&b"app:alice"[..]));
    assert_eq!(sv.psk_identity(), Some(ticket_id.as_slice()));
    // the resumed connection got a fresh ticket with the same binding
    let t2 = c.take_tickets().pop().unwrap();
    assert_ne!(t2.psk().identity(), ticket_id.as_slice());
    assert_eq!(
        s.used.len(),
        1,
        "the first ticket is spent, the fresh one is not"
    );
    let (c3, sv3, rc, rs) = connect(resume_config(t2), &s);
    rc.unwrap();
    rs.unwrap();
    assert!(c3.resumed());
    assert_eq!(sv3.resumption_app_data(), Some(&b"app:alice"[..]));
}

#[test]
fn ticket_is_single_use() {
    let s = server();
    let t = first_ticket(&s);
    let (_, _, rc, rs) = connect(resume_config(t.clone()), &s);
    rc.unwrap();
    rs.unwrap();
    let (_, _, rc, rs) = connect(resume_config(t), &s);
    assert_refused(rc, rs, Error::BadPskBinder, AlertDescription::DecryptError);
}

#[test]
fn client_refuses_to_offer_an_expired_ticket() {
    let s = server();
    let t = first_ticket(&s);
    let mut cc = ClientConfig::resuming(t);
    cc.options.clock = Arc::new(|| T0 + 3600);
    assert!(matches!(
        ClientConnection::new(Arc::new(cc)),
        Err(Error::Config(_))
    ));
}

#[test]
fn expired_ticket_is_refused() {
    let s = server_with(60, None, |_| {});
    let t = first_ticket(&s);
    assert_eq!(t.lifetime(), 60);
    s.now.store(T0 + 60, Ordering::SeqCst);
    let (_, _, rc, rs) = connect(resume_config(t), &s);
    assert_refused(rc, rs, Error::BadPskBinder, AlertDescription::DecryptError);
}

#[test]
fn not_after_caps_the_lifetime_and_the_chain() {
    let s = server_with(3600, Some(T0 + 100), |_| {});
    let t = first_ticket(&s);
    assert_eq!(t.lifetime(), 100);
    s.now.store(T0 + 50, Ordering::SeqCst);
    let (mut c, _, rc, rs) = connect(resume_config(t), &s);
    rc.unwrap();
    rs.unwrap();
    // the fresh ticket still ends at not_after
    let t2 = c.take_tickets().pop().unwrap();
    assert_eq!(t2.lifetime(), 50);
    s.now.store(T0 + 100, Ordering::SeqCst);
    let (_, _, rc, rs) = connect(resume_config(t2), &s);
    assert_refused(rc, rs, Error::BadPskBinder, AlertDescription::DecryptError);
    // past not_after nothing is issued at all
    let (mut c, _, rc, rs) = connect(external(), &s);
    rc.unwrap();
    rs.unwrap();
    assert!(c.take_tickets().is_empty());
}

#[test]
fn ticket_bound_to_its_hash() {
    let s = server();
    let t = first_ticket(&s);
    // a client claiming the ticket is a SHA-384 PSK offers only SHA-384 suites
    let forged = Psk::new(t.psk().identity(), t.psk().key(), HashAlgorithm::Sha384)
        .unwrap()
        .with_binder_label(BinderLabel::Resumption);
    let mut cc = resume_config(t.clone());
    cc.psk = forged;
    let (_, _, rc, rs) = connect(cc, &s);
    assert_refused(rc, rs, Error::BadPskBinder, AlertDescription::DecryptError);
    // a server that only has SHA-384 suites cannot resume a SHA-256 ticket: the client
    // offers only SHA-256 suites, so there is no suite in common (whatever the identity)
    let s = server_with(3600, None, |_| {});
    let t = first_ticket(&s);
    let sha384_only = server_with(3600, None, |c| {
        c.options.cipher_suites = vec![CipherSuite::Aes256GcmSha384];
        c.options.tickets.as_mut().unwrap().store = s.store.clone();
    });
    let (_, _, rc, rs) = connect(resume_config(t), &sha384_only);
    assert_refused(
        rc,
        rs,
        Error::HandshakeFailure("no cipher suite in common"),
        AlertDescription::HandshakeFailure,
    );
}

#[test]
fn tampered_ticket_or_wrong_binder_label_is_refused() {
    let s = server();
    let t = first_ticket(&s);
    let mut id = t.psk().identity().to_vec();
    id[0] ^= 1;
    let mut cc = resume_config(t.clone());
    cc.psk = Psk::new(&id, t.psk().key(), HashAlgorithm::Sha256)
        .unwrap()
        .with_binder_label(BinderLabel::Resumption);
    let (_, _, rc, rs) = connect(cc, &s);
    assert_refused(rc, rs, Error::BadPskBinder, AlertDescription::DecryptError);
    // the real ticket is untouched by the tampered attempt...
    assert_eq!(s.used.len(), 0);
    // ...but a binder made with the external label burns it
    let mut cc = resume_config(t.clone());
    cc.psk = t.psk().clone().with_binder_label(BinderLabel::External);
    let (_, _, rc, rs) = connect(cc, &s);
    assert_refused(rc, rs, Error::BadPskBinder, AlertDescription::DecryptError);
    assert_eq!(s.used.len(), 1, "burnt");
}

#[test]
fn resumption_across_hello_retry_request() {
    let s = server_with(3600, None, |c| {
        c.options.groups = vec![NamedGroup::Secp256r1]
    });
    let mut cc = external();
    cc.options.groups = vec![NamedGroup::X25519, NamedGroup::Secp256r1];
    let (mut c, _, rc, rs) = connect(cc, &s);
    rc.unwrap();
    rs.unwrap();
    let t = c.take_tickets().pop().unwrap();
    let mut cc = resume_config(t);
    cc.options.groups = vec![NamedGroup::X25519, NamedGroup::Secp256r1];
    let (c, sv, rc, rs) = connect(cc, &s);
    rc.unwrap();
    rs.unwrap();
    assert!(c.resumed() && sv.resumed());
    assert!(sv.negotiated().unwrap().hello_retry);
    assert_eq!(sv.group(), Some(NamedGroup::Secp256r1));
}

#[test]
fn no_ticket_settings_no_ticket_and_cache_gets_tickets() {
    let psk = Psk::new(b"client1", KEY, HashAlgorithm::Sha256).unwrap();
    let statics: StaticPskStore = [psk].into_iter().collect();
    let plain = Server {
        store: Arc::new(TicketStore::default()),
        used: Arc::new(MemoryUsedTickets::new(1)),
        now: Arc::new(AtomicU64::new(T0)),
        config: Arc::new(ServerConfig::new(Arc::new(statics))),
    };
    let (mut c, _, rc, rs) = connect(external(), &plain);
    rc.unwrap();
    rs.unwrap();
    assert!(c.take_tickets().is_empty());
    assert!(std::iter::from_fn(|| c.next_event()).all(|e| !matches!(e, Event::SessionTicket(_))));
    // settings without app_data: no ticket after a full handshake either
    let s = server_with(3600, None, |c| {
        c.options.tickets.as_mut().unwrap().app_data = None
    });
    let (mut c, _, rc, rs) = connect(external(), &s);
    rc.unwrap();
    rs.unwrap();
    assert!(c.take_tickets().is_empty());
    // a ticket cache receives the ticket
    let s = server();
    let cache = Arc::new(TicketCache::new());
    let mut cc = external();
    cc.ticket_cache = Some(cache.clone());
    let (_, _, rc, rs) = connect(cc, &s);
    rc.unwrap();
    rs.unwrap();
    assert!(
        cache.take_fresh(T0 + 3600).is_none(),
        "stale ticket dropped"
    );
    let (_, _, rc, rs) = connect(
        {
            let mut cc = external();
            cc.ticket_cache = Some(cache.clone());
            cc
        },
        &s,
    );
    rc.unwrap();
    rs.unwrap();
    let t = cache.take_fresh(T0 + 10).unwrap();
    assert!(!cache.has_ticket());
    assert!(!format!("{t:?} {cache:?}").contains(&hex::encode(t.psk().key())));
}

#[test]
fn with_redeem_off_tickets_are_issued_but_never_resumed() {
    let s = server();
    let t = first_ticket(&s);
    let mut cfg = (*s.config).clone();
    cfg.options.tickets.as_mut().unwrap().redeem = false;
    let no_redeem = Server {
        store: s.store.clone(),
        used: s.used.clone(),
        now: s.now.clone(),
        config: Arc::new(cfg),
    };
    // a valid ticket is not a PSK this server knows (and it is not spent)
    let (_, _, rc, rs) = connect(resume_config(t.clone()), &no_redeem);
    assert_refused(rc, rs, Error::BadPskBinder, AlertDescription::DecryptError);
    assert_eq!(s.used.len(), 0, "not spent");
    // a full handshake with the PSK store's key still gets a ticket
    let (mut c, sv, rc, rs) = connect(external(), &no_redeem);
    rc.unwrap();
    rs.unwrap();
    assert!(!sv.resumed());
    assert_eq!(c.take_tickets().len(), 1);
    assert_eq!(s.used.len(), 0, "both tickets unspent");
    // where redeeming is on, the first ticket still resumes
    let (c, _, rc, rs) = connect(resume_config(t), &s);
    rc.unwrap();
    rs.unwrap();
    assert!(c.resumed());
}

/// `s` with its ticket store replaced by one sealing with `keys` and recording use in `used`
/// (another replica of a fleet, or the same server after a restart).
fn replica(s: &Server, keys: &TicketKeys, used: Arc<MemoryUsedTickets>) -> Server {
    let store = Arc::new(TicketStore::with_keys(keys.clone(), used.clone()));
    let mut config = (*s.config).clone();
    config.options.tickets.as_mut().unwrap().store = store.clone();
    Server {
        store,
        used,
        now: s.now.clone(),
        config: Arc::new(config),
    }
}

#[test]
fn a_ticket_from_replica_a_resumes_once_on_replica_b_and_after_a_restart() {
    let keys = TicketKeys::generate().unwrap();
    let used = Arc::new(MemoryUsedTickets::new(16));
    let base = server();
    let (a, b) = (
        replica(&base, &keys, used.clone()),
        replica(&base, &keys, used),
    );
    let t = first_ticket(&a);
    let (c, sv, rc, rs) = connect(resume_config(t.clone()), &b);
    rc.unwrap();
    rs.unwrap();
    assert!(c.resumed() && sv.resumed(), "B resumes A's ticket");
    assert_eq!(sv.resumption_app_data(), Some(&b"app:alice"[..]));
    for s in [&a, &b] {
        let (_, _, rc, rs) = connect(resume_config(t.clone()), s);
        assert_refused(rc, rs, Error::BadPskBinder, AlertDescription::DecryptError);
    }
    // a restarted server (fresh memory, the same key) resumes a ticket issued before
    let earlier = first_ticket(&a);
    let restarted = replica(&base, &keys, Arc::new(MemoryUsedTickets::new(16)));
    let (c, _, rc, rs) = connect(resume_config(earlier), &restarted);
    rc.unwrap();
    rs.unwrap();
    assert!(c.resumed());
}

#[test]
fn unknown_and_retired_ticket_keys_need_a_full_handshake() {
    let s = server();
    let t = first_ticket(&s);
    // another fleet's key: the ticket is an unknown PSK
    let other = replica(
        &s,
        &TicketKeys::generate().unwrap(),
        Arc::new(MemoryUsedTickets::new(4)),
    );
    let (_, _, rc, rs) = connect(resume_config(t.clone()), &other);
    assert_refused(rc, rs, Error::BadPskBinder, AlertDescription::DecryptError);
    // one rotation: still accepted; two: refused
    let keys = s.store.keys().unwrap();
    let t2 = first_ticket(&s);
    s.store
        .set_keys(keys.rotated(TicketKey::generate().unwrap()));
    let (c, _, rc, rs) = connect(resume_config(t), &s);
    rc.unwrap();
    rs.unwrap();
    assert!(c.resumed(), "previous key accepted");
    s.store.set_keys(
        s.store
            .keys()
            .unwrap()
            .rotated(TicketKey::generate().unwrap()),
    );
    let (_, _, rc, rs) = connect(resume_config(t2), &s);
    assert_refused(rc, rs, Error::BadPskBinder, AlertDescription::DecryptError);
    // and the client's full handshake still works
    let (_, sv, rc, rs) = connect(external(), &s);
    rc.unwrap();
    rs.unwrap();
    assert!(!sv.resumed());
}

#[test]
fn a_pool_of_tickets_resumes_that_many_connections_at_once() {
    let s = server_with(3600, None, |c| {
        c.options.tickets.as_mut().unwrap().pool = DEFAULT_TICKET_POOL
    });
    let cache = Arc::new(TicketCache::new());
    let mut cc = external();
    cc.ticket_cache = Some(cache.clone());
    let (_, _, rc, rs) = connect(cc, &s);
    rc.unwrap();
    rs.unwrap();
    assert_eq!(
        cache.len(),
        DEFAULT_TICKET_POOL,
        "one full handshake fills the pool"
    );
    // every connection takes its ticket before any of them finishes
    let tickets: Vec<_> = (0..DEFAULT_TICKET_POOL)
        .map(|_| {
            cache
                .take_fresh(T0 + 5)
                .expect("a ticket for each connection")
        })
        .collect();
    assert!(cache.take_fresh(T0 + 5).is_none());
    let mut ids: Vec<_> = tickets
        .iter()
        .map(|t| t.psk().identity().to_vec())
        .collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), DEFAULT_TICKET_POOL, "distinct tickets");
    for t in tickets {
        let mut cc = resume_config(t);
        cc.ticket_cache = Some(cache.clone());
        let (c, _, rc, rs) = connect(cc, &s);
        rc.unwrap();
        rs.unwrap();
        assert!(c.resumed());
    }
    assert_eq!(
        cache.len(),
        DEFAULT_TICKET_POOL,
        "each resumption refilled one"
    );
}
