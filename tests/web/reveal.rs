//! Hidden results are revealed at the close and stay revealed: a tally
//! read just before the close never follows the closing state to the
//! phones and blanks the winner again.

use std::time::Duration;

use serde_json::Value;

use cyoa::web::Limits;
use cyoa::web::limits::Rate;

use crate::helpers::{Options, Socket, spawn_app_with, test_limits};

/// How long each socket listens after the closing state for a tally that
/// should never come: four of the audience's tally periods.
const QUIET: Duration = Duration::from_secs(1);

/// What an audience socket last heard of `decision`: the message itself.
fn about(message: &Value, decision: &str) -> bool {
    match message["type"].as_str() {
        Some("tally") => message["decision"] == decision,
        Some("state") => message["state"]["decision"]["id"] == decision,
        _ => false,
    }
}

#[tokio::test]
async fn votes_cast_in_the_last_moments_before_a_close_never_hide_the_revealed_winner() {
    const VOTERS: usize = 20;
    const LISTENERS: usize = 20;
    let story = crate::helpers::STORY.replace(
        "[slides.build.decision]\n",
        "[slides.build.decision]\nresults = \"hidden\"\n",
    );
    // Voters tap as fast as the server answers: no rate limit stops them.
    let unlimited = Rate {
        per_second: 100_000,
        burst: 100_000,
    };
    let app = spawn_app_with(Options {
        story,
        limits: Limits {
            votes: unlimited,
            socket_messages: unlimited,
            per_address: unlimited,
            ..test_limits()
        },
        ..Options::default()
    })
    .await;
    app.open_build().await;
    let mut presenter = app.presenter_screen().await;
    let mut listeners: Vec<Socket> = Vec::new();
    for _ in 0..LISTENERS {
        let mut s = app.voter().await.socket().await;
        assert_eq!(s.next_json().await.expect("the state")["type"], "state");
        listeners.push(s);
    }
    // Voters tap again and again until the vote closes on them: votes
    // keep marking the tally dirty up to the close. Voter 0 picks docs,
    // everyone else pets.
    let mut voters = Vec::new();
    for i in 0..VOTERS {
        let mut s = app.voter().await.socket().await;
        let choice = if i == 0 { "docs" } else { "pets" };
        voters.push(tokio::spawn(async move {
            loop {
                let answer = s.vote("build", choice).await;
                if answer["type"] != "voted" {
                    assert_eq!(answer["code"], "not_open", "{answer}");
                    return;
                }
            }
        }));
    }
    presenter
        .wait_for("tally", |m| m["decision"] == "build" && m["total"] == VOTERS as u64)
        .await;
    app.close().await;
    for voter in voters {
        voter.await.expect("the voter's task");
    }
    // Nothing marks an end to "no later tally": every socket reads on
    // for a while after the closing state. The window gives a stale tally
    // the time to arrive (the audience's tallies go out at most every
    // 250 ms); the server's gate, not the window, is what keeps it away,
    // so a slow machine can only make this test pass, never fail.
    let heard = futures_util::future::join_all(listeners.into_iter().map(|mut socket| async move {
        let mut last: Option<Value> = None;
        let quiet_from = loop {
            let message = socket.next_json().await.expect("the socket stays open");
            let closing = message["type"] == "state" && message["state"]["decision"]["status"] == "closed";
            if about(&message, "build") {
                last = Some(message);
            }
            if closing {
                break tokio::time::Instant::now();
            }
        };
        while let Ok(Some(message)) = tokio::time::timeout_at(quiet_from + QUIET, socket.next_json()).await {
            if about(&message, "build") {
                last = Some(message);
            }
        }
        last
    }))
    .await;
    for (i, last) in heard.into_iter().enumerate() {
        let last = last.unwrap_or_else(|| panic!("socket {i} heard nothing of the vote"));
        assert_eq!(last["type"], "state", "socket {i}'s last word on the vote: {last}");
        let decision = &last["state"]["decision"];
        assert_eq!(
            (
                decision["status"].as_str(),
                decision["winner"].as_str(),
                decision["total"].as_u64()
            ),
            (Some("closed"), Some("pets"), Some(VOTERS as u64)),
            "socket {i}'s last word on the vote: {last}"
        );
        assert!(decision.get("hidden").is_none(), "{last}");
    }
}
