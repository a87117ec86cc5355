//! Property tests: whatever a phone or a stranger sends, reading the text
//! and handling the webhook never panic, and what comes back keeps its
//! promises (a known status, at most 320 characters of well-formed TwiML,
//! a vote only with a 200).

mod support;

use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use cyoa::sms::parse::{self, Reading};
use cyoa::sms::{self, Secret, SmsConfig};
use cyoa::store::{MemoryStore, VoteStore};
use cyoa::story::{Choice, Decision, SmsTexts, Story};
use proptest::prelude::*;

const TOKEN: &str = "fuzz-token";
const URL: &str = "https://talk.example.com/sms";

fn decision(labels: Vec<(String, Vec<String>)>) -> Decision {
    Decision {
        id: "d".to_string(),
        prompt: "?".to_string(),
        choices: labels
            .into_iter()
            .enumerate()
            .map(|(i, (label, keywords))| Choice {
                id: format!("c{i}"),
                label,
                keywords,
                goto: "end".to_string(),
            })
            .collect(),
        results: None,
        rules: Default::default(),
    }
}

/// Any text, weighted toward what phones send: short words, digits,
/// punctuation, emoji, odd spaces.
fn text() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<String>(),
        "[ \\t\\n.!?#()1-9a-zA-Z🐶🌭️⃣\u{200b}\u{a0}]{0,24}",
        "(?i)(stop|help|yes|info|start|tinder for pets|dachshund|[1-9]|[a-i])[ .!?🐶]{0,3}",
    ]
}

fn labels() -> impl Strategy<Value = Vec<(String, Vec<String>)>> {
    prop::collection::vec((any::<String>(), prop::collection::vec(any::<String>(), 0..3)), 2..10)
}

fn config() -> SmsConfig {
    SmsConfig {
        auth_token: Some(Secret::new(TOKEN)),
        insecure_skip_signature: false,
        public_url: "https://talk.example.com".to_string(),
        number: None,
        phone_key: [1; 32],
        account_sid: None,
    }
}

/// A memory store with the bundled talk's first vote open.
fn talk(rt: &tokio::runtime::Runtime) -> (Story, VoteStore) {
    let story = support::bundled_story();
    let store = VoteStore::Memory(MemoryStore::new());
    rt.block_on(async {
        let run = store.current(&story.start).await.unwrap().run;
        store.open(run, "what-did-you-build").await.unwrap();
    });
    (story, store)
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

/// Checks the promises every answer keeps.
fn check_outcome(outcome: &sms::SmsOutcome) {
    let known = [
        StatusCode::OK,
        StatusCode::BAD_REQUEST,
        StatusCode::FORBIDDEN,
        StatusCode::PAYLOAD_TOO_LARGE,
    ];
    assert!(known.contains(&outcome.status), "{outcome:?}");
    if outcome.status != StatusCode::OK {
        assert!(outcome.counted.is_none());
        assert!(outcome.refused.is_some(), "a refusal names its reason: {outcome:?}");
        assert!(outcome.content_type.starts_with("text/plain"));
        return;
    }
    assert!(outcome.content_type.starts_with("text/xml"));
    let body = outcome
        .body
        .strip_prefix(r#"<?xml version="1.0" encoding="UTF-8"?>"#)
        .unwrap_or_else(|| panic!("not TwiML: {}", outcome.body));
    if body == "<Response/>" {
        return;
    }
    let text = body
        .strip_prefix("<Response><Message>")
        .and_then(|b| b.strip_suffix("</Message></Response>"))
        .unwrap_or_else(|| panic!("not a TwiML message: {body}"));
    assert!(!text.contains('<') && !text.contains('>'), "unescaped: {text}");
    let unescaped = text
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&amp;", "&");
    assert!(
        unescaped.chars().count() <= 320,
        "{} characters",
        unescaped.chars().count()
    );
}

proptest! {
    #[test]
    fn the_normal_form_is_stable_and_tidy(t in text()) {
        let n = parse::normalise(&t);
        prop_assert_eq!(parse::normalise(&n), n.clone());
        prop_assert!(!n.starts_with(' ') && !n.ends_with(' ') && !n.contains("  "));
        // Every word starts and ends with a letter or digit; punctuation
        // stays only inside a word.
        for word in n.split(' ').filter(|_| !n.is_empty()) {
            let (first, last) = (word.chars().next(), word.chars().last());
            prop_assert!(first.is_some_and(char::is_alphanumeric) && last.is_some_and(char::is_alphanumeric), "{:?}", word);
            prop_assert!(!word.chars().any(char::is_whitespace));
        }
    }

    #[test]
    fn reading_any_text_against_any_decision_never_panics(t in text(), labels in labels()) {
        let d = decision(labels);
        match parse::read(&d, &t) {
            Reading::Choice(i, c) => {
                prop_assert_eq!(&d.choices[i], c);
                prop_assert!(!parse::is_reserved(&t));
            }
            Reading::Reserved => prop_assert!(parse::is_reserved(&t)),
            Reading::Unknown => {}
        }
        prop_assert_eq!(parse::match_choice(&d, &t).is_some(), matches!(parse::read(&d, &t), Reading::Choice(..)));
    }

    #[test]
    fn a_number_or_letter_wrapped_in_noise_counts_for_its_choice(
        n in 0usize..9,
        letter in any::<bool>(),
        before in "[ .!?#*🐶🌭\u{a0}]{0,4}",
        after in "[ .!?#*🐶🌭\u{fe0f}\u{20e3}]{0,4}",
        labels in prop::collection::vec("[a-z]{3,12}( [a-z]{3,8})?", 9),
    ) {
        let d = decision(labels.into_iter().map(|l| (l, Vec::new())).collect());
        let name = if letter { char::from(b'A' + n as u8).to_string() } else { (n + 1).to_string() };
        let t = format!("{before}{name}{after}");
        prop_assert_eq!(parse::match_choice(&d, &t).map(|c| c.id.clone()), Some(format!("c{n}")));
    }

    #[test]
    fn replies_stay_short_and_escaped_for_any_labels_and_texts(
        labels in labels(),
        confirm in proptest::option::of(any::<String>()),
        help in proptest::option::of(any::<String>()),
        closed in proptest::option::of(any::<String>()),
        index in 0usize..9,
    ) {
        let d = decision(labels);
        let texts = SmsTexts { replies: true, confirm, help, closed };
        let index = index % d.choices.len();
        for text in [
            sms::reply::confirm_text(&texts, index, &d.choices[index]),
            sms::reply::help_text(&texts, &d),
            sms::reply::closed_text(&texts),
        ] {
            let outcome = sms::SmsOutcome {
                status: StatusCode::OK,
                content_type: sms::reply::CONTENT_TYPE,
                body: sms::reply::message(&texts, &text),
                counted: None,
                refused: None,
            };
            check_outcome(&outcome);
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn the_handler_survives_any_bytes_and_headers(
        body in prop::collection::vec(any::<u8>(), 0..2048),
        content_type in prop_oneof![
            Just("application/x-www-form-urlencoded".to_string()),
            any::<String>(),
        ],
        signature in any::<String>(),
        path in any::<String>(),
    ) {
        let rt = runtime();
        let (story, store) = talk(&rt);
        let mut headers = HeaderMap::new();
        if let Ok(v) = HeaderValue::from_str(&content_type) {
            headers.insert(header::CONTENT_TYPE, v);
        }
        if let Ok(v) = HeaderValue::from_str(&signature) {
            headers.insert(sms::signature::HEADER, v);
        }
        let outcome = rt.block_on(sms::handle(&config(), &story, &store, None, &path, &headers, &body));
        check_outcome(&outcome);
        // Unsigned: never counted.
        prop_assert_ne!(outcome.status, StatusCode::OK);
    }

    #[test]
    fn the_handler_survives_any_signed_form(
        from in any::<String>(),
        text in prop_oneof![text(), "[0-9]{1600,1700}"],
        // Twilio's shape, a near miss, or anything.
        sid in prop_oneof!["(SM|MM)[0-9a-f]{32}", "(SM|MM|sm)[0-9a-fA-F]{30,34}", any::<String>()],
        extra in prop::collection::vec((any::<String>(), any::<String>()), 0..4),
        drop in 0usize..4,
    ) {
        let rt = runtime();
        let (story, store) = talk(&rt);
        let mut params = vec![
            ("From".to_string(), from),
            ("Body".to_string(), text.clone()),
            ("MessageSid".to_string(), sid),
        ];
        if drop < params.len() {
            params.remove(drop);
        }
        params.extend(extra);
        let mut form = form_urlencoded::Serializer::new(String::new());
        for (k, v) in &params {
            form.append_pair(k, v);
        }
        let body = form.finish();
        // What Twilio signs is what the form decodes to.
        let decoded: Vec<(String, String)> = form_urlencoded::parse(body.as_bytes()).into_owned().collect();
        let mut headers = HeaderMap::new();
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/x-www-form-urlencoded"));
        let signature = sms::signature::compute(TOKEN.as_bytes(), URL, &decoded);
        headers.insert(sms::signature::HEADER, HeaderValue::from_str(&signature).unwrap());
        let outcome = rt.block_on(sms::handle(&config(), &story, &store, None, "/sms", &headers, body.as_bytes()));
        check_outcome(&outcome);
        prop_assert_ne!(outcome.status, StatusCode::FORBIDDEN, "signed correctly");
        if outcome.counted.is_some() {
            // Only a MessageSid of Twilio's shape, given once, counts.
            let given = decoded.iter().find(|(k, _)| k == "MessageSid").map_or("", |(_, v)| v.as_str());
            prop_assert!(sms::is_message_sid(given), "{given:?}");
            prop_assert_eq!(decoded.iter().filter(|(k, _)| k == "MessageSid").count(), 1);
            prop_assert!(parse::match_choice(story.decision("what-did-you-build").unwrap(), &text).is_some());
        }
    }
}
