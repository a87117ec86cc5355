//! Votes by text message: Twilio's Messaging webhook (`POST /sms`).
//!
//! [`handle`] takes one webhook, as the web layer received it, and returns
//! what to answer. In order: SMS voting must be on (an auth token, or the
//! insecure switch for local experiments); the body must be a form of at
//! most 16 KiB; Twilio's signature must be right ([`signature`]); `From`,
//! `Body` and `MessageSid` must be there, once each, the `MessageSid` of
//! Twilio's shape and the `AccountSid` the configured one. Then the text
//! is read against the open decision ([`parse`]) and handed as the
//! phone's sticky vote to the [`Ballots`] it was given, and a TwiML reply
//! says what happened ([`reply`]). The server's `Ballots` is its own
//! counting of every vote (`talk::control::count`), so a text is counted in
//! the metrics and pushed exactly as a tap is; this module knows nothing of
//! the web layer.
//!
//! Why the shape matters: Twilio signs the names and values one after the
//! other with nothing between them, so `MessageSid=SMold1&To=+1…` and
//! `MessageSid=SMold1T&o=+1…` carry the same signature. A `MessageSid` of
//! exactly 34 characters fixes where it ends, so a captured webhook cannot
//! be replayed under a new `MessageSid` (docs/twilio.md).
//!
//! A phone is filed only under a keyed hash of its number ([`phone_hash`]);
//! the number is never stored or logged. A webhook Twilio delivers twice
//! (same `MessageSid`) counts once. When the store fails, the answer is a
//! 503 with nothing counted, never a "thanks": Twilio then tries the
//! number's fallback URL, and the voter can text again.

#[cfg(feature = "sms-outbound")]
pub mod outbound;
pub mod parse;
pub mod reply;
pub mod signature;

use std::fmt;
use std::future::Future;
use std::time::Duration;

use axum::http::{HeaderMap, StatusCode, header};
use hmac::{Hmac, Mac};
use sha2::Sha256;

pub use crate::store::TextVote;
use crate::store::{Delivery, RunId, RunState, StoreError, VoteOutcome, VoteStore, Voter};
use crate::story::{Choice, Decision, SmsTexts, Story};
use parse::Reading;

/// The largest webhook body taken; Twilio's are a few hundred bytes.
pub const MAX_BODY_BYTES: usize = 16 * 1024;
/// The longest text taken, in characters (Twilio's own limit).
pub const MAX_TEXT_CHARS: usize = 1600;
/// How long a delivered `MessageSid` is remembered: far longer than
/// Twilio takes to retry or try the fallback URL.
pub const DELIVERY_TTL: Duration = Duration::from_secs(24 * 60 * 60);

const PLAIN: &str = "text/plain; charset=utf-8";

/// The status of a webhook whose signature is missing or wrong, and of no
/// other refusal: the web layer counts these per address.
pub const BAD_SIGNATURE: StatusCode = StatusCode::FORBIDDEN;

/// A secret string (the Twilio auth token) that never shows in `Debug`.
#[derive(Clone)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret.
    pub fn new(secret: impl Into<String>) -> Self {
        Secret(secret.into())
    }
    /// The secret itself, for the one place that needs it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(..)")
    }
}

/// How cyoa takes SMS votes.
#[derive(Clone)]
pub struct SmsConfig {
    /// Twilio's auth token (`--twilio-auth-token`, `TWILIO_AUTH_TOKEN`);
    /// without it, and without `insecure_skip_signature`, SMS voting is off.
    pub auth_token: Option<Secret>,
    /// Takes webhooks without checking their signature
    /// (`--insecure-skip-twilio-signature`): local experiments only.
    pub insecure_skip_signature: bool,
    /// The URL the world reaches cyoa at (`--public-url`), e.g.
    /// `https://talk.example.com`; Twilio signs this URL, not the one the
    /// request reached cyoa with behind a proxy.
    pub public_url: String,
    /// The number to text, shown on the pages (`--sms-number`,
    /// `TWILIO_NUMBER`).
    pub number: Option<String>,
    /// Key of the phone hash. Every instance sharing a store must use the
    /// same key, or one phone would count once per instance.
    pub phone_key: [u8; 32],
    /// The Twilio account (`--twilio-account-sid`, `TWILIO_ACCOUNT_SID`):
    /// when set, only webhooks whose `AccountSid` is this one count.
    pub account_sid: Option<String>,
}

impl SmsConfig {
    /// Whether `/sms` takes votes at all.
    pub fn enabled(&self) -> bool {
        self.auth_token.is_some() || self.insecure_skip_signature
    }
}

impl fmt::Debug for SmsConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SmsConfig")
            .field("auth_token", &self.auth_token.as_ref().map(|_| "(set)"))
            .field("insecure_skip_signature", &self.insecure_skip_signature)
            .field("public_url", &self.public_url)
            .field("number", &self.number)
            .field("phone_key", &"(set)")
            .field("account_sid", &self.account_sid)
            .finish()
    }
}

/// Derives the phone-hash key from a longer-lived secret (say the one that
/// signs cookies), so that no extra flag is needed and every instance
/// given the same secret hashes phones alike.
pub fn derive_phone_key(secret: &[u8]) -> [u8; 32] {
    keyed_sha256(secret, b"cyoa sms phone key")
}

/// Whether `sid` has the shape of a Twilio message SID: `SM` (a text) or
/// `MM` (a picture message) and 32 lowercase hex digits, as Twilio makes
/// them. Its fixed length is what keeps a signed webhook's fields from
/// being cut in other places (see the module's notes).
pub fn is_message_sid(sid: &str) -> bool {
    let lower_hex = |c: u8| c.is_ascii_digit() || (b'a'..=b'f').contains(&c);
    matches!(sid.get(..2), Some("SM" | "MM")) && sid.len() == 34 && sid.bytes().skip(2).all(lower_hex)
}

/// Whether `sid` has the shape of a Twilio account SID: `AC` and 32 hex
/// digits (Twilio's own examples write some in capitals).
pub fn is_account_sid(sid: &str) -> bool {
    sid.starts_with("AC") && sid.len() == 34 && sid.bytes().skip(2).all(|c| c.is_ascii_hexdigit())
}

/// The hash a phone number is filed under: hex HMAC-SHA256 of the number,
/// spaces and punctuation removed, under `key`.
pub fn phone_hash(key: &[u8; 32], number: &str) -> String {
    hex::encode(keyed_sha256(key, normalise_phone(number).as_bytes()))
}

fn keyed_sha256(key: &[u8], data: &[u8]) -> [u8; 32] {
    // HMAC takes keys of any length: this cannot fail.
    match Hmac::<Sha256>::new_from_slice(key) {
        Ok(mut mac) => {
            mac.update(data);
            mac.finalize().into_bytes().into()
        }
        Err(_) => [0; 32],
    }
}

/// A phone number as Twilio may write it in several ways (`+1 415-867-5309`,
/// `+14158675309`), in one form; a channel prefix (`whatsapp:`) stays.
fn normalise_phone(number: &str) -> String {
    number
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '+' || *c == ':')
        .map(|c| c.to_ascii_lowercase())
        .collect()
}

/// Where [`handle`] reads the run and takes a text's vote once it knows
/// the run, the decision and the choice. The server takes it through the
/// one function that counts every vote (`talk::control::count`: the
/// metrics, the tally push); a bare [`VoteStore`] takes it alone, as the
/// library's own tests and benchmarks do.
pub trait Ballots: Sync {
    /// The current run, begun at `start` if there is none yet.
    fn current(&self, start: &str) -> impl Future<Output = Result<RunState, StoreError>> + Send;

    /// Marks the delivery and casts the vote in one store step
    /// ([`VoteStore::sms_vote`], the delivery remembered for
    /// [`DELIVERY_TTL`]).
    fn take(&self, vote: TextVote<'_>) -> impl Future<Output = Result<Delivery, StoreError>> + Send;
}

impl Ballots for VoteStore {
    fn current(&self, start: &str) -> impl Future<Output = Result<RunState, StoreError>> + Send {
        VoteStore::current(self, start)
    }

    fn take(&self, vote: TextVote<'_>) -> impl Future<Output = Result<Delivery, StoreError>> + Send {
        self.sms_vote(vote, DELIVERY_TTL)
    }
}

/// What to answer a webhook, for the web layer to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SmsOutcome {
    /// The HTTP status.
    pub status: StatusCode,
    /// The `Content-Type` of `body`.
    pub content_type: &'static str,
    /// TwiML for Twilio, or a short plain-text reason for a refusal.
    pub body: String,
    /// The run and decision whose tally changed, if the text moved a vote.
    pub counted: Option<(RunId, String)>,
    /// Why the text counted nothing, if it did not (`bad_signature`,
    /// `not_open`, `redelivered`, ...): the reason in `sms_refused`.
    pub refused: Option<&'static str>,
}

impl SmsOutcome {
    fn refuse(status: StatusCode, code: &'static str, reason: impl Into<String>) -> Self {
        SmsOutcome {
            status,
            content_type: PLAIN,
            body: reason.into(),
            counted: None,
            refused: Some(code),
        }
    }

    /// A TwiML answer to a text that was taken.
    fn twiml(body: String) -> Self {
        SmsOutcome {
            status: StatusCode::OK,
            content_type: reply::CONTENT_TYPE,
            body,
            counted: None,
            refused: None,
        }
    }

    /// A TwiML answer to a text that counted nothing, for `code`.
    fn twiml_refusal(code: &'static str, body: String) -> Self {
        SmsOutcome {
            refused: Some(code),
            ..Self::twiml(body)
        }
    }

    fn unavailable(e: &StoreError) -> Self {
        // The cause goes to the log; the phone number never does.
        tracing::warn!(error = %e, "SMS vote not taken: the vote store failed");
        Self::refuse(
            StatusCode::SERVICE_UNAVAILABLE,
            "store",
            "The vote store is unavailable; nothing was counted. Twilio may retry.",
        )
    }
}

/// The fields cyoa reads. Each must come at most once: with two, which
/// one counts would be a guess, and the signature covers both.
const READ: [&str; 4] = ["From", "Body", "MessageSid", "AccountSid"];

/// The fields of the webhook cyoa reads.
struct Message<'a> {
    from: &'a str,
    text: &'a str,
    sid: &'a str,
}

/// Handles one Twilio Messaging webhook: `path_and_query` is the request's
/// path and query as received (`/sms`, `/sms?x=1`), `headers` and `body`
/// its own. Never panics, whatever it is sent.
pub async fn handle(
    config: &SmsConfig,
    story: &Story,
    votes: &impl Ballots,
    open: OpenHint<'_>,
    path_and_query: &str,
    headers: &HeaderMap,
    body: &[u8],
) -> SmsOutcome {
    if !config.enabled() {
        return SmsOutcome::refuse(
            StatusCode::SERVICE_UNAVAILABLE,
            "sms_off",
            "SMS voting is off: cyoa was started without a Twilio auth token. \
             Start it with --twilio-auth-token (or TWILIO_AUTH_TOKEN) and point \
             the Twilio number's Messaging webhook at this URL.",
        );
    }
    if body.len() > MAX_BODY_BYTES {
        return SmsOutcome::refuse(
            StatusCode::PAYLOAD_TOO_LARGE,
            "too_large",
            format!("The webhook body is over {MAX_BODY_BYTES} bytes; nothing was counted."),
        );
    }
    if !is_form(headers) {
        return SmsOutcome::refuse(
            StatusCode::BAD_REQUEST,
            "not_a_form",
            "Expected a form (Content-Type: application/x-www-form-urlencoded), as Twilio sends; nothing was counted.",
        );
    }
    let params: Vec<(String, String)> = form_urlencoded::parse(body).into_owned().collect();

    if !config.insecure_skip_signature {
        let token = config.auth_token.as_ref().map(Secret::expose).unwrap_or_default();
        let given = headers
            .get(signature::HEADER)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default();
        let url = public_url(&config.public_url, path_and_query);
        if given.is_empty() || !signature::is_valid(token.as_bytes(), given, &url, &params) {
            return SmsOutcome::refuse(
                BAD_SIGNATURE,
                "bad_signature",
                "The X-Twilio-Signature is missing or wrong for this URL and body; nothing was counted.",
            );
        }
    }

    if let Some(name) = READ
        .iter()
        .find(|name| params.iter().filter(|(k, _)| k == *name).count() > 1)
    {
        return SmsOutcome::refuse(
            StatusCode::BAD_REQUEST,
            "repeated_field",
            format!("The field {name} is given more than once, which Twilio never does; nothing was counted."),
        );
    }
    let field = |name: &str| params.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str());
    let (Some(from), Some(text), Some(sid)) = (field("From"), field("Body"), field("MessageSid")) else {
        return SmsOutcome::refuse(
            StatusCode::BAD_REQUEST,
            "missing_field",
            "The webhook needs the fields From, Body and MessageSid; nothing was counted.",
        );
    };
    if normalise_phone(from).is_empty() || sid.is_empty() {
        return SmsOutcome::refuse(
            StatusCode::BAD_REQUEST,
            "missing_field",
            "From and MessageSid must not be empty; nothing was counted.",
        );
    }
    if !is_message_sid(sid) {
        return SmsOutcome::refuse(
            StatusCode::BAD_REQUEST,
            "bad_message_sid",
            "The MessageSid is not Twilio's: SM or MM and 32 lowercase hex digits; nothing was counted.",
        );
    }
    if let Some(account) = &config.account_sid
        && !field("AccountSid").is_some_and(|given| given.eq_ignore_ascii_case(account))
    {
        return SmsOutcome::refuse(
            StatusCode::BAD_REQUEST,
            "wrong_account",
            "The AccountSid is missing or not this server's Twilio account (--twilio-account-sid); \
             nothing was counted.",
        );
    }
    if text.chars().count() > MAX_TEXT_CHARS {
        return SmsOutcome::refuse(
            StatusCode::BAD_REQUEST,
            "too_long",
            format!("The text is over {MAX_TEXT_CHARS} characters; nothing was counted."),
        );
    }
    take_vote(config, story, votes, open, Message { from, text, sid }).await
}

/// The vote this instance last saw open (run, decision id), if any: a
/// hint that lets a text vote in one store round trip. The store checks it
/// in the same step; a stale hint only costs the longer way.
pub type OpenHint<'a> = Option<(RunId, &'a str)>;

/// Reads a checked message and counts it.
async fn take_vote(
    config: &SmsConfig,
    story: &Story,
    votes: &impl Ballots,
    open: OpenHint<'_>,
    message: Message<'_>,
) -> SmsOutcome {
    let texts = &story.settings.sms;
    // Twilio answers its own keywords; a reply from us would be a second one.
    if parse::is_reserved(message.text) {
        return SmsOutcome::twiml_refusal("keyword", reply::empty());
    }
    let voter = Voter::phone(&phone_hash(&config.phone_key, message.from));
    // The usual case: a choice of the vote open as far as this instance
    // knows, marked and counted in one store call.
    if let Some((run, id)) = open
        && let Some(decision) = story.decision(id)
        && let Reading::Choice(index, _) = parse::read(decision, message.text)
        // None: the hint was stale; the longer way reads the run first.
        && let Some(answer) = vote_text(story, votes, run, decision, &voter, index, message.sid).await
    {
        return answer;
    }
    let state = match votes.current(&story.start).await {
        Ok(state) => state,
        Err(e) => return SmsOutcome::unavailable(&e),
    };
    let Some(decision) = state.open.as_deref().and_then(|d| story.decision(d)) else {
        return not_open(texts);
    };
    let index = match parse::read(decision, message.text) {
        Reading::Choice(index, _) => index,
        Reading::Unknown | Reading::Reserved => {
            return unknown_choice(texts, decision);
        }
    };
    // Closed (or a new run began) since the run was read: None.
    vote_text(story, votes, state.run, decision, &voter, index, message.sid)
        .await
        .unwrap_or_else(|| not_open(texts))
}

/// The answer to a text while no vote is open: the closed text.
fn not_open(texts: &SmsTexts) -> SmsOutcome {
    SmsOutcome::twiml_refusal("not_open", reply::message(texts, &reply::closed_text(texts)))
}

/// The answer to a text that names no choice of `decision`: its help.
fn unknown_choice(texts: &SmsTexts, decision: &Decision) -> SmsOutcome {
    SmsOutcome::twiml_refusal(
        "unknown_choice",
        reply::message(texts, &reply::help_text(texts, decision)),
    )
}

/// Marks the delivery `sid` and casts the phone's sticky vote for the
/// `index`-th choice of `decision`, in one store call; a delivery seen
/// before counts nothing again. `None` when the vote is not open in `run`.
async fn vote_text(
    story: &Story,
    votes: &impl Ballots,
    run: RunId,
    decision: &Decision,
    voter: &Voter,
    index: usize,
    sid: &str,
) -> Option<SmsOutcome> {
    let texts = &story.settings.sms;
    let Some(choice) = decision.choices.get(index) else {
        return Some(unknown_choice(texts, decision));
    };
    let vote = TextVote {
        run,
        decision: &decision.id,
        voter,
        choice: &choice.id,
        sid,
    };
    match votes.take(vote).await {
        Ok(Delivery::First(outcome)) => Some(confirmed(texts, run, decision, index, choice, outcome)),
        Ok(Delivery::Again(current)) => Some(again(texts, decision, current)),
        Err(StoreError::NotOpen(_) | StoreError::NotCurrent(_) | StoreError::OtherOpen(_) | StoreError::NoRun(_)) => {
            None
        }
        Err(e @ (StoreError::Backend(_) | StoreError::Lost(_))) => Some(SmsOutcome::unavailable(&e)),
    }
}

/// The answer to a text whose vote was taken: its confirmation, and the
/// decision to push when the tally changed.
fn confirmed(
    texts: &SmsTexts,
    run: RunId,
    decision: &Decision,
    index: usize,
    choice: &Choice,
    outcome: VoteOutcome,
) -> SmsOutcome {
    let mut answer = SmsOutcome::twiml(reply::message(texts, &reply::confirm_text(texts, index, choice)));
    if matches!(outcome, VoteOutcome::Counted { .. }) {
        answer.counted = Some((run, decision.id.clone()));
    }
    answer
}

/// The answer to a delivery seen before (`current`: the voter's choice on
/// `decision` as it stands): the confirmation the first delivery got, and
/// nothing counted again. A mark and its vote are made in one step, so a
/// voter without a choice here had the message counted elsewhere (an
/// earlier decision or run): it gets the help text of this one.
fn again(texts: &SmsTexts, decision: &Decision, current: Option<String>) -> SmsOutcome {
    // Perhaps moved since by a newer text: confirm the vote as it stands,
    // never undo the newer one.
    let body = match current.and_then(|current| decision.choices.iter().enumerate().find(|(_, c)| c.id == current)) {
        Some((i, c)) => reply::message(texts, &reply::confirm_text(texts, i, c)),
        None => reply::message(texts, &reply::help_text(texts, decision)),
    };
    SmsOutcome::twiml_refusal("redelivered", body)
}

/// Whether the request says it carries a URL-encoded form.
fn is_form(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|mime| mime.trim().eq_ignore_ascii_case("application/x-www-form-urlencoded"))
}

/// The URL Twilio signed: the public URL (without a trailing slash) and
/// the request's path and query.
pub fn public_url(public: &str, path_and_query: &str) -> String {
    let base = public.trim_end_matches('/');
    if path_and_query.starts_with('/') {
        format!("{base}{path_and_query}")
    } else {
        format!("{base}/{path_and_query}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_phone_is_filed_under_a_keyed_hash_of_its_number() {
        let key = [7; 32];
        let hash = phone_hash(&key, "+14158675309");
        assert_eq!(hash.len(), 64);
        assert!(!hash.contains("4158675309"));
        assert_eq!(hash, phone_hash(&key, " +1 (415) 867-5309 "), "one phone, one voter");
        assert_ne!(hash, phone_hash(&[8; 32], "+14158675309"), "another key, another hash");
        assert_ne!(hash, phone_hash(&key, "+14158675308"));
        assert_ne!(hash, phone_hash(&key, "whatsapp:+14158675309"), "another channel");
    }

    #[test]
    fn secrets_never_show_in_debug() {
        let config = SmsConfig {
            auth_token: Some(Secret::new("tok-3141592653")),
            insecure_skip_signature: false,
            public_url: "https://talk.example.com".to_string(),
            number: Some("+15005550006".to_string()),
            phone_key: [0xab; 32],
            account_sid: None,
        };
        let shown = format!("{config:?} {:?}", config.auth_token);
        assert!(!shown.contains("3141592653"), "{shown}");
        assert!(!shown.to_lowercase().contains("abab"), "{shown}");
        assert!(!shown.contains("171"), "{shown}");
        assert!(shown.contains("talk.example.com"), "{shown}");
    }

    #[test]
    fn only_twilios_sid_shapes_pass() {
        let hex = "0123456789abcdef0123456789abcdef";
        assert!(is_message_sid(&format!("SM{hex}")));
        assert!(is_message_sid(&format!("MM{hex}")));
        for bad in [
            String::new(),
            "SM".to_string(),
            "SMold1".to_string(),
            "SMold1T".to_string(),
            format!("SM{hex}0"),
            format!("SM{}", &hex[1..]),
            format!("SM{}", hex.to_uppercase()),
            format!("MG{hex}"),
            format!("sm{hex}"),
            format!("SM{}g", &hex[1..]),
            format!("SM{}é", &hex[2..]),
        ] {
            assert!(!is_message_sid(&bad), "{bad:?}");
        }
        assert!(is_account_sid(&format!("AC{hex}")));
        assert!(is_account_sid("AC44CE4123947237834573457345347567"));
        assert!(!is_account_sid("AC1"));
        assert!(!is_account_sid(&format!("SM{hex}")));
    }

    #[test]
    fn the_phone_key_derives_from_a_secret() {
        assert_eq!(derive_phone_key(b"s"), derive_phone_key(b"s"));
        assert_ne!(derive_phone_key(b"s"), derive_phone_key(b"t"));
    }

    #[test]
    fn the_signed_url_joins_the_public_url_and_the_path() {
        assert_eq!(public_url("https://h.example", "/sms?a=1"), "https://h.example/sms?a=1");
        assert_eq!(public_url("https://h.example/", "/sms"), "https://h.example/sms");
        assert_eq!(
            public_url("https://h.example/talk", "/sms"),
            "https://h.example/talk/sms"
        );
        assert_eq!(public_url("https://h.example", "sms"), "https://h.example/sms");
    }

    #[test]
    fn only_a_form_content_type_is_a_form() {
        for (value, form) in [
            ("application/x-www-form-urlencoded", true),
            ("application/x-www-form-urlencoded; charset=UTF-8", true),
            ("Application/X-WWW-Form-Urlencoded", true),
            ("application/json", false),
            ("multipart/form-data; boundary=x", false),
            ("", false),
        ] {
            let mut headers = HeaderMap::new();
            headers.insert(header::CONTENT_TYPE, value.parse().unwrap());
            assert_eq!(is_form(&headers), form, "{value}");
        }
        assert!(!is_form(&HeaderMap::new()));
    }
}
