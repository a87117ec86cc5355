//! Presence: a web vote counts while its voter has an audience page open,
//! on any instance.
//!
//! Each instance counts its own open audience sockets per voter (two tabs:
//! one voter, one vote) and holds a lease in the store for every voter it
//! serves: taken when a socket connects (before the voter can vote), renewed
//! by the [`heartbeat`] every third of a lease, and renewed one last time
//! when the voter's last socket here closes, so it runs out a full grace
//! period after the page went. Leases live in the store, shared by every
//! instance: a voter whose page reconnects within the grace, here or on
//! another instance, keeps the vote; a voter whose instance was killed
//! loses it once the lease runs out, because every instance runs the
//! [`sweeper`], which withdraws the presence votes on the open decision of
//! voters without a lease (one store call).
//!
//! A store outage must not cost present voters their votes: leases that ran
//! out during it only mean the renewals failed. So after any store error the
//! sweeper holds off for one lease from the last error, long enough for
//! every instance's heartbeat to renew its voters once the store is back.
//! It also holds off for one lease after start, so that pages reconnecting
//! after every instance restarted find their votes still there.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use tokio::time::Instant;

use super::state::AppState;
use crate::store::Voter;

/// The shortest lease, whatever the grace: a renewal every third of it must
/// keep up on a busy machine.
pub const MIN_LEASE: Duration = Duration::from_secs(1);
/// The longest time between two sweeps.
pub const MAX_SWEEP_EVERY: Duration = Duration::from_secs(1);

/// Open audience sockets per voter on this instance, and when the sweeper
/// may sweep again.
pub struct Presence {
    voters: Mutex<HashMap<Voter, usize>>,
    hold_until: Mutex<Instant>,
}

impl Default for Presence {
    fn default() -> Self {
        Presence {
            voters: Mutex::new(HashMap::new()),
            hold_until: Mutex::new(Instant::now()),
        }
    }
}

/// How long a lease lasts: the grace period, at least [`MIN_LEASE`].
pub fn lease(app: &AppState) -> Duration {
    app.grace.max(MIN_LEASE)
}

/// How often the sweeper sweeps: twice a lease, at most [`MAX_SWEEP_EVERY`].
fn sweep_every(app: &AppState) -> Duration {
    (lease(app) / 2).min(MAX_SWEEP_EVERY)
}

impl Presence {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<Voter, usize>> {
        self.voters.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// An audience socket of `voter` opened: counts it and takes the lease
    /// before the socket reads a vote.
    pub async fn connect(&self, app: &AppState, voter: &Voter) {
        *self.lock().entry(voter.clone()).or_insert(0) += 1;
        self.renew(app, std::slice::from_ref(voter)).await;
    }

    /// How many audience sockets `voter` has open on this instance.
    pub fn open_sockets(&self, voter: &Voter) -> usize {
        self.lock().get(voter).copied().unwrap_or(0)
    }

    /// An audience socket of `voter` closed. After the last one here, the
    /// lease is renewed a last time and then left to run out: the vote goes
    /// a grace period from now, unless a page (here or elsewhere) renews it.
    pub async fn disconnect(&self, app: &AppState, voter: &Voter) {
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
        self.renew(app, std::slice::from_ref(voter)).await;
    }

    /// Every voter with a socket open here.
    fn connected(&self) -> Vec<Voter> {
        self.lock().keys().cloned().collect()
    }

    /// Lengthens the leases of `voters`; a failure holds the sweeper off.
    async fn renew(&self, app: &AppState, voters: &[Voter]) {
        if let Err(e) = app.store.keep_present(voters, lease(app)).await {
            tracing::warn!(error = %e, "cannot renew presence leases");
            self.hold(lease(app));
        }
    }

    /// No sweeping for `time` from now (or longer, if already held).
    fn hold(&self, time: Duration) {
        let mut until = self.hold_until.lock().unwrap_or_else(|e| e.into_inner());
        *until = (*until).max(Instant::now() + time);
    }

    fn may_sweep(&self) -> bool {
        Instant::now() >= *self.hold_until.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Renews the leases of every voter connected here, every third of a
/// lease, until the server stops. Then it stops renewing: the leases run
/// out and other instances' sweepers withdraw what no page holds any more.
pub async fn heartbeat(app: AppState) {
    let mut stopping = app.stopping.clone();
    let mut ticks = tokio::time::interval(lease(&app) / 3);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = ticks.tick() => {}
            _ = stopping.changed() => return,
        }
        let voters = app.presence.connected();
        if !voters.is_empty() {
            app.presence.renew(&app, &voters).await;
        }
    }
}

/// Withdraws the presence votes of voters without a lease from the open
/// decision, twice a lease (at most every second), and pushes the tally
/// when it withdrew any. Every instance runs one: the store's script is
/// atomic, so two sweepers never withdraw a vote twice.
pub async fn sweeper(app: AppState) {
    let mut stopping = app.stopping.clone();
    // Pages reconnecting to a fresh start find their votes still there.
    app.presence.hold(lease(&app));
    let mut ticks = tokio::time::interval(sweep_every(&app));
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = ticks.tick() => {}
            _ = stopping.changed() => return,
        }
        if !app.presence.may_sweep() {
            continue;
        }
        if let Err(e) = sweep(&app).await {
            tracing::warn!(error = %e, "cannot withdraw the votes of absent voters");
            app.presence.hold(lease(&app));
        }
    }
}

async fn sweep(app: &AppState) -> crate::store::Result<()> {
    let state = app.store.current(&app.story().start).await?;
    let Some(open) = state.open else {
        return Ok(());
    };
    let withdrawn = app.store.withdraw_absent(state.run, &open).await?;
    if withdrawn > 0 {
        tracing::debug!(withdrawn, decision = open, "withdrew the votes of absent voters");
        app.pushes.mark(state.run, &open);
    }
    Ok(())
}
