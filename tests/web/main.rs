//! cyoa's web server through real HTTP and WebSocket clients: every page
//! and API route, the presenter's flow, every bad input, presence and the
//! coalescing of tally pushes. Each test starts its own server
//! (`helpers::spawn_app`) on a free port, with the in-memory store; the
//! presence tests run on a real Redis too (`support::redis`).

mod api;
mod authoring;
mod bad_input;
mod cli;
mod coalescing;
mod console;
mod explore;
mod flow;
mod hardening;
mod health;
#[macro_use]
mod helpers;
mod integrity;
mod languages;
mod map_cli;
mod metrics;
mod pages;
mod presence;
mod reload;
mod results;
mod reveal;
mod room;
mod rules;
mod runs;
mod sessions;
mod slow_reader;
mod sms;
mod static_files;
#[path = "../support/mod.rs"]
mod support;
mod telemetry;
mod timer;
