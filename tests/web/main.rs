//! cyoa's web server through real HTTP and WebSocket clients: every page
//! and API route, the presenter's flow, every bad input, presence and the
//! coalescing of tally pushes. Each test starts its own server
//! (`helpers::spawn_app`) on a free port, with the in-memory store.

mod api;
mod bad_input;
mod cli;
mod coalescing;
mod flow;
mod health;
mod helpers;
mod pages;
mod presence;
