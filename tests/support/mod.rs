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
pub mod pdf;
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

/// The story bundled with cyoa; the test fails if it does not load.
pub fn bundled_story() -> cyoa::story::Story {
    match cyoa::story::Story::bundled() {
        Ok(loaded) => loaded.story,
        Err(e) => panic!("the bundled story does not load: {e:?}"),
    }
}

/// `POST {address}/api/presenter/{action}` with the presenter's `token`,
/// and `body` as JSON when given: the request, ready to send.
pub fn presenter_request(
    client: &reqwest::Client,
    address: &str,
    token: &str,
    action: &str,
    body: Option<serde_json::Value>,
) -> reqwest::RequestBuilder {
    let request = client
        .post(format!("{address}/api/presenter/{action}"))
        .bearer_auth(token);
    match body {
        Some(body) => request.json(&body),
        None => request,
    }
}
