//! Reading an SMS text against the open decision.
//!
//! A text is compared in the story's normal form ([`normalise`]):
//! lowercase, words separated by single spaces, punctuation, symbols and
//! emoji stripped from both ends of every word. So `" b. "`,
//! `"Dachshund!!"`, `"TINDER  for pets"` and `"2️⃣"` read as `b`,
//! `dachshund`, `tinder for pets` and `2`. A choice is named by its number
//! (1..N, as shown), its letter (A..), its id, its label or one of its
//! keywords, all in the same normal form: the matching itself is the
//! story's [`Decision::sms_match`], which the story checker keeps
//! unambiguous. This module adds the carrier keywords that never vote.

use crate::story::{Choice, Decision};

/// Words Twilio and the carriers act on themselves (opt-out, opt-in, help):
/// never a vote, whatever the story says. Twilio replies to them on its own.
pub const RESERVED: &[&str] = &[
    // Opt-out.
    "stop",
    "stopall",
    "unsubscribe",
    "cancel",
    "end",
    "quit",
    "revoke",
    "optout",
    // Opt-in.
    "start",
    "yes",
    "unstop",
    // Help.
    "help",
    "info",
];

/// What a text says about the open decision.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Reading<'a> {
    /// One of the [`RESERVED`] words: Twilio handles it, cyoa stays silent.
    Reserved,
    /// A vote for the choice at this index (0-based) of the decision.
    Choice(usize, &'a Choice),
    /// Nothing that names a choice.
    Unknown,
}

/// The normal form texts are compared in: the story's own
/// ([`crate::story::normalise`]), so a story checked for words two choices
/// share is read the same way here.
pub use crate::story::normalise;

/// Whether the text is one of Twilio's and the carriers' keywords.
pub fn is_reserved(text: &str) -> bool {
    let text = normalise(text);
    RESERVED.contains(&text.as_str())
}

/// Reads `text` against `decision`: a carrier keyword, or the choice
/// [`Decision::sms_match`] finds (numbers and letters first, then ids,
/// labels and keywords).
pub fn read<'a>(decision: &'a Decision, text: &str) -> Reading<'a> {
    if is_reserved(text) {
        return Reading::Reserved;
    }
    let Some(choice) = decision.sms_match(text) else {
        return Reading::Unknown;
    };
    match decision.choices.iter().position(|c| std::ptr::eq(c, choice)) {
        Some(i) => Reading::Choice(i, choice),
        None => Reading::Unknown,
    }
}

/// The choice `text` votes for on `decision`, if any; reserved words never
/// vote.
pub fn match_choice<'a>(decision: &'a Decision, text: &str) -> Option<&'a Choice> {
    match read(decision, text) {
        Reading::Choice(_, choice) => Some(choice),
        Reading::Reserved | Reading::Unknown => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn choice(id: &str, label: &str, keywords: &[&str]) -> Choice {
        Choice {
            id: id.to_string(),
            label: label.to_string(),
            keywords: keywords.iter().map(|k| k.to_string()).collect(),
            goto: "next".to_string(),
        }
    }

    fn pets_or_dachshund() -> Decision {
        Decision {
            id: "build".to_string(),
            prompt: "Tinder for Pets or the Dachshund Doc Send delivery service?".to_string(),
            choices: vec![
                choice("tinder", "Tinder for Pets", &["pets", "swipe"]),
                choice("dachshund", "Dachshund Doc Send delivery", &["doc", "send", "wiener"]),
                choice("sleep-in", "Sleep in", &["b", "1"]),
            ],
            results: None,
            rules: Default::default(),
        }
    }

    #[test]
    fn normal_form_drops_case_punctuation_emoji_and_extra_spaces() {
        for (text, normal) in [
            ("  2 ", "2"),
            (" b. ", "b"),
            ("Dachshund!!", "dachshund"),
            ("TINDER   for\tpets", "tinder for pets"),
            ("🐶 tinder for pets 🐶", "tinder for pets"),
            ("2️⃣", "2"),
            // Inside a word, punctuation stays (the story's checker
            // compares words the same way).
            ("«Sleep-in»", "sleep-in"),
            ("", ""),
            ("?!…", ""),
            ("ÉCOLE", "école"),
        ] {
            assert_eq!(normalise(text), normal, "{text:?}");
        }
    }

    #[test]
    fn every_way_of_naming_a_choice_counts() {
        let d = pets_or_dachshund();
        for (text, id) in [
            ("1", "tinder"),
            ("2", "dachshund"),
            ("3", "sleep-in"),
            (" b. ", "dachshund"),
            ("a", "tinder"),
            ("C!", "sleep-in"),
            ("Dachshund!!", "dachshund"),
            ("tinder for pets", "tinder"),
            ("Tinder For Pets.", "tinder"),
            ("swipe", "tinder"),
            ("WIENER 🌭", "dachshund"),
            ("sleep-in", "sleep-in"),
            ("sleep in", "sleep-in"),
            ("#2", "dachshund"),
        ] {
            assert_eq!(match_choice(&d, text).map(|c| c.id.as_str()), Some(id), "{text:?}");
        }
    }

    #[test]
    fn numbers_and_letters_win_over_keywords() {
        let d = pets_or_dachshund();
        // "sleep-in" has the keywords "b" and "1", but the screen says B is
        // the dachshund and 1 is tinder.
        assert_eq!(match_choice(&d, "b").map(|c| c.id.as_str()), Some("dachshund"));
        assert_eq!(match_choice(&d, "1").map(|c| c.id.as_str()), Some("tinder"));
    }

    #[test]
    fn text_naming_no_choice_is_unknown() {
        let d = pets_or_dachshund();
        for text in [
            "",
            "   ",
            "4",
            "0",
            "d",
            "12",
            "1 2",
            "tinder pets",
            "ab",
            "🐶",
            "dachshunds",
        ] {
            assert_eq!(read(&d, text), Reading::Unknown, "{text:?}");
        }
    }

    #[test]
    fn carrier_keywords_are_never_votes() {
        let mut d = pets_or_dachshund();
        // Even a story that made them keywords does not count them.
        d.choices[0].keywords.push("yes".to_string());
        d.choices[1].keywords.push("stop".to_string());
        for text in [
            "STOP",
            "stop",
            " Stop. ",
            "STOPALL",
            "UNSUBSCRIBE",
            "CANCEL",
            "END",
            "QUIT",
            "REVOKE",
            "OPTOUT",
            "START",
            "YES",
            "UNSTOP",
            "HELP",
            "help!",
            "INFO",
        ] {
            assert_eq!(read(&d, text), Reading::Reserved, "{text:?}");
            assert!(is_reserved(text), "{text:?}");
            assert_eq!(match_choice(&d, text), None, "{text:?}");
        }
        assert!(!is_reserved("stop it"));
        assert!(!is_reserved("2"));
    }

    #[test]
    fn the_index_of_the_choice_comes_back() {
        let d = pets_or_dachshund();
        assert!(matches!(read(&d, "wiener"), Reading::Choice(1, c) if c.id == "dachshund"));
    }
}
