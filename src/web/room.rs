//! The room code: with `room_code = true` in the story (or `cyoa serve
//! --room-code`) joining needs a short code that only the room can read,
//! on the presenter's join panel. It keeps a livestream's viewers and other
//! sites out of a room vote; anyone in the room can still pass it on.
//!
//! The code is derived, not stored: five characters of an HMAC, under a key
//! derived from `--secret`, of the run's number and start time. So every
//! instance that shares the secret agrees on it, a restart keeps it, and a
//! new run gets a new one. Its alphabet leaves out the look-alikes 0, O, 1,
//! I and L; a typed code is read in any case, spaces and dashes ignored.
//!
//! The QR code carries the code (`/?code=XXXXX`): [`door`] checks it, sets
//! the signed room cookie (`cyoa_room`: the run and the code it was entered
//! with) and redirects to the bare URL, so the code leaves the address bar.
//! Without the cookie for the current run the audience page is the join
//! page, asking for the code. [`admit`] is the one check "may this request
//! vote in the current run"; the [`Pass`] it gives makes a vote count in
//! that run only, so a vote from before a new run is refused by the store
//! itself, in the same step that counts.

use std::convert::Infallible;

use askama::Template;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum_extra::extract::cookie::{Cookie, CookieJar, SameSite, SignedCookieJar};
use hmac::{Hmac, Mac};
use sha2::Sha256;
use subtle::ConstantTimeEq;

use super::error::Error;
use super::pages::{Look, render};
use super::state::AppState;
use crate::i18n::Language;
use crate::store::{RunId, RunState};
use crate::story::Story;

/// Name of the room cookie.
pub const ROOM_COOKIE: &str = "cyoa_room";

/// The characters of a room code: capital letters and digits without the
/// look-alikes 0, O, 1, I and L.
pub const ALPHABET: &[u8; 31] = b"ABCDEFGHJKMNPQRSTUVWXYZ23456789";

/// Characters in a room code: 31^5, about 28.6 million codes.
pub const CODE_LENGTH: usize = 5;

/// The longest typed code read at all; anything longer is not a code.
const MAX_TYPED: usize = 64;

/// How long the room cookie lasts; it is only good for its run anyway.
const MAX_AGE_HOURS: i64 = 24;

/// The room code's key and the `--room-code` flag.
pub struct Room {
    key: [u8; 32],
    /// `cyoa serve --room-code`: on whatever the story says.
    forced: bool,
}

impl Room {
    /// The room of a server with this `--secret`; `forced`: `--room-code`.
    pub fn new(secret: &str, forced: bool) -> Room {
        let mut mac = hmac(secret.as_bytes());
        mac.update(b"cyoa room code key");
        Room {
            key: mac.finalize().into_bytes().into(),
            forced,
        }
    }

    /// Whether joining needs the code: the flag, or the story's setting
    /// (read on every request, so a reloaded story may turn it on or off).
    pub fn on(&self, story: &Story) -> bool {
        self.forced || story.settings.room_code
    }

    /// The code of the run `run` that began at `started`.
    pub fn code(&self, run: RunId, started: Option<u64>) -> String {
        let mut mac = hmac(&self.key);
        mac.update(b"room code\0");
        mac.update(&run.to_be_bytes());
        // The start time too: a memory store restarted under the same
        // secret counts runs from 1 again, and must not repeat old codes.
        mac.update(&started.unwrap_or(0).to_be_bytes());
        let digest = mac.finalize().into_bytes();
        let mut bits = u64::from_be_bytes(std::array::from_fn(|i| digest[i]));
        let base = ALPHABET.len() as u64;
        (0..CODE_LENGTH)
            .map(|_| {
                // 2^64 is no multiple of 31: the first characters lean by
                // less than one part in 10^17, nothing a guesser can use.
                let c = ALPHABET[(bits % base) as usize];
                bits /= base;
                char::from(c)
            })
            .collect()
    }

    /// The code of the run `state` describes.
    pub fn code_of(&self, state: &RunState) -> String {
        self.code(state.run, state.started)
    }
}

fn hmac(key: &[u8]) -> Hmac<Sha256> {
    // HMAC takes a key of any length: this cannot fail.
    <Hmac<Sha256> as Mac>::new_from_slice(key).unwrap_or_else(|_| unreachable!())
}

/// Why a typed code cannot be a room code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NotACode {
    /// Nothing typed (spaces and dashes only).
    Empty,
    /// The wrong length, or a character no code has.
    Shape,
}

/// A typed code as codes are written: capitals, without the spaces and
/// dashes people put in; refused when it could not be any room code.
pub fn read_typed(typed: &str) -> Result<String, NotACode> {
    if typed.len() > MAX_TYPED {
        return Err(NotACode::Shape);
    }
    let code: String = typed
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '-')
        .map(|c| c.to_ascii_uppercase())
        .collect();
    if code.is_empty() {
        return Err(NotACode::Empty);
    }
    let fits = code.len() == CODE_LENGTH && code.bytes().all(|b| ALPHABET.contains(&b));
    if fits { Ok(code) } else { Err(NotACode::Shape) }
}

/// Whether two codes are the same, in constant time.
fn same_code(a: &str, b: &str) -> bool {
    bool::from(a.as_bytes().ct_eq(b.as_bytes()))
}

/// The room cookie for `run`, entered with `code`: signed, so a browser
/// cannot make one up; HttpOnly; Lax, so the QR code's link sets it.
fn cookie(app: &AppState, run: RunId, code: &str) -> Cookie<'static> {
    Cookie::build((ROOM_COOKIE, format!("{run}.{code}")))
        .http_only(true)
        .same_site(SameSite::Lax)
        .path("/")
        .max_age(time::Duration::hours(MAX_AGE_HOURS))
        .secure(app.secure_cookies)
        .build()
}

/// What the request's room cookie says: the run and the code it was
/// entered with, when it is one we signed.
fn held(app: &AppState, headers: &HeaderMap) -> Option<(RunId, String)> {
    CookieJar::from_headers(headers).get(ROOM_COOKIE)?;
    let jar = SignedCookieJar::from_headers(headers, app.key.clone());
    let value = jar.get(ROOM_COOKIE)?.value().to_string();
    let (run, code) = value.split_once('.')?;
    Some((run.parse().ok()?, code.to_string()))
}

/// Whether the cookie `held` is good for the run `current`.
fn admits(app: &AppState, held: &(RunId, String), current: &RunState) -> bool {
    held.0 == current.run && same_code(&held.1, &app.room.code_of(current))
}

/// Where a request may vote: the answer of [`admit`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pass {
    /// No room code: votes go to the current run.
    Open,
    /// Entered with the code of this run: votes count in it, and are
    /// refused once another run has started.
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

/// May this request vote in the current run? With the room code off,
/// always (and no store call is made); with it on, only with the room
/// cookie of the current run: else the 403 `room_code` refusal.
pub async fn admit(app: &AppState, headers: &HeaderMap) -> Result<Pass, Error> {
    let story = app.story();
    if !app.room.on(&story) {
        return Ok(Pass::Open);
    }
    let Some(held) = held(app, headers) else {
        return Err(code_needed());
    };
    let current = app.store.current(&story.start).await?;
    if admits(app, &held, &current) {
        Ok(Pass::Run(current.run))
    } else {
        Err(new_code_needed())
    }
}

impl FromRequestParts<AppState> for Pass {
    type Rejection = Error;
    async fn from_request_parts(parts: &mut Parts, app: &AppState) -> Result<Self, Error> {
        admit(app, &parts.headers).await
    }
}

/// The code in the address (`?code=`), from the QR code's link or the join
/// page's form; other query fields are left alone.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TypedCode(pub Option<String>);

impl FromRequestParts<AppState> for TypedCode {
    type Rejection = Infallible;
    async fn from_request_parts(parts: &mut Parts, _: &AppState) -> Result<Self, Infallible> {
        let query = parts.uri.query().unwrap_or_default();
        let code = form_urlencoded::parse(query.as_bytes())
            .find(|(name, _)| name == "code")
            .map(|(_, value)| value.into_owned());
        Ok(TypedCode(code))
    }
}

/// The refusal of a request without the room cookie.
pub fn code_needed() -> Error {
    Error::new(
        StatusCode::FORBIDDEN,
        "room_code",
        "This room needs its code: open the audience page and type the code shown on the screen.",
    )
}

/// The refusal of a request whose room cookie is for an earlier run.
pub fn new_code_needed() -> Error {
    Error::new(
        StatusCode::FORBIDDEN,
        "room_code",
        "A new run has started with a new room code: open the audience page and type the code shown on the screen.",
    )
}

/// The room code of the current run, for the presenter's pages and state;
/// `None` when the room code is off.
pub fn presenter_code(app: &AppState, run: RunId, started: Option<u64>) -> Option<String> {
    app.room.on(&app.story()).then(|| app.room.code(run, started))
}

/// The join page: asks for the room code, with a plain form that works
/// without JavaScript.
#[derive(Template)]
#[template(path = "room.html")]
struct JoinPage {
    tr: &'static Language,
    look: Look,
    story_title: String,
    /// Where the form goes (the page asked for, without its query).
    here: String,
    /// What was wrong with the code just typed, or that a new run began.
    problem: Option<String>,
}

fn join_page(app: &AppState, here: &str, status: StatusCode, problem: Option<&str>) -> Result<Response, Error> {
    let story = app.story();
    let tr = crate::i18n::current();
    let page = JoinPage {
        tr,
        look: Look::of(&story),
        story_title: story.title.clone(),
        here: here.to_string(),
        problem: problem.map(|key| tr.t(key).to_string()),
    };
    Ok((status, render(page)?).into_response())
}

/// The door of an audience page at `here` (`/`, `/vote/{decision}`) when
/// the room code is on: `?code=` with the right code sets the room cookie
/// and redirects to `here`; a wrong one gets the join page again, saying
/// so (403), with nothing set; without the room cookie of the current run,
/// the join page (200). `None`: the page may be served (the room code is
/// off, or the cookie is good). No voter cookie is minted here.
pub async fn door(
    app: &AppState,
    headers: &HeaderMap,
    typed: Option<&str>,
    here: &str,
) -> Result<Option<Response>, Error> {
    let story = app.story();
    if !app.room.on(&story) {
        return Ok(None);
    }
    let current = app.store.current(&story.start).await?;
    let held = held(app, headers);
    let inside = held.as_ref().is_some_and(|h| admits(app, h, &current));
    let typed = typed.map(read_typed).filter(|t| *t != Err(NotACode::Empty));
    match typed {
        // Already in (an old photo of the QR code, a second scan): no
        // need to read the code again.
        Some(_) if inside => Ok(Some(Redirect::to(here).into_response())),
        Some(Ok(code)) if same_code(&code, &app.room.code_of(&current)) => {
            let jar = SignedCookieJar::new(app.key.clone()).add(cookie(app, current.run, &code));
            // 303 to the bare URL: the code leaves the address bar.
            Ok(Some((jar, Redirect::to(here)).into_response()))
        }
        Some(Ok(_)) => join_page(app, here, StatusCode::FORBIDDEN, Some("room.wrong")).map(Some),
        Some(Err(_)) => join_page(app, here, StatusCode::FORBIDDEN, Some("room.not_a_code")).map(Some),
        None if inside => Ok(None),
        // A cookie of an earlier run: say why the code is asked again.
        None if held.is_some() => join_page(app, here, StatusCode::OK, Some("room.new_run")).map(Some),
        None => join_page(app, here, StatusCode::OK, None).map(Some),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_code_has_five_characters_of_the_alphabet() {
        let room = Room::new("secret", false);
        for run in 1..200 {
            let code = room.code(run, Some(1_700_000_000_000));
            assert_eq!(code.len(), CODE_LENGTH, "{code}");
            assert!(code.bytes().all(|b| ALPHABET.contains(&b)), "{code}");
        }
    }

    #[test]
    fn the_alphabet_has_no_look_alikes() {
        for c in b"0O1IL" {
            assert!(!ALPHABET.contains(c), "{}", char::from(*c));
        }
        let mut sorted = ALPHABET.to_vec();
        sorted.sort_unstable();
        sorted.dedup();
        assert_eq!(sorted.len(), ALPHABET.len());
    }

    #[test]
    fn the_same_secret_and_run_give_the_same_code_and_a_new_run_a_new_one() {
        let (a, b) = (Room::new("secret", false), Room::new("secret", true));
        assert_eq!(a.code(3, Some(99)), b.code(3, Some(99)));
        assert_ne!(a.code(3, Some(99)), a.code(4, Some(99)));
        // A run 3 that began at another time (a restarted memory store).
        assert_ne!(a.code(3, Some(99)), a.code(3, Some(100)));
        assert_ne!(a.code(3, Some(99)), Room::new("other", false).code(3, Some(99)));
    }

    #[test]
    fn typed_codes_are_read_in_any_case_without_spaces_and_dashes() {
        assert_eq!(read_typed("ab3cd"), Ok("AB3CD".into()));
        assert_eq!(read_typed(" ab3 - Cd "), Ok("AB3CD".into()));
        assert_eq!(read_typed("  -"), Err(NotACode::Empty));
        for bad in [
            "AB3C", "AB3CDE", "AB0CD", "ABOCD", "AB1CD", "ABICD", "ablcd", "AB3C!", "ÄB3CD",
        ] {
            assert_eq!(read_typed(bad), Err(NotACode::Shape), "{bad}");
        }
        assert_eq!(read_typed(&"A".repeat(10_000)), Err(NotACode::Shape));
    }

    /// A vote sent with the code of a run that has just ended (before its
    /// socket heard of the new run) is refused by the store, counting nothing.
    #[tokio::test]
    async fn a_vote_with_the_last_runs_pass_counts_nothing_in_the_new_one() {
        use crate::store::{VoteKind, Voter};
        use crate::web::control::{self, Action};
        let story = Story::parse(
            "t.toml",
            r#"
title = "T"
start = "d"
[settings]
room_code = true
[slides.d]
title = "D"
[slides.d.decision]
prompt = "?"
choices = [{ id = "x", label = "X", goto = "d" }, { id = "y", label = "Y", goto = "d" }]
"#,
        )
        .expect("the story checks")
        .story;
        let (app, _stop) = AppState::for_tests(story);
        control::apply(&app, Action::Open).await.expect("open");
        let voter = Voter::web("0123456789abcdef0123456789abcdef");
        control::cast(&app, Pass::Run(1), &voter, "d", "x", VoteKind::Sticky)
            .await
            .expect("counted in its run");
        control::apply(&app, Action::NewRun).await.expect("a new run");
        control::apply(&app, Action::Open).await.expect("open");
        let refused = control::cast(&app, Pass::Run(1), &voter, "d", "y", VoteKind::Sticky).await;
        assert_eq!(
            refused.map_err(|e| (e.status, e.code)),
            Err((StatusCode::FORBIDDEN, "room_code"))
        );
        assert_eq!(app.store.tally(2, "d").await.expect("a tally").get("y"), 0);
        assert_eq!(app.store.tally(1, "d").await.expect("a tally").get("x"), 1);
    }

    #[test]
    fn a_pass_admits_its_own_run_only() {
        assert!(Pass::Open.admits(7));
        assert!(Pass::Run(7).admits(7));
        assert!(!Pass::Run(7).admits(8));
    }
}
