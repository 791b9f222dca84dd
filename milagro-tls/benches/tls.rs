//! In-memory, one-process comparison of milagro-tls with rustls:
//! handshakes per second (milagro-tls PSK handshake vs a rustls resumed
//! TLS 1.3 handshake with tickets, both psk_dhe_ke over X25519) and bulk
//! throughput (AES-128-GCM, 16 KiB records).
//!
//! `cargo bench -p milagro-tls --bench tls`
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::{Read, Write};
use std::sync::Arc;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use milagro_tls::{
    CipherSuite, ClientConfig, ClientConnection, HashAlgorithm, NamedGroup, Psk, ServerConfig,
    ServerConnection, StaticPskStore,
};
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::aws_lc_rs as provider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};

const RECORD: usize = 16 * 1024;
const BULK: usize = 64 * RECORD; // 1 MiB per iteration

// ---------------- milagro-tls ----------------

fn milagro_configs(group: NamedGroup) -> (Arc<ClientConfig>, Arc<ServerConfig>) {
    let psk = Psk::new(
        b"bench",
        b"bench-key-0123456789abcdef",
        HashAlgorithm::Sha256,
    )
    .unwrap();
    let store: StaticPskStore = [psk.clone()].into_iter().collect();
    let mut cc = ClientConfig::new(psk);
    cc.options.cipher_suites = vec![CipherSuite::Aes128GcmSha256];
    cc.options.groups = vec![group];
    let mut sc = ServerConfig::new(Arc::new(store));
    sc.options.groups = vec![group];
    (Arc::new(cc), Arc::new(sc))
}

fn milagro_handshake(
    cc: &Arc<ClientConfig>,
    sc: &Arc<ServerConfig>,
) -> (ClientConnection, ServerConnection) {
    let mut c = ClientConnection::new(cc.clone()).unwrap();
    let mut s = ServerConnection::new(sc.clone()).unwrap();
    while c.is_handshaking() || s.is_handshaking() {
        s.read_tls(&c.take_tls());
        s.process_new_packets().unwrap();
        c.read_tls(&s.take_tls());
        c.process_new_packets().unwrap();
    }
    s.read_tls(&c.take_tls());
    s.process_new_packets().unwrap();
    (c, s)
}

// ---------------- rustls ----------------

#[derive(Debug)]
struct AcceptAnything(Arc<rustls::crypto::CryptoProvider>);

impl ServerCertVerifier for AcceptAnything {
    fn verify_server_cert(
        &self,
        _: &CertificateDer<'_>,
        _: &[CertificateDer<'_>],
        _: &ServerName<'_>,
        _: &[u8],
        _: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }
    fn verify_tls12_signature(
        &self,
        _: &[u8],
        _: &CertificateDer<'_>,
        _: &rustls::DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        Ok(HandshakeSignatureValid::assertion())
    }
    fn verify_tls13_signature(
        &self,
        _: &[u8],
        _: &CertificateDer<'_>,
        _: &rustls::DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        Ok(HandshakeSignatureValid::assertion())
    }
    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

fn rustls_configs() -> (Arc<rustls::ClientConfig>, Arc<rustls::ServerConfig>) {
    let mut p = provider::default_provider();
    p.cipher_suites = vec![provider::cipher_suite::TLS13_AES_128_GCM_SHA256];
    p.kx_groups = vec![provider::kx_group::X25519];
    let p = Arc::new(p);
    let certs = vec![CertificateDer::from_pem_slice(include_bytes!("data/cert.pem")).unwrap()];
    let key = PrivateKeyDer::from_pem_slice(include_bytes!("data/key.pem")).unwrap();
    let mut sc = rustls::ServerConfig::builder_with_provider(p.clone())
        .with_protocol_versions(&[&rustls::version::TLS13])
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .unwrap();
    sc.ticketer = provider::Ticketer::new().unwrap();
    let cc = rustls::ClientConfig::builder_with_provider(p.clone())
        .with_protocol_versions(&[&rustls::version::TLS13])
        .unwrap()
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(AcceptAnything(p)))
        .with_no_client_auth();
    (Arc::new(cc), Arc::new(sc))
}

fn transfer(from: &mut impl DerefConn, to: &mut impl DerefConn) {
    let mut buf = Vec::new();
    while from.wants_write_() {
        from.write_tls_(&mut buf);
    }
    if !buf.is_empty() {
        to.read_all_tls(&buf);
    }
}

trait DerefConn {
    fn wants_write_(&self) -> bool;
    fn write_tls_(&mut self, buf: &mut Vec<u8>);
    fn read_all_tls(&mut self, buf: &[u8]);
}

macro_rules! rustls_conn {
    ($t:ty) => {
        impl DerefConn for $t {
            fn wants_write_(&self) -> bool {
                self.wants_write()
            }
            fn write_tls_(&mut self, buf: &mut Vec<u8>) {
                self.write_tls(buf).unwrap();
            }
            fn read_all_tls(&mut self, mut buf: &[u8]) {
                while !buf.is_empty() {
                    self.read_tls(&mut buf).unwrap();
                    self.process_new_packets().unwrap();
                }
            }
        }
    };
}
rustls_conn!(rustls::ClientConnection);
rustls_conn!(rustls::ServerConnection);

fn rustls_handshake(
    cc: &Arc<rustls::ClientConfig>,
    sc: &Arc<rustls::ServerConfig>,
) -> (rustls::ClientConnection, rustls::ServerConnection) {
    let name = ServerName::try_from("localhost").unwrap();
    let mut c = rustls::ClientConnection::new(cc.clone(), name).unwrap();
    let mut s = rustls::ServerConnection::new(sc.clone()).unwrap();
    while c.is_handshaking() || s.is_handshaking() {
        transfer(&mut c, &mut s);
        transfer(&mut s, &mut c);
    }
    // deliver the client Finished and the server's tickets
    transfer(&mut c, &mut s);
    transfer(&mut s, &mut c);
    (c, s)
}

// ---------------- benches ----------------

fn handshakes(cr: &mut Criterion) {
    let mut g = cr.benchmark_group("handshake");
    g.throughput(Throughput::Elements(1));
    for group in [NamedGroup::X25519, NamedGroup::X25519Mlkem768] {
        let (cc, sc) = milagro_configs(group);
        g.bench_function(format!("milagro-tls psk_dhe_ke {group}"), |b| {
            b.iter(|| milagro_handshake(&cc, &sc))
        });
    }
    let (cc, sc) = rustls_configs();
    // prime the ticket cache with a full handshake and check resumption works
    let _ = rustls_handshake(&cc, &sc);
    let (c, _) = rustls_handshake(&cc, &sc);
    assert_eq!(c.handshake_kind(), Some(rustls::HandshakeKind::Resumed));
    g.bench_function("rustls resumed (tickets) X25519", |b| {
        b.iter(|| rustls_handshake(&cc, &sc))
    });
    g.finish();
}

fn bulk(cr: &mut Criterion) {
    let mut g = cr.benchmark_group("bulk AES-128-GCM 16KiB records");
    g.throughput(Throughput::Bytes(BULK as u64));
    let data = vec![0x42u8; RECORD];
    let mut sink = vec![0u8; RECORD];

    let (cc, sc) = milagro_configs(NamedGroup::X25519);
    let (mut c, mut s) = milagro_handshake(&cc, &sc);
    let mut wire = Vec::new();
    g.bench_function("milagro-tls", |b| {
        b.iter(|| {
            for _ in 0..BULK / RECORD {
                c.write_plaintext(&data).unwrap();
                wire.clear();
                c.write_tls_into(&mut wire);
                s.read_tls(&wire);
                s.process_new_packets().unwrap();
                while s.read_plaintext(&mut sink) > 0 {}
            }
        })
    });

    let (cc, sc) = rustls_configs();
    let (mut c, mut s) = rustls_handshake(&cc, &sc);
    let mut wire = Vec::new();
    g.bench_function("rustls", |b| {
        b.iter(|| {
            for _ in 0..BULK / RECORD {
                c.writer().write_all(&data).unwrap();
                wire.clear();
                while c.wants_write() {
                    c.write_tls(&mut wire).unwrap();
                }
                s.read_all_tls(&wire);
                loop {
                    match s.reader().read(&mut sink) {
                        Ok(0) => break,
                        Ok(_) => {}
                        Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => break,
                        Err(e) => panic!("{e}"),
                    }
                }
            }
        })
    });
    g.finish();
}

criterion_group!(benches, handshakes, bulk);
criterion_main!(benches);
