//! The client side: a [`Credential`] (identity, token, optional time permit, identity points
//! and cached PIN secrets) and the sans-IO [`Client`] state machine.
//!
//! ```text
//! multi-pass:  hello()  → Hello        …  challenge(Challenge) → (Response, Session)
//! one-pass:    one_pass_hello(now, msg) → OnePassHello  …  one_pass_reply(OnePassReply) → Session
//! ```

use core::borrow::Borrow;
use core::fmt;

use std::sync::{Arc, Mutex};

use rand_core::{CryptoRng, RngCore};
use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

use crate::backend::{g1_decode, g1_from_miracl, FixedBase, GtTable, MulBy, G1};
use crate::curve::{big_from, big_to_bytes, random_scalar, scalar_canonical, G1_LEN, MB};
use crate::error::{ClientError, DecodeError};
use crate::identity::HashedId;
use crate::math::{self, BlstIdPoints, IdPoints};
use crate::messages::{
    Challenge, Hello, OnePassHello, OnePassReply, Response, MAX_IDENTITY_LEN, MAX_MESSAGE_LEN,
};
use crate::pin::Pin;
use crate::secrets::{TimePermit, Token};
use crate::session::{Mode, Session, SessionKey};

/// What a client holds: identity, PIN-less token, optionally today's time permit, the
/// identity points `A`, `A + A_T(d)` for the permit's day (public; mapped once, not on every
/// run) and a cache of the PIN-combined secrets of the last PIN used (see `PinSecrets`).
pub struct Credential {
    identity: Vec<u8>,
    hashed_id: HashedId,
    token: Token,
    permit: Option<TimePermit>,
    pts: IdPoints,
    /// `pts` on blst, with fixed-base tables (`None` only if they failed to convert, never
    /// seen: runs then fail).
    fast: Option<BlstIdPoints>,
    pin_secrets: Mutex<Option<Arc<PinSecrets>>>,
}

/// What is fixed per (credential, PIN, permit day): `SEC = S (+ TP)` with
/// `S = TOKEN + pin·A`, as a fixed-base table, and `e(Q, S)`'s GT table for the key (secret:
/// overwritten on drop, never printed). `S` itself is not kept: the key needs only `e(Q, S)`.
/// Cached in the [`Credential`], so a run costs no PIN multiplication and its two secret
/// computations use the tables; an entry is used only for the PIN (compared in constant
/// time) and day it was made for, and a new permit drops it.
struct PinSecrets {
    pin: Pin,
    day: u32,
    /// `SEC` (`= S` without a permit), multiplied for `V`.
    sec: FixedBase,
    /// `e(Q, S)`, raised to `r + h` for the key.
    gs: GtTable,
}

impl PinSecrets {
    fn of(cred: &Credential, pin: &Pin) -> Result<Self, ClientError> {
        let tp = cred.permit.as_ref().map(TimePermit::point);
        let (s, sec) =
            math::client_secrets(&cred.token.point(), &cred.pts.a, pin.value(), tp.as_ref());
        let fast = |p| g1_from_miracl(p).map_err(|_| ClientError::Degenerate);
        Ok(Self {
            pin: pin.clone(),
            day: permit_day(cred.permit.as_ref()),
            gs: math::client_key_table(&fast(&s)?),
            sec: FixedBase::new(&fast(&sec)?),
        })
    }

    fn is_for(&self, pin: &Pin, day: u32) -> bool {
        bool::from(self.pin.value().ct_eq(&pin.value())) && self.day == day
    }
}

fn permit_day(permit: Option<&TimePermit>) -> u32 {
    permit.map_or(0, TimePermit::day)
}

fn map_points(id: &HashedId, day: u32) -> (IdPoints, Result<BlstIdPoints, DecodeError>) {
    let pts = IdPoints::new(id, day);
    let fast = BlstIdPoints::of(&pts)
        .map(|f| f.with_tables())
        .map_err(|source| DecodeError::Point {
            field: "identity point",
            source,
        });
    (pts, fast)
}

impl Credential {
    /// Builds a credential (maps the identity points). The identity must be 1..=1024 bytes.
    pub fn new(
        identity: &[u8],
        token: Token,
        permit: Option<TimePermit>,
    ) -> Result<Self, DecodeError> {
        if identity.is_empty() || identity.len() > MAX_IDENTITY_LEN {
            return Err(DecodeError::Invalid {
                field: "identity",
                why: "must be 1 to 1024 bytes",
            });
        }
        let hashed_id = HashedId::of(identity);
        let (pts, fast) = map_points(&hashed_id, permit_day(permit.as_ref()));
        let fast = Some(fast?);
        Ok(Self {
            identity: identity.to_vec(),
            hashed_id,
            token,
            permit,
            pts,
            fast,
            pin_secrets: Mutex::new(None),
        })
    }

    /// Replaces the time permit (e.g. with the new day's); drops the cached PIN secrets.
    pub fn set_permit(&mut self, permit: Option<TimePermit>) {
        let day = permit_day(permit.as_ref());
        if day != permit_day(self.permit.as_ref()) {
            let (pts, fast) = map_points(&self.hashed_id, day);
            (self.pts, self.fast) = (pts, fast.ok());
        }
        self.permit = permit;
        match self.pin_secrets.get_mut() {
            Ok(cached) => *cached = None,
            Err(poisoned) => *poisoned.into_inner() = None,
        }
    }

    /// The raw identity.
    pub fn identity(&self) -> &[u8] {
        &self.identity
    }

    /// The hashed identity.
    pub fn hashed_id(&self) -> &HashedId {
        &self.hashed_id
    }

    /// The permit, if any.
    pub fn permit(&self) -> Option<&TimePermit> {
        self.permit.as_ref()
    }

    /// The secrets for `pin` and the current permit day, from the cache or computed (and
    /// then cached in place of the previous entry).
    fn secrets_for(&self, pin: &Pin) -> Result<Arc<PinSecrets>, ClientError> {
        let day = permit_day(self.permit.as_ref());
        if let Ok(cached) = self.pin_secrets.lock() {
            if let Some(c) = cached.as_ref().filter(|c| c.is_for(pin, day)) {
                return Ok(Arc::clone(c));
            }
        }
        let fresh = Arc::new(PinSecrets::of(self, pin)?);
        if let Ok(mut cached) = self.pin_secrets.lock() {
            *cached = Some(Arc::clone(&fresh));
        }
        Ok(fresh)
    }
}

impl fmt::Debug for Credential {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credential")
            .field("hashed_id", &self.hashed_id)
            .field("permit_day", &self.permit.as_ref().map(TimePermit::day))
            .finish_non_exhaustive()
    }
}

/// Per-run secrets kept between the two client steps.
struct Pending {
    x: Zeroizing<[u8; MB]>,
    r: Zeroizing<[u8; MB]>,
    /// `S = TOKEN + pin·A` (for the key) and `SEC` (for `V`).
    secrets: Arc<PinSecrets>,
    u_prime: [u8; G1_LEN],
    z: [u8; G1_LEN],
    day: u32,
    /// One-pass only: `V` and `y`, already computed.
    v_y: Option<([u8; G1_LEN], [u8; MB])>,
    message: Vec<u8>,
}

enum State {
    Start,
    AwaitChallenge(Box<Pending>),
    AwaitOnePassReply(Box<Pending>),
    Done,
}

/// The client state machine for one run. Wrong-order calls return [`ClientError::State`].
///
/// `C` is anything that holds a [`Credential`]: `&Credential`, or `Arc<Credential>` for a run
/// that must be `'static` (e.g. moved into a blocking task between network round trips).
pub struct Client<C: Borrow<Credential>> {
    cred: C,
    pin: Pin,
    state: State,
}

impl<C: Borrow<Credential>> Client<C> {
    /// A new run with the PIN the user entered.
    pub fn new(cred: C, pin: Pin) -> Self {
        Self {
            cred,
            pin,
            state: State::Start,
        }
    }

    fn commit<R: RngCore + CryptoRng>(
        &self,
        rng: &mut R,
    ) -> Result<(Box<Pending>, [u8; G1_LEN]), ClientError> {
        let cred = self.cred.borrow();
        let day = permit_day(cred.permit.as_ref());
        let fast = cred.fast.as_ref().ok_or(ClientError::Degenerate)?;
        let secrets = cred.secrets_for(&self.pin)?;
        let x = random_scalar(rng);
        let r = random_scalar(rng);
        let u = fast.a.mul_by(&x).to_bytes();
        let z = fast.a.mul_by(&r).to_bytes();
        let u_prime = if day == 0 {
            u
        } else {
            fast.a_prime.mul_by(&x).to_bytes()
        };
        let pending = Pending {
            x: Zeroizing::new(big_to_bytes(&x)),
            r: Zeroizing::new(big_to_bytes(&r)),
            secrets,
            u_prime,
            z,
            day,
            v_y: None,
            message: Vec::new(),
        };
        Ok((Box::new(pending), u))
    }

    /// Multi-pass step 1: draws `x`, `r` and returns the hello.
    pub fn hello<R: RngCore + CryptoRng>(&mut self, rng: &mut R) -> Result<Hello, ClientError> {
        if !matches!(self.state, State::Start) {
            return Err(ClientError::State("hello() must be the first call"));
        }
        let (p, u) = self.commit(rng)?;
        let hello = Hello {
            identity: self.cred.borrow().identity.clone(),
            day: p.day,
            u,
            ut: (p.day != 0).then_some(p.u_prime),
            z: p.z,
        };
        self.state = State::AwaitChallenge(p);
        Ok(hello)
    }

    /// Multi-pass step 2: answers the challenge; returns the response and the session.
    pub fn challenge(&mut self, msg: &Challenge) -> Result<(Response, Session), ClientError> {
        let p = match std::mem::replace(&mut self.state, State::Done) {
            State::AwaitChallenge(p) => p,
            other => {
                self.state = other;
                return Err(ClientError::State("challenge() needs a hello() first"));
            }
        };
        let y =
            scalar_canonical(&msg.y).map_err(|source| DecodeError::Point { field: "y", source })?;
        let t = g1_decode(&msg.t).map_err(|source| DecodeError::Point { field: "T", source })?;
        let v =
            math::response(&big_from(&p.x), &y, &p.secrets.sec).ok_or(ClientError::Degenerate)?;
        let v = v.to_bytes();
        let session = self.finish(&p, &v, &msg.y, &t, Mode::MultiPass)?;
        Ok((Response { v }, session))
    }

    /// One-pass step 1: `now` is the client's unix time (must be below 2^31) and `message` is
    /// bound into the proof (at most 1024 bytes).
    pub fn one_pass_hello<R: RngCore + CryptoRng>(
        &mut self,
        now: u64,
        message: &[u8],
        rng: &mut R,
    ) -> Result<OnePassHello, ClientError> {
        if !matches!(self.state, State::Start) {
            return Err(ClientError::State(
                "one_pass_hello() must be the first call",
            ));
        }
        let time = u32::try_from(now)
            .ok()
            .filter(|&t| t > 0 && t <= i32::MAX as u32)
            .ok_or(ClientError::Clock(now))?;
        if message.len() > MAX_MESSAGE_LEN {
            return Err(DecodeError::TooLong {
                field: "message",
                len: message.len(),
                max: MAX_MESSAGE_LEN,
            }
            .into());
        }
        loop {
            let (mut p, u) = self.commit(rng)?;
            let y = math::one_pass_y(time, &p.u_prime, message);
            // x + y ≡ 0 would make V the identity: draw a fresh x (MPIN-SPEC §8.1).
            let Some(v) = math::response(&big_from(&p.x), &y, &p.secrets.sec) else {
                continue;
            };
            let v = v.to_bytes();
            p.v_y = Some((v, big_to_bytes(&y)));
            p.message = message.to_vec();
            let hello = OnePassHello {
                identity: self.cred.borrow().identity.clone(),
                day: p.day,
                time,
                message: message.to_vec(),
                u,
                ut: (p.day != 0).then_some(p.u_prime),
                v,
                z: p.z,
            };
            self.state = State::AwaitOnePassReply(p);
            return Ok(hello);
        }
    }

    /// One-pass step 2: the server's reply gives the session.
    pub fn one_pass_reply(&mut self, msg: &OnePassReply) -> Result<Session, ClientError> {
        let p = match std::mem::replace(&mut self.state, State::Done) {
            State::AwaitOnePassReply(p) => p,
            other => {
                self.state = other;
                return Err(ClientError::State(
                    "one_pass_reply() needs a one_pass_hello() first",
                ));
            }
        };
        let t = g1_decode(&msg.t).map_err(|source| DecodeError::Point { field: "T", source })?;
        let Some((v, y)) = p.v_y else {
            return Err(ClientError::State("one-pass state without V"));
        };
        self.finish(&p, &v, &y, &t, Mode::OnePass)
    }

    fn finish(
        &self,
        p: &Pending,
        v: &[u8; G1_LEN],
        y: &[u8; MB],
        t: &G1,
        mode: Mode,
    ) -> Result<Session, ClientError> {
        let t_bytes = t.to_bytes();
        let (hm, h) = math::hash_all(
            &self.cred.borrow().hashed_id,
            &p.u_prime,
            v,
            y,
            &p.z,
            &t_bytes,
        );
        let key = math::client_key(&p.secrets.gs, &big_from(&p.r), &big_from(&p.x), &h, t)
            .ok_or(ClientError::Degenerate)?;
        Ok(Session {
            identity: self.cred.borrow().identity.clone(),
            hashed_id: self.cred.borrow().hashed_id,
            day: p.day,
            mode,
            message: p.message.clone(),
            transcript_hash: hm,
            key: SessionKey::new(key),
        })
    }
}
