//! Redis that comes back without the talk's data (here: `FLUSHALL` under
//! two running instances) is reported, not quietly served as a new talk:
//! `/readyz` says why, `/metrics` counts it, the presenter's screens show
//! "the vote store lost its data", and votes and presenter commands are
//! refused without beginning run 1. Restoring the data brings the talk
//! back; restarting an instance accepts the empty store as a new talk.
//! (A Redis restart *with* its data is not a loss: `outage.rs`,
//! `restart.rs`.)

use reqwest::StatusCode;

use crate::helpers::{Instance, Talk, WAIT, votes_of};
use crate::support::redis::RedisServer;

const LOST: &str = "cyoa_store_data_lost_total";
const LOST_NOW: &str = "cyoa_store_lost";

fn flush(redis: &RedisServer) {
    let () = redis::cmd("FLUSHALL").query(&mut redis.connection()).unwrap();
}

fn exists(redis: &RedisServer, key: &str) -> bool {
    redis::cmd("EXISTS")
        .arg(key)
        .query::<i64>(&mut redis.connection())
        .unwrap()
        == 1
}

/// What every instance shows while the store is lost: `/readyz` and the
/// presenter's screens say so, and nothing starts the talk over.
async fn reports_the_loss(instance: &Instance, voter: &str, presenter: &str, why: &str) {
    // Within a heartbeat or so (the reason may change: an empty Redis
    // given a new talk by another instance).
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let (status, ready) = instance.get_text("/readyz", None).await;
        if status == StatusCode::SERVICE_UNAVAILABLE && ready.contains(why) {
            assert!(ready.contains("the vote store lost its data"), "{ready}");
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "/readyz never said {why:?}: {status} {ready}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    for (path, main) in [("/presenter", "presenter"), ("/presenter/notes", "console")] {
        let (status, page) = instance.get_text(path, Some(presenter)).await;
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{path}");
        assert!(page.contains(&format!(r#"<main id="{main}""#)), "{path}: {page}");
        assert!(page.contains("The vote store lost its data"), "{path}: {page}");
        assert!(page.contains("restore Redis from its backup"), "{path}: {page}");
    }
    assert_eq!(instance.metric(LOST_NOW).await, 1.0);
    // Votes and presenter commands are refused with the reason.
    assert_eq!(
        instance.post_vote(voter, "build", "pets").await,
        StatusCode::SERVICE_UNAVAILABLE
    );
    for action in ["next", "new-run", "open"] {
        let (status, body) = instance.presenter_call(action, None).await;
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{action}: {body}");
        assert_eq!(body["error"], "store_lost", "{action}: {body}");
        assert!(
            body["message"].as_str().unwrap_or("").contains("lost its data"),
            "{action}: {body}"
        );
    }
    let (status, _) = instance.get_text("/api/state", None).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
}

#[tokio::test]
async fn redis_flushed_under_running_instances_is_reported_and_no_new_talk_begins() {
    let redis = RedisServer::start();
    let talk = Talk::new(redis.url());
    let (mut a, b) = (talk.instance().await, talk.instance().await);
    a.open_build().await;
    let (voter_a, voter_b) = (a.voter().await, b.voter().await);
    assert_eq!(a.post_vote(&voter_a, "build", "pets").await, StatusCode::SEE_OTHER);
    let (cookie_a, cookie_b) = (a.presenter_cookie().await, b.presenter_cookie().await);
    let mut screen = b.presenter_socket().await;
    assert_eq!(a.readyz().await, StatusCode::OK);
    assert_eq!(a.metric(LOST).await, 0.0);
    let saved = redis.backup(&talk.prefix);
    assert!(
        saved.iter().any(|(k, _)| k.ends_with("identity")),
        "the identity is kept"
    );

    flush(&redis);
    // The presenter's screen is told to draw its page anew.
    screen.wait_for("story", |_| true).await;
    let nothing_yet = "holds none of this talk's data";
    reports_the_loss(&a, &voter_a, &cookie_a, nothing_yet).await;
    reports_the_loss(&b, &voter_b, &cookie_b, nothing_yet).await;
    assert_eq!(a.metric(LOST).await, 1.0);
    // No run was begun: Redis holds no talk at all.
    for key in ["current", "identity", "run:1:state"] {
        assert!(!exists(&redis, &format!("{}{key}", talk.prefix)), "{key} was written");
    }

    // Redis restored from its backup: the talk carries on where it was.
    redis.restore(&saved);
    a.wait_ready(StatusCode::OK).await;
    b.wait_ready(StatusCode::OK).await;
    screen.wait_for("story", |_| true).await;
    assert_eq!(a.metric(LOST_NOW).await, 0.0);
    let state = b.get_json("/api/state").await;
    assert_eq!(state["slide"]["id"], "build", "{state}");
    assert_eq!(votes_of(&state["decision"], "pets"), 1, "{state}");
    assert_eq!(b.post_vote(&voter_b, "build", "docs").await, StatusCode::SEE_OTHER);
    let (status, page) = a.get_text("/presenter", Some(&cookie_a)).await;
    assert_eq!(status, StatusCode::OK);
    assert!(!page.contains("lost its data"), "{page}");

    // Lost again; the operator restarts A to begin a new talk on the
    // empty store. B, not restarted, sees another talk's data: still lost.
    flush(&redis);
    a.wait_ready(StatusCode::SERVICE_UNAVAILABLE).await;
    assert_eq!(a.metric(LOST).await, 2.0);
    a.restart(&talk).await;
    a.wait_ready(StatusCode::OK).await;
    let fresh = a.get_json("/api/state").await;
    assert_eq!(fresh["run"], 1, "{fresh}");
    assert_eq!(fresh["slide"]["id"], "intro", "{fresh}");
    reports_the_loss(&b, &voter_b, &cookie_b, "another talk").await;
}
