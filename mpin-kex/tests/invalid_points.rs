//! MPIN-SPEC §8.1: U, UT, V, Z and T replaced by an off-curve point, the identity, a point with
//! a small-subgroup component, or a non-canonical encoding are refused — each with its specific
//! error, and before any pairing (the per-thread pairing counter does not move).

mod common;

use common::points::g1_variants;
use common::*;
use miracl_core::bls12381::big::BIG;
use miracl_core::bls12381::rom;
use mpin_kex::*;
use rand_core::OsRng;

fn expect_point_error(got: AuthError, field: &'static str, want: PointError, what: &str) {
    let want = AuthError::Decode(DecodeError::Point {
        field,
        source: want,
    });
    assert_eq!(got, want, "{field} {what}");
}

fn setup() -> (MpinWorld, Credential, ServerContext) {
    let w = MpinWorld::new(2);
    let cred = w.credential(ID, 1234, Some(today()));
    let ctx = w.context(ServerPolicy::default());
    (w, cred, ctx)
}

#[test]
fn bad_u_ut_z_in_a_multi_pass_hello_are_refused_before_pairing() {
    let (_w, cred, ctx) = setup();
    let hello = Client::new(&cred, Pin::new(1234).unwrap())
        .hello(&mut OsRng)
        .unwrap();
    for field in ["U", "UT", "Z"] {
        let valid = match field {
            "U" => hello.u,
            "UT" => hello.ut.unwrap(),
            _ => hello.z,
        };
        for (what, bad, want) in g1_variants(&valid) {
            let mut h = hello.clone();
            match field {
                "U" => h.u = bad,
                "UT" => h.ut = Some(bad),
                _ => h.z = bad,
            }
            // Through the wire encoding, as a peer would send it.
            let h = Hello::decode(&h.encode()).unwrap();
            let before = pairings_on_this_thread();
            let err = Server::new(ctx.clone())
                .hello(&h, NOW, &mut OsRng)
                .unwrap_err();
            assert_eq!(pairings_on_this_thread(), before, "{field} {what}: paired");
            expect_point_error(err, field, want, what);
        }
    }
}

#[test]
fn bad_v_in_a_response_is_refused_before_pairing() {
    let (_w, cred, ctx) = setup();
    let mut client = Client::new(&cred, Pin::new(1234).unwrap());
    let hello = client.hello(&mut OsRng).unwrap();
    let mut server = Server::new(ctx.clone());
    let ch = server.hello(&hello, NOW, &mut OsRng).unwrap();
    let (resp, _) = client.challenge(&ch).unwrap();
    for (what, bad, want) in g1_variants(&resp.v) {
        // A fresh server in the same state for every variant.
        let mut s = Server::new(ctx.clone());
        let mut c = Client::new(&cred, Pin::new(1234).unwrap());
        let ch = s
            .hello(&c.hello(&mut OsRng).unwrap(), NOW, &mut OsRng)
            .unwrap();
        c.challenge(&ch).unwrap();
        let before = pairings_on_this_thread();
        let err = s.response(&Response { v: bad }, NOW).unwrap_err();
        assert_eq!(pairings_on_this_thread(), before, "V {what}: paired");
        expect_point_error(err, "V", want, what);
    }
    // The genuine response still works and nothing was counted as a failure. It pairs twice
    // (the verify product and the key, both on blst): the counter sees the backend's
    // pairings, so the unchanged counts above mean no pairing ran.
    let before = pairings_on_this_thread();
    assert!(server.response(&resp, NOW).is_ok());
    assert_eq!(
        pairings_on_this_thread(),
        before + 2,
        "verify + key pairings"
    );
}

#[test]
fn bad_points_in_a_one_pass_hello_are_refused_before_pairing() {
    let (_w, cred, ctx) = setup();
    let hello = Client::new(&cred, Pin::new(1234).unwrap())
        .one_pass_hello(NOW, b"m", &mut OsRng)
        .unwrap();
    for field in ["U", "UT", "V", "Z"] {
        let valid = match field {
            "U" => hello.u,
            "UT" => hello.ut.unwrap(),
            "V" => hello.v,
            _ => hello.z,
        };
        for (what, bad, want) in g1_variants(&valid) {
            let mut h = hello.clone();
            match field {
                "U" => h.u = bad,
                "UT" => h.ut = Some(bad),
                "V" => h.v = bad,
                _ => h.z = bad,
            }
            let before = pairings_on_this_thread();
            let err = Server::new(ctx.clone())
                .one_pass(&h, NOW, &mut OsRng)
                .unwrap_err();
            assert_eq!(pairings_on_this_thread(), before, "{field} {what}: paired");
            expect_point_error(err, field, want, what);
        }
    }
}

#[test]
fn bad_t_is_refused_by_the_client_before_pairing() {
    let (_w, cred, ctx) = setup();
    let mut client = Client::new(&cred, Pin::new(1234).unwrap());
    let ch = Server::new(ctx.clone())
        .hello(&client.hello(&mut OsRng).unwrap(), NOW, &mut OsRng)
        .unwrap();
    for (what, bad, want) in g1_variants(&ch.t) {
        let mut c = Client::new(&cred, Pin::new(1234).unwrap());
        c.hello(&mut OsRng).unwrap();
        let before = pairings_on_this_thread();
        let err = c.challenge(&Challenge { y: ch.y, t: bad }).unwrap_err();
        assert_eq!(pairings_on_this_thread(), before, "T {what}: paired");
        assert_eq!(
            err,
            ClientError::Decode(DecodeError::Point {
                field: "T",
                source: want
            }),
            "T {what}"
        );
        // One-pass reply too.
        let mut c = Client::new(&cred, Pin::new(1234).unwrap());
        c.one_pass_hello(NOW, b"", &mut OsRng).unwrap();
        let err = c.one_pass_reply(&OnePassReply { t: bad }).unwrap_err();
        assert_eq!(
            err,
            ClientError::Decode(DecodeError::Point {
                field: "T",
                source: want
            }),
            "T {what}"
        );
    }
    // A challenge y ≥ q is non-canonical.
    let mut c = Client::new(&cred, Pin::new(1234).unwrap());
    c.hello(&mut OsRng).unwrap();
    let err = c
        .challenge(&Challenge {
            y: [0xff; 48],
            t: ch.t,
        })
        .unwrap_err();
    assert_eq!(
        err,
        ClientError::Decode(DecodeError::Point {
            field: "y",
            source: PointError::NonCanonical
        })
    );
}

#[test]
fn compressed_and_odd_encodings_are_refused() {
    let valid = mpin_kex::raw::identity_point(&HashedId::of(ID));
    let mut compressed = [0u8; 49];
    compressed[0] = 2;
    compressed.copy_from_slice(&[&[2u8][..], &valid[1..49]].concat());
    assert_eq!(
        curve::g1_decode(&compressed).unwrap_err(),
        PointError::Length
    );
    let mut prefixed = valid;
    prefixed[0] = 3;
    assert_eq!(
        curve::g1_decode(&prefixed).unwrap_err(),
        PointError::Prefix(3)
    );
    assert_eq!(curve::g1_decode(&[0u8]).unwrap_err(), PointError::Identity);
    assert_eq!(curve::g1_decode(&[]).unwrap_err(), PointError::Length);
    assert_eq!(
        curve::g2_decode(&[0u8; 192]).unwrap_err(),
        PointError::Identity
    );
    assert_eq!(
        curve::g2_decode(&[0u8; 191]).unwrap_err(),
        PointError::Length
    );
    let mut g2 = ServerSecret::combine(&[MasterShare::generate(&mut OsRng).server_secret_share()])
        .unwrap()
        .to_bytes();
    g2[191] ^= 1;
    assert_eq!(curve::g2_decode(&g2).unwrap_err(), PointError::NotOnCurve);
    assert!(ServerSecretShare::from_bytes(&g2).is_err());
}

#[test]
fn g2_shares_outside_the_subgroup_are_refused() {
    use miracl_core::bls12381::ecp2::ECP2;
    // Hunt-and-peck onto the twist without clearing the cofactor: on the curve, not in G2.
    let p = ECP2::hap2point(&BIG::new_int(5));
    let (mut x, mut y) = (p.getx(), p.gety());
    let mut enc = [0u8; 192];
    for (i, mut v) in [x.geta(), x.getb(), y.geta(), y.getb()]
        .into_iter()
        .enumerate()
    {
        v.rmod(&BIG::new_ints(&rom::MODULUS));
        v.tobytes(&mut enc[i * 48..(i + 1) * 48]);
    }
    assert_eq!(
        curve::g2_decode(&enc).unwrap_err(),
        PointError::NotInSubgroup
    );
    assert!(matches!(
        ServerSecretShare::from_bytes(&enc),
        Err(DecodeError::Point {
            source: PointError::NotInSubgroup,
            ..
        })
    ));
}
