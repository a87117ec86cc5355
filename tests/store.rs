//! The vote store's behaviour, written once and run against the three backends:
//! every case in `both_backends!` becomes `in_memory::<case>`,
//! `in_redis::<case>` (a real redis-server, a fresh key prefix per test) and
//! `in_embedded::<case>` (a fresh data file per test).
//! The Redis-only checks (restarts, key layout, round trips) follow.

#[macro_use]
mod support;

use std::collections::{BTreeMap, HashSet};
use std::time::Duration;

use cyoa::store::{
    Chosen, ChosenBy, Closed, Countdown, Delivery, Drift, Publication, Published, RedisStore, RunState, StoreError,
    Tally, TextVote, VoteKind, VoteOutcome, VoteStore, Voter,
};
use rand::{Rng, SeedableRng, rngs::StdRng};
use support::backends::redis_store_at;
use support::redis::{RedisServer, fresh_prefix, shared};

use VoteKind::{Presence, Sticky};

both_backends!(
    a_move_records_who_chose_the_way_on,
    the_first_current_begins_run_1_at_the_start,
    a_new_run_is_numbered_next_and_closes_the_open_vote,
    show_moves_the_presenter_along_the_path,
    only_one_decision_is_open_at_a_time,
    a_reopened_decision_keeps_its_votes_and_counts_on,
    a_vote_counts_and_a_second_vote_moves_it,
    an_identical_vote_changes_nothing,
    a_vote_on_a_decision_that_is_not_open_is_refused,
    a_vote_on_an_old_run_is_refused,
    withdraw_removes_the_vote_and_presence_only_spares_sticky_votes,
    a_sticky_vote_on_the_same_choice_outlasts_presence,
    nothing_is_withdrawn_from_a_closed_decision,
    closing_records_the_frozen_tally_in_the_history,
    the_tally_of_the_current_run_only,
    closing_a_decision_that_is_not_open_changes_nothing,
    counts_never_go_below_zero,
    choice_of_follows_the_voter,
    choices_of_answers_for_every_voter_in_order,
    now_reads_the_run_its_open_tally_and_the_voters_choices_together,
    concurrent_votes_are_counted_exactly,
    voters_without_a_running_lease_lose_their_presence_votes,
    a_lease_is_only_lengthened_and_outlives_the_decision,
    a_vote_from_a_page_keeps_its_voter_present_in_the_same_step,
    nothing_absent_is_withdrawn_from_a_closed_decision_or_an_old_run,
    a_sweep_of_a_crowd_withdraws_exactly_the_absent_presence_votes_once,
    the_sweep_goes_by_the_kind_of_each_voters_latest_vote,
    sweeps_during_a_burst_of_votes_keep_the_counters_equal_to_the_records,
    a_delivery_counts_only_once,
    a_delivery_mark_runs_out,
    a_refused_text_marks_nothing,
    concurrent_deliveries_of_one_message_count_once,
    a_run_records_when_it_started,
    publishing_results_and_explore_belongs_to_the_run,
    a_new_run_starts_with_nothing_published,
    an_earlier_run_can_be_published_and_a_missing_one_cannot,
    any_run_can_be_labelled_and_the_label_is_kept,
    a_countdown_closes_its_vote_once_at_its_deadline,
    a_stale_deadline_closes_nothing,
    a_countdown_is_extended_and_cancelled,
    a_countdown_needs_its_vote_open_and_ends_with_it,
    concurrent_expiries_close_the_vote_once,
);

/// A new Redis server whose store's `build` vote is open, with [`CROWD`]
/// voters' votes of this `kind` for `pets`: the server, the store, the run.
async fn crowd_voted(kind: VoteKind) -> (RedisServer, VoteStore, u64) {
    let server = RedisServer::start();
    let store = redis_store_at(&server, "cyoa:").await;
    let run = open_vote(&store, "build").await;
    for n in 0..CROWD {
        store.vote(run, "build", &voter(n), "pets", kind).await.unwrap();
    }
    (server, store, run)
}

/// A store on the shared Redis under a new prefix, its `build` vote open:
/// the prefix, the store and the run.
async fn redis_vote_open() -> (String, VoteStore, u64) {
    let prefix = fresh_prefix();
    let store = redis_store_at(shared(), &prefix).await;
    let run = open_vote(&store, "build").await;
    (prefix, store, run)
}

fn voter(n: usize) -> Voter {
    Voter::web(&format!("voter-{n}"))
}

fn path(slides: &[&str]) -> Vec<String> {
    slides.iter().map(|s| s.to_string()).collect()
}

fn tally(counts: &[(&str, u64)]) -> Tally {
    Tally(counts.iter().map(|(c, n)| (c.to_string(), *n)).collect())
}

/// The votes in `t` per choice, leaving out choices at zero (a backend may
/// keep or drop them).
fn counts(t: &Tally) -> BTreeMap<String, u64> {
    t.0.iter()
        .filter(|(_, n)| **n > 0)
        .map(|(c, n)| (c.clone(), *n))
        .collect()
}

/// Starts run 1 and opens the vote on `decision`.
async fn open_vote(store: &VoteStore, decision: &str) -> u64 {
    let run = store.current("welcome").await.unwrap().run;
    store.open(run, decision).await.unwrap();
    run
}

async fn the_first_current_begins_run_1_at_the_start(store: VoteStore) {
    let state = store.current("welcome").await.unwrap();
    assert_eq!(
        state,
        RunState {
            run: 1,
            slide: "welcome".into(),
            path: path(&["welcome"]),
            open: None,
            published: Published::default(),
            started: state.started,
            label: None,
            chosen: Vec::new(),
            deadline: None,
        }
    );
    // Asking again finds run 1; the start slide only matters the first time.
    assert_eq!(store.current("elsewhere").await.unwrap(), state);
    assert_eq!(store.runs().await.unwrap().len(), 1);
}

/// Now by the clock of this machine, which the memory store and the test
/// Redis share, in milliseconds since the Unix epoch.
fn now_ms() -> u64 {
    let since = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH);
    since.unwrap().as_millis() as u64
}

async fn a_run_records_when_it_started(store: VoteStore) {
    let before = now_ms();
    let first = store.current("welcome").await.unwrap();
    let after = now_ms();
    let started = first.started.expect("run 1 knows when it started");
    // Redis's clock is the same machine's clock, read to the millisecond.
    assert!(
        (before.saturating_sub(1)..=after + 1).contains(&started),
        "started {started} is not between {before} and {after}"
    );
    // Moving, opening and closing keep it; the history has it too.
    store
        .show(first.run, "next", &path(&["welcome", "next"]))
        .await
        .unwrap();
    let opened = store.open(first.run, "next").await.unwrap();
    assert_eq!(opened.started, Some(started));
    assert_eq!(store.current("welcome").await.unwrap().started, Some(started));
    // A new run starts its own clock.
    let second = store.new_run("welcome").await.unwrap();
    let second_started = second.started.expect("run 2 knows when it started");
    assert!(second_started >= started);
    let runs = store.runs().await.unwrap();
    assert_eq!(runs[0].state.started, Some(started));
    assert_eq!(runs[1].state.started, Some(second_started));
    assert_eq!(store.run(1).await.unwrap().unwrap().state.started, Some(started));
}

async fn a_new_run_is_numbered_next_and_closes_the_open_vote(store: VoteStore) {
    let run = open_vote(&store, "build").await;
    store.vote(run, "build", &voter(1), "pets", Sticky).await.unwrap();

    let second = store.new_run("welcome").await.unwrap();
    assert_eq!(second.run, 2);
    assert_eq!(second.path, path(&["welcome"]));
    assert_eq!(second.open, None);
    assert_eq!(store.current("welcome").await.unwrap(), second);
    assert_eq!(store.new_run("welcome").await.unwrap().run, 3);

    let runs = store.runs().await.unwrap();
    assert_eq!(runs.iter().map(|r| r.state.run).collect::<Vec<_>>(), [1, 2, 3]);
    assert_eq!(runs[0].state.open, None, "the old run's vote was closed");
    assert_eq!(
        runs[0].closed,
        [Closed {
            decision: "build".into(),
            tally: tally(&[("pets", 1)])
        }]
    );
    assert!(runs[1].closed.is_empty());
    // Votes go to the new run only.
    assert!(matches!(
        store.vote(1, "build", &voter(2), "pets", Sticky).await,
        Err(StoreError::NotCurrent(1))
    ));
}

async fn show_moves_the_presenter_along_the_path(store: VoteStore) {
    let run = store.current("welcome").await.unwrap().run;
    let went = path(&["welcome", "build", "pets"]);
    let state = store.show(run, "pets", &went).await.unwrap();
    assert_eq!(state.slide, "pets");
    assert_eq!(state.path, went);
    assert_eq!(store.current("welcome").await.unwrap(), state);
    assert_eq!(store.run(run).await.unwrap().unwrap().state, state);

    assert!(matches!(
        store.show(run + 1, "pets", &went).await,
        Err(StoreError::NotCurrent(2))
    ));
    store.new_run("welcome").await.unwrap();
    assert!(matches!(
        store.show(run, "build", &went).await,
        Err(StoreError::NotCurrent(1))
    ));
    assert_eq!(
        store.run(run).await.unwrap().unwrap().state,
        state,
        "old runs stay as they were"
    );
}

async fn only_one_decision_is_open_at_a_time(store: VoteStore) {
    let run = open_vote(&store, "build").await;
    assert_eq!(
        store.open(run, "build").await.unwrap().open.as_deref(),
        Some("build"),
        "opening the open one again changes nothing"
    );
    match store.open(run, "deploy").await {
        Err(StoreError::OtherOpen(d)) => assert_eq!(d, "build"),
        other => panic!("expected OtherOpen, got {other:?}"),
    }
    assert_eq!(store.current("welcome").await.unwrap().open.as_deref(), Some("build"));

    store.close(run, "build").await.unwrap();
    assert_eq!(store.current("welcome").await.unwrap().open, None);
    assert_eq!(store.open(run, "deploy").await.unwrap().open.as_deref(), Some("deploy"));
    assert!(matches!(store.open(run + 1, "x").await, Err(StoreError::NotCurrent(_))));
}

async fn a_reopened_decision_keeps_its_votes_and_counts_on(store: VoteStore) {
    let run = open_vote(&store, "build").await;
    store.vote(run, "build", &voter(1), "pets", Presence).await.unwrap();
    store.close(run, "build").await.unwrap();
    store.open(run, "build").await.unwrap();
    assert_eq!(store.tally(run, "build").await.unwrap().get("pets"), 1);
    assert_eq!(
        store.vote(run, "build", &voter(1), "doc", Presence).await.unwrap(),
        VoteOutcome::Counted {
            previous: Some("pets".into())
        }
    );
    store.vote(run, "build", &voter(2), "doc", Presence).await.unwrap();
    assert_eq!(
        counts(&store.close(run, "build").await.unwrap()),
        counts(&tally(&[("doc", 2)]))
    );
}

async fn a_vote_counts_and_a_second_vote_moves_it(store: VoteStore) {
    let run = open_vote(&store, "build").await;
    assert_eq!(
        store.vote(run, "build", &voter(1), "pets", Presence).await.unwrap(),
        VoteOutcome::Counted { previous: None }
    );
    store.vote(run, "build", &voter(2), "pets", Presence).await.unwrap();
    store.vote(run, "build", &voter(3), "doc", Sticky).await.unwrap();
    assert_eq!(
        store.tally(run, "build").await.unwrap(),
        tally(&[("doc", 1), ("pets", 2)])
    );

    assert_eq!(
        store.vote(run, "build", &voter(1), "doc", Presence).await.unwrap(),
        VoteOutcome::Counted {
            previous: Some("pets".into())
        }
    );
    let t = store.tally(run, "build").await.unwrap();
    assert_eq!((t.get("pets"), t.get("doc"), t.total()), (1, 2, 3));
}

async fn an_identical_vote_changes_nothing(store: VoteStore) {
    let run = open_vote(&store, "build").await;
    store.vote(run, "build", &voter(1), "pets", Sticky).await.unwrap();
    for kind in [Sticky, Presence] {
        assert_eq!(
            store.vote(run, "build", &voter(1), "pets", kind).await.unwrap(),
            VoteOutcome::Unchanged
        );
    }
    assert_eq!(store.tally(run, "build").await.unwrap(), tally(&[("pets", 1)]));
    assert!(
        store.withdraw(run, "build", &voter(1), true).await.unwrap().is_none(),
        "a sticky vote repeated as presence stays sticky"
    );
}

async fn a_vote_on_a_decision_that_is_not_open_is_refused(store: VoteStore) {
    let run = store.current("welcome").await.unwrap().run;
    let refused = |r: Result<VoteOutcome, StoreError>, decision: &str| match r {
        Err(StoreError::NotOpen(d)) => assert_eq!(d, decision),
        other => panic!("expected NotOpen({decision}), got {other:?}"),
    };
    refused(store.vote(run, "build", &voter(1), "pets", Sticky).await, "build");

    store.open(run, "build").await.unwrap();
    refused(store.vote(run, "deploy", &voter(1), "heroku", Sticky).await, "deploy");
    store.vote(run, "build", &voter(1), "pets", Sticky).await.unwrap();
    store.close(run, "build").await.unwrap();
    refused(store.vote(run, "build", &voter(2), "pets", Sticky).await, "build");
    refused(store.vote(run, "build", &voter(1), "doc", Sticky).await, "build");

    assert_eq!(store.tally(run, "build").await.unwrap(), tally(&[("pets", 1)]));
    assert_eq!(store.tally(run, "deploy").await.unwrap(), Tally::default());
    assert_eq!(store.choice_of(run, "build", &voter(2)).await.unwrap(), None);
    assert_eq!(store.choice_of(run, "deploy", &voter(1)).await.unwrap(), None);
    assert_eq!(
        store.choice_of(run, "build", &voter(1)).await.unwrap().as_deref(),
        Some("pets")
    );
}

async fn a_vote_on_an_old_run_is_refused(store: VoteStore) {
    let old = open_vote(&store, "build").await;
    let new = store.new_run("welcome").await.unwrap().run;
    store.open(new, "build").await.unwrap();
    assert!(matches!(
        store.vote(old, "build", &voter(1), "pets", Sticky).await,
        Err(StoreError::NotCurrent(r)) if r == old
    ));
    assert!(matches!(
        store.vote(new + 1, "build", &voter(1), "pets", Sticky).await,
        Err(StoreError::NotCurrent(_))
    ));
    assert_eq!(store.tally(old, "build").await.unwrap().total(), 0);
    assert_eq!(store.tally(new, "build").await.unwrap().total(), 0);
}

async fn withdraw_removes_the_vote_and_presence_only_spares_sticky_votes(store: VoteStore) {
    let run = open_vote(&store, "build").await;
    store.vote(run, "build", &voter(1), "pets", Presence).await.unwrap();
    store.vote(run, "build", &voter(2), "pets", Sticky).await.unwrap();
    store.vote(run, "build", &voter(3), "doc", Sticky).await.unwrap();

    let voters: Vec<Voter> = (0..5).map(voter).collect();
    let withdraw = |n: usize, presence_only| store.withdraw(run, "build", &voters[n], presence_only);
    assert_eq!(withdraw(1, true).await.unwrap().as_deref(), Some("pets"));
    assert_eq!(withdraw(1, true).await.unwrap(), None, "already withdrawn");
    assert_eq!(withdraw(2, true).await.unwrap(), None, "sticky votes stay");
    assert_eq!(withdraw(4, false).await.unwrap(), None, "never voted");
    assert_eq!(store.tally(run, "build").await.unwrap().get("pets"), 1);

    assert_eq!(withdraw(2, false).await.unwrap().as_deref(), Some("pets"));
    assert_eq!(store.choice_of(run, "build", &voter(2)).await.unwrap(), None);
    let t = store.tally(run, "build").await.unwrap();
    assert_eq!((t.get("pets"), t.get("doc")), (0, 1));

    // A withdrawn voter may vote again.
    assert_eq!(
        store.vote(run, "build", &voter(1), "doc", Presence).await.unwrap(),
        VoteOutcome::Counted { previous: None }
    );
    assert_eq!(store.tally(run, "build").await.unwrap().get("doc"), 2);
    // Withdrawing from a decision that is not open, or an old run, does nothing.
    assert_eq!(store.withdraw(run, "deploy", &voter(1), false).await.unwrap(), None);
    assert_eq!(store.withdraw(run + 1, "build", &voter(1), false).await.unwrap(), None);
    assert_eq!(store.tally(run, "build").await.unwrap().get("doc"), 2);
}

async fn a_sticky_vote_on_the_same_choice_outlasts_presence(store: VoteStore) {
    let run = open_vote(&store, "build").await;
    store.vote(run, "build", &voter(1), "pets", Presence).await.unwrap();
    assert_eq!(
        store.vote(run, "build", &voter(1), "pets", Sticky).await.unwrap(),
        VoteOutcome::Unchanged
    );
    assert_eq!(store.withdraw(run, "build", &voter(1), true).await.unwrap(), None);
    assert_eq!(store.tally(run, "build").await.unwrap().get("pets"), 1);
    // Moving the vote takes the kind of the new vote.
    store.vote(run, "build", &voter(1), "doc", Presence).await.unwrap();
    assert_eq!(
        store.withdraw(run, "build", &voter(1), true).await.unwrap().as_deref(),
        Some("doc")
    );
}

async fn nothing_is_withdrawn_from_a_closed_decision(store: VoteStore) {
    let run = open_vote(&store, "build").await;
    store.vote(run, "build", &voter(1), "pets", Presence).await.unwrap();
    store.vote(run, "build", &voter(2), "doc", Presence).await.unwrap();
    let frozen = store.close(run, "build").await.unwrap();
    for presence_only in [true, false] {
        assert_eq!(
            store.withdraw(run, "build", &voter(1), presence_only).await.unwrap(),
            None
        );
    }
    assert_eq!(store.tally(run, "build").await.unwrap(), frozen);
    assert_eq!(
        store.choice_of(run, "build", &voter(1)).await.unwrap().as_deref(),
        Some("pets")
    );
    assert_eq!(store.run(run).await.unwrap().unwrap().closed[0].tally, frozen);
}

async fn the_tally_of_the_current_run_only(store: VoteStore) {
    let run = open_vote(&store, "build").await;
    assert_eq!(store.tally_if_current(run, "build").await.unwrap(), Some(tally(&[])));
    store.vote(run, "build", &voter(1), "pets", Sticky).await.unwrap();
    assert_eq!(
        store.tally_if_current(run, "build").await.unwrap(),
        Some(tally(&[("pets", 1)]))
    );
    store.new_run("welcome").await.unwrap();
    assert_eq!(store.tally_if_current(run, "build").await.unwrap(), None);
    assert_eq!(
        store.tally_if_current(run + 1, "build").await.unwrap(),
        Some(tally(&[]))
    );
}

async fn closing_records_the_frozen_tally_in_the_history(store: VoteStore) {
    let run = open_vote(&store, "build").await;
    store.vote(run, "build", &voter(1), "pets", Sticky).await.unwrap();
    store.vote(run, "build", &voter(2), "pets", Sticky).await.unwrap();
    store.vote(run, "build", &voter(3), "doc", Sticky).await.unwrap();
    let frozen = store.close(run, "build").await.unwrap();
    assert_eq!(frozen, tally(&[("doc", 1), ("pets", 2)]));

    store.open(run, "deploy").await.unwrap();
    store.vote(run, "deploy", &voter(1), "heroku", Sticky).await.unwrap();
    store.close(run, "deploy").await.unwrap();
    let record = store.run(run).await.unwrap().unwrap();
    assert_eq!(record.state.open, None);
    assert_eq!(
        record.closed,
        [
            Closed {
                decision: "build".into(),
                tally: frozen.clone()
            },
            Closed {
                decision: "deploy".into(),
                tally: tally(&[("heroku", 1)])
            },
        ]
    );
    assert_eq!(store.runs().await.unwrap(), [record]);

    // Reopened and closed again: recorded once, last, with its last tally.
    store.open(run, "build").await.unwrap();
    store.vote(run, "build", &voter(4), "doc", Sticky).await.unwrap();
    let again = store.close(run, "build").await.unwrap();
    let closed = store.run(run).await.unwrap().unwrap().closed;
    assert_eq!(
        closed.iter().map(|c| c.decision.as_str()).collect::<Vec<_>>(),
        ["deploy", "build"]
    );
    assert_eq!(closed[1].tally, again);
    assert_eq!(counts(&again), counts(&tally(&[("doc", 2), ("pets", 2)])));

    assert_eq!(store.run(0).await.unwrap(), None);
    assert_eq!(store.run(run + 1).await.unwrap(), None);
}

async fn closing_a_decision_that_is_not_open_changes_nothing(store: VoteStore) {
    let run = open_vote(&store, "build").await;
    store.vote(run, "build", &voter(1), "pets", Sticky).await.unwrap();
    assert_eq!(
        store.close(run, "deploy").await.unwrap(),
        Tally::default(),
        "never opened"
    );
    assert_eq!(store.current("welcome").await.unwrap().open.as_deref(), Some("build"));
    let frozen = store.close(run, "build").await.unwrap();
    assert_eq!(store.close(run, "build").await.unwrap(), frozen, "closing again");
    assert_eq!(store.run(run).await.unwrap().unwrap().closed.len(), 1);
    assert!(matches!(
        store.close(run + 1, "build").await,
        Err(StoreError::NotCurrent(_))
    ));
}

async fn counts_never_go_below_zero(store: VoteStore) {
    let run = open_vote(&store, "build").await;
    store.vote(run, "build", &voter(1), "pets", Presence).await.unwrap();
    store.vote(run, "build", &voter(1), "doc", Presence).await.unwrap();
    store.vote(run, "build", &voter(1), "pets", Presence).await.unwrap();
    for _ in 0..3 {
        store.withdraw(run, "build", &voter(1), false).await.unwrap();
    }
    let t = store.tally(run, "build").await.unwrap();
    assert_eq!((t.get("pets"), t.get("doc"), t.total()), (0, 0, 0));
    store.vote(run, "build", &voter(1), "doc", Presence).await.unwrap();
    assert_eq!(
        counts(&store.tally(run, "build").await.unwrap()),
        counts(&tally(&[("doc", 1)]))
    );
}

async fn choice_of_follows_the_voter(store: VoteStore) {
    let run = open_vote(&store, "build").await;
    let one = voter(1);
    let choice = || store.choice_of(run, "build", &one);
    assert_eq!(choice().await.unwrap(), None);
    store.vote(run, "build", &voter(1), "pets", Presence).await.unwrap();
    assert_eq!(choice().await.unwrap().as_deref(), Some("pets"));
    store.vote(run, "build", &voter(1), "doc", Presence).await.unwrap();
    assert_eq!(choice().await.unwrap().as_deref(), Some("doc"));
    // A phone and a browser with the same id are different voters.
    assert_eq!(
        store.choice_of(run, "build", &Voter::phone("voter-1")).await.unwrap(),
        None
    );
    store.withdraw(run, "build", &voter(1), false).await.unwrap();
    assert_eq!(choice().await.unwrap(), None);
    assert_eq!(store.choice_of(run + 1, "build", &voter(1)).await.unwrap(), None);
}

async fn choices_of_answers_for_every_voter_in_order(store: VoteStore) {
    let run = open_vote(&store, "build").await;
    assert_eq!(
        store.choices_of(run, "build", &[]).await.unwrap(),
        Vec::<Option<String>>::new()
    );
    // More voters than one Redis command or one hold of the memory store's
    // lock takes, some of them twice; every third voted, sticky or not.
    let mut voters: Vec<Voter> = (0..2500).map(voter).collect();
    voters.push(voter(3));
    voters.push(Voter::phone("voter-3"));
    let choices = ["pets", "doc"];
    for n in (0..2500).step_by(3) {
        let kind = if n % 2 == 0 { Sticky } else { Presence };
        store.vote(run, "build", &voter(n), choices[n % 2], kind).await.unwrap();
    }
    let expected: Vec<Option<String>> = voters
        .iter()
        .map(|v| {
            let n: usize = v.as_str().strip_prefix("w:voter-")?.parse().ok()?;
            (n % 3 == 0).then(|| choices[n % 2].to_string())
        })
        .collect();
    let found = store.choices_of(run, "build", &voters).await.unwrap();
    assert_eq!(found, expected);
    // One by one, the same.
    for (v, choice) in voters.iter().zip(&found).step_by(97) {
        assert_eq!(&store.choice_of(run, "build", v).await.unwrap(), choice, "{v:?}");
    }
    // Another decision, another run: nobody chose there.
    let none = vec![None; voters.len()];
    assert_eq!(store.choices_of(run, "deploy", &voters).await.unwrap(), none);
    assert_eq!(store.choices_of(run + 1, "build", &voters).await.unwrap(), none);
}

async fn now_reads_the_run_its_open_tally_and_the_voters_choices_together(store: VoteStore) {
    // The first reading begins run 1, as `current` does, and reads nothing
    // for nobody.
    let first = store.now("welcome", None, None).await.unwrap();
    assert_eq!(first.record, store.run(1).await.unwrap().unwrap());
    assert_eq!(first.record.state.slide, "welcome");
    assert_eq!((first.tally, first.choices), (Tally::default(), Vec::new()));
    assert_eq!(store.runs().await.unwrap().len(), 1);
    assert_eq!(store.now("elsewhere", None, None).await.unwrap().record.state.run, 1);

    let run = open_vote(&store, "build").await;
    store.vote(run, "build", &voter(1), "pets", Sticky).await.unwrap();
    store.vote(run, "build", &voter(2), "doc", Presence).await.unwrap();
    store.vote(run, "build", &voter(3), "doc", Sticky).await.unwrap();
    // The open vote's live tally, the voter's choice on it, on the slide
    // shown and on the pinned decision.
    let now = store.now("welcome", Some(&voter(2)), Some("deploy")).await.unwrap();
    assert_eq!(now.record, store.run(run).await.unwrap().unwrap());
    assert_eq!(now.record.state.open.as_deref(), Some("build"));
    assert_eq!(now.tally, store.tally(run, "build").await.unwrap());
    assert_eq!(counts(&now.tally), counts(&tally(&[("doc", 2), ("pets", 1)])));
    assert_eq!(
        now.choices,
        [
            ("build".to_string(), Some("doc".to_string())),
            ("welcome".to_string(), None),
            ("deploy".to_string(), None),
        ]
    );
    assert_eq!(now.choice_on("build"), Some(Some("doc".into())));
    assert_eq!(now.choice_on("deploy"), Some(None));
    assert_eq!(now.choice_on("elsewhere"), None, "not read");
    // A voter who has not voted; the pinned decision named twice is read once.
    let stranger = store.now("welcome", Some(&voter(9)), Some("build")).await.unwrap();
    assert_eq!(
        stranger.choices,
        [("build".to_string(), None), ("welcome".to_string(), None)]
    );

    // Closed, on its slide, and the next vote open: the frozen tally is in
    // the record, the live one is the open vote's, and the voter's choice
    // on the closed decision shown is still read.
    store.close(run, "build").await.unwrap();
    store.show(run, "build", &path(&["welcome", "build"])).await.unwrap();
    store.open(run, "deploy").await.unwrap();
    store.vote(run, "deploy", &voter(1), "heroku", Sticky).await.unwrap();
    let now = store.now("welcome", Some(&voter(1)), None).await.unwrap();
    assert_eq!(now.record, store.run(run).await.unwrap().unwrap());
    assert_eq!(now.record.closed.len(), 1);
    assert_eq!(now.tally, tally(&[("heroku", 1)]));
    assert_eq!(
        now.choices,
        [
            ("deploy".to_string(), Some("heroku".to_string())),
            ("build".to_string(), Some("pets".to_string())),
        ]
    );
    for (decision, choice) in &now.choices {
        assert_eq!(
            &store.choice_of(run, decision, &voter(1)).await.unwrap(),
            choice,
            "{decision}"
        );
    }

    // A new run: nothing open, nothing counted, nothing chosen.
    store.new_run("welcome").await.unwrap();
    let now = store.now("welcome", Some(&voter(1)), None).await.unwrap();
    assert_eq!(now.record.state.run, run + 1);
    assert_eq!(now.tally, Tally::default());
    assert_eq!(now.choices, [("welcome".to_string(), None)]);
}

const MINUTE: Duration = Duration::from_secs(60);

async fn voters_without_a_running_lease_lose_their_presence_votes(store: VoteStore) {
    let run = open_vote(&store, "build").await;
    store.keep_present(&[voter(1), voter(3)], MINUTE).await.unwrap();
    store.keep_present(&[voter(4)], Duration::ZERO).await.unwrap();
    store.keep_present(&[], MINUTE).await.unwrap();
    for (n, kind) in [(1, Presence), (2, Presence), (3, Sticky), (4, Presence), (5, Sticky)] {
        store.vote(run, "build", &voter(n), "pets", kind).await.unwrap();
    }
    // 2 never had a lease, 4's ran out; 3 and 5 vote sticky.
    assert_eq!(store.withdraw_absent(run, "build").await.unwrap(), 2);
    assert_eq!(store.tally(run, "build").await.unwrap().get("pets"), 3);
    for (n, kept) in [(1, true), (2, false), (3, true), (4, false), (5, true)] {
        let choice = store.choice_of(run, "build", &voter(n)).await.unwrap();
        assert_eq!(choice.is_some(), kept, "voter {n}");
    }
    assert_eq!(
        store.withdraw_absent(run, "build").await.unwrap(),
        0,
        "nothing more to withdraw"
    );
    // Back with a lease, the voter votes again.
    store.keep_present(&[voter(2)], MINUTE).await.unwrap();
    store.vote(run, "build", &voter(2), "doc", Presence).await.unwrap();
    assert_eq!(store.withdraw_absent(run, "build").await.unwrap(), 0);
    assert_eq!(store.tally(run, "build").await.unwrap().total(), 4);
}

async fn a_lease_is_only_lengthened_and_outlives_the_decision(store: VoteStore) {
    let run = open_vote(&store, "build").await;
    store.keep_present(&[voter(1)], MINUTE).await.unwrap();
    store.keep_present(&[voter(1)], Duration::ZERO).await.unwrap();
    store.vote(run, "build", &voter(1), "pets", Presence).await.unwrap();
    assert_eq!(store.withdraw_absent(run, "build").await.unwrap(), 0);

    store.close(run, "build").await.unwrap();
    store.open(run, "deploy").await.unwrap();
    store.vote(run, "deploy", &voter(1), "heroku", Presence).await.unwrap();
    assert_eq!(store.withdraw_absent(run, "deploy").await.unwrap(), 0);
    assert_eq!(store.tally(run, "deploy").await.unwrap().get("heroku"), 1);
}

async fn a_vote_from_a_page_keeps_its_voter_present_in_the_same_step(store: VoteStore) {
    let run = open_vote(&store, "build").await;
    // No lease before: the vote's own lease keeps it through the sweep.
    let counted = store
        .vote_from_page(run, "build", &voter(1), "pets", MINUTE)
        .await
        .unwrap();
    assert_eq!(counted, VoteOutcome::Counted { previous: None });
    store.vote(run, "build", &voter(2), "pets", Presence).await.unwrap();
    assert_eq!(
        store.withdraw_absent(run, "build").await.unwrap(),
        1,
        "voter 2 had no lease"
    );
    assert_eq!(
        store.choice_of(run, "build", &voter(1)).await.unwrap().as_deref(),
        Some("pets")
    );
    // It is a presence vote: a lease that ran out loses it.
    store
        .vote_from_page(run, "build", &voter(3), "doc", Duration::ZERO)
        .await
        .unwrap();
    assert_eq!(
        store.withdraw_absent(run, "build").await.unwrap(),
        1,
        "voter 3's lease ran out"
    );
    assert_eq!(store.tally(run, "build").await.unwrap().total(), 1);
    // Refused (no vote open there), the lease is renewed all the same.
    assert!(matches!(
        store.vote_from_page(run, "deploy", &voter(2), "heroku", MINUTE).await,
        Err(StoreError::NotOpen(_))
    ));
    store.vote(run, "build", &voter(2), "doc", Presence).await.unwrap();
    assert_eq!(store.withdraw_absent(run, "build").await.unwrap(), 0);
    assert_eq!(store.tally(run, "build").await.unwrap().total(), 2);
}

async fn nothing_absent_is_withdrawn_from_a_closed_decision_or_an_old_run(store: VoteStore) {
    let run = open_vote(&store, "build").await;
    store.vote(run, "build", &voter(1), "pets", Presence).await.unwrap();
    let frozen = store.close(run, "build").await.unwrap();
    assert_eq!(store.withdraw_absent(run, "build").await.unwrap(), 0);
    assert_eq!(store.tally(run, "build").await.unwrap(), frozen);

    store.open(run, "deploy").await.unwrap();
    store.vote(run, "deploy", &voter(1), "heroku", Presence).await.unwrap();
    assert_eq!(
        store.withdraw_absent(run, "build").await.unwrap(),
        0,
        "not the open decision"
    );
    let next = store.new_run("welcome").await.unwrap().run;
    assert_eq!(store.withdraw_absent(run, "deploy").await.unwrap(), 0, "an old run");
    assert_eq!(
        store.withdraw_absent(next, "deploy").await.unwrap(),
        0,
        "not open in the new run"
    );
    assert_eq!(store.tally(run, "deploy").await.unwrap().get("heroku"), 1);
}

/// Voters in a crowd: well over one step (256 records) of the Redis
/// sweep's walk.
const CROWD: usize = 1500;

/// How voter `n` of the crowd votes: its choice, whether sticky, and
/// whether its lease runs (1 in 3 present; of the others, 1 in 7 had a
/// lease that ran out, the rest never had one).
fn crowd_voter(n: usize) -> (&'static str, VoteKind, bool) {
    let choice = if n % 2 == 0 { "pets" } else { "doc" };
    let kind = if n % 5 == 0 { Sticky } else { Presence };
    (choice, kind, n % 3 == 0)
}

/// A sweep of a crowd, which the Redis store walks in several steps,
/// withdraws exactly the presence votes of the absent voters, and only once.
async fn a_sweep_of_a_crowd_withdraws_exactly_the_absent_presence_votes_once(store: VoteStore) {
    let run = open_vote(&store, "build").await;
    let present: Vec<Voter> = (0..CROWD).filter(|n| crowd_voter(*n).2).map(voter).collect();
    let ran_out: Vec<Voter> = (0..CROWD)
        .filter(|n| !crowd_voter(*n).2 && n % 7 == 1)
        .map(voter)
        .collect();
    store.keep_present(&present, MINUTE).await.unwrap();
    store.keep_present(&ran_out, Duration::ZERO).await.unwrap();
    let mut kept = BTreeMap::new();
    let mut absent = 0;
    for n in 0..CROWD {
        let (choice, kind, here) = crowd_voter(n);
        store.vote(run, "build", &voter(n), choice, kind).await.unwrap();
        if kind == Sticky || here {
            *kept.entry(choice.to_string()).or_insert(0) += 1;
        } else {
            absent += 1;
        }
    }
    assert_eq!(absent, 800, "4 in 5 vote by presence, 2 in 3 of those are absent");

    assert_eq!(store.withdraw_absent(run, "build").await.unwrap(), absent);
    assert_eq!(counts(&store.tally(run, "build").await.unwrap()), kept);
    for n in 0..CROWD {
        let (_, kind, here) = crowd_voter(n);
        let choice = store.choice_of(run, "build", &voter(n)).await.unwrap();
        assert_eq!(choice.is_some(), kind == Sticky || here, "voter {n}");
    }
    assert_eq!(
        store.withdraw_absent(run, "build").await.unwrap(),
        0,
        "a second sweep finds nobody absent"
    );
    assert_eq!(counts(&store.tally(run, "build").await.unwrap()), kept);
    let audit = store.audit(false).await.unwrap();
    assert!(audit.drift.is_empty(), "{audit:?}");
}

/// A vote that changed kind is swept as its latest vote: sticky after
/// presence stays, presence after sticky goes (the voter's page is gone).
async fn the_sweep_goes_by_the_kind_of_each_voters_latest_vote(store: VoteStore) {
    let run = open_vote(&store, "build").await;
    let gone: Vec<Voter> = (1..=4).map(voter).collect();
    store.keep_present(&gone, Duration::ZERO).await.unwrap();
    // 1: presence, then sticky on another choice; 2: presence, then sticky
    // on the same; 3: sticky, then presence on another; 4: sticky, then
    // presence on the same (a sticky vote outlasts it).
    for (n, first, then) in [
        (1, (Presence, "pets"), (Sticky, "doc")),
        (2, (Presence, "pets"), (Sticky, "pets")),
        (3, (Sticky, "pets"), (Presence, "doc")),
        (4, (Sticky, "pets"), (Presence, "pets")),
    ] {
        store.vote(run, "build", &voter(n), first.1, first.0).await.unwrap();
        store.vote(run, "build", &voter(n), then.1, then.0).await.unwrap();
    }
    assert_eq!(store.withdraw_absent(run, "build").await.unwrap(), 1);
    let left = store.choices_of(run, "build", &gone).await.unwrap();
    let left: Vec<Option<&str>> = left.iter().map(Option::as_deref).collect();
    assert_eq!(left, [Some("doc"), Some("pets"), None, Some("pets")]);
    assert_eq!(
        counts(&store.tally(run, "build").await.unwrap()),
        counts(&tally(&[("doc", 1), ("pets", 2)]))
    );
}

/// Sweeps running all through a burst of votes (the Redis store's walk
/// lets the votes in between its steps) leave a tally equal to a recount
/// of the voters' choices, and the last sweep leaves only sticky votes.
async fn sweeps_during_a_burst_of_votes_keep_the_counters_equal_to_the_records(store: VoteStore) {
    let run = open_vote(&store, "build").await;
    for n in 0..CROWD {
        store.vote(run, "build", &voter(n), "pets", Presence).await.unwrap();
    }
    let (done, mut burst_over) = tokio::sync::watch::channel(false);
    let sweeper = {
        let store = store.clone();
        tokio::spawn(async move {
            let mut sweeps = 0;
            while !*burst_over.borrow_and_update() {
                store.withdraw_absent(run, "build").await.unwrap();
                sweeps += 1;
            }
            sweeps
        })
    };
    vote_in_a_burst(&store, run, "build").await;
    done.send(true).unwrap();
    assert!(sweeper.await.unwrap() > 0);
    store.withdraw_absent(run, "build").await.unwrap();

    let audit = store.audit(false).await.unwrap();
    assert!(audit.drift.is_empty(), "{audit:?}");
    let mut recount = BTreeMap::new();
    for n in 0..CROWD {
        if let Some(choice) = store.choice_of(run, "build", &voter(n)).await.unwrap() {
            *recount.entry(choice).or_insert(0) += 1;
        }
    }
    assert_eq!(counts(&store.tally(run, "build").await.unwrap()), recount);
    // Only sticky votes are left: withdrawing the presence ones finds none.
    for n in 0..CROWD {
        assert_eq!(
            store.withdraw(run, "build", &voter(n), true).await.unwrap(),
            None,
            "voter {n}"
        );
    }
}

/// A text's vote on the open "build" decision, from phone `n`, delivered
/// as `sid`.
async fn text(store: &VoteStore, run: u64, n: usize, choice: &str, sid: &str, ttl: Duration) -> Delivery {
    try_text(store, run, n, choice, sid, ttl).await.unwrap()
}

/// [`text`], refused or not.
async fn try_text(
    store: &VoteStore,
    run: u64,
    n: usize,
    choice: &str,
    sid: &str,
    ttl: Duration,
) -> Result<Delivery, StoreError> {
    let voter = voter(n);
    let text = TextVote {
        run,
        decision: "build",
        voter: &voter,
        choice,
        sid,
    };
    store.sms_vote(text, ttl).await
}

fn counted(previous: Option<&str>) -> Delivery {
    Delivery::First(VoteOutcome::Counted {
        previous: previous.map(str::to_string),
    })
}

async fn a_delivery_counts_only_once(store: VoteStore) {
    let run = open_vote(&store, "build").await;
    assert_eq!(text(&store, run, 1, "pets", "SM1", MINUTE).await, counted(None));
    let again = Delivery::Again(Some("pets".into()));
    assert_eq!(text(&store, run, 1, "pets", "SM1", MINUTE).await, again, "redelivered");
    assert_eq!(
        text(&store, run, 1, "doc", "SM1", MINUTE).await,
        again,
        "a redelivery moves nothing"
    );
    assert_eq!(
        text(&store, run, 1, "doc", "SM2", MINUTE).await,
        counted(Some("pets")),
        "another message"
    );
    assert_eq!(
        text(&store, run, 1, "pets", "sm1", MINUTE).await,
        counted(Some("doc")),
        "ids are case-sensitive"
    );
    assert_eq!(
        counts(&store.tally(run, "build").await.unwrap()),
        counts(&tally(&[("pets", 1)]))
    );
}

async fn a_delivery_mark_runs_out(store: VoteStore) {
    let run = open_vote(&store, "build").await;
    let ttl = Duration::from_millis(50);
    assert_eq!(text(&store, run, 1, "pets", "SM1", ttl).await, counted(None));
    assert_eq!(text(&store, run, 2, "doc", "SM-long", MINUTE).await, counted(None));
    // The mark runs out on the store's own clock; ask until it has.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while let Delivery::Again(_) = text(&store, run, 1, "pets", "SM1", ttl).await {
        assert!(tokio::time::Instant::now() < deadline, "the mark never ran out");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(
        text(&store, run, 2, "doc", "SM-long", MINUTE).await,
        Delivery::Again(Some("doc".into())),
        "a longer mark stays"
    );
    assert_eq!(
        text(&store, run, 3, "doc", "", Duration::ZERO).await,
        counted(None),
        "a zero TTL is accepted"
    );
    assert_eq!(
        counts(&store.tally(run, "build").await.unwrap()),
        counts(&tally(&[("pets", 1), ("doc", 2)]))
    );
}

async fn a_refused_text_marks_nothing(store: VoteStore) {
    let run = store.current("welcome").await.unwrap().run;
    let refused = try_text(&store, run, 1, "pets", "SM1", MINUTE).await;
    assert!(matches!(refused, Err(StoreError::NotOpen(_))), "{refused:?}");
    let run = open_vote(&store, "build").await;
    assert!(matches!(
        try_text(&store, run + 1, 1, "pets", "SM1", MINUTE).await,
        Err(StoreError::NotCurrent(_))
    ));
    // Twilio's retry of the refused delivery counts once the vote is open.
    assert_eq!(text(&store, run, 1, "pets", "SM1", MINUTE).await, counted(None));
}

async fn concurrent_deliveries_of_one_message_count_once(store: VoteStore) {
    let run = open_vote(&store, "build").await;
    let tasks: Vec<_> = (0..20)
        .map(|_| {
            let store = store.clone();
            tokio::spawn(async move { text(&store, run, 7, "pets", "SM-race", MINUTE).await })
        })
        .collect();
    let mut firsts = 0;
    for task in tasks {
        if let Delivery::First(_) = task.await.unwrap() {
            firsts += 1;
        }
    }
    assert_eq!(firsts, 1);
    assert_eq!(store.tally(run, "build").await.unwrap(), tally(&[("pets", 1)]));
}

const BURST_VOTERS: usize = 500;

/// 50 tasks cast 200 votes each for 500 voters at once, moving them at
/// random among three choices and sometimes withdrawing them.
async fn vote_in_a_burst(store: &VoteStore, run: u64, decision: &'static str) {
    const TASKS: u64 = 50;
    const VOTES: usize = 200;
    const CHOICES: [&str; 3] = ["pets", "doc", "mattress"];
    let tasks: Vec<_> = (0..TASKS)
        .map(|task| {
            let store = store.clone();
            tokio::spawn(async move {
                let mut rng = StdRng::seed_from_u64(task);
                for _ in 0..VOTES {
                    let who = voter(rng.random_range(0..BURST_VOTERS));
                    if rng.random_ratio(1, 10) {
                        store.withdraw(run, decision, &who, false).await.unwrap();
                    } else {
                        let choice = CHOICES[rng.random_range(0..CHOICES.len())];
                        let kind = if rng.random_bool(0.5) { Sticky } else { Presence };
                        store.vote(run, decision, &who, choice, kind).await.unwrap();
                    }
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.unwrap();
    }
}

/// After a burst of concurrent votes the tally equals a recount of every
/// voter's choice.
async fn concurrent_votes_are_counted_exactly(store: VoteStore) {
    let run = open_vote(&store, "build").await;
    vote_in_a_burst(&store, run, "build").await;

    let mut recount = BTreeMap::new();
    let mut voted = HashSet::new();
    for n in 0..BURST_VOTERS {
        if let Some(choice) = store.choice_of(run, "build", &voter(n)).await.unwrap() {
            *recount.entry(choice).or_insert(0) += 1;
            voted.insert(n);
        }
    }
    let t = store.tally(run, "build").await.unwrap();
    assert_eq!(t.total(), voted.len() as u64);
    assert_eq!(counts(&t), recount);
    assert!(
        voted.len() > BURST_VOTERS / 2,
        "most voters should hold a vote, got {}",
        voted.len()
    );
}

async fn publishing_results_and_explore_belongs_to_the_run(store: VoteStore) {
    let run = store.current("welcome").await.unwrap().run;
    let state = store.set_published(run, Publication::Results, true).await.unwrap();
    assert_eq!(
        state.published,
        Published {
            results: true,
            explore: false
        }
    );
    let state = store.set_published(run, Publication::Explore, true).await.unwrap();
    assert_eq!(
        state.published,
        Published {
            results: true,
            explore: true
        }
    );
    // Moving, opening and closing keep the switches.
    store.show(run, "build", &path(&["welcome", "build"])).await.unwrap();
    store.open(run, "build").await.unwrap();
    store.close(run, "build").await.unwrap();
    let now = store.current("welcome").await.unwrap();
    assert_eq!((now.published.results, now.published.explore), (true, true));
    assert_eq!(store.run(run).await.unwrap().unwrap().state, now);
    assert_eq!(store.runs().await.unwrap()[0].state, now);
    // Off again, one at a time; turning off twice changes nothing.
    let state = store.set_published(run, Publication::Results, false).await.unwrap();
    assert_eq!((state.published.results, state.published.explore), (false, true));
    let state = store.set_published(run, Publication::Results, false).await.unwrap();
    assert_eq!((state.published.results, state.published.explore), (false, true));
    assert_eq!(state.slide, "build");
}

async fn a_new_run_starts_with_nothing_published(store: VoteStore) {
    let run = store.current("welcome").await.unwrap().run;
    store.set_published(run, Publication::Results, true).await.unwrap();
    store.set_published(run, Publication::Explore, true).await.unwrap();
    let second = store.new_run("welcome").await.unwrap();
    assert_eq!(second.published, Published::default());
    assert_eq!(store.current("welcome").await.unwrap().published, Published::default());
    // The old run keeps what it published: its results stay readable.
    let old = store.run(run).await.unwrap().unwrap();
    assert_eq!((old.state.published.results, old.state.published.explore), (true, true));
}

async fn an_earlier_run_can_be_published_and_a_missing_one_cannot(store: VoteStore) {
    let run = store.current("welcome").await.unwrap().run;
    for missing in [0, run + 1] {
        assert!(
            matches!(
                store.set_published(missing, Publication::Results, true).await,
                Err(StoreError::NoRun(n)) if n == missing
            ),
            "run {missing} does not exist"
        );
    }
    store.show(run, "build", &path(&["welcome", "build"])).await.unwrap();
    let second = store.new_run("welcome").await.unwrap().run;
    // The rehearsal's results are published after the next run began; the
    // current run, where it stands and what it published, stay as they were.
    let old = store.set_published(run, Publication::Results, true).await.unwrap();
    assert_eq!((old.run, old.slide.as_str()), (run, "build"));
    assert_eq!((old.published.results, old.published.explore), (true, false));
    assert_eq!(store.run(run).await.unwrap().unwrap().state, old);
    let now = store.current("welcome").await.unwrap();
    assert_eq!((now.run, now.published), (second, Published::default()));
    let old = store.set_published(run, Publication::Results, false).await.unwrap();
    assert_eq!(old.published, Published::default());
    assert_eq!(
        store.run(run).await.unwrap().unwrap().state.published,
        Published::default()
    );
}

async fn any_run_can_be_labelled_and_the_label_is_kept(store: VoteStore) {
    assert!(matches!(
        store.set_label(1, "rehearsal").await,
        Err(StoreError::NoRun(1))
    ));
    let first = store.current("welcome").await.unwrap().run;
    assert_eq!(
        store.set_label(first, "rehearsal").await.unwrap().label.as_deref(),
        Some("rehearsal")
    );
    let second = store.new_run("welcome").await.unwrap();
    assert_eq!(second.label, None, "a new run has no label");
    // A past run too; a label may be changed, and removed with "".
    store.set_label(second.run, "PyCon 2027").await.unwrap();
    store.set_label(first, "first rehearsal").await.unwrap();
    let runs = store.runs().await.unwrap();
    assert_eq!(runs[0].state.label.as_deref(), Some("first rehearsal"));
    assert_eq!(runs[1].state.label.as_deref(), Some("PyCon 2027"));
    // The label survives the run's other changes.
    store
        .show(second.run, "build", &path(&["welcome", "build"]))
        .await
        .unwrap();
    assert_eq!(
        store.current("welcome").await.unwrap().label.as_deref(),
        Some("PyCon 2027")
    );
    assert_eq!(store.set_label(first, "").await.unwrap().label, None);
    assert_eq!(store.run(first).await.unwrap().unwrap().state.label, None);
    assert!(matches!(store.set_label(3, "x").await, Err(StoreError::NoRun(3))));
    assert!(matches!(store.set_label(0, "x").await, Err(StoreError::NoRun(0))));
}

const SECONDS_30: Duration = Duration::from_secs(30);

/// Opens `build` in run 1 with a countdown of `length`; returns the run
/// and the deadline.
/// The run's state after `change` to the countdown of its open `build`.
async fn build_countdown(store: &VoteStore, run: u64, change: Countdown) -> cyoa::store::RunState {
    store.countdown(run, "build", change).await.unwrap()
}

async fn counting_down(store: &VoteStore, length: Duration) -> (u64, u64) {
    let run = open_vote(store, "build").await;
    let before = now_ms();
    let state = build_countdown(store, run, Countdown::Start(length)).await;
    let deadline = state.deadline.expect("a countdown runs");
    let length = length.as_millis() as u64;
    // The store's clock is this machine's (Redis's TIME too).
    assert!(
        (before + length).saturating_sub(1) <= deadline && deadline <= now_ms() + length + 1,
        "deadline {deadline} is not {length} ms from now"
    );
    assert_eq!(store.current("welcome").await.unwrap().deadline, Some(deadline));
    (run, deadline)
}

async fn a_countdown_closes_its_vote_once_at_its_deadline(store: VoteStore) {
    let (run, deadline) = counting_down(&store, SECONDS_30).await;
    store.vote(run, "build", &voter(1), "pets", Sticky).await.unwrap();
    assert!(
        store.expire(run, "build", deadline).await.unwrap(),
        "the first expiry closes the vote"
    );
    assert!(
        !store.expire(run, "build", deadline).await.unwrap(),
        "a second one closes nothing"
    );
    let record = store.run(run).await.unwrap().unwrap();
    assert_eq!((record.state.open, record.state.deadline), (None, None));
    assert_eq!(
        record.closed,
        [Closed {
            decision: "build".into(),
            tally: tally(&[("pets", 1)]),
        }],
        "closed once, with its tally"
    );
    assert!(matches!(
        store.vote(run, "build", &voter(2), "pets", Sticky).await,
        Err(StoreError::NotOpen(_))
    ));
}

async fn a_stale_deadline_closes_nothing(store: VoteStore) {
    let (run, first) = counting_down(&store, SECONDS_30).await;
    // Restarted: the first deadline is stale.
    let second = build_countdown(&store, run, Countdown::Start(Duration::from_secs(60)))
        .await
        .deadline
        .unwrap();
    assert!(second > first);
    assert!(!store.expire(run, "build", first).await.unwrap());
    // Extended: so is the second.
    let third = build_countdown(&store, run, Countdown::Extend(Duration::from_secs(15)))
        .await
        .deadline
        .unwrap();
    assert_eq!(third, second + 15_000);
    assert!(!store.expire(run, "build", second).await.unwrap());
    // A deadline of another decision, or of an old run, closes nothing.
    assert!(!store.expire(run, "host", third).await.unwrap());
    assert!(!store.expire(run + 1, "build", third).await.unwrap());
    assert_eq!(store.current("welcome").await.unwrap().open.as_deref(), Some("build"));
    // Closed by the presenter, then reopened: the old deadline is gone.
    store.close(run, "build").await.unwrap();
    store.open(run, "build").await.unwrap();
    assert_eq!(store.current("welcome").await.unwrap().deadline, None);
    assert!(!store.expire(run, "build", third).await.unwrap());
    assert_eq!(store.current("welcome").await.unwrap().open.as_deref(), Some("build"));
    // A new run closes the vote and its countdown.
    build_countdown(&store, run, Countdown::Start(SECONDS_30)).await;
    let next = store.new_run("welcome").await.unwrap();
    assert_eq!(next.deadline, None);
    assert_eq!(store.run(run).await.unwrap().unwrap().state.deadline, None);
}

async fn a_countdown_is_extended_and_cancelled(store: VoteStore) {
    let (run, deadline) = counting_down(&store, SECONDS_30).await;
    let extended = build_countdown(&store, run, Countdown::Extend(Duration::from_secs(15))).await;
    assert_eq!(extended.deadline, Some(deadline + 15_000));
    let cancelled = build_countdown(&store, run, Countdown::Cancel).await;
    assert_eq!((cancelled.open.as_deref(), cancelled.deadline), (Some("build"), None));
    assert!(!store.expire(run, "build", deadline + 15_000).await.unwrap());
    // Nothing runs: extending starts nothing; the vote stays open.
    let still = build_countdown(&store, run, Countdown::Extend(Duration::from_secs(15))).await;
    assert_eq!((still.open.as_deref(), still.deadline), (Some("build"), None));
    // A countdown that ran out but did not close yet is extended from now.
    let short = build_countdown(&store, run, Countdown::Start(Duration::from_millis(1)))
        .await
        .deadline
        .unwrap();
    while now_ms() <= short + 5 {
        tokio::task::yield_now().await;
    }
    let before = now_ms();
    let later = build_countdown(&store, run, Countdown::Extend(Duration::from_secs(15)))
        .await
        .deadline
        .unwrap();
    assert!(
        later >= before + 15_000,
        "extended from now, not from the past deadline"
    );
    assert!(store.expire(run, "build", later).await.unwrap());
}

async fn a_countdown_needs_its_vote_open_and_ends_with_it(store: VoteStore) {
    let run = store.current("welcome").await.unwrap().run;
    for change in [
        Countdown::Start(SECONDS_30),
        Countdown::Extend(SECONDS_30),
        Countdown::Cancel,
    ] {
        assert!(
            matches!(store.countdown(run, "build", change).await, Err(StoreError::NotOpen(_))),
            "{change:?} without an open vote"
        );
    }
    store.open(run, "build").await.unwrap();
    assert!(matches!(
        store.countdown(run, "host", Countdown::Start(SECONDS_30)).await,
        Err(StoreError::NotOpen(_))
    ));
    assert!(matches!(
        store.countdown(run + 1, "build", Countdown::Start(SECONDS_30)).await,
        Err(StoreError::NotCurrent(_))
    ));
    build_countdown(&store, run, Countdown::Start(SECONDS_30)).await;
    // Opening the open vote again keeps its countdown; the presenter's
    // close ends it, and a move keeps none.
    assert!(store.open(run, "build").await.unwrap().deadline.is_some());
    store.close(run, "build").await.unwrap();
    assert_eq!(store.current("welcome").await.unwrap().deadline, None);
    let moved = store.show(run, "host", &path(&["welcome", "host"])).await.unwrap();
    assert_eq!(moved.deadline, None);
    // The history does not carry a deadline: the export has none.
    let json = serde_json::to_string(&store.runs().await.unwrap()).unwrap();
    assert!(!json.contains("deadline"), "{json}");
}

async fn concurrent_expiries_close_the_vote_once(store: VoteStore) {
    let (run, deadline) = counting_down(&store, SECONDS_30).await;
    let tries: Vec<_> = (0..16)
        .map(|_| {
            let store = store.clone();
            tokio::spawn(async move { store.expire(run, "build", deadline).await.unwrap() })
        })
        .collect();
    let mut closed = 0;
    for t in tries {
        closed += usize::from(t.await.unwrap());
    }
    assert_eq!(closed, 1, "exactly one expiry closes the vote");
    assert_eq!(store.run(run).await.unwrap().unwrap().closed.len(), 1);
}

// ---- Redis only ----

#[tokio::test]
async fn another_instance_and_a_restart_see_what_was_published() {
    let mut server = RedisServer::start();
    let first = redis_store_at(&server, "cyoa:").await;
    let run = first.current("welcome").await.unwrap().run;
    first.set_published(run, Publication::Results, true).await.unwrap();
    // A second instance on the same Redis sees it at once.
    let second = redis_store_at(&server, "cyoa:").await;
    assert!(second.current("welcome").await.unwrap().published.results);
    second.set_published(run, Publication::Explore, true).await.unwrap();
    assert!(first.current("welcome").await.unwrap().published.explore);
    drop((first, second));

    // Redis restarts (its data kept on disk): both switches are still on.
    server.stop();
    server.start_again();
    let third = redis_store_at(&server, "cyoa:").await;
    let state = third.current("welcome").await.unwrap();
    assert_eq!(
        state.published,
        Published {
            results: true,
            explore: true
        }
    );
}

#[tokio::test]
async fn a_new_redis_store_finds_the_runs_tallies_and_slide_again() {
    let prefix = fresh_prefix();
    let first = redis_store_at(shared(), &prefix).await;
    let run = open_vote(&first, "build").await;
    first.vote(run, "build", &voter(1), "pets", Sticky).await.unwrap();
    first.vote(run, "build", &voter(2), "doc", Presence).await.unwrap();
    let state = first.show(run, "build", &path(&["welcome", "build"])).await.unwrap();
    let runs = first.runs().await.unwrap();
    drop(first);

    let second = redis_store_at(shared(), &prefix).await;
    assert_eq!(second.current("welcome").await.unwrap(), state);
    assert_eq!(second.runs().await.unwrap(), runs);
    assert_eq!(
        second.tally(run, "build").await.unwrap(),
        tally(&[("doc", 1), ("pets", 1)])
    );
    assert_eq!(
        second.choice_of(run, "build", &voter(2)).await.unwrap().as_deref(),
        Some("doc")
    );
    // The vote is still open and counts on.
    second.vote(run, "build", &voter(3), "pets", Sticky).await.unwrap();
    assert_eq!(second.tally(run, "build").await.unwrap().get("pets"), 2);
}

#[tokio::test]
async fn a_claimed_redis_store_that_lost_its_data_refuses_to_begin_a_run() {
    let prefix = fresh_prefix();
    let store = redis_store_at(shared(), &prefix).await;
    store.claim_identity().await.unwrap();
    let run = open_vote(&store, "build").await;
    store.vote(run, "build", &voter(1), "pets", Sticky).await.unwrap();
    // A second instance claims the same identity.
    let other = redis_store_at(shared(), &prefix).await;
    other.claim_identity().await.unwrap();
    other.verify().await.unwrap();
    let identity: String = redis::cmd("GET")
        .arg(format!("{prefix}identity"))
        .query(&mut shared().connection())
        .unwrap();

    shared().delete_prefix(&prefix);
    // Before any heartbeat: asking for the run does not begin run 1.
    for result in [
        store.current("welcome").await,
        store.new_run("welcome").await,
        store
            .now("welcome", Some(&voter(1)), None)
            .await
            .map(|now| now.record.state),
    ] {
        match result {
            Err(StoreError::Lost(why)) => assert!(why.contains("none of this talk's data"), "{why}"),
            other => panic!("not refused as lost: {other:?}"),
        }
    }
    assert!(store.lost().is_some());
    // Every call is refused from now on, without reaching Redis.
    assert!(matches!(
        store.vote(run, "build", &voter(2), "pets", Sticky).await,
        Err(StoreError::Lost(_))
    ));
    assert!(matches!(other.verify().await, Err(StoreError::Lost(_))));
    let current: Option<String> = redis::cmd("GET")
        .arg(format!("{prefix}current"))
        .query(&mut shared().connection())
        .unwrap();
    assert_eq!(current, None, "no run was begun");

    // The identity comes back (Redis restored): calls are taken again.
    let () = redis::cmd("SET")
        .arg(format!("{prefix}identity"))
        .arg(&identity)
        .query(&mut shared().connection())
        .unwrap();
    store.verify().await.unwrap();
    assert_eq!(store.lost(), None);
    assert!(store.current("welcome").await.is_ok());

    // Another identity (another talk began on the empty store) is lost too.
    let () = redis::cmd("SET")
        .arg(format!("{prefix}identity"))
        .arg("another")
        .query(&mut shared().connection())
        .unwrap();
    match store.verify().await {
        Err(StoreError::Lost(why)) => assert!(why.contains("another talk"), "{why}"),
        other => panic!("not lost: {other:?}"),
    }
    // A store that claimed nothing (`cyoa audit`) checks nothing.
    let unclaimed = redis_store_at(shared(), &prefix).await;
    unclaimed.verify().await.unwrap();
    assert_eq!(unclaimed.lost(), None);
    shared().delete_prefix(&prefix);
}

#[tokio::test]
async fn the_redis_store_survives_a_redis_restart_and_reports_an_outage() {
    let mut server = RedisServer::start();
    let store = redis_store_at(&server, "cyoa:").await;
    let run = open_vote(&store, "build").await;
    store.vote(run, "build", &voter(1), "pets", Sticky).await.unwrap();
    store.show(run, "build", &path(&["welcome", "build"])).await.unwrap();

    server.stop();
    assert!(matches!(store.ping().await, Err(StoreError::Backend(_))));
    assert!(matches!(
        store.vote(run, "build", &voter(2), "pets", Sticky).await,
        Err(StoreError::Backend(_))
    ));
    assert!(matches!(store.tally(run, "build").await, Err(StoreError::Backend(_))));
    server.start_again();

    // The same store reconnects on its own (the scripts are loaded again).
    let mut answered = false;
    for _ in 0..200 {
        if store.ping().await.is_ok() {
            answered = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    assert!(answered, "the store did not reconnect after Redis restarted");
    let state = store.current("welcome").await.unwrap();
    assert_eq!((state.slide.as_str(), state.open.as_deref()), ("build", Some("build")));
    store.vote(run, "build", &voter(2), "pets", Sticky).await.unwrap();
    assert_eq!(store.tally(run, "build").await.unwrap(), tally(&[("pets", 2)]));
}

#[tokio::test]
async fn connecting_to_a_redis_that_is_not_there_fails_with_the_cause() {
    let mut server = RedisServer::start();
    let url = server.url();
    server.kill();
    match RedisStore::connect(&url, "cyoa:").await {
        Err(StoreError::Backend(cause)) => assert!(cause.contains("connect"), "{cause}"),
        Err(other) => panic!("expected a backend error, got {other:?}"),
        Ok(_) => panic!("connected to a stopped redis-server"),
    }
}

/// An SMS delivery mark is one key under the prefix, with a TTL, seen by
/// every instance.
#[tokio::test]
async fn a_delivery_mark_is_one_key_under_the_prefix_that_expires() {
    let server = RedisServer::start();
    let a = redis_store_at(&server, "talk-a:").await;
    let b = redis_store_at(&server, "talk-b:").await;
    let (run_a, run_b) = (open_vote(&a, "build").await, open_vote(&b, "build").await);
    assert_eq!(text(&a, run_a, 1, "pets", "SM1", MINUTE).await, counted(None));
    assert_eq!(
        text(&b, run_b, 1, "pets", "SM1", MINUTE).await,
        counted(None),
        "another prefix, another talk"
    );

    let mut con = server.connection();
    let mut keys: Vec<String> = ::redis::cmd("KEYS").arg("*:sms:*").query(&mut con).unwrap();
    keys.sort();
    assert_eq!(keys, ["talk-a:sms:SM1", "talk-b:sms:SM1"]);
    let ttl: i64 = ::redis::cmd("PTTL").arg("talk-a:sms:SM1").query(&mut con).unwrap();
    assert!(ttl > 0 && ttl <= 60_000, "PTTL {ttl}");

    let again = redis_store_at(&server, "talk-a:").await;
    assert_eq!(
        text(&again, run_a, 1, "pets", "SM1", MINUTE).await,
        Delivery::Again(Some("pets".into())),
        "another instance sees the mark"
    );
}

/// Every key of the store carries its prefix, the run, and the layout
/// documented in `src/store/redis/mod.rs`; two prefixes never meet.
#[tokio::test]
async fn every_key_carries_the_prefix_and_two_prefixes_do_not_meet() {
    let server = RedisServer::start();
    let a = redis_store_at(&server, "talk-a:").await;
    let b = redis_store_at(&server, "talk-b:").await;
    let run = open_vote(&a, "build").await;
    a.keep_present(&[voter(1)], MINUTE).await.unwrap();
    a.vote(run, "build", &voter(1), "pets", Presence).await.unwrap();
    a.close(run, "build").await.unwrap();
    a.new_run("welcome").await.unwrap();
    open_vote(&b, "deploy").await;
    b.vote(1, "deploy", &voter(1), "heroku", Sticky).await.unwrap();

    let mut con = server.connection();
    let mut keys: Vec<String> = ::redis::cmd("KEYS").arg("*").query(&mut con).unwrap();
    keys.sort();
    assert_eq!(
        keys,
        [
            "talk-a:current",
            "talk-a:presence",
            "talk-a:run:1:closed",
            "talk-a:run:1:frozen:build",
            "talk-a:run:1:indexed:build",
            "talk-a:run:1:present:build",
            "talk-a:run:1:state",
            "talk-a:run:1:tally:build",
            "talk-a:run:1:voters:build",
            "talk-a:run:2:state",
            "talk-b:current",
            "talk-b:run:1:indexed:deploy",
            "talk-b:run:1:state",
            "talk-b:run:1:tally:deploy",
            "talk-b:run:1:voters:deploy",
        ]
    );

    assert_eq!(a.current("welcome").await.unwrap().run, 2);
    assert_eq!(b.current("welcome").await.unwrap().run, 1);
    assert_eq!(b.tally(1, "build").await.unwrap(), Tally::default());
    assert_eq!(a.tally(1, "deploy").await.unwrap(), Tally::default());
    assert_eq!(b.choice_of(1, "build", &voter(1)).await.unwrap(), None);
    assert!(b.runs().await.unwrap()[0].closed.is_empty());
}

/// In Redis itself, after a burst, the counters equal the voter records.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_redis_counters_equal_the_voter_records_after_a_burst() {
    let (prefix, store, run) = redis_vote_open().await;
    vote_in_a_burst(&store, run, "build").await;

    let mut con = shared().connection();
    let records: BTreeMap<String, String> = ::redis::cmd("HGETALL")
        .arg(format!("{prefix}run:{run}:voters:build"))
        .query(&mut con)
        .unwrap();
    let counters: BTreeMap<String, u64> = ::redis::cmd("HGETALL")
        .arg(format!("{prefix}run:{run}:tally:build"))
        .query(&mut con)
        .unwrap();
    let mut recount = BTreeMap::new();
    for record in records.values() {
        let (kind, choice) = record.split_once('|').unwrap();
        assert!(kind == "S" || kind == "P", "{record}");
        *recount.entry(choice.to_string()).or_insert(0) += 1;
    }
    let counters: BTreeMap<String, u64> = counters.into_iter().filter(|(_, n)| *n > 0).collect();
    assert_eq!(counters, recount);
}

/// Data the store cannot read is reported as a backend error, not a panic.
#[tokio::test]
async fn unreadable_redis_data_is_a_backend_error() {
    let (prefix, store, run) = redis_vote_open().await;
    let mut con = shared().connection();
    let _: () = ::redis::cmd("HSET")
        .arg(format!("{prefix}run:{run}:state"))
        .arg("path")
        .arg("not json")
        .query(&mut con)
        .unwrap();
    let _: () = ::redis::cmd("SET")
        .arg(format!("{prefix}run:{run}:tally:build"))
        .arg("not a hash")
        .query(&mut con)
        .unwrap();
    assert!(matches!(store.current("welcome").await, Err(StoreError::Backend(_))));
    assert!(matches!(store.runs().await, Err(StoreError::Backend(_))));
    assert!(matches!(store.tally(run, "build").await, Err(StoreError::Backend(_))));
    match store.vote(run, "build", &voter(1), "pets", Sticky).await {
        Err(StoreError::Backend(cause)) => assert!(cause.contains("WRONGTYPE"), "{cause}"),
        other => panic!("expected a backend error, got {other:?}"),
    }
}

/// Instances sharing a Redis share the leases: a voter present on one
/// instance keeps the vote when another sweeps, and a voter whose instance
/// died loses it once the lease runs out, whoever sweeps.
#[tokio::test]
async fn instances_sharing_a_redis_share_the_leases() {
    let prefix = fresh_prefix();
    let one = redis_store_at(shared(), &prefix).await;
    let two = redis_store_at(shared(), &prefix).await;
    let run = open_vote(&one, "build").await;
    // Many voters at once: keep_present sends them in slices.
    let crowd: Vec<Voter> = (0..2500).map(voter).collect();
    one.keep_present(&crowd, MINUTE).await.unwrap();
    for v in &crowd[..20] {
        one.vote(run, "build", v, "pets", Presence).await.unwrap();
    }
    let lost = Voter::web("on-a-killed-instance");
    one.keep_present(std::slice::from_ref(&lost), Duration::ZERO)
        .await
        .unwrap();
    one.vote(run, "build", &lost, "doc", Presence).await.unwrap();
    drop(one);

    assert_eq!(two.withdraw_absent(run, "build").await.unwrap(), 1);
    assert_eq!(
        two.tally(run, "build").await.unwrap(),
        tally(&[("doc", 0), ("pets", 20)])
    );
}

/// A tally tampered with below a voter's record is never pushed below zero.
#[tokio::test]
async fn the_redis_counters_never_go_below_zero_even_on_bad_data() {
    let (prefix, store, run) = redis_vote_open().await;
    store.vote(run, "build", &voter(1), "pets", Sticky).await.unwrap();
    store.vote(run, "build", &voter(2), "pets", Sticky).await.unwrap();
    let _: () = ::redis::cmd("HSET")
        .arg(format!("{prefix}run:{run}:tally:build"))
        .arg("pets")
        .arg(0)
        .query(&mut shared().connection())
        .unwrap();
    store.vote(run, "build", &voter(1), "doc", Sticky).await.unwrap();
    store.withdraw(run, "build", &voter(2), false).await.unwrap();
    let t = store.tally(run, "build").await.unwrap();
    assert_eq!((t.get("pets"), t.get("doc")), (0, 1));
}

/// A vote is one round trip: MONITOR sees 100 votes arrive as 100
/// commands, all EVALSHA (the commands the script runs show as `[0 lua]`);
/// so are 20 votes from pages without JavaScript, their leases included.
#[tokio::test]
async fn a_vote_is_one_evalsha() {
    let server = RedisServer::start();
    let store = redis_store_at(&server, "cyoa:").await;
    let run = open_vote(&store, "build").await;
    let mut monitor = Monitor::start(&server);
    for n in 0..100 {
        let choice = if n % 3 == 0 { "pets" } else { "doc" };
        // Voter n % 50 votes twice: the second vote moves or repeats it.
        store.vote(run, "build", &voter(n % 50), choice, Sticky).await.unwrap();
    }
    for n in 100..120 {
        store
            .vote_from_page(run, "build", &voter(n), "pets", MINUTE)
            .await
            .unwrap();
    }
    let sent = monitor.commands_until_marker(&server);
    assert_eq!(sent.len(), 120, "{sent:#?}");
    assert!(sent.iter().all(|c| c.eq_ignore_ascii_case("evalsha")), "{sent:?}");
    // The page votes' leases hold them through a sweep.
    assert_eq!(store.withdraw_absent(run, "build").await.unwrap(), 0);
}

/// Where the talk stands for an arriving voter (the page, then its socket)
/// is one EVALSHA, whatever the run holds.
#[tokio::test]
async fn now_is_one_evalsha() {
    let server = RedisServer::start();
    let store = redis_store_at(&server, "cyoa:").await;
    let run = open_vote(&store, "build").await;
    store.vote(run, "build", &voter(1), "pets", Sticky).await.unwrap();
    store.close(run, "build").await.unwrap();
    store.open(run, "deploy").await.unwrap();
    let mut monitor = Monitor::start(&server);
    store.now("welcome", Some(&voter(1)), Some("build")).await.unwrap();
    store.now("welcome", None, None).await.unwrap();
    let sent = monitor.commands_until_marker(&server);
    assert_eq!(sent.len(), 2, "{sent:#?}");
    assert!(sent.iter().all(|c| c.eq_ignore_ascii_case("evalsha")), "{sent:?}");
}

/// The choices of 2,500 voters are three `HMGET`s of 1,000 voters at most,
/// sent together (one pipeline: one round trip), never a command a voter.
#[tokio::test]
async fn the_choices_of_a_crowd_are_a_few_hmgets() {
    let server = RedisServer::start();
    let store = redis_store_at(&server, "cyoa:").await;
    let run = open_vote(&store, "build").await;
    store.vote(run, "build", &voter(7), "pets", Sticky).await.unwrap();
    let voters: Vec<Voter> = (0..2500).map(voter).collect();
    let mut monitor = Monitor::start(&server);
    let choices = store.choices_of(run, "build", &voters).await.unwrap();
    let ran = monitor.entries_until_marker(&server);
    assert_eq!(choices.iter().flatten().collect::<Vec<_>>(), ["pets"]);
    assert_eq!(choices[7].as_deref(), Some("pets"));
    let fields: Vec<usize> = ran.iter().filter(|e| e.is("HMGET")).map(|e| e.args.len() - 1).collect();
    assert_eq!(fields, [1000, 1000, 500], "{ran:?}");
    assert_eq!(ran.len(), 3, "{ran:?}");
}

/// The Redis sweep of a crowd is a walk of short script calls: several
/// EVALSHA, each running one `SSCAN` step of 256 members of the presence
/// set, never a read of all of them at once; every absent vote goes exactly once.
#[tokio::test]
async fn the_redis_sweep_of_a_crowd_is_a_walk_of_short_script_calls() {
    let (server, store, run) = crowd_voted(Presence).await;
    let mut monitor = Monitor::start(&server);
    assert_eq!(store.withdraw_absent(run, "build").await.unwrap(), CROWD as u64);
    let ran = monitor.entries_until_marker(&server);

    let sent: Vec<_> = ran.iter().filter(|e| !e.by_script).collect();
    assert!(sent.iter().all(|e| e.is("EVALSHA")), "{sent:?}");
    let voters = format!("cyoa:run:{run}:voters:build");
    let present = format!("cyoa:run:{run}:present:build");
    let steps: Vec<_> = ran.iter().filter(|e| e.by_script && e.is("SSCAN")).collect();
    assert_eq!(steps.len(), sent.len(), "one SSCAN step per call: {steps:?}");
    assert!(steps.len() > 1, "a crowd of {CROWD} takes several steps: {steps:?}");
    assert!(!ran.iter().any(|e| e.is("HSCAN")), "the records are not walked");
    for step in &steps {
        assert_eq!(step.args[0], present, "{step:?}");
        assert_eq!(step.args[2..], ["COUNT", "256"], "{step:?}");
    }
    let whole = ran.iter().find(|e| e.is("HGETALL") && e.args.first() == Some(&voters));
    assert!(whole.is_none(), "{whole:?}");
    let deleted = ran.iter().filter(|e| e.is("HDEL") && e.args.first() == Some(&voters));
    assert_eq!(deleted.count(), CROWD);
    assert_eq!(store.tally(run, "build").await.unwrap().total(), 0);
}

/// The members of the Redis presence set of `decision`, sorted.
fn presence_set(server: &RedisServer, prefix: &str, run: u64, decision: &str) -> Vec<String> {
    let mut members: Vec<String> = ::redis::cmd("SMEMBERS")
        .arg(format!("{prefix}run:{run}:present:{decision}"))
        .query(&mut server.connection())
        .unwrap();
    members.sort();
    members
}

/// The ids of `voters` as the store keeps them, sorted.
fn ids(voters: &[Voter]) -> Vec<String> {
    let mut ids: Vec<String> = voters.iter().map(|v| v.as_str().to_string()).collect();
    ids.sort();
    ids
}

/// Sticky voters cost the Redis sweep nothing: with 5,000 sticky voters
/// and 3 presence voters, one sweep is one script call, one `SSCAN` of the
/// presence set and no walk of the records, and it withdraws exactly the
/// absent presence votes. A presence vote made sticky leaves the set; one
/// withdrawn leaves it too.
#[tokio::test]
async fn the_redis_sweep_walks_only_the_presence_voters() {
    const STICKY: usize = 5000;
    let server = RedisServer::start();
    let store = redis_store_at(&server, "cyoa:").await;
    let run = open_vote(&store, "build").await;
    for n in 0..STICKY {
        store.vote(run, "build", &voter(n), "pets", Sticky).await.unwrap();
    }
    let (here, gone) = (voter(STICKY), [voter(STICKY + 1), voter(STICKY + 2)]);
    store.keep_present(std::slice::from_ref(&here), MINUTE).await.unwrap();
    for v in gone.iter().chain([&here]) {
        store.vote(run, "build", v, "doc", Presence).await.unwrap();
    }
    let everyone = [here.clone(), gone[0].clone(), gone[1].clone()];
    assert_eq!(presence_set(&server, "cyoa:", run, "build"), ids(&everyone));

    let mut monitor = Monitor::start(&server);
    assert_eq!(store.withdraw_absent(run, "build").await.unwrap(), 2);
    let ran = monitor.entries_until_marker(&server);
    let sent: Vec<_> = ran.iter().filter(|e| !e.by_script).map(|e| e.name.as_str()).collect();
    assert_eq!(sent, ["EVALSHA"], "one sweep, one script call");
    let scans: Vec<_> = ran.iter().filter(|e| e.is("SSCAN") || e.is("HSCAN")).collect();
    assert_eq!(scans.len(), 1, "{scans:?}");
    assert_eq!(scans[0].name.to_uppercase(), "SSCAN", "{scans:?}");
    assert_eq!(scans[0].args[0], format!("cyoa:run:{run}:present:build"));
    let voters = format!("cyoa:run:{run}:voters:build");
    let mut touched: Vec<String> = ran
        .iter()
        .filter(|e| e.by_script && e.args.first() == Some(&voters))
        .map(|e| e.args.get(1).cloned().unwrap_or_default())
        .collect();
    touched.sort();
    touched.dedup();
    assert_eq!(
        touched,
        ids(&everyone),
        "the records of the presence voters only: {ran:?}"
    );
    let t = store.tally(run, "build").await.unwrap();
    assert_eq!((t.get("pets"), t.get("doc")), (STICKY as u64, 1));
    assert_eq!(
        presence_set(&server, "cyoa:", run, "build"),
        ids(std::slice::from_ref(&here))
    );

    // Made sticky on the same choice: out of the set, kept by the sweep.
    store.vote(run, "build", &here, "doc", Sticky).await.unwrap();
    assert!(presence_set(&server, "cyoa:", run, "build").is_empty());
    // A presence vote on another choice puts it back; withdrawn, it goes.
    store.vote(run, "build", &here, "pets", Presence).await.unwrap();
    assert_eq!(
        presence_set(&server, "cyoa:", run, "build"),
        ids(std::slice::from_ref(&here))
    );
    store.withdraw(run, "build", &here, false).await.unwrap();
    assert!(presence_set(&server, "cyoa:", run, "build").is_empty());
    // A sticky vote moved to another choice by presence joins the set.
    store.vote(run, "build", &voter(0), "doc", Presence).await.unwrap();
    assert_eq!(presence_set(&server, "cyoa:", run, "build"), ids(&[voter(0)]));
    assert_eq!(store.withdraw_absent(run, "build").await.unwrap(), 1);
    assert!(presence_set(&server, "cyoa:", run, "build").is_empty());
    let audit = store.audit(false).await.unwrap();
    assert!(audit.drift.is_empty(), "{audit:?}");
}

/// Redis's clock in ms.
fn redis_clock_ms(server: &RedisServer) -> u64 {
    let (seconds, micros): (u64, u64) = ::redis::cmd("TIME").query(&mut server.connection()).unwrap();
    seconds * 1000 + micros / 1000
}

/// A presence vote withdrawn at a reap leaves the Redis presence set, and
/// the rejoin that gives it back puts it in again.
#[tokio::test]
async fn a_reap_and_a_rejoin_keep_the_redis_presence_set() {
    let server = RedisServer::start();
    let store = redis_store_at(&server, "cyoa:").await;
    let run = open_vote(&store, "build").await;
    store.arrive("a", &voter(0), Duration::ZERO).await.unwrap();
    assert_eq!(store.rejoin("b", &[], MINUTE).await.unwrap(), 0);
    // A's lease is over when it joins: as if it stalled since. Wait for
    // Redis's clock to pass that millisecond.
    assert_eq!(store.rejoin("a", &[voter(0)], Duration::ZERO).await.unwrap(), 0);
    let joined = redis_clock_ms(&server);
    let deadline = std::time::Instant::now() + MINUTE;
    while redis_clock_ms(&server) <= joined {
        assert!(std::time::Instant::now() < deadline, "Redis's clock stands still");
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    store.vote(run, "build", &voter(0), "pets", Presence).await.unwrap();
    store.vote(run, "build", &voter(1), "doc", Sticky).await.unwrap();
    assert_eq!(presence_set(&server, "cyoa:", run, "build"), ids(&[voter(0)]));

    let sweep = store.withdraw_absent_as("b", run, "build", Duration::ZERO);
    assert_eq!(sweep.await.unwrap(), 1);
    assert!(presence_set(&server, "cyoa:", run, "build").is_empty());
    assert!(!store.beat("a", MINUTE).await.unwrap());
    assert_eq!(store.rejoin("a", &[voter(0)], MINUTE).await.unwrap(), 1);
    assert_eq!(presence_set(&server, "cyoa:", run, "build"), ids(&[voter(0)]));
    let audit = store.audit(false).await.unwrap();
    assert!(audit.drift.is_empty(), "{audit:?}");
    // A's voter leaves; the next sweep takes the vote and the set empties.
    store.leave("a", &voter(0), Duration::ZERO).await.unwrap();
    let sweep = store.withdraw_absent_as("b", run, "build", Duration::ZERO);
    assert_eq!(sweep.await.unwrap(), 1);
    assert!(presence_set(&server, "cyoa:", run, "build").is_empty());
}

/// `audit` reports a Redis presence set that is not exactly the presence
/// votes of the records (here as many members, but the wrong ones), and
/// `--repair` rebuilds it, after which the sweep finds the right votes.
#[tokio::test]
async fn audit_reports_and_repairs_a_wrong_redis_presence_set() {
    let (prefix, store, run) = redis_vote_open().await;
    store.vote(run, "build", &voter(1), "pets", Presence).await.unwrap();
    store.vote(run, "build", &voter(2), "pets", Sticky).await.unwrap();
    store.vote(run, "build", &voter(3), "doc", Presence).await.unwrap();
    let present = format!("{prefix}run:{run}:present:build");
    let mut con = shared().connection();
    let _: i64 = ::redis::cmd("SREM")
        .arg(&present)
        .arg(voter(1).as_str())
        .query(&mut con)
        .unwrap();
    let _: i64 = ::redis::cmd("SADD")
        .arg(&present)
        .arg(voter(2).as_str())
        .query(&mut con)
        .unwrap();

    let found = store.audit(false).await.unwrap();
    assert_eq!(
        found.drift,
        [Drift {
            run,
            decision: "build".into(),
            counter: "present".into(),
            choice: String::new(),
            counted: Some("2".into()),
            recorded: 2,
        }]
    );
    assert_eq!(store.audit(false).await.unwrap(), found, "reporting repairs nothing");
    assert_eq!(store.audit(true).await.unwrap(), found);
    assert!(store.audit(false).await.unwrap().drift.is_empty());
    assert_eq!(
        presence_set(shared(), &prefix, run, "build"),
        ids(&[voter(1), voter(3)])
    );
    assert_eq!(store.withdraw_absent(run, "build").await.unwrap(), 2);
    assert_eq!(
        counts(&store.tally(run, "build").await.unwrap()),
        counts(&tally(&[("pets", 1)]))
    );
}

/// Voter records written by an older cyoa, which kept no presence set, are
/// not stranded: the first sweep of the decision walks the records once
/// (several `HSCAN` steps), adding the presence votes to the set and
/// sweeping them, and marks the decision indexed; the next sweep is one
/// `SSCAN` call. `audit` leaves a decision not indexed yet to that sweep.
#[tokio::test]
async fn records_of_an_older_cyoa_are_indexed_by_the_first_sweep() {
    let (server, store, run) = crowd_voted(Sticky).await;
    let (here, gone) = (voter(CROWD), voter(CROWD + 1));
    store.keep_present(std::slice::from_ref(&here), MINUTE).await.unwrap();
    for v in [&here, &gone] {
        store.vote(run, "build", v, "doc", Presence).await.unwrap();
    }
    let _: i64 = ::redis::cmd("DEL")
        .arg(format!("cyoa:run:{run}:present:build"))
        .arg(format!("cyoa:run:{run}:indexed:build"))
        .query(&mut server.connection())
        .unwrap();
    assert!(store.audit(false).await.unwrap().drift.is_empty());

    let mut monitor = Monitor::start(&server);
    assert_eq!(store.withdraw_absent(run, "build").await.unwrap(), 1);
    let ran = monitor.entries_until_marker(&server);
    let walked = ran.iter().filter(|e| e.is("HSCAN")).count();
    assert!(walked > 1, "the records, in steps: {ran:?}");
    assert_eq!(
        presence_set(&server, "cyoa:", run, "build"),
        ids(std::slice::from_ref(&here))
    );

    let mut monitor = Monitor::start(&server);
    assert_eq!(store.withdraw_absent(run, "build").await.unwrap(), 0);
    let sent = monitor.commands_until_marker(&server);
    assert_eq!(sent, ["EVALSHA"]);
    assert!(store.audit(false).await.unwrap().drift.is_empty());
    store
        .keep_present(std::slice::from_ref(&here), Duration::ZERO)
        .await
        .unwrap();
    let t = store.tally(run, "build").await.unwrap();
    assert_eq!((t.get("pets"), t.get("doc")), (CROWD as u64, 1));
}

/// A MONITOR connection: every command the server runs, as it runs it.
struct Monitor(std::io::BufReader<std::net::TcpStream>);

/// One command MONITOR saw.
#[derive(Debug)]
struct Ran {
    /// Run by a script (`[0 lua]`), not sent by a client.
    by_script: bool,
    name: String,
    args: Vec<String>,
}

impl Ran {
    fn is(&self, name: &str) -> bool {
        self.name.eq_ignore_ascii_case(name)
    }
}

impl Monitor {
    fn start(server: &RedisServer) -> Monitor {
        use std::io::{BufRead, Write};
        let mut stream = std::net::TcpStream::connect(("127.0.0.1", server.port())).unwrap();
        stream.write_all(b"MONITOR\r\n").unwrap();
        let mut reader = std::io::BufReader::new(stream);
        let mut ok = String::new();
        reader.read_line(&mut ok).unwrap();
        assert_eq!(ok.trim_end(), "+OK");
        Monitor(reader)
    }

    /// The names of the commands clients sent (not those scripts ran), up
    /// to a marker this sends from another connection.
    fn commands_until_marker(&mut self, server: &RedisServer) -> Vec<String> {
        let ran = self.entries_until_marker(server);
        ran.into_iter().filter(|e| !e.by_script).map(|e| e.name).collect()
    }

    /// Every command run, by clients and by scripts, up to a marker this
    /// sends from another connection. (Arguments are read as simple quoted
    /// words: enough for cyoa's keys and numbers.)
    fn entries_until_marker(&mut self, server: &RedisServer) -> Vec<Ran> {
        use std::io::BufRead;
        const MARKER: &str = "cyoa-monitor-marker";
        let _: String = ::redis::cmd("ECHO")
            .arg(MARKER)
            .query(&mut server.connection())
            .unwrap();
        let mut commands = Vec::new();
        let mut line = String::new();
        loop {
            line.clear();
            assert!(
                self.0.read_line(&mut line).unwrap() > 0,
                "MONITOR ended before the marker"
            );
            if line.contains(MARKER) {
                return commands;
            }
            // +<time> [<db> <client address, or lua>] "<COMMAND>" "<arg>"...
            let Some((client, rest)) = line.split_once("] ") else {
                continue;
            };
            let mut words = rest.trim_end().split('"').skip(1).step_by(2).map(str::to_string);
            if let Some(name) = words.next() {
                commands.push(Ran {
                    by_script: client.ends_with(" lua"),
                    name,
                    args: words.collect(),
                });
            }
        }
    }
}

// ---- the harness itself ----

#[test]
fn the_test_redis_server_answers() {
    let mut con = shared().connection();
    let pong: String = ::redis::cmd("PING").query(&mut con).unwrap();
    assert_eq!(pong, "PONG");
    assert_ne!(fresh_prefix(), fresh_prefix());
}

#[test]
fn a_restarted_test_redis_server_keeps_its_data_on_the_same_port() {
    let mut server = RedisServer::start();
    let port = server.port();
    let _: () = ::redis::cmd("SET")
        .arg("k")
        .arg("v")
        .query(&mut server.connection())
        .unwrap();
    server.restart();
    assert_eq!(server.port(), port);
    let v: String = ::redis::cmd("GET").arg("k").query(&mut server.connection()).unwrap();
    assert_eq!(v, "v");
}

/// `move_to` with `chosen` writes how the run went on from its decisions in
/// the same step; without it, leaves them; a history carries them over.
async fn a_move_records_who_chose_the_way_on(store: VoteStore) {
    let run = store.current("welcome").await.unwrap().run;
    let by = |decision: &str, choice: &str, by| Chosen {
        decision: decision.into(),
        choice: choice.into(),
        by,
    };
    let chosen = [by("welcome", "pets", ChosenBy::Presenter)];
    let moved = store
        .move_to(
            run,
            &path(&["welcome"]),
            "build",
            &path(&["welcome", "build"]),
            Some(&chosen),
        )
        .await
        .unwrap()
        .expect("moved");
    assert_eq!(moved.chosen, chosen);
    // A move that says nothing of choices keeps them.
    store
        .move_to(
            run,
            &path(&["welcome", "build"]),
            "host",
            &path(&["welcome", "build", "host"]),
            None,
        )
        .await
        .unwrap()
        .expect("moved");
    let both = [
        by("welcome", "pets", ChosenBy::Presenter),
        by("host", "vps", ChosenBy::Random),
    ];
    store
        .move_to(
            run,
            &path(&["welcome", "build", "host"]),
            "end",
            &path(&["welcome", "build", "host", "end"]),
            Some(&both),
        )
        .await
        .unwrap()
        .expect("moved");
    assert_eq!(store.current("welcome").await.unwrap().chosen, both);
    let runs = store.runs().await.unwrap();
    assert_eq!(runs[0].state.chosen, both);
    assert_eq!(store.run(run).await.unwrap().unwrap().state.chosen, both);
    // A refused move writes nothing.
    let stale = store
        .move_to(run, &path(&["welcome"]), "x", &path(&["welcome", "x"]), Some(&[]))
        .await
        .unwrap();
    assert_eq!(stale, None);
    assert_eq!(store.current("welcome").await.unwrap().chosen, both);
    // A new run starts with none.
    assert!(store.new_run("welcome").await.unwrap().chosen.is_empty());
}
