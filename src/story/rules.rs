//! Reading a decision's rules, `min_votes`, `tie` and `timer`, on a
//! decision or as the story's defaults in `[settings]`: how many votes make
//! the vote's winner the way on, what Next does when the vote ties, and the
//! countdown that closes the vote by itself.

use toml::de::DeValue;

use super::fields::shown;
use super::load::{Field, Reader};

/// The largest `min_votes`: more than any room holds, so a bigger number
/// is a typo.
pub const MAX_MIN_VOTES: u64 = 1_000_000;

/// The longest `timer`, in seconds: an hour.
pub const MAX_TIMER: u64 = 3600;

/// What Next does when several choices share the most votes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Tie {
    /// Nothing: the presenter follows a choice by its number (the default).
    #[default]
    Presenter,
    /// The first of the tied choices, in the story's order.
    First,
    /// One of the tied choices at random, drawn from the run (its number
    /// and start), so the same run always draws the same one.
    Random,
}

impl Tie {
    /// The names the story file uses.
    pub const NAMES: [&'static str; 3] = ["presenter", "first", "random"];

    /// As written in the story file.
    pub fn as_str(self) -> &'static str {
        match self {
            Tie::Presenter => "presenter",
            Tie::First => "first",
            Tie::Random => "random",
        }
    }
}

impl Reader<'_> {
    /// `min_votes = N`: 1 to [`MAX_MIN_VOTES`] votes.
    pub(super) fn min_votes_field(&mut self, field: Option<Field<'_, '_>>) -> Option<u64> {
        self.whole_number(field, MAX_MIN_VOTES, |v| {
            format!("`min_votes` must be a whole number of votes from 1 to {MAX_MIN_VOTES}, not {v}; leave it out for no minimum")
        })
    }

    /// `timer = SECONDS`: 1 to [`MAX_TIMER`] seconds.
    pub(super) fn timer_field(&mut self, field: Option<Field<'_, '_>>) -> Option<u64> {
        self.whole_number(field, MAX_TIMER, |v| {
            format!(
                "`timer` must be a whole number of seconds from 1 to {MAX_TIMER}, not {v}; leave it out for a vote that stays open until you close it"
            )
        })
    }

    /// A whole number from 1 to `max`; anything else is the error `why`
    /// (given the value as written) at the value.
    fn whole_number(
        &mut self,
        field: Option<Field<'_, '_>>,
        max: u64,
        why: impl FnOnce(&str) -> String,
    ) -> Option<u64> {
        let (_, v) = field?;
        let n = match v.get_ref() {
            DeValue::Integer(i) => u64::from_str_radix(i.as_str(), i.radix())
                .ok()
                .filter(|n| (1..=max).contains(n)),
            _ => None,
        };
        if n.is_none() {
            self.p.error(v.span().start, why(&shown(self.text, v)));
        }
        n
    }

    /// `tie = "presenter" | "first" | "random"`.
    pub(super) fn tie_field(&mut self, field: Option<Field<'_, '_>>) -> Option<Tie> {
        let (name, at) = self.str_field("tie", field)?;
        match name {
            "presenter" => Some(Tie::Presenter),
            "first" => Some(Tie::First),
            "random" => Some(Tie::Random),
            other => {
                let hint = self.did_you_mean(other, &Tie::NAMES);
                self.p.error(
                    at,
                    format!(
                        "`tie` must be `presenter`, `first` or `random`, not `{}`{hint}",
                        other.chars().take(40).collect::<String>().escape_debug()
                    ),
                );
                None
            }
        }
    }
}
