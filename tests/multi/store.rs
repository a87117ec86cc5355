//! The store calls the instances rely on to stay consistent, on both
//! backends: the compare-and-set move, the audit, and presence held by
//! instances (reaped when their lease runs out, given back on rejoin).

use std::time::Duration;

use cyoa::store::{MemoryStore, RedisStore, VoteKind, VoteStore, Voter};

use crate::support::redis::{fresh_prefix, shared};

async fn both_stores() -> [(&'static str, VoteStore); 2] {
    let redis = RedisStore::connect(&shared().url(), &fresh_prefix())
        .await
        .expect("the test redis-server answers");
    [
        ("memory", VoteStore::Memory(MemoryStore::new())),
        ("redis", VoteStore::Redis(redis)),
    ]
}

/// The clock the store's leases run on, in milliseconds: Redis's `TIME`
/// (what its scripts read) or this process's clock (the memory store's).
fn store_clock_ms(name: &str) -> u64 {
    if name == "redis" {
        let (seconds, micros): (u64, u64) = redis::cmd("TIME").query(&mut shared().connection()).expect("TIME");
        return seconds * 1000 + micros / 1000;
    }
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

fn path(slides: &[&str]) -> Vec<String> {
    slides.iter().map(|s| s.to_string()).collect()
}

#[tokio::test]
async fn a_move_from_a_path_that_changed_meanwhile_moves_nothing() {
    for (name, store) in both_stores().await {
        let run = store.current("intro").await.expect("a run").run;
        let read = path(&["intro"]);
        let moved = store
            .move_to(run, &read, "build", &path(&["intro", "build"]), None)
            .await;
        assert_eq!(moved.expect("answers").map(|s| s.slide), Some("build".into()), "{name}");
        // A second screen read the intro too and presses next: refused.
        let stale = store
            .move_to(run, &read, "build", &path(&["intro", "build"]), None)
            .await;
        assert_eq!(stale.expect("answers"), None, "{name}");
        let state = store.current("intro").await.expect("the state");
        assert_eq!(state.path, path(&["intro", "build"]), "{name}");
    }
}

#[tokio::test]
async fn the_audit_of_a_clean_store_finds_no_drift_on_either_backend() {
    for (name, store) in both_stores().await {
        let run = store.current("intro").await.expect("a run").run;
        store.open(run, "build").await.expect("opens");
        for (i, choice) in ["pets", "pets", "docs"].into_iter().enumerate() {
            let voter = Voter::web(&format!("voter-{i}"));
            store
                .vote(run, "build", &voter, choice, VoteKind::Presence)
                .await
                .expect("votes");
        }
        store
            .withdraw(run, "build", &Voter::web("voter-0"), true)
            .await
            .expect("withdraws");
        store.close(run, "build").await.expect("closes");
        let audit = store.audit(false).await.expect("audits");
        assert_eq!((audit.decisions, audit.drift.len()), (1, 0), "{name}: {audit:?}");
    }
}

#[tokio::test]
async fn a_reaped_instance_rejoins_and_gives_back_the_votes_of_its_voters_still_there_once() {
    const MINUTE: Duration = Duration::from_secs(60);
    for (name, store) in both_stores().await {
        let run = store.current("intro").await.expect("a run").run;
        store.open(run, "build").await.expect("opens");
        let voter = |n: usize| Voter::web(&format!("voter-{n}"));
        let sweep = |instance: &'static str| store.withdraw_absent_as(instance, run, "build", Duration::ZERO);
        // A holds voters 0 and 1, B holds voter 2; voter 3 votes by SMS.
        for (instance, n) in [("a", 0), ("a", 1), ("b", 2)] {
            store
                .arrive(instance, &voter(n), Duration::ZERO)
                .await
                .expect("arrives");
        }
        assert_eq!(
            store.rejoin("b", &[voter(2)], MINUTE).await.expect("joins"),
            0,
            "{name}"
        );
        // A's lease is already over when it joins: as if it stalled since.
        let a_voters = [voter(0), voter(1)];
        assert_eq!(store.rejoin("a", &a_voters, Duration::ZERO).await.expect("joins"), 0);
        // A lease of zero ends at the millisecond of the join, and a sweep
        // in that same millisecond still finds it running: wait for the
        // store's clock to pass it (on a fast machine the calls below fit
        // in one).
        let joined = store_clock_ms(name);
        let deadline = std::time::Instant::now() + MINUTE;
        while store_clock_ms(name) <= joined {
            assert!(
                std::time::Instant::now() < deadline,
                "the {name} store's clock stands still"
            );
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        for (n, choice, kind) in [
            (0, "pets", VoteKind::Presence),
            (1, "docs", VoteKind::Presence),
            (2, "pets", VoteKind::Presence),
            (3, "docs", VoteKind::Sticky),
        ] {
            store.vote(run, "build", &voter(n), choice, kind).await.expect("votes");
        }
        // A, stalled, withdraws nothing (it is running, so never reaps
        // itself); B reaps A: A's voters go, B's and the sticky one stay.
        assert_eq!(sweep("a").await.expect("sweeps"), 0, "{name}");
        assert_eq!(sweep("b").await.expect("sweeps"), 2, "{name}");
        assert_eq!(sweep("a").await.expect("sweeps"), 0, "{name}");
        let tally = store.tally(run, "build").await.expect("a tally");
        assert_eq!((tally.get("pets"), tally.get("docs")), (1, 1), "{name}");
        // A wakes: its heartbeat finds no lease, it rejoins with voter 0
        // only (voter 1's page closed meanwhile): one vote comes back, once.
        assert!(!store.beat("a", MINUTE).await.expect("beats"), "{name}");
        assert_eq!(
            store.rejoin("a", &[voter(0)], MINUTE).await.expect("rejoins"),
            1,
            "{name}"
        );
        assert_eq!(
            store.rejoin("a", &[voter(0)], MINUTE).await.expect("rejoins"),
            0,
            "{name}"
        );
        assert!(store.beat("a", MINUTE).await.expect("beats"), "{name}");
        // The vote given back is a presence vote again, for the sweep too.
        let audit = store.audit(false).await.expect("audits");
        assert!(audit.drift.is_empty(), "{name}: {audit:?}");
        assert_eq!(sweep("b").await.expect("sweeps"), 0, "{name}");
        let tally = store.tally(run, "build").await.expect("a tally");
        assert_eq!((tally.get("pets"), tally.get("docs")), (2, 1), "{name}");
        assert_eq!(
            store
                .choice_of(run, "build", &voter(0))
                .await
                .expect("a choice")
                .as_deref(),
            Some("pets"),
            "{name}"
        );
        // A voter leaving A keeps the vote for the grace, then loses it.
        store.leave("a", &voter(0), Duration::ZERO).await.expect("leaves");
        assert_eq!(sweep("b").await.expect("sweeps"), 1, "{name}");
        let audit = store.audit(false).await.expect("audits");
        assert!(audit.drift.is_empty(), "{name}: {audit:?}");
    }
}

/// A reaped instance's crowd, swept in several steps by the Redis store:
/// every presence vote of its voters goes and is kept aside, the live
/// instance's voters and the sticky votes stay, and the voters whose pages
/// are still open on the instance get their votes back once when it
/// rejoins.
#[tokio::test]
async fn a_reaped_instance_with_a_crowd_is_swept_in_steps_and_its_voters_still_there_get_their_votes_back() {
    const MINUTE: Duration = Duration::from_secs(60);
    // Well over one step (256 records) of the Redis sweep's walk.
    const CROWD: usize = 1500;
    let voter = |n: usize| Voter::web(&format!("voter-{n}"));
    let choice = |n: usize| if n % 2 == 0 { "pets" } else { "docs" };
    // The tally of the voters `n` for which `counts(n)`.
    let tally_of = |counts: &dyn Fn(usize) -> bool| {
        let pets = (0..CROWD).filter(|n| counts(*n) && choice(*n) == "pets").count() as u64;
        let docs = (0..CROWD).filter(|n| counts(*n) && choice(*n) == "docs").count() as u64;
        (pets, docs)
    };
    for (name, store) in both_stores().await {
        let run = store.current("intro").await.expect("a run").run;
        store.open(run, "build").await.expect("opens");
        // A holds voters n % 3 == 0, B those n % 3 == 1; the others vote
        // by SMS (sticky, no page). A's lease is over when it joins: as if
        // it stalled since.
        let on = |rest: usize| (0..CROWD).filter(|n| n % 3 == rest).map(voter).collect::<Vec<_>>();
        assert_eq!(store.rejoin("b", &on(1), MINUTE).await.expect("joins"), 0, "{name}");
        assert_eq!(
            store.rejoin("a", &on(0), Duration::ZERO).await.expect("joins"),
            0,
            "{name}"
        );
        for n in 0..CROWD {
            let kind = if n % 3 == 2 {
                VoteKind::Sticky
            } else {
                VoteKind::Presence
            };
            store
                .vote(run, "build", &voter(n), choice(n), kind)
                .await
                .expect("votes");
        }
        // A, stalled, withdraws nothing; B reaps A: all of A's voters go.
        let sweep = |instance: &'static str| store.withdraw_absent_as(instance, run, "build", Duration::ZERO);
        assert_eq!(sweep("a").await.expect("sweeps"), 0, "{name}");
        assert_eq!(sweep("b").await.expect("sweeps"), 500, "{name}");
        assert_eq!(sweep("b").await.expect("sweeps"), 0, "{name}: a second sweep");
        let tally = store.tally(run, "build").await.expect("a tally");
        assert_eq!(
            (tally.get("pets"), tally.get("docs")),
            tally_of(&|n| n % 3 != 0),
            "{name}"
        );
        // A wakes and rejoins with its even voters only (the odd ones'
        // pages closed meanwhile): each of their votes comes back, once.
        let still: Vec<Voter> = (0..CROWD).filter(|n| n % 6 == 0).map(voter).collect();
        assert_eq!(store.rejoin("a", &still, MINUTE).await.expect("rejoins"), 250, "{name}");
        assert_eq!(store.rejoin("a", &still, MINUTE).await.expect("rejoins"), 0, "{name}");
        assert_eq!(sweep("b").await.expect("sweeps"), 0, "{name}");
        assert_eq!(sweep("a").await.expect("sweeps"), 0, "{name}");
        let tally = store.tally(run, "build").await.expect("a tally");
        let counted = |n: usize| n % 3 != 0 || n % 6 == 0;
        assert_eq!((tally.get("pets"), tally.get("docs")), tally_of(&counted), "{name}");
        let audit = store.audit(false).await.expect("audits");
        assert!(audit.drift.is_empty(), "{name}: {audit:?}");
    }
}

/// Of several instances on one Redis, one sweeps at a time: the holder of
/// the turn keeps it while it asks, the others are told no, and once the
/// holder stops asking the turn runs out and passes on (never sooner). A
/// store of one instance always says yes.
#[tokio::test]
async fn one_instance_sweeps_at_a_time_and_the_turn_passes_on_when_its_holder_stops() {
    let turn = Duration::from_millis(400);
    for (name, store) in both_stores().await {
        assert!(store.sweep_turn("a", turn).await.expect("answers"), "{name}");
        let shared = name == "redis";
        assert_eq!(store.sweep_turn("b", turn).await.expect("answers"), !shared, "{name}");
        assert!(
            store.sweep_turn("a", turn).await.expect("answers"),
            "{name}: the holder keeps it"
        );
        if !shared {
            continue;
        }
        let last_kept = std::time::Instant::now();
        assert!(!store.sweep_turn("b", turn).await.expect("answers"), "still a's turn");
        // a stops asking: b gets the turn once it ran out, not before.
        let deadline = last_kept + Duration::from_secs(30);
        loop {
            if store.sweep_turn("b", turn).await.expect("answers") {
                break;
            }
            assert!(std::time::Instant::now() < deadline, "the turn never passed on");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        assert!(
            last_kept.elapsed() >= turn - Duration::from_millis(50),
            "the turn passed on after {:?}, before it ran out",
            last_kept.elapsed()
        );
        assert!(!store.sweep_turn("a", turn).await.expect("answers"), "now b's turn");
    }
}
