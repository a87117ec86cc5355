//! The embedded store keeps a talk: what it acknowledged is back after the
//! process ends, however it ends; its data file is never shared, never
//! silently replaced and never changed when it cannot be read.
//!
//! `reopen`: the store closed and opened again in this process.
//! `safety`: the lock, damaged files, schema versions (some through the
//! real `cyoa` binary). `crash`: `kill -9` of a real server during a
//! burst of votes. `backup`: `cyoa backup` while votes arrive, restored.

#[path = "../support/mod.rs"]
mod support;

mod backup;
mod crash;
mod reopen;
mod safety;
mod server;
mod transfer;
