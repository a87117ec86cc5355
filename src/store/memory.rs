//! The in-memory vote store: one mutex around plain maps.
//!
//! Every operation takes the lock once, so a vote's move (decrement the old
//! choice, increment the new one, record the voter) is one atomic step, as
//! the Redis script is. The presence sweep alone is a walk in steps
//! ([`SWEEP_STEP`] voters under the lock at a time, as the Redis sweep is
//! one script call a step), each voter's check and withdrawal atomic, so a
//! vote waits behind one step, never a whole sweep; and it walks only the
//! presence votes, kept apart from sticky ones, so its cost does not grow
//! with the sticky voters (form votes, texts) however many there are.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet, VecDeque};
use std::ops::Bound;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use super::{
    Audit, Cast, Closed, Countdown, Delivery, Drift, Now, Publication, Published, Result, RunId, RunRecord, RunState,
    Step, StoreError, Tally, TextVote, VoteKind, VoteOutcome, Voter, asked, now_ms,
};

/// Voters looked up per hold of the lock in [`MemoryStore::choices_of`].
const CHOICES_PER_LOCK: usize = 1024;

/// Presence votes, or leases, the presence sweep checks per hold of the
/// lock: a step takes tens of microseconds, so a vote never waits long
/// behind a sweep, whatever the audience.
const SWEEP_STEP: usize = 256;

/// Votes and runs held in this process.
#[derive(Clone, Default)]
pub struct MemoryStore {
    inner: Arc<Mutex<Inner>>,
    /// The outbound SMS queue ([`super::outbox`]).
    pub(super) outbox: Arc<Mutex<super::outbox::MemoryOutbox>>,
}

#[derive(Default)]
struct Inner {
    /// Run n is at index n - 1.
    runs: Vec<RunData>,
    /// Until when each voter with a page open counts as present; ordered,
    /// so that the sweep drops the ones that ran out a step at a time.
    leases: BTreeMap<Voter, Instant>,
    /// Each instance's lease and the voters it holds (see `arrive`).
    instances: HashMap<String, Instance>,
    /// Voters of reaped instances, with the instance, until their lease
    /// runs out or an instance holds them.
    orphans: HashMap<Voter, String>,
    /// Presence votes withdrawn when their instance was reaped, per run and
    /// decision: voter -> (instance, choice), for `rejoin`.
    reaped: HashMap<(RunId, String), HashMap<Voter, (String, String)>>,
    /// Webhook deliveries seen, until when each mark lasts.
    deliveries: HashMap<String, Instant>,
    /// The same marks in the order they were made, so that expired ones are
    /// dropped a few at a time instead of scanning the whole map per call.
    delivery_order: VecDeque<(Instant, String)>,
}

/// An instance's lease and the voters it holds.
#[derive(Default)]
struct Instance {
    until: Option<Instant>,
    voters: HashSet<Voter>,
}

struct RunData {
    state: RunState,
    closed: Vec<Closed>,
    decisions: HashMap<String, Ballots>,
}

#[derive(Default)]
struct Ballots {
    tally: Tally,
    voters: HashMap<Voter, (String, VoteKind)>,
    /// The voters whose vote here is a presence vote, in order: all the
    /// presence sweep walks, a step at a time from where it left off.
    present: BTreeSet<Voter>,
}

impl Ballots {
    /// Casts or moves `voter`'s vote (the decision is open: checked).
    fn cast(&mut self, voter: &Voter, choice: &str, kind: VoteKind) -> VoteOutcome {
        if let Some((old, old_kind)) = self.voters.get_mut(voter) {
            if old == choice {
                // The same vote again; a sticky vote outlasts a presence one.
                if *old_kind == VoteKind::Presence && kind == VoteKind::Sticky {
                    *old_kind = kind;
                    self.present.remove(voter);
                }
                return VoteOutcome::Unchanged;
            }
        }
        let previous = self.remove(voter);
        self.add(voter.clone(), choice.to_string(), kind);
        VoteOutcome::Counted { previous }
    }

    /// Counts `voter`'s vote for `choice` (the voter has none here).
    fn add(&mut self, voter: Voter, choice: String, kind: VoteKind) {
        *self.tally.0.entry(choice.clone()).or_insert(0) += 1;
        if kind == VoteKind::Presence {
            self.present.insert(voter.clone());
        }
        self.voters.insert(voter, (choice, kind));
    }

    fn remove(&mut self, voter: &Voter) -> Option<String> {
        let (choice, _) = self.voters.remove(voter)?;
        self.present.remove(voter);
        if let Some(n) = self.tally.0.get_mut(&choice) {
            *n = n.saturating_sub(1);
        }
        Some(choice)
    }
}

impl Inner {
    /// Lengthens `voter`'s lease to `until` at least (never shortens it).
    fn lengthen(&mut self, voter: &Voter, until: Instant) {
        let at = self.leases.entry(voter.clone()).or_insert(until);
        *at = (*at).max(until);
    }

    /// Marks the delivery `sid` as seen until `now + ttl`; false if a mark
    /// lasts already.
    fn mark_delivery(&mut self, sid: &str, ttl: Duration, now: Instant) -> bool {
        let Inner {
            deliveries,
            delivery_order,
            ..
        } = self;
        // Marks are queued in the order made; with one TTL that is also the
        // order they expire in. A longer-lived mark ahead only delays the
        // pruning of those behind it: lookups check the time themselves.
        while let Some((until, _)) = delivery_order.front() {
            if *until > now {
                break;
            }
            if let Some((until, old)) = delivery_order.pop_front() {
                if deliveries.get(&old) == Some(&until) {
                    deliveries.remove(&old);
                }
            }
        }
        if deliveries.get(sid).is_some_and(|until| *until > now) {
            return false;
        }
        let until = now + ttl;
        deliveries.insert(sid.to_string(), until);
        delivery_order.push_back((until, sid.to_string()));
        true
    }

    fn current_mut(&mut self, run: RunId) -> Result<&mut RunData> {
        let len = self.runs.len() as RunId;
        match self.runs.last_mut() {
            Some(r) if len == run => Ok(r),
            _ => Err(StoreError::NotCurrent(run)),
        }
    }

    fn get(&self, run: RunId) -> Option<&RunData> {
        run.checked_sub(1).and_then(|i| self.runs.get(i as usize))
    }

    /// Any run, current or earlier, to change what is kept about it (its
    /// label, what is published); never its votes.
    fn any_mut(&mut self, run: RunId) -> Result<&mut RunData> {
        run.checked_sub(1)
            .and_then(|i| self.runs.get_mut(i as usize))
            .ok_or(StoreError::NoRun(run))
    }

    fn push_run(&mut self, start: &str) -> RunState {
        let state = RunState {
            run: self.runs.len() as RunId + 1,
            slide: start.to_string(),
            path: vec![start.to_string()],
            open: None,
            published: Published::default(),
            started: Some(now_ms()),
            label: None,
            chosen: Vec::new(),
            deadline: None,
        };
        self.runs.push(RunData {
            state: state.clone(),
            closed: Vec::new(),
            decisions: HashMap::new(),
        });
        state
    }
}

impl RunData {
    fn close(&mut self, decision: &str) -> Tally {
        let tally = self
            .decisions
            .get(decision)
            .map(|b| b.tally.clone())
            .unwrap_or_default();
        if self.state.open.as_deref() == Some(decision) {
            self.state.open = None;
            self.state.deadline = None;
            self.closed.retain(|c| c.decision != decision);
            self.closed.push(Closed {
                decision: decision.to_string(),
                tally: tally.clone(),
            });
        }
        tally
    }

    fn open_ballots(&mut self, decision: &str) -> Result<&mut Ballots> {
        if self.state.open.as_deref() != Some(decision) {
            return Err(StoreError::NotOpen(decision.to_string()));
        }
        Ok(self.decisions.entry(decision.to_string()).or_default())
    }

    fn record(&self) -> RunRecord {
        RunRecord {
            state: self.state.clone(),
            closed: self.closed.clone(),
        }
    }
}

/// The ballots of `decision` in `run` while it is the current run and the
/// decision's vote is open.
fn open_ballots<'a>(runs: &'a mut [RunData], run: RunId, decision: &str) -> Option<&'a mut Ballots> {
    runs.last_mut()
        .filter(|r| r.state.run == run)
        .and_then(|r| r.open_ballots(decision).ok())
}

/// Where a presence sweep stands ([`MemoryStore::sweep_step`]).
#[derive(Default)]
pub(super) struct Sweep {
    phase: SweepPhase,
    /// The last voter the current phase walked.
    after: Option<Voter>,
}

#[derive(Default, Clone, Copy)]
enum SweepPhase {
    #[default]
    Begin,
    Votes,
    Leases,
}

/// What one step of a sweep did.
pub(super) struct SweepStep {
    /// The voters whose presence votes it withdrew.
    pub withdrawn: Vec<Voter>,
    /// The sweep is over.
    pub done: bool,
}

impl SweepStep {
    fn done(withdrawn: Vec<Voter>) -> SweepStep {
        SweepStep { withdrawn, done: true }
    }
}

/// The voters after `after` in order (all of them from `None`): where a
/// step of the sweep begins.
fn from(after: &Option<Voter>) -> (Bound<&Voter>, Bound<&Voter>) {
    match after {
        Some(voter) => (Bound::Excluded(voter), Bound::Unbounded),
        None => (Bound::Unbounded, Bound::Unbounded),
    }
}

/// Whether a live instance holds `voter`.
fn held(instances: &HashMap<String, Instance>, voter: &Voter) -> bool {
    instances
        .values()
        .any(|i| i.until.is_some() && i.voters.contains(voter))
}

/// Whether `voter` counts as present at `now`: a lease that runs, or a
/// live instance that holds it.
fn present(
    leases: &BTreeMap<Voter, Instant>,
    instances: &HashMap<String, Instance>,
    voter: &Voter,
    now: Instant,
) -> bool {
    leases.get(voter).is_some_and(|until| *until > now) || held(instances, voter)
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // A panic while holding the lock cannot leave the maps half-updated
        // in a way that matters more than stopping the talk would.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub(super) async fn current(&self, start: &str) -> Result<RunState> {
        let mut inner = self.lock();
        match inner.runs.last() {
            Some(r) => Ok(r.state.clone()),
            None => Ok(inner.push_run(start)),
        }
    }

    pub(super) async fn new_run(&self, start: &str) -> Result<RunState> {
        let mut inner = self.lock();
        if let Some(r) = inner.runs.last_mut() {
            if let Some(open) = r.state.open.clone() {
                r.close(&open);
            }
        }
        Ok(inner.push_run(start))
    }

    pub(super) async fn show(&self, run: RunId, slide: &str, path: &[String]) -> Result<RunState> {
        let mut inner = self.lock();
        let r = inner.current_mut(run)?;
        r.state.slide = slide.to_string();
        r.state.path = path.to_vec();
        Ok(r.state.clone())
    }

    pub(super) async fn move_to(&self, step: Step<'_>) -> Result<Option<RunState>> {
        let mut inner = self.lock();
        let r = inner.current_mut(step.run)?;
        if r.state.path != step.from {
            return Ok(None);
        }
        r.state.slide = step.slide.to_string();
        r.state.path = step.path.to_vec();
        if let Some(chosen) = step.chosen {
            r.state.chosen = chosen.to_vec();
        }
        Ok(Some(r.state.clone()))
    }

    pub(super) async fn open(&self, run: RunId, decision: &str) -> Result<RunState> {
        let mut inner = self.lock();
        let r = inner.current_mut(run)?;
        match r.state.open.as_deref() {
            Some(d) if d != decision => return Err(StoreError::OtherOpen(d.to_string())),
            _ => r.state.open = Some(decision.to_string()),
        }
        Ok(r.state.clone())
    }

    pub(super) async fn set_published(&self, run: RunId, what: Publication, on: bool) -> Result<RunState> {
        let mut inner = self.lock();
        let r = inner.any_mut(run)?;
        r.state.published.set(what, on);
        Ok(r.state.clone())
    }

    /// Takes `runs` (numbered from 1, checked by the caller) as this
    /// store's history, if it holds no run: false when it holds some. The
    /// history carries no voter records: the tallies are the closed ones.
    pub(super) async fn import(&self, runs: &[RunRecord]) -> Result<bool> {
        let mut inner = self.lock();
        if !inner.runs.is_empty() {
            return Ok(false);
        }
        inner.runs = runs
            .iter()
            .map(|r| RunData {
                state: r.state.clone(),
                closed: r.closed.clone(),
                decisions: HashMap::new(),
            })
            .collect();
        Ok(true)
    }

    pub(super) async fn set_label(&self, run: RunId, label: &str) -> Result<RunState> {
        let mut inner = self.lock();
        let r = inner.any_mut(run)?;
        r.state.label = Some(label.to_string()).filter(|l| !l.is_empty());
        Ok(r.state.clone())
    }

    pub(super) async fn countdown(&self, run: RunId, decision: &str, change: Countdown) -> Result<RunState> {
        let mut inner = self.lock();
        let r = inner.current_mut(run)?;
        if r.state.open.as_deref() != Some(decision) {
            return Err(StoreError::NotOpen(decision.to_string()));
        }
        let now = now_ms();
        r.state.deadline = match change {
            Countdown::Start(length) => Some(now.saturating_add(super::millis(length))),
            Countdown::Extend(by) => r.state.deadline.map(|at| at.max(now).saturating_add(super::millis(by))),
            Countdown::Cancel => None,
        };
        Ok(r.state.clone())
    }

    pub(super) async fn expire(&self, run: RunId, decision: &str, deadline: u64) -> Result<bool> {
        let mut inner = self.lock();
        let Ok(r) = inner.current_mut(run) else {
            return Ok(false);
        };
        if r.state.open.as_deref() != Some(decision) || r.state.deadline != Some(deadline) {
            return Ok(false);
        }
        r.close(decision);
        Ok(true)
    }

    pub(super) async fn close(&self, run: RunId, decision: &str) -> Result<Tally> {
        let mut inner = self.lock();
        let r = inner.current_mut(run)?;
        Ok(r.close(decision))
    }

    pub(super) async fn vote(&self, cast: Cast<'_>) -> Result<VoteOutcome> {
        let mut inner = self.lock();
        if let Some(lease) = cast.lease {
            inner.lengthen(cast.voter, Instant::now() + lease);
        }
        let b = inner.current_mut(cast.run)?.open_ballots(cast.decision)?;
        Ok(b.cast(cast.voter, cast.choice, cast.kind))
    }

    pub(super) async fn sms_vote(&self, text: TextVote<'_>, ttl: Duration) -> Result<Delivery> {
        let mut inner = self.lock();
        // The checks of a vote first: a refused vote marks nothing.
        inner.current_mut(text.run)?.open_ballots(text.decision)?;
        let first = inner.mark_delivery(text.sid, ttl, Instant::now());
        let b = inner.current_mut(text.run)?.open_ballots(text.decision)?;
        Ok(match first {
            true => Delivery::First(b.cast(text.voter, text.choice, VoteKind::Sticky)),
            false => Delivery::Again(b.voters.get(text.voter).map(|(c, _)| c.clone())),
        })
    }

    pub(super) async fn withdraw(
        &self,
        run: RunId,
        decision: &str,
        voter: &Voter,
        presence_only: bool,
    ) -> Result<Option<String>> {
        let mut inner = self.lock();
        let Ok(b) = inner.current_mut(run).and_then(|r| r.open_ballots(decision)) else {
            return Ok(None);
        };
        match b.voters.get(voter) {
            Some((_, VoteKind::Sticky)) if presence_only => Ok(None),
            Some(_) => Ok(b.remove(voter)),
            None => Ok(None),
        }
    }

    pub(super) async fn keep_present(&self, voters: &[Voter], lease: Duration) -> Result<()> {
        self.keep_present_now(voters, lease);
        Ok(())
    }

    /// In steps (see the module's notes, and [`Self::sweep_step`]).
    pub(super) async fn withdraw_absent(&self, run: RunId, decision: &str, me: &str, grace: Duration) -> Result<u64> {
        let mut sweep = Sweep::default();
        let mut withdrawn = 0;
        loop {
            let step = self.sweep_step(run, decision, me, grace, &mut sweep);
            withdrawn += step.withdrawn.len() as u64;
            if step.done {
                return Ok(withdrawn);
            }
            tokio::task::yield_now().await;
        }
    }

    /// One step of a presence sweep, under the lock once: first the
    /// reaping of dead instances, then the presence votes [`SWEEP_STEP`]
    /// at a time in voter order (a voter who votes meanwhile is checked or
    /// not, as with Redis's `HSCAN`), then the leases that ran out, as
    /// many at a time. The caller runs steps until one is `done`, letting
    /// other work in between.
    pub(super) fn sweep_step(
        &self,
        run: RunId,
        decision: &str,
        me: &str,
        grace: Duration,
        sweep: &mut Sweep,
    ) -> SweepStep {
        let now = Instant::now();
        let mut inner = self.lock();
        let Inner {
            runs,
            leases,
            instances,
            orphans,
            reaped,
            ..
        } = &mut *inner;
        let mut withdrawn = Vec::new();
        match sweep.phase {
            SweepPhase::Begin => {
                // Not open, or this instance reaped and not rejoined yet
                // (its own voters are missing): nothing to sweep.
                if open_ballots(runs, run, decision).is_none()
                    || (!me.is_empty() && instances.get(me).and_then(|i| i.until).is_none())
                {
                    return SweepStep::done(withdrawn);
                }
                let dead: Vec<String> = instances
                    .iter()
                    .filter(|(id, i)| id.as_str() != me && i.until.is_some_and(|until| until <= now))
                    .map(|(id, _)| id.clone())
                    .collect();
                for id in dead {
                    let Some(i) = instances.remove(&id) else { continue };
                    for voter in i.voters {
                        let at = leases.entry(voter.clone()).or_insert(now + grace);
                        *at = (*at).max(now + grace);
                        orphans.insert(voter, id.clone());
                    }
                }
                sweep.phase = SweepPhase::Votes;
            }
            SweepPhase::Votes => {
                // The vote closed, or a new run began, between two steps.
                let Some(b) = open_ballots(runs, run, decision) else {
                    return SweepStep::done(withdrawn);
                };
                let step: Vec<Voter> = b.present.range(from(&sweep.after)).take(SWEEP_STEP).cloned().collect();
                for voter in &step {
                    if present(leases, instances, voter, now) {
                        continue;
                    }
                    if let Some(choice) = b.remove(voter) {
                        if let Some(instance) = orphans.get(voter) {
                            reaped
                                .entry((run, decision.to_string()))
                                .or_default()
                                .insert(voter.clone(), (instance.clone(), choice));
                        }
                        withdrawn.push(voter.clone());
                    }
                }
                sweep.after = step.last().cloned();
                if step.len() < SWEEP_STEP {
                    orphans.retain(|voter, _| {
                        leases.get(voter).is_some_and(|until| *until > now) && !held(instances, voter)
                    });
                    (sweep.phase, sweep.after) = (SweepPhase::Leases, None);
                }
            }
            SweepPhase::Leases => {
                let step: Vec<(Voter, Instant)> = leases
                    .range(from(&sweep.after))
                    .take(SWEEP_STEP)
                    .map(|(voter, until)| (voter.clone(), *until))
                    .collect();
                for (voter, until) in &step {
                    if *until <= now {
                        leases.remove(voter);
                    }
                }
                sweep.after = step.last().map(|(voter, _)| voter.clone());
                if step.len() < SWEEP_STEP {
                    return SweepStep::done(withdrawn);
                }
            }
        }
        SweepStep { withdrawn, done: false }
    }

    pub(super) async fn arrive(&self, instance: &str, voter: &Voter, lease: Duration) -> Result<()> {
        let mut inner = self.lock();
        inner.lengthen(voter, Instant::now() + lease);
        inner
            .instances
            .entry(instance.to_string())
            .or_default()
            .voters
            .insert(voter.clone());
        Ok(())
    }

    pub(super) async fn leave(&self, instance: &str, voter: &Voter, grace: Duration) -> Result<()> {
        let until = Instant::now() + grace;
        let mut inner = self.lock();
        if let Some(i) = inner.instances.get_mut(instance) {
            i.voters.remove(voter);
        }
        inner.lengthen(voter, until);
        Ok(())
    }

    /// One process, one sweeper: always its turn.
    pub(super) async fn sweep_turn(&self, _instance: &str, _turn: Duration) -> Result<bool> {
        Ok(true)
    }

    pub(super) async fn beat(&self, instance: &str, lease: Duration) -> Result<bool> {
        let mut inner = self.lock();
        match inner.instances.get_mut(instance) {
            Some(Instance { until: Some(until), .. }) => {
                *until = Instant::now() + lease;
                Ok(true)
            }
            _ => Ok(false),
        }
    }

    pub(super) async fn rejoin(&self, instance: &str, voters: &[Voter], lease: Duration) -> Result<u64> {
        let mut inner = self.lock();
        let held: HashSet<Voter> = voters.iter().cloned().collect();
        let Inner {
            runs,
            instances,
            reaped,
            ..
        } = &mut *inner;
        instances.insert(
            instance.to_string(),
            Instance {
                until: Some(Instant::now() + lease),
                voters: held,
            },
        );
        let Some(r) = runs.last_mut() else {
            return Ok(0);
        };
        let (run, Some(decision)) = (r.state.run, r.state.open.clone()) else {
            return Ok(0);
        };
        let Some(kept) = reaped.get_mut(&(run, decision.clone())) else {
            return Ok(0);
        };
        let mine: Vec<Voter> = kept
            .iter()
            .filter(|(_, (by, _))| by == instance)
            .map(|(voter, _)| voter.clone())
            .collect();
        let b = r.decisions.entry(decision).or_default();
        let mut restored = 0;
        for voter in mine {
            let Some((_, choice)) = kept.remove(&voter) else {
                continue;
            };
            if instances[instance].voters.contains(&voter) && !b.voters.contains_key(&voter) {
                b.add(voter, choice, VoteKind::Presence);
                restored += 1;
            }
        }
        Ok(restored)
    }

    pub(super) async fn tally(&self, run: RunId, decision: &str) -> Result<Tally> {
        let inner = self.lock();
        Ok(inner
            .get(run)
            .and_then(|r| r.decisions.get(decision))
            .map(|b| b.tally.clone())
            .unwrap_or_default())
    }

    pub(super) async fn tally_if_current(&self, run: RunId, decision: &str) -> Result<Option<Tally>> {
        let inner = self.lock();
        if inner.runs.len() as RunId != run {
            return Ok(None);
        }
        Ok(Some(
            inner
                .get(run)
                .and_then(|r| r.decisions.get(decision))
                .map(|b| b.tally.clone())
                .unwrap_or_default(),
        ))
    }

    pub(super) async fn choice_of(&self, run: RunId, decision: &str, voter: &Voter) -> Result<Option<String>> {
        let mut one = self.choices_of(run, decision, std::slice::from_ref(voter)).await?;
        Ok(one.pop().flatten())
    }

    /// Under the lock a slice of voters at a time, so that a vote never
    /// waits behind the lookup of a whole audience.
    pub(super) async fn choices_of(&self, run: RunId, decision: &str, voters: &[Voter]) -> Result<Vec<Option<String>>> {
        let mut choices = Vec::with_capacity(voters.len());
        for some in voters.chunks(CHOICES_PER_LOCK) {
            let inner = self.lock();
            let ballots = inner.get(run).and_then(|r| r.decisions.get(decision));
            choices.extend(
                some.iter()
                    .map(|v| ballots.and_then(|b| b.voters.get(v)).map(|(c, _)| c.clone())),
            );
        }
        Ok(choices)
    }

    pub(super) async fn runs(&self) -> Result<Vec<RunRecord>> {
        Ok(self.lock().runs.iter().map(RunData::record).collect())
    }

    pub(super) async fn run(&self, run: RunId) -> Result<Option<RunRecord>> {
        Ok(self.lock().get(run).map(RunData::record))
    }

    /// Under the lock once: a vote cannot come between the run read and
    /// its tally.
    pub(super) async fn now(&self, start: &str, voter: Option<&Voter>, pinned: Option<&str>) -> Result<Now> {
        let mut inner = self.lock();
        if inner.runs.is_empty() {
            inner.push_run(start);
        }
        let Some(r) = inner.runs.last() else {
            return Err(StoreError::Backend("no current run".into()));
        };
        let ballots = |d: &str| r.decisions.get(d);
        let tally = r
            .state
            .open
            .as_deref()
            .and_then(ballots)
            .map(|b| b.tally.clone())
            .unwrap_or_default();
        let choices = match voter {
            Some(v) => asked(&r.state, pinned)
                .into_iter()
                .map(|d| {
                    let choice = ballots(d).and_then(|b| b.voters.get(v)).map(|(c, _)| c.clone());
                    (d.to_string(), choice)
                })
                .collect(),
            None => Vec::new(),
        };
        Ok(Now {
            record: r.record(),
            tally,
            choices,
        })
    }

    /// Counters here move under one lock with the voter records: they
    /// cannot drift, but they are recounted all the same.
    pub(super) async fn audit(&self, repair: bool) -> Result<Audit> {
        let mut inner = self.lock();
        let mut audit = Audit::default();
        for r in &mut inner.runs {
            for (decision, b) in &mut r.decisions {
                audit.decisions += 1;
                let mut recorded = Tally::default();
                for (choice, _) in b.voters.values() {
                    *recorded.0.entry(choice.clone()).or_insert(0) += 1;
                }
                let mut choices: Vec<&String> = recorded.0.keys().chain(b.tally.0.keys()).collect();
                choices.sort();
                choices.dedup();
                for choice in choices {
                    if b.tally.get(choice) != recorded.get(choice) {
                        audit.drift.push(Drift {
                            run: r.state.run,
                            decision: decision.clone(),
                            counter: "tally".into(),
                            choice: choice.clone(),
                            counted: b.tally.0.get(choice).map(u64::to_string),
                            recorded: recorded.get(choice),
                        });
                    }
                }
                if repair {
                    b.tally = recorded;
                }
            }
        }
        Ok(audit)
    }

    /// Nothing to check: this store lives and dies with the process.
    pub(super) async fn verify(&self) -> Result<()> {
        Ok(())
    }

    pub(super) async fn ping(&self) -> Result<()> {
        Ok(())
    }
}

/// One run as the embedded store keeps it on disk, to fill a
/// [`MemoryStore`] at start ([`MemoryStore::restore`]).
pub(super) struct Saved {
    pub state: RunState,
    pub closed: Vec<Closed>,
    /// (decision, voter, choice, kind) of every recorded vote.
    pub ballots: Vec<(String, String, String, VoteKind)>,
}

/// What the embedded store reads back after an operation, to write it.
impl MemoryStore {
    /// A store holding these runs (run n at index n - 1, checked by the
    /// caller); each tally is counted from its voter records.
    pub(super) fn restore(saved: Vec<Saved>) -> MemoryStore {
        let store = MemoryStore::new();
        {
            let mut inner = store.lock();
            for run in saved {
                let mut decisions: HashMap<String, Ballots> = HashMap::new();
                for (decision, voter, choice, kind) in run.ballots {
                    decisions.entry(decision).or_default().add(Voter(voter), choice, kind);
                }
                inner.runs.push(RunData {
                    state: run.state,
                    closed: run.closed,
                    decisions,
                });
            }
        }
        store
    }

    /// Marks the delivery `sid` as seen until `until` (restored at start).
    pub(super) fn restore_delivery(&self, sid: &str, until: Instant) {
        let mut inner = self.lock();
        inner.deliveries.insert(sid.to_string(), until);
        inner.delivery_order.push_back((until, sid.to_string()));
    }

    /// The voters with a presence vote in the current run.
    pub(super) fn presence_voters(&self) -> Vec<Voter> {
        let inner = self.lock();
        let Some(r) = inner.runs.last() else {
            return Vec::new();
        };
        r.decisions
            .values()
            .flat_map(|b| b.voters.iter())
            .filter(|(_, (_, kind))| *kind == VoteKind::Presence)
            .map(|(voter, _)| voter.clone())
            .collect()
    }

    /// The number of the newest run (0: none yet).
    pub(super) fn last_run(&self) -> RunId {
        self.lock().runs.len() as RunId
    }

    /// A run's state and closed decisions.
    pub(super) fn run_rows(&self, run: RunId) -> Option<(RunState, Vec<Closed>)> {
        self.lock().get(run).map(|r| (r.state.clone(), r.closed.clone()))
    }

    /// `voter`'s vote on `decision` in `run`, with its kind.
    pub(super) fn ballot(&self, run: RunId, decision: &str, voter: &Voter) -> Option<(String, VoteKind)> {
        self.lock()
            .get(run)
            .and_then(|r| r.decisions.get(decision))
            .and_then(|b| b.voters.get(voter))
            .cloned()
    }

    /// Every vote recorded on `decision` in `run`.
    pub(super) fn ballots(&self, run: RunId, decision: &str) -> Vec<(String, String, VoteKind)> {
        self.lock()
            .get(run)
            .and_then(|r| r.decisions.get(decision))
            .map(|b| {
                b.voters
                    .iter()
                    .map(|(voter, (choice, kind))| (voter.0.clone(), choice.clone(), *kind))
                    .collect()
            })
            .unwrap_or_default()
    }
}

impl MemoryStore {
    /// [`Self::keep_present`], outside of any task (at start).
    pub(super) fn keep_present_now(&self, voters: &[Voter], lease: Duration) {
        let until = Instant::now() + lease;
        let mut inner = self.lock();
        for voter in voters {
            inner.lengthen(voter, until);
        }
    }
}
