//! [`RedisState`]: the state of a fleet in one Redis database.

mod bridge;
mod scripts;
mod tickets;

use std::sync::Arc;
use std::time::Duration;

use mpin_kex::{
    distributed_key, FailureStore, Gate, HashedId, LockoutRules, Outcome, ReplayCache, Standing,
};
use redis::{IntoConnectionInfo, Value};
use zeroize::Zeroizing;

use crate::health::{Admit, Health, HealthTracker};
use crate::{Revocations, SingleUse, StateError};
use bridge::{Bridge, CallError};
use scripts::{Keys, Scripts};

/// How a [`RedisState`] talks to Redis.
#[derive(Clone)]
pub struct RedisOptions {
    /// Longest a call waits for Redis before it fails closed (default 500 ms).
    pub timeout: Duration,
    /// Prefix of every key (default `milagro`): replicas of one fleet share it.
    pub prefix: String,
    /// An attempt slot older than this is dropped (default 60 s), so a replica that dies while
    /// verifying cannot hold an identity's budget forever. Longer than any verification.
    pub slot_lease: Duration,
    /// Password (e.g. read from a file or the environment), overriding one in the URL.
    pub password: Option<Zeroizing<String>>,
}

impl Default for RedisOptions {
    fn default() -> Self {
        Self {
            timeout: Duration::from_millis(500),
            prefix: "milagro".to_owned(),
            slot_lease: Duration::from_secs(60),
            password: None,
        }
    }
}

impl std::fmt::Debug for RedisOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisOptions")
            .field("timeout", &self.timeout)
            .field("prefix", &self.prefix)
            .field("slot_lease", &self.slot_lease)
            .field("password", &self.password.as_ref().map(|_| "<set>"))
            .finish()
    }
}

/// `url` without its password, for messages and logs.
pub(crate) fn redact(url: &str) -> String {
    match url.split_once("://") {
        Some((scheme, rest)) => match rest.rsplit_once('@') {
            Some((_, host)) => format!("{scheme}://***@{host}"),
            None => url.to_owned(),
        },
        None => url.to_owned(),
    }
}

/// The state of a fleet on Redis: every replica opening the same database (and prefix) sees
/// the same lockouts, replay cache, used tickets and revocations. Each decision is one Lua
/// script (see the `scripts` module), so it costs one round trip and is atomic. One
/// multiplexed connection per `RedisState` (open one per process), which reconnects by itself.
///
/// Calls are synchronous and may come from any thread; they are sent to a background runtime
/// owned by the state and wait at most [`RedisOptions::timeout`]. A call that gets no answer
/// fails closed, counts in [`failed_calls`](Self::failed_calls) and turns
/// [`health`](Self::health) degraded until a call succeeds again.
#[derive(Debug)]
pub struct RedisState {
    bridge: Bridge,
    scripts: Arc<Scripts>,
    keys: Keys,
    lease: u64,
    health: HealthTracker,
    name: String,
}

/// What the background task returns for a lockout script.
type Triple = (i64, i64, i64);

impl RedisState {
    /// Opens a state on the Redis at `url` (`redis://[:PASSWORD@]HOST:PORT/DB`, or `rediss://`
    /// for TLS). Redis need not be up yet: calls fail closed until it answers.
    pub fn open(url: &str, options: RedisOptions) -> Result<Self, StateError> {
        let shown = redact(url);
        let mut info = url.into_connection_info().map_err(|e| StateError::Url {
            url: shown.clone(),
            reason: e.to_string(),
        })?;
        if let Some(password) = &options.password {
            info.redis.password = Some(password.to_string());
        }
        let name = format!("redis {} db {}", info.addr, info.redis.db);
        let client = redis::Client::open(info).map_err(|e| StateError::Url {
            url: shown,
            reason: e.to_string(),
        })?;
        Ok(Self {
            bridge: Bridge::start(client, options.timeout)?,
            scripts: Arc::new(Scripts::new()),
            keys: Keys {
                prefix: options.prefix,
            },
            lease: options.slot_lease.as_secs().max(1),
            health: HealthTracker::new(name.clone()),
            name,
        })
    }

    /// Whether Redis answered the last call, and since when.
    pub fn health(&self) -> Health {
        self.health.get()
    }

    /// Calls that failed closed because Redis did not answer.
    pub fn failed_calls(&self) -> u64 {
        self.health.failed_calls()
    }

    /// The Redis address and database, without secrets.
    pub fn describe(&self) -> String {
        self.name.clone()
    }

    /// One round trip to Redis (`PING`): true when it answers. Also updates the health, so a
    /// health endpoint may call it to notice recovery while no login comes in.
    pub fn ping(&self) -> bool {
        self.run("ping", |mut c| async move {
            redis::cmd("PING").query_async::<String>(&mut c).await
        })
        .is_some()
    }

    /// Runs one request, recording its outcome in the health; `None` when it failed.
    fn run<T, F, Fut>(&self, op: &str, f: F) -> Option<T>
    where
        T: Send + 'static,
        F: FnOnce(redis::aio::ConnectionManager) -> Fut + Send + 'static,
        Fut: std::future::Future<Output = redis::RedisResult<T>> + Send,
    {
        if self.health.admit() == Admit::Refuse {
            return None;
        }
        match self.bridge.call(f) {
            Ok(v) => {
                self.health.success();
                Some(v)
            }
            Err(e) => {
                self.health.failure(op, &e.to_string());
                if let CallError::Stopped = e {
                    tracing::error!(store = %self.name, "Redis client thread stopped");
                }
                None
            }
        }
    }

    /// Runs a lockout script on `id`'s keys.
    fn lockout_script(
        &self,
        op: &'static str,
        pick: fn(&Scripts) -> &redis::Script,
        id: &HashedId,
        args: Vec<u64>,
        member: Option<String>,
    ) -> Option<Triple> {
        let scripts = self.scripts.clone();
        let keys = self.keys.lockout(id);
        self.run(op, move |mut c| async move {
            let script = pick(&scripts);
            let mut inv = script.prepare_invoke();
            inv.key(&keys[0]).key(&keys[1]).key(&keys[2]);
            for a in &args {
                inv.arg(*a);
            }
            if let Some(m) = &member {
                inv.arg(m);
            }
            let v: Value = inv.invoke_async(&mut c).await?;
            Ok(triple(v))
        })
        .flatten()
    }

    fn rule_args(&self, now: u64, rules: &LockoutRules) -> Vec<u64> {
        let first = rules.first.as_secs().max(1);
        vec![
            now,
            u64::from(rules.after.max(1)),
            first,
            rules.max.as_secs().max(first),
            rules.max.as_secs().max(1),
        ]
    }

    /// Claims `key` once until `expires` (replay cache and used tickets).
    fn claim_key(&self, op: &'static str, key: String, now: u64, expires: u64) -> bool {
        let scripts = self.scripts.clone();
        self.run(op, move |mut c| async move {
            scripts
                .claim
                .key(key)
                .arg(now)
                .arg(expires)
                .invoke_async::<i64>(&mut c)
                .await
        }) == Some(1)
    }

    /// `GET key` as a number (`None`: absent, or Redis did not answer when `failed` says so).
    fn get_number(&self, op: &'static str, key: String) -> Result<Option<u64>, ()> {
        self.run(op, move |mut c| async move {
            redis::cmd("GET")
                .arg(key)
                .query_async::<Option<u64>>(&mut c)
                .await
        })
        .ok_or(())
    }

    /// Runs one command whose answer does not matter; true when Redis executed it.
    fn exec(&self, op: &'static str, cmd: redis::Cmd) -> bool {
        self.run(op, move |mut c| async move {
            cmd.query_async::<Value>(&mut c).await
        })
        .is_some()
    }
}

/// `{a, b, c}` integers from a script; `None` when the reply has another shape.
fn triple(v: Value) -> Option<Triple> {
    let Value::Array(items) = v else {
        return None;
    };
    let n = |i: usize| match items.get(i) {
        Some(Value::Int(x)) => Some(*x),
        _ => None,
    };
    Some((n(0)?, n(1)?, n(2)?))
}

fn to_u32(x: i64) -> u32 {
    u32::try_from(x.max(0)).unwrap_or(u32::MAX)
}

fn to_u64(x: i64) -> u64 {
    u64::try_from(x.max(0)).unwrap_or(0)
}

impl FailureStore for RedisState {
    fn begin(&self, id: &HashedId, now: u64, rules: &LockoutRules) -> Gate {
        let mut args = self.rule_args(now, rules);
        args.push(self.lease);
        let mut member = [0u8; 16];
        if rand_core::RngCore::try_fill_bytes(&mut rand_core::OsRng, &mut member).is_err() {
            return Gate::Unavailable;
        }
        let member = Some(hex::encode(member));
        match self.lockout_script("begin", |s| &s.begin, id, args, member) {
            Some((0, _, _)) => Gate::Go,
            Some((1, _, _)) => Gate::Wait,
            Some((2, failures, until)) => Gate::Locked {
                failures: to_u32(failures),
                until: to_u64(until),
            },
            Some((3, _, _)) => Gate::Revoked,
            _ => Gate::Unavailable,
        }
    }

    fn finish(&self, id: &HashedId, outcome: Outcome, now: u64, rules: &LockoutRules) {
        let mut args = self.rule_args(now, rules);
        args.push(match outcome {
            Outcome::Success => 0,
            Outcome::Failure => 1,
            Outcome::Released => 2,
        });
        // Without an answer the slot stays until its lease ends (fail closed: the budget
        // is held, never released early).
        let _ = self.lockout_script("finish", |s| &s.finish, id, args, None);
    }

    fn standing(&self, id: &HashedId, now: u64) -> Standing {
        let mut args = self.rule_args(now, &LockoutRules::default());
        args.push(self.lease);
        match self.lockout_script("standing", |s| &s.standing, id, args, None) {
            Some((failures, in_flight, until)) => Standing {
                failures: to_u32(failures),
                in_flight: to_u32(in_flight),
                locked_until: (until > 0).then(|| to_u64(until)),
            },
            None => Standing {
                locked_until: Some(u64::MAX),
                ..Standing::default()
            },
        }
    }

    fn clear(&self, id: &HashedId) {
        let [history, _, _] = self.keys.lockout(id);
        let _ = self.exec("clear", redis::cmd("DEL").arg(history).to_owned());
    }

    fn mark_known(&self, key: &HashedId, now: u64, ttl: Duration) {
        if ttl.is_zero() {
            return;
        }
        let (scripts, k, ttl) = (self.scripts.clone(), self.keys.known(key), ttl.as_secs());
        let _ = self.run("mark_known", move |mut c| async move {
            scripts
                .mark_known
                .key(k)
                .arg(now)
                .arg(ttl.max(1))
                .invoke_async::<i64>(&mut c)
                .await
        });
    }

    fn known_at(&self, key: &HashedId, now: u64, ttl: Duration) -> Option<u64> {
        let last = self.get_number("known_at", self.keys.known(key)).ok()??;
        (now.saturating_sub(last) < ttl.as_secs()).then_some(last)
    }

    fn waits_on_network(&self) -> bool {
        true
    }
}

impl ReplayCache for RedisState {
    fn contains(&self, key: &[u8; 32], now: u64) -> bool {
        match self.get_number("replay_contains", self.keys.replay(key)) {
            Ok(Some(expires)) => expires >= now,
            Ok(None) => false,
            Err(()) => true, // fail closed: reads as seen
        }
    }

    fn insert_new(&self, key: [u8; 32], now: u64, expires: u64) -> bool {
        self.claim_key("replay_insert", self.keys.replay(&key), now, expires)
    }

    fn waits_on_network(&self) -> bool {
        true
    }
}

impl SingleUse for RedisState {
    fn claim(&self, key: &[u8], now: u64, expires: u64) -> bool {
        self.claim_key("ticket_claim", self.keys.claim(key), now, expires)
    }
}

impl Revocations for RedisState {
    fn revoke(&self, id: &HashedId) -> bool {
        let [_, _, rev] = self.keys.lockout(id);
        self.exec("revoke", redis::cmd("SET").arg(rev).arg(1).to_owned())
    }

    fn unlock(&self, id: &HashedId) -> bool {
        let [history, _, rev] = self.keys.lockout(id);
        let [dist, _, _] = self.keys.lockout(&distributed_key(id));
        // one DEL of three keys: atomic
        self.exec(
            "unlock",
            redis::cmd("DEL").arg(rev).arg(history).arg(dist).to_owned(),
        )
    }

    fn is_revoked(&self, id: &HashedId) -> bool {
        let [_, _, rev] = self.keys.lockout(id);
        self.run("is_revoked", move |mut c| async move {
            redis::cmd("EXISTS")
                .arg(rev)
                .query_async::<i64>(&mut c)
                .await
        })
        .is_none_or(|n| n != 0)
    }
}
