//! `kill -9` of an instance: the presence votes it held are withdrawn once
//! their leases run out, unless their voters reconnected elsewhere.

use std::time::{Duration, Instant};

use crate::helpers::{Talk, votes_of};
use crate::support::redis::RedisServer;

#[tokio::test]
async fn a_killed_instance_leaves_no_phantom_votes_but_voters_who_moved_keep_theirs() {
    let redis = RedisServer::start();
    let talk = Talk::new(redis.url());
    let (mut a, b) = (talk.instance().await, talk.instance().await);
    a.open_build().await;
    let mut presenter = b.presenter_socket().await;

    // Two voters on A; `moves` also opens the page on B (a second tab, or a
    // reconnect after A went), `stays` only has A.
    let (stays, moves) = (a.voter().await, a.voter().await);
    let mut stays_on_a = a.audience(&stays).await;
    let mut moves_on_a = a.audience(&moves).await;
    assert_eq!(stays_on_a.vote("build", "pets").await["type"], "voted");
    assert_eq!(moves_on_a.vote("build", "docs").await["type"], "voted");
    presenter.wait_for("tally", |m| m["total"] == 2).await;
    let mut moves_on_b = b.audience(&moves).await;
    let first = moves_on_b.wait_for("state", |_| true).await;
    assert_eq!(first["state"]["you"], "docs");

    a.kill9();
    let killed = Instant::now();
    let tally = presenter
        .wait_for_within("tally", Duration::from_secs(40), |m| votes_of(m, "pets") == 0)
        .await;
    println!(
        "after kill -9, the presence vote held by the killed instance was withdrawn in {:?} (grace {} s)",
        killed.elapsed(),
        talk.grace
    );
    assert_eq!(
        votes_of(&tally, "docs"),
        1,
        "the voter who moved to B keeps the vote: {tally}"
    );
    assert_eq!(tally["total"], 1, "counted once: {tally}");
    // And it stays so while B holds the voter, beyond several leases.
    moves_on_b.vote("build", "docs").await;
    let state = b.get_json("/api/state").await;
    assert_eq!(votes_of(&state["decision"], "docs"), 1, "{state}");
}
