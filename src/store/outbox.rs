//! The outbound SMS queue, in both backends: who texted a vote (to text
//! them the outcome when the decision closes) and the messages waiting to
//! be sent, with their retries.
//!
//! The store never sees a phone number in clear: it keeps opaque sealed
//! bytes (encrypted by `sms::outbound`), filed under the phone's keyed
//! hash. Everything here expires on its own after the `ttl` given, so a
//! crashed run leaves nothing behind for long; `outbox_clear` and
//! `recipients_take` delete earlier.
//!
//! Several instances may share one Redis: `outbox_claim` hands each due
//! message to one caller and pushes its due time back by a lease, so a
//! message whose sender died is tried again once the lease runs out.

use std::collections::{BTreeMap, HashMap};
use std::sync::LazyLock;
use std::time::{Duration, Instant};

use redis::Script;

use super::embedded::{Row, now_ms};
use super::{MemoryStore, RedisStore, Result, RunId, VoteStore};

/// A message due for sending, claimed by one caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outgoing {
    /// The message's id, unique in the queue.
    pub id: String,
    /// Sealed bytes: the number, the text and the attempts so far.
    pub sealed: Vec<u8>,
}

/// A decision's kept numbers: phone hash -> (kept until, sealed number).
type Kept = HashMap<String, (Instant, Vec<u8>)>;

/// The memory backend's queue. Each number and each message is kept
/// until its own time (now plus the `ttl` it was given), then forgotten.
#[derive(Default)]
pub struct MemoryOutbox {
    /// Per (run, decision): its kept numbers.
    recipients: HashMap<(RunId, String), Kept>,
    /// Message id -> (due, kept until, sealed message).
    items: BTreeMap<String, (Instant, Instant, Vec<u8>)>,
}

impl MemoryOutbox {
    /// Forgets every number and message kept past its time.
    fn forget_expired(&mut self, now: Instant) {
        self.items.retain(|_, (_, until, _)| *until > now);
        self.recipients.retain(|_, phones| {
            phones.retain(|_, (until, _)| *until > now);
            !phones.is_empty()
        });
    }
}

fn ms(d: Duration) -> u64 {
    d.as_millis().clamp(1, u64::MAX as u128) as u64
}

impl MemoryStore {
    fn keep_recipient(&self, run: RunId, decision: &str, phone: &str, sealed: &[u8], ttl: Duration) {
        self.outbox()
            .recipients
            .entry((run, decision.to_string()))
            .or_default()
            .insert(phone.to_string(), (Instant::now() + ttl, sealed.to_vec()));
    }

    fn take_recipients(&self, run: RunId, decision: &str) -> Vec<Vec<u8>> {
        self.live()
            .recipients
            .remove(&(run, decision.to_string()))
            .map(|m| m.into_values().map(|(_, sealed)| sealed).collect())
            .unwrap_or_default()
    }

    fn put(&self, id: &str, sealed: &[u8], after: Duration, ttl: Duration) {
        let now = Instant::now();
        self.outbox()
            .items
            .insert(id.to_string(), (now + after, now + ttl, sealed.to_vec()));
    }

    fn claim(&self, limit: usize, lease: Duration) -> Vec<Outgoing> {
        let now = Instant::now();
        let mut outbox = self.live();
        let mut due: Vec<(Instant, String)> = outbox
            .items
            .iter()
            .filter(|(_, (at, _, _))| *at <= now)
            .map(|(id, (at, _, _))| (*at, id.clone()))
            .collect();
        due.sort();
        due.truncate(limit);
        let mut claimed = Vec::with_capacity(due.len());
        for (_, id) in due {
            if let Some((at, _, sealed)) = outbox.items.get_mut(&id) {
                *at = now + lease;
                claimed.push(Outgoing {
                    id,
                    sealed: sealed.clone(),
                });
            }
        }
        claimed
    }

    fn clear(&self, run: RunId) {
        let mut outbox = self.outbox();
        outbox.items.clear();
        outbox.recipients.retain(|(r, _), _| *r != run);
    }

    fn outbox(&self) -> std::sync::MutexGuard<'_, MemoryOutbox> {
        self.outbox.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The queue for a read, with what is kept past its time forgotten
    /// first: the reads (claims, takes, the length) walk it, the writes
    /// (one per text voted) do not.
    fn live(&self) -> std::sync::MutexGuard<'_, MemoryOutbox> {
        let mut outbox = self.outbox();
        outbox.forget_expired(Instant::now());
        outbox
    }
}

/// Puts a message in the queue (or replaces it): due now plus `ARGV[3]`
/// ms by Redis's clock; both keys live `ARGV[4]` ms more.
static PUT: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
local t = redis.call('TIME')
local now = t[1] * 1000 + math.floor(t[2] / 1000)
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[3]), ARGV[1])
redis.call('HSET', KEYS[2], ARGV[1], ARGV[2])
redis.call('PEXPIRE', KEYS[1], ARGV[4])
redis.call('PEXPIRE', KEYS[2], ARGV[4])
return 1
",
    )
});

/// Claims up to `ARGV[1]` due messages, pushing each back by `ARGV[2]` ms;
/// returns id, sealed, id, sealed...
static CLAIM: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
local t = redis.call('TIME')
local now = t[1] * 1000 + math.floor(t[2] / 1000)
local ids = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now, 'LIMIT', 0, tonumber(ARGV[1]))
local out = {}
for _, id in ipairs(ids) do
  local sealed = redis.call('HGET', KEYS[2], id)
  if sealed then
    redis.call('ZADD', KEYS[1], now + tonumber(ARGV[2]), id)
    out[#out + 1] = id
    out[#out + 1] = sealed
  else
    redis.call('ZREM', KEYS[1], id)
  end
end
return out
",
    )
});

/// Reads and deletes a hash in one step.
static TAKE: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
local all = redis.call('HGETALL', KEYS[1])
redis.call('DEL', KEYS[1])
return all
",
    )
});

impl RedisStore {
    fn outbox_key(&self, part: &str) -> String {
        format!("{}smsout:{part}", self.prefix)
    }

    fn recipients_key(&self, run: RunId, decision: &str) -> String {
        self.outbox_key(&format!("to:{run}:{decision}"))
    }
}

impl VoteStore {
    /// Keeps `sealed` (a phone number, encrypted) for the phone filed as
    /// `phone` that voted on `decision`, replacing what it had; kept for
    /// `ttl` at most.
    pub async fn recipient_keep(
        &self,
        run: RunId,
        decision: &str,
        phone: &str,
        sealed: &[u8],
        ttl: Duration,
    ) -> Result<()> {
        match self {
            VoteStore::Memory(s) => {
                s.keep_recipient(run, decision, phone, sealed, ttl);
                Ok(())
            }
            VoteStore::Embedded(s) => {
                s.outbox_change(|m| {
                    m.keep_recipient(run, decision, phone, sealed, ttl);
                    let row = Row::Recipient {
                        run,
                        decision: decision.to_string(),
                        phone: phone.to_string(),
                        sealed: sealed.to_vec(),
                        until_ms: now_ms().saturating_add(ms(ttl)),
                    };
                    ((), vec![row])
                })
                .await
            }
            VoteStore::Redis(s) => {
                let mut con = s.con();
                let key = s.recipients_key(run, decision);
                redis::pipe()
                    .atomic()
                    .hset(&key, phone, sealed)
                    .ignore()
                    .pexpire(&key, ms(ttl) as i64)
                    .ignore()
                    .query_async::<()>(&mut con)
                    .await
                    .map_err(|e| s.failed(e))
            }
        }
    }

    /// Every sealed number kept for `decision`, deleting them in the same
    /// step (so two instances never both text them).
    pub async fn recipients_take(&self, run: RunId, decision: &str) -> Result<Vec<Vec<u8>>> {
        match self {
            VoteStore::Memory(s) => Ok(s.take_recipients(run, decision)),
            VoteStore::Embedded(s) => {
                s.outbox_change(|m| {
                    let row = Row::RecipientsTaken {
                        run,
                        decision: decision.to_string(),
                    };
                    (m.take_recipients(run, decision), vec![row])
                })
                .await
            }
            VoteStore::Redis(s) => {
                let mut con = s.con();
                let all: Vec<Vec<u8>> = TAKE
                    .key(s.recipients_key(run, decision))
                    .invoke_async(&mut con)
                    .await
                    .map_err(|e| s.failed(e))?;
                // Field, value, field, value: the values are the numbers.
                Ok(all.into_iter().skip(1).step_by(2).collect())
            }
        }
    }

    /// Queues the message `id` (or replaces it) to be sent once `after`
    /// has passed; the queue lives `ttl` at most.
    pub async fn outbox_put(&self, id: &str, sealed: &[u8], after: Duration, ttl: Duration) -> Result<()> {
        match self {
            VoteStore::Memory(s) => {
                s.put(id, sealed, after, ttl);
                Ok(())
            }
            VoteStore::Embedded(s) => {
                s.outbox_change(|m| {
                    m.put(id, sealed, after, ttl);
                    let now = now_ms();
                    let row = Row::Outgoing {
                        id: id.to_string(),
                        due_ms: now.saturating_add(ms(after)),
                        until_ms: now.saturating_add(ms(ttl)),
                        sealed: sealed.to_vec(),
                    };
                    ((), vec![row])
                })
                .await
            }
            VoteStore::Redis(s) => {
                let mut con = s.con();
                let after = after.as_millis().min(u64::MAX as u128) as u64;
                PUT.key(s.outbox_key("due"))
                    .key(s.outbox_key("items"))
                    .arg(id)
                    .arg(sealed)
                    .arg(after)
                    .arg(ms(ttl))
                    .invoke_async::<i64>(&mut con)
                    .await
                    .map(|_| ())
                    .map_err(|e| s.failed(e))
            }
        }
    }

    /// Up to `limit` messages that are due, each handed to this caller
    /// alone: their due time moves `lease` later, so if the caller neither
    /// removes nor re-queues one (it died), it comes back after the lease.
    pub async fn outbox_claim(&self, limit: usize, lease: Duration) -> Result<Vec<Outgoing>> {
        match self {
            VoteStore::Memory(s) => Ok(s.claim(limit, lease)),
            VoteStore::Embedded(s) => {
                s.outbox_change(|m| {
                    let claimed = m.claim(limit, lease);
                    let due_ms = now_ms().saturating_add(ms(lease));
                    let rows = claimed
                        .iter()
                        .map(|o| Row::Due {
                            id: o.id.clone(),
                            due_ms,
                        })
                        .collect();
                    (claimed, rows)
                })
                .await
            }
            VoteStore::Redis(s) => {
                let mut con = s.con();
                let flat: Vec<Vec<u8>> = CLAIM
                    .key(s.outbox_key("due"))
                    .key(s.outbox_key("items"))
                    .arg(limit)
                    .arg(ms(lease))
                    .invoke_async(&mut con)
                    .await
                    .map_err(|e| s.failed(e))?;
                let mut items = flat.into_iter();
                let mut claimed = Vec::new();
                while let (Some(id), Some(sealed)) = (items.next(), items.next()) {
                    claimed.push(Outgoing {
                        id: String::from_utf8_lossy(&id).into_owned(),
                        sealed,
                    });
                }
                Ok(claimed)
            }
        }
    }

    /// Removes the message `id`: sent, or given up on.
    pub async fn outbox_remove(&self, id: &str) -> Result<()> {
        match self {
            VoteStore::Memory(s) => {
                s.outbox().items.remove(id);
                Ok(())
            }
            VoteStore::Embedded(s) => {
                s.outbox_change(|m| {
                    m.outbox().items.remove(id);
                    ((), vec![Row::Sent(id.to_string())])
                })
                .await
            }
            VoteStore::Redis(s) => {
                let mut con = s.con();
                redis::pipe()
                    .atomic()
                    .zrem(s.outbox_key("due"), id)
                    .ignore()
                    .hdel(s.outbox_key("items"), id)
                    .ignore()
                    .query_async::<()>(&mut con)
                    .await
                    .map_err(|e| s.failed(e))
            }
        }
    }

    /// How many messages wait in the queue (due or not).
    pub async fn outbox_len(&self) -> Result<usize> {
        match self {
            VoteStore::Memory(s) => Ok(s.live().items.len()),
            VoteStore::Embedded(s) => Ok(s.mem.live().items.len()),
            VoteStore::Redis(s) => {
                let mut con = s.con();
                redis::cmd("HLEN")
                    .arg(s.outbox_key("items"))
                    .query_async(&mut con)
                    .await
                    .map_err(|e| s.failed(e))
            }
        }
    }

    /// Empties the queue and forgets every kept number of `run`'s
    /// `decisions`: the run is over, nothing of it is sent any more.
    pub async fn outbox_clear(&self, run: RunId, decisions: &[&str]) -> Result<()> {
        match self {
            VoteStore::Memory(s) => {
                s.clear(run);
                Ok(())
            }
            VoteStore::Embedded(s) => {
                s.outbox_change(|m| {
                    m.clear(run);
                    ((), vec![Row::OutboxCleared(run)])
                })
                .await
            }
            VoteStore::Redis(s) => {
                let mut con = s.con();
                let mut keys = vec![s.outbox_key("due"), s.outbox_key("items")];
                keys.extend(decisions.iter().map(|d| s.recipients_key(run, d)));
                redis::cmd("DEL")
                    .arg(keys)
                    .query_async::<i64>(&mut con)
                    .await
                    .map(|_| ())
                    .map_err(|e| s.failed(e))
            }
        }
    }
}

impl MemoryStore {
    /// Fills the queue at start (the embedded store's file).
    pub(super) fn restore_outbox(
        &self,
        recipients: Vec<(RunId, String, String, Instant, Vec<u8>)>,
        items: Vec<(String, Instant, Instant, Vec<u8>)>,
    ) {
        let mut outbox = self.outbox();
        for (run, decision, phone, until, sealed) in recipients {
            outbox
                .recipients
                .entry((run, decision))
                .or_default()
                .insert(phone, (until, sealed));
        }
        for (id, due, until, sealed) in items {
            outbox.items.insert(id, (due, until, sealed));
        }
    }
}
