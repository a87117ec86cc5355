//! Live pushes to every socket: state changes at once, tallies coalesced,
//! and the same for the sockets of every other instance.
//!
//! A vote only marks its decision dirty and wakes the one flusher task of
//! this process; the flusher reads the tally from the store and broadcasts
//! it, at most once every [`FLUSH_EVERY`]. So a burst of 1,000 votes costs
//! a handful of pushes, and each push carries the store's count (exact
//! even when several instances count into one Redis).
//!
//! Two audiences, two paces. The presenter screens (a handful of sockets)
//! get every tally push: the bars on the projector are what the room
//! watches. The audience sockets (thousands) get the latest tally at most
//! every [`AUDIENCE_EVERY`], spaced further by [`AUDIENCE_PER_SOCKET`]
//! with many sockets: a phone needs about one update a second, and the
//! fan-out to every socket is what costs the CPU (one `send` each), so it
//! must not delay the presenter's push. State changes go to both at once.
//!
//! Several instances: the flusher also publishes each decision it marked
//! itself (`<instance> tally <run> <decision>`), and a presenter change
//! publishes `<instance> state`, on the store's events channel (Redis
//! pub/sub). Every instance's [`listener`] feeds what the others published
//! into its own flusher and sockets. Its subscription reconnects by itself
//! (when the connection ends, or when an echo it publishes every few
//! seconds does not come back), and after a reconnect it pushes a fresh
//! state, since it may have missed events meanwhile. With the memory store
//! there is one instance: only the local path runs.

use std::collections::{HashMap, HashSet};
use std::ops::Deref;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::ws::Utf8Bytes;
use futures_util::StreamExt;
use serde::Serialize;
use tokio::sync::{Notify, OnceCell, broadcast};
use tokio::time::Instant;

use super::Talk;
use super::view::{StateView, Status, outcome};
use crate::store::{RunId, StoreError, Voter};

/// The shortest time between two tally pushes.
pub const FLUSH_EVERY: Duration = Duration::from_millis(50);

/// The shortest time between two tally pushes to the audience sockets.
pub const AUDIENCE_EVERY: Duration = Duration::from_millis(250);

/// Spacing of the audience's tally pushes per open audience socket: one
/// `send` costs about 10 µs of a 2-core machine's CPU, so at 20,000
/// sockets a push a second keeps the fan-out near a fifth of one core and
/// every push reaches every socket long before the next one.
pub const AUDIENCE_PER_SOCKET: Duration = Duration::from_micros(50);

/// The first and the longest pause before subscribing to the events again.
const RESUBSCRIBE_FIRST: Duration = Duration::from_millis(100);
const RESUBSCRIBE_MAX: Duration = Duration::from_secs(1);

/// How often the listener checks its subscription with an echo: a
/// subscription whose echo did not come back by the next check is renewed.
const ECHO_EVERY: Duration = Duration::from_secs(5);

/// How many pushes a slow socket may fall behind before it resyncs.
const BACKLOG: usize = 256;

/// One push to every socket.
#[derive(Debug, Clone)]
pub enum Push {
    /// The presenter changed something; each socket adds its voter's `you`.
    State(Arc<StatePush>),
    /// A `tally` message, already serialised (same for every socket): one
    /// buffer, shared by every socket's send instead of copied for each.
    Tally(Utf8Bytes),
    /// `{"type":"story"}`: the story file was reloaded, or an edit of it
    /// was refused (`serve --watch`). Pages draw themselves again; the
    /// presenter's pages fetch the problems with the page.
    Story,
    /// A message for the presenter screens only, already serialised (the
    /// console's `minting` figures).
    Presenter(Utf8Bytes),
}

/// A state push: the view every socket gets, and each audience voter's own
/// choice on its decision (`you`), read for every voter with a socket here
/// in one store call ([`VoteStore::choices_of`]) by the first socket that
/// needs it, and shared by the others. So one presenter action costs this
/// instance the same few store calls at 2 sockets or 20,000. A voter whose
/// socket opened after that read is looked up on its own.
///
/// [`VoteStore::choices_of`]: crate::store::VoteStore::choices_of
#[derive(Debug)]
pub struct StatePush {
    view: StateView,
    yous: OnceCell<HashMap<Voter, Option<String>>>,
}

impl Deref for StatePush {
    type Target = StateView;
    fn deref(&self) -> &StateView {
        &self.view
    }
}

impl StatePush {
    /// The state as `voter`'s socket shows it (`None`: a presenter's).
    pub async fn view_for(&self, talk: &Talk, voter: Option<&Voter>) -> Result<StateView, StoreError> {
        let mut view = self.view.clone();
        if let (Some(voter), Some(decision)) = (voter, &self.view.decision) {
            let yous = self
                .yous
                .get_or_try_init(|| async {
                    let voters = talk.presence.connected();
                    let choices = talk.store.choices_of(self.view.run, &decision.id, &voters).await?;
                    Ok::<_, StoreError>(voters.into_iter().zip(choices).collect())
                })
                .await?;
            view.you = match yous.get(voter) {
                Some(you) => you.clone(),
                None => talk.store.choice_of(self.view.run, &decision.id, voter).await?,
            };
        }
        Ok(view)
    }
}

/// The broadcast channels and the set of decisions whose tally changed.
pub struct Pushes {
    /// Every push, at once: the presenter screens.
    tx: broadcast::Sender<Push>,
    /// State pushes at once, tallies at the audience's pace.
    audience_tx: broadcast::Sender<Push>,
    /// Decisions whose tally this instance pushes soon.
    dirty: Mutex<HashSet<(RunId, String)>>,
    /// The latest tally of each decision the audience has not had yet.
    audience_due: Mutex<HashMap<(RunId, String), Utf8Bytes>>,
    /// Decisions changed here, which the other instances hear of soon.
    announce: Mutex<HashSet<(RunId, String)>>,
    wake: Notify,
    /// This instance's random id: it ignores its own events.
    instance: String,
    /// The open vote of the last state pushed (`None` before the first):
    /// a hint for a text message, checked by the store when used (see
    /// [`Pushes::open_vote`]), and the gate of every tally push (see
    /// [`Pushes::tally`]). Held while a push is sent, so that a state and
    /// a tally go out in the order of this check.
    open: Mutex<Option<Option<(RunId, String)>>>,
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
            audience_tx: broadcast::channel(BACKLOG).0,
            dirty: Mutex::new(HashSet::new()),
            audience_due: Mutex::new(HashMap::new()),
            announce: Mutex::new(HashSet::new()),
            wake: Notify::new(),
            instance: format!("{:016x}", rand::random::<u64>()),
            open: Mutex::new(None),
        }
    }

    /// A receiver of every push from now on, for a presenter screen.
    pub fn subscribe(&self) -> broadcast::Receiver<Push> {
        self.tx.subscribe()
    }

    /// A receiver of the audience's pushes from now on: every state,
    /// tallies at the audience's pace.
    pub fn subscribe_audience(&self) -> broadcast::Receiver<Push> {
        self.audience_tx.subscribe()
    }

    /// Sends a new state to every socket at once.
    pub fn state(&self, view: StateView) {
        let mut open = lock(&self.open);
        // The state carries every count: a tally read before it must not
        // follow it to the audience and show older counts.
        lock(&self.audience_due).clear();
        *open = Some(
            view.decision
                .as_ref()
                .filter(|d| d.status == Status::Open)
                .map(|d| (view.run, d.id.clone())),
        );
        let push = Push::State(Arc::new(StatePush {
            view,
            yous: OnceCell::new(),
        }));
        // No socket open is fine: nobody to tell.
        let _ = self.audience_tx.send(push.clone());
        let _ = self.tx.send(push);
        drop(open);
        crate::metrics::state_pushed();
    }

    /// The run and decision open when the last state was pushed (every
    /// change of the run, here or on another instance, pushes one). Only
    /// a hint, for a text message to vote in one store round trip: the
    /// store checks it in the same step, and a stale hint costs the
    /// longer way, never a wrong count.
    pub fn open_vote(&self) -> Option<(RunId, String)> {
        lock(&self.open).clone().flatten()
    }

    /// Tells the pages that the story was reloaded (every page) or that
    /// the problems of its last edit changed (`reloaded` false: only the
    /// presenter's pages show those).
    pub fn story(&self, reloaded: bool) {
        if reloaded {
            let _ = self.audience_tx.send(Push::Story);
        }
        let _ = self.tx.send(Push::Story);
    }

    /// Sends `text` to the presenter screens only.
    pub fn presenters(&self, text: Utf8Bytes) {
        let _ = self.tx.send(Push::Presenter(text));
    }

    /// A new tally: to the presenter screens now, to the audience when
    /// its next push is due; dropped when the last state pushed says the
    /// vote is no longer open. A tally read just before a close would
    /// otherwise follow the closing state, which carries the final counts,
    /// and show older ones (or, with hidden results, hide the revealed
    /// winner). Once a vote is closed its counts never change, and a
    /// reopening pushes a state first. Before the first state push
    /// (a start with a vote already open) every tally goes out.
    fn tally(&self, run: RunId, decision: &str, text: Utf8Bytes) -> bool {
        let open = lock(&self.open);
        let still_open = match open.as_ref() {
            None => true,
            Some(open) => open.as_ref().is_some_and(|(r, d)| *r == run && d == decision),
        };
        if !still_open {
            return false;
        }
        let _ = self.tx.send(Push::Tally(text.clone()));
        lock(&self.audience_due).insert((run, decision.to_string()), text);
        true
    }

    /// Sends the audience the tallies it has not had.
    fn flush_audience(&self) {
        let due: Vec<Utf8Bytes> = lock(&self.audience_due).drain().map(|(_, text)| text).collect();
        for text in due {
            let _ = self.audience_tx.send(Push::Tally(text));
        }
    }

    /// How long the audience waits between two tally pushes now.
    fn audience_every(&self) -> Duration {
        let sockets = u32::try_from(self.audience_tx.receiver_count()).unwrap_or(u32::MAX);
        AUDIENCE_EVERY.max(AUDIENCE_PER_SOCKET.saturating_mul(sockets))
    }

    /// Notes that `decision`'s tally changed here; the flusher pushes it
    /// soon, and tells the other instances.
    pub fn mark(&self, run: RunId, decision: &str) {
        lock(&self.announce).insert((run, decision.to_string()));
        self.mark_here(run, decision);
    }

    /// Notes that `decision`'s tally changed elsewhere: pushed here only.
    fn mark_here(&self, run: RunId, decision: &str) {
        lock(&self.dirty).insert((run, decision.to_string()));
        self.wake.notify_one();
    }

    fn take(&self) -> Vec<(RunId, String)> {
        lock(&self.dirty).drain().collect()
    }

    fn take_announced(&self) -> Vec<(RunId, String)> {
        lock(&self.announce).drain().collect()
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// Tells the other instances that the presenter changed the run: each
/// pushes the new state to its sockets. (This instance already did.)
pub async fn announce_state(talk: &Talk) {
    let event = format!("{} state", talk.pushes.instance);
    if let Err(e) = talk.store.publish(&event).await {
        tracing::warn!(error = %e, "cannot tell the other instances about a presenter change");
    }
}

/// Listens to the other instances' events until the server stops,
/// subscribing again (with a growing pause) whenever the subscription
/// fails. Returns at once with the memory store.
pub async fn listener(talk: Talk) {
    let mut stopping = talk.stopping();
    let mut pause = RESUBSCRIBE_FIRST;
    let mut first = true;
    loop {
        let subscribed = tokio::select! {
            s = talk.store.subscribe() => s,
            _ = stopping.changed() => return,
        };
        match subscribed {
            Ok(None) => return,
            Ok(Some(mut events)) => {
                pause = RESUBSCRIBE_FIRST;
                if !first {
                    tracing::info!("listening to the other instances again");
                    resync(&talk).await;
                }
                first = false;
                let echo = format!("{} ping", talk.pushes.instance);
                let mut checks = tokio::time::interval(ECHO_EVERY);
                let mut awaiting_echo = false;
                loop {
                    tokio::select! {
                        event = events.next() => match event {
                            Some(event) if event == echo => awaiting_echo = false,
                            Some(event) => on_event(&talk, &event).await,
                            None => break,
                        },
                        _ = checks.tick() => {
                            // A connection that died without a word (a
                            // network cut) never ends the stream: an echo
                            // of our own that does not come back tells.
                            if awaiting_echo {
                                break;
                            }
                            awaiting_echo = talk.store.publish(&echo).await.is_ok();
                        }
                        _ = stopping.changed() => return,
                    }
                }
                tracing::warn!("lost the subscription to the other instances' events; subscribing again");
            }
            Err(e) => tracing::warn!(error = %e, "cannot subscribe to the other instances' events"),
        }
        tokio::select! {
            _ = tokio::time::sleep(pause) => {}
            _ = stopping.changed() => return,
        }
        pause = (pause * 2).min(RESUBSCRIBE_MAX);
    }
}

/// A fresh state (it carries every count) to every socket: after a
/// presenter change elsewhere, or after events may have been missed.
async fn resync(talk: &Talk) {
    match StateView::load(talk).await {
        Ok(view) => talk.pushes.state(view),
        Err(e) => tracing::warn!(error = %e, "cannot resync the sockets after resubscribing"),
    }
}

/// One event from the channel: `<instance> state`,
/// `<instance> tally <run> <decision>` or `<instance> ping` (an echo check).
async fn on_event(talk: &Talk, event: &str) {
    let mut parts = event.splitn(4, ' ');
    let (Some(from), Some(kind)) = (parts.next(), parts.next()) else {
        return;
    };
    if from == talk.pushes.instance {
        return;
    }
    match (kind, parts.next(), parts.next()) {
        ("state", None, None) => resync(talk).await,
        ("ping", None, None) => {}
        ("tally", Some(run), Some(decision)) => {
            if let Ok(run) = run.parse::<RunId>() {
                talk.pushes.mark_here(run, decision);
            }
        }
        _ => tracing::debug!(event, "ignored an unknown event"),
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
    /// Results hidden until the vote closes: only `total` is sent.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    hidden: bool,
}

#[derive(Serialize)]
struct ChoiceVotes<'a> {
    id: &'a str,
    votes: u64,
}

/// The flusher: the one task per process that turns dirty decisions into
/// tally pushes. Ends when the server stops.
pub async fn flusher(talk: Talk) {
    let mut stopping = talk.stopping();
    let mut audience_next = Instant::now();
    loop {
        let audience_waits = !lock(&talk.pushes.audience_due).is_empty();
        tokio::select! {
            _ = talk.pushes.wake.notified() => {}
            _ = tokio::time::sleep_until(audience_next), if audience_waits => {}
            _ = stopping.changed() => return,
        }
        // The other instances first: they read the tally meanwhile.
        for (run, decision) in talk.pushes.take_announced() {
            if !talk.store.shared() {
                break;
            }
            let event = format!("{} tally {run} {decision}", talk.pushes.instance);
            if let Err(e) = talk.store.publish(&event).await {
                tracing::warn!(error = %e, decision, "cannot tell the other instances about a vote");
            }
        }
        for (run, decision) in talk.pushes.take() {
            if let Err(e) = flush(&talk, run, &decision).await {
                tracing::warn!(error = %e, decision, "cannot push the tally");
            }
        }
        let now = Instant::now();
        if now >= audience_next && !lock(&talk.pushes.audience_due).is_empty() {
            talk.pushes.flush_audience();
            audience_next = now + talk.pushes.audience_every();
        }
        // Votes arriving meanwhile leave a permit in `wake`: they are
        // pushed right after the pause, together.
        tokio::time::sleep(FLUSH_EVERY).await;
    }
}

async fn flush(talk: &Talk, run: RunId, decision_id: &str) -> crate::store::Result<()> {
    let story = talk.story();
    let Some(decision) = story.decision(decision_id) else {
        return Ok(());
    };
    // A tally of a run that is over would overwrite the new run's zeros.
    let Some(tally) = talk.store.tally_if_current(run, decision_id).await? else {
        return Ok(());
    };
    let (winner, tie) = outcome(decision, &tally);
    // Hidden results: the counts never leave the server (the closing state
    // push carries them).
    let hidden = story.results_of(decision) == crate::story::Results::Hidden;
    let message = TallyMessage {
        r#type: "tally",
        decision: decision_id,
        choices: match hidden {
            true => Vec::new(),
            false => decision
                .choices
                .iter()
                .map(|c| ChoiceVotes {
                    id: &c.id,
                    votes: tally.get(&c.id),
                })
                .collect(),
        },
        total: decision.choices.iter().map(|c| tally.get(&c.id)).sum(),
        winner: winner.filter(|_| !hidden),
        tie: tie.filter(|_| !hidden),
        hidden,
    };
    match serde_json::to_string(&message) {
        Ok(text) => {
            if talk.pushes.tally(run, decision_id, text.into()) {
                crate::metrics::tally_pushed(run, decision_id);
            }
        }
        Err(e) => tracing::error!(error = %e, "cannot serialise a tally"),
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::talk::view::SlideView;
    use tokio::sync::broadcast::error::TryRecvError;

    fn tally(text: &str) -> Utf8Bytes {
        text.to_string().into()
    }

    fn text_of(push: Push) -> String {
        match push {
            Push::Tally(text) | Push::Presenter(text) => text.to_string(),
            Push::State(_) => "state".into(),
            Push::Story => "story".into(),
        }
    }

    /// Run 1 on `slide`, with `decision`.
    fn view_of_run_1(slide: &str, decision: Option<crate::talk::view::DecisionView>) -> StateView {
        StateView {
            run: 1,
            slide: SlideView {
                id: slide.into(),
                title: slide.to_uppercase(),
                alt: String::new(),
            },
            decision,
            you: None,
            sms: None,
            started: None,
            published: Default::default(),
            timer: None,
            room_code: None,
            label: None,
            run_label: None,
        }
    }

    #[test]
    fn the_presenter_gets_every_tally_at_once_and_the_audience_the_latest_when_due() {
        let pushes = Pushes::new();
        let mut presenter = pushes.subscribe();
        let mut audience = pushes.subscribe_audience();
        pushes.tally(1, "d", tally("1 vote"));
        pushes.tally(1, "d", tally("2 votes"));
        assert_eq!(text_of(presenter.try_recv().unwrap()), "1 vote");
        assert_eq!(text_of(presenter.try_recv().unwrap()), "2 votes");
        assert_eq!(audience.try_recv().unwrap_err(), TryRecvError::Empty);
        pushes.flush_audience();
        assert_eq!(text_of(audience.try_recv().unwrap()), "2 votes");
        assert_eq!(audience.try_recv().unwrap_err(), TryRecvError::Empty);
    }

    #[test]
    fn a_state_push_drops_the_audience_tally_read_before_it() {
        let pushes = Pushes::new();
        let mut audience = pushes.subscribe_audience();
        pushes.tally(1, "d", tally("before the close"));
        pushes.state(view_of_run_1("s", None));
        pushes.flush_audience();
        assert_eq!(text_of(audience.try_recv().unwrap()), "state");
        assert_eq!(audience.try_recv().unwrap_err(), TryRecvError::Empty);
    }

    #[test]
    fn a_tally_after_the_closing_state_is_dropped_and_one_of_the_open_vote_goes_out() {
        let pushes = Pushes::new();
        let mut presenter = pushes.subscribe();
        let mut audience = pushes.subscribe_audience();
        let state = |status| {
            let decision = crate::talk::view::DecisionView {
                id: "d".into(),
                prompt: "?".into(),
                status,
                choices: Vec::new(),
                total: 0,
                winner: None,
                tie: None,
                hidden: false,
                min_votes: None,
            };
            view_of_run_1("d", Some(decision))
        };
        pushes.state(state(Status::Open));
        assert!(pushes.tally(1, "d", tally("while open")));
        assert!(!pushes.tally(2, "d", tally("another run")));
        pushes.state(state(Status::Closed));
        assert!(!pushes.tally(1, "d", tally("read before the close")));
        pushes.flush_audience();
        let heard: Vec<String> = std::iter::from_fn(|| presenter.try_recv().ok()).map(text_of).collect();
        assert_eq!(heard, ["state", "while open", "state"]);
        let heard: Vec<String> = std::iter::from_fn(|| audience.try_recv().ok()).map(text_of).collect();
        assert_eq!(heard, ["state", "state"]);
    }

    #[test]
    fn the_audience_pace_grows_with_its_sockets() {
        let pushes = Pushes::new();
        assert_eq!(pushes.audience_every(), AUDIENCE_EVERY);
        let held: Vec<_> = (0..20_000).map(|_| pushes.subscribe_audience()).collect();
        assert_eq!(pushes.audience_every(), Duration::from_secs(1));
        drop(held);
    }
}
