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

use std::collections::HashMap;
use std::convert::Infallible;
use std::net::{IpAddr, SocketAddr};
use std::num::NonZeroU32;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use askama::Template;
use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum_extra::extract::cookie::{Cookie, CookieJar, SameSite, SignedCookieJar};
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use hmac::{Hmac, Mac};
use sha2::Sha256;
use subtle::ConstantTimeEq;

use super::error::Error;
use super::limits;
use super::pages::{Look, render};
use super::state::AppState;
use crate::i18n::Language;
use crate::store::{RunId, RunState};
use crate::story::Story;

/// Name of the room cookie.
pub const ROOM_COOKIE: &str = "cyoa_room";

/// The error code of a request refused for want of the current run's code.
pub const REFUSED: &str = "room_code";

/// The characters of a room code: capital letters and digits without the
/// look-alikes 0, O, 1, I and L.
pub const ALPHABET: &[u8; 31] = b"ABCDEFGHJKMNPQRSTUVWXYZ23456789";

/// Characters in a room code: 31^5, about 28.6 million codes.
pub const CODE_LENGTH: usize = 5;

/// The longest typed code read at all; anything longer is not a code.
const MAX_TYPED: usize = 64;

/// How long the room cookie lasts; it is only good for its run anyway.
const MAX_AGE_HOURS: i64 = 24;

/// Wrong codes one address may type at once, for a hall behind one NAT
/// whose people mistype now and then...
pub const WRONG_CODES_BURST: u32 = 30;
/// ...and then per minute: a guesser tries 3,600 of the 28.6 million codes
/// an hour, one in 8,000.
pub const WRONG_CODES_PER_MINUTE: u32 = 60;

/// The room code's key, the `--room-code` flag, and the limit on wrong
/// codes per address.
pub struct Room {
    key: [u8; 32],
    /// `cyoa serve --room-code`: on whatever the story says.
    forced: bool,
    wrong: WrongCodes,
}

impl Room {
    /// The room of a server with this `--secret`; `forced`: `--room-code`.
    pub fn new(secret: &str, forced: bool) -> Room {
        let mut mac = hmac(secret.as_bytes());
        mac.update(b"cyoa room code key");
        Room {
            key: mac.finalize().into_bytes().into(),
            forced,
            wrong: WrongCodes::new(wrong_codes_quota()),
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

/// The limit on wrong codes per address. Over it, an address is shut out
/// until the limit lets it try again, and no code of its is read meanwhile,
/// the right one neither: a guesser who goes on learns nothing.
struct WrongCodes {
    limiter: DefaultKeyedRateLimiter<IpAddr>,
    /// Addresses over the limit, and until when.
    shut: Mutex<HashMap<IpAddr, Instant>>,
    /// Wrong codes seen, to forget idle addresses now and then.
    seen: AtomicU64,
}

/// [`WRONG_CODES_BURST`], then [`WRONG_CODES_PER_MINUTE`].
fn wrong_codes_quota() -> Quota {
    let per_minute = NonZeroU32::new(WRONG_CODES_PER_MINUTE).unwrap_or(NonZeroU32::MIN);
    let burst = NonZeroU32::new(WRONG_CODES_BURST).unwrap_or(NonZeroU32::MIN);
    Quota::per_minute(per_minute).allow_burst(burst)
}

impl WrongCodes {
    fn new(quota: Quota) -> WrongCodes {
        WrongCodes {
            limiter: RateLimiter::keyed(quota),
            shut: Mutex::new(HashMap::new()),
            seen: AtomicU64::new(0),
        }
    }

    /// How long `from` is still shut out, if it is.
    fn shut_for(&self, from: IpAddr) -> Option<Duration> {
        let shut = self.shut.lock().unwrap_or_else(|e| e.into_inner());
        let until = *shut.get(&from)?;
        until
            .checked_duration_since(Instant::now())
            .filter(|left| !left.is_zero())
    }

    /// Counts a wrong code from `from`; over the limit, shuts it out and
    /// says for how long.
    fn wrong(&self, from: IpAddr) -> Option<Duration> {
        // Every 1,024 wrong codes, the addresses whose allowance is whole
        // again are forgotten, so that many guessing addresses cannot fill
        // the memory.
        if self.seen.fetch_add(1, Ordering::Relaxed) % 1024 == 1023 {
            self.limiter.retain_recent();
        }
        let not_until = self.limiter.check_key(&from).err()?;
        let wait = not_until.wait_time_from(DefaultClock::default().now());
        crate::metrics::rate_limited("room_code");
        let now = Instant::now();
        let mut shut = self.shut.lock().unwrap_or_else(|e| e.into_inner());
        shut.retain(|_, until| *until > now);
        shut.insert(from, now + wait);
        Some(wait)
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
        .secure(app.site.secure_cookies)
        .build()
}

/// What the request's room cookie says: the run and the code it was
/// entered with, when it is one we signed.
fn held(app: &AppState, headers: &HeaderMap) -> Option<(RunId, String)> {
    CookieJar::from_headers(headers).get(ROOM_COOKIE)?;
    let jar = SignedCookieJar::from_headers(headers, app.access.key.clone());
    let value = jar.get(ROOM_COOKIE)?.value().to_string();
    let (run, code) = value.split_once('.')?;
    Some((run.parse().ok()?, code.to_string()))
}

/// Whether the cookie `held` is good for the run `current`.
fn admits(app: &AppState, held: &(RunId, String), current: &RunState) -> bool {
    held.0 == current.run && same_code(&held.1, &app.access.room.code_of(current))
}

/// Where a request may vote: the answer of [`admit`] (the talk's own
/// notion, as a vote carries it into the core).
pub use crate::talk::Pass;

/// May this request vote in the current run? With the room code off,
/// always (and no store call is made); with it on, only with the room
/// cookie of the current run: else the 403 `room_code` refusal.
pub async fn admit(app: &AppState, headers: &HeaderMap) -> Result<Pass, Error> {
    let story = app.talk.story();
    if !app.access.room.on(&story) {
        return Ok(Pass::Open);
    }
    let Some(held) = held(app, headers) else {
        return Err(code_needed());
    };
    let current = app.talk.store.current(&story.start).await?;
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
/// page's form (other query fields are left alone), and who sent it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TypedCode {
    /// The code as typed.
    pub code: Option<String>,
    /// The client's address, as the rate limits count it.
    pub from: Option<IpAddr>,
}

impl FromRequestParts<AppState> for TypedCode {
    type Rejection = Infallible;
    async fn from_request_parts(parts: &mut Parts, app: &AppState) -> Result<Self, Infallible> {
        let query = parts.uri.query().unwrap_or_default();
        let code = form_urlencoded::parse(query.as_bytes())
            .find(|(name, _)| name == "code")
            .map(|(_, value)| value.into_owned());
        let peer = parts.extensions.get::<ConnectInfo<SocketAddr>>().map(|c| c.0);
        let from = limits::client_ip(&parts.headers, peer, app.traffic.limits.limits.trust_forwarded_for)
            .map(limits::address_key);
        Ok(TypedCode { code, from })
    }
}

/// The refusal of a request without the room cookie.
pub fn code_needed() -> Error {
    Error::new(
        StatusCode::FORBIDDEN,
        REFUSED,
        "This room needs its code: open the audience page and type the code shown on the screen.",
    )
}

/// The refusal of a request whose room cookie is for an earlier run.
pub fn new_code_needed() -> Error {
    Error::new(
        StatusCode::FORBIDDEN,
        REFUSED,
        "A new run has started with a new room code: open the audience page and type the code shown on the screen.",
    )
}

/// The room code of the current run, for the presenter's pages and state;
/// `None` when the room code is off.
pub fn presenter_code(app: &AppState, run: RunId, started: Option<u64>) -> Option<String> {
    app.access
        .room
        .on(&app.talk.story())
        .then(|| app.access.room.code(run, started))
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
    let story = app.talk.story();
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

/// The join page of an address shut out for typing too many wrong codes
/// (429, with `Retry-After`).
fn too_many_wrong(app: &AppState, here: &str, wait: Duration) -> Result<Response, Error> {
    let mut page = join_page(app, here, StatusCode::TOO_MANY_REQUESTS, Some("room.too_many"))?;
    let seconds = wait.as_secs_f64().ceil().max(1.0) as u64;
    page.headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
    Ok(page)
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
    typed: &TypedCode,
    here: &str,
) -> Result<Option<Response>, Error> {
    let story = app.talk.story();
    if !app.access.room.on(&story) {
        return Ok(None);
    }
    let current = app.talk.store.current(&story.start).await?;
    let held = held(app, headers);
    let inside = held.as_ref().is_some_and(|h| admits(app, h, &current));
    let code = typed
        .code
        .as_deref()
        .map(read_typed)
        .filter(|t| *t != Err(NotACode::Empty));
    // Shut out for guessing: no code is read, right or wrong.
    if let (Some(_), Some(from), false) = (&code, typed.from, inside)
        && let Some(wait) = app.access.room.wrong.shut_for(from)
    {
        return too_many_wrong(app, here, wait).map(Some);
    }
    let wrong = |problem| {
        match typed.from.and_then(|from| app.access.room.wrong.wrong(from)) {
            Some(wait) => too_many_wrong(app, here, wait),
            None => join_page(app, here, StatusCode::FORBIDDEN, Some(problem)),
        }
        .map(Some)
    };
    match code {
        // Already in (an old photo of the QR code, a second scan): no
        // need to read the code again.
        Some(_) if inside => Ok(Some(Redirect::to(here).into_response())),
        Some(Ok(code)) if same_code(&code, &app.access.room.code_of(&current)) => {
            let jar = SignedCookieJar::new(app.access.key.clone()).add(cookie(app, current.run, &code));
            // 303 to the bare URL: the code leaves the address bar.
            Ok(Some((jar, Redirect::to(here)).into_response()))
        }
        Some(Ok(_)) => wrong("room.wrong"),
        Some(Err(_)) => wrong("room.not_a_code"),
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
        use crate::talk::control::{self, Action};
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
        control::apply(&app.talk, Action::Open).await.expect("open");
        let voter = Voter::web("0123456789abcdef0123456789abcdef");
        let tap = crate::talk::Ballot::Tap(VoteKind::Sticky);
        control::cast(&app.talk, Pass::Run(1), &voter, "d", "x", tap)
            .await
            .expect("counted in its run");
        control::apply(&app.talk, Action::NewRun).await.expect("a new run");
        control::apply(&app.talk, Action::Open).await.expect("open");
        let refused = control::cast(&app.talk, Pass::Run(1), &voter, "d", "y", tap).await;
        assert_eq!(
            refused.map_err(|e| {
                let e = Error::from(e);
                (e.status, e.code)
            }),
            Err((StatusCode::FORBIDDEN, "room_code"))
        );
        assert_eq!(app.talk.store.tally(2, "d").await.expect("a tally").get("y"), 0);
        assert_eq!(app.talk.store.tally(1, "d").await.expect("a tally").get("x"), 1);
    }

    #[test]
    fn an_address_past_the_wrong_codes_limit_is_shut_out_until_it_may_try_again() {
        let per_hour = NonZeroU32::new(1).expect("one");
        let wrong = WrongCodes::new(Quota::per_hour(per_hour).allow_burst(NonZeroU32::new(2).expect("two")));
        let (guesser, other): (IpAddr, IpAddr) = (
            "203.0.113.9".parse().expect("an address"),
            "198.51.100.7".parse().expect("an address"),
        );
        assert_eq!((wrong.wrong(guesser), wrong.wrong(guesser)), (None, None));
        assert_eq!(wrong.shut_for(guesser), None, "within the burst");
        let wait = wrong.wrong(guesser).expect("the third wrong code is one too many");
        assert!(wait > Duration::from_secs(3000), "{wait:?}");
        let left = wrong.shut_for(guesser).expect("shut out");
        assert!(left > Duration::from_secs(3000) && left <= wait, "{left:?}");
        assert_eq!(wrong.shut_for(other), None, "other addresses are not");
        assert_eq!(wrong.wrong(other), None);
    }

    #[test]
    fn a_pass_admits_its_own_run_only() {
        assert!(Pass::Open.admits(7));
        assert!(Pass::Run(7).admits(7));
        assert!(!Pass::Run(7).admits(8));
    }
}
