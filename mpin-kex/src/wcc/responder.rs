//! The responder (receiver, TLS server): accepts initiators with its G2 receiver key. One
//! [`Responder`] serves any number of exchanges (`&self`), like the M-Pin server context.

use miracl_core::bls12381::ecp2::ECP2;
use rand_core::{CryptoRng, RngCore};

use super::error::WccError;
use super::fast::G2;
use super::h2;
use super::initiator::check_identity;
use super::keys::{ReceiverKey, ReceiverPermit};
use super::math;
use super::messages::{P2pHello, P2pReply, SESSION_ID_LEN};
use super::points;
use super::session::WccSession;
use crate::backend;
use crate::curve::random_scalar;
use crate::error::DecodeError;
use crate::identity::HashedId;
use crate::session::SessionKey;

/// The values of one permit day: `B'` (public) and `SB' = SB + TPB` (secret; a blst value
/// kept as long as the responder, like the M-Pin server secret's prepared lines).
struct Day {
    day: u32,
    b_active: G2,
    key: G2,
}

fn blst(field: &'static str, p: &ECP2) -> Result<G2, WccError> {
    G2::from_miracl(p).map_err(|source| WccError::Decode(DecodeError::Point { field, source }))
}

/// A responder identity with its keys.
pub struct Responder {
    identity: Vec<u8>,
    require_permit: bool,
    /// The receiver key without permit.
    key: ReceiverKey,
    /// Day 0 (no permit) first, then one entry per permit held.
    days: Vec<Day>,
}

impl Responder {
    /// A responder for `identity` holding `key`. Without permits it accepts only day 0.
    pub fn new(identity: &[u8], key: &ReceiverKey) -> Result<Self, WccError> {
        check_identity(identity)?;
        let b = h2::receiver_point(&HashedId::of(identity));
        Ok(Self {
            identity: identity.to_vec(),
            require_permit: false,
            days: vec![Day {
                day: 0,
                b_active: blst("identity point", &b)?,
                key: blst("receiver key", &key.point()?)?,
            }],
            key: key.clone(),
        })
    }

    /// Adds the permits this responder accepts (e.g. today's, and yesterday's during the
    /// first hour: the caller decides) and, with `require`, refuses day 0.
    pub fn with_permits(
        mut self,
        permits: &[ReceiverPermit],
        require: bool,
    ) -> Result<Self, WccError> {
        let hid = HashedId::of(&self.identity);
        let base = self.key.point()?;
        for p in permits {
            let mut sb = base.clone();
            sb.add(&p.point()?);
            if sb.is_infinity() {
                return Err(WccError::Degenerate("receiver key + permit"));
            }
            self.days.push(Day {
                day: p.day(),
                b_active: blst("identity point", &h2::receiver_active_point(&hid, p.day()))?,
                key: blst("receiver key", &sb)?,
            });
        }
        self.require_permit = require;
        Ok(self)
    }

    /// The responder's identity.
    pub fn identity(&self) -> &[u8] {
        &self.identity
    }

    /// Answers a hello: checks it is for us, not from ourselves (Selfie), for a day we hold a
    /// permit for, and that `PaG1` is a valid point, all before the pairing; then draws
    /// `y`, `w` and the session id, and returns the reply and the (already known) key.
    /// Allow-lists of initiators are the caller's, checked on `hello.initiator` first.
    pub fn respond<R: RngCore + CryptoRng>(
        &self,
        hello: &P2pHello,
        rng: &mut R,
    ) -> Result<(P2pReply, WccSession), WccError> {
        check_identity(&hello.initiator)?;
        if hello.responder != self.identity {
            return Err(WccError::NotForMe);
        }
        if hello.initiator == self.identity {
            return Err(WccError::SelfPeer);
        }
        if hello.day == 0 && self.require_permit {
            return Err(WccError::PermitRequired);
        }
        let d = self
            .days
            .iter()
            .find(|d| d.day == hello.day)
            .ok_or(WccError::PermitDay(hello.day))?;
        let pa = backend::g1_decode(&hello.pa).map_err(|source| DecodeError::Point {
            field: "PaG1",
            source,
        })?;
        let hid_a = HashedId::of(&hello.initiator);
        let a_active = points::sender_active(&hid_a, hello.day)?;
        let (y, w) = (random_scalar(rng), random_scalar(rng));
        let mut session_id = [0u8; SESSION_ID_LEN];
        rng.fill_bytes(&mut session_id);
        let pb = d.b_active.mul(&y).to_bytes();
        let pg = a_active.mul(&w).to_bytes();
        let (pia, pib) = math::pis(&hello.pa, &pb, &pg, &hello.initiator, &self.identity);
        let parts = math::receiver((&y, &w), (&pia, &pib), &pa, &d.key, &a_active)
            .map_err(WccError::Degenerate)?;
        let reply = P2pReply {
            session_id,
            responder: self.identity.clone(),
            pb,
            pg,
        };
        let session = WccSession {
            initiator: hello.initiator.clone(),
            responder: self.identity.clone(),
            day: hello.day,
            session_id,
            key: SessionKey::new(parts.key),
        };
        Ok((reply, session))
    }
}

impl core::fmt::Debug for Responder {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Responder")
            .field("identity", &String::from_utf8_lossy(&self.identity))
            .field("days", &self.days.iter().map(|d| d.day).collect::<Vec<_>>())
            .field("require_permit", &self.require_permit)
            .finish()
    }
}
