//! Property tests: shares combine in any order; every encoding round-trips; truncated and
//! oversized messages are refused.

#![allow(clippy::unwrap_used)]

use mpin_kex::*;
use proptest::prelude::*;
use rand::rngs::StdRng;
use rand::SeedableRng;

fn g1() -> impl Strategy<Value = [u8; 97]> {
    proptest::collection::vec(any::<u8>(), 97).prop_map(|v| v.try_into().unwrap())
}

fn hello() -> impl Strategy<Value = Hello> {
    (
        proptest::collection::vec(any::<u8>(), 1..=1024),
        any::<u32>(),
        g1(),
        g1(),
        g1(),
    )
        .prop_map(|(identity, day, u, ut, z)| Hello {
            identity,
            day,
            u,
            ut: (day != 0).then_some(ut),
            z,
        })
}

fn one_pass_hello() -> impl Strategy<Value = OnePassHello> {
    (
        proptest::collection::vec(any::<u8>(), 1..=1024),
        any::<u32>(),
        1u32..=i32::MAX as u32,
        proptest::collection::vec(any::<u8>(), 0..=1024),
        (g1(), g1(), g1(), g1()),
    )
        .prop_map(
            |(identity, day, time, message, (u, ut, v, z))| OnePassHello {
                identity,
                day,
                time,
                message,
                u,
                ut: (day != 0).then_some(ut),
                v,
                z,
            },
        )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(12))]

    #[test]
    fn shares_combine_in_any_order(seed in any::<u64>(), n in 1usize..=5, perm_seed in any::<u64>(), day in 1u32..100_000) {
        let mut rng = StdRng::seed_from_u64(seed);
        let dtas: Vec<_> = (0..n).map(|_| MasterShare::generate(&mut rng)).collect();
        let id = HashedId::of(&seed.to_be_bytes());
        let cs: Vec<_> = dtas.iter().map(|d| d.client_secret_share(&id)).collect();
        let tp: Vec<_> = dtas.iter().map(|d| d.time_permit_share(&id, day).unwrap()).collect();
        let ss: Vec<_> = dtas.iter().map(MasterShare::server_secret_share).collect();
        let mut order: Vec<usize> = (0..n).collect();
        let mut prng = StdRng::seed_from_u64(perm_seed);
        rand::seq::SliceRandom::shuffle(&mut order[..], &mut prng);
        let cs2: Vec<_> = order.iter().map(|&i| cs[i].clone()).collect();
        let tp2: Vec<_> = order.iter().map(|&i| tp[i].clone()).collect();
        let ss2: Vec<_> = order.iter().map(|&i| ss[i].clone()).collect();
        prop_assert_eq!(ClientSecret::combine(&cs).unwrap().to_bytes(), ClientSecret::combine(&cs2).unwrap().to_bytes());
        prop_assert_eq!(TimePermit::combine(&tp).unwrap().to_bytes(), TimePermit::combine(&tp2).unwrap().to_bytes());
        prop_assert_eq!(ServerSecret::combine(&ss).unwrap().to_bytes(), ServerSecret::combine(&ss2).unwrap().to_bytes());
    }

    #[test]
    fn secrets_round_trip(seed in any::<u64>(), day in 1u32..100_000, pin in 0u32..10_000) {
        let mut rng = StdRng::seed_from_u64(seed);
        let m = MasterShare::generate(&mut rng);
        prop_assert_eq!(MasterShare::from_bytes(&m.to_bytes()).unwrap().to_bytes(), m.to_bytes());
        let id = HashedId::of(b"x");
        prop_assert_eq!(HashedId::from_bytes(id.as_bytes()), Some(id));
        let cs = m.client_secret_share(&id);
        prop_assert_eq!(ClientSecretShare::from_bytes(&cs.to_bytes()).unwrap().to_bytes(), cs.to_bytes());
        let c = ClientSecret::combine(&[cs]).unwrap();
        prop_assert_eq!(ClientSecret::from_bytes(&c.to_bytes()).unwrap().to_bytes(), c.to_bytes());
        let t = Token::extract(&c, b"x", &Pin::new(pin).unwrap()).unwrap();
        prop_assert_eq!(Token::from_bytes(&t.to_bytes()).unwrap().to_bytes(), t.to_bytes());
        let tp = m.time_permit_share(&id, day).unwrap();
        let back = TimePermitShare::from_bytes(&tp.to_bytes()).unwrap();
        prop_assert_eq!(back.day(), day);
        prop_assert_eq!(back.to_bytes(), tp.to_bytes());
        let p = TimePermit::combine(&[tp]).unwrap();
        prop_assert_eq!(TimePermit::from_bytes(&p.to_bytes()).unwrap().to_bytes(), p.to_bytes());
        let s = m.server_secret_share();
        prop_assert_eq!(ServerSecretShare::from_bytes(&s.to_bytes()).unwrap().to_bytes(), s.to_bytes());
        let ss = ServerSecret::combine(&[s]).unwrap();
        prop_assert_eq!(ServerSecret::from_bytes(&ss.to_bytes()).unwrap().to_bytes(), ss.to_bytes());
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn hello_round_trips_and_refuses_truncation_and_trailing_bytes(h in hello(), cut in any::<prop::sample::Index>()) {
        let enc = h.encode();
        prop_assert_eq!(Hello::decode(&enc).unwrap(), h);
        let at = cut.index(enc.len());
        prop_assert!(matches!(Hello::decode(&enc[..at]), Err(DecodeError::Truncated(_))));
        let mut longer = enc.clone();
        longer.push(0);
        prop_assert_eq!(Hello::decode(&longer), Err(DecodeError::Trailing(1)));
    }

    #[test]
    fn one_pass_hello_round_trips_and_refuses_truncation(h in one_pass_hello(), cut in any::<prop::sample::Index>()) {
        let enc = h.encode();
        prop_assert_eq!(OnePassHello::decode(&enc).unwrap(), h);
        let at = cut.index(enc.len());
        prop_assert!(OnePassHello::decode(&enc[..at]).is_err());
        let mut longer = enc;
        longer.extend_from_slice(&[1, 2]);
        prop_assert_eq!(OnePassHello::decode(&longer), Err(DecodeError::Trailing(2)));
    }

    #[test]
    fn short_messages_round_trip(y in proptest::collection::vec(any::<u8>(), 48), t in g1()) {
        let c = Challenge { y: y.try_into().unwrap(), t };
        prop_assert_eq!(Challenge::decode(&c.encode()).unwrap(), c.clone());
        prop_assert!(matches!(Challenge::decode(&c.encode()[..144]), Err(DecodeError::Truncated("T"))));
        let r = Response { v: t };
        prop_assert_eq!(Response::decode(&r.encode()).unwrap(), r);
        let o = OnePassReply { t };
        prop_assert_eq!(OnePassReply::decode(&o.encode()).unwrap(), o);
    }
}

#[test]
fn oversized_fields_are_refused() {
    let mut enc = Vec::new();
    enc.extend_from_slice(&1025u16.to_be_bytes());
    enc.extend_from_slice(&[b'a'; 1025]);
    assert_eq!(
        Hello::decode(&enc),
        Err(DecodeError::TooLong {
            field: "identity",
            len: 1025,
            max: 1024
        })
    );
    assert_eq!(
        Hello::decode(&[0, 0]),
        Err(DecodeError::Invalid {
            field: "identity",
            why: "empty"
        })
    );
    let h = OnePassHello {
        identity: b"a".to_vec(),
        day: 0,
        time: 1,
        message: vec![],
        u: [0; 97],
        ut: None,
        v: [0; 97],
        z: [0; 97],
    };
    let mut enc = h.encode();
    // message length field sits after id_len(2) + id(1) + day(4) + time(4)
    enc[11..13].copy_from_slice(&2000u16.to_be_bytes());
    assert_eq!(
        OnePassHello::decode(&enc),
        Err(DecodeError::TooLong {
            field: "message",
            len: 2000,
            max: 1024
        })
    );
    let mut bad_time = h.encode();
    bad_time[7..11].copy_from_slice(&0u32.to_be_bytes());
    assert!(matches!(
        OnePassHello::decode(&bad_time),
        Err(DecodeError::Invalid { field: "time", .. })
    ));
    assert_eq!(Response::decode(&[4u8; 98]), Err(DecodeError::Trailing(1)));
    assert_eq!(Response::decode(&[]), Err(DecodeError::Truncated("V")));
}
