//! WCC key hygiene (issue 10 item 2, P2P-SPEC §13) and strict decoding of keys and messages.

#![allow(clippy::unwrap_used)]

mod wcc_common;

use miracl_core::bls12381::ecp::ECP;
use mpin_kex::wcc::messages::{MAX_HELLO_LEN, MAX_REPLY_LEN};
use mpin_kex::wcc::*;
use mpin_kex::{ClientSecret, DecodeError, HashedId, MasterShare, SecretError};
use proptest::prelude::*;
use rand_core::OsRng;
use wcc_common::*;

#[test]
fn a_device_sender_key_is_not_the_m_pin_client_secret_of_the_same_identity() {
    // Each D-TA holds an M-Pin share and, separately drawn, a P2P share.
    let mpin: Vec<MasterShare> = (0..3).map(|_| MasterShare::generate(&mut OsRng)).collect();
    let p2p = Dtas::new(3);
    let h = HashedId::of(ALICE);
    let cs = ClientSecret::combine(
        &mpin
            .iter()
            .map(|m| m.client_secret_share(&h))
            .collect::<Vec<_>>(),
    )
    .unwrap();
    assert_ne!(*cs.to_bytes(), *p2p.sender_key(ALICE).to_bytes());
    for (m, p) in mpin.iter().zip(&p2p.0) {
        assert_ne!(
            *m.client_secret_share(&h).to_bytes(),
            *p.sender_key_share(&h).to_bytes()
        );
    }
    // The hazard the separation removes: the formula is the same, so one scalar used for
    // both would make the device key an M-Pin client secret (PIN 0).
    let scalar: [u8; 48] = m_bytes(&mpin[0]);
    assert_eq!(
        raw::g1_multiple(&scalar, &h).as_slice(),
        mpin[0].client_secret_share(&h).to_bytes().as_slice()
    );
}

fn m_bytes(m: &MasterShare) -> [u8; 48] {
    m.to_bytes().as_slice().try_into().unwrap()
}

#[test]
fn an_m_pin_master_share_cannot_be_loaded_as_a_p2p_share_nor_the_reverse() {
    let m = MasterShare::generate(&mut OsRng);
    assert!(matches!(
        P2pMasterShare::from_bytes(&m.to_bytes()),
        Err(DecodeError::Invalid { .. })
    ));
    let mut relabelled = b"XXXX".to_vec();
    relabelled.extend_from_slice(&m.to_bytes());
    assert!(P2pMasterShare::from_bytes(&relabelled).is_err());
    let p = P2pMasterShare::generate(&mut OsRng);
    assert!(MasterShare::from_bytes(&p.to_bytes()).is_err());
    // Its own encoding round-trips; zero and q are refused.
    let back = P2pMasterShare::from_bytes(&p.to_bytes()).unwrap();
    assert_eq!(*back.to_bytes(), *p.to_bytes());
    let mut zero = P2pMasterShare::PREFIX.to_vec();
    zero.extend_from_slice(&[0u8; 48]);
    assert!(P2pMasterShare::from_bytes(&zero).is_err());
    let mut q = P2pMasterShare::PREFIX.to_vec();
    q.extend_from_slice(&[0xff; 48]);
    assert!(P2pMasterShare::from_bytes(&q).is_err());
}

#[test]
fn key_material_round_trips_and_never_prints() {
    let d = Dtas::new(2);
    let h = HashedId::of(ALICE);
    let m = &d.0[0];
    macro_rules! round_trip {
        ($t:ty, $v:expr) => {{
            let v = $v;
            assert_eq!(
                *<$t>::from_bytes(&v.to_bytes()).unwrap().to_bytes(),
                *v.to_bytes()
            );
            assert_eq!(v.to_bytes().len(), <$t>::LEN);
            assert!(format!("{v:?}").contains("<redacted>"));
        }};
    }
    round_trip!(SenderKeyShare, m.sender_key_share(&h));
    round_trip!(ReceiverKeyShare, m.receiver_key_share(&h));
    round_trip!(SenderPermitShare, m.sender_permit_share(&h, DAY).unwrap());
    round_trip!(
        ReceiverPermitShare,
        m.receiver_permit_share(&h, DAY).unwrap()
    );
    round_trip!(SenderKey, d.sender_key(ALICE));
    round_trip!(ReceiverKey, d.receiver_key(ALICE));
    round_trip!(SenderPermit, d.sender_permit(ALICE, DAY));
    round_trip!(ReceiverPermit, d.receiver_permit(ALICE, DAY));
    assert_eq!(format!("{m:?}"), "P2pMasterShare(<redacted>)");
    assert_eq!(
        SenderPermit::from_bytes(&d.sender_permit(ALICE, DAY).to_bytes())
            .unwrap()
            .day(),
        DAY
    );
}

#[test]
fn combining_refuses_no_shares_mixed_days_day_zero_and_an_identity_sum() {
    let d = Dtas::new(2);
    let h = HashedId::of(ALICE);
    assert_eq!(SenderKey::combine(&[]).unwrap_err(), SecretError::NoShares);
    assert_eq!(
        ReceiverPermit::combine(&[]).unwrap_err(),
        SecretError::NoShares
    );
    let mixed = [
        d.0[0].receiver_permit_share(&h, DAY).unwrap(),
        d.0[1].receiver_permit_share(&h, DAY + 1).unwrap(),
    ];
    assert_eq!(
        ReceiverPermit::combine(&mixed).unwrap_err(),
        SecretError::MixedDays(DAY, DAY + 1)
    );
    assert_eq!(
        d.0[0].sender_permit_share(&h, 0).unwrap_err(),
        SecretError::DayZero
    );
    assert_eq!(
        d.0[0].receiver_permit_share(&h, 0).unwrap_err(),
        SecretError::DayZero
    );
    let mut permit0 = 0u32.to_be_bytes().to_vec();
    permit0.extend_from_slice(&d.sender_key(ALICE).to_bytes());
    assert!(SenderPermit::from_bytes(&permit0).is_err());
    // A share and its negation sum to the identity.
    let s = d.0[0].sender_key_share(&h);
    let mut p = ECP::frombytes(&s.to_bytes());
    p.neg();
    let mut nb = [0u8; 97];
    p.tobytes(&mut nb, false);
    let neg = SenderKeyShare::from_bytes(&nb).unwrap();
    assert_eq!(
        SenderKey::combine(&[s, neg]).unwrap_err(),
        SecretError::Degenerate
    );
}

fn sample() -> (P2pHello, P2pReply) {
    let d = Dtas::new(1);
    let mut a = Initiator::new(ALICE, &d.sender_key(ALICE), None, BOB).unwrap();
    let hello = a.hello(&mut OsRng).unwrap();
    let b = Responder::new(BOB, &d.receiver_key(BOB)).unwrap();
    let (reply, _) = b.respond(&hello, &mut OsRng).unwrap();
    (hello, reply)
}

#[test]
fn messages_decode_strictly() {
    let (hello, reply) = sample();
    let (h, r) = (hello.encode(), reply.encode());
    assert_eq!(h.len(), 2 + ALICE.len() + 2 + BOB.len() + 4 + 97);
    assert_eq!(r.len(), 16 + 2 + BOB.len() + 192 + 97);
    assert_eq!(P2pHello::decode(&h).unwrap(), hello);
    assert_eq!(P2pReply::decode(&r).unwrap(), reply);
    for cut in 0..h.len() {
        assert!(
            matches!(P2pHello::decode(&h[..cut]), Err(DecodeError::Truncated(_))),
            "{cut}"
        );
    }
    for cut in 0..r.len() {
        assert!(
            matches!(P2pReply::decode(&r[..cut]), Err(DecodeError::Truncated(_))),
            "{cut}"
        );
    }
    let mut long = h.clone();
    long.push(0);
    assert_eq!(
        P2pHello::decode(&long).unwrap_err(),
        DecodeError::Trailing(1)
    );
    let mut long = r.clone();
    long.push(0);
    assert_eq!(
        P2pReply::decode(&long).unwrap_err(),
        DecodeError::Trailing(1)
    );
    // Empty and over-long identities.
    let empty = P2pHello {
        initiator: Vec::new(),
        ..hello.clone()
    };
    assert!(matches!(
        P2pHello::decode(&empty.encode()),
        Err(DecodeError::Invalid { .. })
    ));
    let big = P2pHello {
        responder: vec![b'b'; 1025],
        ..hello.clone()
    };
    assert!(matches!(
        P2pHello::decode(&big.encode()),
        Err(DecodeError::TooLong {
            len: 1025,
            max: 1024,
            ..
        })
    ));
    let max = P2pHello {
        initiator: vec![b'a'; 1024],
        responder: vec![b'b'; 1024],
        ..hello
    };
    assert_eq!(max.encode().len(), MAX_HELLO_LEN);
    assert!(P2pHello::decode(&max.encode()).is_ok());
    let max = P2pReply {
        responder: vec![b'b'; 1024],
        ..reply
    };
    assert_eq!(max.encode().len(), MAX_REPLY_LEN);
    assert!(P2pReply::decode(&max.encode()).is_ok());
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn decoders_never_panic_and_round_trip(bytes in proptest::collection::vec(any::<u8>(), 0..600)) {
        if let Ok(h) = P2pHello::decode(&bytes) {
            prop_assert_eq!(h.encode(), bytes.clone());
        }
        if let Ok(r) = P2pReply::decode(&bytes) {
            prop_assert_eq!(r.encode(), bytes);
        }
    }

    #[test]
    fn identities_round_trip(a in proptest::collection::vec(any::<u8>(), 1..=1024),
                             b in proptest::collection::vec(any::<u8>(), 1..=1024),
                             day in any::<u32>()) {
        let h = P2pHello { initiator: a, responder: b, day, pa: [4u8; 97] };
        prop_assert_eq!(P2pHello::decode(&h.encode()).unwrap(), h);
    }
}

fn zeroized_on_drop<T: zeroize::ZeroizeOnDrop>() {}

#[test]
fn every_wcc_secret_zeroizes_on_drop_and_sessions_do_not_print_the_key() {
    zeroized_on_drop::<P2pMasterShare>();
    zeroized_on_drop::<SenderKeyShare>();
    zeroized_on_drop::<SenderKey>();
    zeroized_on_drop::<ReceiverKeyShare>();
    zeroized_on_drop::<ReceiverKey>();
    zeroized_on_drop::<SenderPermitShare>();
    zeroized_on_drop::<SenderPermit>();
    zeroized_on_drop::<ReceiverPermitShare>();
    zeroized_on_drop::<ReceiverPermit>();
    let d = Dtas::new(1);
    let mut a = Initiator::new(ALICE, &d.sender_key(ALICE), None, BOB).unwrap();
    let b = Responder::new(BOB, &d.receiver_key(BOB)).unwrap();
    let (i, _) = exchange(&mut a, &b).unwrap();
    let printed = format!("{i:?} {a:?} {b:?}");
    let hex: String = i
        .key
        .as_bytes()
        .iter()
        .map(|x| format!("{x:02x}"))
        .collect();
    assert!(printed.contains("<redacted>") && !printed.contains(&hex));
    assert!(!printed.contains(&format!("{:?}", i.key.as_bytes())));
}
