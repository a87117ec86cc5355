//! What cyoa counts for operators, served as `GET /metrics` in the
//! Prometheus text format (see `docs/operations.md` for every family).
//!
//! One registry per process, behind free functions, so any module records
//! with one line (`metrics::sms_received()`) and nothing is threaded
//! through the state. Built on `prometheus-client`, the Prometheus
//! project's own Rust client: typed metrics, no global macros, and it
//! writes the text format without an HTTP listener of its own.

use std::collections::HashMap;
use std::sync::{LazyLock, Mutex};
use std::time::{Duration, Instant};

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

/// The `Content-Type` of `/metrics`.
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// Votes whose time to their first push is still running are kept per
/// decision; a decision never pushed (its run ended) is dropped past this.
const MAX_PENDING: usize = 1024;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct Role {
    role: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct Channel {
    channel: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct Reason {
    reason: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct Kind {
    kind: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct Operation {
    operation: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct Limit {
    limit: &'static str,
}

type Timings = Family<Operation, Histogram, fn() -> Histogram>;

fn redis_buckets() -> Histogram {
    // 0.1 ms .. ~3 s.
    Histogram::new(exponential_buckets(0.0001, 2.5, 12))
}

struct Metrics {
    registry: Registry,
    sockets_open: Family<Role, Gauge>,
    connections_open: Gauge,
    connections_refused: Counter,
    votes_counted: Family<Channel, Counter>,
    votes_refused: Family<Reason, Counter>,
    sms_received: Counter,
    sms_refused: Family<Reason, Counter>,
    pushes: Family<Kind, Counter>,
    redis_errors: Family<Operation, Counter>,
    redis_seconds: Timings,
    store_calls: Family<Operation, Counter>,
    vote_to_push_seconds: Histogram,
    rate_limited: Family<Limit, Counter>,
    voters_minted: Counter,
    voter_mints_refused: Family<Reason, Counter>,
    body_timeouts: Counter,
    store_data_lost: Counter,
    store_lost: Gauge,
    votes_closed_by_timer: Counter,
    /// When the oldest vote not yet pushed was counted, per (run, decision).
    pending: Mutex<HashMap<(u64, String), Instant>>,
}

static METRICS: LazyLock<Metrics> = LazyLock::new(Metrics::new);

impl Metrics {
    fn new() -> Self {
        let mut registry = Registry::with_prefix("cyoa");
        let m = Metrics {
            registry: Registry::default(),
            sockets_open: Family::default(),
            connections_open: Gauge::default(),
            connections_refused: Counter::default(),
            votes_counted: Family::default(),
            votes_refused: Family::default(),
            sms_received: Counter::default(),
            sms_refused: Family::default(),
            pushes: Family::default(),
            redis_errors: Family::default(),
            redis_seconds: Family::new_with_constructor(redis_buckets),
            store_calls: Family::default(),
            // 1 ms .. ~4 s: a push normally follows within the 50 ms flush pause.
            vote_to_push_seconds: Histogram::new(exponential_buckets(0.001, 2.0, 13)),
            rate_limited: Family::default(),
            voters_minted: Counter::default(),
            voter_mints_refused: Family::default(),
            body_timeouts: Counter::default(),
            store_data_lost: Counter::default(),
            store_lost: Gauge::default(),
            votes_closed_by_timer: Counter::default(),
            pending: Mutex::new(HashMap::new()),
        };
        // Each metric under its exported name, with its help text.
        macro_rules! register {
            ($($field:ident: $name:literal, $help:literal;)*) => {
                $(registry.register($name, $help, m.$field.clone());)*
            };
        }
        register! {
            sockets_open: "sockets_open", "Open WebSockets by role (audience, presenter)";
            connections_open: "http_connections_open", "Open TCP connections to the server, sockets included";
            connections_refused: "http_connections_refused", "Connections refused because their address had too many open";
            votes_counted: "votes_counted", "Votes counted, by channel (web, sms)";
            votes_refused: "votes_refused", "Votes refused, by reason (not_open, unknown_choice, rate_limited, store, ...)";
            sms_received: "sms_received", "SMS webhooks received";
            sms_refused: "sms_refused", "SMS refused, by reason";
            pushes: "pushes", "Pushes broadcast to the sockets, by kind (state, tally)";
            redis_errors: "redis_errors", "Redis calls that failed, by store operation";
            redis_seconds: "redis_seconds", "Round-trip time of Redis calls, by store operation";
            store_calls: "store_calls", "Calls to the vote store (any backend), by store operation";
            vote_to_push_seconds: "vote_to_push_seconds", "Time from a counted vote to the first tally push that includes it";
            rate_limited: "rate_limited", "Requests and messages refused by a rate limit (vote, socket, address, mint, sms_signature)";
            voters_minted: "voters_minted", "Browser voters minted: voter cookies issued by a page load";
            voter_mints_refused: "voter_mints_refused", "Page loads that minted no voter, by reason (rate: the address's mint limit; cross_site: a request from another site that is not a visit)";
            body_timeouts: "body_timeouts", "Requests answered 408: their body did not arrive within --body-timeout";
            store_data_lost: "store_data_lost", "Times the vote store (Redis) was found without this talk's data";
            store_lost: "store_lost", "1 while the vote store is taken for having lost its data (per store in the process)";
            votes_closed_by_timer: "votes_closed_by_timer", "Votes closed by their countdown, by this instance (the store lets one instance close each)";
        }
        // Series known in advance show from the start, at zero.
        for role in ["audience", "presenter"] {
            let _ = m.sockets_open.get_or_create(&Role { role });
        }
        for channel in ["web", "sms"] {
            let _ = m.votes_counted.get_or_create(&Channel { channel });
        }
        for kind in ["state", "tally"] {
            let _ = m.pushes.get_or_create(&Kind { kind });
        }
        for limit in ["vote", "socket", "address", "mint", "sms_signature"] {
            let _ = m.rate_limited.get_or_create(&Limit { limit });
        }
        for reason in ["rate", "cross_site"] {
            let _ = m.voter_mints_refused.get_or_create(&Reason { reason });
        }
        Metrics { registry, ..m }
    }
}

/// Every metric in the Prometheus text format.
pub fn render() -> String {
    let mut text = String::new();
    // Writing into a String cannot fail.
    let _ = prometheus_client::encoding::text::encode(&mut text, &METRICS.registry);
    text
}

/// An open WebSocket; counted until the guard is dropped.
#[must_use = "the socket counts as open until the guard is dropped"]
pub struct SocketOpen(&'static str);

impl Drop for SocketOpen {
    fn drop(&mut self) {
        METRICS.sockets_open.get_or_create(&Role { role: self.0 }).dec();
    }
}

/// Counts a WebSocket of `role` (`audience` or `presenter`) as open.
pub fn socket_open(role: &'static str) -> SocketOpen {
    METRICS.sockets_open.get_or_create(&Role { role }).inc();
    SocketOpen(role)
}

/// An open TCP connection; counted until the guard is dropped.
#[must_use = "the connection counts as open until the guard is dropped"]
pub struct ConnectionOpen(());

impl Drop for ConnectionOpen {
    fn drop(&mut self) {
        METRICS.connections_open.dec();
    }
}

/// Counts an accepted TCP connection as open.
pub fn connection_open() -> ConnectionOpen {
    METRICS.connections_open.inc();
    ConnectionOpen(())
}

/// A connection refused by the per-address limit.
pub fn connection_refused() {
    METRICS.connections_refused.inc();
}

/// A vote counted, by the channel it came in by (`web`, `sms`).
pub fn vote_counted(channel: &'static str) {
    METRICS.votes_counted.get_or_create(&Channel { channel }).inc();
}

/// A vote refused, by the error code the voter was sent.
pub fn vote_refused(reason: &'static str) {
    METRICS.votes_refused.get_or_create(&Reason { reason }).inc();
}

/// An SMS webhook arrived (signed or not).
pub fn sms_received() {
    METRICS.sms_received.inc();
}

/// An SMS was not counted as a vote, by reason (`bad_signature`, `not_open`, ...).
pub fn sms_refused(reason: &'static str) {
    METRICS.sms_refused.get_or_create(&Reason { reason }).inc();
}

/// A state push went to every socket.
pub fn state_pushed() {
    METRICS.pushes.get_or_create(&Kind { kind: "state" }).inc();
}

/// A vote on `decision` of `run` was counted and marked for the next push:
/// the vote-to-push clock starts (the oldest unpushed vote sets it).
pub fn vote_marked(run: u64, decision: &str) {
    let mut pending = METRICS.pending.lock().unwrap_or_else(|e| e.into_inner());
    if pending.len() >= MAX_PENDING {
        pending.clear();
    }
    pending.entry((run, decision.to_string())).or_insert_with(Instant::now);
}

/// A tally of `decision` in `run` went to every socket: the votes marked
/// since the last one are now seen.
pub fn tally_pushed(run: u64, decision: &str) {
    METRICS.pushes.get_or_create(&Kind { kind: "tally" }).inc();
    let started = METRICS
        .pending
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .remove(&(run, decision.to_string()));
    if let Some(started) = started {
        METRICS.vote_to_push_seconds.observe(started.elapsed().as_secs_f64());
    }
}

/// One call to Redis (`operation` is the store method): its round trip,
/// and whether Redis failed.
pub fn redis_call(operation: &'static str, took: Duration, failed: bool) {
    let label = Operation { operation };
    METRICS.redis_seconds.get_or_create(&label).observe(took.as_secs_f64());
    if failed {
        METRICS.redis_errors.get_or_create(&label).inc();
    }
}

/// One call to the vote store, whichever the backend (`operation` is the
/// store method).
pub fn store_call(operation: &'static str) {
    METRICS.store_calls.get_or_create(&Operation { operation }).inc();
}

/// A request or message refused by the rate limit `limit` (`vote`,
/// `socket`, `address`, `mint`, `sms_signature`).
pub fn rate_limited(limit: &'static str) {
    METRICS.rate_limited.get_or_create(&Limit { limit }).inc();
}

/// A page minted a browser voter.
pub fn voter_minted() {
    METRICS.voters_minted.inc();
}

/// A page load minted no voter, for `reason` (`rate`, `cross_site`).
pub fn voter_mint_refused(reason: &'static str) {
    METRICS.voter_mints_refused.get_or_create(&Reason { reason }).inc();
}

/// The vote store was found without its data (`true`), or with it again
/// (`false`, restored from a backup).
pub fn store_data_lost(lost: bool) {
    if lost {
        METRICS.store_data_lost.inc();
        METRICS.store_lost.inc();
    } else {
        METRICS.store_lost.dec();
    }
}

/// A countdown ran out and this instance closed its vote.
pub fn vote_closed_by_timer() {
    METRICS.votes_closed_by_timer.inc();
}

/// A request answered 408: its body was too slow.
pub fn body_timed_out() {
    METRICS.body_timeouts.inc();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_family_is_rendered_with_the_prefix() {
        vote_marked(1, "d");
        tally_pushed(1, "d");
        redis_call("vote", Duration::from_millis(2), true);
        store_call("vote");
        let text = render();
        for family in [
            "cyoa_sockets_open",
            "cyoa_votes_counted",
            "cyoa_pushes_total{kind=\"tally\"}",
            "cyoa_redis_errors_total{operation=\"vote\"} ",
            "cyoa_redis_seconds_bucket",
            "cyoa_vote_to_push_seconds_count",
            "cyoa_store_calls_total{operation=\"vote\"} ",
        ] {
            assert!(text.contains(family), "{family} missing from\n{text}");
        }
    }
}
