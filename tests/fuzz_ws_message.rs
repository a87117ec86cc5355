//! Property test (a fuzz target on stable Rust): whatever a socket client
//! sends, the message parser answers without a panic, accepts exactly the
//! vote shape, and reads back what a well-formed vote says.
//!
//! Runs 256 cases under `cargo test`; longer: `PROPTEST_CASES=100000 cargo
//! test --test fuzz_ws_message`.

use cyoa::web::ws::{ClientMessage, parse_client_message};
use proptest::prelude::*;
use serde_json::json;

/// Text weighted toward JSON that is almost a vote.
fn message() -> impl Strategy<Value = String> {
    let key = prop_oneof![
        Just("type".to_string()),
        Just("decision".to_string()),
        Just("choice".to_string()),
        "[a-z]{0,8}",
    ];
    let value = prop_oneof![
        Just(json!("vote")),
        any::<String>().prop_map(serde_json::Value::from),
        any::<i64>().prop_map(serde_json::Value::from),
        Just(json!(null)),
        Just(json!([])),
        Just(json!({})),
    ];
    prop_oneof![
        any::<String>(),
        "[{}\\[\\]\":,a-z0-9 \\\\]{0,64}",
        proptest::collection::btree_map(key, value, 0..5).prop_map(|m| serde_json::to_string(&m).unwrap()),
    ]
}

proptest! {
    #[test]
    fn any_text_is_read_without_a_panic(text in message()) {
        if let Ok(ClientMessage::Vote { .. }) = parse_client_message(&text) {
            let v: serde_json::Value = serde_json::from_str(&text).expect("accepted text is JSON");
            let keys: Vec<&str> = v.as_object().expect("an object").keys().map(String::as_str).collect();
            prop_assert_eq!(keys, vec!["choice", "decision", "type"]);
        }
    }

    #[test]
    fn a_vote_reads_back_as_sent(decision in any::<String>(), choice in any::<String>()) {
        let text = json!({"type": "vote", "decision": decision, "choice": choice}).to_string();
        prop_assert_eq!(parse_client_message(&text).ok(), Some(ClientMessage::Vote { decision, choice }));
    }

    #[test]
    fn deep_or_huge_json_is_refused_without_a_panic(depth in 0usize..2000, junk in "[\\[{\"a-z:,]{0,16}") {
        let text = format!("{}{junk}{}", "[".repeat(depth), "]".repeat(depth));
        prop_assert!(parse_client_message(&text).is_err());
    }
}
