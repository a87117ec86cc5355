//! SMS voting end to end through `cyoa::sms::handle`, the entry point the
//! web layer mounts at `POST /sms`: signed webhooks as Twilio sends them,
//! against the memory store and a real redis-server (every case in
//! `both_backends!` runs on both). Redis-only checks (outages, what is
//! stored) follow.

#[macro_use]
mod support;

use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use cyoa::sms::{self, Secret, SmsConfig, SmsOutcome};
use cyoa::store::{RunId, Tally, VoteKind, VoteStore, Voter};
use cyoa::story::Story;
use support::backends::redis_store_at;
use support::message_sid;
use support::redis::{RedisServer, fresh_prefix, shared};

const TOKEN: &str = "twilio-test-token";
const PUBLIC_URL: &str = "https://talk.example.com";
/// The bundled talk's first decision: 1 or A "Tinder for Pets" (tinder),
/// 2 or B "Dachshund Doc Send delivery" (dachshund).
const DECISION: &str = "what-did-you-build";
const PHONE: &str = "+14158675309";

both_backends!(
    each_text_counts_for_the_choice_it_names_or_gets_the_reply_it_should,
    a_phone_moving_its_vote_moves_it,
    a_redelivered_message_counts_once,
    a_redelivered_old_message_does_not_undo_a_newer_vote,
    a_message_redelivered_in_a_later_run_counts_nothing,
    sms_and_web_votes_add_up,
    carrier_keywords_are_never_votes_and_get_no_reply,
    with_no_vote_open_the_reply_says_so_and_nothing_counts,
    the_story_may_reword_or_silence_the_replies,
    forged_missing_or_misaddressed_signatures_are_refused,
    the_signature_is_checked_against_the_public_url_behind_a_proxy,
    malformed_webhooks_are_refused_with_the_reason,
    a_boundary_shifted_replay_is_refused_and_the_phones_vote_stands,
    only_the_configured_twilio_account_counts,
    a_field_cyoa_reads_given_twice_is_refused,
    without_an_auth_token_sms_voting_is_off,
    the_insecure_switch_takes_unsigned_webhooks,
);

fn config() -> SmsConfig {
    SmsConfig {
        auth_token: Some(Secret::new(TOKEN)),
        insecure_skip_signature: false,
        public_url: PUBLIC_URL.to_string(),
        number: Some("+15005550006".to_string()),
        phone_key: [42; 32],
        account_sid: None,
    }
}

/// The account of every test text.
const ACCOUNT: &str = "AC00000000000000000000000000000000";

/// The `MessageSid` of a text named `tag` (already one, or empty: as is).
fn sid(tag: &str) -> String {
    if tag.is_empty() || sms::is_message_sid(tag) {
        tag.to_string()
    } else {
        message_sid(tag)
    }
}

/// The form fields of an inbound SMS, as Twilio sends them (with a few of
/// the fields cyoa does not read, and one Twilio may add some day); `tag`
/// names the message (see [`sid`]).
fn fields(from: &str, body: &str, tag: &str) -> Vec<(String, String)> {
    let sid = sid(tag);
    let sid = sid.as_str();
    [
        ("ToCountry", "US"),
        ("SmsMessageSid", sid),
        ("NumMedia", "0"),
        ("From", from),
        ("To", "+15005550006"),
        ("Body", body),
        ("MessageSid", sid),
        ("AccountSid", ACCOUNT),
        ("NumSegments", "1"),
        ("ApiVersion", "2010-04-01"),
        ("SomeFieldTwilioAddsLater", "anything"),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect()
}

fn encode(params: &[(String, String)]) -> Vec<u8> {
    let mut form = form_urlencoded::Serializer::new(String::new());
    for (k, v) in params {
        form.append_pair(k, v);
    }
    form.finish().into_bytes()
}

/// Form headers carrying the signature Twilio would send for `params`
/// posted to `signed_url`.
fn signed_headers(token: &str, signed_url: &str, params: &[(String, String)]) -> HeaderMap {
    let mut headers = form_headers();
    let signature = sms::signature::compute(token.as_bytes(), signed_url, params);
    headers.insert(sms::signature::HEADER, HeaderValue::from_str(&signature).unwrap());
    headers
}

fn form_headers() -> HeaderMap {
    let mut headers = HeaderMap::new();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/x-www-form-urlencoded; charset=utf-8"),
    );
    headers
}

/// One talk with SMS voting: a story, a store and the SMS settings.
struct Talk {
    config: SmsConfig,
    story: Story,
    store: VoteStore,
    run: RunId,
    /// The open vote as the server's pushes last said: the hint that lets
    /// a text vote in one store call. Tests that move the talk on leave it
    /// stale, as a lagging instance would have it.
    open: Option<(RunId, &'static str)>,
}

impl Talk {
    /// The bundled talk with the vote on its first decision open.
    async fn voting(store: VoteStore) -> Talk {
        let mut talk = Talk::closed(store).await;
        talk.store.open(talk.run, DECISION).await.unwrap();
        talk.open = Some((talk.run, DECISION));
        talk
    }

    /// The bundled talk with no vote open.
    async fn closed(store: VoteStore) -> Talk {
        let story = support::bundled_story();
        let run = store.current(&story.start).await.unwrap().run;
        Talk {
            config: config(),
            story,
            store,
            run,
            open: None,
        }
    }

    /// Posts `params` to `path` with these headers.
    async fn post(&self, path: &str, headers: &HeaderMap, params: &[(String, String)]) -> SmsOutcome {
        self.post_raw(path, headers, &encode(params)).await
    }

    async fn post_raw(&self, path: &str, headers: &HeaderMap, body: &[u8]) -> SmsOutcome {
        sms::handle(&self.config, &self.story, &self.store, self.open, path, headers, body).await
    }

    /// A text from `from`, signed as Twilio signs it.
    async fn text(&self, from: &str, body: &str, sid: &str) -> SmsOutcome {
        let params = fields(from, body, sid);
        let headers = signed_headers(TOKEN, &format!("{PUBLIC_URL}/sms"), &params);
        self.post("/sms", &headers, &params).await
    }

    async fn tally(&self) -> Tally {
        self.store.tally(self.run, DECISION).await.unwrap()
    }

    async fn choice_of_phone(&self, phone: &str) -> Option<String> {
        let voter = Voter::phone(&sms::phone_hash(&self.config.phone_key, phone));
        self.store.choice_of(self.run, DECISION, &voter).await.unwrap()
    }
}

/// The text inside `<Message>`, or `None` for an empty `<Response/>`.
fn message(outcome: &SmsOutcome) -> Option<String> {
    assert_eq!(outcome.status, StatusCode::OK, "{outcome:?}");
    assert!(outcome.content_type.starts_with("text/xml"), "{outcome:?}");
    let body = outcome
        .body
        .strip_prefix(r#"<?xml version="1.0" encoding="UTF-8"?>"#)
        .unwrap_or_else(|| panic!("not TwiML: {}", outcome.body));
    if body == "<Response/>" {
        return None;
    }
    let text = body
        .strip_prefix("<Response><Message>")
        .and_then(|b| b.strip_suffix("</Message></Response>"))
        .unwrap_or_else(|| panic!("not a TwiML message: {body}"));
    Some(text.to_string())
}

fn confirms(choice: &str) -> String {
    format!("Your vote for {choice} is counted. Text another number to change it.")
}

const TINDER: &str = "1 (Tinder for Pets)";
const DACHSHUND: &str = "2 (Dachshund Doc Send delivery)";
const HELP: &str =
    "Text the number or letter of your choice: 1 or A: Tinder for Pets, 2 or B: Dachshund Doc Send delivery";
const CLOSED: &str = "No vote is open right now.";

fn counts(tally: &Tally) -> Vec<(String, u64)> {
    tally
        .0
        .iter()
        .filter(|(_, n)| **n > 0)
        .map(|(c, n)| (c.clone(), *n))
        .collect()
}

fn tally(pairs: &[(&str, u64)]) -> Vec<(String, u64)> {
    pairs.iter().map(|(c, n)| (c.to_string(), *n)).collect()
}

async fn each_text_counts_for_the_choice_it_names_or_gets_the_reply_it_should(store: VoteStore) {
    let talk = Talk::voting(store).await;
    // (body, the choice it counts for, or None for the help reply)
    let table: &[(&str, Option<&str>)] = &[
        ("1", Some("tinder")),
        ("2", Some("dachshund")),
        (" 2 ", Some("dachshund")),
        (" b. ", Some("dachshund")),
        ("A", Some("tinder")),
        ("a!", Some("tinder")),
        ("Dachshund!!", Some("dachshund")),
        ("dachshund", Some("dachshund")),
        ("tinder for pets", Some("tinder")),
        ("TINDER   FOR PETS 🐶", Some("tinder")),
        ("Tinder", Some("tinder")),
        ("swipe", Some("tinder")),
        ("pets", Some("tinder")),
        ("Wiener 🌭", Some("dachshund")),
        ("doc.", Some("dachshund")),
        ("2️⃣", Some("dachshund")),
        ("#1", Some("tinder")),
        ("3", None),
        ("c", None),
        ("", None),
        ("   ", None),
        ("🐶", None),
        ("I vote for the dogs", None),
        ("1 2", None),
        ("<script>&amp;", None),
    ];
    let mut expected = Tally::default();
    for (n, (body, choice)) in table.iter().enumerate() {
        let phone = format!("+1555000{n:04}");
        let outcome = talk.text(&phone, body, &format!("SM{n:032}")).await;
        let reply = message(&outcome);
        match choice {
            Some(id) => {
                let named = if *id == "tinder" { TINDER } else { DACHSHUND };
                assert_eq!(reply.as_deref(), Some(confirms(named).as_str()), "{body:?}");
                assert_eq!(outcome.counted, Some((talk.run, DECISION.to_string())), "{body:?}");
                assert_eq!(outcome.refused, None, "{body:?}");
                assert_eq!(talk.choice_of_phone(&phone).await.as_deref(), Some(*id), "{body:?}");
                *expected.0.entry(id.to_string()).or_default() += 1;
            }
            None => {
                assert_eq!(reply.as_deref(), Some(HELP), "{body:?}");
                assert_eq!(outcome.counted, None, "{body:?}");
                assert_eq!(outcome.refused, Some("unknown_choice"), "{body:?}");
                assert_eq!(talk.choice_of_phone(&phone).await, None, "{body:?}");
            }
        }
    }
    assert_eq!(talk.tally().await, expected);
}

async fn a_phone_moving_its_vote_moves_it(store: VoteStore) {
    let talk = Talk::voting(store).await;
    let first = talk.text(PHONE, "1", "SM1").await;
    assert_eq!(message(&first), Some(confirms(TINDER)));
    assert!(first.counted.is_some());
    assert_eq!(counts(&talk.tally().await), tally(&[("tinder", 1)]));

    let moved = talk.text(PHONE, "b", "SM2").await;
    assert_eq!(message(&moved), Some(confirms(DACHSHUND)));
    assert_eq!(moved.counted, Some((talk.run, DECISION.to_string())));
    assert_eq!(counts(&talk.tally().await), tally(&[("dachshund", 1)]));

    // The same choice again: confirmed, nothing to push.
    let again = talk.text(PHONE, "wiener", "SM3").await;
    assert_eq!(message(&again), Some(confirms(DACHSHUND)));
    assert_eq!(again.counted, None);
    assert_eq!(again.refused, None, "taken, as a web vote for the same choice");
    assert_eq!(counts(&talk.tally().await), tally(&[("dachshund", 1)]));

    // The same phone written another way is the same voter.
    talk.text("+1 (415) 867-5309", "1", "SM4").await;
    assert_eq!(counts(&talk.tally().await), tally(&[("tinder", 1)]));
}

async fn a_redelivered_message_counts_once(store: VoteStore) {
    let talk = Talk::voting(store).await;
    let first = talk.text(PHONE, "2", "SMdup").await;
    let second = talk.text(PHONE, "2", "SMdup").await;
    assert_eq!(message(&first), Some(confirms(DACHSHUND)));
    assert_eq!(message(&second), message(&first), "the same kind of reply");
    assert!(first.counted.is_some());
    assert_eq!(second.counted, None, "nothing new to push");
    assert_eq!(second.refused, Some("redelivered"));
    assert_eq!(counts(&talk.tally().await), tally(&[("dachshund", 1)]));

    // Many deliveries of one message at once from many phones' worth of
    // retries still count once.
    let tasks: Vec<_> = (0..10)
        .map(|_| {
            let params = fields("+15550001111", "1", "SMburst");
            let headers = signed_headers(TOKEN, &format!("{PUBLIC_URL}/sms"), &params);
            let (config, story, store) = (talk.config.clone(), talk.story.clone(), talk.store.clone());
            tokio::spawn(
                async move { sms::handle(&config, &story, &store, None, "/sms", &headers, &encode(&params)).await },
            )
        })
        .collect();
    let mut pushes = 0;
    for task in tasks {
        let outcome = task.await.unwrap();
        assert_eq!(message(&outcome), Some(confirms(TINDER)));
        pushes += usize::from(outcome.counted.is_some());
    }
    assert!(pushes >= 1);
    assert_eq!(counts(&talk.tally().await), tally(&[("dachshund", 1), ("tinder", 1)]));
}

async fn a_redelivered_old_message_does_not_undo_a_newer_vote(store: VoteStore) {
    let talk = Talk::voting(store).await;
    talk.text(PHONE, "1", "SMold").await;
    talk.text(PHONE, "2", "SMnew").await;
    // Twilio delivers the first text again (its first answer was lost).
    let late = talk.text(PHONE, "1", "SMold").await;
    assert_eq!(message(&late), Some(confirms(DACHSHUND)), "the vote as it stands");
    assert_eq!(late.counted, None);
    assert_eq!(counts(&talk.tally().await), tally(&[("dachshund", 1)]));
}

async fn a_message_redelivered_in_a_later_run_counts_nothing(store: VoteStore) {
    let talk = Talk::voting(store).await;
    assert!(talk.text(PHONE, "2", "SMlate").await.counted.is_some());
    // The talk is given again; Twilio delivers the old message once more.
    let run = talk.store.new_run(&talk.story.start).await.unwrap().run;
    talk.store.open(run, DECISION).await.unwrap();
    let late = talk.text(PHONE, "2", "SMlate").await;
    assert_eq!(late.counted, None);
    assert!(
        message(&late).is_some_and(|m| m.contains("1")),
        "the help text: {late:?}"
    );
    assert_eq!(talk.store.tally(run, DECISION).await.unwrap().total(), 0);
}

async fn sms_and_web_votes_add_up(store: VoteStore) {
    let talk = Talk::voting(store).await;
    let web = |n: usize| Voter::web(&format!("browser-{n}"));
    talk.store
        .keep_present(&[web(1)], std::time::Duration::from_secs(60))
        .await
        .unwrap();
    talk.store
        .vote(talk.run, DECISION, &web(1), "tinder", VoteKind::Presence)
        .await
        .unwrap();
    talk.store
        .vote(talk.run, DECISION, &web(2), "dachshund", VoteKind::Sticky)
        .await
        .unwrap();
    talk.text(PHONE, "1", "SM1").await;
    talk.text("+15550002222", "2", "SM2").await;
    talk.text("+15550003333", "pets", "SM3").await;
    assert_eq!(counts(&talk.tally().await), tally(&[("dachshund", 2), ("tinder", 3)]));
    // SMS votes are sticky: withdrawing absent voters spares them.
    talk.store.withdraw_absent(talk.run, DECISION).await.unwrap();
    assert_eq!(talk.tally().await.total(), 5);
}

async fn carrier_keywords_are_never_votes_and_get_no_reply(store: VoteStore) {
    let talk = Talk::voting(store).await;
    for (n, word) in [
        "STOP",
        "stop",
        "Stop.",
        "STOPALL",
        "UNSUBSCRIBE",
        "CANCEL",
        "END",
        "QUIT",
        "START",
        "YES",
        "UNSTOP",
        "HELP",
        "help?",
        "INFO",
    ]
    .iter()
    .enumerate()
    {
        let outcome = talk.text(PHONE, word, &format!("SMkw{n}")).await;
        assert_eq!(message(&outcome), None, "{word:?}");
        assert_eq!(outcome.counted, None, "{word:?}");
        assert_eq!(outcome.refused, Some("keyword"), "{word:?}");
    }
    assert_eq!(talk.tally().await.total(), 0);
    assert_eq!(talk.choice_of_phone(PHONE).await, None);
}

async fn with_no_vote_open_the_reply_says_so_and_nothing_counts(store: VoteStore) {
    let talk = Talk::closed(store).await;
    let outcome = talk.text(PHONE, "1", "SM1").await;
    assert_eq!(message(&outcome).as_deref(), Some(CLOSED));
    assert_eq!(outcome.counted, None);

    // Open, vote, close: the closed tally is frozen and texts say so.
    talk.store.open(talk.run, DECISION).await.unwrap();
    talk.text(PHONE, "1", "SM2").await;
    talk.store.close(talk.run, DECISION).await.unwrap();
    let late = talk.text("+15550004444", "2", "SM3").await;
    assert_eq!(message(&late).as_deref(), Some(CLOSED));
    assert_eq!(late.refused, Some("not_open"));
    assert_eq!(counts(&talk.tally().await), tally(&[("tinder", 1)]));
    // Keywords stay silent even then.
    assert_eq!(message(&talk.text(PHONE, "STOP", "SM4").await), None);
}

/// The bundled story's first decision with these `[settings.sms]` lines.
fn story_with_sms(settings: &str) -> Story {
    let text = format!(
        r#"
title = "Texts"
start = "{DECISION}"

[settings.sms]
{settings}

[slides.{DECISION}]
title = "What did you build?"

[slides.{DECISION}.decision]
prompt = "Pets or dogs?"
choices = [
  {{ id = "tinder", label = "Tinder for Pets", keywords = ["pets"], goto = "end" }},
  {{ id = "dachshund", label = "Dachshund <Doc> & Send", keywords = ["doc"], goto = "end" }},
]

[slides.end]
title = "The end"
"#
    );
    match Story::parse("texts.toml", &text) {
        Ok(loaded) => loaded.story,
        Err(e) => panic!("the test story does not load: {e:?}"),
    }
}

async fn the_story_may_reword_or_silence_the_replies(store: VoteStore) {
    let mut talk = Talk::closed(store).await;
    talk.story = story_with_sms(
        r#"confirm = "Counted: {label} ({choice})."
help = "Send one of {options}."
closed = "Wait for the next question.""#,
    );
    assert_eq!(
        message(&talk.text(PHONE, "1", "SM1").await).as_deref(),
        Some("Wait for the next question.")
    );
    talk.store.open(talk.run, DECISION).await.unwrap();
    assert_eq!(
        message(&talk.text(PHONE, "2", "SM2").await).as_deref(),
        Some("Counted: Dachshund &lt;Doc&gt; &amp; Send (2)."),
        "the label is escaped for XML"
    );
    assert_eq!(
        message(&talk.text(PHONE, "what", "SM3").await).as_deref(),
        Some("Send one of 1 or A: Tinder for Pets, 2 or B: Dachshund &lt;Doc&gt; &amp; Send.")
    );

    talk.story = story_with_sms("replies = false");
    for (body, sid) in [("1", "SM4"), ("what", "SM5"), ("STOP", "SM6")] {
        assert_eq!(message(&talk.text(PHONE, body, sid).await), None, "{body:?}");
    }
    assert_eq!(
        talk.choice_of_phone(PHONE).await.as_deref(),
        Some("tinder"),
        "counted in silence"
    );
    talk.store.close(talk.run, DECISION).await.unwrap();
    assert_eq!(message(&talk.text(PHONE, "2", "SM7").await), None);
}

async fn forged_missing_or_misaddressed_signatures_are_refused(store: VoteStore) {
    let talk = Talk::voting(store).await;
    let params = fields(PHONE, "1", "SMforged");
    let url = format!("{PUBLIC_URL}/sms");
    let forbidden = |outcome: &SmsOutcome, case: &str| {
        assert_eq!(outcome.status, StatusCode::FORBIDDEN, "{case}: {outcome:?}");
        assert_eq!(outcome.counted, None, "{case}");
        assert!(outcome.body.contains("X-Twilio-Signature"), "{case}: {}", outcome.body);
    };

    let wrong_token = signed_headers("not-the-token", &url, &params);
    forbidden(&talk.post("/sms", &wrong_token, &params).await, "wrong token");
    forbidden(&talk.post("/sms", &form_headers(), &params).await, "no signature");
    let mut empty = form_headers();
    empty.insert(sms::signature::HEADER, HeaderValue::from_static(""));
    forbidden(&talk.post("/sms", &empty, &params).await, "empty signature");
    let mut garbage = form_headers();
    garbage.insert(sms::signature::HEADER, HeaderValue::from_static("!!not base64!!"));
    forbidden(&talk.post("/sms", &garbage, &params).await, "garbage signature");
    let mut not_utf8 = form_headers();
    not_utf8.insert(sms::signature::HEADER, HeaderValue::from_bytes(b"\xff\xfe").unwrap());
    forbidden(
        &talk.post("/sms", &not_utf8, &params).await,
        "a signature that is not text",
    );

    // Signed for another URL, path or query.
    for other in [
        "https://evil.example.com/sms",
        "https://talk.example.com/other",
        "https://talk.example.com/sms?x=1",
        "http://talk.example.com/sms",
        "https://talk.example.com:8443/sms",
    ] {
        let headers = signed_headers(TOKEN, other, &params);
        forbidden(&talk.post("/sms", &headers, &params).await, other);
    }

    // A body changed after signing: the vote, the phone, an added field.
    let good = signed_headers(TOKEN, &url, &params);
    let mut tampered = params.clone();
    for (k, v) in tampered.iter_mut() {
        if k == "Body" {
            *v = "2".to_string();
        }
    }
    forbidden(&talk.post("/sms", &good, &tampered).await, "changed vote");
    let mut other_phone = params.clone();
    other_phone[3].1 = "+15550009999".to_string();
    forbidden(&talk.post("/sms", &good, &other_phone).await, "changed phone");
    let mut added = params.clone();
    added.push(("Extra".to_string(), "1".to_string()));
    forbidden(&talk.post("/sms", &good, &added).await, "added field");

    assert_eq!(talk.tally().await.total(), 0, "nothing counted");
    // Refusals did not mark the MessageSid: the genuine delivery counts.
    let genuine = talk.post("/sms", &good, &params).await;
    assert_eq!(message(&genuine), Some(confirms(TINDER)));
    assert_eq!(talk.tally().await.total(), 1);
}

async fn the_signature_is_checked_against_the_public_url_behind_a_proxy(store: VoteStore) {
    let mut talk = Talk::voting(store).await;
    // Behind nginx, cyoa sees http://127.0.0.1:3000/sms; Twilio signed the
    // public URL. Only the public URL is accepted.
    let params = fields(PHONE, "1", "SMproxy1");
    let internal = signed_headers(TOKEN, "http://127.0.0.1:3000/sms", &params);
    assert_eq!(
        talk.post("/sms", &internal, &params).await.status,
        StatusCode::FORBIDDEN
    );
    let public = signed_headers(TOKEN, "https://talk.example.com/sms", &params);
    assert_eq!(
        message(&talk.post("/sms", &public, &params).await),
        Some(confirms(TINDER))
    );

    // Twilio may have signed the URL with the default port, or the public
    // URL may be configured with it.
    let params = fields(PHONE, "2", "SMproxy2");
    let with_port = signed_headers(TOKEN, "https://talk.example.com:443/sms", &params);
    assert_eq!(
        message(&talk.post("/sms", &with_port, &params).await),
        Some(confirms(DACHSHUND))
    );
    talk.config.public_url = "https://talk.example.com:443/".to_string();
    let params = fields(PHONE, "1", "SMproxy3");
    let without_port = signed_headers(TOKEN, "https://talk.example.com/sms", &params);
    assert_eq!(
        message(&talk.post("/sms", &without_port, &params).await),
        Some(confirms(TINDER))
    );

    // The query string is part of what is signed.
    talk.config.public_url = PUBLIC_URL.to_string();
    let params = fields(PHONE, "2", "SMproxy4");
    let with_query = signed_headers(TOKEN, "https://talk.example.com/sms?talk=pycon", &params);
    assert_eq!(
        message(&talk.post("/sms?talk=pycon", &with_query, &params).await),
        Some(confirms(DACHSHUND))
    );
    let params = fields(PHONE, "1", "SMproxy5");
    let with_query = signed_headers(TOKEN, "https://talk.example.com/sms?talk=pycon", &params);
    assert_eq!(
        talk.post("/sms?talk=other", &with_query, &params).await.status,
        StatusCode::FORBIDDEN
    );

    // A public URL with a path (cyoa under /vote, the proxy strips it).
    talk.config.public_url = "https://talk.example.com/vote".to_string();
    let params = fields(PHONE, "1", "SMproxy6");
    let under = signed_headers(TOKEN, "https://talk.example.com/vote/sms", &params);
    assert_eq!(
        message(&talk.post("/sms", &under, &params).await),
        Some(confirms(TINDER))
    );
}

async fn malformed_webhooks_are_refused_with_the_reason(store: VoteStore) {
    let talk = Talk::voting(store).await;
    let url = format!("{PUBLIC_URL}/sms");
    let refused = |outcome: &SmsOutcome, status: StatusCode, says: &str, case: &str| {
        assert_eq!(outcome.status, status, "{case}: {outcome:?}");
        assert!(outcome.content_type.starts_with("text/plain"), "{case}");
        assert!(outcome.body.contains(says), "{case}: {}", outcome.body);
        assert!(outcome.body.contains("nothing was counted"), "{case}: {}", outcome.body);
        assert_eq!(outcome.counted, None, "{case}");
    };

    // Not a form.
    let params = fields(PHONE, "1", "SMbad1");
    let mut json = signed_headers(TOKEN, &url, &params);
    json.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    refused(
        &talk.post("/sms", &json, &params).await,
        StatusCode::BAD_REQUEST,
        "form",
        "JSON",
    );
    let mut none = signed_headers(TOKEN, &url, &params);
    none.remove(header::CONTENT_TYPE);
    refused(
        &talk.post("/sms", &none, &params).await,
        StatusCode::BAD_REQUEST,
        "form",
        "no type",
    );

    // A missing field, each in turn (correctly signed without it).
    for missing in ["From", "Body", "MessageSid"] {
        let params: Vec<_> = fields(PHONE, "1", "SMbad2")
            .into_iter()
            .filter(|(k, _)| k != missing)
            .collect();
        let headers = signed_headers(TOKEN, &url, &params);
        refused(
            &talk.post("/sms", &headers, &params).await,
            StatusCode::BAD_REQUEST,
            "From, Body and MessageSid",
            missing,
        );
    }
    for (from, sid) in [("", "SMbad3"), ("(-)", "SMbad3"), (PHONE, "")] {
        let params = fields(from, "1", sid);
        let headers = signed_headers(TOKEN, &url, &params);
        refused(
            &talk.post("/sms", &headers, &params).await,
            StatusCode::BAD_REQUEST,
            "must not be empty",
            &format!("from {from:?} sid {sid:?}"),
        );
    }

    // The longest text Twilio sends is 1,600 characters.
    let longest = "é".repeat(sms::MAX_TEXT_CHARS);
    let params = fields(PHONE, &longest, "SMlong1");
    let headers = signed_headers(TOKEN, &url, &params);
    assert_eq!(
        message(&talk.post("/sms", &headers, &params).await).as_deref(),
        Some(HELP)
    );
    let too_long = "1".repeat(sms::MAX_TEXT_CHARS + 1);
    let params = fields(PHONE, &too_long, "SMlong2");
    let headers = signed_headers(TOKEN, &url, &params);
    refused(
        &talk.post("/sms", &headers, &params).await,
        StatusCode::BAD_REQUEST,
        "1600 characters",
        "too long",
    );

    // A body over 16 KiB is refused before anything is read.
    let huge = vec![b'a'; sms::MAX_BODY_BYTES + 1];
    refused(
        &talk.post_raw("/sms", &form_headers(), &huge).await,
        StatusCode::PAYLOAD_TOO_LARGE,
        "16384 bytes",
        "huge",
    );
    // Bytes that are no form at all: a form with odd fields, unsigned.
    let outcome = talk.post_raw("/sms", &form_headers(), b"\xff\x00%%%&&==").await;
    assert_eq!(outcome.status, StatusCode::FORBIDDEN);

    assert_eq!(talk.tally().await.total(), 0);
    assert_eq!(talk.choice_of_phone(PHONE).await, None);
}

/// `params` with the field `name`'s value swapped for `value`.
fn with_field(params: &[(String, String)], name: &str, value: &str) -> Vec<(String, String)> {
    params
        .iter()
        .map(|(k, v)| (k.clone(), if k == name { value.to_string() } else { v.clone() }))
        .collect()
}

/// `params` as Twilio signs them (sorted), with every field after
/// `MessageSid` folded into its value: the same signed string, so the same
/// signature, and a new MessageSid.
fn folded_after_message_sid(params: &[(String, String)]) -> Vec<(String, String)> {
    let mut sorted = params.to_vec();
    sorted.sort();
    let at = sorted
        .iter()
        .position(|(k, _)| k == "MessageSid")
        .expect("a MessageSid");
    let tail: String = sorted.drain(at + 1..).map(|(k, v)| k + &v).collect();
    sorted[at].1 += &tail;
    sorted
}

async fn a_boundary_shifted_replay_is_refused_and_the_phones_vote_stands(store: VoteStore) {
    let talk = Talk::voting(store).await;
    let url = format!("{PUBLIC_URL}/sms");
    // The phone votes 1 (in a full webhook, and again in the smallest one
    // Twilio could send), then changes its mind to 2.
    let old = fields(PHONE, "1", "old");
    let old_headers = signed_headers(TOKEN, &url, &old);
    assert!(talk.post("/sms", &old_headers, &old).await.counted.is_some());
    let small: Vec<(String, String)> = [
        ("Body", "1"),
        ("From", PHONE),
        ("MessageSid", &sid("old1")),
        ("To", "+15005550006"),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    let small_headers = signed_headers(TOKEN, &url, &small);
    assert_eq!(
        message(&talk.post("/sms", &small_headers, &small).await),
        Some(confirms(TINDER))
    );
    assert!(talk.text(PHONE, "2", "new").await.counted.is_some());
    assert_eq!(talk.choice_of_phone(PHONE).await.as_deref(), Some("dachshund"));

    // The captured webhooks, their fields cut in other places: Twilio's
    // signature still holds, and the MessageSid is one never seen.
    let mut replays = vec![("every later field in the MessageSid", folded_after_message_sid(&old))];
    let shifted: Vec<(String, String)> = vec![
        ("Body".into(), "1".into()),
        ("From".into(), PHONE.into()),
        ("MessageSid".into(), sid("old1") + "T"),
        ("o".into(), "+15005550006".into()),
    ];
    replays.push(("MessageSid=SMold1T&o=+1...", shifted));
    for (case, replay) in replays {
        let headers = if case.starts_with("Message") {
            &small_headers
        } else {
            &old_headers
        };
        let original = if case.starts_with("Message") { &small } else { &old };
        let signature = headers[sms::signature::HEADER].to_str().unwrap();
        assert!(
            sms::signature::is_valid(TOKEN.as_bytes(), signature, &url, &replay),
            "{case}: the replay carries a good signature"
        );
        assert_ne!(&replay, original, "{case}");
        let outcome = talk.post("/sms", headers, &replay).await;
        assert_eq!(outcome.status, StatusCode::BAD_REQUEST, "{case}: {outcome:?}");
        assert!(outcome.body.contains("MessageSid"), "{case}: {}", outcome.body);
        assert!(outcome.body.contains("nothing was counted"), "{case}: {}", outcome.body);
        assert_eq!(outcome.counted, None, "{case}");
    }
    // The phone's newer vote stands, and nothing else was counted.
    assert_eq!(talk.choice_of_phone(PHONE).await.as_deref(), Some("dachshund"));
    assert_eq!(counts(&talk.tally().await), tally(&[("dachshund", 1)]));
}

async fn only_the_configured_twilio_account_counts(store: VoteStore) {
    let mut talk = Talk::voting(store).await;
    let url = format!("{PUBLIC_URL}/sms");
    talk.config.account_sid = Some("AC0123456789abcdef0123456789abcdef".to_string());
    // Signed with the token, from another account (or none).
    let other = fields(PHONE, "1", "acct1");
    let missing: Vec<_> = other.iter().filter(|(k, _)| k != "AccountSid").cloned().collect();
    for (case, params) in [("another account", other), ("no AccountSid", missing)] {
        let outcome = talk.post("/sms", &signed_headers(TOKEN, &url, &params), &params).await;
        assert_eq!(outcome.status, StatusCode::BAD_REQUEST, "{case}: {outcome:?}");
        assert!(outcome.body.contains("AccountSid"), "{case}: {}", outcome.body);
        assert!(
            outcome.body.contains("--twilio-account-sid"),
            "{case}: {}",
            outcome.body
        );
        assert_eq!(outcome.counted, None, "{case}");
    }
    assert_eq!(talk.tally().await.total(), 0);
    // This account's text counts, its SID in either case.
    for (tag, account) in [
        ("acct2", "AC0123456789abcdef0123456789abcdef"),
        ("acct3", "AC0123456789ABCDEF0123456789ABCDEF"),
    ] {
        let params = with_field(&fields(PHONE, "1", tag), "AccountSid", account);
        let outcome = talk.post("/sms", &signed_headers(TOKEN, &url, &params), &params).await;
        assert_eq!(message(&outcome), Some(confirms(TINDER)), "{account}");
    }
    assert_eq!(counts(&talk.tally().await), tally(&[("tinder", 1)]));
}

async fn a_field_cyoa_reads_given_twice_is_refused(store: VoteStore) {
    let talk = Talk::voting(store).await;
    let url = format!("{PUBLIC_URL}/sms");
    for (name, second) in [
        ("Body", "2".to_string()),
        ("From", "+15550009999".to_string()),
        ("MessageSid", sid("twice2")),
        ("AccountSid", ACCOUNT.to_string()),
    ] {
        let mut params = fields(PHONE, "1", "twice1");
        params.push((name.to_string(), second));
        let outcome = talk.post("/sms", &signed_headers(TOKEN, &url, &params), &params).await;
        assert_eq!(outcome.status, StatusCode::BAD_REQUEST, "{name}: {outcome:?}");
        assert!(
            outcome
                .body
                .contains(&format!("The field {name} is given more than once")),
            "{}",
            outcome.body
        );
        assert_eq!(outcome.counted, None, "{name}");
    }
    assert_eq!(talk.tally().await.total(), 0);
    // A field cyoa does not read may repeat (Twilio signs every value).
    let mut params = fields(PHONE, "1", "twice1");
    params.push(("SomeFieldTwilioAddsLater".to_string(), "again".to_string()));
    let outcome = talk.post("/sms", &signed_headers(TOKEN, &url, &params), &params).await;
    assert_eq!(message(&outcome), Some(confirms(TINDER)));
    assert_eq!(talk.tally().await.total(), 1);
}

async fn without_an_auth_token_sms_voting_is_off(store: VoteStore) {
    let mut talk = Talk::voting(store).await;
    talk.config.auth_token = None;
    let outcome = talk.text(PHONE, "1", "SM1").await;
    assert_eq!(outcome.status, StatusCode::SERVICE_UNAVAILABLE);
    assert!(outcome.body.contains("SMS voting is off"), "{}", outcome.body);
    assert!(outcome.body.contains("--twilio-auth-token"), "{}", outcome.body);
    assert!(outcome.body.contains("TWILIO_AUTH_TOKEN"), "{}", outcome.body);
    assert_eq!(outcome.counted, None);
    assert_eq!(talk.tally().await.total(), 0);
}

async fn the_insecure_switch_takes_unsigned_webhooks(store: VoteStore) {
    let mut talk = Talk::voting(store).await;
    talk.config.auth_token = None;
    talk.config.insecure_skip_signature = true;
    let params = fields(PHONE, "2", "SM1");
    let outcome = talk.post("/sms", &form_headers(), &params).await;
    assert_eq!(message(&outcome), Some(confirms(DACHSHUND)));
    assert_eq!(counts(&talk.tally().await), tally(&[("dachshund", 1)]));
    // The other checks still hold.
    let params: Vec<_> = params.into_iter().filter(|(k, _)| k != "From").collect();
    assert_eq!(
        talk.post("/sms", &form_headers(), &params).await.status,
        StatusCode::BAD_REQUEST
    );
}

/// When the store fails while counting, the answer is a 503, never a
/// confirmation, and the message is not marked: Twilio's retry counts.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_store_failure_answers_503_counts_nothing_and_the_retry_counts() {
    let prefix = fresh_prefix();
    let talk = Talk::voting(redis_store_at(shared(), &prefix).await).await;
    talk.text("+15550005555", "1", "SMfirst").await;
    // Make the vote itself fail: the voter records are not a hash any more.
    let voters = format!("{prefix}run:{}:voters:{DECISION}", talk.run);
    let mut con = shared().connection();
    let saved: Vec<(String, String)> = ::redis::cmd("HGETALL").arg(&voters).query(&mut con).unwrap();
    let _: () = ::redis::cmd("DEL").arg(&voters).query(&mut con).unwrap();
    let _: () = ::redis::cmd("SET").arg(&voters).arg("broken").query(&mut con).unwrap();

    let outcome = talk.text(PHONE, "2", "SMretry").await;
    assert_eq!(outcome.status, StatusCode::SERVICE_UNAVAILABLE, "{outcome:?}");
    assert!(!outcome.body.contains("Your vote"), "{}", outcome.body);
    assert!(
        !outcome.content_type.contains("xml"),
        "no TwiML, so no reply to the voter"
    );
    assert!(outcome.body.contains("nothing was counted"), "{}", outcome.body);
    assert_eq!(outcome.counted, None);

    // Repaired; Twilio retries the same message, which counts.
    let _: () = ::redis::cmd("DEL").arg(&voters).query(&mut con).unwrap();
    for (k, v) in &saved {
        let _: () = ::redis::cmd("HSET").arg(&voters).arg(k).arg(v).query(&mut con).unwrap();
    }
    let retry = talk.text(PHONE, "2", "SMretry").await;
    assert_eq!(message(&retry), Some(confirms(DACHSHUND)));
    assert!(retry.counted.is_some());
    assert_eq!(counts(&talk.tally().await), tally(&[("dachshund", 1), ("tinder", 1)]));
}

/// With Redis down, every text that would vote gets a 503; once it is back
/// the same messages count.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_redis_down_texts_get_503_and_count_once_it_is_back() {
    let mut server = RedisServer::start();
    let talk = Talk::voting(redis_store_at(&server, "cyoa:").await).await;
    server.stop();
    let outcome = talk.text(PHONE, "1", "SMdown").await;
    assert_eq!(outcome.status, StatusCode::SERVICE_UNAVAILABLE, "{outcome:?}");
    assert_eq!(outcome.counted, None);
    // Keywords need no store and still get Twilio's silence.
    assert_eq!(message(&talk.text(PHONE, "STOP", "SMstop").await), None);
    server.start_again();

    let mut counted = None;
    for _ in 0..200 {
        let outcome = talk.text(PHONE, "1", "SMdown").await;
        if outcome.status == StatusCode::OK {
            counted = Some(outcome);
            break;
        }
        assert_eq!(outcome.status, StatusCode::SERVICE_UNAVAILABLE);
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
    let counted = counted.expect("the store did not come back after Redis restarted");
    assert_eq!(message(&counted), Some(confirms(TINDER)));
    assert_eq!(counts(&talk.tally().await), tally(&[("tinder", 1)]));
}

/// The phone number is nowhere in Redis, in keys or values, in any form.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_phone_number_is_stored_in_clear() {
    let server = RedisServer::start();
    let talk = Talk::voting(redis_store_at(&server, "cyoa:").await).await;
    talk.text(PHONE, "1", "SMp1").await;
    talk.text("+447700900123", "2", "SMp2").await;
    assert_eq!(talk.tally().await.total(), 2);

    let mut con = server.connection();
    let keys: Vec<String> = ::redis::cmd("KEYS").arg("*").query(&mut con).unwrap();
    let mut everything = String::new();
    for key in keys {
        let kind: String = ::redis::cmd("TYPE").arg(&key).query(&mut con).unwrap();
        let read = match kind.as_str() {
            "string" => ::redis::cmd("GET").arg(&key).clone(),
            "hash" => ::redis::cmd("HGETALL").arg(&key).clone(),
            "list" => ::redis::cmd("LRANGE").arg(&key).arg(0).arg(-1).clone(),
            "zset" => ::redis::cmd("ZRANGE").arg(&key).arg(0).arg(-1).clone(),
            other => panic!("unexpected key type {other} for {key}"),
        };
        let values: Vec<String> = match kind.as_str() {
            "string" => vec![read.query(&mut con).unwrap()],
            _ => read.query(&mut con).unwrap(),
        };
        everything.push_str(&key);
        everything.push_str(&values.join(" "));
    }
    for digits in ["4158675309", "7700900123"] {
        assert!(!everything.contains(digits), "{digits} is stored in clear");
    }
    assert!(everything.contains(&sms::phone_hash(&talk.config.phone_key, PHONE)));
}

/// How many script calls Redis took since its statistics were reset: each
/// is one round trip (the commands a script runs are counted apart).
fn script_calls(con: &mut ::redis::Connection) -> u64 {
    let info: String = ::redis::cmd("INFO").arg("commandstats").query(con).unwrap();
    let calls = |name: &str| -> u64 {
        info.lines()
            .find_map(|line| line.strip_prefix(&format!("cmdstat_{name}:calls=")))
            .and_then(|rest| rest.split(',').next()?.parse().ok())
            .unwrap_or(0)
    };
    calls("evalsha") + calls("eval")
}

fn reset_stats(con: &mut ::redis::Connection) {
    let _: () = ::redis::cmd("CONFIG").arg("RESETSTAT").query(con).unwrap();
}

/// A text naming a choice of the vote the server knows is open takes one
/// Redis call (the delivery mark and the vote together); with a stale hint
/// it takes three (the refused try, the run, the vote) and still counts
/// once. The SMS path sends Redis nothing but script calls.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_text_takes_one_redis_round_trip() {
    let server = RedisServer::start();
    let mut talk = Talk::voting(redis_store_at(&server, "cyoa:").await).await;
    // The scripts are loaded once, on their first use.
    talk.text(PHONE, "1", "SMwarm").await;
    let mut con = server.connection();
    reset_stats(&mut con);
    assert!(talk.text(PHONE, "2", "SMone").await.counted.is_some());
    assert_eq!(script_calls(&mut con), 1);

    talk.open = Some((talk.run + 1, DECISION));
    reset_stats(&mut con);
    assert!(talk.text("+15550002222", "2", "SMtwo").await.counted.is_some());
    assert_eq!(script_calls(&mut con), 3, "stale: a refused try, the run, the vote");
    assert_eq!(counts(&talk.tally().await), tally(&[("dachshund", 2)]));
}
