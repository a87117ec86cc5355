//! The presenter: who may drive the talk.
//!
//! Two ways in: `Authorization: Bearer TOKEN` (scripts, a phone remote), or
//! the signed presenter cookie set by `/presenter?token=TOKEN`. A cookie
//! rides along on any request the browser makes, so API calls with the
//! cookie alone must also carry `X-Cyoa-Presenter: 1` (a custom header,
//! which another origin cannot send without a CORS preflight we never
//! grant). Any presenter call that a browser says comes from another site
//! ([`site`]: `Origin`, then `Sec-Fetch-Site`) is refused, token or not.

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

/// What the presenter cookie holds: HMAC(secret, token), so the cookie is
/// useless once the token changes and reveals nothing about the token.
pub fn presenter_mark(secret: &str, token: &str) -> String {
    // HMAC takes a key of any length; this cannot fail.
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(secret.as_bytes()).unwrap_or_else(|_| unreachable!());
    mac.update(b"cyoa presenter cookie\0");
    mac.update(token.as_bytes());
    hex::encode(mac.finalize().into_bytes())
}

/// Whether `given` is the presenter token, in constant time.
pub fn token_matches(state: &AppState, given: &str) -> bool {
    bool::from(given.as_bytes().ct_eq(state.presenter_token.as_bytes()))
}

/// Whether the request carries a valid presenter cookie.
pub fn has_presenter_cookie(state: &AppState, headers: &HeaderMap) -> bool {
    let jar = SignedCookieJar::from_headers(headers, state.key.clone());
    jar.get(PRESENTER_COOKIE)
        .is_some_and(|c| bool::from(c.value().as_bytes().ct_eq(state.presenter_mark.as_bytes())))
}

/// The cookie `/presenter?token=..` sets: for this browser, this site only.
pub fn presenter_cookie(state: &AppState) -> Cookie<'static> {
    Cookie::build((PRESENTER_COOKIE, state.presenter_mark.clone()))
        .http_only(true)
        .same_site(SameSite::Strict)
        .path("/")
        .secure(state.secure_cookies)
        .build()
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
    if origin == state.public_origin {
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
        if !has_presenter_cookie(state, headers) {
            return Err(unauthorized());
        }
        if headers.get(PRESENTER_HEADER).and_then(|v| v.to_str().ok()) != Some("1") {
            return Err(Error::new(
                StatusCode::FORBIDDEN,
                "presenter_header",
                "Presenter calls with the cookie must send the header X-Cyoa-Presenter: 1.",
            ));
        }
        Ok(Presenter)
    }
}

fn unauthorized() -> Error {
    Error::new(
        StatusCode::UNAUTHORIZED,
        "unauthorized",
        "Presenter only: send Authorization: Bearer TOKEN, or log in at /presenter?token=TOKEN.",
    )
}

impl FromRequestParts<AppState> for Presenter {
    type Rejection = ApiError;
    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        Presenter::check(state, &parts.headers).map_err(ApiError)
    }
}
