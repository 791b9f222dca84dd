//! Criterion benchmarks for mpin-kex: one plain pairing as the unit (miracl_core's and blst's,
//! side by side: the server's hot path runs on blst, so its runs are read in `unit_blst`
//! units), then each half of an
//! M-Pin Full run (with and without time permits), the one-pass server and a failed run with
//! PIN-error detection. Run with `cargo bench -p mpin-kex`.
//!
//! Only the named half is inside the measured closure: whatever the other side must compute
//! first is prepared in `iter_batched` setup. Where a message depends on the peer's random
//! draws (the client's response needs the server's challenge, and the other way round), the
//! measured side is given a seeded RNG and setup replays the same seed once outside the timing
//! to produce the peer's message, so every measured run is a genuine, successful run.

// Benchmarks are not user-input paths: a failing setup step should abort loudly.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::hint::black_box;
use std::time::Duration;

use blstrs::{Bls12, G1Affine, G2Affine, G2Prepared, Scalar};
use criterion::{criterion_group, criterion_main, BatchSize, Criterion};
use group::prime::PrimeCurveAffine;
use miracl_core::bls12381::big::BIG;
use miracl_core::bls12381::ecp::{ECP, G2_TABLE};
use miracl_core::bls12381::ecp2::ECP2;
use miracl_core::bls12381::fp12::FP12;
use miracl_core::bls12381::fp4::FP4;
use miracl_core::bls12381::{pair, rom};
use mpin_kex::{curve, raw, Client, HashedId};
use mpin_kex::{
    policy, AuthError, ClientSecret, Credential, Hello, MasterShare, OnePassHello, Pin, Response,
    Server, ServerContext, ServerKey, ServerPolicy, ServerSecret, TimePermit, Token,
};
use pairing::{MillerLoopResult, MultiMillerLoop};
use rand::rngs::{OsRng, StdRng};
use rand::SeedableRng;

/// A fixed unix time (2027-01-15), in the middle of its UTC day.
const NOW: u64 = 1_800_000_000;
const PIN: &str = "1234";
const WRONG_PIN: &str = "1243";

/// Enrolled client credentials and server contexts, built once.
struct Fixture {
    /// Credential with today's time permit.
    with_permit: Credential,
    /// Credential without a permit (day 0).
    no_permit: Credential,
    /// Default policy: permits required.
    ctx_permit: ServerContext,
    /// `require_permits: false`.
    ctx_no_permit: ServerContext,
    /// `require_permits: false`, PIN-error detection on, no lockout (the benchmark fails on
    /// purpose every iteration).
    ctx_pin_error: ServerContext,
}

fn credential(dtas: &[MasterShare], identity: &[u8], day: Option<u32>) -> Credential {
    let id = HashedId::of(identity);
    let shares: Vec<_> = dtas.iter().map(|d| d.client_secret_share(&id)).collect();
    let cs = ClientSecret::combine(&shares).unwrap();
    let pin: Pin = PIN.parse().unwrap();
    let token = Token::extract(&cs, identity, &pin).unwrap();
    let permit = day.map(|day| {
        let shares: Vec<_> = dtas
            .iter()
            .map(|d| d.time_permit_share(&id, day).unwrap())
            .collect();
        TimePermit::combine(&shares).unwrap()
    });
    Credential::new(identity, token, permit).unwrap()
}

impl Fixture {
    fn new() -> Self {
        let dtas = [
            MasterShare::generate(&mut OsRng),
            MasterShare::generate(&mut OsRng),
        ];
        let today = policy::day_of(NOW);
        let shares: Vec<_> = dtas.iter().map(MasterShare::server_secret_share).collect();
        let ss = ServerSecret::combine(&shares).unwrap();
        let ctx =
            |policy: ServerPolicy| ServerContext::new(ServerKey::new(ss.clone()).unwrap(), policy);
        Self {
            with_permit: credential(&dtas, b"alice@example.com", Some(today)),
            no_permit: credential(&dtas, b"bob@example.com", None),
            ctx_permit: ctx(ServerPolicy::default()),
            ctx_no_permit: ctx(ServerPolicy {
                require_permits: false,
                ..Default::default()
            }),
            ctx_pin_error: ctx(ServerPolicy {
                require_permits: false,
                pin_error_detection: true,
                lockout_after: u32::MAX,
                ..Default::default()
            }),
        }
    }
}

fn pin(s: &str) -> Pin {
    s.parse().unwrap()
}

fn seeded() -> StdRng {
    StdRng::from_rng(OsRng).unwrap()
}

/// What the measured client needs: its RNG (whose replay yields `challenge`) and the challenge.
fn client_input(cred: &Credential, ctx: &ServerContext) -> (StdRng, mpin_kex::Challenge) {
    let rng = seeded();
    let mut probe = Client::new(cred, pin(PIN));
    let hello = probe.hello(&mut rng.clone()).unwrap();
    let challenge = Server::new(ctx.clone())
        .hello(&hello, NOW, &mut OsRng)
        .unwrap();
    (rng, challenge)
}

/// What the measured server needs: the hello, the server RNG (whose replay yields the
/// challenge the client answered) and the client's response to it.
fn server_input(
    cred: &Credential,
    ctx: &ServerContext,
    entered: &str,
) -> (Hello, StdRng, Response) {
    let mut client = Client::new(cred, pin(entered));
    let hello = client.hello(&mut OsRng).unwrap();
    let rng = seeded();
    let challenge = Server::new(ctx.clone())
        .hello(&hello, NOW, &mut rng.clone())
        .unwrap();
    let (response, _) = client.challenge(&challenge).unwrap();
    (hello, rng, response)
}

fn bench_pairing(c: &mut Criterion) {
    let mut g = c.benchmark_group("pairing");
    let (q, p) = (ECP2::generator(), ECP::generator());
    g.bench_function("unit", |b| {
        b.iter(|| pair::fexp(&pair::ate(black_box(&q), black_box(&p))))
    });
    let (bq, bp) = (G2Affine::generator(), G1Affine::generator());
    g.bench_function("unit_blst", |b| {
        b.iter(|| blstrs::pairing(black_box(&bp), black_box(&bq)))
    });
    g.finish();
}

fn bench_mpin_full(c: &mut Criterion) {
    let f = Fixture::new();
    let mut g = c.benchmark_group("mpin_full");
    let cases = [
        ("permit", &f.with_permit, &f.ctx_permit),
        ("no_permit", &f.no_permit, &f.ctx_no_permit),
    ];
    for (name, cred, ctx) in cases {
        // Sanity check outside the timing: the replayed seeds give matching keys.
        {
            let (mut rng, challenge) = client_input(cred, ctx);
            let mut client = Client::new(cred, pin(PIN));
            let hello = client.hello(&mut rng).unwrap();
            assert_eq!(client.challenge(&challenge).unwrap().1.day, hello.day);
        }

        g.bench_function(format!("client_{name}"), |b| {
            b.iter_batched(
                || client_input(cred, ctx),
                |(mut rng, challenge)| {
                    let mut client = Client::new(cred, pin(PIN));
                    let hello = client.hello(&mut rng).unwrap();
                    let (response, session) = client.challenge(&challenge).unwrap();
                    (hello, response, session)
                },
                BatchSize::SmallInput,
            )
        });

        g.bench_function(format!("server_{name}"), |b| {
            b.iter_batched(
                || server_input(cred, ctx, PIN),
                |(hello, mut rng, response)| {
                    let mut server = Server::new(ctx.clone());
                    let challenge = server.hello(&hello, NOW, &mut rng).unwrap();
                    let session = server.response(&response, NOW).unwrap();
                    (challenge, session)
                },
                BatchSize::SmallInput,
            )
        });

        // The verification and key derivation alone (server step 2).
        g.bench_function(format!("server_response_{name}"), |b| {
            b.iter_batched(
                || {
                    let mut client = Client::new(cred, pin(PIN));
                    let hello = client.hello(&mut OsRng).unwrap();
                    let mut server = Server::new(ctx.clone());
                    let challenge = server.hello(&hello, NOW, &mut OsRng).unwrap();
                    let (response, _) = client.challenge(&challenge).unwrap();
                    (server, response)
                },
                |(mut server, response)| server.response(&response, NOW).unwrap(),
                BatchSize::SmallInput,
            )
        });
    }
    g.finish();

    let mut g = c.benchmark_group("one_pass");
    g.bench_function("server_permit", |b| {
        b.iter_batched(
            || -> OnePassHello {
                let mut client = Client::new(&f.with_permit, pin(PIN));
                client
                    .one_pass_hello(NOW, b"server.example", &mut OsRng)
                    .unwrap()
            },
            |hello| {
                let mut server = Server::new(f.ctx_permit.clone());
                server.one_pass(&hello, NOW, &mut OsRng).unwrap()
            },
            BatchSize::SmallInput,
        )
    });
    g.finish();

    let mut g = c.benchmark_group("server");
    g.bench_function("pin_error", |b| {
        b.iter_batched(
            || server_input(&f.no_permit, &f.ctx_pin_error, WRONG_PIN),
            |(hello, mut rng, response)| {
                let mut server = Server::new(f.ctx_pin_error.clone());
                server.hello(&hello, NOW, &mut rng).unwrap();
                let r = server.response(&response, NOW);
                // entered − registered = 1243 − 1234
                assert!(
                    matches!(
                        r,
                        Err(AuthError::BadProof {
                            pin_error: Some(9),
                            ..
                        })
                    ),
                    "expected a PIN error of 9, got {r:?}"
                );
                r
            },
            BatchSize::SmallInput,
        )
    });
    g.finish();
}

/// The building blocks of a run, to see where the server's time goes (BLS12-381 via
/// miracl_core, plus the crate's public hash-to-curve and point decoder).
fn bench_components(c: &mut Criterion) {
    let mut g = c.benchmark_group("components");
    let (q, p) = (ECP2::generator(), ECP::generator());
    let mut table = vec![FP4::new(); G2_TABLE];
    pair::precomp(&mut table, &q);
    let e = pair::ate(&q, &p);
    let order = BIG::new_ints(&rom::CURVE_ORDER);
    let scalar = {
        let mut s = BIG::new_ints(&rom::CURVE_ORDER);
        s.dec(12345);
        s.norm();
        s
    };
    let id = HashedId::of(b"alice@example.com");
    let a_bytes = raw::identity_point(&id);
    let a = curve::g1_decode(&a_bytes).unwrap();
    let gt = pair::fexp(&e);

    g.bench_function("ate_miller", |b| {
        b.iter(|| pair::ate(black_box(&q), black_box(&p)))
    });
    g.bench_function("fexp", |b| b.iter(|| pair::fexp(black_box(&e))));
    g.bench_function("miller_precomputed_1", |b| {
        b.iter(|| {
            let mut r = pair::initmp();
            pair::another_pc(&mut r, &table, black_box(&p));
            pair::miller(&mut r)
        })
    });
    g.bench_function("miller_precomputed_2", |b| {
        b.iter(|| {
            let mut r = pair::initmp();
            pair::another_pc(&mut r, &table, black_box(&p));
            pair::another_pc(&mut r, &table, black_box(&a));
            pair::miller(&mut r)
        })
    });
    g.bench_function("hash_to_g1_legacy", |b| {
        b.iter(|| raw::identity_point(black_box(&id)))
    });
    g.bench_function("permit_point_legacy", |b| {
        b.iter(|| raw::permit_point(black_box(&id), 20_833))
    });
    g.bench_function("g1_decode_subgroup", |b| {
        b.iter(|| curve::g1_decode(black_box(&a_bytes)).unwrap())
    });
    g.bench_function("g1_mul_ladder", |b| {
        b.iter(|| black_box(&a).clmul(black_box(&scalar), &order))
    });
    g.bench_function("g1_mul_glv", |b| {
        b.iter(|| pair::g1mul(black_box(&a), black_box(&scalar)))
    });
    g.bench_function("gt_compow", |b| {
        b.iter(|| FP12::new_copy(black_box(&gt)).compow(black_box(&scalar), &order))
    });

    // The same building blocks on blst (the server's backend).
    let mut zcash = [0u8; 96];
    zcash.copy_from_slice(&a_bytes[1..]);
    let ba = G1Affine::from_uncompressed(&zcash).unwrap();
    let bscalar = -Scalar::from(12345u64); // q − 12345, as above
    let (bq, bg) = (
        G2Prepared::from(G2Affine::generator()),
        G1Affine::generator(),
    );
    g.bench_function("blst_g1_decode_subgroup", |b| {
        b.iter(|| G1Affine::from_uncompressed(black_box(&zcash)).unwrap())
    });
    g.bench_function("blst_g1_mul", |b| {
        b.iter(|| black_box(&ba) * black_box(&bscalar))
    });
    g.bench_function("blst_verify_product", |b| {
        b.iter(|| {
            Bls12::multi_miller_loop(&[(black_box(&ba), &bq), (black_box(&bg), &bq)])
                .final_exponentiation()
        })
    });
    g.bench_function("blst_key_pairing", |b| {
        b.iter(|| Bls12::multi_miller_loop(&[(black_box(&ba), &bq)]).final_exponentiation())
    });
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
    targets = bench_pairing, bench_mpin_full, bench_components
}
criterion_main!(benches);
