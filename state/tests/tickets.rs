//! Tickets across a fleet on Redis: shared ticket keys, and a ticket sealed by replica A
//! resumes exactly once on replica B (a real TLS 1.3 resumption, in memory).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use test_support::RedisServer;

use std::sync::Arc;
use std::time::Duration;

use milagro_state::{RedisOptions, RedisState};
use milagro_tls::*;

const KEY: &[u8] = b"fleet-ticket-test-key-0123456789";

fn replicas(server: &RedisServer) -> (Arc<RedisState>, Arc<RedisState>) {
    let open = || Arc::new(RedisState::open(&server.url(), RedisOptions::default()).unwrap());
    (open(), open())
}

#[test]
fn replicas_get_the_same_ticket_keys_and_see_a_rotation() {
    let server = RedisServer::start();
    let (a, b) = replicas(&server);
    let ka = a.ticket_keys().unwrap();
    let kb = b.ticket_keys().unwrap();
    assert_eq!(ka.current().id(), kb.current().id());
    assert_eq!(ka.current().secret(), kb.current().secret());
    assert!(ka.previous().is_none());
    let rotated = b.rotate_ticket_keys().unwrap();
    assert_ne!(rotated.current().id(), ka.current().id());
    let seen = a.ticket_keys().unwrap();
    assert_eq!(seen.current().id(), rotated.current().id());
    assert_eq!(seen.previous().map(TicketKey::id), Some(ka.current().id()));
}

/// A server replica: static PSK `client1`, tickets sealed with the fleet's keys, single use
/// on Redis.
fn tls_server(state: &Arc<RedisState>) -> Arc<ServerConfig> {
    let psk = Psk::new(b"client1", KEY, HashAlgorithm::Sha256).unwrap();
    let statics: StaticPskStore = [psk].into_iter().collect();
    let store = TicketStore::with_keys(state.ticket_keys().unwrap(), state.clone());
    let mut config = ServerConfig::new(Arc::new(statics));
    config.options.tickets = Some(TicketSettings::new(
        Arc::new(store),
        Duration::from_secs(3600),
        Some(b"app:alice".to_vec()),
    ));
    Arc::new(config)
}

/// Runs a handshake in memory; returns the client, whether the server resumed, and the
/// server's result.
fn handshake(
    cc: ClientConfig,
    sc: &Arc<ServerConfig>,
) -> (ClientConnection, bool, Result<(), Error>) {
    let mut c = ClientConnection::new(Arc::new(cc)).unwrap();
    let mut s = ServerConnection::new(sc.clone()).unwrap();
    let (mut rc, mut rs) = (Ok(()), Ok(()));
    for _ in 0..20 {
        let (to_s, to_c) = (c.take_tls(), s.take_tls());
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
    let resumed = rs.is_ok() && s.resumed();
    (c, resumed, rs)
}

#[test]
fn a_ticket_from_replica_a_resumes_once_on_replica_b() {
    let server = RedisServer::start();
    let (a, b) = replicas(&server);
    let (sa, sb) = (tls_server(&a), tls_server(&b));
    let full = ClientConfig::new(Psk::new(b"client1", KEY, HashAlgorithm::Sha256).unwrap());
    let (mut c, resumed, rs) = handshake(full, &sa);
    rs.unwrap();
    assert!(!resumed);
    let tickets = c.take_tickets();
    assert_eq!(tickets.len(), DEFAULT_TICKET_POOL);
    let t = tickets[0].clone();
    let (_, resumed, rs) = handshake(ClientConfig::resuming(t.clone()), &sb);
    rs.unwrap();
    assert!(resumed, "B resumes A's ticket");
    for sc in [&sa, &sb] {
        let (_, resumed, rs) = handshake(ClientConfig::resuming(t.clone()), sc);
        assert_eq!(rs, Err(Error::BadPskBinder), "used once across the fleet");
        assert!(!resumed);
    }
    // another ticket of the pool still resumes, on A
    let (_, resumed, rs) = handshake(ClientConfig::resuming(tickets[1].clone()), &sa);
    rs.unwrap();
    assert!(resumed);
}
