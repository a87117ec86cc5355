//! The state every handler shares: the [`Talk`] (the story, the store, the
//! live machinery), plus what only HTTP needs, in four groups: who may do
//! what ([`Access`]), where the site is served ([`Site`]), the traffic's
//! limits and open sockets ([`Traffic`]), and SMS voting ([`Texts`]).

use std::ops::Deref;
use std::sync::Arc;

use axum::extract::FromRef;
use axum_extra::extract::cookie::Key;

use super::auth::PresenterSessions;
use super::error::Error;
use super::limits::Guards;
use super::room::Room;
use crate::sms::SmsConfig;
use crate::store::{VoteKind, VoteStore, Voter};
use crate::talk::control;
use crate::talk::{Ballot, Pass, StateView, Talk};

/// Cheap to clone: every clone shares one [`Inner`].
#[derive(Clone)]
pub struct AppState(Arc<Inner>);

/// What [`AppState`] holds.
pub struct Inner {
    /// The talk itself: story, store, pushes, presence, control.
    pub talk: Talk,
    /// Cookies, presenter logins and the room code.
    pub access: Access,
    /// The public URL and what follows from it.
    pub site: Site,
    /// Rate limits, connection counts and the open sockets.
    pub traffic: Traffic,
    /// SMS voting (`POST /sms`) and the results texts.
    pub sms: Texts,
}

/// Who may do what.
pub struct Access {
    /// Signs the voter and presenter cookies; derived from the secret.
    pub key: Key,
    /// The presenter token; compared in constant time, never logged.
    pub presenter_token: String,
    /// Issues and checks presenter logins (the cookie holds the login's
    /// time and a keyed hash of it and the token, so a new token logs every
    /// old presenter cookie out).
    pub presenter_sessions: PresenterSessions,
    /// The room code's key and flag ([`super::room`]).
    pub room: Room,
}

/// Where the site is served.
pub struct Site {
    /// Base URL the audience uses, without a trailing slash.
    pub public_url: String,
    /// `scheme://host[:port]` of `public_url`, for the cross-origin check.
    pub public_origin: String,
    /// Whether cookies carry the Secure flag (the public URL is https).
    pub secure_cookies: bool,
}

/// The traffic: limits and the sockets open now.
pub struct Traffic {
    /// Rate limits and connection counts ([`super::limits`]).
    pub limits: Arc<Guards>,
    /// The open sockets' tasks, so that stopping can wait for them.
    pub sockets: tokio_util::task::TaskTracker,
}

/// SMS voting.
pub struct Texts {
    /// The webhook's settings, on or off.
    pub config: SmsConfig,
    /// Texts SMS voters the outcome (`--sms-results`), when on.
    #[cfg(feature = "sms-outbound")]
    pub outbound: Option<Arc<crate::sms::outbound::Outbound>>,
}

impl AppState {
    /// Wraps the pieces.
    pub fn new(inner: Inner) -> Self {
        AppState(Arc::new(inner))
    }

    /// Casts (or moves) the vote of `voter`'s tap, by the form or the
    /// socket: the voter's rate limit first (a voter tapping in a loop
    /// costs the store nothing), then the talk's
    /// [`cast`](crate::talk::control::cast), as a presence or a sticky vote
    /// as the story says. A refusal is counted in `votes_refused` by the
    /// code the voter is sent.
    pub async fn cast(&self, pass: Pass, voter: &Voter, decision: &str, choice: &str) -> Result<(), Error> {
        let tap = Ballot::Tap(crate::talk::presence::kind(&self.talk));
        self.limited(voter, control::cast(&self.talk, pass, voter, decision, choice, tap))
            .await
    }

    /// [`Self::cast`] from a page without JavaScript (the form): a presence
    /// vote renews its voter's lease in the same store step, as a page's
    /// socket would keep it present.
    pub async fn cast_from_page(&self, pass: Pass, voter: &Voter, decision: &str, choice: &str) -> Result<(), Error> {
        let ballot = match crate::talk::presence::kind(&self.talk) {
            VoteKind::Presence => Ballot::Page(crate::talk::presence::page_lease(&self.talk)),
            VoteKind::Sticky => Ballot::Tap(VoteKind::Sticky),
        };
        self.limited(voter, control::cast(&self.talk, pass, voter, decision, choice, ballot))
            .await
    }

    /// `cast`, once `voter` is within the vote rate; a refusal is counted.
    async fn limited(
        &self,
        voter: &Voter,
        cast: impl Future<Output = Result<(), crate::talk::Error>>,
    ) -> Result<(), Error> {
        let counted: Result<(), Error> = async {
            self.traffic.limits.vote(voter)?;
            cast.await?;
            Ok(())
        }
        .await;
        if let Err(e) = &counted {
            crate::metrics::vote_refused(e.code);
        }
        counted
    }

    /// The view as the presenter gets it: the talk's view with the room
    /// code, when it is on, and the run's label.
    pub fn for_presenter(&self, mut view: StateView) -> StateView {
        view.room_code = super::room::presenter_code(self, view.run, view.started);
        view.label.clone_from(&view.run_label);
        view
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
        state.access.key.clone()
    }
}

impl FromRef<AppState> for VoteStore {
    fn from_ref(state: &AppState) -> VoteStore {
        state.talk.store.clone()
    }
}

#[cfg(test)]
impl AppState {
    /// A state for unit tests: [`Talk::for_tests`] of the story, token
    /// `unit-test-presenter-token`.
    pub(crate) fn for_tests(story: crate::story::Story) -> (AppState, tokio::sync::watch::Sender<bool>) {
        let (talk, stop) = Talk::for_tests(story);
        let state = AppState::new(Inner {
            talk,
            access: Access {
                key: Key::from(&[7u8; 64]),
                presenter_sessions: PresenterSessions::new(
                    "secret",
                    "unit-test-presenter-token",
                    super::limits::PRESENTER_SESSION,
                ),
                presenter_token: "unit-test-presenter-token".into(),
                room: Room::new("secret", false),
            },
            site: Site {
                public_url: "http://cyoa.test".into(),
                public_origin: "http://cyoa.test".into(),
                secure_cookies: false,
            },
            traffic: Traffic {
                limits: Guards::new(super::limits::Limits::default()),
                sockets: tokio_util::task::TaskTracker::new(),
            },
            sms: Texts {
                config: SmsConfig {
                    auth_token: None,
                    insecure_skip_signature: false,
                    public_url: "http://cyoa.test".into(),
                    number: None,
                    phone_key: [7; 32],
                    account_sid: None,
                },
                #[cfg(feature = "sms-outbound")]
                outbound: None,
            },
        });
        (state, stop)
    }
}
