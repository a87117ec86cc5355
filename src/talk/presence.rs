//! Presence: a web vote counts while its voter has an audience page open,
//! on any instance.
//!
//! Each instance counts its own open audience sockets per voter (two tabs:
//! one voter, one vote) and tells the store which voters it holds: when a
//! voter's first socket here opens (before the voter can vote), the store
//! notes that this instance holds the voter ([`VoteStore::arrive`]); when
//! the last one closes, the instance lets go and the voter gets a lease of
//! one grace period ([`VoteStore::leave`]): a page that comes back within
//! it, here or on another instance, keeps the vote.
//!
//! The instance itself holds a lease, renewed by the [`heartbeat`] every
//! third of a lease in one small store call, whatever the number of voters
//! ([`VoteStore::beat`]). Every instance runs the [`sweeper`], which
//! withdraws the presence votes on the open decision of voters no live
//! instance holds and whose own lease ran out; an instance whose lease ran
//! out (killed) is reaped by the others, and its voters that no other
//! instance holds lose their votes at once.
//!
//! A stalled instance (a starved runtime, a frozen or swapped-out process)
//! looks dead from outside and is reaped like one. So it never reaps
//! itself, withdraws nothing while its own heartbeat is late, and when its
//! heartbeat finds it was reaped it rejoins ([`VoteStore::rejoin`]) with
//! the voters whose pages are still open here: they get back, once, the
//! votes withdrawn when it was reaped. Any failed presence call also makes
//! the next heartbeat rejoin, so the store's view of this instance's voters
//! is rebuilt from the sockets after an outage.
//!
//! A store outage must not cost present voters their votes: leases that ran
//! out during it only mean the renewals failed. So after any store error the
//! sweeper holds off for two instance leases from the last error, long
//! enough for every instance's heartbeat to renew its lease (or rejoin)
//! once the store is back.
//! It also holds off for one lease after start, so that pages reconnecting
//! after every instance restarted find their votes still there.
//!
//! A page without JavaScript has no socket. In a presence story it reloads
//! itself every [`page_refresh`] (`<noscript><meta http-equiv="refresh">`)
//! as its heartbeat: its form vote, and each of those reloads, give the
//! voter a lease of [`page_lease`] (a refresh and a grace) through
//! [`VoteStore::keep_present`], and its votes are cast as presence votes.
//! When the page stops reloading, the sweeper withdraws the vote one grace
//! after the refresh that did not come.
//!
//! The heartbeat also checks that the store still holds this talk's data
//! ([`VoteStore::verify`]): Redis that came back empty stops the beats and
//! sweeps and puts the banner on the presenter's screens until the
//! operator acts (docs/reliability.md).
//!
//! [`VoteStore::arrive`]: crate::store::VoteStore::arrive
//! [`VoteStore::keep_present`]: crate::store::VoteStore::keep_present
//! [`VoteStore::leave`]: crate::store::VoteStore::leave
//! [`VoteStore::beat`]: crate::store::VoteStore::beat
//! [`VoteStore::rejoin`]: crate::store::VoteStore::rejoin
//! [`VoteStore::verify`]: crate::store::VoteStore::verify

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use tokio::time::Instant;

use super::Talk;
use crate::store::{VoteKind, Voter};
use crate::story::WebVotes;

/// The shortest voter lease, whatever the grace.
pub const MIN_LEASE: Duration = Duration::from_secs(1);
/// The shortest instance lease: how long an instance may stall before the
/// others take it for dead (a longer stall costs nothing in the end, see
/// the module's notes, but the tally dips meanwhile).
pub const MIN_INSTANCE_LEASE: Duration = Duration::from_secs(3);
/// The longest time between two sweeps.
pub const MAX_SWEEP_EVERY: Duration = Duration::from_secs(1);

/// Open audience sockets per voter on this instance, its id in the store,
/// its heartbeat's news, and when the sweeper may sweep again.
pub struct Presence {
    /// This instance's random id among the instances sharing the store.
    id: String,
    voters: Mutex<HashMap<Voter, usize>>,
    hold_until: Mutex<Instant>,
    /// When the last heartbeat that found this instance's lease began
    /// (`None`: not joined yet).
    beat_at: Mutex<Option<Instant>>,
    /// The store's view of this instance's voters may be wrong (a presence
    /// call failed, or the instance has not joined): the next heartbeat
    /// rejoins.
    must_rejoin: AtomicBool,
    /// Counts voters arriving and leaving here, so that a rejoin can tell
    /// whether its list went stale while it ran.
    changes: AtomicU64,
    /// Whether the presenter's screens were last told that the store lost
    /// its data.
    store_lost: AtomicBool,
}

impl Default for Presence {
    fn default() -> Self {
        Presence {
            id: format!("{:016x}", rand::random::<u64>()),
            voters: Mutex::new(HashMap::new()),
            hold_until: Mutex::new(Instant::now()),
            beat_at: Mutex::new(None),
            must_rejoin: AtomicBool::new(true),
            changes: AtomicU64::new(0),
            store_lost: AtomicBool::new(false),
        }
    }
}

/// How long a voter's lease lasts after the last page here closed: the
/// grace period, at least [`MIN_LEASE`].
pub fn lease(talk: &Talk) -> Duration {
    talk.grace.max(MIN_LEASE)
}

/// The shortest and longest time between two reloads of a no-JavaScript
/// page in a presence story.
const PAGE_REFRESH: (Duration, Duration) = (Duration::from_secs(3), Duration::from_secs(30));

/// How often a no-JavaScript audience page reloads itself in a presence
/// story: three leases, between 3 s and 30 s (30 s at the default grace
/// of 10 s: few requests, and a vote gone at most 40 s after its page).
pub fn page_refresh(talk: &Talk) -> Duration {
    (lease(talk) * 3).clamp(PAGE_REFRESH.0, PAGE_REFRESH.1)
}

/// The lease a load or form vote of a no-JavaScript page gives its
/// voter: until the next reload is due, and a grace after it.
pub fn page_lease(talk: &Talk) -> Duration {
    page_refresh(talk) + lease(talk)
}

/// Whether web votes count while their page is open (the story's
/// `web_votes`), and so cast as presence votes.
pub fn kind(talk: &Talk) -> VoteKind {
    match talk.web_votes {
        WebVotes::Presence => VoteKind::Presence,
        WebVotes::Sticky => VoteKind::Sticky,
    }
}

/// A no-JavaScript page of `voter` was loaded (its reload, or its form
/// vote): the voter is present for [`page_lease`] more. A store that does
/// not answer is logged; the page is served anyway.
pub async fn page_loaded(talk: &Talk, voter: &Voter) {
    if kind(talk) != VoteKind::Presence {
        return;
    }
    if let Err(e) = talk
        .store
        .keep_present(std::slice::from_ref(voter), page_lease(talk))
        .await
    {
        tracing::warn!(error = %e, "cannot renew the lease of a page without JavaScript");
    }
}

/// How long this instance's own lease lasts: a voter's lease, at least
/// [`MIN_INSTANCE_LEASE`]. A killed instance's voters lose their votes
/// this long after its last heartbeat (plus a sweep).
pub fn instance_lease(talk: &Talk) -> Duration {
    lease(talk).max(MIN_INSTANCE_LEASE)
}

/// How long the sweeper holds off after a store error: two instance
/// leases, time for every instance's heartbeat to renew its lease, or
/// rejoin, once the store is back, even on a busy machine.
fn hold_after_error(talk: &Talk) -> Duration {
    instance_lease(talk) * 2
}

/// How often the sweeper sweeps: twice a lease, at most [`MAX_SWEEP_EVERY`].
fn sweep_every(talk: &Talk) -> Duration {
    (lease(talk) / 2).min(MAX_SWEEP_EVERY)
}

impl Presence {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<Voter, usize>> {
        self.voters.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// This instance's id in the store.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// An audience socket of `voter` opened: counts it and, for the
    /// voter's first socket here, tells the store before the socket reads a
    /// vote.
    pub async fn connect(&self, talk: &Talk, voter: &Voter) {
        {
            let mut voters = self.lock();
            let open = voters.entry(voter.clone()).or_insert(0);
            *open += 1;
            if *open > 1 {
                return;
            }
        }
        self.changes.fetch_add(1, Ordering::AcqRel);
        self.tell_store(talk, voter, true).await;
    }

    /// How many audience sockets `voter` has open on this instance.
    pub fn open_sockets(&self, voter: &Voter) -> usize {
        self.lock().get(voter).copied().unwrap_or(0)
    }

    /// An audience socket of `voter` closed. After the last one here, the
    /// instance lets go of the voter, whose lease then runs out a grace
    /// period from now, unless a page (here or elsewhere) comes back.
    pub async fn disconnect(&self, talk: &Talk, voter: &Voter) {
        {
            let mut voters = self.lock();
            let Some(open) = voters.get_mut(voter) else {
                return;
            };
            *open = open.saturating_sub(1);
            if *open > 0 {
                return;
            }
            voters.remove(voter);
        }
        self.changes.fetch_add(1, Ordering::AcqRel);
        self.tell_store(talk, voter, false).await;
    }

    /// Tells the store that `voter` is here (`arrive`) or no longer is
    /// (`leave`). Another socket of the voter may connect or close while
    /// the call is on its way, and the two calls may reach the store in
    /// either order; so after each call, if the voter's state here is no
    /// longer what was sent, the call for the new state follows. The last
    /// call the store runs then always matches the sockets.
    async fn tell_store(&self, talk: &Talk, voter: &Voter, mut here: bool) {
        loop {
            let told = if here {
                talk.store.arrive(&self.id, voter, lease(talk)).await
            } else {
                talk.store.leave(&self.id, voter, lease(talk)).await
            };
            if let Err(e) = told {
                // The next heartbeat rejoins with the sockets as they are.
                return self.failed(talk, &e);
            }
            let now_here = self.open_sockets(voter) > 0;
            if now_here == here {
                return;
            }
            here = now_here;
        }
    }

    /// Every voter with a socket open here.
    pub fn connected(&self) -> Vec<Voter> {
        self.lock().keys().cloned().collect()
    }

    /// A presence call failed: the sweeper holds off, and the next
    /// heartbeat tells the store again which voters are here.
    fn failed(&self, talk: &Talk, e: &crate::store::StoreError) {
        tracing::warn!(error = %e, "cannot tell the store about presence");
        self.must_rejoin.store(true, Ordering::Release);
        self.hold(hold_after_error(talk));
    }

    /// One heartbeat: renews this instance's lease, or rejoins when it has
    /// none any more (reaped while stalled) or a presence call failed.
    async fn beat(&self, talk: &Talk) {
        let started = Instant::now();
        if !self.must_rejoin.swap(false, Ordering::AcqRel) {
            match talk.store.beat(&self.id, instance_lease(talk)).await {
                Ok(true) => {
                    self.set_beat_at(started);
                    return;
                }
                Ok(false) => tracing::warn!(
                    "this instance's presence lease was reaped (it stalled longer than a lease): rejoining"
                ),
                Err(e) => return self.failed(talk, &e),
            }
        }
        let changes = self.changes.load(Ordering::Acquire);
        let voters = self.connected();
        match talk.store.rejoin(&self.id, &voters, instance_lease(talk)).await {
            Ok(restored) => {
                self.set_beat_at(started);
                if self.changes.load(Ordering::Acquire) != changes {
                    // A voter came or went while the list was on its way.
                    self.must_rejoin.store(true, Ordering::Release);
                }
                if restored > 0 {
                    tracing::info!(restored, "gave back the votes of voters still here after a stall");
                    if let Ok(state) = talk.store.current(&talk.story().start).await {
                        if let Some(open) = state.open {
                            talk.pushes.mark(state.run, &open);
                        }
                    }
                }
            }
            Err(e) => self.failed(talk, &e),
        }
    }

    fn set_beat_at(&self, at: Instant) {
        *self.beat_at.lock().unwrap_or_else(|e| e.into_inner()) = Some(at);
    }

    /// Whether the last heartbeat that found this instance's lease is
    /// recent enough that the lease surely still runs: a third of it left.
    fn beat_on_time(&self, talk: &Talk) -> bool {
        let at = *self.beat_at.lock().unwrap_or_else(|e| e.into_inner());
        at.is_some_and(|at| at.elapsed() < instance_lease(talk) * 2 / 3)
    }

    /// No sweeping for `time` from now (or longer, if already held).
    fn hold(&self, time: Duration) {
        let mut until = self.hold_until.lock().unwrap_or_else(|e| e.into_inner());
        *until = (*until).max(Instant::now() + time);
    }

    fn may_sweep(&self, talk: &Talk) -> bool {
        Instant::now() >= *self.hold_until.lock().unwrap_or_else(|e| e.into_inner()) && self.beat_on_time(talk)
    }
}

/// Renews this instance's lease every third of a lease (rejoining when
/// needed), until the server stops. Then it stops: the lease runs out and
/// other instances' sweepers withdraw what no page holds any more.
pub async fn heartbeat(talk: Talk) {
    let mut stopping = talk.stopping();
    let mut ticks = tokio::time::interval(instance_lease(&talk) / 3);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = ticks.tick() => {}
            _ = stopping.changed() => return,
        }
        watch_store(&talk).await;
        // Nothing to renew in a store that lost its data.
        if talk.store.lost().is_none() {
            talk.presence.beat(&talk).await;
        }
    }
}

/// Checks, once a heartbeat, that the store still holds this talk's data
/// (a request may have found out first). When that changes, the presenter's
/// screens draw their page anew: the banner "the vote store lost its data",
/// or the slide again once Redis was restored from its backup; then the
/// next heartbeat tells the store again which voters are here.
async fn watch_store(talk: &Talk) {
    // An outage is not lost data: the calls themselves and /readyz tell.
    let _ = talk.store.verify().await;
    let lost = talk.store.lost().is_some();
    if talk.presence.store_lost.swap(lost, Ordering::AcqRel) != lost {
        if !lost {
            talk.presence.must_rejoin.store(true, Ordering::Release);
        }
        talk.pushes.story(false);
    }
}

/// Withdraws the presence votes on the open decision of voters nobody
/// holds, twice a lease (at most every second), and pushes the tally when
/// it withdrew any. Every instance runs one, and one at a time sweeps (the
/// store's [`sweep_turn`]): the walk costs the store the same whoever makes
/// it, so n instances walking it each would cost n times over. The store
/// checks and withdraws each voter atomically, so two sweepers (a turn
/// handed on mid-walk) never withdraw a vote twice. It skips its turn while
/// this instance's own heartbeat is late.
///
/// [`sweep_turn`]: crate::store::VoteStore::sweep_turn
pub async fn sweeper(talk: Talk) {
    let mut stopping = talk.stopping();
    // Pages reconnecting to a fresh start find their votes still there.
    talk.presence.hold(lease(&talk));
    let mut ticks = tokio::time::interval(sweep_every(&talk));
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = ticks.tick() => {}
            _ = stopping.changed() => return,
        }
        if !talk.presence.may_sweep(&talk) || talk.store.lost().is_some() {
            continue;
        }
        if let Err(e) = sweep(&talk).await {
            tracing::warn!(error = %e, "cannot withdraw the votes of absent voters");
            talk.presence.hold(hold_after_error(&talk));
        }
    }
}

async fn sweep(talk: &Talk) -> crate::store::Result<()> {
    // One sweeper at a time among the instances: the turn outlasts two
    // missed sweeps, so a busy holder keeps it, and a dead one hands it on
    // within three sweeps.
    if !talk.store.sweep_turn(talk.presence.id(), sweep_every(talk) * 3).await? {
        return Ok(());
    }
    let state = talk.store.current(&talk.story().start).await?;
    let Some(open) = state.open else {
        return Ok(());
    };
    let withdrawn = talk
        .store
        .withdraw_absent_as(talk.presence.id(), state.run, &open, lease(talk))
        .await?;
    if withdrawn > 0 {
        tracing::debug!(withdrawn, decision = open, "withdrew the votes of absent voters");
        talk.pushes.mark(state.run, &open);
    }
    Ok(())
}
