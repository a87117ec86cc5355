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
        if word.is_ascii() {
            // Most words: lowercase in place, not char by char.
            let start = out.len();
            out.push_str(word);
            out[start..].make_ascii_lowercase();
        } else {
            out.extend(word.chars().flat_map(char::to_lowercase));
        }
    }
    out
}

/// Whether `text` has a word at all once normalised: `normalise(text)` is
/// empty exactly when no character of `text` is a letter or digit. Checked
/// without building the normal form.
pub(super) fn has_word(text: &str) -> bool {
    text.chars().any(char::is_alphanumeric)
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

/// The choice (0-based index, and whether by number or letter) that a
/// normalised word names automatically in a decision of `choices` choices:
/// `"2"` is the second choice's number, `"b"` its letter. `"02"` is neither.
pub(super) fn automatic(word: &str, choices: usize) -> Option<(usize, Source)> {
    let bytes = word.as_bytes();
    let index = match bytes {
        [b'1'..=b'9', rest @ ..] if rest.iter().all(u8::is_ascii_digit) => {
            (word.parse::<usize>().ok()? - 1, Source::Number)
        }
        [c @ b'a'..=b'z'] => (usize::from(c - b'a'), Source::Letter),
        _ => return None,
    };
    (index.0 < choices).then_some(index)
}

/// The words the author wrote for a choice, normalised: its id, label and
/// keywords. Words that normalise to nothing (an emoji-only label) are left
/// out.
pub(super) fn written(choice: &Choice) -> impl Iterator<Item = (String, Source)> + '_ {
    let id = (normalise(&choice.id), Source::Id);
    let label = (normalise(&choice.label), Source::Label);
    let keywords = choice
        .keywords
        .iter()
        .enumerate()
        .map(|(k, kw)| (normalise(kw), Source::Keyword(k)));
    [id, label].into_iter().chain(keywords).filter(|(w, _)| !w.is_empty())
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
        if let Some((i, _)) = automatic(&text, self.choices.len()) {
            return self.choices.get(i);
        }
        self.choices.iter().find(|c| written(c).any(|(w, _)| w == text))
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
            results: None,
            rules: Default::default(),
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
    fn has_word_says_whether_the_normal_form_is_empty() {
        for text in ["", " ", "?!", " ?! 🎉 ", "a", "(B)!", "🐶 x", "É", "٣", "_-_", "Don't"] {
            assert_eq!(has_word(text), !normalise(text).is_empty(), "{text:?}");
        }
    }

    #[test]
    fn normalise_lowercases_mixed_ascii_and_other_words() {
        assert_eq!(normalise("GO Straße ÉCOLE now"), "go straße école now");
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
    fn written_words_leave_out_what_normalises_to_nothing() {
        let c = Choice {
            id: "x".into(),
            label: "🎉".into(),
            keywords: vec!["!!".into(), "Yes!".into()],
            goto: "end".into(),
        };
        let w: Vec<_> = written(&c).collect();
        assert_eq!(
            w,
            [("x".to_string(), Source::Id), ("yes".to_string(), Source::Keyword(1))]
        );
    }

    #[test]
    fn automatic_words_are_numbers_and_letters_of_existing_choices() {
        assert_eq!(automatic("1", 3), Some((0, Source::Number)));
        assert_eq!(automatic("c", 3), Some((2, Source::Letter)));
        assert_eq!(automatic("12", 12), Some((11, Source::Number)));
        for (word, why) in [
            ("4", "past the end"),
            ("d", "past the end"),
            ("0", "zero"),
            ("02", "leading zero"),
            ("ab", "two letters"),
            ("", "empty"),
            ("99999999999999999999999", "huge"),
        ] {
            assert_eq!(automatic(word, 3), None, "{why}");
        }
    }
}
