//! Logs: `tracing` to stderr, human-readable or JSON lines, levels from
//! `RUST_LOG`; and the request id every HTTP request (and the socket it
//! may become) carries in its span, so each log line of a request names it.
//!
//! What is never logged: the presenter token and the secret (spans record
//! the path, never the query, which may hold `?token=`), cookies and the
//! `Authorization` header (no header is recorded), phone numbers (the SMS
//! code logs their keyed hash only). `tests/web/telemetry.rs` checks it.

use std::convert::Infallible;

use axum::body::Body;
use axum::http::{HeaderName, HeaderValue, Request};
use axum::response::{IntoResponse, Response};
use clap::ValueEnum;
use tower::util::BoxCloneSyncService;
use tower::{Service, ServiceBuilder};
use tower_http::request_id::{MakeRequestId, PropagateRequestIdLayer, RequestId, SetRequestIdLayer};
use tower_http::trace::TraceLayer;

/// The header that carries the request id, both ways.
pub const REQUEST_ID: &str = "x-request-id";

/// How log lines are written.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    /// One readable line per event, with its spans.
    #[default]
    Text,
    /// One JSON object per line, with the fields of its spans.
    Json,
}

/// The filter when `RUST_LOG` is not set.
pub const DEFAULT_FILTER: &str = "info";

/// Installs the log subscriber: stderr, `format`, levels from `RUST_LOG`
/// (default [`DEFAULT_FILTER`]). A second call keeps the first subscriber.
pub fn init(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(DEFAULT_FILTER));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        // A log line that cannot be written (stderr closed: `2>&1 | head`)
        // is lost; by default tracing-subscriber then reports it with
        // `eprintln!`, which panics on the same closed stderr and would
        // stop the talk.
        .log_internal_errors(false);
    let _ = match format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder.json().with_current_span(true).with_span_list(true).try_init(),
    };
}

/// `tokio::spawn` in the current span: a task started for a request (a
/// socket's reader and writer) logs with that request's id.
pub fn spawn_in_span<F>(task: F) -> tokio::task::JoinHandle<F::Output>
where
    F: std::future::Future + Send + 'static,
    F::Output: Send + 'static,
{
    tokio::spawn(tracing::Instrument::in_current_span(task))
}

/// Makes request ids: 64 random bits as 16 hex digits.
#[derive(Debug, Clone, Copy, Default)]
pub struct MakeRequestHex;

impl MakeRequestId for MakeRequestHex {
    fn make_request_id<B>(&mut self, _: &Request<B>) -> Option<RequestId> {
        let id = format!("{:016x}", rand::random::<u64>());
        HeaderValue::from_str(&id).ok().map(RequestId::new)
    }
}

/// Whether a client's (or proxy's) own request id is kept: short, and
/// only characters that cannot forge a log line.
fn acceptable_id(value: &HeaderValue) -> bool {
    let bytes = value.as_bytes();
    !bytes.is_empty()
        && bytes.len() <= 64
        && bytes
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
}

/// The request id and the request span, around the whole application (one
/// layer stack, not one per route): an id from the client (nginx's
/// `$request_id`, say) is kept when it is short and plain, else a fresh one
/// is made; the response carries it in `X-Request-Id`; the span
/// `request{id method path}` holds it, and a socket's tasks run inside that
/// span.
pub fn request_layers<S>(service: S) -> BoxCloneSyncService<Request<Body>, Response, Infallible>
where
    S: Service<Request<Body>, Response = Response, Error = Infallible> + Clone + Send + Sync + 'static,
    S::Future: Send + 'static,
{
    let id = HeaderName::from_static(REQUEST_ID);
    let layered = ServiceBuilder::new()
        // Trace's body wrapper back to axum's body, outermost.
        .map_response(IntoResponse::into_response)
        .map_request(|mut req: Request<Body>| {
            if req.headers().get(REQUEST_ID).is_some_and(|v| !acceptable_id(v)) {
                req.headers_mut().remove(REQUEST_ID);
            }
            req
        })
        .layer(SetRequestIdLayer::new(id.clone(), MakeRequestHex))
        .layer(PropagateRequestIdLayer::new(id))
        .layer(TraceLayer::new_for_http().make_span_with(request_span as fn(&Request<Body>) -> tracing::Span))
        .service(service);
    BoxCloneSyncService::new(layered)
}

/// The span of a request. It names the path only: the query may hold the
/// presenter token.
fn request_span(req: &Request<Body>) -> tracing::Span {
    let id = req
        .headers()
        .get(REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    tracing::info_span!("request", id, method = %req.method(), path = %req.uri().path())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_plain_short_ids_are_kept() {
        for good in ["abc", "0f-1e_2d.3c", &"a".repeat(64)] {
            assert!(acceptable_id(&HeaderValue::from_str(good).unwrap()), "{good}");
        }
        for bad in ["", "a b", "x\"}{", &"a".repeat(65), "id=1 level=ERROR"] {
            assert!(!acceptable_id(&HeaderValue::from_str(bad).unwrap()), "{bad}");
        }
    }
}
