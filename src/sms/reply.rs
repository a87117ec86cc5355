//! The TwiML replies to a text: a confirmation, help, or "no vote is open".
//!
//! Twilio sends the text inside `<Message>` back to the voter. Every reply
//! costs money, so a story may turn them off (`replies = false`: an empty
//! `<Response/>`), and each text is kept within the 320 characters Twilio
//! recommends. cyoa's own texts use only GSM-7 characters (an ellipsis is
//! `...`, not `…`): one character outside it makes the whole reply UCS-2,
//! with 70 characters a segment instead of 160.

use crate::story::{Choice, Decision, SmsTexts};
use crate::xml::escape;

/// The content type of every TwiML reply.
pub const CONTENT_TYPE: &str = "text/xml; charset=utf-8";

/// The longest reply, in characters.
pub const MAX_CHARS: usize = 320;

const DEFAULT_CONFIRM: &str = "Your vote for {choice} ({label}) is counted. Text another number to change it.";
const DEFAULT_HELP: &str = "Text the number or letter of your choice: {options}";
const DEFAULT_CLOSED: &str = "No vote is open right now.";
/// Ends the option list when not every option fits.
const MORE: &str = ", ... (see the screen)";

const XML_HEAD: &str = r#"<?xml version="1.0" encoding="UTF-8"?>"#;

/// A reply that sends nothing back (Twilio handles the text, or replies
/// are off).
pub fn empty() -> String {
    format!("{XML_HEAD}<Response/>")
}

/// A reply that texts `text` back, unless the story turned replies off.
pub fn message(texts: &SmsTexts, text: &str) -> String {
    if !texts.replies {
        return empty();
    }
    format!("{XML_HEAD}<Response><Message>{}</Message></Response>", escape(text))
}

/// The confirmation of a vote for `choice`, the `index`-th (0-based).
pub fn confirm_text(texts: &SmsTexts, index: usize, choice: &Choice) -> String {
    let template = texts.confirm.as_deref().unwrap_or(DEFAULT_CONFIRM);
    // One pass, so a label containing "{choice}" is not replaced again.
    let text = fill(
        template,
        &[("{choice}", &(index + 1).to_string()), ("{label}", &choice.label)],
    );
    fit(&text, MAX_CHARS)
}

/// The list of options for a text that named no choice.
pub fn help_text(texts: &SmsTexts, decision: &Decision) -> String {
    let template = texts.help.as_deref().unwrap_or(DEFAULT_HELP);
    let options: Vec<String> = decision
        .choices
        .iter()
        .enumerate()
        .map(|(i, c)| match letter(i) {
            Some(l) => format!("{} or {l}: {}", i + 1, c.label),
            None => format!("{}: {}", i + 1, c.label),
        })
        .collect();
    // Drop whole options from the end until it fits, saying there are more.
    for shown in (1..=options.len()).rev() {
        let mut list = options[..shown].join(", ");
        if shown < options.len() {
            list.push_str(MORE);
        }
        let text = fill(template, &[("{options}", &list)]);
        if text.chars().count() <= MAX_CHARS {
            return text;
        }
    }
    fit(&fill(template, &[("{options}", &options.join(", "))]), MAX_CHARS)
}

/// The reply when no vote is open.
pub fn closed_text(texts: &SmsTexts) -> String {
    fit(texts.closed.as_deref().unwrap_or(DEFAULT_CLOSED), MAX_CHARS)
}

fn letter(index: usize) -> Option<char> {
    u8::try_from(index)
        .ok()
        .filter(|i| *i < 26)
        .map(|i| char::from(b'A' + i))
}

/// Replaces each placeholder in one left-to-right pass.
fn fill(template: &str, values: &[(&str, &str)]) -> String {
    let mut out = String::with_capacity(template.len());
    let mut rest = template;
    'outer: while !rest.is_empty() {
        for (key, value) in values {
            if let Some(after) = rest.strip_prefix(key) {
                out.push_str(value);
                rest = after;
                continue 'outer;
            }
        }
        let mut chars = rest.chars();
        if let Some(c) = chars.next() {
            out.push(c);
        }
        rest = chars.as_str();
    }
    out
}

/// `text` cut to `max` characters, ending in `...` when cut.
pub(crate) fn fit(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_string();
    }
    let cut: String = text.chars().take(max.saturating_sub(3)).collect();
    format!("{}...", cut.trim_end())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn texts() -> SmsTexts {
        SmsTexts {
            replies: true,
            ..SmsTexts::default()
        }
    }

    fn decision(labels: &[&str]) -> Decision {
        Decision {
            id: "build".to_string(),
            prompt: "What do we build?".to_string(),
            choices: labels
                .iter()
                .enumerate()
                .map(|(i, l)| Choice {
                    id: format!("c{i}"),
                    label: l.to_string(),
                    keywords: Vec::new(),
                    goto: "next".to_string(),
                })
                .collect(),
            results: None,
            rules: Default::default(),
        }
    }

    #[test]
    fn the_confirmation_names_the_choice_and_how_to_change_it() {
        let d = decision(&["Tinder for Pets", "Dachshund Doc Send delivery"]);
        assert_eq!(
            confirm_text(&texts(), 1, &d.choices[1]),
            "Your vote for 2 (Dachshund Doc Send delivery) is counted. Text another number to change it."
        );
    }

    #[test]
    fn help_lists_numbers_letters_and_labels() {
        let d = decision(&["Tinder for Pets", "Dachshund Doc Send delivery"]);
        assert_eq!(
            help_text(&texts(), &d),
            "Text the number or letter of your choice: 1 or A: Tinder for Pets, 2 or B: Dachshund Doc Send delivery"
        );
    }

    #[test]
    fn the_story_overrides_each_text() {
        let t = SmsTexts {
            replies: true,
            confirm: Some("Got {label} ({choice}). {label}!".to_string()),
            help: Some("Options: {options}.".to_string()),
            closed: Some("Voting is closed, hang on.".to_string()),
        };
        let d = decision(&["Pets {choice}", "Docs"]);
        assert_eq!(confirm_text(&t, 1, &d.choices[1]), "Got Docs (2). Docs!");
        assert_eq!(
            confirm_text(&t, 0, &d.choices[0]),
            "Got Pets {choice} (1). Pets {choice}!",
            "a label is not a template"
        );
        assert_eq!(help_text(&t, &d), "Options: 1 or A: Pets {choice}, 2 or B: Docs.");
        assert_eq!(closed_text(&t), "Voting is closed, hang on.");
        assert_eq!(closed_text(&texts()), "No vote is open right now.");
    }

    #[test]
    fn long_help_drops_whole_options_and_says_so() {
        let long = "x".repeat(60);
        let labels: Vec<&str> = (0..9).map(|_| long.as_str()).collect();
        let text = help_text(&texts(), &decision(&labels));
        assert!(text.chars().count() <= MAX_CHARS, "{} chars", text.chars().count());
        assert!(text.ends_with(MORE), "{text}");
        assert!(text.contains("1 or A: "), "{text}");
        assert!(!text.contains("9 or I"), "{text}");
    }

    #[test]
    fn every_text_stays_within_two_segments() {
        let huge = "é".repeat(1000);
        let t = SmsTexts {
            replies: true,
            confirm: Some(format!("{huge}{{label}}")),
            help: Some(huge.clone()),
            closed: Some(huge.clone()),
        };
        let d = decision(&[&huge, &huge]);
        for text in [
            confirm_text(&t, 0, &d.choices[0]),
            confirm_text(&texts(), 0, &d.choices[0]),
            help_text(&t, &d),
            help_text(&texts(), &d),
            closed_text(&t),
        ] {
            assert_eq!(text.chars().count(), MAX_CHARS);
            assert!(text.ends_with("..."));
        }
    }

    #[test]
    fn twiml_escapes_the_text() {
        assert_eq!(
            message(&texts(), "1 < 2 & \"A\" > 'b'\u{0}\u{7}\n"),
            r#"<?xml version="1.0" encoding="UTF-8"?><Response><Message>1 &lt; 2 &amp; &quot;A&quot; &gt; &#39;b&#39;
</Message></Response>"#
        );
    }

    #[test]
    fn replies_off_send_an_empty_response() {
        let off = SmsTexts::default();
        assert!(!off.replies);
        assert_eq!(message(&off, "thanks"), empty());
        assert_eq!(empty(), r#"<?xml version="1.0" encoding="UTF-8"?><Response/>"#);
    }
}
