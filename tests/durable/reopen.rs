//! The embedded store opened again on its data file finds what it had.

use std::time::{Duration, Instant};

use cyoa::store::{Delivery, Publication, Tally, TextVote, VoteKind, VoteOutcome, VoteStore, Voter};

use crate::support::backends::{data_file, embedded_store_at};

fn voter(n: usize) -> Voter {
    Voter::web(&format!("voter-{n}"))
}

fn path(slides: &[&str]) -> Vec<String> {
    slides.iter().map(|s| s.to_string()).collect()
}

/// The choices with votes (a choice whose votes all moved away may show
/// 0 or be absent: the same tally).
fn counted(tally: Tally) -> Vec<(String, u64)> {
    tally.0.into_iter().filter(|(_, n)| *n > 0).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn everything_acknowledged_is_back_after_reopening() {
    let (_dir, file) = data_file();
    let grace = Duration::from_secs(60);
    let store = embedded_store_at(&file, grace);

    // Run 1: a decision voted and closed, published.
    let s = store.current("intro").await.unwrap();
    store.show(s.run, "build", &path(&["intro", "build"])).await.unwrap();
    store.open(s.run, "build").await.unwrap();
    for n in 0..5 {
        let choice = if n < 3 { "pets" } else { "docs" };
        store
            .vote(s.run, "build", &voter(n), choice, VoteKind::Sticky)
            .await
            .unwrap();
    }
    store.close(s.run, "build").await.unwrap();
    store.set_published(s.run, Publication::Results, true).await.unwrap();
    store.set_label(s.run, "rehearsal").await.unwrap();
    // Run 2: a decision open, presence and sticky votes, a text, a moved vote.
    let s = store.new_run("intro").await.unwrap();
    store.show(s.run, "host", &path(&["intro", "host"])).await.unwrap();
    store.open(s.run, "host").await.unwrap();
    store
        .vote(s.run, "host", &voter(1), "vps", VoteKind::Presence)
        .await
        .unwrap();
    store
        .vote(s.run, "host", &voter(2), "paas", VoteKind::Sticky)
        .await
        .unwrap();
    store
        .vote(s.run, "host", &voter(2), "rack", VoteKind::Sticky)
        .await
        .unwrap();
    let phone = Voter::phone("hash-1");
    let ttl = Duration::from_secs(3600);
    assert!(matches!(
        store.sms_vote(text(s.run, &phone, "vps"), ttl).await.unwrap(),
        Delivery::First(VoteOutcome::Counted { .. })
    ));
    store.withdraw(s.run, "host", &voter(2), false).await.unwrap();
    store
        .vote(s.run, "host", &voter(3), "paas", VoteKind::Sticky)
        .await
        .unwrap();

    let runs = store.runs().await.unwrap();
    let tally = counted(store.tally(2, "host").await.unwrap());
    let frozen = counted(store.tally(1, "build").await.unwrap());
    drop(store);

    let again = embedded_store_at(&file, grace);
    assert_eq!(
        again.runs().await.unwrap(),
        runs,
        "the run history, the slide, the open vote"
    );
    assert_eq!(counted(again.tally(2, "host").await.unwrap()), tally);
    assert_eq!(counted(again.tally(1, "build").await.unwrap()), frozen);
    assert_eq!(
        again.choice_of(2, "host", &voter(1)).await.unwrap().as_deref(),
        Some("vps")
    );
    assert_eq!(
        again.choice_of(2, "host", &voter(2)).await.unwrap(),
        None,
        "withdrawn stays withdrawn"
    );
    assert_eq!(
        again.choice_of(2, "host", &phone).await.unwrap().as_deref(),
        Some("vps")
    );
    assert_eq!(
        again.sms_vote(text(2, &phone, "paas"), ttl).await.unwrap(),
        Delivery::Again(Some("vps".into())),
        "a delivery seen before the restart counts nothing again"
    );
    // Votes go on counting where they were.
    assert_eq!(
        again
            .vote(2, "host", &voter(1), "paas", VoteKind::Sticky)
            .await
            .unwrap(),
        VoteOutcome::Counted {
            previous: Some("vps".into())
        }
    );
    let audit = again.audit(false).await.unwrap();
    assert!(audit.drift.is_empty(), "{:?}", audit.drift);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_a_restart_presence_votes_wait_one_grace_for_their_pages() {
    let (_dir, file) = data_file();
    let grace = Duration::from_millis(600);
    let store = embedded_store_at(&file, grace);
    let s = store.current("build").await.unwrap();
    store.open(s.run, "build").await.unwrap();
    let (back, gone, sticky) = (voter(1), voter(2), voter(3));
    store
        .vote(s.run, "build", &back, "pets", VoteKind::Presence)
        .await
        .unwrap();
    store
        .vote(s.run, "build", &gone, "docs", VoteKind::Presence)
        .await
        .unwrap();
    store
        .vote(s.run, "build", &sticky, "docs", VoteKind::Sticky)
        .await
        .unwrap();
    drop(store);

    let started = Instant::now();
    let again = embedded_store_at(&file, grace);
    let me = "instance-after-restart";
    assert!(
        !again.beat(me, grace).await.unwrap(),
        "a new process has not joined yet"
    );
    again.rejoin(me, &[], Duration::from_secs(30)).await.unwrap();
    assert_eq!(
        again.withdraw_absent_as(me, s.run, "build", grace).await.unwrap(),
        0,
        "within the grace every presence vote stands"
    );
    // One page comes back within the grace.
    again.arrive(me, &back, grace).await.unwrap();
    let withdrawn = wait_for_withdrawal(&again, me, s.run, started + grace).await;
    assert_eq!(withdrawn, 1, "only the page that never came back loses its vote");
    let tally = again.tally(s.run, "build").await.unwrap();
    assert_eq!((tally.get("pets"), tally.get("docs")), (1, 1), "{tally:?}");
    assert_eq!(again.choice_of(s.run, "build", &gone).await.unwrap(), None);
    // A vote after the sweep rewrote the decision's records.
    again
        .vote(s.run, "build", &gone, "pets", VoteKind::Sticky)
        .await
        .unwrap();
    drop(again);
    // The withdrawal and the vote after it were written too.
    let third = embedded_store_at(&file, grace);
    assert_eq!(
        third.choice_of(s.run, "build", &gone).await.unwrap().as_deref(),
        Some("pets")
    );
    let tally = third.tally(s.run, "build").await.unwrap();
    assert_eq!((tally.get("pets"), tally.get("docs")), (2, 1), "{tally:?}");
}

/// Rows in the data file's ballot log (read beside the server, as an
/// operator's `sqlite3` would).
fn logged(file: &std::path::Path) -> i64 {
    let conn = rusqlite::Connection::open_with_flags(file, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY).unwrap();
    conn.query_row("SELECT count(*) FROM ballot_log", [], |r| r.get(0))
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn votes_read_the_same_from_the_ballot_log_and_after_it_is_folded() {
    let (_dir, file) = data_file();
    let grace = Duration::from_secs(60);
    let store = embedded_store_at(&file, grace);
    let s = store.current("build").await.unwrap();
    store.open(s.run, "build").await.unwrap();
    // New votes, moved votes, withdrawn votes and a vote again after its
    // withdrawal: every kind of change the log holds.
    for n in 0..40 {
        let choice = ["pets", "docs", "rack"][n % 3];
        store
            .vote(s.run, "build", &voter(n), choice, VoteKind::Sticky)
            .await
            .unwrap();
    }
    for n in (0..40).step_by(4) {
        store
            .vote(s.run, "build", &voter(n), "docs", VoteKind::Presence)
            .await
            .unwrap();
    }
    for n in (1..40).step_by(5) {
        store.withdraw(s.run, "build", &voter(n), false).await.unwrap();
    }
    store
        .vote(s.run, "build", &voter(1), "rack", VoteKind::Sticky)
        .await
        .unwrap();
    assert!(logged(&file) > 0, "the votes went to the ballot log");
    let voters: Vec<Voter> = (0..40).map(voter).collect();
    let choices = store.choices_of(s.run, "build", &voters).await.unwrap();
    let tally = counted(store.tally(s.run, "build").await.unwrap());
    let runs = store.runs().await.unwrap();

    // Read while the server holds the file: the log is not folded yet.
    let live = VoteStore::Memory(cyoa::store::read_only(&file).unwrap());
    assert_eq!(
        live.choices_of(s.run, "build", &voters).await.unwrap(),
        choices,
        "read beside the server"
    );
    assert_eq!(counted(live.tally(s.run, "build").await.unwrap()), tally);
    assert_eq!(live.runs().await.unwrap(), runs);
    drop(store);

    // Opened again: the log is folded into the voter records, and read
    // from there the votes are the same.
    let again = embedded_store_at(&file, grace);
    assert_eq!(logged(&file), 0, "the log is folded at open");
    assert_eq!(
        again.choices_of(s.run, "build", &voters).await.unwrap(),
        choices,
        "after the fold"
    );
    assert_eq!(counted(again.tally(s.run, "build").await.unwrap()), tally);
    let audit = again.audit(false).await.unwrap();
    assert!(audit.drift.is_empty(), "{:?}", audit.drift);
}

/// Sweeps as the server does until something is withdrawn (never before
/// `not_before`); how many were.
async fn wait_for_withdrawal(store: &VoteStore, me: &str, run: u64, not_before: Instant) -> u64 {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let n = store
            .withdraw_absent_as(me, run, "build", Duration::from_millis(600))
            .await
            .unwrap();
        if n > 0 {
            assert!(Instant::now() >= not_before, "withdrawn before the grace ran out");
            return n;
        }
        assert!(Instant::now() < deadline, "nothing was withdrawn after the grace");
        store.beat(me, Duration::from_secs(30)).await.unwrap();
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Delivery `SM-one` from `phone`: a vote for `choice` on "host" in `run`.
fn text<'a>(run: u64, phone: &'a Voter, choice: &'a str) -> TextVote<'a> {
    TextVote {
        run,
        decision: "host",
        voter: phone,
        choice,
        sid: "SM-one",
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn results_text_numbers_and_messages_are_not_kept_past_their_ttl_across_a_restart() {
    let (_dir, file) = data_file();
    let grace = Duration::from_secs(60);
    let (short, day) = (Duration::from_millis(300), Duration::from_secs(24 * 60 * 60));
    let store = embedded_store_at(&file, grace);
    store
        .recipient_keep(1, "build", "phone-short", b"sealed short", short)
        .await
        .unwrap();
    store
        .recipient_keep(1, "build", "phone-day", b"sealed day", day)
        .await
        .unwrap();
    store
        .outbox_put("m-short", b"short", Duration::ZERO, short)
        .await
        .unwrap();
    store.outbox_put("m-day", b"day", Duration::ZERO, day).await.unwrap();
    let written = Instant::now();
    drop(store);

    // Opened again once the short ttl has passed (the wait is for the
    // clock, not for something to happen).
    let past = written + short + Duration::from_millis(50);
    tokio::time::sleep(past.saturating_duration_since(Instant::now())).await;
    let again = embedded_store_at(&file, grace);
    assert_eq!(
        again.outbox_len().await.unwrap(),
        1,
        "only the message within its ttl is back"
    );
    let claimed = again.outbox_claim(10, Duration::from_secs(60)).await.unwrap();
    assert_eq!(claimed.len(), 1);
    assert_eq!(claimed[0].id, "m-day");
    assert_eq!(
        again.recipients_take(1, "build").await.unwrap(),
        vec![b"sealed day".to_vec()],
        "only the number within its ttl is back"
    );
    // The next outbox write deletes the expired rows from the file.
    again.outbox_put("m-next", b"next", Duration::ZERO, day).await.unwrap();
    drop(again);
    let conn = rusqlite::Connection::open_with_flags(&file, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY).unwrap();
    let left: i64 = conn
        .query_row(
            "SELECT (SELECT count(*) FROM outbox WHERE id = 'm-short')
                  + (SELECT count(*) FROM recipients WHERE phone = 'phone-short')",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(left, 0, "the expired rows are gone from the data file");
}

/// A reaped instance's rejoin gives a vote back by rewriting the
/// decision's records; the ballot log is folded first, and the votes
/// logged after the rewrite are read over it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_vote_given_back_at_a_rejoin_and_the_votes_around_it_are_back_after_reopening() {
    let (_dir, file) = data_file();
    let minute = Duration::from_secs(60);
    let store = embedded_store_at(&file, minute);
    let run = store.current("build").await.unwrap().run;
    store.open(run, "build").await.unwrap();
    store.arrive("a", &voter(0), Duration::ZERO).await.unwrap();
    assert_eq!(store.rejoin("b", &[], minute).await.unwrap(), 0);
    // A's lease is over as it joins: as if it stalled since.
    assert_eq!(store.rejoin("a", &[voter(0)], Duration::ZERO).await.unwrap(), 0);
    store
        .vote(run, "build", &voter(0), "pets", VoteKind::Presence)
        .await
        .unwrap();
    store
        .vote(run, "build", &voter(1), "docs", VoteKind::Sticky)
        .await
        .unwrap();
    // B reaps A and withdraws its voter's vote; A comes back and gives
    // it back.
    assert_eq!(
        store
            .withdraw_absent_as("b", run, "build", Duration::ZERO)
            .await
            .unwrap(),
        1
    );
    assert!(!store.beat("a", minute).await.unwrap());
    assert_eq!(store.rejoin("a", &[voter(0)], minute).await.unwrap(), 1);
    store
        .vote(run, "build", &voter(2), "pets", VoteKind::Sticky)
        .await
        .unwrap();
    drop(store);

    let again = embedded_store_at(&file, minute);
    let voters: Vec<Voter> = (0..3).map(voter).collect();
    assert_eq!(
        again.choices_of(run, "build", &voters).await.unwrap(),
        [
            Some("pets".to_string()),
            Some("docs".to_string()),
            Some("pets".to_string())
        ]
    );
    let tally = again.tally(run, "build").await.unwrap();
    assert_eq!((tally.get("pets"), tally.get("docs")), (2, 1), "{tally:?}");
}
