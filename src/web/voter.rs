//! The voter cookie: a browser is a voter through a random 128-bit id in a
//! signed, HttpOnly cookie that also says when cyoa issued it.
//!
//! A voter is minted by a page, never by a vote: `GET /` and
//! `GET /vote/{decision}` give a browser without a valid cookie a new one,
//! as many per second per address as `--voter-mint-rate` and
//! `--voter-mint-burst` allow. A vote counts only from a cookie at least
//! `--voter-min-age` old, so a script must load a page, keep the cookie and
//! wait before each vote, and the mint limit bounds how many voters one
//! address can be. The no-JavaScript form also carries a token bound to
//! the voter ([`form_token`]), for browsers that do not say which site a
//! request comes from.

use std::convert::Infallible;
use std::net::IpAddr;
use std::time::Duration;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode};
use axum_extra::extract::cookie::{Cookie, CookieJar, SameSite, SignedCookieJar};
use hmac::{Hmac, Mac};
use sha2::Sha256;
use subtle::ConstantTimeEq;

use super::error::Error;
use super::state::AppState;
use crate::store::Voter;

/// Name of the voter cookie.
pub const VOTER_COOKIE: &str = "cyoa_voter";

/// How long a voter cookie lasts: a talk, and the conference around it.
const MAX_AGE_DAYS: i64 = 7;

/// How far in the future an issue time may lie and still be believed: the
/// clocks of instances sharing one talk differ a little. Beyond it the
/// cookie counts nothing.
pub const CLOCK_SKEW: Duration = Duration::from_secs(5);

/// A browser voter's id: 32 lowercase hex digits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VoterId(String);

impl VoterId {
    /// A fresh random id.
    pub fn mint() -> Self {
        VoterId(format!("{:032x}", rand::random::<u128>()))
    }

    /// Accepts only what [`VoterId::mint`] makes.
    pub fn parse(s: &str) -> Option<Self> {
        let ok = s.len() == 32 && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'));
        ok.then(|| VoterId(s.to_string()))
    }

    /// The voter the store counts.
    pub fn voter(&self) -> Voter {
        Voter::web(&self.0)
    }
}

/// What the voter cookie holds: the id and when it was issued, as
/// `<32 hex digits>.<unix milliseconds>` inside the signed value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VoterCard {
    /// Who.
    pub id: VoterId,
    /// When cyoa issued the cookie, milliseconds since the Unix epoch.
    pub issued_ms: u64,
}

impl VoterCard {
    /// A new voter, issued `now_ms`.
    pub fn mint(now_ms: u64) -> Self {
        VoterCard {
            id: VoterId::mint(),
            issued_ms: now_ms,
        }
    }

    /// Accepts only what [`VoterCard::value`] makes, with an issue time
    /// not beyond [`CLOCK_SKEW`] after `now_ms`. The old format (the id
    /// alone) is refused: it says nothing of its age.
    pub fn parse(s: &str, now_ms: u64) -> Option<Self> {
        let (id, issued) = s.split_once('.')?;
        let digits = !issued.is_empty() && issued.len() <= 15 && issued.bytes().all(|b| b.is_ascii_digit());
        let issued_ms: u64 = if digits { issued.parse().ok()? } else { return None };
        let skew = u64::try_from(CLOCK_SKEW.as_millis()).unwrap_or(u64::MAX);
        if issued_ms > now_ms.saturating_add(skew) {
            return None;
        }
        Some(VoterCard {
            id: VoterId::parse(id)?,
            issued_ms,
        })
    }

    /// The cookie's value.
    pub fn value(&self) -> String {
        format!("{}.{}", self.id.0, self.issued_ms)
    }

    /// The cookie that carries this card (signed when added to a signed jar).
    pub fn cookie(&self, secure: bool) -> Cookie<'static> {
        Cookie::build((VOTER_COOKIE, self.value()))
            .http_only(true)
            .same_site(SameSite::Lax)
            .path("/")
            .max_age(time::Duration::days(MAX_AGE_DAYS))
            .secure(secure)
            .build()
    }

    /// The voter the store counts.
    pub fn voter(&self) -> Voter {
        self.id.voter()
    }
}

/// The clock voter cookies are issued and checked by, in milliseconds
/// since the Unix epoch.
pub fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

/// What the request's voter cookie says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VoterCookie {
    /// A cookie we signed, holding a well-formed id and issue time.
    Known(VoterCard),
    /// No voter cookie: a fresh browser.
    Missing,
    /// A voter cookie whose signature or content is wrong, in the old
    /// format, or issued in the future.
    Forged,
}

impl VoterCookie {
    /// Reads the voter cookie from request headers.
    pub fn from_headers(state: &AppState, headers: &HeaderMap) -> Self {
        if CookieJar::from_headers(headers).get(VOTER_COOKIE).is_none() {
            return VoterCookie::Missing;
        }
        let signed = SignedCookieJar::from_headers(headers, state.access.key.clone());
        match signed
            .get(VOTER_COOKIE)
            .and_then(|c| VoterCard::parse(c.value(), now_ms()))
        {
            Some(card) => VoterCookie::Known(card),
            None => VoterCookie::Forged,
        }
    }

    /// The known card, if any.
    pub fn card(&self) -> Option<&VoterCard> {
        match self {
            VoterCookie::Known(card) => Some(card),
            _ => None,
        }
    }
}

impl FromRequestParts<AppState> for VoterCookie {
    type Rejection = Infallible;
    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Infallible> {
        Ok(Self::from_headers(state, &parts.headers))
    }
}

/// Why a page did not mint a voter (the `reason` of
/// `cyoa_voter_mints_refused_total`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MintRefused {
    /// The address minted its `--voter-mint-rate` and burst.
    Rate,
    /// A request from another site that is not a top-level visit (an
    /// image, a script's fetch, a frame): it gets no voter.
    CrossSite,
}

impl MintRefused {
    /// The metric's label.
    pub fn reason(self) -> &'static str {
        match self {
            MintRefused::Rate => "rate",
            MintRefused::CrossSite => "cross_site",
        }
    }
}

/// The voter a page load is for: the known one, or a new one minted with
/// the jar that sets its cookie; `None` (and an empty jar) for a request
/// from another site that is not a visit to the page. Past the mint limit
/// of `ip`: a 429 page that says when to reload.
pub fn page_voter(
    app: &AppState,
    cookie: &VoterCookie,
    headers: &HeaderMap,
    ip: Option<IpAddr>,
) -> Result<(SignedCookieJar, Option<VoterCard>), Error> {
    let jar = SignedCookieJar::new(app.access.key.clone());
    if let VoterCookie::Known(card) = cookie {
        return Ok((jar, Some(card.clone())));
    }
    if !super::auth::visit_or_ours(app, headers) {
        app.traffic.limits.mint_refused(MintRefused::CrossSite);
        return Ok((jar, None));
    }
    if let Err(wait) = app.traffic.limits.mint(ip) {
        app.traffic.limits.mint_refused(MintRefused::Rate);
        let seconds = wait.as_secs_f64().ceil().max(1.0);
        return Err(Error::new(
            StatusCode::TOO_MANY_REQUESTS,
            "mint_limited",
            format!(
                "Many people on your network are joining at this moment. Reload this page in {seconds} s to join the vote."
            ),
        )
        .with_retry_after(wait));
    }
    app.traffic.limits.minted();
    let card = VoterCard::mint(now_ms());
    Ok((jar.add(card.cookie(app.site.secure_cookies)), Some(card)))
}

/// The voter of a page load ([`page_voter`]) as an extractor: the jar
/// that sets a new voter's cookie, and the voter (`None`: another site's
/// request that is not a visit).
pub struct PageVoter {
    /// Sets the cookie of a voter minted now; empty otherwise.
    pub jar: SignedCookieJar,
    /// The voter.
    pub card: Option<VoterCard>,
}

impl FromRequestParts<AppState> for PageVoter {
    type Rejection = Error;
    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Error> {
        let cookie = VoterCookie::from_headers(state, &parts.headers);
        let Ok(super::limits::ClientAddress(ip)) = super::limits::ClientAddress::from_request_parts(parts, state).await;
        let (jar, card) = page_voter(state, &cookie, &parts.headers, ip)?;
        Ok(PageVoter { jar, card })
    }
}

/// Whether a vote from a cookie issued at `issued_ms` may count now
/// (`--voter-min-age`); else the `too_soon` refusal, with the time left.
pub fn old_enough(app: &AppState, issued_ms: u64) -> Result<(), Error> {
    let card_age = Duration::from_millis(now_ms().saturating_sub(issued_ms));
    let wait = app.traffic.limits.limits.voter_min_age.saturating_sub(card_age);
    if wait.is_zero() {
        return Ok(());
    }
    crate::metrics::vote_refused("too_soon");
    Err(Error::new(
        StatusCode::CONFLICT,
        "too_soon",
        "This page has only just opened: tap your choice again.",
    )
    .with_retry_after(wait))
}

/// The no-JavaScript form's token for `id`: an HMAC of the id with a key
/// derived from `--secret`, so another site cannot make one for a victim.
pub fn form_token(app: &AppState, id: &VoterId) -> String {
    // HMAC takes a key of any length; this cannot fail.
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(app.access.key.master()).unwrap_or_else(|_| unreachable!());
    mac.update(b"cyoa vote form\0");
    mac.update(id.0.as_bytes());
    hex::encode(&mac.finalize().into_bytes()[..16])
}

/// Whether `given` is `id`'s form token, in constant time.
pub fn form_token_matches(app: &AppState, id: &VoterId, given: Option<&str>) -> bool {
    given.is_some_and(|given| bool::from(given.as_bytes().ct_eq(form_token(app, id).as_bytes())))
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: u64 = 1_800_000_000_000;

    #[test]
    fn a_minted_card_parses_back() {
        let card = VoterCard::mint(NOW);
        assert_eq!(VoterCard::parse(&card.value(), NOW), Some(card.clone()));
        assert_eq!(VoterId::parse(&card.id.0), Some(card.id));
    }

    #[test]
    fn ids_that_mint_could_not_make_are_refused() {
        for bad in [
            "",
            "abc",
            "ABCDEF0123456789ABCDEF0123456789",
            &"0".repeat(33),
            "zz".repeat(16).as_str(),
        ] {
            assert_eq!(VoterId::parse(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn cards_without_a_believable_issue_time_are_refused() {
        let id = "0123456789abcdef0123456789abcdef";
        let skew = CLOCK_SKEW.as_millis() as u64;
        for bad in [
            id.to_string(),
            format!("{id}."),
            format!("{id}.-1"),
            format!("{id}.+5"),
            format!("{id}.1e9"),
            format!("{id}.99999999999999999999"),
            format!("{id}.{}", NOW + skew + 1),
            format!("{id}x.{NOW}"),
        ] {
            assert_eq!(VoterCard::parse(&bad, NOW), None, "{bad:?}");
        }
        assert!(VoterCard::parse(&format!("{id}.{}", NOW + skew), NOW).is_some());
    }
}
