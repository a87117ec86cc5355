//! Presence: a web vote counts while its voter has an audience page open.
//!
//! Each voter's open audience sockets are counted (two tabs: one voter, one
//! vote). When the last one closes, a timer withdraws the voter's presence
//! vote on the then-open decision after the grace period; a socket opened
//! within the grace cancels it. Timers are cancelled by a generation
//! number, not by aborting tasks, so a timer that already woke up cannot
//! race a reconnect: it checks the generation under the same lock.

use std::collections::HashMap;
use std::sync::Mutex;

use super::state::AppState;
use crate::store::Voter;
use crate::story::WebVotes;

/// Open audience sockets per voter.
#[derive(Default)]
pub struct Presence {
    voters: Mutex<HashMap<Voter, Entry>>,
}

struct Entry {
    /// Audience sockets open now.
    open: usize,
    /// Bumped by every connect and last disconnect; a timer only acts if
    /// the generation it was started with is still current.
    generation: u64,
}

impl Presence {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<Voter, Entry>> {
        self.voters.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// An audience socket of `voter` opened.
    pub fn connect(&self, voter: &Voter) {
        let mut voters = self.lock();
        let e = voters.entry(voter.clone()).or_insert(Entry { open: 0, generation: 0 });
        e.open += 1;
        e.generation += 1;
    }

    /// How many audience sockets `voter` has open.
    pub fn open_sockets(&self, voter: &Voter) -> usize {
        self.lock().get(voter).map_or(0, |e| e.open)
    }

    /// An audience socket of `voter` closed; after the last one, the vote
    /// is withdrawn when the grace period ends.
    pub fn disconnect(&self, app: &AppState, voter: &Voter) {
        let generation = {
            let mut voters = self.lock();
            let Some(e) = voters.get_mut(voter) else {
                return;
            };
            e.open = e.open.saturating_sub(1);
            if e.open > 0 {
                return;
            }
            if app.web_votes == WebVotes::Sticky {
                voters.remove(voter);
                return;
            }
            e.generation += 1;
            e.generation
        };
        let app = app.clone();
        let voter = voter.clone();
        tokio::spawn(async move {
            tokio::time::sleep(app.grace).await;
            if app.presence.expire(&voter, generation) {
                withdraw(&app, &voter).await;
            }
        });
    }

    /// Forgets `voter` if nothing happened since the timer started.
    fn expire(&self, voter: &Voter, generation: u64) -> bool {
        let mut voters = self.lock();
        match voters.get(voter) {
            Some(e) if e.open == 0 && e.generation == generation => {
                voters.remove(voter);
                true
            }
            _ => false,
        }
    }
}

/// Withdraws `voter`'s presence vote on the open decision, if any.
async fn withdraw(app: &AppState, voter: &Voter) {
    let state = match app.store.current(&app.story.start).await {
        Ok(s) => s,
        Err(e) => {
            tracing::warn!(error = %e, "cannot withdraw a vote: the store did not answer");
            return;
        }
    };
    let Some(open) = state.open else {
        return;
    };
    match app.store.withdraw(state.run, &open, voter, true).await {
        Ok(Some(_)) => app.pushes.mark(state.run, &open),
        Ok(None) => {}
        Err(e) => tracing::warn!(error = %e, "cannot withdraw a vote"),
    }
}
