//! cyoa: a live audience voting server for choose-your-own-adventure talks.
//!
//! The flow follows the modules: [`story`] (the talk as a file) ->
//! [`store`] (runs and votes, in memory or Redis) -> [`talk`] (the run, its
//! votes, presence and live pushes, apart from HTTP) -> [`web`] (pages, API,
//! sockets; [`sms`] reads Twilio webhooks) -> [`cli`] (the `cyoa` command),
//! which turns its flags into one checked [`settings::Settings`].

pub mod cli;
pub mod i18n;
pub mod import;
pub mod map;
pub mod metrics;
pub mod open_files;
pub mod settings;
pub mod sms;
pub mod store;
pub mod story;
pub mod talk;
pub mod telemetry;
pub mod transfer;
pub mod web;
pub mod xml;
