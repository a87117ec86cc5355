//! Helpers shared by the integration tests; a test file reuses them with
//! `mod support;`.
//!
//! Each test binary compiles this module on its own and uses only part of
//! it, hence the `dead_code` allowance.
#![allow(dead_code)]

// `#[macro_use]` makes `both_backends!` visible to a binary that declares
// `#[macro_use] mod support;`.
#[macro_use]
pub mod backends;
pub mod load;
pub mod redis;
pub mod ws;
