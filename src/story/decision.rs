//! Reading a decision and its choices: 2 to 9 choices with unique ids, and
//! no SMS word shared by two choices.

use std::collections::{HashMap, HashSet};

use toml::de::DeValue;

use super::fields::{a, is_id};
use super::load::{Reader, Value};
use super::sms::{self, Source};
use super::{Choice, Decision, MAX_CHOICES, MAX_ID_LEN, MIN_CHOICES};

const DECISION_FIELDS: [&str; 6] = ["prompt", "choices", "results", "min_votes", "tie", "timer"];
const CHOICE_FIELDS: [&str; 4] = ["id", "label", "keywords", "goto"];

impl Reader<'_> {
    /// The decision of slide `slide_id`; `goto_at` gets where each choice's
    /// `goto` is, for the link checks.
    pub(super) fn decision(&mut self, slide_id: &str, value: &Value<'_>, goto_at: &mut Vec<usize>) -> Option<Decision> {
        let table = self.table(value, "decision")?;
        let at = value.span().start;
        let [prompt, choices_field, results, min_votes, tie, timer] = self.fields(table, &DECISION_FIELDS);
        let prompt = self
            .required_text_field(
                "prompt",
                prompt,
                at,
                "the question put to the audience, `prompt = \"...\"`",
            )
            .unwrap_or_default()
            .to_string();
        let mut choices = Vec::new();
        // Spans of each choice's id, label and keywords, for collision messages.
        let mut choice_places: Vec<ChoicePlaces> = Vec::new();
        match choices_field {
            None => self.p.error(
                at,
                format!("missing `choices`: decision `{slide_id}` needs {MIN_CHOICES} to {MAX_CHOICES} choices"),
            ),
            Some((key, v)) => match v.get_ref() {
                DeValue::Array(items) => {
                    let n = items.len();
                    choices.reserve(n);
                    choice_places.reserve(n);
                    if !(MIN_CHOICES..=MAX_CHOICES).contains(&n) {
                        self.p.error(
                            key.span().start,
                            format!(
                                "decision `{slide_id}` has {n} {}; a decision needs {MIN_CHOICES} to {MAX_CHOICES}",
                                if n == 1 { "choice" } else { "choices" }
                            ),
                        );
                    }
                    for item in items.iter() {
                        if let Some((choice, places)) = self.choice(item) {
                            goto_at.push(places.goto);
                            choices.push(choice);
                            choice_places.push(places);
                        }
                    }
                }
                other => self.p.error(
                    v.span().start,
                    format!(
                        "`choices` must be an array of choices like `[{{ id = \"a\", label = \"...\", goto = \"...\" }}]`, not {}",
                        a(other)
                    ),
                ),
            },
        }
        if self.choice_ids(slide_id, &choices, &choice_places) {
            self.sms_collisions(&choices, &choice_places);
        }
        let results = self.results_field(results);
        let rules = super::Rules {
            min_votes: self.min_votes_field(min_votes),
            tie: self.tie_field(tie),
            timer: self.timer_field(timer),
        };
        Some(Decision {
            id: slide_id.to_string(),
            prompt,
            choices,
            results,
            rules,
        })
    }

    /// One choice and where its parts are.
    fn choice(&mut self, value: &Value<'_>) -> Option<(Choice, ChoicePlaces)> {
        let at = value.span().start;
        let table = match value.get_ref() {
            DeValue::Table(t) => t,
            other => {
                self.p.error(
                    at,
                    format!(
                        "a choice must be a table like `{{ id = \"a\", label = \"...\", goto = \"...\" }}`, not {}",
                        a(other)
                    ),
                );
                return None;
            }
        };
        let [id, label, keywords_field, goto] = self.fields(table, &CHOICE_FIELDS);
        let id = self.required_str("id", id, at, "the choice's id, `id = \"a\"`");
        if let Some((id, id_at)) = id
            && !is_id(id)
        {
            self.p.error(
                id_at,
                format!("choice id `{id}` must be 1 to {MAX_ID_LEN} characters: lowercase letters a-z, digits and `-`"),
            );
        }
        let label_at = label.map_or(at, |(_, v)| v.span().start);
        let label = self.required_text_field("label", label, at, "what the audience sees, `label = \"...\"`");
        let goto = self.required_str("goto", goto, at, "the slide this choice leads to, `goto = \"...\"`");
        let mut keywords = Vec::new();
        let mut keyword_at = Vec::new();
        if let Some((_, v)) = keywords_field {
            match v.get_ref() {
                DeValue::Array(items) => {
                    for item in items.iter() {
                        match item.get_ref() {
                            DeValue::String(s) => {
                                if !sms::has_word(s) {
                                    self.p.error(
                                        item.span().start,
                                        format!("keyword `{s}` has no letters or digits, so no SMS can match it"),
                                    );
                                }
                                keywords.push(s.to_string());
                                keyword_at.push(item.span().start);
                            }
                            other => self.p.error(
                                item.span().start,
                                format!("each keyword must be a string, not {}", a(other)),
                            ),
                        }
                    }
                }
                other => self.p.error(
                    v.span().start,
                    format!(
                        "`keywords` must be an array of strings like `[\"yes\"]`, not {}",
                        a(other)
                    ),
                ),
            }
        }
        let (id, id_at) = id.unwrap_or_default();
        let (goto, goto_at) = goto.unwrap_or(("", at));
        let places = ChoicePlaces {
            id: if id.is_empty() { at } else { id_at },
            label: label_at,
            keywords: keyword_at,
            // A missing `goto` is already reported; no second error for it.
            goto: if goto.is_empty() { usize::MAX } else { goto_at },
        };
        let choice = Choice {
            id: id.to_string(),
            label: label.unwrap_or_default().to_string(),
            keywords,
            goto: goto.to_string(),
        };
        Some((choice, places))
    }

    /// Reports choice ids used twice; whether all were unique.
    fn choice_ids(&mut self, slide_id: &str, choices: &[Choice], places: &[ChoicePlaces]) -> bool {
        let mut unique = true;
        // A decision has a handful of choices: looking back beats hashing,
        // and a set takes over for a long (already refused) list, so that it
        // stays linear.
        let mut seen = HashSet::new();
        let few = choices.len() <= Owners::FEW;
        for (i, (c, at)) in choices.iter().zip(places).enumerate() {
            if c.id.is_empty() {
                continue;
            }
            let twice = if few {
                choices[..i].iter().any(|earlier| earlier.id == c.id)
            } else {
                !seen.insert(c.id.as_str())
            };
            if twice {
                self.p.error(
                    at.id,
                    format!("choice id `{}` is used twice in decision `{slide_id}`", c.id),
                );
                unique = false;
            }
        }
        unique
    }

    /// Refuses any SMS word (number, letter, id, label, keyword) that two
    /// choices of one decision share once normalised. Run only when choice
    /// ids are unique, so that messages can name choices by id.
    fn sms_collisions(&mut self, choices: &[Choice], places: &[ChoicePlaces]) {
        let mut owner = Owners::new();
        for (i, choice) in choices.iter().enumerate() {
            for (word, source) in sms::written(choice) {
                // Automatic words (numbers, letters) always belong to their
                // choice, so the blame falls on the written one.
                let taken = sms::automatic(&word, choices.len()).or_else(|| owner.get(&word));
                match taken {
                    Some((j, _)) if j == i => {}
                    Some((j, theirs)) => {
                        let (raw, at) = match source {
                            Source::Id => (choice.id.as_str(), places[i].id),
                            Source::Label => (choice.label.as_str(), places[i].label),
                            Source::Keyword(k) => (choice.keywords[k].as_str(), places[i].keywords[k]),
                            Source::Number | Source::Letter => continue,
                        };
                        self.p.error(
                            at,
                            format!(
                                "{} `{raw}` of choice `{}` reads `{word}` over SMS, which already names choice `{}` (its {}); change one so that a text names one choice",
                                source.describe(),
                                choice.id,
                                choices[j].id,
                                theirs.describe(),
                            ),
                        );
                    }
                    None => {
                        owner.insert(word, (i, source));
                    }
                }
            }
        }
    }
}

/// Which choice first wrote each SMS word of a decision. A decision has a
/// handful of words, so a list searched in order beats hashing; a map takes
/// over past a few dozen, so that a decision stuffed with keywords stays
/// linear.
enum Owners {
    Few(Vec<(String, (usize, Source))>),
    Many(HashMap<String, (usize, Source)>),
}

impl Owners {
    const FEW: usize = 32;

    fn new() -> Self {
        Owners::Few(Vec::new())
    }

    fn get(&self, word: &str) -> Option<(usize, Source)> {
        match self {
            Owners::Few(list) => list.iter().find(|(w, _)| w == word).map(|(_, o)| *o),
            Owners::Many(map) => map.get(word).copied(),
        }
    }

    fn insert(&mut self, word: String, owner: (usize, Source)) {
        match self {
            Owners::Few(list) if list.len() < Self::FEW => list.push((word, owner)),
            Owners::Few(list) => {
                let mut map: HashMap<_, _> = std::mem::take(list).into_iter().collect();
                map.insert(word, owner);
                *self = Owners::Many(map);
            }
            Owners::Many(map) => {
                map.insert(word, owner);
            }
        }
    }
}

/// Where a choice's parts are, for messages.
struct ChoicePlaces {
    id: usize,
    label: usize,
    keywords: Vec<usize>,
    /// `usize::MAX` when the choice has no `goto`.
    goto: usize,
}
