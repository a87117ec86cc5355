//! Live pushes to every socket: state changes at once, tallies coalesced.
//!
//! A vote only marks its decision dirty and wakes the one flusher task of
//! this process; the flusher reads the tally from the store and broadcasts
//! it, at most once every [`FLUSH_EVERY`]. So a burst of 1,000 votes costs
//! a handful of pushes, and each push carries the store's count (exact
//! even when several instances count into one Redis).

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::Serialize;
use tokio::sync::{Notify, broadcast};

use super::state::AppState;
use super::view::{StateView, outcome};
use crate::store::RunId;

/// The shortest time between two tally pushes.
pub const FLUSH_EVERY: Duration = Duration::from_millis(50);

/// How many pushes a slow socket may fall behind before it resyncs.
const BACKLOG: usize = 256;

/// One push to every socket.
#[derive(Debug, Clone)]
pub enum Push {
    /// The presenter changed something; each socket adds its voter's `you`.
    State(Arc<StateView>),
    /// A `tally` message, already serialised (same for every socket).
    Tally(Arc<str>),
}

/// The broadcast channel and the set of decisions whose tally changed.
pub struct Pushes {
    tx: broadcast::Sender<Push>,
    dirty: Mutex<HashSet<(RunId, String)>>,
    wake: Notify,
}

impl Default for Pushes {
    fn default() -> Self {
        Self::new()
    }
}

impl Pushes {
    /// No subscriber yet, nothing dirty.
    pub fn new() -> Self {
        Pushes {
            tx: broadcast::channel(BACKLOG).0,
            dirty: Mutex::new(HashSet::new()),
            wake: Notify::new(),
        }
    }

    /// A receiver of every push from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<Push> {
        self.tx.subscribe()
    }

    /// Sends a new state to every socket at once.
    pub fn state(&self, view: StateView) {
        // No socket open is fine: nobody to tell.
        let _ = self.tx.send(Push::State(Arc::new(view)));
    }

    /// Notes that `decision`'s tally changed; the flusher pushes it soon.
    pub fn mark(&self, run: RunId, decision: &str) {
        self.dirty
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert((run, decision.to_string()));
        self.wake.notify_one();
    }

    fn take(&self) -> Vec<(RunId, String)> {
        self.dirty.lock().unwrap_or_else(|e| e.into_inner()).drain().collect()
    }
}

/// The `tally` message.
#[derive(Serialize)]
struct TallyMessage<'a> {
    r#type: &'static str,
    decision: &'a str,
    choices: Vec<ChoiceVotes<'a>>,
    total: u64,
    winner: Option<String>,
    tie: Option<Vec<String>>,
}

#[derive(Serialize)]
struct ChoiceVotes<'a> {
    id: &'a str,
    votes: u64,
}

/// The flusher: the one task per process that turns dirty decisions into
/// tally pushes. Ends when the server stops.
pub async fn flusher(app: AppState) {
    let mut stopping = app.stopping.clone();
    loop {
        tokio::select! {
            _ = app.pushes.wake.notified() => {}
            _ = stopping.changed() => return,
        }
        for (run, decision) in app.pushes.take() {
            if let Err(e) = flush(&app, run, &decision).await {
                tracing::warn!(error = %e, decision, "cannot push the tally");
            }
        }
        // Votes arriving meanwhile leave a permit in `wake`: they are
        // pushed right after the pause, together.
        tokio::time::sleep(FLUSH_EVERY).await;
    }
}

async fn flush(app: &AppState, run: RunId, decision_id: &str) -> crate::store::Result<()> {
    // A tally of a run that is over would overwrite the new run's zeros.
    if app.store.current(&app.story.start).await?.run != run {
        return Ok(());
    }
    let Some(decision) = app.story.decision(decision_id) else {
        return Ok(());
    };
    let tally = app.store.tally(run, decision_id).await?;
    let (winner, tie) = outcome(decision, &tally);
    let message = TallyMessage {
        r#type: "tally",
        decision: decision_id,
        choices: decision
            .choices
            .iter()
            .map(|c| ChoiceVotes {
                id: &c.id,
                votes: tally.get(&c.id),
            })
            .collect(),
        total: decision.choices.iter().map(|c| tally.get(&c.id)).sum(),
        winner,
        tie,
    };
    match serde_json::to_string(&message) {
        Ok(text) => {
            let _ = app.pushes.tx.send(Push::Tally(text.into()));
        }
        Err(e) => tracing::error!(error = %e, "cannot serialise a tally"),
    }
    Ok(())
}
