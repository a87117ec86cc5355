//! Why the talk refused a command or a vote. Each refusal carries a stable
//! code (`not_open`, `unknown_choice`, ...) and a short English text saying
//! what to do; the web layer maps the kind to an HTTP status in one place
//! (`web::error`) and translates the text by its code.

use crate::store::StoreError;

/// A refusal or a failure of the talk.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// No such slide or decision.
    #[error("{message}")]
    NotFound {
        /// Stable machine-readable code.
        code: &'static str,
        /// What was wrong, for the person in front of the page.
        message: String,
    },
    /// The command or vote does not fit where the run stands.
    #[error("{message}")]
    Conflict {
        /// Stable machine-readable code.
        code: &'static str,
        /// What was wrong and what to do.
        message: String,
    },
    /// The request names something its decision does not have (a choice).
    #[error("{message}")]
    Invalid {
        /// Stable machine-readable code.
        code: &'static str,
        /// What was wrong.
        message: String,
    },
    /// The vote was admitted to one run only ([`super::Pass::Run`]) and
    /// another run has started since.
    #[error("the run the voter was admitted to is over")]
    RunOver,
    /// The store refused (a vote not open, another run) or failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl Error {
    /// 404-like: no such slide or decision.
    pub fn not_found(code: &'static str, message: impl Into<String>) -> Self {
        Error::NotFound {
            code,
            message: message.into(),
        }
    }

    /// The request does not fit where the run stands.
    pub fn conflict(code: &'static str, message: impl Into<String>) -> Self {
        Error::Conflict {
            code,
            message: message.into(),
        }
    }
}
