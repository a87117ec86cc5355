//! Timed votes on several instances: every instance's timer fires at the
//! deadline, and the store lets one of them close the vote.

use serde_json::json;

use crate::helpers::Talk;
use crate::support::redis::RedisServer;

const CLOSED_BY_TIMER: &str = "cyoa_votes_closed_by_timer_total";

#[tokio::test]
async fn two_instances_close_a_timed_vote_once() {
    let redis = RedisServer::start();
    let talk = Talk::new(redis.url());
    let (a, b) = (talk.instance().await, talk.instance().await);
    let mut on_a = a.audience(&a.voter().await).await;
    let mut on_b = b.presenter_socket().await;
    a.open_build().await;
    on_b.wait_for("state", |m| m["state"]["decision"]["status"] == "open")
        .await;
    let voter = b.voter().await;
    // A presence vote: it counts while its page stays open.
    let mut page = b.audience(&voter).await;
    assert_eq!(page.vote("build", "pets").await["type"], "voted");
    // A countdown started on A, with time for B to hear of it first.
    let started = a.presenter("timer/start", Some(json!({ "seconds": 3 }))).await;
    assert!(
        started["timer"]["remaining_ms"].as_u64().is_some_and(|ms| ms <= 3000),
        "{started}"
    );
    // At zero both timers fire; the vote closes, and both instances say so.
    let closed_state = |m: &serde_json::Value| m["state"]["decision"]["status"] == "closed";
    for socket in [&mut on_a, &mut on_b] {
        let heard = socket
            .wait_for("state", |m| {
                m["state"]["timer"]["decision"] == "build" || closed_state(m)
            })
            .await;
        let closed = match closed_state(&heard) {
            true => heard,
            false => socket.wait_for("state", closed_state).await,
        };
        assert_eq!(closed["state"]["timer"], serde_json::Value::Null, "{closed}");
        assert_eq!(closed["state"]["decision"]["total"], 1, "{closed}");
    }
    // Closed once: by one instance, and once in the run's history.
    let (by_a, by_b) = (a.metric(CLOSED_BY_TIMER).await, b.metric(CLOSED_BY_TIMER).await);
    assert_eq!(by_a + by_b, 1.0, "closed by A {by_a} times, by B {by_b} times");
    let run = b.get_json("/api/runs/1").await;
    assert_eq!(run["open"], serde_json::Value::Null, "{run}");
    let closes = run["decisions"].as_array().map(Vec::len);
    assert_eq!(closes, Some(1), "one close in the history: {run}");
    assert_eq!(run["decisions"][0]["id"], "build", "{run}");
    // The presenter may reopen it; no countdown runs then.
    let reopened = b.presenter("open", None).await;
    assert_eq!(reopened["timer"], serde_json::Value::Null, "{reopened}");
    assert_eq!(reopened["decision"]["status"], "open");
}
