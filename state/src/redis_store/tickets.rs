//! Tickets on Redis: single use ([`milagro_tls::UsedTickets`]) and the fleet's shared ticket
//! keys (current + previous, created once, rotated by any replica).

use milagro_tls::{TicketKey, TicketKeys, UsedTickets};
use redis::Script;
use zeroize::Zeroizing;

use super::RedisState;
use crate::SingleUse;

/// Get-or-create of the key hash: KEYS = keys hash; ARGV = candidate id, candidate key (hex).
/// Returns `{current id, current key, previous id or false, previous key or false}`.
const GET_OR_CREATE: &str = r#"
if redis.call('HEXISTS', KEYS[1], 'cur_id') == 0 then
  redis.call('HSET', KEYS[1], 'cur_id', ARGV[1], 'cur', ARGV[2])
end
return redis.call('HMGET', KEYS[1], 'cur_id', 'cur', 'prev_id', 'prev')
"#;

/// Rotation: the current key becomes the previous one, the candidate the current one.
const ROTATE: &str = r#"
local cur = redis.call('HMGET', KEYS[1], 'cur_id', 'cur')
if cur[1] then
  redis.call('HSET', KEYS[1], 'prev_id', cur[1], 'prev', cur[2])
end
redis.call('HSET', KEYS[1], 'cur_id', ARGV[1], 'cur', ARGV[2])
return redis.call('HMGET', KEYS[1], 'cur_id', 'cur', 'prev_id', 'prev')
"#;

type Reply = Vec<Option<String>>;

fn decode_key(id: Option<&String>, secret: Option<&String>) -> Option<TicketKey> {
    let mut key_id = [0u8; 4];
    let mut key = Zeroizing::new([0u8; 32]);
    hex::decode_to_slice(id?, &mut key_id).ok()?;
    hex::decode_to_slice(secret?, &mut key[..]).ok()?;
    Some(TicketKey::new(key_id, &key))
}

fn decode(reply: &Reply) -> Option<TicketKeys> {
    let current = decode_key(reply.first()?.as_ref(), reply.get(1)?.as_ref())?;
    let previous = decode_key(
        reply.get(2).and_then(Option::as_ref),
        reply.get(3).and_then(Option::as_ref),
    );
    Some(TicketKeys::new(current, previous))
}

impl RedisState {
    /// The fleet's ticket keys, creating a random current key the first time: every replica
    /// asking gets the same keys. Call it again from time to time to pick up a rotation made
    /// by another replica. `None` when Redis does not answer (keep the keys you have).
    pub fn ticket_keys(&self) -> Option<TicketKeys> {
        self.keys_script("ticket_keys", GET_OR_CREATE)
    }

    /// Rotates the fleet's ticket keys (a fresh random current key; the current one stays
    /// accepted as the previous one, the previous one is retired) and returns them.
    pub fn rotate_ticket_keys(&self) -> Option<TicketKeys> {
        self.keys_script("rotate_ticket_keys", ROTATE)
    }

    fn keys_script(&self, op: &'static str, script: &'static str) -> Option<TicketKeys> {
        let candidate = TicketKey::generate().ok()?;
        let id = hex::encode(candidate.id());
        let secret = Zeroizing::new(hex::encode(candidate.secret()));
        let key = self.keys.ticket_keys();
        let reply: Zeroizing<Reply> = Zeroizing::new(self.run(op, move |mut c| async move {
            Script::new(script)
                .key(key)
                .arg(id)
                .arg(secret.as_str())
                .invoke_async::<Reply>(&mut c)
                .await
        })?);
        decode(&reply)
    }
}

impl UsedTickets for RedisState {
    fn use_once(&self, id: &[u8; 16], now: u64, expires: u64) -> bool {
        self.claim(id, now, expires)
    }
}
