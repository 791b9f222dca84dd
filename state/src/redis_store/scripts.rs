//! The Lua scripts of [`super::RedisState`] and its key names. Each script is one decision,
//! run atomically by Redis in one round trip, with the same rules as
//! [`mpin_kex::MemoryFailureStore`] on the caller's clock (`now`, unix seconds).
//!
//! Keys (all of one identity under one hash tag, so a cluster keeps them on one shard):
//! `P:{hex(key)}:f` a hash of the lockout history (`f` failures, `l` lockout level, `u` locked
//! until, `g` forget at), `P:{hex(key)}:s` a sorted set of attempt slots (score = the second
//! the slot was taken; slots older than the lease are dropped, so a replica that dies while
//! verifying cannot hold an identity forever), `P:{hex(id)}:rev` the revocation mark,
//! `P:known:hex` known-source marks, `P:replay:hex` one-pass hellos, `P:claim:hex` used
//! tickets, `P:ticket-keys` the fleet's ticket keys. Values are unix seconds of the caller's clock; Redis expiries are relative
//! (`EX`), set as a backstop so nothing outlives its use.

use mpin_kex::HashedId;
use redis::Script;

/// Helpers shared by the lockout scripts (Lua 5.1).
const PRELUDE: &str = r#"
local function num(v) return tonumber(v) or 0 end
local function load(k, now)
  local h = redis.call('HMGET', k, 'f', 'l', 'u', 'g')
  local g = num(h[4])
  if g ~= 0 and now >= g then return 0, 0, 0 end
  return num(h[1]), num(h[2]), num(h[3])
end
local function dur(l, first, maxd)
  local d = first
  for _ = 1, l do
    d = d * 2
    if d >= maxd then return maxd end
  end
  if d > maxd then return maxd end
  return d
end
local function save(k, f, l, u, now, keep)
  if f == 0 and l == 0 and u == 0 then
    redis.call('DEL', k)
    return
  end
  local base = now
  if u > base then base = u end
  local g = base + keep
  redis.call('HSET', k, 'f', f, 'l', l, 'u', u, 'g', g)
  redis.call('EXPIRE', k, g - now)
end
local now, after, first, maxd, keep = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4]), tonumber(ARGV[5])
"#;

/// `begin`: KEYS = history, slots, revocation; ARGV = now, after, first, max, keep, lease,
/// slot member. Returns `{code, failures, until}`: 0 go, 1 wait, 2 locked, 3 revoked.
const BEGIN: &str = r#"
local lease = tonumber(ARGV[6])
if redis.call('EXISTS', KEYS[3]) == 1 then return {3, 0, 0} end
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', '(' .. (now - lease))
local inflight = redis.call('ZCARD', KEYS[2])
local f, l, u = load(KEYS[1], now)
if u ~= 0 and now >= u then
  u = 0
  f = after - 1
end
if u > now then
  save(KEYS[1], f, l, u, now, keep)
  return {2, f, u}
end
if f + inflight >= after then
  if inflight > 0 then
    save(KEYS[1], f, l, u, now, keep)
    return {1, 0, 0}
  end
  u = now + dur(l, first, maxd)
  l = l + 1
  save(KEYS[1], f, l, u, now, keep)
  return {2, f, u}
end
redis.call('ZADD', KEYS[2], now, ARGV[7])
redis.call('EXPIRE', KEYS[2], lease)
save(KEYS[1], f, l, u, now, keep)
return {0, 0, 0}
"#;

/// `finish`: KEYS = history, slots; ARGV = now, after, first, max, keep, outcome (0 success,
/// 1 failure, 2 released).
const FINISH: &str = r#"
local outcome = tonumber(ARGV[6])
redis.call('ZPOPMIN', KEYS[2], 1)
local f, l, u = load(KEYS[1], now)
if u ~= 0 and now >= u then
  u = 0
  f = after - 1
end
if outcome == 0 then
  f, l, u = 0, 0, 0
elseif outcome == 1 then
  f = f + 1
  if f >= after and u <= now then
    u = now + dur(l, first, maxd)
    l = l + 1
  end
end
save(KEYS[1], f, l, u, now, keep)
return 1
"#;

/// `standing`: KEYS = history, slots; ARGV = now, _, _, _, _, lease. Returns `{failures,
/// in_flight, locked_until or 0}`.
const STANDING: &str = r#"
local lease = tonumber(ARGV[6])
local inflight = redis.call('ZCOUNT', KEYS[2], now - lease, '+inf')
local f, l, u = load(KEYS[1], now)
if u <= now then u = 0 end
return {f, inflight, u}
"#;

/// Known-source mark: KEYS = mark; ARGV = now, ttl. Never lowers the stored time.
const MARK_KNOWN: &str = r#"
local now, ttl = tonumber(ARGV[1]), tonumber(ARGV[2])
local last = now
local old = tonumber(redis.call('GET', KEYS[1]))
if old and old > last then last = old end
redis.call('SET', KEYS[1], last, 'EX', last + ttl - now)
return last
"#;

/// Claim once (replay cache, used tickets): KEYS = key; ARGV = now, expires. 1 when newly
/// claimed, 0 when already claimed and not expired on the caller's clock.
const CLAIM: &str = r#"
local now, exp = tonumber(ARGV[1]), tonumber(ARGV[2])
local old = tonumber(redis.call('GET', KEYS[1]))
if old and old >= now then return 0 end
local ttl = exp - now + 1
if ttl < 1 then ttl = 1 end
redis.call('SET', KEYS[1], exp, 'EX', ttl)
return 1
"#;

/// The scripts, hashed once (`EVALSHA`, falling back to `EVAL` after a Redis restart).
#[derive(Debug)]
pub(crate) struct Scripts {
    pub(crate) begin: Script,
    pub(crate) finish: Script,
    pub(crate) standing: Script,
    pub(crate) mark_known: Script,
    pub(crate) claim: Script,
}

impl Scripts {
    pub(crate) fn new() -> Self {
        let with_prelude = |body: &str| Script::new(&format!("{PRELUDE}{body}"));
        Self {
            begin: with_prelude(BEGIN),
            finish: with_prelude(FINISH),
            standing: with_prelude(STANDING),
            mark_known: Script::new(MARK_KNOWN),
            claim: Script::new(CLAIM),
        }
    }
}

/// Key names under a prefix.
#[derive(Debug, Clone)]
pub(crate) struct Keys {
    pub(crate) prefix: String,
}

impl Keys {
    /// History, slots and revocation keys of `id`.
    pub(crate) fn lockout(&self, id: &HashedId) -> [String; 3] {
        let h = hex::encode(id.as_bytes());
        let p = &self.prefix;
        [
            format!("{p}:{{{h}}}:f"),
            format!("{p}:{{{h}}}:s"),
            format!("{p}:{{{h}}}:rev"),
        ]
    }

    pub(crate) fn known(&self, key: &HashedId) -> String {
        format!("{}:known:{}", self.prefix, hex::encode(key.as_bytes()))
    }

    pub(crate) fn replay(&self, key: &[u8; 32]) -> String {
        format!("{}:replay:{}", self.prefix, hex::encode(key))
    }

    pub(crate) fn ticket_keys(&self) -> String {
        format!("{}:ticket-keys", self.prefix)
    }

    pub(crate) fn claim(&self, key: &[u8]) -> String {
        format!("{}:claim:{}", self.prefix, hex::encode(key))
    }
}
