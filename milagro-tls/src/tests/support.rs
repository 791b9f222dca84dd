//! Shared pieces of the in-memory tests: PSKs, connection pairs and the byte pump.

use std::sync::Arc;

use crate::record::{content, write_plain};
use crate::*;

pub(crate) const KEY: &[u8] = b"an-example-psk-key-0123456789";

pub(crate) fn psk(hash: HashAlgorithm) -> Psk {
    Psk::new(b"client1", KEY, hash).unwrap()
}

pub(crate) fn store_with(p: Psk) -> Arc<StaticPskStore> {
    Arc::new([p].into_iter().collect())
}

pub(crate) fn pair(cc: ClientConfig, sc: ServerConfig) -> (ClientConnection, ServerConnection) {
    (
        ClientConnection::new(Arc::new(cc)).unwrap(),
        ServerConnection::new(Arc::new(sc)).unwrap(),
    )
}

/// Moves bytes both ways until nothing moves; returns the first error of
/// (client, server).
pub(crate) fn pump(
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

pub(crate) fn read_all(conn: &mut ConnectionCommon) -> Vec<u8> {
    let mut out = vec![0u8; conn.plaintext_len()];
    let n = conn.read_plaintext(&mut out);
    out.truncate(n);
    out
}

pub(crate) fn exchange(c: &mut ClientConnection, s: &mut ServerConnection, n: usize) {
    let data: Vec<u8> = (0..n).map(|i| (i * 7 % 251) as u8).collect();
    c.write_plaintext(&data).unwrap();
    s.write_plaintext(&data[..n / 2]).unwrap();
    let (rc, rs) = pump(c, s);
    rc.unwrap();
    rs.unwrap();
    assert_eq!(read_all(s), data);
    assert_eq!(read_all(c), data[..n / 2].to_vec());
}

/// Re-encodes the client's first ClientHello after `edit`, then feeds it to a server.
pub(crate) fn server_on_edited_hello(
    edit: impl FnOnce(&mut messages::ClientHello),
) -> (Result<(), Error>, Vec<u8>) {
    let p = psk(HashAlgorithm::Sha256);
    let (mut c, mut s) = pair(
        ClientConfig::new(p.clone()),
        ServerConfig::new(store_with(p)),
    );
    let first = c.take_tls();
    let mut ch = messages::ClientHello::decode(&first[9..]).unwrap();
    edit(&mut ch);
    let mut rec = Vec::new();
    write_plain(&mut rec, content::HANDSHAKE, &ch.encode());
    s.read_tls(&rec);
    let r = s.process_new_packets();
    (r, s.take_tls())
}

/// Asserts the server failed with `server_err` and the client received its `alert`.
pub(crate) fn expect_server_alert(
    c_result: Result<(), Error>,
    s_result: Result<(), Error>,
    server_err: Error,
    alert: AlertDescription,
) {
    assert_eq!(s_result, Err(server_err));
    assert_eq!(c_result, Err(Error::AlertReceived(alert)));
}
