//! Writes a seed corpus for the `mpin_server` target into `corpus/mpin_server/`: TLS
//! ClientHellos (static PSK, ticket), genuine M-Pin hellos in every scenario layout. Run from
//! fuzz/milagro-tls: `cargo run --example mpin_server_seeds`.

use std::fs;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use milagro_tls::mpin::frame::{self, FrameType, PREFACE};
use milagro_tls::{
    ClientConfig, ClientConnection, ServerConfig, ServerConnection, StaticPskStore, TicketSettings,
    TicketStore,
};
use milagro_tls_fuzz::{credential, scenario, static_psk, PIN};
use mpin_kex::{Client, Pin};
use mpin_kex_fuzz::{FixedRng, NOW};

type Res<T> = Result<T, Box<dyn std::error::Error>>;

fn write(name: &str, parts: &[&[u8]]) -> Res<()> {
    let dir = Path::new("corpus").join("mpin_server");
    fs::create_dir_all(&dir)?;
    fs::write(dir.join(name), parts.concat())?;
    Ok(())
}

fn be16(b: &[u8]) -> Res<[u8; 2]> {
    Ok(u16::try_from(b.len())?.to_be_bytes())
}

/// A ClientHello offering the static PSK.
fn static_hello() -> Res<Vec<u8>> {
    let psk = static_psk().ok_or("static psk")?;
    Ok(ClientConnection::new(Arc::new(ClientConfig::new(psk)))?.take_tls())
}

/// A ClientHello resuming a ticket (issued by an in-memory server with the static PSK; the
/// acceptor does not know it, but the layout is a real resumption).
fn ticket_hello() -> Res<Vec<u8>> {
    let psk = static_psk().ok_or("static psk")?;
    let mut sc = ServerConfig::new(Arc::new(
        [psk.clone()].into_iter().collect::<StaticPskStore>(),
    ));
    sc.options.tickets = Some(TicketSettings::new(
        Arc::new(TicketStore::default()),
        Duration::from_secs(3600),
        Some(b"seed".to_vec()),
    ));
    let mut s = ServerConnection::new(Arc::new(sc))?;
    let mut c = ClientConnection::new(Arc::new(ClientConfig::new(psk)))?;
    for _ in 0..10 {
        let (to_s, to_c) = (c.take_tls(), s.take_tls());
        if to_s.is_empty() && to_c.is_empty() {
            break;
        }
        s.read_tls(&to_s);
        s.process_new_packets()?;
        c.read_tls(&to_c);
        c.process_new_packets()?;
    }
    let ticket = c.take_tickets().pop().ok_or("no ticket issued")?;
    Ok(ClientConnection::new(Arc::new(ClientConfig::resuming(ticket)))?.take_tls())
}

fn main() -> Res<()> {
    let ch = static_hello()?;
    let tk = ticket_hello()?;
    let mut rng = FixedRng::new(1);
    let hello = Client::new(credential(), Pin::new(PIN)?)
        .hello(&mut rng)?
        .encode();
    let one = Client::new(credential(), Pin::new(PIN)?)
        .one_pass_hello(NOW, b"", &mut rng)?
        .encode();
    // a well-formed response: any valid G1 point (the hello's U = x·A) passes decoding
    let id_len = usize::from(u16::from_be_bytes([hello[0], hello[1]]));
    let u = hello
        .get(2 + id_len + 4..2 + id_len + 4 + 97)
        .ok_or("hello layout")?;
    let hello_frame = frame::encode(FrameType::Hello, &hello);
    let one_frame = frame::encode(FrameType::OnePassHello, &one);
    let (raw, mp, op, gen) = (
        [scenario::RAW],
        [scenario::MULTI_PASS],
        [scenario::ONE_PASS],
        [scenario::GENUINE],
    );
    write("raw_static_psk_client_hello", &[&raw, &ch])?;
    write("raw_ticket_client_hello", &[&raw, &tk])?;
    write("raw_m_pin_hello", &[&raw, &PREFACE, &hello_frame])?;
    write("raw_one_pass_hello", &[&raw, &PREFACE, &one_frame, &ch])?;
    write(
        "multi_pass",
        &[&mp, &be16(&hello)?, &hello, &be16(u)?, u, &ch],
    )?;
    write("one_pass", &[&op, &be16(&one)?, &one, &ch])?;
    write("genuine_multi_pass_static_hello", &[&gen, &ch])?;
    write("genuine_multi_pass_ticket_hello", &[&gen, &tk])?;
    write(
        "genuine_one_pass_static_hello",
        &[&[scenario::GENUINE | 4], &ch],
    )?;
    println!("wrote corpus/mpin_server/ (9 seeds)");
    Ok(())
}
