//! The in-memory vote store: one mutex around plain maps.
//!
//! Every operation takes the lock once, so a vote's move (decrement the old
//! choice, increment the new one, record the voter) is one atomic step, as
//! the Redis script is.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use super::{
    Audit, Closed, Drift, Publication, Published, Result, RunId, RunRecord, RunState, StoreError, Tally, VoteKind,
    VoteOutcome, Voter,
};

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
    /// Until when each voter with a page open counts as present.
    leases: HashMap<Voter, Instant>,
    /// Webhook deliveries seen, until when each mark lasts.
    deliveries: HashMap<String, Instant>,
    /// The same marks in the order they were made, so that expired ones are
    /// dropped a few at a time instead of scanning the whole map per call.
    delivery_order: VecDeque<(Instant, String)>,
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
}

impl Ballots {
    fn remove(&mut self, voter: &Voter) -> Option<String> {
        let (choice, _) = self.voters.remove(voter)?;
        if let Some(n) = self.tally.0.get_mut(&choice) {
            *n = n.saturating_sub(1);
        }
        Some(choice)
    }
}

impl Inner {
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

    fn push_run(&mut self, start: &str) -> RunState {
        let state = RunState {
            run: self.runs.len() as RunId + 1,
            slide: start.to_string(),
            path: vec![start.to_string()],
            open: None,
            published: Published::default(),
            started: Some(now_ms()),
        };
        self.runs.push(RunData {
            state: state.clone(),
            closed: Vec::new(),
            decisions: HashMap::new(),
        });
        state
    }
}

/// This process's clock in milliseconds since the Unix epoch.
fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
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

    pub(super) async fn move_to(
        &self,
        run: RunId,
        from: &[String],
        slide: &str,
        path: &[String],
    ) -> Result<Option<RunState>> {
        let mut inner = self.lock();
        let r = inner.current_mut(run)?;
        if r.state.path != from {
            return Ok(None);
        }
        r.state.slide = slide.to_string();
        r.state.path = path.to_vec();
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
        let r = inner.current_mut(run)?;
        r.state.published.set(what, on);
        Ok(r.state.clone())
    }

    pub(super) async fn close(&self, run: RunId, decision: &str) -> Result<Tally> {
        let mut inner = self.lock();
        let r = inner.current_mut(run)?;
        Ok(r.close(decision))
    }

    pub(super) async fn vote(
        &self,
        run: RunId,
        decision: &str,
        voter: &Voter,
        choice: &str,
        kind: VoteKind,
    ) -> Result<VoteOutcome> {
        let mut inner = self.lock();
        let b = inner.current_mut(run)?.open_ballots(decision)?;
        if let Some((old, old_kind)) = b.voters.get_mut(voter) {
            if old == choice {
                if *old_kind == VoteKind::Presence && kind == VoteKind::Sticky {
                    *old_kind = kind;
                }
                return Ok(VoteOutcome::Unchanged);
            }
        }
        let previous = b.remove(voter);
        *b.tally.0.entry(choice.to_string()).or_insert(0) += 1;
        b.voters.insert(voter.clone(), (choice.to_string(), kind));
        Ok(VoteOutcome::Counted { previous })
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
        let until = Instant::now() + lease;
        let mut inner = self.lock();
        for voter in voters {
            let at = inner.leases.entry(voter.clone()).or_insert(until);
            *at = (*at).max(until);
        }
        Ok(())
    }

    pub(super) async fn withdraw_absent(&self, run: RunId, decision: &str) -> Result<u64> {
        let now = Instant::now();
        let mut inner = self.lock();
        inner.leases.retain(|_, until| *until > now);
        let Inner { runs, leases, .. } = &mut *inner;
        let Some(b) = runs
            .last_mut()
            .filter(|r| r.state.run == run)
            .and_then(|r| r.open_ballots(decision).ok())
        else {
            return Ok(0);
        };
        let absent: Vec<Voter> = b
            .voters
            .iter()
            .filter(|(voter, (_, kind))| *kind == VoteKind::Presence && !leases.contains_key(*voter))
            .map(|(voter, _)| voter.clone())
            .collect();
        for voter in &absent {
            b.remove(voter);
        }
        Ok(absent.len() as u64)
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
        let inner = self.lock();
        Ok(inner
            .get(run)
            .and_then(|r| r.decisions.get(decision))
            .and_then(|b| b.voters.get(voter))
            .map(|(c, _)| c.clone()))
    }

    pub(super) async fn runs(&self) -> Result<Vec<RunRecord>> {
        Ok(self.lock().runs.iter().map(RunData::record).collect())
    }

    pub(super) async fn run(&self, run: RunId) -> Result<Option<RunRecord>> {
        Ok(self.lock().get(run).map(RunData::record))
    }

    pub(super) async fn first_delivery(&self, sid: &str, ttl: Duration) -> Result<bool> {
        let now = Instant::now();
        let mut inner = self.lock();
        let Inner {
            deliveries,
            delivery_order,
            ..
        } = &mut *inner;
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
            return Ok(false);
        }
        let until = now + ttl;
        deliveries.insert(sid.to_string(), until);
        delivery_order.push_back((until, sid.to_string()));
        Ok(true)
    }

    pub(super) async fn forget_delivery(&self, sid: &str) -> Result<()> {
        self.lock().deliveries.remove(sid);
        Ok(())
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

    pub(super) async fn ping(&self) -> Result<()> {
        Ok(())
    }
}
