//! A stalled instance (SIGSTOP: what a starved, swapped-out or frozen
//! process looks like from outside) must not cost its present voters their
//! votes. While it is stopped the other instances cannot tell it from a
//! dead one, so they withdraw its voters' presence votes once its lease
//! runs out; when it runs again it re-establishes its presence and those
//! of its voters whose pages are still open get their votes back, once.
//! A voter whose page closed meanwhile does not.

use std::time::Duration;

use crate::helpers::{Talk, votes_of};
use crate::support::redis::RedisServer;

/// How long the test waits for the withdrawal and for the return: far
/// beyond a lease, for a busy machine.
const WITHIN: Duration = Duration::from_secs(60);

#[tokio::test]
async fn a_stalled_instance_gets_its_present_voters_votes_back_exactly_once() {
    let redis = RedisServer::start();
    let talk = Talk::new(redis.url());
    let (a, b) = (talk.instance().await, talk.instance().await);
    a.open_build().await;
    let mut presenter = b.presenter_socket().await;

    // Three voters stay on A; one leaves while A is stopped.
    let mut staying = Vec::new();
    for _ in 0..3 {
        let mut socket = a.audience(&a.voter().await).await;
        assert_eq!(socket.vote("build", "pets").await["type"], "voted");
        staying.push(socket);
    }
    let mut leaving = a.audience(&a.voter().await).await;
    assert_eq!(leaving.vote("build", "docs").await["type"], "voted");
    presenter.wait_for("tally", |m| m["total"] == 4).await;

    a.pause();
    // B cannot tell the stopped A from a dead one: once A's lease ran out,
    // B withdraws the votes A held.
    let reaped = presenter.wait_for_within("tally", WITHIN, |m| m["total"] == 0).await;
    drop(leaving);
    a.resume();

    // A runs again with three pages open: their votes come back, once; the
    // page that closed meanwhile gets nothing back to keep. (If A rejoins
    // before it reads that the page closed, the leaving voter's vote is
    // back for one grace, like any page that just closed: never more.)
    let most = std::cell::Cell::new((0, 0));
    let back = presenter
        .wait_for_within("tally", WITHIN, |m| {
            let (pets, docs) = (votes_of(m, "pets"), votes_of(m, "docs"));
            most.set((most.get().0.max(pets), most.get().1.max(docs)));
            pets == 3 && docs == 0
        })
        .await;
    let (most_pets, most_docs) = most.get();
    assert!(
        most_pets == 3 && most_docs <= 1,
        "counted once at most, but saw {most_pets} for pets and {most_docs} for docs: {back} (after {reaped})"
    );
    assert_eq!(back["total"], 3, "without the voter who left: {back}");
    // Still so after several leases (grace 1 s): each instance beats and
    // sweeps again and again meanwhile, and nothing else happens.
    for instance in [&a, &b] {
        instance.wait_for_beats_and_sweeps(6).await;
    }
    for instance in [&a, &b] {
        let state = instance.get_json("/api/state").await;
        assert_eq!(votes_of(&state["decision"], "pets"), 3, "{state}");
        assert_eq!(votes_of(&state["decision"], "docs"), 0, "{state}");
    }
    // The counters equal the voter records.
    let audit = std::process::Command::new(env!("CARGO_BIN_EXE_cyoa"))
        .args(["audit", "--redis-url", &talk.redis_url, "--redis-prefix", &talk.prefix])
        .output()
        .expect("cyoa audit runs");
    assert!(
        audit.status.success(),
        "cyoa audit found drift: {}",
        String::from_utf8_lossy(&audit.stdout)
    );
    drop(staying);
}

/// Waits until every instance's lease in the store ended `beyond` ago by
/// the store's own clock (Redis `TIME`): the time a stopped instance was
/// away, seen in the store rather than guessed with a sleep.
async fn leases_over(talk: &Talk, beyond: Duration) {
    let mut redis = redis::Client::open(talk.redis_url.as_str())
        .and_then(|c| c.get_connection())
        .expect("the test Redis answers");
    let beyond_ms = u64::try_from(beyond.as_millis()).expect("a short time");
    let deadline = std::time::Instant::now() + WITHIN;
    loop {
        let (seconds, micros): (u64, u64) = redis::cmd("TIME").query(&mut redis).expect("TIME");
        let now_ms = seconds * 1000 + micros / 1000;
        let leases: Vec<(String, f64)> = redis::cmd("ZRANGE")
            .arg(format!("{}instances", talk.prefix))
            .arg(0)
            .arg(-1)
            .arg("WITHSCORES")
            .query(&mut redis)
            .expect("the leases");
        assert!(!leases.is_empty(), "no instance holds a lease");
        if leases.iter().all(|(_, ends)| (*ends as u64) + beyond_ms < now_ms) {
            return;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the leases {leases:?} did not end within {WITHIN:?}"
        );
        // A poll interval: the loop waits for the store's clock.
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn a_lone_instance_that_stalls_keeps_its_present_voters_votes() {
    let redis = RedisServer::start();
    let talk = Talk::new(redis.url());
    let a = talk.instance().await;
    a.open_build().await;
    let mut sockets = Vec::new();
    for _ in 0..3 {
        let mut socket = a.audience(&a.voter().await).await;
        assert_eq!(socket.vote("build", "docs").await["type"], "voted");
        sockets.push(socket);
    }
    // Stopped for several leases (grace 1 s): when it runs again, its
    // heartbeat and its sweeper are both late, and whichever runs first,
    // its own voters, still there, keep their votes.
    a.pause();
    leases_over(&talk, 3 * Duration::from_secs(talk.grace)).await;
    a.resume();
    a.wait_for_beats_and_sweeps(4).await;
    let state = a.get_json("/api/state").await;
    assert_eq!(votes_of(&state["decision"], "docs"), 3, "{state}");
    drop(sockets);
}
