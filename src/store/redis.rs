//! The Redis vote store: runs, the presenter's place and votes in Redis,
//! shared by every cyoa instance that uses the same key prefix.
//!
//! Every key starts with the prefix (default `cyoa:`); all but the run
//! counter and the voters' presence leases carry the run (`{d}` is a
//! decision id):
//!
//! | key                               | type   | holds                                      |
//! |-----------------------------------|--------|--------------------------------------------|
//! | `{prefix}identity`                | string | a random id: "this talk's data" (see below) |
//! | `{prefix}current`                 | string | the current run's number (the newest one)  |
//! | `{prefix}run:{n}:state`           | hash   | `slide`, `path` (JSON array), `open`, `results`, `explore` (`1` when published), `started` (ms) |
//! | `{prefix}run:{n}:tally:{d}`       | hash   | choice -> votes, live                      |
//! | `{prefix}run:{n}:voters:{d}`      | hash   | voter -> `S|choice` or `P|choice`          |
//! | `{prefix}run:{n}:closed`          | list   | closed decisions, in the order closed      |
//! | `{prefix}run:{n}:frozen:{d}`      | hash   | choice -> votes when `d` was closed        |
//! | `{prefix}presence`                | zset   | voter -> lease end, ms of Redis's clock    |
//! | `{prefix}instances`               | zset   | instance id -> its lease end, ms           |
//! | `{prefix}instance:{id}`           | set    | voters with a page open on that instance   |
//! | `{prefix}orphans`                 | hash   | voter -> the reaped instance that held it  |
//! | `{prefix}run:{n}:reaped:{d}`      | hash   | voter -> `{id}|P|choice` withdrawn at a reap |
//! | `{prefix}sms:{sid}`               | string | `1` while a webhook delivery is remembered |
//! | `{prefix}smsout:to:{n}:{d}`       | hash   | phone hash -> sealed number (see `outbox`) |
//! | `{prefix}smsout:due`              | zset   | outbound message id -> due, ms             |
//! | `{prefix}smsout:items`            | hash   | outbound message id -> sealed message      |
//! | `{prefix}events`                  | pub/sub channel | changes, for the other instances  |
//!
//! Every change is one Lua script (`lua/*.lua`, run with EVALSHA: one
//! round trip), so it is atomic: a vote checks the run and the open
//! decision, moves the counters and records the voter in one step, and the
//! counters always equal the voter records. The presence sweep alone is a
//! walk in steps, one script call each, so that votes run between them;
//! each voter's check and withdrawal is still atomic within its step. The
//! scripts build their keys from the prefix, so this store needs a single
//! Redis (6.2 or later, for `ZADD GT`), not a Cluster; with
//! `redis+sentinel://` URLs the store
//! asks Redis Sentinel where that Redis is, and follows a failover. Reads of
//! one tally or one voter are single commands.
//!
//! Redis that comes back without its data (restarted without its RDB or
//! AOF file, flushed, a failover to an empty replica) would otherwise look
//! like a first start: cyoa would quietly begin run 1 at the first slide.
//! So a server claims the store's identity at start ([`RedisStore::claim_identity`]:
//! the id in `{prefix}identity`, written by the first instance that finds
//! none) and checks it on every heartbeat ([`RedisStore::verify`]) and in
//! the two scripts that could begin a run. Finding none, or another, the
//! store is lost: every script call is refused with [`StoreError::Lost`]
//! until the identity comes back (Redis restored from its backup); a
//! restart of the instances accepts the empty store as a new talk.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, LazyLock};
use std::time::Duration;

use futures_util::StreamExt;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::sentinel::{SentinelClient, SentinelServerType};
use redis::{FromRedisValue, Script, Value};

use super::{
    Audit, Closed, Delivery, Drift, Events, Publication, Published, Result, RunId, RunRecord, RunState, StoreError,
    Tally, VoteKind, VoteOutcome, Voter,
};

/// How long a command may take before the store reports Redis unavailable.
/// Generous: a vote that timed out may still have counted.
const RESPONSE_TIMEOUT: Duration = Duration::from_secs(3);
/// How long one attempt to connect may take.
const CONNECTION_TIMEOUT: Duration = Duration::from_secs(2);
/// Attempts to reconnect after the first fails, and the longest pause
/// between them. Requests wait for these attempts, so they are few: while
/// Redis is down a vote fails within seconds instead of hanging, and the
/// next request tries again.
const RECONNECT_RETRIES: usize = 2;
const RECONNECT_MAX_DELAY: Duration = Duration::from_millis(500);

/// Voters per `keep_present` script call.
const PRESENT_PER_CALL: usize = 1000;

/// The `COUNT` of each `HSCAN` step of the presence sweep
/// (`withdraw_absent.lua`): about this many voter records per script call.
/// A vote waits behind a script call, and the sweep of 10,000 voters in a
/// single call took Redis 23 to 55 ms (`SLOWLOG`), 2 to 6 µs a voter: a
/// step of 256 holds Redis for about 0.6 to 1.4 ms, so a vote waits at most
/// that long, while 10,000 voters still take only about 40 calls a sweep
/// (once a second), each a round trip and a few cheap checks more. Much
/// smaller steps would multiply those; much larger ones, the wait.
const SWEEP_STEP: usize = 256;

/// The most steps one sweep takes. A walk of the records ends when `HSCAN`
/// answers cursor 0, which it does within about voters / [`SWEEP_STEP`]
/// steps (a few more where the hash table has many empty buckets); this
/// bound, far above any audience (about two million voters), only keeps a
/// server whose cursor never comes back to 0 from looping the sweeper
/// forever. The next sweep starts the walk again.
const SWEEP_MAX_STEPS: usize = 10_000;

/// A script with the shared helpers of `lua/common.lua` in front.
macro_rules! script {
    ($file:literal) => {
        Script::new(concat!(
            include_str!("lua/common.lua"),
            include_str!(concat!("lua/", $file))
        ))
    };
}

/// The store's Lua scripts, hashed once.
struct Scripts {
    identity: Script,
    current: Script,
    new_run: Script,
    show: Script,
    open: Script,
    close: Script,
    vote: Script,
    sms_vote: Script,
    withdraw: Script,
    keep_present: Script,
    withdraw_absent: Script,
    arrive: Script,
    leave: Script,
    beat: Script,
    rejoin: Script,
    history: Script,
    move_to: Script,
    audit: Script,
    set_published: Script,
}

static SCRIPTS: LazyLock<Scripts> = LazyLock::new(|| Scripts {
    identity: script!("identity.lua"),
    current: script!("current.lua"),
    new_run: script!("new_run.lua"),
    show: script!("show.lua"),
    open: script!("open.lua"),
    close: script!("close.lua"),
    vote: script!("vote.lua"),
    sms_vote: script!("sms_vote.lua"),
    withdraw: script!("withdraw.lua"),
    keep_present: script!("keep_present.lua"),
    withdraw_absent: script!("withdraw_absent.lua"),
    arrive: script!("arrive.lua"),
    leave: script!("leave.lua"),
    beat: script!("beat.lua"),
    rejoin: script!("rejoin.lua"),
    history: script!("history.lua"),
    move_to: script!("move_to.lua"),
    audit: script!("audit.lua"),
    set_published: script!("set_published.lua"),
});

/// Votes and runs in Redis, under a key prefix.
#[derive(Clone)]
pub struct RedisStore {
    link: Arc<Link>,
    pub(super) prefix: Arc<str>,
    identity: Arc<Identity>,
}

/// What this store knows of `{prefix}identity`: the id it claimed, and
/// whether Redis has lost it since.
#[derive(Default)]
struct Identity {
    /// The id found (or written) at [`RedisStore::claim_identity`]; unset
    /// for a store used without a server (`cyoa audit`, the store's own
    /// tests), which checks nothing.
    seen: std::sync::OnceLock<String>,
    /// Why the store is taken for having lost its data; `None` while not.
    lost: std::sync::Mutex<Option<String>>,
}

/// The connection to the primary, and how to find a new one.
struct Link {
    /// The connection in use and the client that opened it (which also
    /// opens the event subscriptions); replaced after a Sentinel failover.
    current: std::sync::RwLock<(ConnectionManager, redis::Client)>,
    /// With `redis+sentinel://`: asks the Sentinels for the primary.
    sentinel: Option<tokio::sync::Mutex<SentinelClient>>,
    /// Whether a lookup of the primary is under way (one at a time).
    looking: AtomicBool,
}

/// The settings of every connection to the primary.
fn manager_config() -> ConnectionManagerConfig {
    ConnectionManagerConfig::new()
        .set_response_timeout(Some(RESPONSE_TIMEOUT))
        .set_connection_timeout(Some(CONNECTION_TIMEOUT))
        .set_number_of_retries(RECONNECT_RETRIES)
        .set_max_delay(RECONNECT_MAX_DELAY)
}

/// The Sentinels and the primary's name of a
/// `redis+sentinel://host:port[,host:port...]/name` URL.
fn sentinel_url(url: &str) -> Option<Result<(Vec<String>, String)>> {
    let rest = url.strip_prefix("redis+sentinel://")?;
    let bad =
        || StoreError::Backend("bad Redis URL: use redis+sentinel://HOST:PORT[,HOST:PORT...]/PRIMARY-NAME".into());
    let Some((hosts, name)) = rest.split_once('/') else {
        return Some(Err(bad()));
    };
    let name = name.trim_end_matches('/');
    let hosts: Vec<String> = hosts
        .split(',')
        .filter(|h| !h.is_empty())
        .map(|h| format!("redis://{h}/"))
        .collect();
    if hosts.is_empty() || name.is_empty() {
        return Some(Err(bad()));
    }
    Some(Ok((hosts, name.to_string())))
}

impl RedisStore {
    /// Connects to `url`; keys start with `prefix`. Fails if Redis does not
    /// answer; once connected, the store reconnects on its own.
    ///
    /// `redis+sentinel://host:port[,host:port...]/name` asks those Sentinels
    /// for the primary called `name`, and asks again whenever a command
    /// fails: after a failover the store follows the new primary without a
    /// restart.
    pub async fn connect(url: &str, prefix: &str) -> Result<Self> {
        let (client, sentinel) = match sentinel_url(url) {
            None => (redis::Client::open(url).map_err(|e| backend("bad Redis URL", e))?, None),
            Some(parsed) => {
                let (hosts, name) = parsed?;
                let mut sentinel = SentinelClient::build(hosts, name, None, SentinelServerType::Master)
                    .map_err(|e| backend("bad Redis Sentinel URL", e))?;
                let client = sentinel
                    .async_get_client()
                    .await
                    .map_err(|e| backend("the Sentinels named no primary", e))?;
                (client, Some(tokio::sync::Mutex::new(sentinel)))
            }
        };
        let mut con = ConnectionManager::new_with_config(client.clone(), manager_config())
            .await
            .map_err(|e| backend("cannot connect to Redis", e))?;
        // Loaded now so that the first call of each script listed here is
        // usually a single EVALSHA (a script left out, or a Redis restart,
        // costs one NOSCRIPT answer and a load on first use).
        let s = &*SCRIPTS;
        for script in [
            &s.identity,
            &s.current,
            &s.new_run,
            &s.show,
            &s.open,
            &s.close,
            &s.vote,
            &s.withdraw,
            &s.keep_present,
            &s.withdraw_absent,
            &s.arrive,
            &s.leave,
            &s.beat,
            &s.rejoin,
            &s.move_to,
            &s.history,
            &s.set_published,
        ] {
            script
                .load_async(&mut con)
                .await
                .map_err(|e| backend("cannot load the store's scripts into Redis", e))?;
        }
        Ok(RedisStore {
            link: Arc::new(Link {
                current: std::sync::RwLock::new((con, client)),
                sentinel,
                looking: AtomicBool::new(false),
            }),
            prefix: prefix.into(),
            identity: Arc::default(),
        })
    }

    /// Reads the store's identity, writing a fresh one if there is none,
    /// and remembers it: from now on, Redis answering none or another is
    /// lost data. A second call keeps the first identity.
    pub async fn claim_identity(&self) -> Result<()> {
        let fresh = format!("{:032x}", rand::random::<u128>());
        let found: String = parse(self.eval(&SCRIPTS.identity, &[&fresh]).await?)?;
        let _ = self.identity.seen.set(found);
        Ok(())
    }

    /// The identity claimed at start, `""` when none was.
    fn expected(&self) -> &str {
        self.identity.seen.get().map_or("", String::as_str)
    }

    /// Checks that Redis still holds the identity claimed at start (one
    /// `GET`): [`StoreError::Lost`] when it holds none or another; when
    /// it holds it again (restored from a backup), the store takes calls
    /// again. A store that claimed nothing checks nothing.
    pub async fn verify(&self) -> Result<()> {
        let Some(seen) = self.identity.seen.get() else {
            return Ok(());
        };
        let mut con = self.con();
        let found: Option<String> = redis::cmd("GET")
            .arg(format!("{}identity", self.prefix))
            .query_async(&mut con)
            .await
            .map_err(|e| self.failed(e))?;
        if found.as_deref() == Some(seen.as_str()) {
            self.found_again();
            return Ok(());
        }
        Err(self.lose(lost_reason(found.as_deref())))
    }

    /// Why the store is taken for having lost its data, if it is.
    pub fn lost(&self) -> Option<String> {
        self.identity.lost.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Takes the store for lost (said once: an error in the log, and the
    /// metrics), or keeps the newest reason (an empty Redis may have been
    /// given a new talk since), and returns the error every call now gets.
    fn lose(&self, why: String) -> StoreError {
        let mut lost = self.identity.lost.lock().unwrap_or_else(|e| e.into_inner());
        if lost.is_none() {
            tracing::error!(
                why = %why,
                "the vote store lost its data: votes and presenter actions are refused until Redis is \
                 restored from its backup or every instance is restarted (docs/reliability.md)"
            );
            crate::metrics::store_data_lost(true);
        }
        *lost = Some(why.clone());
        StoreError::Lost(why)
    }

    /// Redis holds the claimed identity again: calls are taken again.
    fn found_again(&self) {
        let mut lost = self.identity.lost.lock().unwrap_or_else(|e| e.into_inner());
        if lost.take().is_some() {
            tracing::warn!("the vote store holds this talk's data again (restored): taking votes again");
            crate::metrics::store_data_lost(false);
        }
    }

    /// A script's refusal for lost data is remembered as such.
    fn noted<T>(&self, result: Result<T>) -> Result<T> {
        match result {
            Err(StoreError::Lost(why)) => Err(self.lose(why)),
            other => other,
        }
    }

    /// The connection in use.
    pub(super) fn con(&self) -> ConnectionManager {
        self.link.current.read().unwrap_or_else(|e| e.into_inner()).0.clone()
    }

    /// The client of the primary in use.
    fn client(&self) -> redis::Client {
        self.link.current.read().unwrap_or_else(|e| e.into_inner()).1.clone()
    }

    /// A command failed: the store error, and with Sentinels, a lookup of
    /// the primary in the background (it may have failed over; the next
    /// command then goes to the new one).
    pub(super) fn failed(&self, e: redis::RedisError) -> StoreError {
        if self.link.sentinel.is_some() && !self.link.looking.swap(true, Ordering::AcqRel) {
            let link = self.link.clone();
            tokio::spawn(async move {
                if let Err(e) = find_primary(&link).await {
                    tracing::warn!(error = %e, "cannot find the Redis primary through the Sentinels");
                }
                link.looking.store(false, Ordering::Release);
            });
        }
        backend("Redis", e)
    }

    fn key(&self, run: RunId, part: &str) -> String {
        format!("{}run:{run}:{part}", self.prefix)
    }

    /// Runs `script` with the prefix as ARGV[1] followed by `args`;
    /// refused while the store is taken for lost.
    async fn eval(&self, script: &Script, args: &[&str]) -> Result<Value> {
        if let Some(why) = self.lost() {
            return Err(StoreError::Lost(why));
        }
        let mut invocation = script.arg(&*self.prefix);
        for a in args {
            invocation.arg(*a);
        }
        let mut con = self.con();
        invocation.invoke_async(&mut con).await.map_err(|e| self.failed(e))
    }

    pub(super) async fn current(&self, start: &str) -> Result<RunState> {
        let path = path_json(&[start.to_string()])?;
        let reply = self.eval(&SCRIPTS.current, &[start, &path, self.expected()]).await?;
        self.noted(state_reply(reply, 0, ""))
    }

    pub(super) async fn new_run(&self, start: &str) -> Result<RunState> {
        let path = path_json(&[start.to_string()])?;
        let reply = self.eval(&SCRIPTS.new_run, &[start, &path, self.expected()]).await?;
        self.noted(state_reply(reply, 0, ""))
    }

    pub(super) async fn show(&self, run: RunId, slide: &str, path: &[String]) -> Result<RunState> {
        let path = path_json(path)?;
        let reply = self.eval(&SCRIPTS.show, &[&run.to_string(), slide, &path]).await?;
        state_reply(reply, run, "")
    }

    pub(super) async fn open(&self, run: RunId, decision: &str) -> Result<RunState> {
        let reply = self.eval(&SCRIPTS.open, &[&run.to_string(), decision]).await?;
        state_reply(reply, run, decision)
    }

    pub(super) async fn set_published(&self, run: RunId, what: Publication, on: bool) -> Result<RunState> {
        let on = if on { "1" } else { "0" };
        let reply = self
            .eval(&SCRIPTS.set_published, &[&run.to_string(), what.as_str(), on])
            .await?;
        state_reply(reply, run, "")
    }

    pub(super) async fn close(&self, run: RunId, decision: &str) -> Result<Tally> {
        let reply = self.eval(&SCRIPTS.close, &[&run.to_string(), decision]).await?;
        let mut items = array(reply)?.into_iter();
        match status(items.next())?.as_str() {
            "ok" => tally(items.next().unwrap_or(Value::Nil)),
            "not_current" => Err(StoreError::NotCurrent(run)),
            other => Err(unexpected(other)),
        }
    }

    pub(super) async fn vote(
        &self,
        run: RunId,
        decision: &str,
        voter: &Voter,
        choice: &str,
        kind: VoteKind,
    ) -> Result<VoteOutcome> {
        let kind = match kind {
            VoteKind::Presence => "P",
            VoteKind::Sticky => "S",
        };
        let args = [&run.to_string(), decision, voter.as_str(), choice, kind];
        let reply = self.eval(&SCRIPTS.vote, &args).await?;
        match vote_reply(reply, run, decision)? {
            Delivery::First(outcome) => Ok(outcome),
            Delivery::Again(_) => Err(unexpected("again")),
        }
    }

    pub(super) async fn sms_vote(
        &self,
        run: RunId,
        decision: &str,
        voter: &Voter,
        choice: &str,
        sid: &str,
        ttl: Duration,
    ) -> Result<Delivery> {
        let ms = delivery_ms(ttl).to_string();
        let args = [&run.to_string(), decision, voter.as_str(), choice, sid, &ms];
        let reply = self.eval(&SCRIPTS.sms_vote, &args).await?;
        vote_reply(reply, run, decision)
    }

    pub(super) async fn withdraw(
        &self,
        run: RunId,
        decision: &str,
        voter: &Voter,
        presence_only: bool,
    ) -> Result<Option<String>> {
        let only = if presence_only { "1" } else { "0" };
        let reply = self
            .eval(&SCRIPTS.withdraw, &[&run.to_string(), decision, voter.as_str(), only])
            .await?;
        parse(reply)
    }

    pub(super) async fn keep_present(&self, voters: &[Voter], lease: Duration) -> Result<()> {
        let ms = lease.as_millis().to_string();
        // In slices, so that no script call gets an argument list too long
        // for Lua.
        for some in voters.chunks(PRESENT_PER_CALL) {
            let mut args = vec![ms.as_str()];
            args.extend(some.iter().map(Voter::as_str));
            self.eval(&SCRIPTS.keep_present, &args).await?;
        }
        Ok(())
    }

    pub(super) async fn withdraw_absent(
        &self,
        run: RunId,
        decision: &str,
        instance: &str,
        grace: Duration,
    ) -> Result<u64> {
        let (run, ms, count) = (run.to_string(), grace.as_millis().to_string(), SWEEP_STEP.to_string());
        // One script call a step (see `withdraw_absent.lua`): votes run
        // between the steps instead of waiting for the whole walk.
        let mut cursor = "0".to_string();
        let mut withdrawn = 0;
        for _ in 0..SWEEP_MAX_STEPS {
            let reply = self
                .eval(
                    &SCRIPTS.withdraw_absent,
                    &[&run, decision, instance, &ms, &cursor, &count],
                )
                .await?;
            let (some, next): (u64, String) = parse(reply)?;
            withdrawn += some;
            if next == "0" {
                return Ok(withdrawn);
            }
            cursor = next;
        }
        tracing::warn!(
            steps = SWEEP_MAX_STEPS,
            decision,
            "the presence sweep did not finish its walk of the voters; the next sweep starts again"
        );
        Ok(withdrawn)
    }

    pub(super) async fn arrive(&self, instance: &str, voter: &Voter, lease: Duration) -> Result<()> {
        let ms = lease.as_millis().to_string();
        self.eval(&SCRIPTS.arrive, &[instance, &ms, voter.as_str()]).await?;
        Ok(())
    }

    pub(super) async fn leave(&self, instance: &str, voter: &Voter, grace: Duration) -> Result<()> {
        let ms = grace.as_millis().to_string();
        self.eval(&SCRIPTS.leave, &[instance, &ms, voter.as_str()]).await?;
        Ok(())
    }

    pub(super) async fn beat(&self, instance: &str, lease: Duration) -> Result<bool> {
        let ms = lease.as_millis().to_string();
        let alive: i64 = parse(self.eval(&SCRIPTS.beat, &[instance, &ms]).await?)?;
        Ok(alive == 1)
    }

    pub(super) async fn rejoin(&self, instance: &str, voters: &[Voter], lease: Duration) -> Result<u64> {
        let ms = lease.as_millis().to_string();
        // In slices, so that no script call gets an argument list too long
        // for Lua; the last call (maybe with no voter) puts them in place.
        let mut slices: Vec<&[Voter]> = voters.chunks(PRESENT_PER_CALL).collect();
        let last_slice = slices.pop().unwrap_or(&[]);
        let mut first = "1";
        for some in slices {
            let mut args = vec![instance, ms.as_str(), first, "0"];
            args.extend(some.iter().map(Voter::as_str));
            self.eval(&SCRIPTS.rejoin, &args).await?;
            first = "0";
        }
        let mut args = vec![instance, ms.as_str(), first, "1"];
        args.extend(last_slice.iter().map(Voter::as_str));
        parse(self.eval(&SCRIPTS.rejoin, &args).await?)
    }

    pub(super) async fn tally(&self, run: RunId, decision: &str) -> Result<Tally> {
        let mut con = self.con();
        let reply: Value = redis::cmd("HGETALL")
            .arg(self.key(run, &format!("tally:{decision}")))
            .query_async(&mut con)
            .await
            .map_err(|e| self.failed(e))?;
        tally(reply)
    }

    pub(super) async fn tally_if_current(&self, run: RunId, decision: &str) -> Result<Option<Tally>> {
        let mut con = self.con();
        // One round trip, and atomic (MULTI/EXEC): a new run cannot begin
        // between the check and the read and have the old run's counts
        // pushed over its zeros.
        let (current, reply): (Option<String>, Value) = redis::pipe()
            .atomic()
            .cmd("GET")
            .arg(format!("{}current", self.prefix))
            .cmd("HGETALL")
            .arg(self.key(run, &format!("tally:{decision}")))
            .query_async(&mut con)
            .await
            .map_err(|e| self.failed(e))?;
        if current.as_deref() != Some(run.to_string().as_str()) {
            return Ok(None);
        }
        tally(reply).map(Some)
    }

    pub(super) async fn choice_of(&self, run: RunId, decision: &str, voter: &Voter) -> Result<Option<String>> {
        let mut con = self.con();
        let record: Option<String> = redis::cmd("HGET")
            .arg(self.key(run, &format!("voters:{decision}")))
            .arg(voter.as_str())
            .query_async(&mut con)
            .await
            .map_err(|e| self.failed(e))?;
        // The record is "<kind>|<choice>".
        Ok(record.and_then(|r| r.split_once('|').map(|(_, choice)| choice.to_string())))
    }

    pub(super) async fn runs(&self) -> Result<Vec<RunRecord>> {
        self.history(1, 0).await
    }

    pub(super) async fn run(&self, run: RunId) -> Result<Option<RunRecord>> {
        if run == 0 {
            return Ok(None);
        }
        Ok(self.history(run, run).await?.into_iter().next())
    }

    /// Runs `first..=last` (`last` 0: up to the current one).
    async fn history(&self, first: RunId, last: RunId) -> Result<Vec<RunRecord>> {
        let reply = self
            .eval(&SCRIPTS.history, &[&first.to_string(), &last.to_string()])
            .await?;
        array(reply)?.into_iter().map(run_record).collect()
    }

    pub(super) async fn ping(&self) -> Result<()> {
        let mut con = self.con();
        let _: String = redis::cmd("PING")
            .query_async(&mut con)
            .await
            .map_err(|e| self.failed(e))?;
        Ok(())
    }
    pub(super) async fn move_to(
        &self,
        run: RunId,
        from: &[String],
        slide: &str,
        path: &[String],
    ) -> Result<Option<RunState>> {
        let (from, path) = (path_json(from)?, path_json(path)?);
        let reply = self
            .eval(&SCRIPTS.move_to, &[&run.to_string(), &from, slide, &path])
            .await?;
        if let Value::Array(items) = &reply {
            if matches!(items.first(), Some(Value::BulkString(s)) if s == b"moved") {
                return Ok(None);
            }
        }
        state_reply(reply, run, "").map(Some)
    }

    /// The pub/sub channel every instance sharing this prefix listens on.
    fn channel(&self) -> String {
        format!("{}events", self.prefix)
    }

    pub(super) async fn publish(&self, event: &str) -> Result<()> {
        let mut con = self.con();
        let _: i64 = redis::cmd("PUBLISH")
            .arg(self.channel())
            .arg(event)
            .query_async(&mut con)
            .await
            .map_err(|e| self.failed(e))?;
        Ok(())
    }

    /// Opens a connection of its own, subscribes to the events channel and
    /// returns its messages. The stream ends when the connection does.
    pub(super) async fn subscribe(&self) -> Result<Events> {
        let client = self.client();
        let connecting = client.get_async_pubsub();
        let mut pubsub = tokio::time::timeout(CONNECTION_TIMEOUT, connecting)
            .await
            .map_err(|_| StoreError::Backend("Redis: no connection for the events within the timeout".into()))?
            .map_err(|e| self.failed(e))?;
        tokio::time::timeout(RESPONSE_TIMEOUT, pubsub.subscribe(self.channel()))
            .await
            .map_err(|_| StoreError::Backend("Redis: no answer to SUBSCRIBE within the timeout".into()))?
            .map_err(|e| backend("cannot subscribe to the events", e))?;
        let messages = pubsub
            .into_on_message()
            .filter_map(|m| std::future::ready(m.get_payload::<String>().ok()));
        Ok(Box::pin(messages))
    }

    pub(super) async fn audit(&self, repair: bool) -> Result<Audit> {
        let mut decisions = std::collections::BTreeSet::new();
        for part in ["voters", "tally", "frozen"] {
            let pattern = format!("{}run:*:{part}:*", glob_escape(&self.prefix));
            let mut con = self.con();
            let mut cursor: u64 = 0;
            loop {
                let (next, keys): (u64, Vec<String>) = redis::cmd("SCAN")
                    .arg(cursor)
                    .arg("MATCH")
                    .arg(&pattern)
                    .arg("COUNT")
                    .arg(1000)
                    .query_async(&mut con)
                    .await
                    .map_err(|e| self.failed(e))?;
                for key in keys {
                    // `{prefix}run:{n}:{part}:{decision}`; a decision id may
                    // itself hold colons, a run number cannot.
                    let rest = key.strip_prefix(&*self.prefix).and_then(|k| k.strip_prefix("run:"));
                    let Some((run, rest)) = rest.and_then(|r| r.split_once(':')) else {
                        continue;
                    };
                    let (Ok(run), Some(decision)) = (run.parse::<RunId>(), rest.strip_prefix(&format!("{part}:")))
                    else {
                        continue;
                    };
                    decisions.insert((run, decision.to_string()));
                }
                cursor = next;
                if cursor == 0 {
                    break;
                }
            }
        }
        let mut drift = Vec::new();
        let flag = if repair { "1" } else { "0" };
        for (run, decision) in &decisions {
            let reply = self.eval(&SCRIPTS.audit, &[&run.to_string(), decision, flag]).await?;
            for entry in array(reply)? {
                let mut items = array(entry)?.into_iter();
                let mut next = || items.next().unwrap_or(Value::Nil);
                let counter: String = parse(next())?;
                let choice: String = parse(next())?;
                let counted: String = parse(next())?;
                let recorded: u64 = parse(next())?;
                drift.push(Drift {
                    run: *run,
                    decision: decision.clone(),
                    counter,
                    choice,
                    counted: Some(counted).filter(|c| !c.is_empty()),
                    recorded,
                });
            }
        }
        drift.sort_by(|a, b| {
            (a.run, &a.decision, &a.counter, &a.choice).cmp(&(b.run, &b.decision, &b.counter, &b.choice))
        });
        Ok(Audit {
            decisions: decisions.len(),
            drift,
        })
    }
}

/// `s` with the glob characters of SCAN's MATCH escaped.
fn glob_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if matches!(c, '*' | '?' | '[' | ']' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// Asks the Sentinels for the primary; if it moved, connects to the new
/// one and puts that connection in use.
async fn find_primary(link: &Link) -> redis::RedisResult<()> {
    let Some(sentinel) = &link.sentinel else {
        return Ok(());
    };
    let client = sentinel.lock().await.async_get_client().await?;
    let known = link
        .current
        .read()
        .unwrap_or_else(|e| e.into_inner())
        .1
        .get_connection_info()
        .addr()
        .clone();
    if *client.get_connection_info().addr() == known {
        return Ok(());
    }
    let con = ConnectionManager::new_with_config(client.clone(), manager_config()).await?;
    tracing::info!("the Redis primary moved (Sentinel failover): using the new one");
    *link.current.write().unwrap_or_else(|e| e.into_inner()) = (con, client);
    Ok(())
}

fn backend(what: &str, e: redis::RedisError) -> StoreError {
    StoreError::Backend(format!("{what}: {e}"))
}

fn unexpected(what: impl std::fmt::Display) -> StoreError {
    StoreError::Backend(format!("unexpected reply from Redis: {what}"))
}

fn parse<T: FromRedisValue>(v: Value) -> Result<T> {
    redis::from_redis_value(v).map_err(unexpected)
}

/// The reply of vote.lua and sms_vote.lua.
fn vote_reply(reply: Value, run: RunId, decision: &str) -> Result<Delivery> {
    let mut items = array(reply)?.into_iter();
    match status(items.next())?.as_str() {
        "counted" => Ok(Delivery::First(VoteOutcome::Counted {
            previous: parse(items.next().unwrap_or(Value::Nil))?,
        })),
        "unchanged" => Ok(Delivery::First(VoteOutcome::Unchanged)),
        "again" => Ok(Delivery::Again(parse(items.next().unwrap_or(Value::Nil))?)),
        "not_open" => Err(StoreError::NotOpen(decision.to_string())),
        "not_current" => Err(StoreError::NotCurrent(run)),
        other => Err(unexpected(other)),
    }
}

/// A delivery mark's time to live in ms: PX 0 is an error in Redis, so a
/// zero TTL means "remember briefly".
fn delivery_ms(ttl: Duration) -> u64 {
    u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX).max(1)
}

fn array(v: Value) -> Result<Vec<Value>> {
    match v {
        Value::Array(items) => Ok(items),
        other => Err(unexpected(format!("{other:?}"))),
    }
}

/// The status word a script's reply starts with.
fn status(v: Option<Value>) -> Result<String> {
    parse(v.unwrap_or(Value::Nil))
}

fn tally(v: Value) -> Result<Tally> {
    Ok(Tally(parse::<BTreeMap<String, u64>>(v)?))
}

fn path_json(path: &[String]) -> Result<String> {
    serde_json::to_string(path).map_err(|e| StoreError::Backend(format!("cannot encode the path: {e}")))
}

/// A state reply: `{'ok', run, slide, path, open, results, explore}` or a
/// refusal.
fn state_reply(reply: Value, run: RunId, decision: &str) -> Result<RunState> {
    let mut items = array(reply)?.into_iter();
    match status(items.next())?.as_str() {
        "ok" => run_state(&mut items),
        "not_current" => Err(StoreError::NotCurrent(run)),
        "other_open" => Err(StoreError::OtherOpen(parse(items.next().unwrap_or(Value::Nil))?)),
        "not_open" => Err(StoreError::NotOpen(decision.to_string())),
        "lost" => Err(StoreError::Lost(lost_reason(
            parse::<Option<String>>(items.next().unwrap_or(Value::Nil))?.as_deref(),
        ))),
        other => Err(unexpected(other)),
    }
}

/// What the store's identity key holding `found` (instead of the one
/// claimed at start) says happened.
fn lost_reason(found: Option<&str>) -> String {
    match found {
        None => "Redis holds none of this talk's data: it came back empty (restarted without its RDB or AOF \
                 file, flushed, or failed over to an empty replica)"
            .to_string(),
        Some(_) => "Redis holds another talk's data: it came back empty and another instance began a new talk \
                    on it"
            .to_string(),
    }
}

/// Reads `run, slide, path, open, results, explore, started` from `items`
/// (`results` and `explore` are `'1'` or nil, `started` ms or nil: a run
/// kept by an older cyoa may lack them).
fn run_state(items: &mut impl Iterator<Item = Value>) -> Result<RunState> {
    let mut next = || items.next().unwrap_or(Value::Nil);
    let run: RunId = parse(next())?;
    let slide: String = parse(next())?;
    let path: String = parse(next())?;
    let path: Vec<String> = serde_json::from_str(&path).map_err(|e| unexpected(format!("path {path:?}: {e}")))?;
    let open: Option<String> = parse(next())?;
    let results: Option<String> = parse(next())?;
    let explore: Option<String> = parse(next())?;
    let started: Option<u64> = parse(next())?;
    Ok(RunState {
        run,
        slide,
        path,
        open,
        published: Published {
            results: results.as_deref() == Some("1"),
            explore: explore.as_deref() == Some("1"),
        },
        started,
    })
}

/// A history entry: `{run, slide, path, open, results, explore, started,
/// {decision, tally, ...}}`.
fn run_record(v: Value) -> Result<RunRecord> {
    let mut items = array(v)?.into_iter();
    let state = run_state(&mut items)?;
    let mut closed = Vec::new();
    let mut entries = array(items.next().unwrap_or(Value::Nil))?.into_iter();
    while let Some(decision) = entries.next() {
        closed.push(Closed {
            decision: parse(decision)?,
            tally: tally(entries.next().unwrap_or(Value::Nil))?,
        });
    }
    Ok(RunRecord { state, closed })
}
