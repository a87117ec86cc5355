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
//! | `{prefix}run:{n}:state`           | hash   | `slide`, `path` (JSON array), `open`, `results`, `explore` (`1` when published), `started` (ms), `label` |
//! | `{prefix}run:{n}:tally:{d}`       | hash   | choice -> votes, live                      |
//! | `{prefix}run:{n}:voters:{d}`      | hash   | voter -> `S|choice` or `P|choice`          |
//! | `{prefix}run:{n}:present:{d}`     | set    | the voters whose record is `P|...` (walked by the sweep) |
//! | `{prefix}run:{n}:indexed:{d}`     | string | `1` once `present:{d}` holds every presence vote |
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
//! round trip while Redis holds the script, see [`scripts`]), so it is
//! atomic: a vote checks the run and the open
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
//!
//! The key format is the store's alone: the keys above are built from the
//! prefix here, in `outbox` (the `smsout:` keys) and in the Lua scripts
//! (`run_key` and `instance_key` in `lua/common.lua`), and nowhere else in
//! cyoa. A voter record is `<kind>|<choice>` (`P` presence, `S` sticky),
//! written and read in the scripts only through `voter_record` and
//! `parse_voter_record` in common.lua, and in Rust through
//! [`decode::voter_record`].
//!
//! In parts: this file holds [`RedisStore`], its keys and its operations
//! (each one script call or one command); [`connection`] connects, follows
//! Sentinel failovers and subscribes to the events; [`decode`] turns
//! Redis's replies into the store's types; [`scripts`] is the one list of
//! Lua scripts, loaded into Redis ahead of use.

use std::sync::Arc;
use std::time::Duration;

use redis::{Script, Value};

use super::{
    Audit, Cast, Countdown, Delivery, Now, Publication, Result, RunId, RunRecord, RunState, Step, StoreError, Tally,
    TextVote, VoteOutcome, Voter,
};

mod connection;
mod decode;
mod scripts;

use connection::Link;
use decode::{
    audit_reply, close_reply, history_reply, kind_letter, lost_reason, move_reply, now_reply, parse, state_reply,
    unexpected, vote_reply, voter_record,
};
use scripts::SCRIPTS;

/// Voters per `keep_present` script call.
const PRESENT_PER_CALL: usize = 1000;

/// Voters per `HMGET` of [`RedisStore::choices_of`]: each holds Redis for
/// well under a millisecond.
const CHOICES_PER_COMMAND: usize = 1000;

/// The `COUNT` of each `SSCAN` step of the presence sweep
/// (`withdraw_absent.lua`) over the decision's presence voters (sticky
/// voters are not walked): about this many voters per script call (and
/// per `HSCAN` step of the one walk over the records that indexes a
/// decision written by an older cyoa). A vote waits behind a script call,
/// and the sweep of 10,000 voters in a single call took Redis 23 to 55 ms
/// (`SLOWLOG`), 2 to 6 µs a voter: a step of 256 holds Redis for about 0.6
/// to 1.4 ms, so a vote waits at most that long, while 10,000 presence
/// voters still take only about 40 calls a sweep (once a second), each a
/// round trip and a few cheap checks more. Much smaller steps would
/// multiply those; much larger ones, the wait.
const SWEEP_STEP: usize = 256;

/// The most steps one sweep takes. A walk ends when `SSCAN` (or `HSCAN`)
/// answers cursor 0, which it does within about voters / [`SWEEP_STEP`]
/// steps (a few more where the hash table has many empty buckets); this
/// bound, far above any audience (about two million voters), only keeps a
/// server whose cursor never comes back to 0 from looping the sweeper
/// forever. The next sweep starts the walk again.
const SWEEP_MAX_STEPS: usize = 10_000;

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

impl RedisStore {
    /// Connects to `url`; keys start with `prefix`. Fails if Redis does not
    /// answer; once connected, the store reconnects on its own.
    ///
    /// `redis+sentinel://host:port[,host:port...]/name` asks those Sentinels
    /// for the primary called `name`, and asks again whenever a command
    /// fails: after a failover the store follows the new primary without a
    /// restart.
    pub async fn connect(url: &str, prefix: &str) -> Result<Self> {
        Ok(RedisStore {
            link: Arc::new(Link::open(url).await?),
            prefix: prefix.into(),
            identity: Arc::default(),
        })
    }

    /// The prefix every key of this store starts with: which talk it holds
    /// in a Redis shared by several, for a log line or a label. Only the
    /// store builds keys from it.
    pub fn prefix(&self) -> &str {
        &self.prefix
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

    /// The key of one part of a run (`state`, `tally:{decision}`, ...), as
    /// `run_key` in common.lua builds it.
    fn key(&self, run: RunId, part: &str) -> String {
        format!("{}run:{run}:{part}", self.prefix)
    }

    /// The `SCAN MATCH` pattern of the `part` keys (`voters`, `tally`,
    /// `frozen`) of every decision of every run.
    fn every_decision_key(&self, part: &str) -> String {
        format!("{}run:*:{part}:*", glob_escape(&self.prefix))
    }

    /// The run and decision of a key `{prefix}run:{n}:{part}:{decision}`;
    /// `None` for any other key. A decision id may itself hold colons, a
    /// run number cannot.
    fn decision_of_key(&self, key: &str, part: &str) -> Option<(RunId, String)> {
        let rest = key.strip_prefix(&*self.prefix)?.strip_prefix("run:")?;
        let (run, rest) = rest.split_once(':')?;
        let decision = rest.strip_prefix(part)?.strip_prefix(':')?;
        Some((run.parse().ok()?, decision.to_string()))
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

    /// Writes `runs` (numbered from 1) into a prefix that holds no run;
    /// `Ok(false)` when it holds some.
    pub(super) async fn import(&self, runs: &[RunRecord]) -> Result<bool> {
        let runs: Vec<serde_json::Value> = runs
            .iter()
            .map(|r| {
                let s = &r.state;
                serde_json::json!({
                    "slide": s.slide,
                    "path": serde_json::to_string(&s.path).unwrap_or_else(|_| "[]".into()),
                    "open": s.open,
                    "results": s.published.results,
                    "explore": s.published.explore,
                    "started": s.started.map(|t| t.to_string()),
                    "label": s.label,
                    "chosen": (!s.chosen.is_empty()).then(|| serde_json::to_string(&s.chosen).unwrap_or_else(|_| "[]".into())),
                    "closed": r.closed.iter().map(|c| {
                        let tally: Vec<serde_json::Value> = c
                            .tally
                            .0
                            .iter()
                            .flat_map(|(choice, n)| [serde_json::json!(choice), serde_json::json!(n.to_string())])
                            .collect();
                        serde_json::json!([c.decision, tally])
                    }).collect::<Vec<_>>(),
                })
            })
            .collect();
        let json = serde_json::Value::Array(runs).to_string();
        let reply = self.eval(&SCRIPTS.import, &[&json]).await?;
        let status: Vec<Value> = match reply {
            Value::Array(items) => items,
            other => return Err(StoreError::Backend(format!("unexpected reply to import: {other:?}"))),
        };
        Ok(!matches!(status.first(), Some(Value::BulkString(s)) if s == b"not_empty"))
    }

    pub(super) async fn set_label(&self, run: RunId, label: &str) -> Result<RunState> {
        let reply = self.eval(&SCRIPTS.set_label, &[&run.to_string(), label]).await?;
        state_reply(reply, run, "")
    }

    pub(super) async fn countdown(&self, run: RunId, decision: &str, change: Countdown) -> Result<RunState> {
        let (change, length) = match change {
            Countdown::Start(length) => ("start", length),
            Countdown::Extend(by) => ("extend", by),
            Countdown::Cancel => ("cancel", Duration::ZERO),
        };
        let length = crate::store::millis(length).to_string();
        let args = [&run.to_string(), decision, change, &length];
        let reply = self.eval(&SCRIPTS.countdown, &args).await?;
        state_reply(reply, run, decision)
    }

    pub(super) async fn expire(&self, run: RunId, decision: &str, deadline: u64) -> Result<bool> {
        let args = [&run.to_string(), decision, &deadline.to_string()];
        let closed: i64 = parse(self.eval(&SCRIPTS.expire, &args).await?)?;
        Ok(closed == 1)
    }

    pub(super) async fn close(&self, run: RunId, decision: &str) -> Result<Tally> {
        let reply = self.eval(&SCRIPTS.close, &[&run.to_string(), decision]).await?;
        close_reply(reply, run)
    }

    pub(super) async fn vote(&self, cast: Cast<'_>) -> Result<VoteOutcome> {
        let run = cast.run;
        let run_arg = run.to_string();
        let lease_ms = cast.lease.map(|l| l.as_millis().to_string());
        let mut args = vec![
            run_arg.as_str(),
            cast.decision,
            cast.voter.as_str(),
            cast.choice,
            kind_letter(cast.kind),
        ];
        args.extend(lease_ms.as_deref());
        let reply = self.eval(&SCRIPTS.vote, &args).await?;
        match vote_reply(reply, run, cast.decision)? {
            Delivery::First(outcome) => Ok(outcome),
            Delivery::Again(_) => Err(unexpected("again")),
        }
    }

    pub(super) async fn sms_vote(&self, text: TextVote<'_>, ttl: Duration) -> Result<Delivery> {
        let ms = delivery_ms(ttl).to_string();
        let run = text.run.to_string();
        let args = [&run, text.decision, text.voter.as_str(), text.choice, text.sid, &ms];
        let reply = self.eval(&SCRIPTS.sms_vote, &args).await?;
        vote_reply(reply, text.run, text.decision)
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

    pub(super) async fn sweep_turn(&self, instance: &str, turn: Duration) -> Result<bool> {
        let ms = turn.as_millis().max(1).to_string();
        let mine: i64 = parse(self.eval(&SCRIPTS.sweep_turn, &[instance, &ms]).await?)?;
        Ok(mine == 1)
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
        decode::tally(reply)
    }

    pub(super) async fn tally_if_current(&self, run: RunId, decision: &str) -> Result<Option<Tally>> {
        let mut con = self.reads();
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
        decode::tally(reply).map(Some)
    }

    pub(super) async fn choice_of(&self, run: RunId, decision: &str, voter: &Voter) -> Result<Option<String>> {
        let mut one = self.choices_of(run, decision, std::slice::from_ref(voter)).await?;
        Ok(one.pop().flatten())
    }

    /// One round trip: an `HMGET` per [`CHOICES_PER_COMMAND`] voters, in
    /// one pipeline, so that other clients' commands run between them.
    pub(super) async fn choices_of(&self, run: RunId, decision: &str, voters: &[Voter]) -> Result<Vec<Option<String>>> {
        if voters.is_empty() {
            return Ok(Vec::new());
        }
        let key = self.key(run, &format!("voters:{decision}"));
        let mut pipe = redis::pipe();
        for some in voters.chunks(CHOICES_PER_COMMAND) {
            let fields: Vec<&str> = some.iter().map(Voter::as_str).collect();
            pipe.cmd("HMGET").arg(&key).arg(fields);
        }
        let mut con = self.con();
        let records: Vec<Vec<Option<String>>> = pipe.query_async(&mut con).await.map_err(|e| self.failed(e))?;
        Ok(records
            .into_iter()
            .flatten()
            .map(|record| {
                record
                    .as_deref()
                    .and_then(voter_record)
                    .map(|(_, choice)| choice.to_string())
            })
            .collect())
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

    pub(super) async fn now(&self, start: &str, voter: Option<&Voter>, pinned: Option<&str>) -> Result<Now> {
        let path = path_json(&[start.to_string()])?;
        let mut args = vec![start, path.as_str(), self.expected(), voter.map_or("", Voter::as_str)];
        args.extend(pinned);
        let reply = self.eval(&SCRIPTS.now, &args).await?;
        self.noted(now_reply(reply))
    }

    /// Runs `first..=last` (`last` 0: up to the current one).
    async fn history(&self, first: RunId, last: RunId) -> Result<Vec<RunRecord>> {
        let reply = self
            .eval(&SCRIPTS.history, &[&first.to_string(), &last.to_string()])
            .await?;
        history_reply(reply)
    }

    pub(super) async fn ping(&self) -> Result<()> {
        let mut con = self.con();
        let _: String = redis::cmd("PING")
            .query_async(&mut con)
            .await
            .map_err(|e| self.failed(e))?;
        Ok(())
    }
    pub(super) async fn move_to(&self, step: Step<'_>) -> Result<Option<RunState>> {
        let Step {
            run,
            from,
            slide,
            path,
            chosen,
        } = step;
        let (from, path) = (path_json(from)?, path_json(path)?);
        // '' keeps the run's choices as they are.
        let chosen = match chosen {
            Some(c) => serde_json::to_string(c).map_err(|e| StoreError::Backend(format!("the choices: {e}")))?,
            None => String::new(),
        };
        let reply = self
            .eval(&SCRIPTS.move_to, &[&run.to_string(), &from, slide, &path, &chosen])
            .await?;
        move_reply(reply, run)
    }

    /// The pub/sub channel every instance sharing this prefix listens on.
    fn channel(&self) -> String {
        format!("{}events", self.prefix)
    }

    pub(super) async fn publish(&self, event: &str) -> Result<()> {
        let mut con = self.reads();
        let _: i64 = redis::cmd("PUBLISH")
            .arg(self.channel())
            .arg(event)
            .query_async(&mut con)
            .await
            .map_err(|e| self.failed(e))?;
        Ok(())
    }

    pub(super) async fn audit(&self, repair: bool) -> Result<Audit> {
        let mut decisions = std::collections::BTreeSet::new();
        for part in ["voters", "tally", "frozen"] {
            let pattern = self.every_decision_key(part);
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
                decisions.extend(keys.iter().filter_map(|key| self.decision_of_key(key, part)));
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
            drift.extend(audit_reply(reply, *run, decision)?);
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

fn path_json(path: &[String]) -> Result<String> {
    serde_json::to_string(path).map_err(|e| StoreError::Backend(format!("cannot encode the path: {e}")))
}

/// A delivery mark's time to live in ms: PX 0 is an error in Redis, so a
/// zero TTL means "remember briefly".
fn delivery_ms(ttl: Duration) -> u64 {
    u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX).max(1)
}
