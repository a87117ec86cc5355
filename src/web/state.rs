//! The state every handler shares: the story, the vote store, the secrets
//! and the live machinery (pushes to sockets, presence of voters).

use std::ops::Deref;
use std::sync::Arc;
use std::sync::atomic::AtomicU64;
use std::time::Duration;

use axum::extract::FromRef;
use axum_extra::extract::cookie::Key;
use tokio::sync::{Mutex, watch};

use super::presence::Presence;
use super::push::Pushes;
use arc_swap::ArcSwap;

use crate::sms::SmsConfig;
use crate::store::VoteStore;
use crate::story::{Story, WebVotes};

/// Cheap to clone: every clone shares one [`Inner`].
#[derive(Clone)]
pub struct AppState(Arc<Inner>);

/// What [`AppState`] holds.
pub struct Inner {
    /// The talk being served; see [`AppState::story`].
    pub story: ArcSwap<Story>,
    /// Where runs and votes are kept (memory or Redis).
    pub store: VoteStore,
    /// Signs the voter and presenter cookies; derived from the secret.
    pub key: Key,
    /// The presenter token; compared in constant time, never logged.
    pub presenter_token: String,
    /// Issues and checks presenter logins (the cookie holds the login's
    /// time and a keyed hash of it and the token, so a new token logs every
    /// old presenter cookie out).
    pub presenter_sessions: super::auth::PresenterSessions,
    /// The room code's key and flag ([`super::room`]).
    pub room: super::room::Room,
    /// Base URL the audience uses, without a trailing slash.
    pub public_url: String,
    /// `scheme://host[:port]` of `public_url`, for the cross-origin check.
    pub public_origin: String,
    /// Whether cookies carry the Secure flag (the public URL is https).
    pub secure_cookies: bool,
    /// How votes cast over the WebSocket count.
    pub web_votes: WebVotes,
    /// How long a presence vote outlives its voter's last audience socket.
    pub grace: Duration,
    /// State and tally pushes to every socket.
    pub pushes: Pushes,
    /// Rate limits and connection counts ([`super::limits`]).
    pub limits: std::sync::Arc<super::limits::Guards>,
    /// Open audience sockets per voter on this instance; their leases.
    pub presence: Presence,
    /// Serialises presenter changes, so two quick key presses cannot
    /// interleave their read-then-write of the run state.
    pub control: Mutex<()>,
    /// Turns true when the server is stopping; sockets then close.
    pub stopping: watch::Receiver<bool>,
    /// The run the last vote went to (0: none yet), so that a vote is one
    /// store call: the store itself checks that the run is still current.
    pub run_hint: AtomicU64,
    /// SMS voting (`POST /sms`), on or off.
    pub sms: SmsConfig,
    /// Texts SMS voters the outcome (`--sms-results`), when on.
    #[cfg(feature = "sms-outbound")]
    pub outbound: Option<Arc<crate::sms::outbound::Outbound>>,
    /// The open sockets' tasks, so that stopping can wait for them.
    pub sockets: tokio_util::task::TaskTracker,
    /// Why the story file's last edit was not loaded (`serve --watch`), one
    /// `FILE:LINE:COL: error: MESSAGE` line each; empty when it loaded. The
    /// presenter view and console show them; the audience never does.
    pub story_problems: std::sync::RwLock<Vec<String>>,
}

impl AppState {
    /// Wraps the pieces.
    pub fn new(inner: Inner) -> Self {
        AppState(Arc::new(inner))
    }

    /// The story as it is now. A handler takes it once and keeps the `Arc`
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
}

impl Deref for AppState {
    type Target = Inner;
    fn deref(&self) -> &Inner {
        &self.0
    }
}

impl FromRef<AppState> for Key {
    fn from_ref(state: &AppState) -> Key {
        state.key.clone()
    }
}

impl FromRef<AppState> for VoteStore {
    fn from_ref(state: &AppState) -> VoteStore {
        state.store.clone()
    }
}

#[cfg(test)]
impl AppState {
    /// A state for unit tests: the story, a memory store, token
    /// `unit-test-presenter-token`.
    pub(crate) fn for_tests(story: Story) -> (AppState, tokio::sync::watch::Sender<bool>) {
        let (stop, stopping) = tokio::sync::watch::channel(false);
        let state = AppState::new(Inner {
            key: Key::from(&[7u8; 64]),
            presenter_sessions: super::auth::PresenterSessions::new(
                "secret",
                "unit-test-presenter-token",
                super::limits::PRESENTER_SESSION,
            ),
            presenter_token: "unit-test-presenter-token".into(),
            room: super::room::Room::new("secret", false),
            public_url: "http://cyoa.test".into(),
            public_origin: "http://cyoa.test".into(),
            secure_cookies: false,
            web_votes: story.settings.web_votes,
            grace: Duration::from_millis(100),
            pushes: super::push::Pushes::new(),
            limits: super::limits::Guards::new(super::limits::Limits::default()),
            presence: Presence::default(),
            control: Mutex::new(()),
            stopping,
            run_hint: AtomicU64::new(0),
            sms: SmsConfig {
                auth_token: None,
                insecure_skip_signature: false,
                public_url: "http://cyoa.test".into(),
                number: None,
                phone_key: [7; 32],
                account_sid: None,
            },
            #[cfg(feature = "sms-outbound")]
            outbound: None,
            sockets: tokio_util::task::TaskTracker::new(),
            story_problems: Default::default(),
            story: ArcSwap::from_pointee(story),
            store: VoteStore::Memory(crate::store::MemoryStore::new()),
        });
        (state, stop)
    }
}
