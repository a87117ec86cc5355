//! The security headers of every response (pages, API, static files,
//! errors): the Content-Security-Policy ([`super::CSP`]: no inline script,
//! no framing), `nosniff`, `X-Frame-Options` for old browsers,
//! `Referrer-Policy`, and HSTS when the public URL is https. A 429 without
//! `Retry-After` gets one.

use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::Response;

/// HSTS for two years, subdomains included: sent only when the public URL
/// is https, so a plain-http test or LAN talk is not pinned to https.
pub const HSTS: &str = "max-age=63072000; includeSubDomains";

/// Whether the public URL is https (state of [`secure`]).
#[derive(Debug, Clone, Copy)]
pub struct Https(pub bool);

/// Adds the headers to `response`.
pub async fn secure(State(Https(https)): State<Https>, mut response: Response) -> Response {
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(super::CSP));
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    if https {
        headers.insert(header::STRICT_TRANSPORT_SECURITY, HeaderValue::from_static(HSTS));
    }
    if response.status() == StatusCode::TOO_MANY_REQUESTS && !response.headers().contains_key(header::RETRY_AFTER) {
        // The per-voter limits refill within a second.
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
    }
    response
}
