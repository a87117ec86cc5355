//! Timed votes: the countdown that closes an open vote by itself.
//!
//! The store keeps the open vote's deadline ([`RunState::deadline`], by
//! the store's clock) and decides who closes it. Each instance's
//! [`keeper`] watches the states it pushes (its own changes and those it
//! hears of from the other instances), sleeps until the deadline and then
//! asks the store to [`expire`](crate::store::VoteStore::expire) the vote.
//! The store closes it for one caller only: that instance pushes the
//! closing state, tells the other instances and counts
//! `cyoa_votes_closed_by_timer_total`. The others' calls close nothing, and
//! they hear of the close like of any presenter change.
//!
//! The presenter starts, extends or cancels the countdown ([`Timer`],
//! through [`super::control::apply`]); opening a vote whose decision has a
//! `timer` (its own or the story's) starts it, closing the vote ends it.

use std::time::Duration;

use tokio::sync::broadcast::error::RecvError;
use tokio::time::Instant;

use super::Talk;
use super::error::Error;
use super::push::{Push, announce_state};
use super::view::StateView;
use crate::store::{Countdown, RunId, RunState, now_ms};
use crate::story::{Decision, Story};

/// How long T's countdown runs when neither the decision nor the story
/// sets a `timer`, in seconds.
pub const DEFAULT_SECONDS: u64 = 30;

/// What "+15 s" adds, in seconds.
pub const EXTEND_SECONDS: u64 = 15;

/// The longest countdown, in seconds (as the story's `timer`).
pub const MAX_SECONDS: u64 = crate::story::MAX_TIMER;

/// How long the keeper waits before asking the store again when it failed.
const RETRY: Duration = Duration::from_millis(500);

/// A presenter's command on the open vote's countdown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Timer {
    /// Starts the countdown, or starts it again from the full length: this
    /// many seconds, else the decision's `timer`, else the story's, else
    /// [`DEFAULT_SECONDS`].
    Start(Option<u64>),
    /// Adds this many seconds to the running countdown.
    Extend(u64),
    /// Stops the countdown; the vote stays open.
    Cancel,
}

/// The countdown `decision`'s vote starts with when it opens, if any.
pub fn on_open(story: &Story, decision: &Decision) -> Option<Duration> {
    story.rules_of(decision).timer.map(Duration::from_secs)
}

/// How long T counts down on `decision` (its `timer`, else the story's,
/// else [`DEFAULT_SECONDS`]), in seconds.
pub fn length_of(story: &Story, decision: &str) -> u64 {
    story
        .decision(decision)
        .and_then(|d| story.rules_of(d).timer)
        .unwrap_or(DEFAULT_SECONDS)
}

/// Applies the presenter's `timer` command to the run as read (`state`).
pub(super) async fn apply(talk: &Talk, state: &RunState, timer: Timer) -> Result<(), Error> {
    let Some(open) = &state.open else {
        return Err(Error::conflict(
            "no_vote_open",
            "No vote is open: open the vote (O) before starting its countdown.",
        ));
    };
    let change = match timer {
        Timer::Start(seconds) => {
            let seconds = seconds.unwrap_or_else(|| length_of(&talk.story(), open));
            Countdown::Start(Duration::from_secs(seconds.clamp(1, MAX_SECONDS)))
        }
        Timer::Extend(_) if state.deadline.is_none() => {
            return Err(Error::conflict(
                "no_countdown",
                "No countdown is running: start one (T) first.",
            ));
        }
        Timer::Extend(seconds) => Countdown::Extend(Duration::from_secs(seconds.clamp(1, MAX_SECONDS))),
        Timer::Cancel => Countdown::Cancel,
    };
    talk.store.countdown(state.run, open, change).await?;
    Ok(())
}

/// The countdown the keeper waits on: the run, its open decision and the
/// deadline (ms since the Unix epoch, the store's clock).
#[derive(Debug, Clone, PartialEq, Eq)]
struct Watch {
    run: RunId,
    decision: String,
    deadline: u64,
}

impl Watch {
    /// The countdown running in `view`, if one is.
    fn of(view: &StateView) -> Option<Watch> {
        view.timer.as_ref().map(|t| Watch {
            run: view.run,
            decision: t.decision.clone(),
            deadline: t.deadline,
        })
    }

    /// The countdown running in `state`, if one is.
    fn in_state(state: &RunState) -> Option<Watch> {
        Some(Watch {
            run: state.run,
            decision: state.open.clone()?,
            deadline: state.deadline?,
        })
    }

    /// When the deadline passes, by this process's monotonic clock.
    fn at(&self) -> Instant {
        Instant::now() + Duration::from_millis(self.deadline.saturating_sub(now_ms()))
    }
}

/// What the store says now, when no push can be trusted to (at start,
/// after the pushes lagged, after an expiry that closed nothing). Reads
/// the runs rather than the current one, which would begin run 1 in a
/// store that has none yet.
async fn look(talk: &Talk) -> Option<Watch> {
    match talk.store.runs().await {
        Ok(runs) => runs.last().and_then(|r| Watch::in_state(&r.state)),
        Err(e) => {
            tracing::warn!(error = %e, "the vote timer cannot read the run's state");
            None
        }
    }
}

/// The keeper of this instance: closes the open vote when its countdown
/// runs out, through the store, which lets one instance close it. Ends
/// when the server stops.
pub async fn keeper(talk: Talk) {
    let mut pushes = talk.pushes.subscribe();
    let mut stopping = talk.stopping();
    let mut watch = look(&talk).await;
    let mut at = watch.as_ref().map(Watch::at);
    loop {
        tokio::select! {
            push = pushes.recv() => {
                let seen = match push {
                    Ok(Push::State(view)) => Watch::of(&view),
                    Ok(_) => continue,
                    Err(RecvError::Lagged(_)) => look(&talk).await,
                    Err(RecvError::Closed) => return,
                };
                // A new deadline (or none): sleep until it instead.
                if seen != watch {
                    at = seen.as_ref().map(Watch::at);
                    watch = seen;
                }
            }
            () = tokio::time::sleep_until(at.unwrap_or_else(Instant::now)), if at.is_some() => {
                let Some(due) = watch.take() else {
                    at = None;
                    continue;
                };
                at = None;
                match expire(&talk, &due).await {
                    Ok(true) => {}
                    // Closed elsewhere, or changed meanwhile: the store
                    // tells what runs now (the change's push may follow).
                    Ok(false) => {
                        watch = look(&talk).await.filter(|w| *w != due);
                        at = watch.as_ref().map(Watch::at);
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, decision = due.decision, "the vote timer cannot close the vote; trying again");
                        at = Some(Instant::now() + RETRY);
                        watch = Some(due);
                    }
                }
            }
            _ = stopping.changed() => return,
        }
    }
}

/// Asks the store to close `due`'s vote; when this call closed it, pushes
/// the closing state here and to the other instances.
async fn expire(talk: &Talk, due: &Watch) -> Result<bool, Error> {
    // One presenter change at a time, as a key press would be.
    let _one_at_a_time = talk.control.lock().await;
    if !talk.store.expire(due.run, &due.decision, due.deadline).await? {
        return Ok(false);
    }
    crate::metrics::vote_closed_by_timer();
    tracing::info!(run = due.run, decision = due.decision, "the countdown closed the vote");
    let view = StateView::load(talk).await?;
    talk.pushes.state(view);
    announce_state(talk).await;
    Ok(true)
}
