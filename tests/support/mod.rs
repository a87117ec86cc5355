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

/// A `MessageSid` of Twilio's shape (`SM` and 32 lowercase hex digits)
/// made from a short `tag`: the tag's bytes in hex, then zeros. Distinct
/// tags of at most 16 bytes give distinct SIDs, so a test can name its
/// texts `"old"`, `"new"`, `"dup"`.
pub fn message_sid(tag: &str) -> String {
    assert!(tag.len() <= 16, "a MessageSid tag holds at most 16 bytes: {tag:?}");
    format!("SM{:0<32}", hex::encode(tag))
}
