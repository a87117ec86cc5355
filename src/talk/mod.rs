//! The talk itself, apart from HTTP: the story being served, the run and
//! its control, counting votes, presence, the live pushes, story reloads
//! and the views of where the talk stands.
//!
//! [`Talk`] is its one handle. The web layer (`web`) holds one and
//! adds what only HTTP needs (cookies, logins, the room code, limits); the
//! SMS webhook counts through it as well ([`crate::sms::Ballots`]). Nothing
//! here knows of requests, cookies or status codes: a refusal is an
//! [`Error`], which the web layer maps to HTTP in one place.
//!
//! The flow: [`control`] changes the run ([`control::apply`]) or counts a
//! vote ([`control::count`], [`control::cast`]), [`view`] says where the
//! talk stands, [`push`] tells every socket, [`presence`] withdraws the
//! votes of voters who left, [`reload`] serves the story file's edits.

pub mod control;
pub mod error;
pub mod lane;
pub mod presence;
pub mod push;
pub mod reload;
pub mod rules;
pub mod timer;
pub mod view;

use std::ops::Deref;
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use arc_swap::ArcSwap;
use tokio::sync::{Mutex, watch};
use tokio::task::JoinHandle;

pub use control::{Action, Ballot, Pass};
pub use error::Error;
pub use presence::Presence;
pub use push::{Push, Pushes};
pub use timer::Timer;
pub use view::StateView;

use crate::store::VoteStore;
use crate::story::{Story, WebVotes};

/// The talk's handle. Cheap to clone: every clone shares one [`Inner`].
#[derive(Clone)]
pub struct Talk(Arc<Inner>);

/// What [`Talk`] holds.
pub struct Inner {
    /// The talk being served; see [`Talk::story`].
    story: ArcSwap<Story>,
    /// Why the story file's last edit was not loaded (`serve --watch`), one
    /// `FILE:LINE:COL: error: MESSAGE` line each; empty when it loaded. The
    /// presenter view and console show them; the audience never does.
    story_problems: RwLock<Vec<String>>,
    /// Where runs and votes are kept.
    pub store: VoteStore,
    /// State and tally pushes to every socket.
    pub pushes: Pushes,
    /// Open audience sockets per voter on this instance; their leases.
    pub presence: Presence,
    /// Serialises presenter changes, so two quick key presses cannot
    /// interleave their read-then-write of the run state.
    control: Mutex<()>,
    /// The run the last vote went to (0: none yet), so that a vote is one
    /// store call: the store itself checks that the run is still current.
    run_hint: AtomicU64,
    /// How votes tapped on a page count (read at start).
    web_votes: WebVotes,
    /// How long a presence vote outlives its voter's last audience socket.
    grace: Duration,
    /// The number to text a vote to, shown in every state when SMS voting
    /// is on and a number is set.
    sms_number: Option<String>,
    /// Turns true when the server is stopping; the background tasks and
    /// the sockets then end.
    stopping: watch::Receiver<bool>,
}

impl Talk {
    /// The talk of `story`, kept in `store`. `grace` is how long a presence
    /// vote outlives its voter's last page; `sms_number` the number shown
    /// for text votes (`None`: SMS voting off or no number); `stopping`
    /// turns true when the server stops.
    pub fn new(
        story: Story,
        store: VoteStore,
        grace: Duration,
        sms_number: Option<String>,
        stopping: watch::Receiver<bool>,
    ) -> Self {
        Talk(Arc::new(Inner {
            web_votes: story.settings.web_votes,
            story: ArcSwap::from_pointee(story),
            story_problems: RwLock::default(),
            store,
            pushes: Pushes::new(),
            presence: Presence::default(),
            control: Mutex::new(()),
            run_hint: AtomicU64::new(0),
            grace,
            sms_number,
            stopping,
        }))
    }

    /// The story as it is now. A caller takes it once and keeps the `Arc`
    /// for the whole request, so a reload in the middle cannot show it half
    /// of one story and half of the next.
    pub fn story(&self) -> Arc<Story> {
        self.0.story.load_full()
    }

    /// Serves `story` from now on (`serve --watch` after a clean check).
    /// Runs and votes stay in the store, keyed by decision and choice ids.
    pub fn replace_story(&self, story: Story) {
        self.0.story.store(Arc::new(story));
    }

    /// Why the last edit of the story file was not loaded; empty if it was.
    pub fn story_problems(&self) -> Vec<String> {
        self.0.story_problems.read().map(|p| p.clone()).unwrap_or_default()
    }

    /// Records why the last edit was not loaded (empty: it was).
    pub fn set_story_problems(&self, problems: Vec<String>) {
        if let Ok(mut held) = self.0.story_problems.write() {
            *held = problems;
        }
    }

    /// The signal that turns true when the server stops.
    pub fn stopping(&self) -> watch::Receiver<bool> {
        self.0.stopping.clone()
    }

    /// Starts the talk's background tasks: the tally [`push::flusher`] and
    /// the [`push::listener`] to the other instances on the push
    /// [`lane`], presence's
    /// [`presence::heartbeat`] and [`presence::sweeper`], and the vote
    /// [`timer::keeper`]. Each ends when the server stops.
    pub fn spawn_background(&self) -> Vec<JoinHandle<()>> {
        vec![
            lane::spawn(push::flusher(self.clone())),
            lane::spawn(push::listener(self.clone())),
            tokio::spawn(presence::heartbeat(self.clone())),
            tokio::spawn(presence::sweeper(self.clone())),
            tokio::spawn(timer::keeper(self.clone())),
        ]
    }
}

impl Deref for Talk {
    type Target = Inner;
    fn deref(&self) -> &Inner {
        &self.0
    }
}

#[cfg(test)]
impl Talk {
    /// A talk for unit tests: the story in a memory store, a grace of
    /// 100 ms, no SMS number; the sender stops it.
    pub(crate) fn for_tests(story: Story) -> (Talk, watch::Sender<bool>) {
        let (stop, stopping) = watch::channel(false);
        let store = VoteStore::Memory(crate::store::MemoryStore::new());
        (
            Talk::new(story, store, Duration::from_millis(100), None, stopping),
            stop,
        )
    }
}
