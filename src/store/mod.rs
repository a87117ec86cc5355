//! The vote store: runs, the presenter's place in the story, and votes.
//!
//! Three backends with the same behaviour: [`EmbeddedStore`] (the default:
//! one instance, an SQLite file that keeps every acknowledged change),
//! [`MemoryStore`] (`--memory`: nothing kept, for tests and benchmarks) and
//! [`RedisStore`] (several instances). The one behaviour suite in
//! `tests/store.rs` runs against all three.

mod embedded;
mod memory;
mod outbox;
mod redis;

use std::collections::BTreeMap;
use std::time::Duration;

use serde::{Deserialize, Serialize};

pub use embedded::{EmbeddedStore, SCHEMA_VERSION, backup, lock_path, read_only};
pub use memory::MemoryStore;
pub use outbox::Outgoing;
pub use redis::RedisStore;

/// A run is one performance of a story, numbered from 1.
pub type RunId = u64;

/// The longest run label, in characters.
pub const MAX_LABEL_CHARS: usize = 80;

/// Who votes: a browser (random id from its signed cookie) or a phone
/// (keyed hash of its number). The string is opaque to the store.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Voter(String);

impl Voter {
    /// A browser voter from the random id in its cookie.
    pub fn web(id: &str) -> Self {
        Voter(format!("w:{id}"))
    }
    /// A phone voter from the keyed hash of its number (never the number).
    pub fn phone(hash: &str) -> Self {
        Voter(format!("p:{hash}"))
    }
    /// The key the store files this voter under.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// How long a vote lasts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum VoteKind {
    /// Withdrawn when the voter's pages are gone (see `withdraw` and
    /// `withdraw_absent`).
    Presence,
    /// Stays until the voter changes it.
    Sticky,
}

/// Where a run stands: the presenter's slide, the path taken, the open vote.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunState {
    /// This run's number.
    pub run: RunId,
    /// The slide on screen.
    pub slide: String,
    /// Slides shown so far in this run, oldest first; the last is `slide`.
    pub path: Vec<String>,
    /// The decision whose vote is open, if any (at most one).
    pub open: Option<String>,
    /// What the presenter has opened to the audience in this run.
    pub published: Published,
    /// When the run began, in milliseconds since the Unix epoch, by the
    /// store's clock (Redis's `TIME`, or this process's for the memory
    /// store), so every instance shows the same elapsed time. `None` for a
    /// run recorded before cyoa kept it.
    pub started: Option<u64>,
    /// The presenter's name for the run ("PyCon 2027", "rehearsal"), if
    /// any ([`VoteStore::set_label`]).
    #[serde(default)]
    pub label: Option<String>,
    /// How the run went on from each decision it left by Next or by a
    /// choice's number (the last time, for a decision passed twice), in
    /// the order they were left. Empty in a run recorded before cyoa kept
    /// it, and in the exports of such a run.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub chosen: Vec<Chosen>,
    /// When the open vote's countdown ends, in milliseconds since the Unix
    /// epoch by the store's clock (as `started`); `None` when no countdown
    /// runs ([`VoteStore::countdown`]). Closing the vote clears it. Not in
    /// the exports: a history has no running countdown.
    #[serde(skip)]
    pub deadline: Option<u64>,
}

/// A change to the countdown of the open vote ([`VoteStore::countdown`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Countdown {
    /// Starts it, or starts it again: the vote closes this long from now.
    Start(Duration),
    /// Adds this long to the running countdown (from now, if it ran out
    /// already and the vote is not closed yet); nothing when none runs.
    Extend(Duration),
    /// Stops it: the vote stays open until the presenter closes it.
    Cancel,
}

/// This process's clock in milliseconds since the Unix epoch (the memory
/// and embedded stores' clock; on one machine, Redis's `TIME` too).
pub fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

/// Milliseconds, for the store's clock arithmetic.
pub(super) fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

/// Which choice a run followed out of a decision, and who chose it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Chosen {
    /// The decision (slide) id.
    pub decision: String,
    /// The choice followed.
    pub choice: String,
    /// Who chose it.
    pub by: ChosenBy,
}

/// Who chose the way on from a decision.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ChosenBy {
    /// The vote: one choice had the most votes, and enough of them.
    Vote,
    /// The presenter, by a choice's number (key or console button): over
    /// the vote, in a tie, or with too few votes.
    Presenter,
    /// A tie, settled by the decision's `tie = "first"` rule.
    First,
    /// A tie, settled by the decision's `tie = "random"` rule.
    Random,
}

impl ChosenBy {
    /// `vote`, `presenter`, `first` or `random`: as in the exports.
    pub fn as_str(self) -> &'static str {
        match self {
            ChosenBy::Vote => "vote",
            ChosenBy::Presenter => "presenter",
            ChosenBy::First => "first",
            ChosenBy::Random => "random",
        }
    }
}

/// `chosen` with the entry for `next.decision` replaced by `next` (moved to
/// the end): what a run records when it leaves a decision.
pub fn with_chosen(chosen: &[Chosen], next: Chosen) -> Vec<Chosen> {
    let mut out: Vec<Chosen> = chosen.iter().filter(|c| c.decision != next.decision).cloned().collect();
    out.push(next);
    out
}

/// What of a run the audience may see besides the live talk: both start
/// off in every run, and the presenter turns them on (and off again).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Published {
    /// `/results`: the path taken and each decision's tally; the exports.
    pub results: bool,
    /// `/explore`: every slide and branch, the paths not taken too.
    pub explore: bool,
}

/// One of the [`Published`] switches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Publication {
    /// [`Published::results`].
    Results,
    /// [`Published::explore`].
    Explore,
}

impl Publication {
    /// `results` or `explore`: the field of the run's state in Redis.
    pub fn as_str(self) -> &'static str {
        match self {
            Publication::Results => "results",
            Publication::Explore => "explore",
        }
    }
}

impl Published {
    /// Turns one switch on or off.
    pub fn set(&mut self, what: Publication, on: bool) {
        match what {
            Publication::Results => self.results = on,
            Publication::Explore => self.explore = on,
        }
    }
}

/// Votes per choice id; a choice with no votes may be absent.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tally(pub BTreeMap<String, u64>);

impl Tally {
    /// Votes for one choice.
    pub fn get(&self, choice: &str) -> u64 {
        self.0.get(choice).copied().unwrap_or(0)
    }
    /// Votes in all.
    pub fn total(&self) -> u64 {
        self.0.values().sum()
    }
}

/// A decision whose vote was closed, with its frozen tally.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Closed {
    /// The decision (slide) id.
    pub decision: String,
    /// The tally when it closed.
    pub tally: Tally,
}

/// One run's history.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunRecord {
    /// Where the run stands (or stood when a newer run began).
    pub state: RunState,
    /// Closed decisions, in the order they were closed (a reopened and
    /// closed again decision appears once, with its last tally).
    pub closed: Vec<Closed>,
}

/// Where the current run stands for one page or socket, read in one store
/// call ([`VoteStore::now`]) instead of four (the run, its record, the open
/// vote's tally, the voter's choice): what a voter's arrival costs the
/// store, once for the page and once for its socket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Now {
    /// The current run's record.
    pub record: RunRecord,
    /// The open vote's live tally (empty when no vote is open).
    pub tally: Tally,
    /// The voter's choice on each decision it was read for: the open vote,
    /// the slide shown (as a decision id) and the pinned decision, each
    /// that names one; empty without a voter.
    pub choices: Vec<(String, Option<String>)>,
}

impl Now {
    /// The voter's choice on `decision` (`Some(None)`: none), or `None`
    /// when it was not read for that decision.
    pub fn choice_on(&self, decision: &str) -> Option<Option<String>> {
        self.choices
            .iter()
            .find(|(d, _)| d == decision)
            .map(|(_, choice)| choice.clone())
    }
}

/// The decisions [`VoteStore::now`] reads a voter's choice on: the open
/// vote, the slide shown and the pinned one, each once.
pub(crate) fn asked<'a>(state: &'a RunState, pinned: Option<&'a str>) -> Vec<&'a str> {
    let mut asked: Vec<&str> = Vec::with_capacity(3);
    for d in [state.open.as_deref(), Some(state.slide.as_str()), pinned]
        .into_iter()
        .flatten()
    {
        if !asked.contains(&d) {
            asked.push(d);
        }
    }
    asked
}

/// What a vote did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VoteOutcome {
    /// Counted; `previous` is the choice it moved away from, if any.
    Counted { previous: Option<String> },
    /// The voter already had this choice: nothing changed.
    Unchanged,
}

/// One move as a backend takes it (the arguments of [`VoteStore::move_to`]).
#[derive(Debug, Clone, Copy)]
struct Step<'a> {
    run: RunId,
    from: &'a [String],
    slide: &'a str,
    path: &'a [String],
    chosen: Option<&'a [Chosen]>,
}

/// One vote as a backend takes it (the arguments of [`VoteStore::vote`]).
#[derive(Debug, Clone, Copy)]
struct Cast<'a> {
    run: RunId,
    decision: &'a str,
    voter: &'a Voter,
    choice: &'a str,
    kind: VoteKind,
    /// The voter's lease, lengthened to this at least in the same step
    /// (a vote from a page without JavaScript, [`VoteStore::vote_from_page`]).
    lease: Option<Duration>,
}

impl<'a> Cast<'a> {
    /// A vote that leaves the voter's lease as it is.
    fn new(run: RunId, decision: &'a str, voter: &'a Voter, choice: &'a str, kind: VoteKind) -> Self {
        let lease = None;
        Cast {
            run,
            decision,
            voter,
            choice,
            kind,
            lease,
        }
    }
}

/// A text's vote, once read: the phone's sticky vote for `choice` on
/// `decision` in `run`, delivered as Twilio's message `sid`.
#[derive(Debug, Clone, Copy)]
pub struct TextVote<'a> {
    /// The run it counts in; the store checks it is current.
    pub run: RunId,
    /// The decision's id; the store checks its vote is open.
    pub decision: &'a str,
    /// The phone, by its keyed hash (`sms::phone_hash`).
    pub voter: &'a Voter,
    /// The choice's id.
    pub choice: &'a str,
    /// Twilio's `MessageSid`: a second delivery counts nothing again.
    pub sid: &'a str,
}

/// What a text's vote did ([`VoteStore::sms_vote`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Delivery {
    /// The first delivery of this text: its vote, as [`VoteStore::vote`].
    First(VoteOutcome),
    /// A delivery seen before: nothing counted again. The voter's choice on
    /// this decision as it stands (`None`: the first delivery counted on
    /// another decision or run).
    Again(Option<String>),
}

/// Why the store refused or failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The decision's vote is not open (never opened, closed, or another is).
    #[error("the vote on {0:?} is not open")]
    NotOpen(String),
    /// Opening a vote while another is open.
    #[error("the vote on {0:?} is still open; close it first")]
    OtherOpen(String),
    /// The run does not exist or is not the current one.
    #[error("run {0} is not the current run")]
    NotCurrent(RunId),
    /// No run has this number.
    #[error("there is no run {0}")]
    NoRun(RunId),
    /// The backend failed (Redis down, bad reply).
    #[error("store unavailable: {0}")]
    Backend(String),
    /// Redis came back without this talk's data; nothing is taken until
    /// the operator acts (see [`VoteStore::verify`]).
    #[error("the vote store lost its data: {0}")]
    Lost(String),
}

/// A counter that disagrees with the voter records it should count.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Drift {
    /// The run.
    pub run: RunId,
    /// The decision.
    pub decision: String,
    /// Which counter: `tally` (the live one), `frozen` (kept at close), or
    /// `present` (the Redis store's set of presence voters: `counted` is
    /// its size, `recorded` the presence votes, `choice` empty).
    pub counter: String,
    /// The choice whose count is off.
    pub choice: String,
    /// What the counter holds (`None`: nothing).
    pub counted: Option<String>,
    /// How many voter records name this choice.
    pub recorded: u64,
}

/// What [`VoteStore::audit`] found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Audit {
    /// Decisions checked, over every run.
    pub decisions: usize,
    /// Counters that differed from the voter records (before any repair).
    pub drift: Vec<Drift>,
}

/// The events other instances published (see [`VoteStore::subscribe`]).
pub type Events = std::pin::Pin<Box<dyn futures_util::Stream<Item = String> + Send>>;

/// The store's result.
pub type Result<T> = std::result::Result<T, StoreError>;

/// The vote store in use.
#[derive(Clone)]
pub enum VoteStore {
    /// In this process; gone when it stops.
    Memory(MemoryStore),
    /// In Redis, shared by every instance with the same prefix.
    Redis(RedisStore),
    /// In this process, written through to an SQLite file.
    Embedded(EmbeddedStore),
}

macro_rules! delegate {
    ($self:ident . $m:ident ( $($a:expr),* )) => {{
        // Every call, on every store, for /metrics.
        crate::metrics::store_call(stringify!($m));
        match $self {
            VoteStore::Memory(s) => s.$m($($a),*).await,
            VoteStore::Embedded(s) => s.$m($($a),*).await,
            VoteStore::Redis(s) => {
                // Round trip and failures of every Redis call, for /metrics.
                let started = std::time::Instant::now();
                let result = s.$m($($a),*).await;
                let failed = matches!(result, Err(StoreError::Backend(_)));
                crate::metrics::redis_call(stringify!($m), started.elapsed(), failed);
                result
            }
        }
    }};
}

impl VoteStore {
    /// The current run, creating run 1 at `start` if there is none yet.
    pub async fn current(&self, start: &str) -> Result<RunState> {
        delegate!(self.current(start))
    }
    /// Begins a new run at `start`; it becomes the current run. Any open
    /// vote of the old run is closed first.
    pub async fn new_run(&self, start: &str) -> Result<RunState> {
        delegate!(self.new_run(start))
    }
    /// Moves the presenter of the current run `run` to `slide`, with the
    /// path taken to get there. Refused if `run` is not current.
    pub async fn show(&self, run: RunId, slide: &str, path: &[String]) -> Result<RunState> {
        delegate!(self.show(run, slide, path))
    }
    /// Like [`Self::show`], but only if the run's path is still `from` (as
    /// the caller read it): a compare-and-set, so presenter commands on two
    /// instances cannot interleave. `None`: the path changed meanwhile and
    /// nothing was written. `chosen`, when given, replaces the run's
    /// [`RunState::chosen`] in the same step.
    pub async fn move_to(
        &self,
        run: RunId,
        from: &[String],
        slide: &str,
        path: &[String],
        chosen: Option<&[Chosen]>,
    ) -> Result<Option<RunState>> {
        let step = Step {
            run,
            from,
            slide,
            path,
            chosen,
        };
        delegate!(self.move_to(step))
    }
    /// Opens the vote on `decision`. Refused if another vote is open;
    /// opening the open one again changes nothing. A closed decision may be
    /// reopened: its votes stand and count on.
    pub async fn open(&self, run: RunId, decision: &str) -> Result<RunState> {
        delegate!(self.open(run, decision))
    }
    /// Turns `what` on or off for the audience in run `run`, the current
    /// one or an earlier one (a rehearsal published after the talk);
    /// [`StoreError::NoRun`] if there is no such run. A new run starts
    /// with both off.
    pub async fn set_published(&self, run: RunId, what: Publication, on: bool) -> Result<RunState> {
        delegate!(self.set_published(run, what, on))
    }
    /// Names run `run` (any run, not only the current one) `label`; an
    /// empty label removes the name. The caller bounds and checks it
    /// ([`MAX_LABEL_CHARS`]). [`StoreError::NoRun`] if there is no such run.
    pub async fn set_label(&self, run: RunId, label: &str) -> Result<RunState> {
        delegate!(self.set_label(run, label))
    }
    /// Starts, restarts, extends or cancels the countdown of the open vote
    /// on `decision` in the current run `run`, by the store's clock (one
    /// clock for every instance). [`StoreError::NotOpen`] if that vote is
    /// not open. The state returned has the new [`RunState::deadline`].
    pub async fn countdown(&self, run: RunId, decision: &str, change: Countdown) -> Result<RunState> {
        delegate!(self.countdown(run, decision, change))
    }
    /// Closes the vote on `decision` because its countdown ran out, as
    /// [`Self::close`] does, but only if `run` is still the current run,
    /// `decision` still open and its deadline still `deadline` (as the
    /// caller read it). True when this call closed it: of every instance
    /// whose timer fires for that deadline, exactly one gets true. A
    /// deadline restarted, extended or cancelled meanwhile closes nothing.
    pub async fn expire(&self, run: RunId, decision: &str, deadline: u64) -> Result<bool> {
        delegate!(self.expire(run, decision, deadline))
    }
    /// Takes `runs` (`cyoa runs import`) as the history of a store that
    /// holds no run yet; the last becomes the current run. The runs must be
    /// numbered 1, 2, ... in order. A history carries no voter records:
    /// each closed decision keeps its frozen tally, an open vote is taken
    /// open with no votes. False when the store holds runs already (nothing
    /// is written).
    pub async fn import_runs(&self, runs: &[RunRecord]) -> Result<bool> {
        if let Some((i, r)) = runs.iter().enumerate().find(|(i, r)| r.state.run != *i as RunId + 1) {
            return Err(StoreError::Backend(format!(
                "the history's runs must be numbered 1, 2, ... in order: run {} is at place {}",
                r.state.run,
                i + 1
            )));
        }
        delegate!(self.import(runs))
    }
    /// Closes the vote on `decision`, freezing and recording its tally.
    /// Closing a decision that is not open returns its recorded tally
    /// (empty if never opened).
    pub async fn close(&self, run: RunId, decision: &str) -> Result<Tally> {
        delegate!(self.close(run, decision))
    }
    /// Casts or moves `voter`'s vote on the open `decision` to `choice`, in
    /// one atomic step. The caller has checked that `choice` exists.
    pub async fn vote(
        &self,
        run: RunId,
        decision: &str,
        voter: &Voter,
        choice: &str,
        kind: VoteKind,
    ) -> Result<VoteOutcome> {
        delegate!(self.vote(Cast::new(run, decision, voter, choice, kind)))
    }
    /// A presence vote from a page without JavaScript, which has no socket
    /// to keep its voter present: [`VoteStore::vote`] and
    /// [`VoteStore::keep_present`] for the voter, in one step (one round
    /// trip to Redis). The lease is lengthened even when the vote is
    /// refused.
    pub async fn vote_from_page(
        &self,
        run: RunId,
        decision: &str,
        voter: &Voter,
        choice: &str,
        lease: Duration,
    ) -> Result<VoteOutcome> {
        let cast = Cast {
            lease: Some(lease),
            ..Cast::new(run, decision, voter, choice, VoteKind::Presence)
        };
        delegate!(self.vote(cast))
    }
    /// Withdraws `voter`'s vote on the open `decision`; with
    /// `presence_only`, only a vote cast as [`VoteKind::Presence`]. Returns
    /// the choice withdrawn. A closed decision's tally is frozen: nothing
    /// is withdrawn from it.
    pub async fn withdraw(
        &self,
        run: RunId,
        decision: &str,
        voter: &Voter,
        presence_only: bool,
    ) -> Result<Option<String>> {
        delegate!(self.withdraw(run, decision, voter, presence_only))
    }
    /// These voters have an audience page open (on this instance): their
    /// presence votes stand for at least `lease` from now. Call it when a
    /// voter's page connects and again, for every connected voter, well
    /// within `lease` (the presence grace period). A lease is only ever
    /// lengthened. Leases belong to the voter, not to a run or decision, and
    /// every instance sharing the store shares them (two tabs on two
    /// instances: one voter, one vote).
    pub async fn keep_present(&self, voters: &[Voter], lease: Duration) -> Result<()> {
        delegate!(self.keep_present(voters, lease))
    }
    /// Withdraws the presence votes on the open `decision` of every voter
    /// whose lease ran out (or who never had one) and returns how many were
    /// withdrawn. Sticky votes stay; a closed decision is frozen. Any
    /// instance may call it, often (say every second): a voter whose
    /// instance was killed loses the vote once the lease runs out.
    pub async fn withdraw_absent(&self, run: RunId, decision: &str) -> Result<u64> {
        delegate!(self.withdraw_absent(run, decision, "", Duration::ZERO))
    }
    /// [`Self::withdraw_absent`] as the sweeper of `instance` runs it: a
    /// voter an instance holds (see [`Self::arrive`]) is present while that
    /// instance's lease lasts (see [`Self::beat`]). An instance whose lease
    /// ran out is reaped first: its voters get a lease of `grace`, as if
    /// their pages had just closed, and those whose votes are then
    /// withdrawn have them kept aside for [`Self::rejoin`]. The caller is
    /// never reaped (it is running), and once reaped it withdraws nothing
    /// until it rejoined.
    pub async fn withdraw_absent_as(&self, instance: &str, run: RunId, decision: &str, grace: Duration) -> Result<u64> {
        delegate!(self.withdraw_absent(run, decision, instance, grace))
    }
    /// `voter` opened an audience page on `instance`: the instance holds
    /// the voter (present) while its own lease lasts, and the voter also
    /// gets a lease of `lease` from now, which covers the time before the
    /// instance joined.
    pub async fn arrive(&self, instance: &str, voter: &Voter, lease: Duration) -> Result<()> {
        delegate!(self.arrive(instance, voter, lease))
    }
    /// `voter`'s last audience page on `instance` closed: the instance no
    /// longer holds the voter, whose lease runs `grace` from now.
    pub async fn leave(&self, instance: &str, voter: &Voter, grace: Duration) -> Result<()> {
        delegate!(self.leave(instance, voter, grace))
    }
    /// Whether `instance`'s sweeper walks the presence voters now (see
    /// [`Self::withdraw_absent_as`]). The walk is the same whoever makes
    /// it, so of several instances sharing a store one walks at a time:
    /// the one holding the turn, which runs `turn` from each call that
    /// keeps it. When its holder stops asking (killed, stalled), the turn
    /// runs out and the next instance to ask takes it. A store with one
    /// instance (memory, the data file) always says yes.
    pub async fn sweep_turn(&self, instance: &str, turn: Duration) -> Result<bool> {
        delegate!(self.sweep_turn(instance, turn))
    }
    /// The heartbeat of `instance`: its lease runs `lease` from now. False
    /// when it has no lease to renew (it never joined, or another instance
    /// reaped it while it stalled): it must [`Self::rejoin`].
    pub async fn beat(&self, instance: &str, lease: Duration) -> Result<bool> {
        delegate!(self.beat(instance, lease))
    }
    /// (Re)registers `instance` with exactly `voters` (those with a page
    /// open on it) and a lease of `lease`. Gives back, once, the presence
    /// votes withdrawn from these voters when the instance was reaped (it
    /// was stalled, not dead: their pages stayed open), unless the voter
    /// has voted since; returns how many came back.
    pub async fn rejoin(&self, instance: &str, voters: &[Voter], lease: Duration) -> Result<u64> {
        delegate!(self.rejoin(instance, voters, lease))
    }
    /// The live (or frozen) tally of `decision` in `run`.
    pub async fn tally(&self, run: RunId, decision: &str) -> Result<Tally> {
        delegate!(self.tally(run, decision))
    }
    /// The tally of `decision` in `run` while `run` is the current run,
    /// `None` once a new run began: one round trip, for the tally pushes.
    pub async fn tally_if_current(&self, run: RunId, decision: &str) -> Result<Option<Tally>> {
        delegate!(self.tally_if_current(run, decision))
    }
    /// `voter`'s current choice on `decision`.
    pub async fn choice_of(&self, run: RunId, decision: &str, voter: &Voter) -> Result<Option<String>> {
        delegate!(self.choice_of(run, decision, voter))
    }
    /// Each of `voters`' current choice on `decision`, in their order: one
    /// store call (one round trip to Redis) whatever their number, so that
    /// a state push costs the same few calls at 20 sockets or 20,000.
    pub async fn choices_of(&self, run: RunId, decision: &str, voters: &[Voter]) -> Result<Vec<Option<String>>> {
        delegate!(self.choices_of(run, decision, voters))
    }
    /// Every run, oldest first.
    pub async fn runs(&self) -> Result<Vec<RunRecord>> {
        delegate!(self.runs())
    }
    /// One run's history.
    pub async fn run(&self, run: RunId) -> Result<Option<RunRecord>> {
        delegate!(self.run(run))
    }
    /// The current run's record (run 1 begun at `start` if there is none
    /// yet, as [`Self::current`]), the open vote's live tally and
    /// `voter`'s choice on the open vote, the slide shown and `pinned`:
    /// one store call, one round trip to Redis, and one consistent reading.
    pub async fn now(&self, start: &str, voter: Option<&Voter>, pinned: Option<&str>) -> Result<Now> {
        delegate!(self.now(start, voter, pinned))
    }
    /// A text's sticky vote and the mark of its delivery (`sid`, Twilio's
    /// `MessageSid`, kept for `ttl`), in one atomic step and one round trip.
    /// The mark is made only when the vote is taken, so a refused text can
    /// be retried; a delivery marked before, on any instance sharing the
    /// store, counts nothing again ([`Delivery::Again`]). Errors as
    /// [`Self::vote`].
    pub async fn sms_vote(&self, text: TextVote<'_>, ttl: Duration) -> Result<Delivery> {
        delegate!(self.sms_vote(text, ttl))
    }
    /// Tells every instance sharing the store about `event` (Redis
    /// pub/sub). The memory store has no other instance: nothing to do.
    pub async fn publish(&self, event: &str) -> Result<()> {
        match self {
            VoteStore::Memory(_) | VoteStore::Embedded(_) => Ok(()),
            VoteStore::Redis(s) => {
                crate::metrics::store_call("publish");
                s.publish(event).await
            }
        }
    }
    /// The events every instance publishes, from now on, on a connection
    /// of its own; the stream ends when that connection fails (subscribe
    /// again). `None` for the memory store: no other instance.
    pub async fn subscribe(&self) -> Result<Option<Events>> {
        match self {
            VoteStore::Memory(_) | VoteStore::Embedded(_) => Ok(None),
            VoteStore::Redis(s) => s.subscribe().await.map(Some),
        }
    }
    /// Recounts every counter of every run from the voter records and
    /// returns those that differ; with `repair`, rewrites them from the
    /// records (one atomic step per decision).
    pub async fn audit(&self, repair: bool) -> Result<Audit> {
        delegate!(self.audit(repair))
    }
    /// Whether the store answers (for `/readyz`).
    pub async fn ping(&self) -> Result<()> {
        delegate!(self.ping())
    }
    /// Claims the store for this server: reads its identity (Redis: the
    /// random id in `{prefix}identity`, written by the first instance to
    /// find none) so that [`Self::verify`] can tell when Redis lost its
    /// data. The memory store cannot lose its data while it runs.
    pub async fn claim_identity(&self) -> Result<()> {
        match self {
            VoteStore::Memory(_) | VoteStore::Embedded(_) => Ok(()),
            VoteStore::Redis(s) => s.claim_identity().await,
        }
    }
    /// Checks that the store still holds the data claimed at start:
    /// [`StoreError::Lost`] when Redis came back without it (every call is
    /// then refused); when it holds it again (restored from a backup),
    /// calls are taken again.
    pub async fn verify(&self) -> Result<()> {
        delegate!(self.verify())
    }
    /// Called once the server has stopped: the embedded store folds its write-ahead log into
    /// the data file, so the file alone holds the talk. Nothing to do for
    /// the others.
    pub async fn stopped(&self) {
        if let VoteStore::Embedded(s) = self {
            if let Err(why) = s.checkpoint().await {
                tracing::warn!(file = %s.path().display(), "{why}");
            }
        }
    }
    /// Why the store is taken for having lost its data, if it is.
    pub fn lost(&self) -> Option<String> {
        match self {
            VoteStore::Memory(_) => None,
            VoteStore::Embedded(s) => s.failure(),
            VoteStore::Redis(s) => s.lost(),
        }
    }

    /// Whether other instances may share this store (Redis): only then
    /// are events published to them and theirs taken in.
    pub fn shared(&self) -> bool {
        matches!(self, VoteStore::Redis(_))
    }

    /// The embedded store's data file, if this is one.
    pub fn data_file(&self) -> Option<&std::path::Path> {
        match self {
            VoteStore::Embedded(s) => Some(s.path()),
            _ => None,
        }
    }
}
