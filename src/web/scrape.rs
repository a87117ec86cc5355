//! `GET /metrics`: the Prometheus text of [`crate::metrics`].
//!
//! Not for the audience: it answers a request from this machine that did
//! not come through a proxy (no `X-Forwarded-For` or `Forwarded`; a local
//! Prometheus or `curl`), or any request with the presenter's
//! `Authorization: Bearer TOKEN`. Everyone else gets 401.

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};

use super::auth::Presenter;
use super::error::{ApiError, Error};
use super::state::AppState;

/// Whether the request comes straight from this machine.
fn local(headers: &HeaderMap, peer: Option<SocketAddr>) -> bool {
    let proxied = headers.contains_key("x-forwarded-for") || headers.contains_key(header::FORWARDED);
    !proxied && peer.is_some_and(|p| p.ip().is_loopback())
}

/// `GET /metrics`.
pub async fn metrics(State(app): State<AppState>, request: Request) -> Response {
    let peer = request.extensions().get::<ConnectInfo<SocketAddr>>().map(|c| c.0);
    let headers = request.headers();
    let has_bearer = headers.contains_key(header::AUTHORIZATION);
    // The presenter's cookie alone is not enough: the Bearer token is.
    let allowed = if has_bearer {
        Presenter::check(&app, headers).is_ok()
    } else {
        local(headers, peer)
    };
    if !allowed {
        return ApiError(Error::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "Metrics are for operators: scrape from the server itself, or send Authorization: Bearer TOKEN.",
        ))
        .into_response();
    }
    (
        [
            (header::CONTENT_TYPE, crate::metrics::CONTENT_TYPE),
            (header::CACHE_CONTROL, "no-store"),
        ],
        crate::metrics::render(),
    )
        .into_response()
}
