//! `/api/state`, the presenter commands one by one, and run history.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::spawn_app;

#[tokio::test]
async fn the_state_starts_on_the_first_slide_of_run_1() {
    let app = spawn_app().await;
    let mut state = app.state().await;
    // When the run began: ms since the Unix epoch, in the last minute.
    let started = state["started"].take().as_u64().expect("the run's start time");
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64;
    assert!(started <= now && now - started < 60_000, "started {started}, now {now}");
    assert_eq!(
        state,
        json!({"run": 1, "slide": {"id": "intro", "title": "Welcome to the test"}, "decision": null, "you": null, "sms": null,
               "published": {"results": false, "explore": false}, "started": null})
    );
}

#[tokio::test]
async fn the_state_of_a_decision_lists_its_choices_with_votes() {
    let app = spawn_app().await;
    let state = app.open_build().await;
    assert_eq!(
        state["decision"],
        json!({
            "id": "build", "prompt": "Pets or docs?", "status": "open",
            "choices": [
                {"id": "pets", "label": "Tinder for Pets", "number": 1, "letter": "A", "votes": 0},
                {"id": "docs", "label": "Doc Send", "number": 2, "letter": "B", "votes": 0},
            ],
            "total": 0, "winner": null, "tie": null,
        })
    );
}

#[tokio::test]
async fn you_is_the_callers_own_vote() {
    let app = spawn_app().await;
    app.open_build().await;
    let a = app.voter().await;
    let b = app.voter().await;
    a.post_vote("build", "docs").await;
    assert_eq!(a.state().await["you"], "docs");
    assert_eq!(b.state().await["you"], Value::Null);
    assert_eq!(app.state().await["you"], Value::Null);
}

#[tokio::test]
async fn winner_is_the_single_top_choice_and_tie_lists_the_top_ones() {
    let app = spawn_app().await;
    app.open_build().await;
    app.voter().await.post_vote("build", "pets").await;
    let s = app.state().await;
    assert_eq!(
        (s["decision"]["winner"].clone(), s["decision"]["tie"].clone()),
        (json!("pets"), Value::Null)
    );
    app.voter().await.post_vote("build", "docs").await;
    let s = app.state().await;
    assert_eq!(
        (s["decision"]["winner"].clone(), s["decision"]["tie"].clone()),
        (Value::Null, json!(["pets", "docs"]))
    );
    assert_eq!(s["decision"]["total"], 2);
}

#[tokio::test]
async fn next_and_back_walk_the_path_taken() {
    let app = spawn_app().await;
    assert_eq!(app.next().await["slide"]["id"], "build");
    assert_eq!(app.back().await["slide"]["id"], "intro");
    app.goto("host").await;
    assert_eq!(app.back().await["slide"]["id"], "intro");
}

#[tokio::test]
async fn open_close_and_follow_drive_a_decision() {
    let app = spawn_app().await;
    app.goto("build").await;
    assert_eq!(app.open().await["decision"]["status"], "open");
    app.voter().await.post_vote("build", "docs").await;
    let closed = app.close().await;
    assert_eq!(closed["decision"]["status"], "closed");
    assert_eq!(closed["decision"]["winner"], "docs");
    // Closing again changes nothing.
    assert_eq!(app.close().await["decision"], closed["decision"]);
    // The presenter may override the room.
    let s = app.follow("pets").await;
    assert_eq!(s["slide"]["id"], "host");
    assert_eq!(s["decision"]["status"], "pending");
}

#[tokio::test]
async fn follow_closes_an_open_vote_first() {
    let app = spawn_app().await;
    app.open_build().await;
    app.voter().await.post_vote("build", "pets").await;
    app.follow("pets").await;
    let runs: Value = app.presenter_get("/api/runs").await.json().await.unwrap();
    assert_eq!(runs["runs"][0]["decisions"][0]["id"], "build");
    assert_eq!(runs["runs"][0]["decisions"][0]["winner"], "pets");
}

#[tokio::test]
async fn next_on_a_closed_decision_follows_the_winner() {
    let app = spawn_app().await;
    app.goto("host").await;
    app.open().await;
    app.voter().await.post_vote("host", "paas").await;
    app.close().await;
    assert_eq!(app.next().await["slide"]["id"], "end-paas");
}

#[tokio::test]
async fn a_new_run_starts_over_and_keeps_the_old_one_readable() {
    let app = spawn_app().await;
    app.open_build().await;
    app.voter().await.post_vote("build", "docs").await;
    let s = app.new_run().await;
    assert_eq!((s["run"].clone(), s["slide"]["id"].clone()), (json!(2), json!("intro")));

    let runs: Value = app.presenter_get("/api/runs").await.json().await.unwrap();
    assert_eq!(runs["current"], 2);
    assert_eq!(runs["runs"].as_array().unwrap().len(), 2);
    let old: Value = app.presenter_get("/api/runs/1").await.json().await.unwrap();
    assert_eq!(old["run"], 1);
    assert_eq!(old["current"], false);
    assert_eq!(old["path"], json!(["intro", "build"]));
    assert_eq!(old["decisions"][0]["id"], "build");
    assert_eq!(old["decisions"][0]["status"], "closed");
    assert_eq!(old["decisions"][0]["choices"][1]["votes"], 1);
    assert_eq!(old["decisions"][0]["winner"], "docs");

    // The new run counts from zero.
    app.goto("build").await;
    assert_eq!(app.open().await["decision"]["total"], 0);
}

/// A run's history is the presenter's until its results are published: a
/// rehearsal's tallies stay private.
#[tokio::test]
async fn the_history_is_for_the_presenter_until_the_results_are_published() {
    let app = spawn_app().await;
    app.open_build().await;
    app.voter().await.post_vote("build", "docs").await;
    app.close().await;
    app.new_run().await;

    // The audience: no run listed, run 1 refused.
    let runs: Value = app.get("/api/runs").await.json().await.unwrap();
    assert_eq!(runs["current"], 2);
    assert_eq!(runs["runs"], json!([]));
    let r = app.get("/api/runs/1").await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["error"], "not_published");
    // A voter's cookie changes nothing.
    let voter = app.voter().await;
    assert_eq!(voter.get("/api/runs/1").await.status(), StatusCode::FORBIDDEN);

    // The presenter sees both runs, by token or by cookie.
    let runs: Value = app.presenter_get("/api/runs").await.json().await.unwrap();
    assert_eq!(runs["runs"].as_array().unwrap().len(), 2);
    let b = app.presenter_browser().await;
    assert_eq!(b.get("/api/runs/1").await.status(), StatusCode::OK);

    // Published (for the current run, 2): run 2 opens to everyone, run 1
    // stays the presenter's.
    let r = app.presenter_call("results", Some(json!({ "published": true }))).await;
    assert_eq!(r.status(), StatusCode::OK);
    let runs: Value = app.get("/api/runs").await.json().await.unwrap();
    let listed: Vec<&Value> = runs["runs"].as_array().unwrap().iter().map(|r| &r["run"]).collect();
    assert_eq!(listed, [&json!(2)]);
    assert_eq!(app.get("/api/runs/2").await.status(), StatusCode::OK);
    assert_eq!(app.get("/api/runs/1").await.status(), StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn an_unknown_run_is_a_404() {
    let app = spawn_app().await;
    for path in ["/api/runs/7", "/api/runs/0", "/api/runs/abc", "/api/runs/-1"] {
        let r = app.get(path).await;
        assert_eq!(r.status(), StatusCode::NOT_FOUND, "{path}");
        let body: Value = r.json().await.unwrap();
        assert_eq!(body["error"], "unknown_run", "{path}");
    }
}

#[tokio::test]
async fn the_presenter_cookie_with_its_header_drives_the_talk() {
    let app = spawn_app().await;
    let b = app.presenter_browser().await;
    let r = b
        .client
        .post(format!("{}/api/presenter/next", app.address))
        .header("x-cyoa-presenter", "1")
        .header("origin", &app.address)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(app.state().await["slide"]["id"], "build");
}
