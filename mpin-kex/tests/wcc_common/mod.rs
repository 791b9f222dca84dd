//! Shared setup for the WCC tests: D-TAs with P2P master shares, device keys and permits,
//! and one exchange through the wire encodings.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use mpin_kex::wcc::*;
use mpin_kex::HashedId;
use rand_core::OsRng;

pub const ALICE: &[u8] = b"device:alice";
pub const BOB: &[u8] = b"device:bob";
pub const CAROL: &[u8] = b"device:carol";
pub const DAY: u32 = 20_833;

/// N D-TAs, each with its own P2P master share.
pub struct Dtas(pub Vec<P2pMasterShare>);

impl Dtas {
    pub fn new(n: usize) -> Self {
        Self(
            (0..n)
                .map(|_| P2pMasterShare::generate(&mut OsRng))
                .collect(),
        )
    }

    /// The sender key of `id` from the first `k` D-TAs.
    pub fn sender_key_from(&self, id: &[u8], k: usize) -> SenderKey {
        let h = HashedId::of(id);
        SenderKey::combine(
            &self.0[..k]
                .iter()
                .map(|d| d.sender_key_share(&h))
                .collect::<Vec<_>>(),
        )
        .unwrap()
    }

    pub fn sender_key(&self, id: &[u8]) -> SenderKey {
        self.sender_key_from(id, self.0.len())
    }

    /// The receiver key of `id` from the first `k` D-TAs.
    pub fn receiver_key_from(&self, id: &[u8], k: usize) -> ReceiverKey {
        let h = HashedId::of(id);
        ReceiverKey::combine(
            &self.0[..k]
                .iter()
                .map(|d| d.receiver_key_share(&h))
                .collect::<Vec<_>>(),
        )
        .unwrap()
    }

    pub fn receiver_key(&self, id: &[u8]) -> ReceiverKey {
        self.receiver_key_from(id, self.0.len())
    }

    pub fn sender_permit(&self, id: &[u8], day: u32) -> SenderPermit {
        let h = HashedId::of(id);
        SenderPermit::combine(
            &self
                .0
                .iter()
                .map(|d| d.sender_permit_share(&h, day).unwrap())
                .collect::<Vec<_>>(),
        )
        .unwrap()
    }

    pub fn receiver_permit(&self, id: &[u8], day: u32) -> ReceiverPermit {
        let h = HashedId::of(id);
        ReceiverPermit::combine(
            &self
                .0
                .iter()
                .map(|d| d.receiver_permit_share(&h, day).unwrap())
                .collect::<Vec<_>>(),
        )
        .unwrap()
    }

    /// Bob as a responder, with today's permit required.
    pub fn bob_with_permit(&self) -> Responder {
        Responder::new(BOB, &self.receiver_key(BOB))
            .unwrap()
            .with_permits(&[self.receiver_permit(BOB, DAY)], true)
            .unwrap()
    }

    /// Alice dialling Bob with today's permit.
    pub fn alice_with_permit(&self) -> Initiator {
        Initiator::new(
            ALICE,
            &self.sender_key(ALICE),
            Some(&self.sender_permit(ALICE, DAY)),
            BOB,
        )
        .unwrap()
    }
}

/// One exchange through the wire encodings; both sessions.
pub fn exchange(
    initiator: &mut Initiator,
    responder: &Responder,
) -> Result<(WccSession, WccSession), WccError> {
    let hello = P2pHello::decode(&initiator.hello(&mut OsRng)?.encode())?;
    let (reply, r) = responder.respond(&hello, &mut OsRng)?;
    let i = initiator.reply(&P2pReply::decode(&reply.encode())?)?;
    Ok((i, r))
}
