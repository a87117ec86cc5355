//! `POST /sms`: Twilio's Messaging webhook, handed to [`crate::sms::handle`].
//!
//! A text that counts marks its decision dirty in [`super::push`], exactly
//! as a web vote does, so SMS and web votes add up in the same coalesced
//! tally pushes.

use axum::body::Bytes;
use axum::extract::{OriginalUri, State};
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};

use super::state::AppState;

/// `POST /sms`: counts the text and answers Twilio with TwiML (or refuses
/// it with a plain-text reason).
pub async fn webhook(
    State(app): State<AppState>,
    OriginalUri(uri): OriginalUri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    // Twilio signs the URL it posted to, query included: the original one,
    // not what a nested router may have stripped.
    let path_and_query = uri.path_and_query().map_or("/sms", |p| p.as_str());
    let outcome = crate::sms::handle(&app.sms, &app.story, &app.store, path_and_query, &headers, &body).await;
    if let Some((run, decision)) = &outcome.counted {
        app.pushes.mark(*run, decision);
    }
    let content_type = HeaderValue::from_static(outcome.content_type);
    (outcome.status, [(header::CONTENT_TYPE, content_type)], outcome.body).into_response()
}
