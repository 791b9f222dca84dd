//! Criterion benchmarks of one WCC (P2P device link) handshake per side, read in pairing
//! units: `p2p/pairing_unit_blst` is one plain blst pairing measured in the same run (the WCC
//! hot path pairs on blst), the same unit as `pairing/unit_blst` of the `mpin` bench. Run with
//! `cargo bench -p mpin-kex --bench p2p`.
//!
//! * `p2p/initiator[_permit]`: `Initiator::new` (own identity point, key conversion), the
//!   hello and the reply (peer's H2, pairing, DH), as a device dialling once.
//! * `p2p/responder[_permit]`: `Responder::respond` on a fresh hello, with a responder built
//!   once (like a server context).
//!
//! The initiator's reply depends on its own random `x`: the measured side gets a seeded RNG,
//! and setup replays the same seed once outside the timing to obtain the responder's reply.

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::hint::black_box;
use std::time::Duration;

use blstrs::{G1Affine, G2Affine};
use criterion::{criterion_group, criterion_main, BatchSize, Criterion};
use group::prime::PrimeCurveAffine;
use mpin_kex::wcc::*;
use rand::rngs::{OsRng, StdRng};
use rand::{RngCore, SeedableRng};
use test_support::P2pWorld;

const ALICE: &[u8] = b"device:alice";
const BOB: &[u8] = b"device:bob";
const DAY: u32 = 20_833;

struct Keys {
    a_key: SenderKey,
    a_permit: SenderPermit,
    responder: Responder,
    responder_permit: Responder,
}

fn keys() -> Keys {
    let world = P2pWorld::new(2);
    Keys {
        a_key: world.sender_key(ALICE),
        a_permit: world.sender_permit(ALICE, DAY),
        responder: world.responder(BOB, None),
        responder_permit: world.responder(BOB, Some(DAY)),
    }
}

fn bench_p2p(c: &mut Criterion) {
    let k = keys();
    let mut g = c.benchmark_group("p2p");
    let (bq, bp) = (G2Affine::generator(), G1Affine::generator());
    g.bench_function("pairing_unit_blst", |b| {
        b.iter(|| blstrs::pairing(black_box(&bp), black_box(&bq)))
    });
    for (name, permit, responder) in [
        ("", None, &k.responder),
        ("_permit", Some(&k.a_permit), &k.responder_permit),
    ] {
        g.bench_function(format!("initiator{name}"), |b| {
            b.iter_batched(
                || {
                    let seed = OsRng.next_u64();
                    let mut probe = Initiator::new(ALICE, &k.a_key, permit, BOB).unwrap();
                    let hello = probe.hello(&mut StdRng::seed_from_u64(seed)).unwrap();
                    let (reply, _) = responder.respond(&hello, &mut OsRng).unwrap();
                    (seed, reply)
                },
                |(seed, reply)| {
                    let mut a = Initiator::new(ALICE, &k.a_key, permit, BOB).unwrap();
                    a.hello(&mut StdRng::seed_from_u64(seed)).unwrap();
                    a.reply(&reply).unwrap()
                },
                BatchSize::SmallInput,
            )
        });
        g.bench_function(format!("responder{name}"), |b| {
            b.iter_batched(
                || {
                    let mut a = Initiator::new(ALICE, &k.a_key, permit, BOB).unwrap();
                    a.hello(&mut OsRng).unwrap()
                },
                |hello| responder.respond(&hello, &mut OsRng).unwrap(),
                BatchSize::SmallInput,
            )
        });
    }
    g.finish();
}

fn config() -> Criterion {
    Criterion::default()
        .sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
}

criterion_group! {
    name = benches;
    config = config();
    targets = bench_p2p
}
criterion_main!(benches);
