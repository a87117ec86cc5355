//! Limits that keep one client from taking the server from everyone else:
//! rates per voter (votes, socket messages), a generous rate per address
//! (a whole hall shares one NAT address), new voters per address, open
//! connections per address, and the sizes and timeouts the accept loop
//! ([`super::serve`]) applies.
//!
//! Rates are GCRA buckets from `governor`, one per key; keys not seen for a
//! while are swept every [`SWEEP_EVERY`], so a stream of new addresses or
//! voters cannot grow the state without bound.
//!
//! `/sms` has a limit of its own instead of the per-address rate: Twilio
//! posts every text of the hall from a few addresses, so only failed
//! signatures count ([`sms_signatures`]); past them, the address is refused
//! before its signature is checked.

use std::collections::HashMap;
use std::convert::Infallible;
use std::net::{IpAddr, SocketAddr};
use std::num::NonZeroU32;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};

use axum::body::{Body, HttpBody};
use axum::extract::{ConnectInfo, FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use clap::Args;
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use http_body_util::BodyExt;
use tower_http::timeout::{DeadlineBody, TimeoutError};

use super::error::{ApiError, Error};
use super::state::AppState;
use super::voter::MintRefused;
use super::ws::Role;
use crate::store::Voter;

/// How often keys that have refilled their bucket are forgotten.
pub const SWEEP_EVERY: Duration = Duration::from_secs(60);

/// The routes the per-address rate does not apply to: Twilio posts every
/// text of the hall from a few addresses of its own.
const NOT_BY_ADDRESS: &[&str] = &["/sms"];

/// How long a presenter login lasts unless `--presenter-session` says
/// otherwise: a day of rehearsal and talk, not a week.
pub const PRESENTER_SESSION: Duration = Duration::from_secs(12 * 60 * 60);
/// The longest presenter login: browsers keep no cookie longer.
pub const MAX_PRESENTER_SESSION: Duration = Duration::from_secs(400 * 24 * 60 * 60);

/// A length of time as a flag takes it: seconds (`3600`), or a whole
/// number with a unit `s`, `m`, `h` or `d` (`90s`, `30m`, `12h`, `2d`).
/// Shown back in the largest unit that fits whole (`12h`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Span(pub Duration);

impl std::str::FromStr for Span {
    type Err = String;
    fn from_str(text: &str) -> Result<Span, String> {
        let bad = || {
            format!(
                "`{text}` is not a length of time: give seconds (`3600`) or a number with s, m, h or d (`30m`, `12h`)"
            )
        };
        let text = text.trim();
        let (number, unit) = match text.char_indices().last() {
            Some((i, c)) if c.is_ascii_alphabetic() => (&text[..i], c.to_ascii_lowercase()),
            _ => (text, 's'),
        };
        let seconds_per = match unit {
            's' => 1,
            'm' => 60,
            'h' => 60 * 60,
            'd' => 24 * 60 * 60,
            _ => return Err(bad()),
        };
        if number.is_empty() || !number.bytes().all(|b| b.is_ascii_digit()) {
            return Err(bad());
        }
        let seconds = number
            .parse::<u64>()
            .ok()
            .and_then(|n| n.checked_mul(seconds_per))
            .ok_or_else(bad)?;
        Ok(Span(Duration::from_secs(seconds)))
    }
}

impl std::fmt::Display for Span {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let seconds = self.0.as_secs();
        let unit = [(24 * 60 * 60, 'd'), (60 * 60, 'h'), (60, 'm')]
            .into_iter()
            .find(|(per, _)| seconds > 0 && seconds % per == 0);
        match unit {
            Some((per, unit)) => write!(f, "{}{unit}", seconds / per),
            None => write!(f, "{seconds}s"),
        }
    }
}

/// `--presenter-session`: a [`Span`] from 1 s to [`MAX_PRESENTER_SESSION`].
fn presenter_session(text: &str) -> Result<Span, String> {
    let span: Span = text.parse()?;
    if span.0.is_zero() || span.0 > MAX_PRESENTER_SESSION {
        return Err(format!(
            "a presenter login lasts from 1 s to {}, not {span}",
            Span(MAX_PRESENTER_SESSION)
        ));
    }
    Ok(span)
}

/// A rate: `per_second` on average, `burst` at once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rate {
    /// Sustained rate.
    pub per_second: u32,
    /// How many may come at once after a quiet spell.
    pub burst: u32,
}

impl Rate {
    fn quota(self) -> Quota {
        let one = NonZeroU32::MIN;
        let per_second = NonZeroU32::new(self.per_second).unwrap_or(one);
        let burst = NonZeroU32::new(self.burst.max(self.per_second)).unwrap_or(per_second);
        Quota::per_second(per_second).allow_burst(burst)
    }
}

/// Failed Twilio signatures per address on `/sms`, by default: ten at
/// once (a misconfigured URL shows in a few texts), then one a second.
pub const SMS_BAD_SIGNATURES: Rate = Rate {
    per_second: 1,
    burst: 10,
};

/// How long a request body may take to arrive, by default.
pub const BODY_TIMEOUT: Duration = Duration::from_secs(10);

/// Every limit, with the defaults documented in `docs/operations.md`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// Votes per voter (form posts and socket votes): a person cannot tap
    /// faster than this in earnest.
    pub votes: Rate,
    /// Messages per voter over sockets, votes or not.
    pub socket_messages: Rate,
    /// Requests per client address to pages, the API and static files.
    pub per_address: Rate,
    /// Open connections per client address (sockets included); more are
    /// answered 503 and closed.
    pub connections_per_address: usize,
    /// Largest request body read by forms and JSON (bytes).
    pub max_body: usize,
    /// Largest request head: request line and headers (bytes); more gets 431.
    pub max_header: usize,
    /// Time a client has to send a request's headers, and the longest a
    /// kept-alive connection may sit idle between requests.
    pub header_timeout: Duration,
    /// Largest WebSocket message or frame (bytes); a message between 4 KiB
    /// and this gets an error, a larger one closes the socket.
    pub max_socket_message: usize,
    /// The server pings each socket this often.
    pub ping_every: Duration,
    /// A socket silent this long (not even a pong) is closed.
    pub socket_timeout: Duration,
    /// Take the client address from the last `X-Forwarded-For` hop (behind
    /// a proxy such as nginx); otherwise it is the peer address.
    pub trust_forwarded_for: bool,
    /// How long a presenter login (the cookie of `/presenter?token=`) lasts.
    pub presenter_session: Duration,
    /// New voters (cookies minted by a page) per client address: a hall
    /// behind one NAT joins in a minute, a script gets few voters.
    pub voter_mints: Rate,
    /// How old a voter cookie must be before its votes count.
    pub voter_min_age: Duration,
    /// Failed Twilio signatures per client address on `/sms`; past them
    /// the address gets 429 before its signature is checked.
    pub sms_bad_signatures: Rate,
    /// Time a request's body has, from the end of its head, to arrive in
    /// full; a slower one is answered 408 and nothing is done.
    pub body_timeout: Duration,
}

/// Votes per voter by default: a person cannot tap faster in earnest.
pub const VOTES: Rate = Rate {
    per_second: 5,
    burst: 10,
};
/// Socket messages per voter by default, votes or not.
pub const SOCKET_MESSAGES: Rate = Rate {
    per_second: 20,
    burst: 40,
};
/// Requests per client address by default: a whole hall may share one.
pub const PER_ADDRESS: Rate = Rate {
    per_second: 200,
    burst: 1000,
};
/// Open connections per client address by default.
pub const CONNECTIONS_PER_ADDRESS: usize = 1000;
/// The largest request head by default (bytes).
pub const MAX_HEADER: usize = 16 * 1024;
/// Time to send a request's head by default; also the idle keep-alive limit.
pub const HEADER_TIMEOUT: Duration = Duration::from_secs(30);
/// How often the server pings each socket by default.
pub const PING_EVERY: Duration = Duration::from_secs(30);
/// How long a socket may stay silent by default.
pub const SOCKET_TIMEOUT: Duration = Duration::from_secs(60);
/// New voters per client address by default: 2,000 phones behind one
/// address, 500 at once, the other 1,500 within 30 s (docs/operations.md).
pub const VOTER_MINTS: Rate = Rate {
    per_second: 50,
    burst: 500,
};
/// How old a voter cookie must be by default before its votes count.
pub const VOTER_MIN_AGE: Duration = Duration::from_secs(1);

impl Default for Limits {
    fn default() -> Self {
        Limits {
            votes: VOTES,
            socket_messages: SOCKET_MESSAGES,
            per_address: PER_ADDRESS,
            connections_per_address: CONNECTIONS_PER_ADDRESS,
            max_body: super::MAX_BODY,
            max_header: MAX_HEADER,
            header_timeout: HEADER_TIMEOUT,
            max_socket_message: super::ws::MAX_FRAME,
            ping_every: PING_EVERY,
            socket_timeout: SOCKET_TIMEOUT,
            trust_forwarded_for: false,
            presenter_session: PRESENTER_SESSION,
            voter_mints: VOTER_MINTS,
            voter_min_age: VOTER_MIN_AGE,
            sms_bad_signatures: SMS_BAD_SIGNATURES,
            body_timeout: BODY_TIMEOUT,
        }
    }
}

/// The limit flags of `cyoa serve`.
#[derive(Args, Debug, Clone)]
pub struct LimitArgs {
    /// Votes per second per voter (web and socket).
    #[arg(long, env = "CYOA_VOTE_RATE", default_value_t = VOTES.per_second)]
    pub vote_rate: u32,
    /// Votes per voter at once after a pause.
    #[arg(long, env = "CYOA_VOTE_BURST", default_value_t = VOTES.burst)]
    pub vote_burst: u32,
    /// Socket messages per second per voter.
    #[arg(long, env = "CYOA_SOCKET_RATE", default_value_t = SOCKET_MESSAGES.per_second)]
    pub socket_rate: u32,
    /// Socket messages per voter at once.
    #[arg(long, env = "CYOA_SOCKET_BURST", default_value_t = SOCKET_MESSAGES.burst)]
    pub socket_burst: u32,
    /// Requests per second per client address (a hall behind one NAT shares it).
    #[arg(long, env = "CYOA_ADDRESS_RATE", default_value_t = PER_ADDRESS.per_second)]
    pub address_rate: u32,
    /// Requests per client address at once.
    #[arg(long, env = "CYOA_ADDRESS_BURST", default_value_t = PER_ADDRESS.burst)]
    pub address_burst: u32,
    /// Open connections per client address.
    #[arg(long, env = "CYOA_MAX_CONNECTIONS_PER_ADDRESS", default_value_t = CONNECTIONS_PER_ADDRESS)]
    pub max_connections_per_address: usize,
    /// Largest request body in bytes.
    #[arg(long, env = "CYOA_MAX_BODY", default_value_t = super::MAX_BODY)]
    pub max_body: usize,
    /// Largest request head (request line and headers) in bytes.
    #[arg(long, env = "CYOA_MAX_HEADER", default_value_t = MAX_HEADER)]
    pub max_header: usize,
    /// Seconds to send a request's headers; also the idle keep-alive limit.
    #[arg(long, env = "CYOA_HEADER_TIMEOUT", default_value_t = HEADER_TIMEOUT.as_secs())]
    pub header_timeout: u64,
    /// Seconds between the server's pings on each socket.
    #[arg(long, env = "CYOA_PING_EVERY", default_value_t = PING_EVERY.as_secs())]
    pub ping_every: u64,
    /// Seconds of silence (no pong) before a socket is closed.
    #[arg(long, env = "CYOA_SOCKET_TIMEOUT", default_value_t = SOCKET_TIMEOUT.as_secs())]
    pub socket_timeout: u64,
    /// Behind a proxy: the client address is the last X-Forwarded-For hop.
    #[arg(long, env = "CYOA_TRUST_FORWARDED_FOR")]
    pub trust_forwarded_for: bool,
    /// How long a presenter login lasts: seconds, or with a unit (30m, 12h, 2d).
    #[arg(long, env = "CYOA_PRESENTER_SESSION", value_parser = presenter_session, default_value_t = Span(PRESENTER_SESSION))]
    pub presenter_session: Span,
    /// New voters per second per client address (a page load mints one).
    #[arg(long, env = "CYOA_VOTER_MINT_RATE", default_value_t = VOTER_MINTS.per_second)]
    pub voter_mint_rate: u32,
    /// New voters per client address at once after a pause.
    #[arg(long, env = "CYOA_VOTER_MINT_BURST", default_value_t = VOTER_MINTS.burst)]
    pub voter_mint_burst: u32,
    /// Seconds a voter cookie must be old before its votes count (0: at once).
    #[arg(long, env = "CYOA_VOTER_MIN_AGE", default_value_t = VOTER_MIN_AGE.as_secs())]
    pub voter_min_age: u64,
    /// Failed Twilio signatures per second per client address on /sms.
    #[arg(long, env = "CYOA_SMS_BAD_SIGNATURE_RATE", default_value_t = SMS_BAD_SIGNATURES.per_second)]
    pub sms_bad_signature_rate: u32,
    /// Failed Twilio signatures per client address at once.
    #[arg(long, env = "CYOA_SMS_BAD_SIGNATURE_BURST", default_value_t = SMS_BAD_SIGNATURES.burst)]
    pub sms_bad_signature_burst: u32,
    /// Seconds a request body may take to arrive; slower ones get 408.
    #[arg(long, env = "CYOA_BODY_TIMEOUT", default_value_t = BODY_TIMEOUT.as_secs())]
    pub body_timeout: u64,
}

impl From<&LimitArgs> for Limits {
    fn from(a: &LimitArgs) -> Self {
        Limits {
            votes: Rate {
                per_second: a.vote_rate,
                burst: a.vote_burst,
            },
            socket_messages: Rate {
                per_second: a.socket_rate,
                burst: a.socket_burst,
            },
            per_address: Rate {
                per_second: a.address_rate,
                burst: a.address_burst,
            },
            connections_per_address: a.max_connections_per_address,
            max_body: a.max_body,
            // Below a request line and a cookie nothing would get through.
            max_header: a.max_header.max(1024),
            header_timeout: Duration::from_secs(a.header_timeout.max(1)),
            max_socket_message: super::ws::MAX_FRAME,
            ping_every: Duration::from_secs(a.ping_every.max(1)),
            socket_timeout: Duration::from_secs(a.socket_timeout.max(2)),
            trust_forwarded_for: a.trust_forwarded_for,
            presenter_session: a.presenter_session.0,
            voter_mints: Rate {
                per_second: a.voter_mint_rate,
                burst: a.voter_mint_burst,
            },
            voter_min_age: Duration::from_secs(a.voter_min_age),
            sms_bad_signatures: Rate {
                per_second: a.sms_bad_signature_rate,
                burst: a.sms_bad_signature_burst,
            },
            body_timeout: Duration::from_secs(a.body_timeout.max(1)),
        }
    }
}

/// The live limiters of one server.
pub struct Guards {
    /// The configuration they enforce.
    pub limits: Limits,
    votes: DefaultKeyedRateLimiter<String>,
    socket_messages: DefaultKeyedRateLimiter<String>,
    addresses: DefaultKeyedRateLimiter<IpAddr>,
    mints: DefaultKeyedRateLimiter<IpAddr>,
    bad_signatures: Strikes,
    connections: Mutex<HashMap<IpAddr, usize>>,
    /// Voters minted and refused here, for the presenter console.
    pub minting: Minting,
}

impl Guards {
    /// Fresh limiters for `limits`.
    pub fn new(limits: Limits) -> Arc<Self> {
        Arc::new(Guards {
            votes: RateLimiter::keyed(limits.votes.quota()),
            socket_messages: RateLimiter::keyed(limits.socket_messages.quota()),
            addresses: RateLimiter::keyed(limits.per_address.quota()),
            mints: RateLimiter::keyed(limits.voter_mints.quota()),
            bad_signatures: Strikes::new(limits.sms_bad_signatures),
            connections: Mutex::new(HashMap::new()),
            minting: Minting::default(),
            limits,
        })
    }

    /// Forgets, every [`SWEEP_EVERY`], keys whose bucket is full again;
    /// ends when the guards are dropped.
    pub fn sweep(self: &Arc<Self>) {
        let guards: Weak<Guards> = Arc::downgrade(self);
        tokio::spawn(async move {
            let mut every = tokio::time::interval(SWEEP_EVERY);
            every.tick().await;
            loop {
                every.tick().await;
                let Some(g) = guards.upgrade() else { return };
                g.votes.retain_recent();
                g.socket_messages.retain_recent();
                g.addresses.retain_recent();
                g.mints.retain_recent();
                g.mints.shrink_to_fit();
                g.votes.shrink_to_fit();
                g.socket_messages.shrink_to_fit();
                g.addresses.shrink_to_fit();
                g.bad_signatures.sweep(Instant::now());
            }
        });
    }

    /// May `voter` vote now? Refused: 429, code `rate_limited`.
    pub fn vote(&self, voter: &Voter) -> Result<(), Error> {
        check(&self.votes, &voter.as_str().to_string(), "vote").map_err(|wait| {
            too_many(
                wait,
                "Too many votes at once: wait a moment, then tap your choice again.",
            )
        })
    }

    /// May this socket's client send a message now?
    pub fn socket_message(&self, role: &Role) -> Result<(), Error> {
        let key = match role {
            Role::Audience(voter, _) => voter.as_str().to_string(),
            Role::Presenter => "presenter".to_string(),
        };
        check(&self.socket_messages, &key, "socket")
            .map_err(|wait| too_many(wait, "Too many messages at once: slow down; this socket still works."))
    }

    /// May `ip` mint a new voter now? `Err`: how long until it may. An
    /// unknown address (a router driven without a socket) may.
    pub fn mint(&self, ip: Option<IpAddr>) -> Result<(), Duration> {
        match ip {
            Some(ip) => check(&self.mints, &address_key(ip), "mint"),
            None => Ok(()),
        }
    }

    /// A voter was minted: counted for `/metrics` and the console.
    pub fn minted(&self) {
        self.minting.minted.fetch_add(1, Ordering::Relaxed);
        crate::metrics::voter_minted();
    }

    /// A page did not mint a voter: counted by reason.
    pub fn mint_refused(&self, why: MintRefused) {
        let count = match why {
            MintRefused::Rate => &self.minting.refused_rate,
            MintRefused::CrossSite => &self.minting.refused_cross_site,
        };
        count.fetch_add(1, Ordering::Relaxed);
        crate::metrics::voter_mint_refused(why.reason());
    }

    /// Takes a connection slot for `ip`, or `None` when it has too many.
    pub fn connect(self: &Arc<Self>, ip: IpAddr) -> Option<ConnectionSlot> {
        let ip = address_key(ip);
        let mut open = self.connections.lock().unwrap_or_else(|e| e.into_inner());
        let count = open.entry(ip).or_insert(0);
        if *count >= self.limits.connections_per_address {
            return None;
        }
        *count += 1;
        Some(ConnectionSlot {
            guards: self.clone(),
            ip,
        })
    }
}

/// Voters minted and mints refused by this instance since it started.
#[derive(Debug, Default)]
pub struct Minting {
    /// Voters minted.
    pub minted: AtomicU64,
    /// Mints refused by the per-address mint rate.
    pub refused_rate: AtomicU64,
    /// Mints refused to requests from another site.
    pub refused_cross_site: AtomicU64,
}

/// The client's address a handler sees: as the per-address limits compute
/// it ([`client_ip`]); `None` when unknown.
#[derive(Debug, Clone, Copy)]
pub struct ClientAddress(pub Option<IpAddr>);

impl FromRequestParts<AppState> for ClientAddress {
    type Rejection = Infallible;
    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Infallible> {
        let peer = parts.extensions.get::<ConnectInfo<SocketAddr>>().map(|c| c.0);
        Ok(ClientAddress(client_ip(
            &parts.headers,
            peer,
            state.traffic.limits.limits.trust_forwarded_for,
        )))
    }
}

/// Failures per address, as a leaky bucket that only failures fill: each
/// adds one, it drains at `per_second`, and an address whose bucket holds
/// `burst` waits. Unlike governor's limiters it can be read without being
/// filled, which a limit that counts only failures needs: whether a
/// request fails is known only after it was let in.
struct Strikes {
    rate: Rate,
    /// Per address: the level after its last failure, and when that was.
    by_address: Mutex<HashMap<IpAddr, (f64, Instant)>>,
}

impl Strikes {
    fn new(rate: Rate) -> Self {
        Strikes {
            rate: Rate {
                per_second: rate.per_second.max(1),
                burst: rate.burst.max(1),
            },
            by_address: Mutex::new(HashMap::new()),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<IpAddr, (f64, Instant)>> {
        self.by_address.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The level of a bucket filled to `level` at `at`, drained until `now`.
    fn drained(&self, (level, at): (f64, Instant), now: Instant) -> f64 {
        (level - now.duration_since(at).as_secs_f64() * f64::from(self.rate.per_second)).max(0.0)
    }

    /// `Ok` when `ip` may try at `now`, else how long until it may.
    fn check(&self, ip: IpAddr, now: Instant) -> Result<(), Duration> {
        let level = self.lock().get(&ip).map_or(0.0, |&entry| self.drained(entry, now));
        let over = level + 1.0 - f64::from(self.rate.burst);
        if over > 0.0 {
            Err(Duration::from_secs_f64(over / f64::from(self.rate.per_second)))
        } else {
            Ok(())
        }
    }

    /// `ip` failed once more, at `now`.
    fn strike(&self, ip: IpAddr, now: Instant) {
        let mut by_address = self.lock();
        let level = by_address.get(&ip).map_or(0.0, |&entry| self.drained(entry, now));
        by_address.insert(ip, (level + 1.0, now));
    }

    /// Forgets the addresses whose bucket ran empty by `now`.
    fn sweep(&self, now: Instant) {
        let mut by_address = self.lock();
        by_address.retain(|_, entry| self.drained(*entry, now) > 0.0);
        by_address.shrink_to_fit();
    }
}

/// One open connection of an address; freed when dropped.
pub struct ConnectionSlot {
    guards: Arc<Guards>,
    ip: IpAddr,
}

impl Drop for ConnectionSlot {
    fn drop(&mut self) {
        let mut open = self.guards.connections.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(count) = open.get_mut(&self.ip) {
            *count = count.saturating_sub(1);
            if *count == 0 {
                open.remove(&self.ip);
            }
        }
    }
}

/// The address a limit counts: an IPv4 address, or the /64 network of an
/// IPv6 one (a single subscriber usually holds a whole /64, and could
/// otherwise take a new address for every request).
pub fn address_key(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(v4) => IpAddr::V4(v4),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => IpAddr::V6(std::net::Ipv6Addr::from(u128::from(v6) & !((1u128 << 64) - 1))),
        },
    }
}

/// `Ok`, or how long until the key may go again.
fn check<K>(limiter: &DefaultKeyedRateLimiter<K>, key: &K, limit: &'static str) -> Result<(), Duration>
where
    K: Clone + Eq + std::hash::Hash,
{
    limiter.check_key(key).map_err(|not_until| {
        crate::metrics::rate_limited(limit);
        not_until.wait_time_from(DefaultClock::default().now())
    })
}

fn too_many(wait: Duration, message: &str) -> Error {
    Error::new(StatusCode::TOO_MANY_REQUESTS, "rate_limited", message).with_retry_after(wait)
}

/// The client's address: the peer, or with `trust_forwarded_for` the last
/// `X-Forwarded-For` hop (the one our proxy added). `None` when unknown
/// (a router driven without a socket, in tests).
pub fn client_ip(headers: &HeaderMap, peer: Option<SocketAddr>, trust_forwarded_for: bool) -> Option<IpAddr> {
    if trust_forwarded_for {
        let last = headers
            .get_all("x-forwarded-for")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .next_back()
            .and_then(|hop| hop.trim().parse::<IpAddr>().ok());
        if last.is_some() {
            return last;
        }
    }
    peer.map(|p| p.ip())
}

/// The address a request's limits count (see [`client_ip`] and
/// [`address_key`]); `None` when unknown.
fn request_address(guards: &Guards, request: &Request) -> Option<IpAddr> {
    let peer = request.extensions().get::<ConnectInfo<SocketAddr>>().map(|c| c.0);
    client_ip(request.headers(), peer, guards.limits.trust_forwarded_for).map(address_key)
}

/// The 429 answer to a request to `path`, with `Retry-After`: JSON for
/// the API and sockets, a page otherwise.
fn refused(path: &str, wait: Duration, message: impl FnOnce(u64) -> String) -> Response {
    let seconds = wait.as_secs_f64().ceil().max(1.0) as u64;
    let e = Error::new(StatusCode::TOO_MANY_REQUESTS, "rate_limited", message(seconds));
    let mut response = if path.starts_with("/api/") || path == "/ws" {
        ApiError(e).into_response()
    } else {
        e.into_response()
    };
    response
        .headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
    response
}

/// Middleware: the per-address request rate (not on `/sms`). Over it:
/// 429 with `Retry-After`, JSON for the API and sockets, text otherwise.
pub async fn per_address(State(guards): State<Arc<Guards>>, request: Request, next: Next) -> Response {
    let path = request.uri().path();
    if NOT_BY_ADDRESS.contains(&path) {
        return next.run(request).await;
    }
    let Some(ip) = request_address(&guards, &request) else {
        return next.run(request).await;
    };
    match check(&guards.addresses, &ip, "address") {
        Ok(()) => next.run(request).await,
        Err(wait) => refused(path, wait, |seconds| {
            format!("Too many requests from your network; try again in {seconds} s.")
        }),
    }
}

/// Middleware of `/sms`: an address whose Twilio signatures failed more
/// than [`Limits::sms_bad_signatures`] allows is answered 429 before its
/// signature is checked; a good signature costs nothing, so Twilio's own
/// stream of texts is never held up.
pub async fn sms_signatures(State(guards): State<Arc<Guards>>, request: Request, next: Next) -> Response {
    let Some(ip) = request_address(&guards, &request) else {
        return next.run(request).await;
    };
    if let Err(wait) = guards.bad_signatures.check(ip, Instant::now()) {
        crate::metrics::rate_limited("sms_signature");
        let path = request.uri().path().to_string();
        return refused(&path, wait, |seconds| {
            format!(
                "Too many webhooks with a wrong X-Twilio-Signature from your address; nothing was counted. Try again in {seconds} s."
            )
        });
    }
    let response = next.run(request).await;
    if response.status() == crate::sms::BAD_SIGNATURE {
        guards.bad_signatures.strike(ip, Instant::now());
    }
    response
}

/// Middleware: a request's body must arrive in full within
/// [`Limits::body_timeout`] of its head; a slower one (a client sending a
/// byte now and then, to hold the connection) is answered 408. Every
/// handler reads its body before it acts, so nothing was done. A request
/// without a body (a page, a socket's upgrade) passes as it is: the
/// deadline never reaches an upgraded socket.
pub async fn body_deadline(State(guards): State<Arc<Guards>>, request: Request, next: Next) -> Response {
    if request.body().is_end_stream() {
        return next.run(request).await;
    }
    let timeout = guards.limits.body_timeout;
    let late = Arc::new(AtomicBool::new(false));
    let noted = late.clone();
    let request = request.map(|body| {
        Body::new(DeadlineBody::new(timeout, body).map_err(move |e| {
            if e.is::<TimeoutError>() {
                noted.store(true, Ordering::Release);
            }
            e
        }))
    });
    let path = request.uri().path().to_string();
    let response = next.run(request).await;
    if !late.load(Ordering::Acquire) {
        return response;
    }
    crate::metrics::body_timed_out();
    let e = Error::new(
        StatusCode::REQUEST_TIMEOUT,
        "body_timeout",
        format!(
            "The request body took longer than {} s to arrive; nothing was done. Send it again.",
            timeout.as_secs_f64()
        ),
    );
    let mut response = if path.starts_with("/api/") {
        ApiError(e).into_response()
    } else {
        e.into_response()
    };
    // The rest of the body is not read: the connection cannot be reused.
    response
        .headers_mut()
        .insert(header::CONNECTION, HeaderValue::from_static("close"));
    response
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    #[test]
    fn a_span_is_seconds_or_a_number_with_a_unit() {
        let secs = |text: &str| text.parse::<Span>().map(|s| s.0.as_secs());
        assert_eq!(secs("3600"), Ok(3600));
        assert_eq!(secs("90s"), Ok(90));
        assert_eq!(secs(" 30m "), Ok(30 * 60));
        assert_eq!(secs("12H"), Ok(12 * 3600));
        assert_eq!(secs("2d"), Ok(2 * 86400));
        for bad in [
            "",
            "h",
            "12 h",
            "1.5h",
            "-1",
            "+5",
            "12w",
            "1h30m",
            "99999999999999999999d",
        ] {
            let e = secs(bad).unwrap_err();
            assert!(e.contains("is not a length of time"), "{bad:?}: {e}");
        }
        assert_eq!(Span(PRESENTER_SESSION).to_string(), "12h");
        assert_eq!(Span(Duration::from_secs(90)).to_string(), "90s");
        assert_eq!(Span(Duration::from_secs(120)).to_string(), "2m");
        assert!(presenter_session("0").unwrap_err().contains("from 1 s to 400d"));
        assert!(presenter_session("401d").is_err());
        assert_eq!(presenter_session("1"), Ok(Span(Duration::from_secs(1))));
    }

    #[test]
    fn the_last_forwarded_hop_is_the_client_only_when_trusted() {
        let mut headers = HeaderMap::new();
        headers.insert("x-forwarded-for", HeaderValue::from_static("10.0.0.1, 203.0.113.7"));
        let peer: SocketAddr = "127.0.0.1:9".parse().unwrap();
        assert_eq!(
            client_ip(&headers, Some(peer), true),
            Some("203.0.113.7".parse().unwrap())
        );
        assert_eq!(client_ip(&headers, Some(peer), false), Some(peer.ip()));
        headers.insert("x-forwarded-for", HeaderValue::from_static("not an address"));
        assert_eq!(client_ip(&headers, Some(peer), true), Some(peer.ip()));
    }

    #[test]
    fn an_ipv6_client_counts_as_its_64_network() {
        let a: IpAddr = "2001:db8:1:2:aaaa::1".parse().unwrap();
        let b: IpAddr = "2001:db8:1:2:bbbb::2".parse().unwrap();
        let other: IpAddr = "2001:db8:1:3::1".parse().unwrap();
        assert_eq!(address_key(a), address_key(b));
        assert_ne!(address_key(a), address_key(other));
        let mapped: IpAddr = "::ffff:192.0.2.7".parse().unwrap();
        assert_eq!(address_key(mapped), "192.0.2.7".parse::<IpAddr>().unwrap());
    }

    #[test]
    fn a_voter_gets_the_burst_then_waits_and_others_are_not_affected() {
        let guards = Guards::new(Limits::default());
        let (a, b) = (Voter::web("a"), Voter::web("b"));
        for _ in 0..10 {
            guards.vote(&a).unwrap();
        }
        let refused = guards.vote(&a).unwrap_err();
        assert_eq!(
            (refused.status, refused.code),
            (StatusCode::TOO_MANY_REQUESTS, "rate_limited")
        );
        guards.vote(&b).unwrap();
    }

    #[test]
    fn only_strikes_fill_the_bucket_and_it_drains() {
        let strikes = Strikes::new(Rate {
            per_second: 2,
            burst: 3,
        });
        let (ip, other): (IpAddr, IpAddr) = ("192.0.2.1".parse().unwrap(), "192.0.2.2".parse().unwrap());
        let t0 = Instant::now();
        for _ in 0..10 {
            assert!(strikes.check(ip, t0).is_ok(), "checking fills nothing");
        }
        for _ in 0..3 {
            assert!(strikes.check(ip, t0).is_ok());
            strikes.strike(ip, t0);
        }
        assert_eq!(strikes.check(ip, t0), Err(Duration::from_millis(500)));
        assert!(strikes.check(other, t0).is_ok(), "another address is not affected");
        let later = t0 + Duration::from_millis(500);
        assert!(strikes.check(ip, later).is_ok(), "drained by one");
        strikes.sweep(later);
        assert_eq!(strikes.lock().len(), 1, "a bucket not yet empty is kept");
        strikes.sweep(t0 + Duration::from_millis(1500));
        assert!(strikes.lock().is_empty(), "an empty bucket is forgotten");
    }

    #[test]
    fn connection_slots_are_counted_per_address_and_freed() {
        let guards = Guards::new(Limits {
            connections_per_address: 2,
            ..Limits::default()
        });
        let ip: IpAddr = "192.0.2.1".parse().unwrap();
        let first = guards.connect(ip).unwrap();
        let _second = guards.connect(ip).unwrap();
        assert!(guards.connect(ip).is_none());
        assert!(guards.connect("192.0.2.2".parse().unwrap()).is_some());
        drop(first);
        assert!(guards.connect(ip).is_some());
    }
}
