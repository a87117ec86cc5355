//! The decision rules at Next: how a closed vote becomes the way on
//! (`min_votes`, `tie`), and who chose the way a run went on from a
//! decision, which the run records ([`crate::store::Chosen`]).
//!
//! The presenter's choice by number always wins: it is recorded as the
//! vote's only when it is the vote's clear winner, with enough votes.

use std::collections::BTreeMap;

use crate::store::{ChosenBy, RunId, RunState, Tally};
use crate::story::{Decision, Rules, Story, Tie};

use super::view::outcome;

/// What Next does with a closed vote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Way {
    /// Go on along this choice (its id), chosen by the vote or a tie rule.
    Follow {
        /// The choice's id.
        choice: String,
        /// The vote, or the tie rule that settled it.
        by: ChosenBy,
    },
    /// Fewer votes than `min_votes`: the presenter follows a choice.
    TooFew {
        /// Votes cast.
        total: u64,
        /// Votes needed.
        needed: u64,
    },
    /// A tie the rules leave to the presenter.
    Tie,
    /// Nobody voted.
    Nobody,
}

/// The way on from `decision` by its closed `tally` and `rules`; `seed`
/// draws a `tie = "random"` ([`seed`]).
pub fn way_on(decision: &Decision, rules: Rules, tally: &Tally, seed: u64) -> Way {
    let total: u64 = decision.choices.iter().map(|c| tally.get(&c.id)).sum();
    if let Some(needed) = rules.min_votes
        && total < needed
    {
        return Way::TooFew { total, needed };
    }
    match outcome(decision, tally) {
        (Some(choice), _) => Way::Follow {
            choice,
            by: ChosenBy::Vote,
        },
        (None, Some(tied)) => match rules.tie.unwrap_or_default() {
            Tie::Presenter => Way::Tie,
            Tie::First => Way::Follow {
                choice: tied[0].clone(),
                by: ChosenBy::First,
            },
            Tie::Random => {
                let pick = (mix(seed) % tied.len() as u64) as usize;
                Way::Follow {
                    choice: tied[pick].clone(),
                    by: ChosenBy::Random,
                }
            }
        },
        (None, None) => Way::Nobody,
    }
}

/// Who chose `choice` when the presenter follows it by its number: the
/// vote when it is the vote's clear winner with enough votes, else the
/// presenter (over the vote, in a tie, or with too few votes).
pub fn follow_by(decision: &Decision, rules: Rules, tally: &Tally, choice: &str) -> ChosenBy {
    match way_on(decision, rules, tally, 0) {
        Way::Follow {
            choice: won,
            by: ChosenBy::Vote,
        } if won == choice => ChosenBy::Vote,
        _ => ChosenBy::Presenter,
    }
}

/// Who chose the way on from each decision the run's path went on from,
/// as the run recorded it: an entry counts only while the path still goes
/// from its decision to its choice's slide (not after the presenter went
/// back and took another way by going to a slide).
pub fn chosen_on_path(story: &Story, state: &RunState) -> BTreeMap<String, ChosenBy> {
    state
        .chosen
        .iter()
        .filter(|c| {
            let goto = story
                .decision(&c.decision)
                .and_then(|d| d.choice(&c.choice))
                .map(|c| &c.goto);
            goto.is_some_and(|goto| {
                state
                    .path
                    .windows(2)
                    .any(|step| step[0] == c.decision && &step[1] == goto)
            })
        })
        .map(|c| (c.decision.clone(), c.by))
        .collect()
}

/// The draw of a `tie = "random"` in `run` at `decision`: from the run's
/// number, its start (so a store that starts over draws anew) and the
/// decision, so the same run draws the same choice on every instance and
/// every time.
pub fn seed(run: RunId, started: Option<u64>, decision: &str) -> u64 {
    // FNV-1a: fixed, unlike the standard library's keyed hasher.
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    let bytes = run
        .to_le_bytes()
        .into_iter()
        .chain(started.unwrap_or(0).to_le_bytes())
        .chain(decision.bytes());
    for b in bytes {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

/// SplitMix64's finaliser: spreads the seed's bits before the modulo.
fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::talk::view::tests::tally;

    fn decision() -> Decision {
        crate::talk::view::tests::decision(&["a", "b", "c"])
    }

    fn rules(min_votes: Option<u64>, tie: Option<Tie>) -> Rules {
        Rules {
            min_votes,
            tie,
            timer: None,
        }
    }

    #[test]
    fn a_clear_winner_with_enough_votes_is_followed() {
        let t = tally(&[("a", 1), ("b", 3)]);
        let want = Way::Follow {
            choice: "b".into(),
            by: ChosenBy::Vote,
        };
        assert_eq!(way_on(&decision(), rules(Some(4), None), &t, 0), want);
        assert_eq!(
            way_on(&decision(), rules(Some(5), None), &t, 0),
            Way::TooFew { total: 4, needed: 5 }
        );
        assert_eq!(way_on(&decision(), Rules::default(), &tally(&[]), 0), Way::Nobody);
    }

    #[test]
    fn ties_follow_the_rule() {
        let t = tally(&[("a", 1), ("b", 2), ("c", 2)]);
        assert_eq!(way_on(&decision(), rules(None, None), &t, 0), Way::Tie);
        assert_eq!(
            way_on(&decision(), rules(None, Some(Tie::First)), &t, 0),
            Way::Follow {
                choice: "b".into(),
                by: ChosenBy::First
            }
        );
        // Random: the same seed draws the same; across seeds both come up.
        let draw = |s: u64| match way_on(&decision(), rules(None, Some(Tie::Random)), &t, s) {
            Way::Follow {
                choice,
                by: ChosenBy::Random,
            } => choice,
            other => panic!("{other:?}"),
        };
        assert_eq!(draw(seed(3, Some(17), "d")), draw(seed(3, Some(17), "d")));
        let drawn: std::collections::BTreeSet<String> = (0..64).map(|run| draw(seed(run, Some(17), "d"))).collect();
        assert_eq!(drawn.into_iter().collect::<Vec<_>>(), ["b", "c"]);
    }

    #[test]
    fn the_presenters_number_is_the_votes_only_when_it_is_the_clear_winner() {
        let t = tally(&[("a", 1), ("b", 3)]);
        assert_eq!(follow_by(&decision(), Rules::default(), &t, "b"), ChosenBy::Vote);
        assert_eq!(follow_by(&decision(), Rules::default(), &t, "a"), ChosenBy::Presenter);
        assert_eq!(
            follow_by(&decision(), rules(Some(9), None), &t, "b"),
            ChosenBy::Presenter
        );
        let tied = tally(&[("a", 2), ("b", 2)]);
        assert_eq!(
            follow_by(&decision(), rules(None, Some(Tie::First)), &tied, "a"),
            ChosenBy::Presenter
        );
    }
}
