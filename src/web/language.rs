//! The language of each request: a middleware that picks it once (the
//! story's `[settings] language`, else the browser's `Accept-Language`,
//! else English, by [`i18n::choose`]) and runs the request in it, so that
//! handlers, templates and error pages read it with [`i18n::current`]. It
//! sits here, not in `i18n`, because it reads the request and the story
//! the server holds: `i18n` stays free of HTTP and of the web layer.

use axum::extract::{Request, State};
use axum::http::header::ACCEPT_LANGUAGE;
use axum::middleware::Next;
use axum::response::Response;

use super::state::AppState;
use crate::i18n;

/// Middleware: picks the request's language for everything the request
/// draws, error pages too.
pub async fn scope(State(app): State<AppState>, request: Request, next: Next) -> Response {
    let accept = request
        .headers()
        .get(ACCEPT_LANGUAGE)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let language = i18n::choose(app.talk.story().settings.language.as_deref(), accept.as_deref());
    i18n::with_language(language, next.run(request)).await
}
