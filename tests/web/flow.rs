//! The presenter's flow end to end, with sockets: votes from several
//! voters reach the presenter's socket as tally pushes; presenter changes
//! reach the audience as state pushes.

use reqwest::StatusCode;
use serde_json::Value;

use crate::helpers::{spawn_app, votes_of};

#[tokio::test]
async fn a_talk_runs_from_the_first_slide_to_an_ending() {
    let app = spawn_app().await;
    let mut presenter = app.presenter_socket().await;
    let first = presenter.next_json().await.unwrap();
    assert_eq!(first["type"], "state");
    assert_eq!(first["state"]["slide"]["id"], "intro");

    let (a, b, c) = (app.voter().await, app.voter().await, app.voter().await);
    let (mut sa, mut sb, mut sc) = (a.socket().await, b.socket().await, c.socket().await);
    for s in [&mut sa, &mut sb, &mut sc] {
        assert_eq!(s.next_json().await.unwrap()["type"], "state");
    }

    app.next().await;
    app.open().await;
    // The audience follows the presenter by itself.
    let (pushed, _) = sa
        .wait_for("state", |m| m["state"]["decision"]["status"] == "open")
        .await;
    assert_eq!(pushed["state"]["decision"]["id"], "build");

    assert_eq!(sa.vote("build", "pets").await["type"], "voted");
    assert_eq!(sb.vote("build", "docs").await["type"], "voted");
    assert_eq!(sc.vote("build", "docs").await["type"], "voted");
    let tally = presenter.wait_for_tally("build", "docs", 2).await;
    assert_eq!((votes_of(&tally, "pets"), tally["total"].as_u64()), (1, Some(3)));
    assert_eq!(tally["winner"], "docs");

    // Moving a vote moves the tally.
    let voted = sa.vote("build", "docs").await;
    assert_eq!(
        (voted["decision"].as_str(), voted["choice"].as_str()),
        (Some("build"), Some("docs"))
    );
    let tally = presenter.wait_for_tally("build", "docs", 3).await;
    assert_eq!(votes_of(&tally, "pets"), 0);

    app.close().await;
    let (closed, _) = sc
        .wait_for("state", |m| m["state"]["decision"]["status"] == "closed")
        .await;
    assert_eq!(closed["state"]["you"], "docs");
    assert_eq!(closed["state"]["decision"]["winner"], "docs");
    // A closed vote takes no more votes.
    assert_eq!(sb.vote("build", "pets").await["code"], "not_open");

    assert_eq!(app.next().await["slide"]["id"], "host");
    app.open().await;
    sa.vote("host", "rack").await;
    sb.vote("host", "vps").await;
    presenter.wait_for_tally("host", "vps", 1).await;
    // Going back leaves the decision slide: its vote closes.
    let back = app.back().await;
    assert_eq!(back["slide"]["id"], "build");
    let host: Value = app.presenter_get("/api/runs/1").await.json().await.unwrap();
    let ids: Vec<_> = host["decisions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["id"].clone())
        .collect();
    assert_eq!(ids, ["build", "host"]);

    app.goto("host").await;
    assert_eq!(app.follow("rack").await["slide"]["id"], "end-vps");
    let r = app.presenter_call("next", None).await;
    assert_eq!(r.status(), StatusCode::CONFLICT);
    assert_eq!(r.json::<Value>().await.unwrap()["error"], "end_of_story");

    app.new_run().await;
    let (fresh, _) = sa.wait_for("state", |m| m["state"]["run"] == 2).await;
    assert_eq!(fresh["state"]["slide"]["id"], "intro");
}

#[tokio::test]
async fn next_refuses_to_guess_when_there_is_no_single_winner() {
    let app = spawn_app().await;
    app.goto("build").await;
    let cases = [
        ("pending", "not been opened"),
        ("open", "still open"),
        ("no votes", "Nobody voted"),
    ];
    for (case, words) in cases {
        match case {
            "open" => {
                app.open().await;
            }
            "no votes" => {
                app.close().await;
            }
            _ => {}
        }
        let r = app.presenter_call("next", None).await;
        assert_eq!(r.status(), StatusCode::CONFLICT, "{case}");
        let body: Value = r.json().await.unwrap();
        assert_eq!(body["error"], "no_winner", "{case}");
        assert!(body["message"].as_str().unwrap().contains(words), "{case}: {body}");
    }
    app.open().await;
    app.voter().await.post_vote("build", "pets").await;
    app.voter().await.post_vote("build", "docs").await;
    app.close().await;
    let body: Value = app.presenter_call("next", None).await.json().await.unwrap();
    assert_eq!(body["error"], "no_winner");
    assert!(body["message"].as_str().unwrap().contains("tie"), "{body}");
    assert_eq!(app.state().await["slide"]["id"], "build");
}

#[tokio::test]
async fn the_socket_state_on_connect_says_how_this_voter_voted() {
    let app = spawn_app().await;
    app.open_build().await;
    let b = app.voter().await;
    b.post_vote("build", "pets").await;
    let mut s = b.socket().await;
    let first = s.next_json().await.unwrap();
    assert_eq!(first["state"]["you"], "pets");
    assert_eq!(votes_of(&first["state"]["decision"], "pets"), 1);
}

#[tokio::test]
async fn the_presenter_socket_does_not_vote() {
    let app = spawn_app().await;
    app.open_build().await;
    let mut p = app.presenter_socket().await;
    let answer = p.vote("build", "pets").await;
    assert_eq!(answer["code"], "bad_message");
    assert_eq!(app.votes("pets").await, 0);
}
