//! Instances behave as one server: votes, presenter moves and voter cookies
//! cross from one to another.

use std::time::{Duration, Instant};

use serde_json::json;

use crate::helpers::{Instance, Socket, Talk};
use crate::support::redis::RedisServer;

/// Instances A and B of one talk on `redis` with the build decision open,
/// and a presenter socket on B that has seen it open.
async fn build_open_on_two(redis: &RedisServer) -> (Instance, Instance, Socket) {
    let talk = Talk::new(redis.url());
    let (a, b) = (talk.instance().await, talk.instance().await);
    a.open_build().await;
    let mut presenter = b.presenter_socket().await;
    presenter
        .wait_for("state", |m| m["state"]["decision"]["status"] == "open")
        .await;
    (a, b, presenter)
}

#[tokio::test]
async fn a_vote_through_one_instance_reaches_a_presenter_on_another() {
    let redis = RedisServer::start();
    let (a, b, mut presenter) = build_open_on_two(&redis).await;

    let voter = a.voter().await;
    let mut on_a = a.audience(&voter).await;
    let sent = Instant::now();
    assert_eq!(on_a.vote("build", "pets").await["type"], "voted");
    let tally = presenter
        .wait_for_within("tally", Duration::from_secs(5), |m| {
            m["decision"] == "build" && crate::helpers::votes_of(m, "pets") == 1
        })
        .await;
    println!("a vote through A reached the presenter on B in {:?}", sent.elapsed());
    assert_eq!(tally["total"], 1);

    // The voter's cookie from A works on B: same voter, same vote.
    let mut on_b = b.audience(&voter).await;
    let first = on_b.wait_for("state", |_| true).await;
    assert_eq!(first["state"]["you"], "pets");
    assert_eq!(on_b.vote("build", "docs").await["type"], "voted");
    let tally = presenter.wait_for_tally("build", "docs", 1).await;
    assert_eq!(tally["total"], 1, "one voter on two instances is one vote");
}

#[tokio::test]
async fn a_presenter_move_on_one_instance_moves_every_audience_page() {
    let redis = RedisServer::start();
    let talk = Talk::new(redis.url());
    let (a, b, c) = (talk.instance().await, talk.instance().await, talk.instance().await);
    let mut on_a = a.audience(&a.voter().await).await;
    let mut on_c = c.audience(&c.voter().await).await;
    on_a.wait_for("state", |m| m["state"]["slide"]["id"] == "intro").await;
    on_c.wait_for("state", |m| m["state"]["slide"]["id"] == "intro").await;

    b.presenter("goto", Some(json!({ "slide": "build" }))).await;
    on_a.wait_for("state", |m| m["state"]["slide"]["id"] == "build").await;
    on_c.wait_for("state", |m| m["state"]["slide"]["id"] == "build").await;
    c.presenter("open", None).await;
    on_a.wait_for("state", |m| m["state"]["decision"]["status"] == "open")
        .await;
}

#[tokio::test]
async fn presenter_moves_from_two_instances_at_once_leave_a_consistent_path() {
    let redis = RedisServer::start();
    let talk = Talk::new(redis.url());
    let (a, b) = (talk.instance().await, talk.instance().await);
    // Both press "next" on the intro at once: one moves, the other either
    // moves on from there or is told the talk moved; never a path that
    // skips or repeats a slide.
    for _ in 0..10 {
        let run = a.presenter("new-run", None).await["run"].clone();
        let (ra, rb) = tokio::join!(a.presenter_call("next", None), b.presenter_call("next", None));
        for (status, body) in [ra, rb] {
            assert!(
                status.is_success()
                    || body["error"] == "moved"
                    || body["error"] == "not_a_decision"
                    || body["error"] == "no_winner",
                "{status}: {body}"
            );
        }
        let record = a.get_json(&format!("/api/runs/{run}")).await;
        assert_eq!(record["slide"], "build", "{record}");
        assert_eq!(record["path"], json!(["intro", "build"]), "{record}");
    }
}

#[tokio::test]
async fn the_fan_out_subscribes_again_when_its_connection_is_killed() {
    let redis = RedisServer::start();
    // B must keep running: it holds the presenter socket.
    let (a, _b, mut presenter) = build_open_on_two(&redis).await;

    // Redis drops every subscriber's connection; the store's own
    // connections stay.
    let killed: i64 = redis::cmd("CLIENT")
        .arg("KILL")
        .arg("TYPE")
        .arg("pubsub")
        .query(&mut redis.connection())
        .expect("CLIENT KILL");
    assert_eq!(killed, 2, "one subscriber per instance");
    // B subscribes again and resyncs its sockets with a fresh state.
    presenter
        .wait_for("state", |m| m["state"]["decision"]["status"] == "open")
        .await;
    let mut on_a = a.audience(&a.voter().await).await;
    assert_eq!(on_a.vote("build", "pets").await["type"], "voted");
    presenter.wait_for_count("build", "pets", 1).await;
}
