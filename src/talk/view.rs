//! Where the talk stands, as every client sees it: the JSON of
//! `/api/state`, of the sockets' `state` messages, and what the pages show.

use serde::Serialize;

use super::Talk;
use crate::store::{Now, Published, RunId, RunRecord, RunState, StoreError, Tally, Voter, now_ms};
use crate::story::{Decision, Results, Story};

/// The run, the slide on screen, and the decision at hand.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct StateView {
    /// The current run.
    pub run: RunId,
    /// The slide on screen.
    pub slide: SlideView,
    /// The current slide's decision, or the open one; `None` between votes.
    pub decision: Option<DecisionView>,
    /// The caller's choice on `decision`, when the caller is a known voter.
    pub you: Option<String>,
    /// The number to text a vote to, when SMS voting is on and a number
    /// is set; `null` otherwise.
    pub sms: Option<SmsView>,
    /// When the run began (ms since the Unix epoch, the store's clock);
    /// `null` for a run recorded before cyoa kept it.
    pub started: Option<u64>,
    /// Whether `/results` and `/explore` are open to the audience in this
    /// run.
    pub published: Published,
    /// The open vote's countdown, when one runs; left out of the JSON
    /// otherwise.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub timer: Option<TimerView>,
    /// The run's room code, in the presenter's state only (never the
    /// audience's: it would let anyone in); left out of the JSON when it
    /// is not there. The talk leaves it out; the web layer adds it for the
    /// presenter (`AppState::for_presenter`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub room_code: Option<String>,
    /// The run's label, in the presenter's state only, so that every open
    /// console shows a new name at once; left out when there is none. The
    /// talk keeps it in `run_label`; the web layer adds it for the
    /// presenter (`AppState::for_presenter`), as the room code.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
    /// The run's label as the store keeps it, never sent as it is.
    #[serde(skip)]
    pub run_label: Option<String>,
}

/// The countdown that closes the open vote by itself.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct TimerView {
    /// The decision whose vote it closes.
    pub decision: String,
    /// Milliseconds left, by the server's clock when this state was sent
    /// ([`StateView::fresh`]): every page counts down from it, not from
    /// its own clock, so every screen shows the same time.
    pub remaining_ms: u64,
    /// When it ends, in ms since the Unix epoch (the store's clock): what
    /// the timer keeper waits for. Not sent.
    #[serde(skip)]
    pub deadline: u64,
}

impl TimerView {
    /// The countdown of `state`'s open vote, if one runs.
    fn of(state: &RunState) -> Option<TimerView> {
        let (Some(decision), Some(deadline)) = (&state.open, state.deadline) else {
            return None;
        };
        Some(TimerView {
            decision: decision.clone(),
            remaining_ms: deadline.saturating_sub(now_ms()),
            deadline,
        })
    }

    /// Whole seconds left, rounded up: what the pages show (`0:12`).
    pub fn seconds(&self) -> u64 {
        self.remaining_ms.div_ceil(1000)
    }

    /// The time left as `M:SS`.
    pub fn clock(&self) -> String {
        let s = self.seconds();
        format!("{}:{:02}", s / 60, s % 60)
    }
}

/// How to vote by text message.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct SmsView {
    /// The number to text, as given to `--sms-number`.
    pub number: String,
}

impl SmsView {
    /// What the pages show, if anything: SMS voting on and a number set.
    pub fn of(talk: &Talk) -> Option<SmsView> {
        let number = talk.sms_number.clone()?;
        Some(SmsView { number })
    }

    /// What to send for a decision with `choices` choices: `1–3 or A–C`
    /// (`1 or A` for one choice; numbers only past 26 choices).
    pub fn keys(choices: usize) -> String {
        let letter = |i: usize| char::from(b'A' + (i % 26) as u8);
        match choices {
            0 | 1 => "1 or A".to_string(),
            n if n <= 26 => format!("1–{n} or A–{}", letter(n - 1)),
            n => format!("1–{n}"),
        }
    }
}

/// The SMS line of a page: "Text {keys} to {number}".
#[derive(Debug, Clone, PartialEq)]
pub struct SmsHint {
    /// [`SmsView::keys`] of the decision.
    pub keys: String,
    /// The number to text.
    pub number: String,
}

impl SmsHint {
    /// The line for `decision`, when SMS voting is on and a number is set.
    pub fn of(view: &StateView, decision: &DecisionView) -> Option<SmsHint> {
        view.sms.as_ref().map(|s| SmsHint {
            keys: SmsView::keys(decision.choices.len()),
            number: s.number.clone(),
        })
    }
}

/// A slide, by id and title.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct SlideView {
    /// Slide id.
    pub id: String,
    /// Slide title.
    pub title: String,
    /// Its image's text alternative (an imported page's words), shown
    /// under the title on phones; left out when empty.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub alt: String,
}

/// Where a decision's vote stands.
#[derive(Debug, Clone, Copy, Serialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// Not opened yet in this run.
    Pending,
    /// Taking votes.
    Open,
    /// Closed; its tally is frozen.
    Closed,
}

/// A decision with its live (or frozen) tally.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct DecisionView {
    /// Decision id (its slide's id).
    pub id: String,
    /// The question.
    pub prompt: String,
    /// Pending, open or closed.
    pub status: Status,
    /// Every choice, in story order, with its votes.
    pub choices: Vec<ChoiceView>,
    /// Votes in all.
    pub total: u64,
    /// The single choice with the most votes, if it has any.
    pub winner: Option<String>,
    /// The choices sharing the most votes, when several do.
    pub tie: Option<Vec<String>>,
    /// The counts are hidden until the vote closes (`results = "hidden"`):
    /// every choice's `votes` is 0 and there is no `winner` or `tie`; only
    /// `total` is real, so the presenter sees votes arriving. Left out of
    /// the JSON when false.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub hidden: bool,
    /// The fewest votes for Next to follow the vote (the decision's
    /// `min_votes`); below it the presenter view says "not enough votes".
    /// Left out of the JSON when the decision has no minimum.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub min_votes: Option<u64>,
}

/// One choice with its votes.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct ChoiceView {
    /// Choice id.
    pub id: String,
    /// Button text.
    pub label: String,
    /// 1-based number (the key that follows it, the SMS digit).
    pub number: usize,
    /// A, B, C...
    pub letter: String,
    /// Votes for it.
    pub votes: u64,
}

/// The winner (one choice at the top with votes) or the tie (several).
pub fn outcome(decision: &Decision, tally: &Tally) -> (Option<String>, Option<Vec<String>>) {
    let max = decision.choices.iter().map(|c| tally.get(&c.id)).max().unwrap_or(0);
    if max == 0 {
        return (None, None);
    }
    let top: Vec<String> = decision
        .choices
        .iter()
        .filter(|c| tally.get(&c.id) == max)
        .map(|c| c.id.clone())
        .collect();
    match top.as_slice() {
        [one] => (Some(one.clone()), None),
        _ => (None, Some(top)),
    }
}

impl DecisionView {
    /// The view of `decision` in a run, given its tally.
    pub fn new(decision: &Decision, status: Status, tally: &Tally) -> Self {
        let (winner, tie) = outcome(decision, tally);
        DecisionView {
            id: decision.id.clone(),
            prompt: decision.prompt.clone(),
            status,
            choices: decision
                .choices
                .iter()
                .enumerate()
                .map(|(i, c)| ChoiceView {
                    id: c.id.clone(),
                    label: c.label.clone(),
                    number: i + 1,
                    letter: char::from(b'A' + (i % 26) as u8).to_string(),
                    votes: tally.get(&c.id),
                })
                .collect(),
            total: decision.choices.iter().map(|c| tally.get(&c.id)).sum(),
            winner,
            tie,
            hidden: false,
            min_votes: None,
        }
    }

    /// The same view with only its total: what every page and socket gets
    /// of an open vote whose results are hidden.
    pub fn without_counts(mut self) -> Self {
        for c in &mut self.choices {
            c.votes = 0;
        }
        self.winner = None;
        self.tie = None;
        self.hidden = true;
        self
    }

    /// The label of a choice.
    pub fn label<'a>(&'a self, id: &'a str) -> &'a str {
        self.choices
            .iter()
            .find(|c| c.id == id)
            .map_or(id, |c| c.label.as_str())
    }
}

/// The frozen tally of `decision` in `record`, if its vote closed.
pub fn frozen_tally<'a>(record: &'a RunRecord, decision: &str) -> Option<&'a Tally> {
    record.closed.iter().find(|c| c.decision == decision).map(|c| &c.tally)
}

/// The decision's view in the current run as read `now`: open (with the
/// open vote's live tally), closed (frozen tally), or pending.
pub fn decision_in_run(talk: &Talk, now: &Now, decision: &Decision) -> DecisionView {
    let min_votes = talk.story().rules_of(decision).min_votes;
    if now.record.state.open.as_deref() == Some(decision.id.as_str()) {
        let mut view = DecisionView::new(decision, Status::Open, &now.tally);
        view.min_votes = min_votes;
        // Hidden results never leave the server while the vote is open.
        return match talk.story().results_of(decision) {
            Results::Hidden => view.without_counts(),
            Results::Live => view,
        };
    }
    let mut view = match frozen_tally(&now.record, &decision.id) {
        Some(tally) => DecisionView::new(decision, Status::Closed, tally),
        None => DecisionView::new(decision, Status::Pending, &Tally::default()),
    };
    view.min_votes = min_votes;
    view
}

/// Where the current run stands (creating run 1 on first use), with the
/// open vote's tally: one store call.
pub async fn now(talk: &Talk) -> Result<Now, StoreError> {
    talk.store.now(&talk.story().start, None, None).await
}

/// The current run's record (creating run 1 on first use).
pub async fn current_record(talk: &Talk) -> Result<RunRecord, StoreError> {
    Ok(now(talk).await?.record)
}

fn slide_view(story: &Story, id: &str) -> SlideView {
    SlideView {
        id: id.to_string(),
        // A slide missing from the story (a Redis run of an older story
        // file) is shown by its id rather than failing every page.
        title: story.slide(id).map_or_else(|| id.to_string(), |s| s.title.clone()),
        alt: story.slide(id).map(|s| s.alt.clone()).unwrap_or_default(),
    }
}

impl StateView {
    /// Where the talk stands now, without `you`.
    pub async fn load(talk: &Talk) -> Result<StateView, StoreError> {
        Self::read(talk, None, None).await
    }

    /// Where the talk stands now as `voter`'s page shows it (`you` is its
    /// choice), showing `pinned` if given, else the slide's decision or the
    /// open one: one store call ([`VoteStore::now`]), read in one step.
    ///
    /// [`VoteStore::now`]: crate::store::VoteStore::now
    pub async fn read(talk: &Talk, voter: Option<&Voter>, pinned: Option<&Decision>) -> Result<StateView, StoreError> {
        let story = talk.story();
        let now = talk
            .store
            .now(&story.start, voter, pinned.map(|d| d.id.as_str()))
            .await?;
        let state = &now.record.state;
        let decision = pinned
            .or_else(|| story.decision(&state.slide))
            .or_else(|| state.open.as_deref().and_then(|d| story.decision(d)));
        let mut view = StateView::of(talk, &now.record, decision.map(|d| decision_in_run(talk, &now, d)));
        view.you = match (voter, decision) {
            (Some(v), Some(d)) => match now.choice_on(&d.id) {
                Some(choice) => choice,
                // Not a decision the store was asked about: read on its own.
                None => talk.store.choice_of(view.run, &d.id, v).await?,
            },
            _ => None,
        };
        Ok(view)
    }

    /// The view of `record`, the current run, showing `decision`.
    fn of(talk: &Talk, record: &RunRecord, decision: Option<DecisionView>) -> StateView {
        StateView {
            run: record.state.run,
            slide: slide_view(&talk.story(), &record.state.slide),
            decision,
            you: None,
            sms: SmsView::of(talk),
            started: record.state.started,
            published: record.state.published,
            timer: TimerView::of(&record.state),
            room_code: None,
            label: None,
            run_label: record.state.label.clone(),
        }
    }

    /// The same state with the countdown's time left as of now: for a
    /// state read a while ago (a push queued for a slow socket).
    pub fn fresh(mut self) -> Self {
        if let Some(t) = &mut self.timer {
            t.remaining_ms = t.deadline.saturating_sub(now_ms());
        }
        self
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::story::Choice;

    /// A decision `d` with these choice ids, for the talk's unit tests.
    pub(crate) fn decision(ids: &[&str]) -> Decision {
        Decision {
            id: "d".into(),
            prompt: "?".into(),
            choices: ids
                .iter()
                .map(|id| Choice {
                    id: id.to_string(),
                    label: id.to_uppercase(),
                    keywords: vec![],
                    goto: "x".into(),
                })
                .collect(),
            results: None,
            rules: Default::default(),
        }
    }

    /// A tally of these counts, for the talk's unit tests.
    pub(crate) fn tally(pairs: &[(&str, u64)]) -> Tally {
        Tally(pairs.iter().map(|(k, v)| (k.to_string(), *v)).collect())
    }

    #[test]
    fn no_votes_means_no_winner_and_no_tie() {
        assert_eq!(outcome(&decision(&["a", "b"]), &tally(&[])), (None, None));
    }

    #[test]
    fn the_single_most_voted_choice_wins() {
        assert_eq!(
            outcome(&decision(&["a", "b"]), &tally(&[("a", 1), ("b", 3)])),
            (Some("b".into()), None)
        );
    }

    #[test]
    fn several_choices_at_the_top_are_a_tie_in_story_order() {
        let d = decision(&["a", "b", "c"]);
        assert_eq!(
            outcome(&d, &tally(&[("c", 2), ("a", 2), ("b", 1)])),
            (None, Some(vec!["a".into(), "c".into()]))
        );
    }

    #[test]
    fn the_sms_line_names_the_numbers_and_letters_to_send() {
        assert_eq!(SmsView::keys(1), "1 or A");
        assert_eq!(SmsView::keys(3), "1–3 or A–C");
        assert_eq!(SmsView::keys(27), "1–27");
    }

    #[test]
    fn a_hidden_view_keeps_only_the_total() {
        let v = DecisionView::new(&decision(&["a", "b"]), Status::Open, &tally(&[("a", 1), ("b", 3)]));
        let hidden = v.without_counts();
        assert!(hidden.choices.iter().all(|c| c.votes == 0));
        assert_eq!(
            (hidden.total, hidden.winner, hidden.tie, hidden.hidden),
            (4, None, None, true)
        );
    }

    #[test]
    fn choices_are_numbered_and_lettered_in_story_order() {
        let v = DecisionView::new(&decision(&["a", "b"]), Status::Open, &tally(&[("b", 1)]));
        assert_eq!(
            (v.choices[1].number, v.choices[1].letter.as_str(), v.total),
            (2, "B", 1)
        );
    }
}
