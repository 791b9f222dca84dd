//! The initiator (sender, TLS client): dials a peer identity with its G1 sender key.

use miracl_core::bls12381::big::BIG;
use rand_core::{CryptoRng, RngCore};
use zeroize::Zeroizing;

use super::error::WccError;
use super::fast::G2;
use super::keys::{SenderKey, SenderPermit};
use super::math;
use super::messages::{P2pHello, P2pReply, MAX_IDENTITY_LEN};
use super::points;
use super::session::WccSession;
use crate::backend::{self, G1};
use crate::curve::{big_from, g2_decode, random_scalar, MB};
use crate::error::DecodeError;
use crate::identity::HashedId;
use crate::session::SessionKey;

pub(crate) fn check_identity(id: &[u8]) -> Result<(), WccError> {
    if id.is_empty() || id.len() > MAX_IDENTITY_LEN {
        return Err(WccError::IdentityLength(id.len()));
    }
    Ok(())
}

fn point(field: &'static str) -> impl Fn(crate::error::PointError) -> WccError {
    move |source| WccError::Decode(DecodeError::Point { field, source })
}

struct Pending {
    x: Zeroizing<[u8; MB]>,
    pa: [u8; crate::curve::G1_LEN],
}

/// One initiator run: [`Initiator::hello`], then [`Initiator::reply`].
pub struct Initiator {
    identity: Vec<u8>,
    peer: Vec<u8>,
    day: u32,
    /// `A' = A + A_T(d)`.
    a_active: G1,
    /// `SA' = SA + TPA` (secret).
    key: SenderKey,
    pending: Option<Pending>,
}

impl Initiator {
    /// Prepares a run of `identity` (holding `key`, and `permit` for the permit day if
    /// permits are in use) towards `peer`. Refuses `peer == identity` (Selfie).
    pub fn new(
        identity: &[u8],
        key: &SenderKey,
        permit: Option<&SenderPermit>,
        peer: &[u8],
    ) -> Result<Self, WccError> {
        check_identity(identity)?;
        check_identity(peer)?;
        if identity == peer {
            return Err(WccError::SelfPeer);
        }
        let hid = HashedId::of(identity);
        let day = permit.map_or(0, SenderPermit::day);
        let a_active = points::sender_active(&hid, day)?;
        let mut sa = key.point()?;
        if let Some(p) = permit {
            sa.add(&p.point()?);
            if sa.is_infinity() {
                return Err(WccError::Degenerate("sender key + permit"));
            }
        }
        Ok(Self {
            identity: identity.to_vec(),
            peer: peer.to_vec(),
            day,
            a_active,
            key: SenderKey::from_point(&sa),
            pending: None,
        })
    }

    /// This device's identity.
    pub fn identity(&self) -> &[u8] {
        &self.identity
    }

    /// The peer dialled (the only identity [`Initiator::reply`] accepts).
    pub fn peer(&self) -> &[u8] {
        &self.peer
    }

    /// The permit day offered (0 = none).
    pub fn day(&self) -> u32 {
        self.day
    }

    /// The first message: draws `x`, sends `{IdI, IdR, day, PaG1 = x·A'}`.
    pub fn hello<R: RngCore + CryptoRng>(&mut self, rng: &mut R) -> Result<P2pHello, WccError> {
        if self.pending.is_some() {
            return Err(WccError::State("hello already sent"));
        }
        let x = random_scalar(rng);
        let pa = self.a_active.mul(&x).to_bytes();
        self.pending = Some(Pending {
            x: Zeroizing::new(math::scalar_bytes(&x)),
            pa,
        });
        Ok(P2pHello {
            initiator: self.identity.clone(),
            responder: self.peer.clone(),
            day: self.day,
            pa,
        })
    }

    /// Takes the responder's reply: checks it comes from the peer dialled and validates
    /// every point before the pairing, then derives the key. Single use.
    pub fn reply(&mut self, reply: &P2pReply) -> Result<WccSession, WccError> {
        let pending = self
            .pending
            .take()
            .ok_or(WccError::State("reply before hello"))?;
        if reply.responder == self.identity {
            return Err(WccError::SelfPeer);
        }
        if reply.responder != self.peer {
            return Err(WccError::WrongPeer);
        }
        let pb = g2_decode(&reply.pb)
            .and_then(|p| G2::from_miracl(&p))
            .map_err(point("PbG2"))?;
        let pg = backend::g1_decode(&reply.pg).map_err(point("PgG1"))?;
        let x: BIG = big_from(&pending.x);
        let (pia, pib) = math::pis(
            &pending.pa,
            &reply.pb,
            &reply.pg,
            &self.identity,
            &self.peer,
        );
        let b_active = points::receiver_active(&HashedId::of(&self.peer), self.day)?;
        let sa = backend::g1_from_miracl(&self.key.point()?).map_err(point("sender key"))?;
        let parts = math::sender(&x, (&pia, &pib), &pb, &pg, &sa, &b_active)
            .map_err(WccError::Degenerate)?;
        Ok(WccSession {
            initiator: self.identity.clone(),
            responder: self.peer.clone(),
            day: self.day,
            session_id: reply.session_id,
            key: SessionKey::new(parts.key),
        })
    }
}

impl core::fmt::Debug for Initiator {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Initiator")
            .field("identity", &String::from_utf8_lossy(&self.identity))
            .field("peer", &String::from_utf8_lossy(&self.peer))
            .field("day", &self.day)
            .finish_non_exhaustive()
    }
}
