//! The presenter: who may drive the talk.
//!
//! Two ways in: `Authorization: Bearer TOKEN` (scripts, a phone remote), or
//! the signed presenter cookie set by `/presenter?token=TOKEN`, a login that
//! lasts `--presenter-session` ([`PresenterSessions`]) until the browser
//! logs out (`POST /presenter/logout`). A cookie rides along on any request
//! the browser makes, so API calls with the cookie alone must also carry
//! `X-Cyoa-Presenter: 1` (a custom header, which another origin cannot send
//! without a CORS preflight we never grant). Any presenter call that a
//! browser says comes from another site ([`site`]: `Origin`, then
//! `Sec-Fetch-Site`) is refused, token or not.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode, header};
use axum_extra::extract::cookie::{Cookie, SameSite, SignedCookieJar};
use hmac::{Hmac, Mac};
use sha2::Sha256;
use subtle::ConstantTimeEq;

use super::error::{ApiError, Error};
use super::state::AppState;

/// Name of the presenter cookie.
pub const PRESENTER_COOKIE: &str = "cyoa_presenter";
/// The header the presenter page's script sends with the cookie.
pub const PRESENTER_HEADER: &str = "x-cyoa-presenter";
/// The shortest presenter token cyoa starts with: the token is the key to
/// the whole talk, and a short one can be guessed.
pub const MIN_TOKEN_CHARS: usize = 16;
/// How far in this instance's future a cookie's issue time may lie: the
/// clocks of instances that share a talk differ a little.
const CLOCK_SKEW_SECS: u64 = 5 * 60;

/// Refuses a presenter token shorter than [`MIN_TOKEN_CHARS`] (blanks
/// around it do not count), saying what to do instead.
pub fn check_token(token: &str) -> Result<(), String> {
    let chars = token.trim().chars().count();
    if chars < MIN_TOKEN_CHARS {
        return Err(format!(
            "the presenter token (--presenter-token or CYOA_PRESENTER_TOKEN) has {chars} characters; \
             it needs at least {MIN_TOKEN_CHARS}: use a longer one (`openssl rand -hex 16` makes one), \
             or leave it out and cyoa makes a random one"
        ));
    }
    Ok(())
}

/// Issues and checks presenter sessions. A session is the cookie value
/// `ISSUED.MAC`: the Unix second of the login and HMAC(secret, token,
/// ISSUED). So the cookie reveals nothing about the token, is useless once
/// the token changes, ends `max_age` after the login, and is good on every
/// instance that shares the secret and the token (the signed jar signs it
/// once more on top).
#[derive(Clone)]
pub struct PresenterSessions {
    /// Keyed with the secret, already fed the token.
    mac: Hmac<Sha256>,
    max_age: Duration,
}

/// What a presenter cookie's value is worth now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Session {
    /// A login of this token, younger than the maximum age.
    Valid,
    /// A login of this token, older than the maximum age.
    Expired,
    /// No cookie, or not one cyoa issued for this token.
    None,
}

impl PresenterSessions {
    /// Sessions for `token`, signed with `secret`, lasting `max_age`.
    pub fn new(secret: &str, token: &str, max_age: Duration) -> Self {
        // HMAC takes a key of any length; this cannot fail.
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(secret.as_bytes()).unwrap_or_else(|_| unreachable!());
        mac.update(b"cyoa presenter session\0");
        mac.update(&(token.len() as u64).to_be_bytes());
        mac.update(token.as_bytes());
        PresenterSessions { mac, max_age }
    }

    /// How long a login lasts.
    pub fn max_age(&self) -> Duration {
        self.max_age
    }

    fn mac_of(&self, issued: u64) -> Hmac<Sha256> {
        let mut mac = self.mac.clone();
        mac.update(&issued.to_be_bytes());
        mac
    }

    /// The cookie value of a login at `issued` (Unix seconds).
    pub fn issue(&self, issued: u64) -> String {
        format!("{issued}.{}", hex::encode(self.mac_of(issued).finalize().into_bytes()))
    }

    /// What the cookie value `value` is worth at `now` (Unix seconds).
    pub fn check(&self, value: &str, now: u64) -> Session {
        let Some((issued, mark)) = value.split_once('.') else {
            return Session::None;
        };
        // Digits only: `parse` would also take a leading `+`.
        let issued = issued
            .bytes()
            .all(|b| b.is_ascii_digit())
            .then(|| issued.parse::<u64>().ok())
            .flatten();
        let (Some(issued), Ok(mark)) = (issued, hex::decode(mark)) else {
            return Session::None;
        };
        // In constant time.
        if self.mac_of(issued).verify_slice(&mark).is_err() || issued > now.saturating_add(CLOCK_SKEW_SECS) {
            return Session::None;
        }
        if now.saturating_sub(issued) >= self.max_age.as_secs() {
            Session::Expired
        } else {
            Session::Valid
        }
    }
}

/// Now, in Unix seconds (0 if the clock is before 1970).
pub fn unix_now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

/// Whether `given` is the presenter token, in constant time.
pub fn token_matches(state: &AppState, given: &str) -> bool {
    bool::from(given.as_bytes().ct_eq(state.access.presenter_token.as_bytes()))
}

/// What the request's presenter cookie is worth now.
pub fn presenter_session(state: &AppState, headers: &HeaderMap) -> Session {
    let jar = SignedCookieJar::from_headers(headers, state.access.key.clone());
    jar.get(PRESENTER_COOKIE).map_or(Session::None, |c| {
        state.access.presenter_sessions.check(c.value(), unix_now())
    })
}

/// Whether the request carries a valid presenter cookie.
pub fn has_presenter_cookie(state: &AppState, headers: &HeaderMap) -> bool {
    presenter_session(state, headers) == Session::Valid
}

/// The cookie `/presenter?token=..` sets: a login from now, for this
/// browser, this site only; the browser drops it when the login ends.
pub fn presenter_cookie(state: &AppState) -> Cookie<'static> {
    let sessions = &state.access.presenter_sessions;
    let max_age = i64::try_from(sessions.max_age().as_secs()).unwrap_or(i64::MAX);
    Cookie::build((PRESENTER_COOKIE, sessions.issue(unix_now())))
        .http_only(true)
        .same_site(SameSite::Strict)
        .path("/")
        .max_age(time::Duration::seconds(max_age))
        .secure(state.site.secure_cookies)
        .build()
}

/// What removes the presenter cookie (logout): same name and path, empty,
/// expired. It is sent whether or not the request carried the cookie.
pub fn presenter_cookie_removal() -> Cookie<'static> {
    let mut cookie = Cookie::build(PRESENTER_COOKIE).path("/").build();
    cookie.make_removal();
    cookie
}

/// Which site a request says it comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Site {
    /// Our own pages (or a visit typed in or bookmarked).
    Ours,
    /// Another site: another origin, even on the same registrable domain.
    Foreign,
    /// The request says nothing (a script, or a very old browser).
    Unsaid,
}

/// Where the request comes from: its `Origin`, when it has one, is ours
/// (the public URL's origin, or the origin of the `Host` it was sent to)
/// or not; else `Sec-Fetch-Site` says `same-origin` or `none` (ours) or
/// anything else (`same-site`, `cross-site`: foreign). One rule for every
/// request that changes something: votes, sockets, presenter calls.
pub fn site(state: &AppState, headers: &HeaderMap) -> Site {
    if let Some(origin) = headers.get(header::ORIGIN) {
        return if origin_is_ours(state, headers, origin.to_str().ok()) {
            Site::Ours
        } else {
            Site::Foreign
        };
    }
    match headers.get(SEC_FETCH_SITE).map(|v| v.to_str()) {
        None => Site::Unsaid,
        Some(Ok("same-origin" | "none")) => Site::Ours,
        Some(_) => Site::Foreign,
    }
}

fn origin_is_ours(state: &AppState, headers: &HeaderMap, origin: Option<&str>) -> bool {
    let Some(origin) = origin else {
        return false;
    };
    if origin == state.site.public_origin {
        return true;
    }
    let host = headers.get(header::HOST).and_then(|h| h.to_str().ok());
    host.is_some_and(|h| origin == format!("http://{h}") || origin == format!("https://{h}"))
}

/// Whether the request is not from another site (see [`site`]).
pub fn same_origin(state: &AppState, headers: &HeaderMap) -> bool {
    site(state, headers) != Site::Foreign
}

/// Whether a page load may mint a voter: from our own site, or a visit
/// to the page itself (a link followed from another site). A request from
/// another site for anything else (an image, a fetch, a frame) may not.
pub fn visit_or_ours(state: &AppState, headers: &HeaderMap) -> bool {
    if site(state, headers) != Site::Foreign {
        return true;
    }
    let says = |name: &str, value: &str| headers.get(name).and_then(|v| v.to_str().ok()) == Some(value);
    says("sec-fetch-mode", "navigate") && says("sec-fetch-dest", "document")
}

/// The 403 for a request from another site: `what` must come from cyoa's
/// own pages.
pub fn cross_site(what: &str) -> Error {
    Error::new(
        StatusCode::FORBIDDEN,
        "cross_origin",
        format!("{what} must come from cyoa's own pages, not from another site."),
    )
}

/// The header browsers send to say which site a request comes from.
const SEC_FETCH_SITE: &str = "sec-fetch-site";

fn bearer(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}

/// Proof that the request comes from the presenter; the extractor of every
/// `/api/presenter/*` handler.
#[derive(Debug, Clone, Copy)]
pub struct Presenter;

impl Presenter {
    /// Checks the request's headers.
    pub fn check(state: &AppState, headers: &HeaderMap) -> Result<Presenter, Error> {
        if site(state, headers) == Site::Foreign {
            return Err(cross_site("Presenter calls"));
        }
        if let Some(token) = bearer(headers) {
            if !token.is_empty() && token_matches(state, token) {
                return Ok(Presenter);
            }
            return Err(unauthorized());
        }
        match presenter_session(state, headers) {
            Session::Valid => {}
            Session::Expired => return Err(session_expired(state)),
            Session::None => return Err(unauthorized()),
        }
        from_presenter_page(state, headers)?;
        Ok(Presenter)
    }
}

/// The rule for a call that rides on the presenter's cookie (the API, the
/// logout): it carries `X-Cyoa-Presenter: 1`, which only a script of our
/// own origin can send, and comes from our own origin.
pub fn from_presenter_page(state: &AppState, headers: &HeaderMap) -> Result<(), Error> {
    if headers.get(PRESENTER_HEADER).and_then(|v| v.to_str().ok()) != Some("1") {
        return Err(Error::new(
            StatusCode::FORBIDDEN,
            "presenter_header",
            "Presenter calls with the cookie must send the header X-Cyoa-Presenter: 1.",
        ));
    }
    if !same_origin(state, headers) {
        return Err(cross_site("Presenter calls"));
    }
    Ok(())
}

fn unauthorized() -> Error {
    Error::new(
        StatusCode::UNAUTHORIZED,
        "unauthorized",
        "Presenter only: send Authorization: Bearer TOKEN, or log in at /presenter?token=TOKEN.",
    )
}

/// The answer to a presenter cookie past its maximum age.
pub fn session_expired(state: &AppState) -> Error {
    Error::new(
        StatusCode::UNAUTHORIZED,
        "session_expired",
        format!(
            "Your presenter login has expired (a login lasts {}, --presenter-session): log in again at /presenter?token=TOKEN.",
            super::limits::Span(state.access.presenter_sessions.max_age())
        ),
    )
}

impl FromRequestParts<AppState> for Presenter {
    type Rejection = ApiError;
    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        Presenter::check(state, &parts.headers).map_err(ApiError)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOUR: u64 = 60 * 60;
    const NOW: u64 = 1_800_000_000;

    fn sessions(token: &str) -> PresenterSessions {
        PresenterSessions::new("the secret", token, Duration::from_secs(12 * HOUR))
    }

    #[test]
    fn a_login_lasts_its_maximum_age_then_expires() {
        let s = sessions("a-presenter-token-1");
        let cookie = s.issue(NOW);
        assert!(cookie.starts_with(&format!("{NOW}.")), "{cookie}");
        assert_eq!(s.check(&cookie, NOW), Session::Valid);
        assert_eq!(s.check(&cookie, NOW + 12 * HOUR - 1), Session::Valid);
        assert_eq!(s.check(&cookie, NOW + 12 * HOUR), Session::Expired);
        // Two logins are two different cookies.
        assert_ne!(s.issue(NOW + 1), cookie);
    }

    #[test]
    fn another_token_or_secret_or_a_changed_time_is_no_session() {
        let cookie = sessions("a-presenter-token-1").issue(NOW);
        assert_eq!(sessions("a-presenter-token-2").check(&cookie, NOW), Session::None);
        let other_secret = PresenterSessions::new("another secret", "a-presenter-token-1", Duration::from_secs(HOUR));
        assert_eq!(other_secret.check(&cookie, NOW), Session::None);
        // The issue time is covered by the MAC: moving it forward is no use.
        let (_, mark) = cookie.split_once('.').unwrap();
        let later = format!("{}.{mark}", NOW + HOUR);
        assert_eq!(sessions("a-presenter-token-1").check(&later, NOW + HOUR), Session::None);
    }

    #[test]
    fn malformed_cookies_are_no_session() {
        let s = sessions("a-presenter-token-1");
        let good = s.issue(NOW);
        let (issued, mark) = good.split_once('.').unwrap();
        for bad in [
            String::new(),
            ".".into(),
            mark.into(),
            format!("+{issued}.{mark}"),
            format!("{issued}.{}", &mark[1..]),
            format!("{issued}.zz{}", &mark[2..]),
            format!("99999999999999999999999.{mark}"),
            format!("{issued}.{mark}.x"),
        ] {
            assert_eq!(s.check(&bad, NOW), Session::None, "{bad:?}");
        }
    }

    #[test]
    fn a_login_from_another_instance_a_little_ahead_is_taken_but_not_from_far_ahead() {
        let s = sessions("a-presenter-token-1");
        assert_eq!(s.check(&s.issue(NOW + 60), NOW), Session::Valid);
        assert_eq!(s.check(&s.issue(NOW + HOUR), NOW), Session::None);
    }

    #[test]
    fn a_token_needs_sixteen_characters() {
        assert!(check_token("0123456789abcdef").is_ok());
        assert!(check_token("ünïcödé-tökén-16").is_ok());
        for short in ["", "short", "0123456789abcde", "   0123456789   "] {
            let why = check_token(short).unwrap_err();
            assert!(why.contains("at least 16"), "{short:?}: {why}");
        }
    }
}
