//! Presence: a socket vote counts while one of the voter's audience pages
//! is open, and is withdrawn the grace period (1 s here) after the last one
//! closes. Tests wait for the tally push, never sleep-and-check. Every test
//! runs twice: on the memory store and on a real Redis (leases in Redis).

use crate::helpers::{Options, spawn_app_with};

on_both_stores!(
    two_tabs_of_one_voter_count_once,
    closing_the_last_page_withdraws_the_vote_after_the_grace,
    coming_back_within_the_grace_keeps_the_vote,
    form_votes_are_sticky_and_outlive_the_page,
    in_a_sticky_story_socket_votes_outlive_the_page,
);

async fn two_tabs_of_one_voter_count_once(options: Options) {
    let app = spawn_app_with(options).await;
    app.open_build().await;
    let voter = app.voter().await;
    let mut presenter = app.presenter_socket().await;
    let (mut tab1, mut tab2) = (voter.socket().await, voter.socket().await);
    assert_eq!(tab1.vote("build", "pets").await["type"], "voted");
    assert_eq!(tab2.vote("build", "pets").await["type"], "voted");
    presenter.wait_for_tally("build", "pets", 1).await;
    assert_eq!(app.state().await["decision"]["total"], 1);
    // A move from the other tab is still one vote.
    tab2.vote("build", "docs").await;
    let tally = presenter.wait_for_tally("build", "docs", 1).await;
    assert_eq!(tally["total"], 1);
}

async fn closing_the_last_page_withdraws_the_vote_after_the_grace(options: Options) {
    let app = spawn_app_with(options).await;
    app.open_build().await;
    let voter = app.voter().await;
    let mut presenter = app.presenter_socket().await;
    let (mut tab1, tab2) = (voter.socket().await, voter.socket().await);
    tab1.vote("build", "pets").await;
    presenter.wait_for_tally("build", "pets", 1).await;

    tab1.close().await;
    // One page still open: the vote stays. The other voter is the clock:
    // their vote and its push come after the first tab closed.
    let mut other = app.voter().await.socket().await;
    other.vote("build", "docs").await;
    let tally = presenter.wait_for_tally("build", "docs", 1).await;
    assert_eq!(tally["total"], 2);

    tab2.close().await;
    let started = std::time::Instant::now();
    let tally = presenter.wait_for_tally("build", "pets", 0).await;
    assert_eq!(tally["total"], 1);
    assert!(
        started.elapsed() >= std::time::Duration::from_millis(900),
        "withdrawn only after the grace"
    );
}

async fn coming_back_within_the_grace_keeps_the_vote(options: Options) {
    let app = spawn_app_with(options).await;
    app.open_build().await;
    let mut presenter = app.presenter_socket().await;
    let stays = app.voter().await;
    let leaves = app.voter().await;
    let mut s = stays.socket().await;
    let mut l = leaves.socket().await;
    s.vote("build", "pets").await;
    l.vote("build", "docs").await;
    presenter.wait_for_tally("build", "docs", 1).await;

    // `stays` reloads the page; `leaves` goes away a moment later. When
    // `leaves` is withdrawn, the timer of `stays` would have fired already.
    s.close().await;
    let _back = stays.socket().await;
    l.close().await;
    let tally = presenter.wait_for_tally("build", "docs", 0).await;
    assert_eq!(tally["total"], 1);
    assert_eq!(stays.state().await["you"], "pets");
    assert_eq!(app.votes("pets").await, 1);
}

async fn form_votes_are_sticky_and_outlive_the_page(options: Options) {
    let app = spawn_app_with(options).await;
    app.open_build().await;
    let mut presenter = app.presenter_socket().await;
    let form_voter = app.voter().await;
    let clock = app.voter().await;
    form_voter.post_vote("build", "pets").await;
    let s = form_voter.socket().await;
    let mut c = clock.socket().await;
    c.vote("build", "docs").await;
    presenter.wait_for_tally("build", "docs", 1).await;

    s.close().await;
    c.close().await;
    let tally = presenter.wait_for_tally("build", "docs", 0).await;
    assert_eq!(tally["total"], 1);
    assert_eq!(app.votes("pets").await, 1);
}

async fn in_a_sticky_story_socket_votes_outlive_the_page(options: Options) {
    let story = crate::helpers::STORY.replace(
        "start = \"intro\"\n",
        "start = \"intro\"\n[settings]\nweb_votes = \"sticky\"\n",
    );
    // No grace at all: a presence vote would go the moment the page does.
    let app = spawn_app_with(Options {
        story,
        grace: std::time::Duration::ZERO,
        ..options
    })
    .await;
    app.open_build().await;
    let mut presenter = app.presenter_socket().await;
    let mut s = app.voter().await.socket().await;
    s.vote("build", "pets").await;
    presenter.wait_for_tally("build", "pets", 1).await;
    s.close().await;
    // A presenter change makes a fresh state push: proof time went by.
    app.close().await;
    let (state, _) = presenter
        .wait_for("state", |m| m["state"]["decision"]["status"] == "closed")
        .await;
    assert_eq!(state["state"]["decision"]["total"], 1);
}
