//! The P2P (WCC) world in process: D-TAs with P2P master shares and the device keys and
//! permits they issue together.

use mpin_kex::wcc::{
    P2pMasterShare, ReceiverKey, ReceiverPermit, Responder, SenderKey, SenderPermit,
};
use mpin_kex::HashedId;
use rand_core::{CryptoRng, OsRng, RngCore};

/// `n` D-TAs, each with its own P2P master share.
pub struct P2pWorld {
    /// The D-TAs' P2P master shares.
    pub dtas: Vec<P2pMasterShare>,
}

impl P2pWorld {
    /// `n` fresh D-TAs.
    pub fn new(n: usize) -> Self {
        Self::seeded(n, &mut OsRng)
    }

    /// `n` D-TAs drawn from `rng` (a seeded one gives the same shares, keys and permits).
    pub fn seeded(n: usize, rng: &mut (impl RngCore + CryptoRng)) -> Self {
        let dtas = (0..n).map(|_| P2pMasterShare::generate(rng)).collect();
        Self { dtas }
    }

    /// The sender key of `id`, combined from every D-TA's share.
    pub fn sender_key(&self, id: &[u8]) -> SenderKey {
        let h = HashedId::of(id);
        let shares: Vec<_> = self.dtas.iter().map(|d| d.sender_key_share(&h)).collect();
        SenderKey::combine(&shares).expect("sender key shares combine")
    }

    /// The sender permit of `id` for `day`, combined from every D-TA's share.
    pub fn sender_permit(&self, id: &[u8], day: u32) -> SenderPermit {
        let h = HashedId::of(id);
        let shares: Vec<_> = self
            .dtas
            .iter()
            .map(|d| d.sender_permit_share(&h, day).expect("sender permit share"))
            .collect();
        SenderPermit::combine(&shares).expect("sender permit shares combine")
    }

    /// The receiver key of `id`, combined from every D-TA's share.
    pub fn receiver_key(&self, id: &[u8]) -> ReceiverKey {
        let h = HashedId::of(id);
        let shares: Vec<_> = self.dtas.iter().map(|d| d.receiver_key_share(&h)).collect();
        ReceiverKey::combine(&shares).expect("receiver key shares combine")
    }

    /// The receiver permit of `id` for `day`, combined from every D-TA's share.
    pub fn receiver_permit(&self, id: &[u8], day: u32) -> ReceiverPermit {
        let h = HashedId::of(id);
        let shares: Vec<_> = self
            .dtas
            .iter()
            .map(|d| {
                d.receiver_permit_share(&h, day)
                    .expect("receiver permit share")
            })
            .collect();
        ReceiverPermit::combine(&shares).expect("receiver permit shares combine")
    }

    /// `id` as a responder; with the permit of `permit_day` (if any), which it then requires.
    pub fn responder(&self, id: &[u8], permit_day: Option<u32>) -> Responder {
        let r = Responder::new(id, &self.receiver_key(id)).expect("responder");
        match permit_day {
            Some(day) => r
                .with_permits(&[self.receiver_permit(id, day)], true)
                .expect("responder permits"),
            None => r,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use mpin_kex::wcc::Initiator;

    #[test]
    fn devices_of_one_world_link_with_and_without_permits() {
        let w = P2pWorld::new(2);
        let key = w.sender_key(b"a");
        let permit = w.sender_permit(b"a", 7);
        for (permit, day) in [(None, None), (Some(&permit), Some(7))] {
            let mut i = Initiator::new(b"a", &key, permit, b"b").expect("initiator");
            let hello = i.hello(&mut OsRng).expect("hello");
            let (reply, r) = w
                .responder(b"b", day)
                .respond(&hello, &mut OsRng)
                .expect("reply");
            assert_eq!(i.reply(&reply).expect("session").key, r.key);
        }
    }
}
