//! How an SMS text picks a choice: one normal form for texts, used both to
//! match votes and, when a story loads, to refuse words two choices share.
//!
//! A choice answers to its number (`1`..), its letter (`A`..), its id, its
//! label and its keywords, each compared after [`normalise`].

use super::{Choice, Decision};

/// The form SMS text is compared in: lowercase, words separated by single
/// spaces, punctuation and emoji stripped from both ends of every word
/// (`"  Tinder for Pets!! 🐶"` -> `"tinder for pets"`, `"(b)"` -> `"b"`).
/// Punctuation inside a word stays (`"don't"`, `"tinder-for-pets"`).
pub fn normalise(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for word in text.split_whitespace() {
        let word = word.trim_matches(|c: char| !c.is_alphanumeric());
        if word.is_empty() {
            continue;
        }
        if !out.is_empty() {
            out.push(' ');
        }
        out.extend(word.chars().flat_map(char::to_lowercase));
    }
    out
}

/// Where a word a choice answers to comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Source {
    /// The choice's automatic number, 1..N.
    Number,
    /// The choice's automatic letter, A...
    Letter,
    /// The choice's id.
    Id,
    /// The choice's label.
    Label,
    /// One of the choice's keywords (its index).
    Keyword(usize),
}

impl Source {
    /// How messages name this source.
    pub fn describe(self) -> &'static str {
        match self {
            Source::Number => "number",
            Source::Letter => "letter",
            Source::Id => "id",
            Source::Label => "label",
            Source::Keyword(_) => "keyword",
        }
    }
}

/// The automatic letter of the choice at `index` (0-based): `a`, `b`, ...
/// `None` past `z`, which the 9-choice limit never reaches.
pub(super) fn letter(index: usize) -> Option<char> {
    u8::try_from(index)
        .ok()
        .filter(|&i| i < 26)
        .map(|i| char::from(b'a' + i))
}

/// Every normalised word the choice at `index` answers to, automatic ones
/// first. Words that normalise to nothing (an emoji-only label) are left out.
pub(super) fn words(index: usize, choice: &Choice) -> Vec<(String, Source)> {
    let mut out = vec![((index + 1).to_string(), Source::Number)];
    if let Some(l) = letter(index) {
        out.push((l.to_string(), Source::Letter));
    }
    out.push((normalise(&choice.id), Source::Id));
    out.push((normalise(&choice.label), Source::Label));
    for (k, kw) in choice.keywords.iter().enumerate() {
        out.push((normalise(kw), Source::Keyword(k)));
    }
    out.retain(|(w, _)| !w.is_empty());
    out
}

impl Decision {
    /// The choice an SMS text votes for, if any: the text, normalised, must
    /// equal a choice's number, letter, id, label or one of its keywords,
    /// normalised the same way ([`normalise`]). A checked story has no word
    /// shared by two choices, so at most one choice can match.
    pub fn sms_match(&self, text: &str) -> Option<&Choice> {
        let text = normalise(text);
        if text.is_empty() {
            return None;
        }
        self.choices
            .iter()
            .enumerate()
            .find(|(i, c)| words(*i, c).iter().any(|(w, _)| *w == text))
            .map(|(_, c)| c)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decision() -> Decision {
        let choice = |id: &str, label: &str, keywords: &[&str]| Choice {
            id: id.into(),
            label: label.into(),
            keywords: keywords.iter().map(|k| k.to_string()).collect(),
            goto: "end".into(),
        };
        Decision {
            id: "host".into(),
            prompt: "Where do we deploy?".into(),
            choices: vec![
                choice("paas", "A Platform as a Service", &["heroku", "PaaS please"]),
                choice("vps", "Our own Linux server", &["linux box"]),
                choice("k8s", "Kubernetes!", &[]),
            ],
        }
    }

    #[test]
    fn normalise_lowercases_trims_and_collapses_spaces() {
        assert_eq!(normalise("  Tinder   for\tPets "), "tinder for pets");
    }

    #[test]
    fn normalise_strips_punctuation_and_emoji_around_words() {
        assert_eq!(normalise("(B)!"), "b");
        assert_eq!(normalise("\"yes\", 🐶 please 🙏"), "yes please");
        assert_eq!(normalise("#2."), "2");
    }

    #[test]
    fn normalise_keeps_punctuation_inside_words() {
        assert_eq!(normalise("Don't stop"), "don't stop");
        assert_eq!(normalise("tinder-for-pets"), "tinder-for-pets");
    }

    #[test]
    fn normalise_of_only_punctuation_is_empty() {
        assert_eq!(normalise(" ?! 🎉 "), "");
    }

    #[test]
    fn normalise_lowercases_beyond_ascii() {
        assert_eq!(normalise("ÉCOLE Straße"), "école straße");
    }

    #[test]
    fn sms_matches_number_letter_id_label_and_keywords() {
        let d = decision();
        let picked = |text: &str| d.sms_match(text).map(|c| c.id.as_str());
        let cases = [
            ("1", Some("paas"), "number"),
            (" 2. ", Some("vps"), "number with punctuation"),
            ("c", Some("k8s"), "letter"),
            ("(B)", Some("vps"), "letter in brackets"),
            ("K8S", Some("k8s"), "id in capitals"),
            ("kubernetes", Some("k8s"), "label without its exclamation mark"),
            ("a platform as a service", Some("paas"), "whole label"),
            ("Heroku!!", Some("paas"), "keyword"),
            ("paas   PLEASE", Some("paas"), "keyword of two words"),
            ("linux box 🐧", Some("vps"), "keyword with emoji"),
            ("4", None, "number past the last choice"),
            ("d", None, "letter past the last choice"),
            ("", None, "empty text"),
            ("🙂", None, "emoji only"),
            ("heroku please", None, "words of two keywords"),
        ];
        for (text, want, why) in cases {
            assert_eq!(picked(text), want, "{why}: {text:?}");
        }
    }

    #[test]
    fn words_leave_out_what_normalises_to_nothing() {
        let c = Choice {
            id: "x".into(),
            label: "🎉".into(),
            keywords: vec!["!!".into()],
            goto: "end".into(),
        };
        let w: Vec<_> = words(0, &c).into_iter().map(|(w, _)| w).collect();
        assert_eq!(w, ["1", "a", "x"]);
    }
}
