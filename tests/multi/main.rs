//! Several `cyoa serve` processes (the real binary) on one real
//! `redis-server`, serving one talk: cross-instance votes and presenter
//! moves, `kill -9` of an instance with voters on it, a Redis restart in the
//! middle of voting, SIGTERM with open sockets, a restart that finds the
//! talk again, a Redis that comes back without it, and `cyoa audit`.
//!
//! Each test starts its own Redis (`support::redis::RedisServer`) and its
//! own instances on free ports; numbers worth knowing (push latency across
//! instances, time to withdraw after a crash) are printed (`--nocapture`).

mod audit;
mod crash;
mod cross;
mod crowd;
mod fan_out;
mod helpers;
mod lost;
mod outage;
mod restart;
mod sentinel;
mod shutdown;
mod soak;
mod stall;
mod store;
#[path = "../support/mod.rs"]
mod support;
mod timer;
