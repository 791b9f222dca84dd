//! Relays between a dialling device and a responder that attack the link: one re-addresses
//! the HELLO, one splices two sessions.
#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::thread;

use super::WAIT;

/// Forwards one connection to `to`, rewriting `from` into `into` (same length) in what the
/// initiator sends: the HELLO then asks the responder for another identity than dialled.
pub fn readdressing_relay(to: String, from: &'static [u8], into: &'static [u8]) -> String {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap().to_string();
    thread::spawn(move || {
        let Ok((mut a, _)) = l.accept() else { return };
        a.set_read_timeout(Some(WAIT)).unwrap();
        let Ok(mut b) = TcpStream::connect(&to) else {
            return;
        };
        b.set_read_timeout(Some(WAIT)).unwrap();
        let (mut a2, mut b2) = (a.try_clone().unwrap(), b.try_clone().unwrap());
        let back = thread::spawn(move || {
            let mut buf = [0u8; 16384];
            while let Ok(n) = b2.read(&mut buf) {
                if n == 0 || a2.write_all(&buf[..n]).is_err() {
                    break;
                }
            }
            let _ = a2.shutdown(Shutdown::Both);
        });
        let mut buf = [0u8; 16384];
        while let Ok(n) = a.read(&mut buf) {
            if n == 0 {
                break;
            }
            let mut chunk = buf[..n].to_vec();
            if let Some(i) = chunk.windows(from.len()).position(|w| w == from) {
                chunk[i..i + into.len()].copy_from_slice(into);
            }
            if b.write_all(&chunk).is_err() {
                break;
            }
        }
        let _ = b.shutdown(Shutdown::Both);
        let _ = back.join();
    });
    addr
}

/// Accepts two connections from the initiator side and opens two to the responder; forwards
/// each initiator's bytes to its own responder connection but each responder's answer to the
/// other initiator (two sessions spliced).
pub fn splicing_relay(to: String) -> String {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap().to_string();
    thread::spawn(move || {
        let mut a: Vec<TcpStream> = Vec::new();
        for _ in 0..2 {
            let Ok((c, _)) = l.accept() else { return };
            c.set_read_timeout(Some(WAIT)).unwrap();
            a.push(c);
        }
        let b: Vec<TcpStream> = (0..2)
            .map(|_| {
                let c = TcpStream::connect(&to).unwrap();
                c.set_read_timeout(Some(WAIT)).unwrap();
                c
            })
            .collect();
        let pipe = |mut from: TcpStream, mut into: TcpStream| {
            thread::spawn(move || {
                let mut buf = [0u8; 16384];
                while let Ok(n) = from.read(&mut buf) {
                    if n == 0 || into.write_all(&buf[..n]).is_err() {
                        break;
                    }
                }
                let _ = into.shutdown(Shutdown::Both);
            })
        };
        let h = [
            pipe(a[0].try_clone().unwrap(), b[0].try_clone().unwrap()),
            pipe(a[1].try_clone().unwrap(), b[1].try_clone().unwrap()),
            pipe(b[0].try_clone().unwrap(), a[1].try_clone().unwrap()),
            pipe(b[1].try_clone().unwrap(), a[0].try_clone().unwrap()),
        ];
        for t in h {
            let _ = t.join();
        }
    });
    addr
}
