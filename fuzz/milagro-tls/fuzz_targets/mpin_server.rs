//! The M-Pin server flow: fuzz bytes drive a real `MpinAcceptor` over `tokio::io::duplex` on a
//! current-thread runtime (input layout: `milagro_tls_fuzz::scenario`). Covers the multi-pass
//! HELLO/CHALLENGE/RESPONSE, one-pass, the TLS handshake after a genuine M-Pin exchange and the
//! plain TLS (`0x16`: static PSK, ticket) path. Nothing may panic, and no handshake may hang
//! past its timeout; a panic in the pairing task (reported as `MpinError::Internal`) is a crash.
#![no_main]

use std::sync::OnceLock;
use std::time::Duration;

use libfuzzer_sys::fuzz_target;
use milagro_tls::mpin::frame::{self, FrameType, PREFACE};
use milagro_tls::mpin::{mpin_error, MpinError};
use milagro_tls_fuzz::{acceptor, credential, scenario, PIN};
use mpin_kex::{Challenge, Client, Pin};
use mpin_kex_fuzz::{FixedRng, NOW};
use tokio::io::{AsyncReadExt, AsyncWriteExt, DuplexStream};
use tokio::runtime::Runtime;

/// Longer than the acceptor's 2 s handshake timeout: reaching it is a hang.
const CAP: Duration = Duration::from_secs(10);

fn runtime() -> &'static Runtime {
    static RT: OnceLock<Runtime> = OnceLock::new();
    RT.get_or_init(|| {
        match tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
        {
            Ok(rt) => rt,
            Err(e) => panic!("tokio runtime: {e}"),
        }
    })
}

/// Splits `be16(n) ‖ bytes[n] ‖ rest` (short inputs give what there is).
fn take16(data: &[u8]) -> (&[u8], &[u8]) {
    let [a, b, rest @ ..] = data else {
        return (&[], &[]);
    };
    let n = usize::from(u16::from_be_bytes([*a, *b])).min(rest.len());
    rest.split_at(n)
}

/// Closes our side and reads whatever the server sends until it closes.
async fn finish(mut io: DuplexStream) {
    let _ = io.shutdown().await;
    let mut sink = [0u8; 4096];
    while let Ok(n) = io.read(&mut sink).await {
        if n == 0 {
            break;
        }
    }
}

async fn send(io: &mut DuplexStream, parts: &[&[u8]]) -> bool {
    for p in parts {
        if io.write_all(p).await.is_err() {
            return false;
        }
    }
    true
}

/// The client side of one input.
async fn client(sel: u8, rest: &[u8], mut io: DuplexStream) {
    match sel % 4 {
        scenario::RAW => {
            send(&mut io, &[rest]).await;
        }
        scenario::MULTI_PASS => {
            let (hello, rest) = take16(rest);
            let (response, tls) = take16(rest);
            let first = frame::encode(FrameType::Hello, hello);
            if send(&mut io, &[&PREFACE, &first]).await && frame::read(&mut io).await.is_ok() {
                let resp = frame::encode(FrameType::Response, response);
                send(&mut io, &[&resp, tls]).await;
            }
        }
        scenario::ONE_PASS => {
            let (hello, tls) = take16(rest);
            let first = frame::encode(FrameType::OnePassHello, hello);
            send(&mut io, &[&PREFACE, &first, tls]).await;
        }
        _ => genuine(sel & 4 != 0, rest, &mut io).await,
    }
    finish(io).await;
}

/// A genuine M-Pin exchange, then `tls` as the client's TLS bytes.
async fn genuine(one_pass: bool, tls: &[u8], io: &mut DuplexStream) {
    let Ok(pin) = Pin::new(PIN) else { return };
    let mut c = Client::new(credential(), pin);
    let mut rng = FixedRng::new(1);
    if one_pass {
        let Ok(hello) = c.one_pass_hello(NOW, b"", &mut rng) else {
            return;
        };
        let first = frame::encode(FrameType::OnePassHello, &hello.encode());
        send(io, &[&PREFACE, &first, tls]).await;
        return;
    }
    let Ok(hello) = c.hello(&mut rng) else { return };
    let first = frame::encode(FrameType::Hello, &hello.encode());
    if !send(io, &[&PREFACE, &first]).await {
        return;
    }
    let Ok(body) = frame::expect(io, FrameType::Challenge).await else {
        return;
    };
    let Some(challenge) = body.get(16..).and_then(|b| Challenge::decode(b).ok()) else {
        return;
    };
    let Ok((response, _)) = c.challenge(&challenge) else {
        return;
    };
    let resp = frame::encode(FrameType::Response, &response.encode());
    send(io, &[&resp, tls]).await;
}

fuzz_target!(|data: &[u8]| {
    let Some((&sel, rest)) = data.split_first() else {
        return;
    };
    runtime().block_on(async {
        let (near, far) = tokio::io::duplex(1 << 18);
        let server = async {
            if let Err(e) = acceptor().accept(far).await {
                if let Some(MpinError::Internal(what)) = mpin_error(&e) {
                    panic!("acceptor internal error (a panic in a pairing task?): {what}");
                }
            }
        };
        let both = async { tokio::join!(server, client(sel, rest, near)) };
        if tokio::time::timeout(CAP, both).await.is_err() {
            panic!("handshake hung past the acceptor's timeout");
        }
    });
});
