//! The server side: a [`ServerKey`] (server secret plus its fixed-argument Miller-loop table),
//! a shared [`ServerContext`] (key, policy, stores) and the sans-IO [`Server`] state machine.
//!
//! ```text
//! multi-pass:  hello(Hello) → Challenge   …  response(Response) → Session
//! one-pass:    one_pass(OnePassHello) → (OnePassReply, Session)
//! ```
//!
//! Every check that needs no pairing (decoding, point validation, permit day, timestamp,
//! replay, allow-list, lockout) runs before any pairing. A well-formed multi-pass hello always
//! gets a challenge: the allow-list, permit and lockout checks run when the response arrives,
//! so they are not visible from the flow.
//!
//! Lockout: an attempt takes a slot in the [`FailureStore`] before its proof is verified; when
//! the identity's remaining budget is taken by attempts in flight the call returns
//! [`AuthError::Busy`] and keeps its state, and the caller retries. A failed proof is counted
//! against the identity only when the PIN-error distance is found in the PIN range (a wrong
//! PIN with the genuine token); the slot is released on every path (drop guard).
//!
//! Sources: with time permits the proof is verified against `UT`, and `U` (from which the
//! PIN-error distance is computed) is used for nothing else, so a thief with the token and a
//! permit could send a random `U` and make every wrong guess unattributable. When the caller
//! names the connection's source ([`Server::with_source`]), an attempt with a permit takes a
//! second slot, for the pair (identity, source) ([`crate::lockout::source_pair`]), under the
//! same rules: a wrong PIN with the genuine token counts against the identity (the pair slot
//! is released), an unattributable failure counts against the pair (the identity slot is
//! released), a success resets both. A locked pair refuses only that source.
//!
//! Distributed budget: such an attempt also takes a third slot, for the identity's
//! distributed budget ([`crate::lockout::distributed_key`], rules
//! [`ServerPolicy::distributed_lockout`]), which counts the unattributable failures of all
//! sources together; once spent, every permit-mode attempt for the identity from a named
//! source is refused ([`AuthError::DistributedLockedOut`]) before any pairing, until it
//! expires; a success resets it, a wrong PIN with the genuine token releases it.
//!
//! Known sources: a verified success from a named source marks the pair (identity, source)
//! known ([`crate::lockout::known_source`], for [`ServerPolicy::known_source_ttl`]); an
//! attempt from a known source takes no distributed slot, so the distributed lock never
//! refuses (nor delays) it, and its failures are bounded by the pair lockout alone. An
//! attacker without the token who spends the budget therefore cannot lock the victim out of
//! the networks it logged in from; a thief on new networks is still stopped by the budget.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use rand_core::{CryptoRng, RngCore};
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

use crate::backend::{g1_decode, G1};
use crate::curve::{big_from, big_to_bytes, random_scalar, G1_LEN, MB};
use crate::error::{AuthError, DecodeError};
use crate::identity::HashedId;
use crate::lockout::{
    distributed_key, known_source, source_pair, FailureStore, Gate, LockoutRules,
    MemoryFailureStore, Outcome,
};
use crate::math::{self, BlstIdPoints, G2Table};
use crate::messages::{Challenge, Hello, OnePassHello, OnePassReply, Response};
use crate::policy::{day_of, ServerPolicy, DAY_SECS};
use crate::replay::{MemoryReplayCache, ReplayCache};
use crate::secrets::ServerSecret;
use crate::session::{Mode, Session, SessionKey};

/// Identity points kept for returning users (they are public; the map costs ~0.14 pairings).
const POINT_CACHE_ENTRIES: usize = 4096;
/// Runs of one (identity, day) after which its points get fixed-base tables: a pair costs
/// about as much as 55 runs save (3 multiplications each, 0.46 M instructions less apiece).
const TABLES_AFTER: u32 = 64;
/// At most this many cached (identity, day) entries hold tables (≈ 184 KiB each, public).
const TABLED_ENTRIES: usize = 32;

/// The bounded cache of identity points (public values only).
#[derive(Default)]
struct PointCache {
    map: HashMap<(HashedId, u32), (BlstIdPoints, u32)>,
    /// Entries of `map` with tables.
    tabled: usize,
}

/// The server secret with its precomputed Miller-loop table, and a bounded cache of identity
/// points `A`, `A + A_T(d)` for returning users (with fixed-base tables for the most frequent).
pub struct ServerKey {
    table: G2Table,
    _secret: ServerSecret,
    points: Mutex<PointCache>,
}

impl ServerKey {
    /// Precomputes the table for `secret`.
    pub fn new(secret: ServerSecret) -> Result<Self, DecodeError> {
        let table = G2Table::new(&secret.point()?)?;
        Ok(Self {
            table,
            _secret: secret,
            points: Mutex::new(PointCache::default()),
        })
    }

    fn id_points(&self, id: &HashedId, day: u32) -> Result<BlstIdPoints, AuthError> {
        let key = (*id, day);
        let hit = self.points.lock().ok().and_then(|mut c| {
            let room = c.tabled < TABLED_ENTRIES;
            let (pts, uses) = c.map.get_mut(&key)?;
            *uses = uses.saturating_add(1);
            let build = *uses == TABLES_AFTER && room && !pts.has_tables();
            Some((pts.clone(), build))
        });
        match hit {
            // the table is built outside the lock, by the one run that reached the count
            Some((pts, true)) => {
                let tabled = pts.with_tables();
                if let Ok(mut c) = self.points.lock() {
                    if let Some(entry) = c.map.get_mut(&key) {
                        entry.0 = tabled.clone();
                        c.tabled += 1;
                    }
                }
                Ok(tabled)
            }
            Some((pts, false)) => Ok(pts),
            None => {
                let pts = BlstIdPoints::new(id, day)
                    .map_err(|_| AuthError::Degenerate("A or A + A_T(d) is the identity"))?;
                if let Ok(mut c) = self.points.lock() {
                    if c.map.len() >= POINT_CACHE_ENTRIES {
                        *c = PointCache::default();
                    }
                    c.map.insert(key, (pts.clone(), 1));
                }
                Ok(pts)
            }
        }
    }
}

impl core::fmt::Debug for ServerKey {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("ServerKey(<redacted>)")
    }
}

/// Everything servers share across connections.
#[derive(Clone)]
pub struct ServerContext {
    /// The key.
    pub key: Arc<ServerKey>,
    /// The policy.
    pub policy: ServerPolicy,
    /// One-pass replay cache.
    pub replay: Arc<dyn ReplayCache>,
    /// Per-identity failures, lockouts and attempt slots.
    pub failures: Arc<dyn FailureStore>,
}

impl ServerContext {
    /// A context with in-memory stores.
    pub fn new(key: ServerKey, policy: ServerPolicy) -> Self {
        Self {
            key: Arc::new(key),
            policy,
            replay: Arc::new(MemoryReplayCache::default()),
            failures: Arc::new(MemoryFailureStore::default()),
        }
    }

    /// Whether a run's calls into the stores may wait on the network (a Redis store): runners
    /// then keep the run off async worker threads.
    pub fn waits_on_network(&self) -> bool {
        self.failures.waits_on_network() || self.replay.waits_on_network()
    }
}

/// A validated point with the exact bytes it was received as (those are what is hashed).
struct Pt {
    p: G1,
    b: [u8; G1_LEN],
}

fn point(field: &'static str, b: &[u8; G1_LEN]) -> Result<Pt, AuthError> {
    let p =
        g1_decode(b).map_err(|source| AuthError::Decode(DecodeError::Point { field, source }))?;
    Ok(Pt { p, b: *b })
}

/// How a verified attempt ended, for the identity and the (identity, source) pair.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Verdict {
    /// Not decided (an error before or after the proof check): both slots are freed.
    Released,
    /// The proof verified: both reset.
    Success,
    /// A wrong PIN with the genuine token: counts against the identity.
    TokenFailure,
    /// A failed proof not attributable to the token: counts against the pair, if any.
    Unattributed,
}

/// The attempt slots in the failure store (the identity's; the pair's and the distributed
/// budget's when the attempt came with a permit from a named source); reports the verdict
/// (default: released) on drop, so every path (errors, panics, a dropped future's task)
/// frees them.
struct Slot<'a> {
    store: &'a dyn FailureStore,
    id: HashedId,
    pair: Option<HashedId>,
    /// The distributed budget's key and rules.
    dist: Option<(HashedId, LockoutRules)>,
    /// The known-source mark to record on success, and for how long (named sources only).
    known: Option<(HashedId, std::time::Duration)>,
    rules: LockoutRules,
    now: u64,
    verdict: Verdict,
}

impl Drop for Slot<'_> {
    fn drop(&mut self) {
        // (identity, pair and distributed budget)
        let (id, pair) = match self.verdict {
            Verdict::Released => (Outcome::Released, Outcome::Released),
            Verdict::Success => (Outcome::Success, Outcome::Success),
            Verdict::TokenFailure => (Outcome::Failure, Outcome::Released),
            Verdict::Unattributed => (Outcome::Released, Outcome::Failure),
        };
        self.store.finish(&self.id, id, self.now, &self.rules);
        if let Some(key) = &self.pair {
            self.store.finish(key, pair, self.now, &self.rules);
        }
        if let Some((key, rules)) = &self.dist {
            self.store.finish(key, pair, self.now, rules);
        }
        if let (Verdict::Success, Some((key, ttl))) = (self.verdict, &self.known) {
            self.store.mark_known(key, self.now, *ttl);
        }
    }
}

struct Pending {
    identity: Vec<u8>,
    hashed_id: HashedId,
    day: u32,
    /// The hello carried a time permit (a day or `UT`): `U` is not what is verified.
    permit: bool,
    u: Pt,
    u_prime: Pt,
    z: Pt,
    y: [u8; MB],
    w: Zeroizing<[u8; MB]>,
    t: [u8; G1_LEN],
    started: u64,
    /// `A` and `A'`, computed once per run (the hash-to-curve map is not free).
    pts: BlstIdPoints,
}

enum State {
    Start,
    AwaitResponse(Box<Pending>),
    Done,
}

/// The server state machine for one run. Wrong-order calls return [`AuthError::State`].
pub struct Server {
    ctx: ServerContext,
    state: State,
    source: Option<Vec<u8>>,
}

/// Validates `U`, `UT` (when present) and `Z`; returns `(U, U', Z)`.
fn validate(
    u: &[u8; G1_LEN],
    ut: Option<&[u8; G1_LEN]>,
    z: &[u8; G1_LEN],
) -> Result<(Pt, Pt, Pt), AuthError> {
    let u = point("U", u)?;
    let u_prime = match ut {
        Some(ut) => point("UT", ut)?,
        None => Pt {
            p: u.p.clone(),
            b: u.b,
        },
    };
    Ok((u, u_prime, point("Z", z)?))
}

impl Server {
    /// A new run.
    pub fn new(ctx: ServerContext) -> Self {
        Self {
            ctx,
            state: State::Start,
            source: None,
        }
    }

    /// Names the source of this run: an opaque prefix key (e.g. the peer's IPv4 address or
    /// IPv6 /48). Failed proofs with a time permit that are not attributable to the token
    /// then count against the pair (identity, `source`), which locks under the same rules as
    /// the identity, and against the identity's distributed budget (all sources together);
    /// see the module documentation. Without it, they count against nothing.
    pub fn with_source(mut self, source: &[u8]) -> Self {
        self.source = Some(source.to_vec());
        self
    }

    fn admit(&self, identity: &[u8], day: u32, now: u64) -> Result<(), AuthError> {
        let p = &self.ctx.policy;
        if let Some(filter) = &p.identity_filter {
            if !filter(identity) {
                return Err(AuthError::NotAllowed);
            }
        }
        let today = day_of(now);
        if day == 0 {
            if p.require_permits {
                return Err(AuthError::PermitRequired);
            }
        } else {
            let yesterday_ok =
                day.checked_add(1) == Some(today) && now % DAY_SECS < p.permit_grace_secs;
            if day != today && !yesterday_ok {
                return Err(AuthError::PermitDay {
                    client: day,
                    server: today,
                });
            }
        }
        Ok(())
    }

    /// Takes the attempt slots for `id` and, for an attempt with a `permit` from a named
    /// source, for the pair and (unless the source is known) the distributed budget (lockout
    /// gates), before any pairing.
    fn slot(&self, id: &HashedId, permit: bool, now: u64) -> Result<Slot<'_>, AuthError> {
        let rules = self.ctx.policy.lockout();
        let store = self.ctx.failures.as_ref();
        match store.begin(id, now, &rules) {
            Gate::Go => {}
            Gate::Wait => return Err(AuthError::Busy),
            Gate::Locked { failures, until } => {
                return Err(AuthError::LockedOut { failures, until })
            }
            Gate::Revoked => return Err(AuthError::Revoked),
            Gate::Unavailable => return Err(AuthError::StateUnavailable),
        }
        let mut slot = Slot {
            store,
            id: *id,
            pair: None,
            dist: None,
            known: None,
            rules,
            now,
            verdict: Verdict::Released,
        };
        let ttl = self.ctx.policy.known_source_ttl;
        if let Some(source) = self.source.as_deref().filter(|_| !ttl.is_zero()) {
            slot.known = Some((known_source(id, source), ttl));
        }
        if let Some(source) = self.source.as_deref().filter(|_| permit) {
            let key = source_pair(id, source);
            // on refusal, dropping `slot` frees the slots taken so far
            match store.begin(&key, now, &rules) {
                Gate::Go => slot.pair = Some(key),
                Gate::Wait => return Err(AuthError::Busy),
                Gate::Locked { failures, until } => {
                    return Err(AuthError::SourceLockedOut { failures, until })
                }
                Gate::Revoked => return Err(AuthError::Revoked),
                Gate::Unavailable => return Err(AuthError::StateUnavailable),
            }
            // a known source is outside the budget (its own pair lockout bounds it)
            let known = slot
                .known
                .is_some_and(|(key, ttl)| store.known_at(&key, now, ttl).is_some());
            if let Some(dist_rules) = self.ctx.policy.distributed_lockout().filter(|_| !known) {
                let key = distributed_key(id);
                match store.begin(&key, now, &dist_rules) {
                    Gate::Go => slot.dist = Some((key, dist_rules)),
                    Gate::Wait => return Err(AuthError::Busy),
                    Gate::Locked { failures, until } => {
                        return Err(AuthError::DistributedLockedOut { failures, until })
                    }
                    Gate::Revoked => return Err(AuthError::Revoked),
                    Gate::Unavailable => return Err(AuthError::StateUnavailable),
                }
            }
        }
        Ok(slot)
    }

    /// Multi-pass step 1: validates the hello and returns the challenge.
    pub fn hello<R: RngCore + CryptoRng>(
        &mut self,
        msg: &Hello,
        now: u64,
        rng: &mut R,
    ) -> Result<Challenge, AuthError> {
        if !matches!(self.state, State::Start) {
            return Err(AuthError::State("hello must be the first message"));
        }
        self.state = State::Done;
        let hashed_id = HashedId::of(&msg.identity);
        let (u, u_prime, z) = validate(&msg.u, msg.ut.as_ref(), &msg.z)?;
        // policy checks wait for the response (they must not show in the flow)
        let pts = self.ctx.key.id_points(&hashed_id, msg.day)?;
        let y = big_to_bytes(&random_scalar(rng));
        let w = random_scalar(rng);
        let t = math::server_t(&pts.a_prime, &w);
        self.state = State::AwaitResponse(Box::new(Pending {
            identity: msg.identity.clone(),
            hashed_id,
            day: msg.day,
            permit: msg.day != 0 || msg.ut.is_some(),
            u,
            u_prime,
            z,
            y,
            w: Zeroizing::new(big_to_bytes(&w)),
            t,
            started: now,
            pts,
        }));
        Ok(Challenge { y, t })
    }

    /// Multi-pass step 2: checks the policy (allow-list, permit, lockout), verifies the
    /// response and returns the session. [`AuthError::Busy`] keeps the state: call again
    /// with the same response shortly.
    pub fn response(&mut self, msg: &Response, now: u64) -> Result<Session, AuthError> {
        let State::AwaitResponse(p) = &self.state else {
            return Err(AuthError::State("response needs a hello first"));
        };
        let result = self.check_response(p, msg, now);
        if !matches!(result, Err(AuthError::Busy)) {
            self.state = State::Done;
        }
        result
    }

    fn check_response(&self, p: &Pending, msg: &Response, now: u64) -> Result<Session, AuthError> {
        let age = now.saturating_sub(p.started);
        if age > self.ctx.policy.challenge_ttl_secs {
            return Err(AuthError::Expired(age));
        }
        let v = point("V", &msg.v)?;
        self.admit(&p.identity, p.day, now)?;
        let slot = self.slot(&p.hashed_id, p.permit, now)?;
        self.verify_and_key(slot, p, &v, Mode::MultiPass, Vec::new(), None)
    }

    /// One-pass: validates and verifies the hello; returns the reply and the session.
    pub fn one_pass<R: RngCore + CryptoRng>(
        &mut self,
        msg: &OnePassHello,
        now: u64,
        rng: &mut R,
    ) -> Result<(OnePassReply, Session), AuthError> {
        if !matches!(self.state, State::Start) {
            return Err(AuthError::State(
                "a one-pass hello must be the first message",
            ));
        }
        let result = self.check_one_pass(msg, now, rng);
        if !matches!(result, Err(AuthError::Busy)) {
            self.state = State::Done;
        }
        result
    }

    fn check_one_pass<R: RngCore + CryptoRng>(
        &self,
        msg: &OnePassHello,
        now: u64,
        rng: &mut R,
    ) -> Result<(OnePassReply, Session), AuthError> {
        let policy = &self.ctx.policy;
        if !policy.allow_one_pass {
            return Err(AuthError::State("one-pass mode is disabled"));
        }
        let hashed_id = HashedId::of(&msg.identity);
        let (u, u_prime, z) = validate(&msg.u, msg.ut.as_ref(), &msg.z)?;
        let v = point("V", &msg.v)?;
        let skew = now.abs_diff(u64::from(msg.time));
        if skew > policy.one_pass_window_secs {
            return Err(AuthError::Stale {
                client: u64::from(msg.time),
                skew,
                window: policy.one_pass_window_secs,
            });
        }
        self.admit(&msg.identity, msg.day, now)?;
        let mut h = Sha256::new();
        h.update(hashed_id.as_bytes());
        h.update(u_prime.b);
        h.update(msg.time.to_be_bytes());
        let key: [u8; 32] = h.finalize().into();
        let expires = u64::from(msg.time) + policy.one_pass_window_secs + 1;
        // read only here; recorded after the proof verified
        if self.ctx.replay.contains(&key, now) {
            return Err(AuthError::Replay);
        }
        let slot = self.slot(&hashed_id, msg.day != 0 || msg.ut.is_some(), now)?;
        let pts = self.ctx.key.id_points(&hashed_id, msg.day)?;
        let y = big_to_bytes(&math::one_pass_y(msg.time, &u_prime.b, &msg.message));
        let w = random_scalar(rng);
        let t = math::server_t(&pts.a_prime, &w);
        let p = Pending {
            identity: msg.identity.clone(),
            hashed_id,
            day: msg.day,
            permit: msg.day != 0 || msg.ut.is_some(),
            u,
            u_prime,
            z,
            y,
            w: Zeroizing::new(big_to_bytes(&w)),
            t,
            started: now,
            pts,
        };
        let session = self.verify_and_key(
            slot,
            &p,
            &v,
            Mode::OnePass,
            msg.message.clone(),
            Some((key, expires)),
        )?;
        Ok((OnePassReply { t }, session))
    }

    /// Verifies the proof holding `slot`; a one-pass `replay` key is recorded only once the
    /// proof verified (a lost race is a replay).
    fn verify_and_key(
        &self,
        mut slot: Slot<'_>,
        p: &Pending,
        v: &Pt,
        mode: Mode,
        message: Vec<u8>,
        replay: Option<([u8; 32], u64)>,
    ) -> Result<Session, AuthError> {
        let policy = &self.ctx.policy;
        let pts = &p.pts;
        let y = big_from(&p.y);
        let check = math::verify_point(&p.u_prime.p, &y, &pts.a_prime);
        if check.is_infinity() {
            return Err(AuthError::Degenerate("U' + y·A' is the identity"));
        }
        let g = math::verify_product(&self.ctx.key.table, &v.p, &check);
        if !g.isunity() {
            // Always classified: only a wrong PIN with the genuine token gives a distance in
            // the PIN range; only that counts against the identity. Anything else counts
            // against the pair (identity, source) when the attempt holds its slot.
            let distance = math::pin_error_of(&g, &p.u.p, &y, &pts.a);
            let genuine_token = distance.is_some();
            slot.verdict = if genuine_token {
                Verdict::TokenFailure
            } else {
                Verdict::Unattributed
            };
            return Err(AuthError::BadProof {
                pin_error: distance.filter(|_| policy.pin_error_detection),
                genuine_token,
            });
        }
        let (hm, h) = math::hash_all(&p.hashed_id, &p.u_prime.b, &v.b, &p.y, &p.z.b, &p.t);
        let key = math::server_key(
            &self.ctx.key.table,
            &p.z.p,
            &big_from(&p.w),
            &h,
            &pts.a,
            &p.u_prime.p,
        )
        .ok_or(AuthError::Degenerate("Z + h·A is the identity"))?;
        if let Some((key, expires)) = replay {
            if !self.ctx.replay.insert_new(key, slot.now, expires) {
                return Err(AuthError::Replay);
            }
        }
        slot.verdict = Verdict::Success;
        Ok(Session {
            identity: p.identity.clone(),
            hashed_id: p.hashed_id,
            day: p.day,
            mode,
            message,
            transcript_hash: hm,
            key: SessionKey::new(key),
        })
    }
}
