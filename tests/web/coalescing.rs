//! A burst of 1,000 votes makes a handful of tally pushes, and the last
//! one is exact.

use crate::helpers::{Socket, spawn_app, votes_of};

#[tokio::test]
async fn a_burst_of_1000_votes_makes_few_pushes_with_the_exact_final_tally() {
    const VOTERS: usize = 200;
    const VOTES_EACH: usize = 5;
    let app = spawn_app().await;
    app.open_build().await;
    let mut presenter = app.presenter_screen().await;

    let mut sockets: Vec<Socket> = Vec::new();
    for _ in 0..VOTERS {
        let mut s = app.voter().await.socket().await;
        assert_eq!(s.next_json().await.unwrap()["type"], "state");
        sockets.push(s);
    }
    // Each voter changes their mind 5 times; the last vote of voter i is
    // pets when i is even: 100 pets, 100 docs.
    let tasks: Vec<_> = sockets
        .into_iter()
        .enumerate()
        .map(|(i, mut s)| {
            tokio::spawn(async move {
                for k in 0..VOTES_EACH {
                    let choice = if (i + k + VOTES_EACH - 1) % 2 == 0 {
                        "pets"
                    } else {
                        "docs"
                    };
                    s.send_vote("build", choice).await;
                }
                for _ in 0..VOTES_EACH {
                    assert_eq!(s.answer().await["type"], "voted");
                }
                s
            })
        })
        .collect();
    let mut sockets = Vec::new();
    for t in tasks {
        sockets.push(t.await.unwrap());
    }

    let (tally, pushes) = presenter
        .wait_for("tally", |m| {
            m["decision"] == "build" && votes_of(m, "pets") == 100 && votes_of(m, "docs") == 100
        })
        .await;
    assert_eq!(tally["total"], 200);
    assert_eq!(tally["tie"], serde_json::json!(["pets", "docs"]));
    eprintln!("{pushes} tally pushes for 1,000 votes");
    assert!(pushes < 100, "{pushes} tally pushes for 1,000 votes");
    assert_eq!(app.state().await["decision"]["total"], 200);
    drop(sockets);
}
