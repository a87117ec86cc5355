//! Texting each SMS voter the outcome when a decision closes (cargo feature
//! `sms-outbound`, flag `--sms-results`).
//!
//! When a text counts, the voter's number is kept, sealed with
//! XChaCha20-Poly1305 under a key derived from `--secret`, filed under the
//! phone's keyed hash (a new text replaces it). When the decision closes,
//! [`Outbound::collect`] takes those numbers out of the store and queues
//! one message each; [`Outbound::send_due`] sends what is due, at most
//! [`OutboundConfig::per_second`] a second, retrying failures with
//! exponential backoff up to [`OutboundConfig::max_attempts`]. A message
//! is deleted once sent or given up on, and everything of a run when a new
//! run begins ([`Outbound::forget_run`]).
//!
//! The one REST call (`POST /2010-04-01/Accounts/{sid}/Messages.json`,
//! basic auth, form fields `To`, `From`, `Body`) is made with reqwest over
//! rustls: the twilio-async crate hard-codes Twilio's address (no fake
//! server for tests) and pulls hyper 0.14 with OpenSSL (docs/twilio.md).

use std::num::NonZeroU32;
use std::time::Duration;

use chacha20poly1305::aead::{Aead, KeyInit};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use serde::{Deserialize, Serialize};

use super::{Secret, keyed_sha256, phone_hash, reply};
use crate::store::{RunId, StoreError, Tally, VoteStore};
use crate::story::{Decision, Story};

/// Twilio's REST API.
pub const TWILIO_API: &str = "https://api.twilio.com";
/// How long anything kept for outbound texts may stay in the store, even
/// if the run never ends cleanly.
pub const KEEP_AT_MOST: Duration = Duration::from_secs(24 * 60 * 60);
/// How long a claimed message is left to its sender before another may
/// try it (the sender died).
const LEASE: Duration = Duration::from_secs(60);
/// Messages claimed per round.
const BATCH: usize = 50;
/// The longest wait before a retry.
const MAX_BACKOFF: Duration = Duration::from_secs(10 * 60);
/// How long one REST call may take.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(15);
/// The longest outcome text: one GSM-7 segment.
const MAX_CHARS: usize = 160;

/// How to send the outcome texts.
#[derive(Clone)]
pub struct OutboundConfig {
    /// Base URL of Twilio's REST API ([`TWILIO_API`]; a fake one in tests).
    pub api_base: String,
    /// The account's SID (`AC...`), `--twilio-account-sid`.
    pub account_sid: String,
    /// The account's auth token (the one that signs the webhooks).
    pub auth_token: Secret,
    /// The number texts come from (`--sms-number`).
    pub from: String,
    /// Messages per second at most, for this instance.
    pub per_second: NonZeroU32,
    /// Attempts per message before it is given up.
    pub max_attempts: u32,
    /// The wait before the first retry; each next one doubles it.
    pub first_retry: Duration,
}

impl std::fmt::Debug for OutboundConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OutboundConfig")
            .field("api_base", &self.api_base)
            .field("account_sid", &self.account_sid)
            .field("from", &self.from)
            .field("per_second", &self.per_second)
            .field("max_attempts", &self.max_attempts)
            .field("first_retry", &self.first_retry)
            .finish_non_exhaustive()
    }
}

/// A queued message, as sealed in the store.
#[derive(Serialize, Deserialize)]
struct Message {
    to: String,
    body: String,
    attempts: u32,
}

/// Why a send failed.
#[derive(Debug, PartialEq, Eq)]
pub enum SendError {
    /// Worth trying again: a network error, 429, or a 5xx.
    Transient(String),
    /// Twilio refused the message itself (another 4xx): never retried.
    Permanent(String),
}

/// The outbound sender: the HTTP client, the rate limit and the sealing key.
pub struct Outbound {
    config: OutboundConfig,
    cipher: XChaCha20Poly1305,
    phone_key: [u8; 32],
    client: reqwest::Client,
    limiter: DefaultDirectRateLimiter,
}

/// What one round of [`Outbound::send_due`] did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Round {
    /// Messages Twilio accepted.
    pub sent: usize,
    /// Messages queued again for a later attempt.
    pub retried: usize,
    /// Messages given up on.
    pub dropped: usize,
}

impl Outbound {
    /// The sender for `config`; numbers are sealed under a key derived
    /// from `secret`, phones hashed with `phone_key` (as `/sms` does).
    pub fn new(config: OutboundConfig, secret: &[u8], phone_key: [u8; 32]) -> Result<Outbound, String> {
        let key = keyed_sha256(secret, b"cyoa sms outbound sealing key");
        let client = reqwest::Client::builder()
            .timeout(REQUEST_TIMEOUT)
            .build()
            .map_err(|e| format!("cannot build the HTTP client: {e}"))?;
        Ok(Outbound {
            cipher: XChaCha20Poly1305::new(&key.into()),
            limiter: RateLimiter::direct(Quota::per_second(config.per_second)),
            config,
            phone_key,
            client,
        })
    }

    fn seal(&self, plain: &[u8]) -> Result<Vec<u8>, StoreError> {
        let nonce: [u8; 24] = rand::random();
        let mut sealed = nonce.to_vec();
        let ciphertext = self
            .cipher
            .encrypt(XNonce::from_slice(&nonce), plain)
            .map_err(|_| StoreError::Backend("cannot seal an outbound message".into()))?;
        sealed.extend(ciphertext);
        Ok(sealed)
    }

    fn open(&self, sealed: &[u8]) -> Option<Vec<u8>> {
        if sealed.len() < 24 {
            return None;
        }
        let (nonce, ciphertext) = sealed.split_at(24);
        self.cipher.decrypt(XNonce::from_slice(nonce), ciphertext).ok()
    }

    /// Keeps `number` (sealed) to text it the outcome of `decision`.
    pub async fn remember(
        &self,
        store: &VoteStore,
        run: RunId,
        decision: &str,
        number: &str,
    ) -> Result<(), StoreError> {
        let sealed = self.seal(number.as_bytes())?;
        let phone = phone_hash(&self.phone_key, number);
        store.recipient_keep(run, decision, &phone, &sealed, KEEP_AT_MOST).await
    }

    /// Queues the outcome text for every number kept for `decision` of
    /// `run`, which has closed with `tally`; returns how many.
    pub async fn collect(
        &self,
        store: &VoteStore,
        run: RunId,
        decision: &Decision,
        tally: &Tally,
    ) -> Result<usize, StoreError> {
        let numbers = store.recipients_take(run, &decision.id).await?;
        let body = outcome_text(decision, tally);
        let mut queued = 0;
        for sealed in numbers {
            let Some(number) = self.open(&sealed).and_then(|n| String::from_utf8(n).ok()) else {
                // Sealed under another secret (an instance restarted with a
                // new random one): it cannot be read, so it is dropped.
                tracing::warn!(
                    "an outbound SMS number could not be unsealed; check that every instance has the same --secret"
                );
                continue;
            };
            let message = Message {
                to: number,
                body: body.clone(),
                attempts: 0,
            };
            let id = format!("{run}:{}:{}", decision.id, hex::encode(rand::random::<[u8; 12]>()));
            let plain = serde_json::to_vec(&message).map_err(|e| StoreError::Backend(e.to_string()))?;
            store
                .outbox_put(&id, &self.seal(&plain)?, Duration::ZERO, KEEP_AT_MOST)
                .await?;
            queued += 1;
        }
        Ok(queued)
    }

    /// Queues the outcome texts of every decision of `run` that has closed
    /// (the story's decisions, the run's frozen tallies).
    pub async fn collect_run(&self, store: &VoteStore, story: &Story, run: RunId) -> Result<usize, StoreError> {
        let Some(record) = store.run(run).await? else {
            return Ok(0);
        };
        let mut queued = 0;
        for closed in &record.closed {
            if record.state.open.as_deref() == Some(closed.decision.as_str()) {
                // Reopened: its outcome is not final yet.
                continue;
            }
            if let Some(decision) = story.decision(&closed.decision) {
                queued += self.collect(store, run, decision, &closed.tally).await?;
            }
        }
        Ok(queued)
    }

    /// Forgets everything of `run`: its kept numbers and every queued text.
    pub async fn forget_run(&self, store: &VoteStore, story: &Story, run: RunId) -> Result<(), StoreError> {
        let decisions: Vec<&str> = story.decisions().map(|d| d.id.as_str()).collect();
        store.outbox_clear(run, &decisions).await
    }

    /// Sends the messages that are due, within the rate limit; a failure
    /// is queued again with a doubled wait, or given up after
    /// `max_attempts`.
    pub async fn send_due(&self, store: &VoteStore) -> Result<Round, StoreError> {
        let mut round = Round::default();
        for item in store.outbox_claim(BATCH, LEASE).await? {
            let Some(mut message) = self
                .open(&item.sealed)
                .and_then(|p| serde_json::from_slice::<Message>(&p).ok())
            else {
                tracing::warn!(id = item.id, "an outbound SMS could not be unsealed; dropped");
                store.outbox_remove(&item.id).await?;
                round.dropped += 1;
                continue;
            };
            self.limiter.until_ready().await;
            message.attempts += 1;
            match self.send(&message.to, &message.body).await {
                Ok(()) => {
                    store.outbox_remove(&item.id).await?;
                    round.sent += 1;
                }
                Err(SendError::Transient(why)) if message.attempts < self.config.max_attempts => {
                    let wait = backoff(self.config.first_retry, message.attempts);
                    tracing::info!(
                        id = item.id,
                        attempts = message.attempts,
                        ?wait,
                        why,
                        "outbound SMS failed; retrying"
                    );
                    let plain = serde_json::to_vec(&message).map_err(|e| StoreError::Backend(e.to_string()))?;
                    store
                        .outbox_put(&item.id, &self.seal(&plain)?, wait, KEEP_AT_MOST)
                        .await?;
                    round.retried += 1;
                }
                Err(SendError::Transient(why) | SendError::Permanent(why)) => {
                    // The number is never logged; the message id says which.
                    tracing::warn!(id = item.id, attempts = message.attempts, why, "outbound SMS given up");
                    store.outbox_remove(&item.id).await?;
                    round.dropped += 1;
                }
            }
        }
        Ok(round)
    }

    /// The one REST call: `POST {api}/2010-04-01/Accounts/{sid}/Messages.json`.
    pub async fn send(&self, to: &str, body: &str) -> Result<(), SendError> {
        let url = format!(
            "{}/2010-04-01/Accounts/{}/Messages.json",
            self.config.api_base.trim_end_matches('/'),
            self.config.account_sid
        );
        let answer = self
            .client
            .post(url)
            .basic_auth(&self.config.account_sid, Some(self.config.auth_token.expose()))
            .form(&[("To", to), ("From", self.config.from.as_str()), ("Body", body)])
            .send()
            .await;
        match answer {
            Ok(r) if r.status().is_success() => Ok(()),
            Ok(r) => {
                let status = r.status();
                let why = format!("Twilio answered {status}");
                if status.as_u16() == 429 || status.is_server_error() {
                    Err(SendError::Transient(why))
                } else {
                    Err(SendError::Permanent(why))
                }
            }
            // The error may name the URL, never the number (it is in the body).
            Err(e) => Err(SendError::Transient(format!("no answer from Twilio: {e}"))),
        }
    }
}

/// `first * 2^(attempts - 1)`, at most [`MAX_BACKOFF`].
pub fn backoff(first: Duration, attempts: u32) -> Duration {
    let factor = 2u32.saturating_pow(attempts.saturating_sub(1));
    first.saturating_mul(factor).min(MAX_BACKOFF)
}

/// The outcome text: "Vote closed: Tinder for Pets won with 12 of 21
/// votes. Thanks for voting!", or the tie, within one GSM-7 segment.
pub fn outcome_text(decision: &Decision, tally: &Tally) -> String {
    let total: u64 = decision.choices.iter().map(|c| tally.get(&c.id)).sum();
    let max = decision.choices.iter().map(|c| tally.get(&c.id)).max().unwrap_or(0);
    let top: Vec<&str> = decision
        .choices
        .iter()
        .filter(|c| max > 0 && tally.get(&c.id) == max)
        .map(|c| c.label.as_str())
        .collect();
    let text = match top.as_slice() {
        [] => "Vote closed. Thanks for voting!".to_string(),
        [one] => format!(
            "Vote closed: {} won with {max} of {total} votes. Thanks for voting!",
            gsm(one)
        ),
        [init @ .., last] => format!(
            "Vote closed: a tie between {} and {} ({max} votes each). Thanks for voting!",
            init.iter().map(|l| gsm(l)).collect::<Vec<_>>().join(", "),
            gsm(last)
        ),
    };
    reply::fit(&text, MAX_CHARS)
}

/// `label` with the characters outside GSM-7's basic set dropped, so the
/// text stays one 160-character segment (one such character would make it
/// UCS-2, 70 characters a segment).
fn gsm(label: &str) -> String {
    const EXTRA: &str = "@£$¥èéùìòÇØøÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ!\"#¤%&'()*+,-./:;<=>?¡ÄÖÑÜ§¿äöñüà ";
    label
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || EXTRA.contains(*c))
        .collect::<String>()
        .trim()
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::story::Choice;

    fn decision() -> Decision {
        Decision {
            id: "d".into(),
            prompt: "?".into(),
            choices: ["Tinder for Pets 🐶", "Doc Send"]
                .iter()
                .enumerate()
                .map(|(i, label)| Choice {
                    id: format!("c{i}"),
                    label: label.to_string(),
                    keywords: vec![],
                    goto: "x".into(),
                })
                .collect(),
            results: None,
            rules: Default::default(),
        }
    }

    fn tally(a: u64, b: u64) -> Tally {
        Tally([("c0".to_string(), a), ("c1".to_string(), b)].into_iter().collect())
    }

    #[test]
    fn the_outcome_names_the_winner_or_the_tie_in_one_gsm_segment() {
        assert_eq!(
            outcome_text(&decision(), &tally(3, 1)),
            "Vote closed: Tinder for Pets won with 3 of 4 votes. Thanks for voting!"
        );
        assert_eq!(
            outcome_text(&decision(), &tally(2, 2)),
            "Vote closed: a tie between Tinder for Pets and Doc Send (2 votes each). Thanks for voting!"
        );
        let mut long = decision();
        long.choices[0].label = "x".repeat(400);
        assert!(outcome_text(&long, &tally(3, 1)).chars().count() <= MAX_CHARS);
    }

    #[test]
    fn retries_wait_twice_as_long_each_time_up_to_a_cap() {
        let first = Duration::from_secs(2);
        assert_eq!(backoff(first, 1), Duration::from_secs(2));
        assert_eq!(backoff(first, 3), Duration::from_secs(8));
        assert_eq!(backoff(first, 40), MAX_BACKOFF);
    }

    #[test]
    fn a_sealed_number_opens_only_under_the_same_secret() {
        let config = OutboundConfig {
            api_base: TWILIO_API.into(),
            account_sid: "AC1".into(),
            auth_token: Secret::new("t"),
            from: "+15005550006".into(),
            per_second: NonZeroU32::MIN,
            max_attempts: 3,
            first_retry: Duration::from_secs(1),
        };
        let one = Outbound::new(config.clone(), b"one secret", [1; 32]).unwrap();
        let other = Outbound::new(config, b"another secret", [1; 32]).unwrap();
        let sealed = one.seal(b"+14155550100").unwrap();
        assert!(!sealed.windows(12).any(|w| w == b"+14155550100"), "not in clear");
        assert_eq!(one.open(&sealed).as_deref(), Some(&b"+14155550100"[..]));
        assert_eq!(other.open(&sealed), None);
        assert_ne!(one.seal(b"+14155550100").unwrap(), sealed, "a fresh nonce each time");
    }
}
