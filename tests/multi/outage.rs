//! A Redis restart in the middle of voting: the instances stay up, say
//! they are not ready, refuse votes with a clear "try again", and work again
//! once Redis is back, without a restart; no acknowledged vote is lost and
//! present voters keep their votes.

use std::time::Duration;

use reqwest::StatusCode;

use crate::helpers::{Talk, votes_of};
use crate::support::redis::RedisServer;

#[tokio::test]
async fn a_redis_restart_mid_vote_refuses_votes_meanwhile_and_loses_none() {
    let mut redis = RedisServer::start();
    let talk = Talk::new(redis.url());
    let (a, b) = (talk.instance().await, talk.instance().await);
    a.open_build().await;
    let mut presenter = b.presenter_socket().await;
    let (first, second, form) = (a.voter().await, b.voter().await, a.voter().await);
    let mut first_on_a = a.audience(&first).await;
    let mut second_on_b = b.audience(&second).await;
    assert_eq!(first_on_a.vote("build", "pets").await["type"], "voted");
    presenter.wait_for_tally("build", "pets", 1).await;

    redis.stop();
    a.wait_ready(StatusCode::SERVICE_UNAVAILABLE).await;
    assert_eq!(b.readyz().await, StatusCode::SERVICE_UNAVAILABLE);
    let refused = second_on_b.vote("build", "docs").await;
    assert_eq!(refused["type"], "error", "{refused}");
    assert_eq!(refused["code"], "store", "{refused}");
    assert!(
        refused["message"].as_str().unwrap_or("").contains("try again"),
        "{refused}"
    );
    assert_eq!(
        a.post_vote(&form, "build", "docs").await,
        StatusCode::SERVICE_UNAVAILABLE
    );

    redis.start_again();
    a.wait_ready(StatusCode::OK).await;
    b.wait_ready(StatusCode::OK).await;
    // The page retries its refused vote; here the test does.
    let mut retried = second_on_b.vote("build", "docs").await;
    for _ in 0..50 {
        if retried["type"] == "voted" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
        retried = second_on_b.vote("build", "docs").await;
    }
    assert_eq!(retried["type"], "voted", "{retried}");
    assert_eq!(a.post_vote(&form, "build", "docs").await, StatusCode::SEE_OTHER);
    // The presenter on B hears of a vote through A again: the fan-out
    // subscribed again by itself (and resynced its sockets, so the count may
    // come in a state).
    let mut late_on_a = a.audience(&a.voter().await).await;
    assert_eq!(late_on_a.vote("build", "pets").await["type"], "voted");
    let tally = presenter.wait_for_count("build", "pets", 2).await;
    assert_eq!(votes_of(&tally, "docs"), 2, "{tally}");

    // Present voters keep their votes although their leases ran out while
    // Redis was down: after several leases (grace 1 s) nothing was withdrawn.
    // Only time passing can show that something did not happen. The form
    // voter's page reloads itself meanwhile, as a page without JavaScript
    // does (every 3 s here), each reload renewing its 4 s lease: without
    // it, its vote is rightly withdrawn once that lease runs out, which on
    // a loaded machine can come before the check.
    let until = tokio::time::Instant::now() + Duration::from_secs(4);
    while tokio::time::Instant::now() < until {
        let (status, _) = a.get_text("/vote/build?here=1", Some(&form)).await;
        assert_eq!(status, StatusCode::OK);
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    let state = a.get_json("/api/state").await;
    assert_eq!(votes_of(&state["decision"], "pets"), 2, "{state}");
    assert_eq!(votes_of(&state["decision"], "docs"), 2, "{state}");
    drop((first_on_a, second_on_b, late_on_a));
}
