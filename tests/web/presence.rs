//! Presence: a socket vote counts while one of the voter's audience pages
//! is open, and is withdrawn the grace period (1 s here) after the last one
//! closes; a form vote counts while its page (without JavaScript) reloads
//! itself, and is withdrawn a grace after the reload that did not come.
//! Tests wait for the tally push, never sleep-and-check. Every test runs
//! twice: on the memory store and on a real Redis (leases in Redis).

use crate::helpers::{Options, spawn_app_with};

on_both_stores!(
    two_tabs_of_one_voter_count_once,
    closing_the_last_page_withdraws_the_vote_after_the_grace,
    coming_back_within_the_grace_keeps_the_vote,
    a_form_vote_goes_a_grace_after_its_page_stops_reloading,
    a_form_vote_stays_while_its_page_reloads,
    in_a_sticky_story_socket_votes_outlive_the_page,
);

async fn two_tabs_of_one_voter_count_once(options: Options) {
    let app = spawn_app_with(options).await;
    app.open_build().await;
    let voter = app.voter().await;
    let mut presenter = app.presenter_screen().await;
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
    let mut presenter = app.presenter_screen().await;
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
    let mut presenter = app.presenter_screen().await;
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

async fn a_form_vote_goes_a_grace_after_its_page_stops_reloading(options: Options) {
    let app = spawn_app_with(options).await;
    app.open_build().await;
    let mut presenter = app.presenter_screen().await;
    let form_voter = app.voter().await;
    let r = form_voter.post_vote("build", "pets").await;
    assert_eq!(r.status(), reqwest::StatusCode::SEE_OTHER);
    presenter.wait_for_tally("build", "pets", 1).await;
    // The page without JavaScript reloads itself as its heartbeat: every
    // 3 s at a grace of 1 s.
    // (A parser with scripting on reads <noscript> as text: matched as such.)
    let page = form_voter.get("/vote/build").await.text().await.unwrap();
    assert!(
        page.contains(r#"<noscript><meta http-equiv="refresh" content="3; url=/vote/build?here=1"></noscript>"#),
        "{page}"
    );
    // It stops reloading: the vote goes once its lease (3 s + 1 s) ran out.
    presenter.wait_for_tally("build", "pets", 0).await;
    assert_eq!(form_voter.state().await["you"], serde_json::Value::Null);
}

async fn a_form_vote_stays_while_its_page_reloads(options: Options) {
    let app = spawn_app_with(options).await;
    app.open_build().await;
    let mut presenter = app.presenter_screen().await;
    let stays = app.voter().await;
    let clock = app.voter().await;
    stays.post_vote("build", "pets").await;
    // `stays` reloads its page, as its meta refresh does (more often, so
    // that no reload comes late on a busy machine).
    let reloads = {
        let client = stays.client.clone();
        let url = format!("{}/vote/build?here=1", app.address);
        tokio::spawn(async move {
            loop {
                let r = client.get(&url).send().await.expect("the page");
                assert_eq!(r.status(), reqwest::StatusCode::OK);
                tokio::time::sleep(std::time::Duration::from_millis(200)).await;
            }
        })
    };
    // `clock` votes after `stays` and never reloads: when its vote goes,
    // the first lease of `stays` ran out too.
    clock.post_vote("build", "docs").await;
    presenter.wait_for_tally("build", "docs", 1).await;
    let tally = presenter.wait_for_tally("build", "docs", 0).await;
    assert_eq!(tally["total"], 1);
    assert_eq!(app.votes("pets").await, 1);
    reloads.abort();
    presenter.wait_for_tally("build", "pets", 0).await;
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
    let mut presenter = app.presenter_screen().await;
    let mut s = app.voter().await.socket().await;
    s.vote("build", "pets").await;
    presenter.wait_for_tally("build", "pets", 1).await;
    // A form vote is sticky too, and its page does not reload itself.
    let form_voter = app.voter().await;
    let page = form_voter.get("/vote/build").await.text().await.unwrap();
    assert!(!page.contains("http-equiv=\"refresh\""), "{page}");
    form_voter.post_vote("build", "docs").await;
    presenter.wait_for_tally("build", "docs", 1).await;
    s.close().await;
    // A presenter change makes a fresh state push: proof time went by.
    app.close().await;
    let (state, _) = presenter
        .wait_for("state", |m| m["state"]["decision"]["status"] == "closed")
        .await;
    assert_eq!(state["state"]["decision"]["total"], 2);
}
