//! One error for every handler: an HTML page for pages ([`Error`]), JSON
//! `{"error": code, "message": text}` for the API ([`ApiError`]).
//!
//! The client gets a short message saying what was wrong and what to do;
//! the cause (a store failure, say) is logged, never sent.

use std::fmt::Display;
use std::time::Duration;

use askama::Template;
use axum::Json;
use axum::extract::rejection::{FormRejection, JsonRejection, QueryRejection};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use serde_json::json;

use crate::store::StoreError;

/// What a request gets while the vote store is taken for having lost its
/// data: nothing counts until the operator acts.
pub const STORE_LOST: &str = "The vote store lost its data, so nothing was counted or changed. \
     Votes and the presenter's commands wait until the operator restores Redis from its backup \
     or restarts cyoa to begin a new talk.";

/// Something a request could not do.
#[derive(Debug)]
pub struct Error {
    /// HTTP status sent.
    pub status: StatusCode,
    /// Stable machine-readable code (`not_open`, `unknown_choice`, ...).
    pub code: &'static str,
    /// Short text for the person in front of the page.
    pub message: String,
    /// Why, for the log only.
    cause: Option<String>,
    /// When it is worth trying again: sent as `Retry-After` (whole seconds).
    retry_after: Option<Duration>,
}

impl Error {
    /// An error with a status, a code and a message for the client.
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Error {
            status,
            code,
            message: message.into(),
            cause: None,
            retry_after: None,
        }
    }
    /// Says when to try again (`Retry-After`).
    pub fn with_retry_after(mut self, wait: Duration) -> Self {
        self.retry_after = Some(wait);
        self
    }
    /// The wait of [`Error::with_retry_after`] in milliseconds (at least 1).
    pub fn retry_after_ms(&self) -> Option<u64> {
        self.retry_after
            .map(|w| u64::try_from(w.as_millis()).unwrap_or(u64::MAX).max(1))
    }
    /// Adds `Retry-After` to `response` when a wait is known.
    fn add_retry_after(&self, mut response: Response) -> Response {
        if let Some(wait) = self.retry_after {
            let seconds = wait.as_secs_f64().ceil().max(1.0) as u64;
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        }
        response
    }
    /// Adds the cause, logged and never sent.
    pub fn with_cause(mut self, cause: impl Display) -> Self {
        self.cause = Some(cause.to_string());
        self
    }
    /// 404.
    pub fn not_found(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, code, message)
    }
    /// 409: the request does not fit where the run stands.
    pub fn conflict(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, code, message)
    }
    /// 400.
    pub fn bad_request(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, code, message)
    }

    fn log(&self) {
        let cause = self.cause.as_deref().unwrap_or("");
        if self.status.is_server_error() {
            tracing::error!(status = %self.status, code = self.code, cause, "request failed");
        } else {
            tracing::debug!(status = %self.status, code = self.code, cause, "request refused");
        }
    }
}

impl From<StoreError> for Error {
    fn from(e: StoreError) -> Self {
        match &e {
            StoreError::NotOpen(_) => Error::conflict(
                "not_open",
                "This vote is not open: it has not started yet or it is closed.",
            ),
            StoreError::OtherOpen(_) => Error::conflict("other_open", "Another vote is still open; close it first."),
            StoreError::NotCurrent(_) => {
                Error::conflict("not_current", "The talk has moved on to a new run; reload the page.")
            }
            StoreError::NoRun(_) => Error::not_found("no_run", "There is no such run."),
            StoreError::Backend(_) => Error::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "store",
                "The vote store is not answering; try again in a moment.",
            ),
            StoreError::Lost(_) => Error::new(StatusCode::SERVICE_UNAVAILABLE, "store_lost", STORE_LOST),
        }
        .with_cause(e)
    }
}

/// The one place where the talk's refusals get their HTTP status.
impl From<crate::talk::Error> for Error {
    fn from(e: crate::talk::Error) -> Self {
        use crate::talk::Error as Talk;
        match e {
            Talk::NotFound { code, message } => Error::not_found(code, message),
            Talk::Conflict { code, message } => Error::conflict(code, message),
            Talk::Invalid { code, message } => Error::new(StatusCode::UNPROCESSABLE_ENTITY, code, message),
            Talk::RunOver => super::room::new_code_needed(),
            Talk::Store(e) => e.into(),
        }
    }
}

/// The HTML error page.
#[derive(Template)]
#[template(path = "error.html")]
struct ErrorPage<'a> {
    /// The page's language.
    tr: &'static crate::i18n::Language,
    theme_mode: Option<&'a str>,
    theme_accent: Option<&'a str>,
    status: u16,
    reason: &'a str,
    message: &'a str,
}

impl IntoResponse for Error {
    fn into_response(self) -> Response {
        self.log();
        let tr = crate::i18n::current();
        let status = self.status.as_u16();
        let reason = tr
            .lookup(&format!("error.status_{status}"))
            .or(self.status.canonical_reason())
            .unwrap_or("Error");
        // English keeps the message with its details; another language
        // has a translation per code, where the audience may meet it.
        let message = match tr.code {
            "en" => None,
            _ => tr.lookup(&format!("error.{}", self.code)),
        }
        .unwrap_or(&self.message);
        let page = ErrorPage {
            tr,
            theme_mode: None,
            theme_accent: None,
            status,
            reason,
            message,
        };
        let response = match page.render() {
            Ok(html) => (self.status, Html(html)).into_response(),
            Err(e) => {
                tracing::error!(error = %e, "cannot render the error page");
                (self.status, self.message.clone()).into_response()
            }
        };
        self.add_retry_after(response)
    }
}

impl From<FormRejection> for Error {
    fn from(r: FormRejection) -> Self {
        let status = r.status();
        match status {
            StatusCode::PAYLOAD_TOO_LARGE => Error::new(status, "too_large", "The form is too large (4 KiB at most)."),
            StatusCode::UNSUPPORTED_MEDIA_TYPE => Error::new(status, "bad_form", "Send the vote as a plain HTML form."),
            _ => Error::new(
                status,
                "bad_form",
                "The form did not say which choice; tap one of the buttons.",
            ),
        }
        .with_cause(r.body_text())
    }
}

impl From<QueryRejection> for Error {
    fn from(r: QueryRejection) -> Self {
        Error::bad_request("bad_query", "The address has a malformed query string.").with_cause(r.body_text())
    }
}

/// An [`Error`] sent as JSON, for `/api` and `/ws`.
#[derive(Debug)]
pub struct ApiError(pub Error);

impl From<Error> for ApiError {
    fn from(e: Error) -> Self {
        ApiError(e)
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        ApiError(e.into())
    }
}

impl From<crate::talk::Error> for ApiError {
    fn from(e: crate::talk::Error) -> Self {
        ApiError(e.into())
    }
}

impl From<JsonRejection> for ApiError {
    fn from(r: JsonRejection) -> Self {
        let status = r.status();
        let e = match status {
            StatusCode::PAYLOAD_TOO_LARGE => Error::new(status, "too_large", "The body is too large (4 KiB at most)."),
            StatusCode::UNSUPPORTED_MEDIA_TYPE => Error::new(
                status,
                "bad_json",
                "Send JSON with the header Content-Type: application/json.",
            ),
            // The parser's text says where the JSON went wrong; it holds
            // nothing secret, so the client gets it.
            _ => Error::new(status, "bad_json", r.body_text()),
        };
        ApiError(e)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let e = self.0;
        e.log();
        let body = Json(json!({ "error": e.code, "message": e.message }));
        let response = if e.status == StatusCode::UNAUTHORIZED {
            (e.status, [(header::WWW_AUTHENTICATE, "Bearer")], body).into_response()
        } else {
            (e.status, body).into_response()
        };
        e.add_retry_after(response)
    }
}

/// `axum::Json` whose rejection is an [`ApiError`].
#[derive(axum::extract::FromRequest)]
#[from_request(via(axum::Json), rejection(ApiError))]
pub struct ApiJson<T>(pub T);

/// `axum::Form` whose rejection is an HTML [`Error`] page.
#[derive(axum::extract::FromRequest)]
#[from_request(via(axum::Form), rejection(Error))]
pub struct PageForm<T>(pub T);
