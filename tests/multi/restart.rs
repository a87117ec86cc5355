//! A restarted server finds its talk again: the same Redis, a new `cyoa
//! serve` process, and the run, the current slide, the open vote and its
//! tally are where they were (cyoa keeps no state of its own beside Redis).

use reqwest::StatusCode;
use serde_json::Value;

use crate::helpers::Talk;
use crate::support::redis::RedisServer;

fn votes(state: &Value, choice: &str) -> Option<u64> {
    state["decision"]["choices"]
        .as_array()?
        .iter()
        .find(|c| c["id"] == choice)?["votes"]
        .as_u64()
}

#[tokio::test]
async fn a_restarted_instance_finds_the_run_the_slide_and_the_tally_again() {
    let redis = RedisServer::start();
    let talk = Talk::new(redis.url());
    let mut first = talk.instance().await;
    first.open_build().await;
    for choice in ["pets", "pets", "docs"] {
        let voter = first.voter().await;
        assert_eq!(first.post_vote(&voter, "build", choice).await, StatusCode::SEE_OTHER);
    }
    let before = first.get_json("/api/state").await;
    assert_eq!(
        (votes(&before, "pets"), votes(&before, "docs")),
        (Some(2), Some(1)),
        "{before}"
    );

    first.kill9();
    let second = talk.instance().await;
    let after = second.get_json("/api/state").await;
    assert_eq!(after["run"], before["run"], "{after}");
    assert_eq!(after["slide"]["id"], "build", "{after}");
    assert_eq!(after["decision"]["status"], "open", "{after}");
    assert_eq!(
        (votes(&after, "pets"), votes(&after, "docs")),
        (Some(2), Some(1)),
        "{after}"
    );
}
