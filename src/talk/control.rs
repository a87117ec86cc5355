//! What the presenter does to a run (next, back, go to, open, close, follow,
//! new run, publish the results or the explore mode, name a run) and what a
//! vote does;
//! shared by the API, the pages, the socket and SMS.

use std::future::Future;
use std::sync::atomic::Ordering;
use std::time::Duration;

use super::Talk;
use super::error::Error;
use super::rules::{self, Way};
use super::view::{StateView, Status, current_record, decision_in_run, frozen_tally, now};
use crate::sms::{Ballots, TextVote};
use crate::store::{
    Chosen, Delivery, Publication, RunId, RunRecord, RunState, StoreError, Tally, VoteKind, Voter, with_chosen,
};
use crate::story::{Decision, Then};

/// One presenter command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// The next slide; on a decision, the winner's slide.
    Next,
    /// The previous slide on the path taken.
    Back,
    /// Any slide by id.
    Goto(String),
    /// Open the vote of the current slide's decision.
    Open,
    /// Close the open vote.
    Close,
    /// Follow a choice of the current decision (the winner or not).
    Follow(String),
    /// Start the story over as a new run.
    NewRun,
    /// Open (`true`) or close `/results` or `/explore` to the audience for
    /// this run.
    Publish(Publication, bool),
    /// Open (`true`) or close the results of any run, the current one or an
    /// earlier one, to the audience.
    PublishRun(RunId, bool),
    /// Name any run (an empty label removes the name).
    Label(RunId, String),
    /// Start, extend or cancel the open vote's countdown.
    Timer(super::Timer),
}

/// Applies `action`, pushes the new state to every socket and returns it.
pub async fn apply(talk: &Talk, action: Action) -> Result<StateView, Error> {
    let _one_at_a_time = talk.control.lock().await;
    let state = talk.store.current(&talk.story().start).await?;
    match action {
        Action::Next => next(talk, &state).await?,
        Action::Back => {
            if state.path.len() < 2 {
                return Err(Error::conflict("at_start", "This is the first slide of the run."));
            }
            let mut path = state.path.clone();
            path.pop();
            let slide = path.last().cloned().unwrap_or_else(|| talk.story().start.clone());
            show(talk, &state, &slide, path, None).await?;
        }
        Action::Goto(slide) => {
            if talk.story().slide(&slide).is_none() {
                return Err(Error::not_found(
                    "unknown_slide",
                    format!("There is no slide {slide:?}."),
                ));
            }
            let path = with(&state.path, &slide);
            show(talk, &state, &slide, path, None).await?;
        }
        Action::Open => {
            let story = talk.story();
            let Some(decision) = story.decision(&state.slide) else {
                return Err(not_a_decision());
            };
            talk.store.open(state.run, &decision.id).await?;
            // Opened (or reopened) now: its countdown starts from the full
            // length; opening the open vote again leaves it running.
            if state.open.as_deref() != Some(decision.id.as_str()) {
                if let Some(length) = super::timer::on_open(&story, decision) {
                    let start = crate::store::Countdown::Start(length);
                    talk.store.countdown(state.run, &decision.id, start).await?;
                }
            }
        }
        Action::Close => {
            if let Some(open) = &state.open {
                talk.store.close(state.run, open).await?;
            }
        }
        Action::Follow(choice) => follow(talk, &state, &choice).await?,
        Action::NewRun => {
            talk.store.new_run(&talk.story().start).await?;
        }
        Action::Publish(what, on) => {
            talk.store.set_published(state.run, what, on).await?;
        }
        Action::PublishRun(run, on) => {
            talk.store.set_published(run, Publication::Results, on).await?;
        }
        Action::Label(run, label) => {
            talk.store.set_label(run, &label).await?;
        }
        Action::Timer(timer) => super::timer::apply(talk, &state, timer).await?,
    }
    let view = StateView::load(talk).await?;
    talk.pushes.state(view.clone());
    super::push::announce_state(talk).await;
    Ok(view)
}

fn not_a_decision() -> Error {
    Error::conflict("not_a_decision", "The current slide has no decision to vote on.")
}

fn no_winner(message: impl Into<String>) -> Error {
    Error::conflict("no_winner", message)
}

fn with(path: &[String], slide: &str) -> Vec<String> {
    let mut path = path.to_vec();
    path.push(slide.to_string());
    path
}

/// Moves to `slide`; leaving a slide whose vote is open closes the vote.
/// `chosen`, when given, is how the run went on from its decisions, the
/// decision being left included, written with the move.
///
/// `state` is what this command read. Another instance's presenter screen
/// may have moved the run since (the `control` lock serialises commands in
/// this process only), so the move is a compare-and-set on the path read:
/// if the path changed, nothing moves and the presenter is told to look
/// again. Closing first is safe either way: closing the open vote is what
/// any move away from its slide does, and closing twice changes nothing.
async fn show(
    talk: &Talk,
    state: &RunState,
    slide: &str,
    path: Vec<String>,
    chosen: Option<&[Chosen]>,
) -> Result<(), Error> {
    if let Some(open) = &state.open {
        if open != slide {
            talk.store.close(state.run, open).await?;
        }
    }
    match talk.store.move_to(state.run, &state.path, slide, &path, chosen).await? {
        Some(_) => Ok(()),
        None => Err(Error::conflict(
            "moved",
            "The talk moved on from another presenter screen just now; look again, then repeat.",
        )),
    }
}

async fn next(talk: &Talk, state: &RunState) -> Result<(), Error> {
    let story = talk.story();
    let Some(slide) = story.slide(&state.slide) else {
        return Err(Error::conflict(
            "unknown_slide",
            "The run is on a slide this story does not have; go to a slide or start a new run.",
        ));
    };
    match &slide.then {
        Then::Next(to) => show(talk, state, to, with(&state.path, to), None).await,
        Then::Ending => Err(Error::conflict(
            "end_of_story",
            "This is an ending: go back, or start a new run.",
        )),
        Then::Decision(decision) => {
            let now = now(talk).await?;
            let view = decision_in_run(talk, &now, decision);
            match view.status {
                Status::Pending => Err(no_winner("The vote has not been opened: open it (O) first.")),
                Status::Open => Err(no_winner("The vote is still open: close it (C) first.")),
                Status::Closed => {
                    let tally = closed_tally(&now.record, &decision.id);
                    let seed = rules::seed(state.run, state.started, &decision.id);
                    match rules::way_on(decision, story.rules_of(decision), &tally, seed) {
                        Way::Follow { choice, by } => go_on(talk, state, decision, &choice, by).await,
                        Way::TooFew { total, needed } => Err(no_winner(format!(
                            "Not enough votes: {total} of the {needed} needed. Follow a choice by its number."
                        ))),
                        Way::Tie => Err(no_winner("It is a tie: follow a choice by its number.")),
                        Way::Nobody => Err(no_winner("Nobody voted: follow a choice by its number.")),
                    }
                }
            }
        }
    }
}

/// The frozen tally of `decision` in `record` (empty if it never closed).
fn closed_tally(record: &RunRecord, decision: &str) -> Tally {
    frozen_tally(record, decision).cloned().unwrap_or_default()
}

/// Goes on from `decision` along `choice`, recording who chose it.
async fn go_on(
    talk: &Talk,
    state: &RunState,
    decision: &Decision,
    choice: &str,
    by: crate::store::ChosenBy,
) -> Result<(), Error> {
    let Some(c) = decision.choice(choice) else {
        return Err(unknown_choice(choice));
    };
    let chosen = with_chosen(
        &state.chosen,
        Chosen {
            decision: decision.id.clone(),
            choice: c.id.clone(),
            by,
        },
    );
    show(talk, state, &c.goto, with(&state.path, &c.goto), Some(&chosen)).await
}

async fn follow(talk: &Talk, state: &RunState, choice: &str) -> Result<(), Error> {
    let story = talk.story();
    let Some(decision) = story.decision(&state.slide) else {
        return Err(not_a_decision());
    };
    let Some(choice) = decision.choice(choice) else {
        return Err(unknown_choice(choice));
    };
    if state.open.as_deref() == Some(decision.id.as_str()) {
        talk.store.close(state.run, &decision.id).await?;
    }
    let record = current_record(talk).await?;
    let tally = closed_tally(&record, &decision.id);
    let by = rules::follow_by(decision, story.rules_of(decision), &tally, &choice.id);
    go_on(talk, &record.state, decision, &choice.id, by).await
}

fn unknown_choice(choice: &str) -> Error {
    Error::Invalid {
        code: "unknown_choice",
        message: format!("There is no choice {choice:?} in this vote."),
    }
}

/// How a vote came in, which decides the store call that takes it and
/// its `channel` in the metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ballot<'a> {
    /// A tap on an audience page, by the form or the socket ([`cast`]):
    /// a presence vote or a sticky one, as the story says.
    Tap(VoteKind),
    /// A presence vote from a page without JavaScript (the form), which
    /// lengthens its voter's lease to this in the same store step: the
    /// page has no socket to keep the voter present.
    Page(Duration),
    /// A text message, always sticky, its delivery marked under Twilio's
    /// `MessageSid` in the same store step, so a webhook Twilio delivers
    /// twice counts once ([`crate::sms`]).
    Text {
        /// Twilio's `MessageSid` of the text.
        sid: &'a str,
    },
}

impl Ballot<'_> {
    /// The `channel` label of `votes_counted`.
    fn channel(self) -> &'static str {
        match self {
            Ballot::Tap(_) | Ballot::Page(_) => "web",
            Ballot::Text { .. } => "sms",
        }
    }
}

/// Counts `voter`'s vote for `choice` on `decision` in `run`: the one
/// place where every vote, tapped or texted, goes into the store. The
/// store checks in the same step that `run` is current and the decision
/// open. A vote taken (moved, or the same choice again) is counted in the
/// metrics by its channel and marks its decision's tally for the next push,
/// which starts the vote-to-push clock; a text delivered before counts
/// nothing again and marks nothing.
pub async fn count(
    talk: &Talk,
    run: RunId,
    decision: &str,
    voter: &Voter,
    choice: &str,
    ballot: Ballot<'_>,
) -> Result<Delivery, StoreError> {
    let delivery = match ballot {
        Ballot::Tap(kind) => Delivery::First(talk.store.vote(run, decision, voter, choice, kind).await?),
        Ballot::Page(lease) => Delivery::First(talk.store.vote_from_page(run, decision, voter, choice, lease).await?),
        // The store's own way to take a text, as the SMS module defines it.
        Ballot::Text { sid } => {
            let vote = TextVote {
                run,
                decision,
                voter,
                choice,
                sid,
            };
            talk.store.take(vote).await?
        }
    };
    if let Delivery::First(_) = delivery {
        crate::metrics::vote_counted(ballot.channel());
        talk.pushes.mark(run, decision);
        crate::metrics::vote_marked(run, decision);
    }
    Ok(delivery)
}

/// Where a tap may vote: a vote counts in the current run, or only in the
/// run its voter was admitted to (the room code: the web layer's
/// `room::admit` gives it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pass {
    /// No room code: votes go to the current run.
    Open,
    /// Entered with the code of this run: votes count in it, and are
    /// refused ([`Error::RunOver`]) once another run has started.
    Run(RunId),
}

impl Pass {
    /// Whether this pass lets a page follow the run `run`.
    pub fn admits(self, run: RunId) -> bool {
        match self {
            Pass::Open => true,
            Pass::Run(r) => r == run,
        }
    }
}

/// Casts (or moves) the vote of `voter`'s tap, by the form or the socket
/// (`ballot`: [`Ballot::Tap`] or [`Ballot::Page`]), through [`count`].
/// `pass` says in which run it may count.
pub async fn cast(
    talk: &Talk,
    pass: Pass,
    voter: &Voter,
    decision: &str,
    choice: &str,
    ballot: Ballot<'_>,
) -> Result<(), Error> {
    let story = talk.story();
    let Some(d) = story.decision(decision) else {
        return Err(Error::not_found(
            "unknown_decision",
            format!("There is no vote called {decision:?}."),
        ));
    };
    if d.choice(choice).is_none() {
        return Err(unknown_choice(choice));
    }
    let not_open = || {
        Error::conflict(
            "not_open",
            format!(
                "The vote on “{}” is not open: it has not started yet or it is closed.",
                d.prompt
            ),
        )
    };
    // Entered with a room code: the vote counts in that code's run or not
    // at all; the store checks the run is still current in the same step.
    if let Pass::Run(run) = pass {
        return match count(talk, run, decision, voter, choice, ballot).await {
            Ok(_) => Ok(()),
            Err(StoreError::NotCurrent(_)) => Err(Error::RunOver),
            Err(StoreError::NotOpen(_)) => Err(not_open()),
            Err(e) => Err(e.into()),
        };
    }
    // One store call in the usual case: the vote itself checks that the
    // run is current and the decision open, in the same atomic step.
    let hint = talk.run_hint.load(Ordering::Relaxed);
    if hint != 0 {
        match count(talk, hint, decision, voter, choice, ballot).await {
            Ok(_) => return Ok(()),
            // A new run, or this decision is not open: look again below.
            Err(StoreError::NotCurrent(_) | StoreError::NotOpen(_)) => {}
            Err(e) => return Err(e.into()),
        }
    }
    let state = talk.store.current(&talk.story().start).await?;
    talk.run_hint.store(state.run, Ordering::Relaxed);
    if state.open.as_deref() != Some(decision) {
        return Err(not_open());
    }
    count(talk, state.run, decision, voter, choice, ballot).await?;
    Ok(())
}

/// The server's [`Ballots`]: a text's vote is counted by [`count`], the
/// function that counts every tap too, so it shows in
/// `votes_counted{channel="sms"}`, marks its decision's tally for the same
/// coalesced pushes as a web vote, and starts the same vote-to-push clock.
impl Ballots for Talk {
    fn current(&self, start: &str) -> impl Future<Output = Result<RunState, StoreError>> + Send {
        self.store.current(start)
    }

    fn take(&self, vote: TextVote<'_>) -> impl Future<Output = Result<Delivery, StoreError>> + Send {
        let ballot = Ballot::Text { sid: vote.sid };
        count(self, vote.run, vote.decision, vote.voter, vote.choice, ballot)
    }
}
