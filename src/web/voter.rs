//! The voter cookie: a browser is a voter through a random 128-bit id in a
//! signed, HttpOnly cookie.

use std::convert::Infallible;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum_extra::extract::cookie::{Cookie, CookieJar, SameSite, SignedCookieJar};

use super::state::AppState;
use crate::store::Voter;

/// Name of the voter cookie.
pub const VOTER_COOKIE: &str = "cyoa_voter";

/// How long a voter cookie lasts: a talk, and the conference around it.
const MAX_AGE_DAYS: i64 = 7;

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

    /// The cookie that carries this id (signed when added to a signed jar).
    pub fn cookie(&self, secure: bool) -> Cookie<'static> {
        Cookie::build((VOTER_COOKIE, self.0.clone()))
            .http_only(true)
            .same_site(SameSite::Lax)
            .path("/")
            .max_age(time::Duration::days(MAX_AGE_DAYS))
            .secure(secure)
            .build()
    }
}

/// What the request's voter cookie says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VoterCookie {
    /// A cookie we signed, holding a well-formed id.
    Known(VoterId),
    /// No voter cookie: a fresh browser.
    Missing,
    /// A voter cookie whose signature or content is wrong.
    Forged,
}

impl VoterCookie {
    /// Reads the voter cookie from request headers.
    pub fn from_headers(state: &AppState, headers: &axum::http::HeaderMap) -> Self {
        if CookieJar::from_headers(headers).get(VOTER_COOKIE).is_none() {
            return VoterCookie::Missing;
        }
        let signed = SignedCookieJar::from_headers(headers, state.key.clone());
        match signed.get(VOTER_COOKIE).and_then(|c| VoterId::parse(c.value())) {
            Some(id) => VoterCookie::Known(id),
            None => VoterCookie::Forged,
        }
    }

    /// The known voter, if any.
    pub fn voter(&self) -> Option<Voter> {
        match self {
            VoterCookie::Known(id) => Some(id.voter()),
            _ => None,
        }
    }

    /// The known id, or a new one with the jar that sets its cookie (for
    /// pages, which give every browser a voter).
    pub fn ensure(&self, state: &AppState) -> (SignedCookieJar, VoterId) {
        let jar = SignedCookieJar::new(state.key.clone());
        match self {
            VoterCookie::Known(id) => (jar, id.clone()),
            _ => {
                let id = VoterId::mint();
                (jar.add(id.cookie(state.secure_cookies)), id)
            }
        }
    }
}

impl FromRequestParts<AppState> for VoterCookie {
    type Rejection = Infallible;
    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Infallible> {
        Ok(Self::from_headers(state, &parts.headers))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_minted_id_parses_back() {
        let id = VoterId::mint();
        assert_eq!(VoterId::parse(&id.0), Some(id));
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
}
