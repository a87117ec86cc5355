//! The decision rules through the real app on every store: `min_votes`,
//! each `tie` rule at Next, and the presenter's number over the vote,
//! recorded in the run and shown on `/results` and in the exports.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{Options, STORY, TestApp, html, select, spawn_app_with, text_of};

on_both_stores!(
    the_default_tie_rule_waits_for_the_presenters_number,
    tie_first_follows_the_first_tied_choice,
    tie_random_draws_the_same_choice_for_the_same_run,
    below_min_votes_next_waits_and_the_presenter_view_says_so,
    the_presenters_number_over_the_vote_is_recorded_and_shown,
);

/// The test story with `rules` added to the `host` decision, and sticky
/// web votes: a vote stays when its page is gone, so a vote reopened a
/// while later still holds the earlier votes.
fn with_host_rules(options: Options, rules: &str) -> Options {
    let story = STORY
        .replace(
            "prompt = \"Which host?\"",
            &format!("prompt = \"Which host?\"\n{rules}"),
        )
        .replace(
            "start = \"intro\"",
            "start = \"intro\"\n[settings]\nweb_votes = \"sticky\"",
        );
    Options { story, ..options }
}

/// Goes to `host`, opens it, casts one vote per choice given, closes it.
async fn vote_host(app: &TestApp, votes: &[&str]) {
    app.goto("host").await;
    app.open().await;
    for choice in votes {
        let r = app.voter().await.post_vote("host", choice).await;
        assert_eq!(r.status(), StatusCode::SEE_OTHER);
    }
    app.close().await;
}

/// Next, refused: its status, code and message.
async fn next_refused(app: &TestApp) -> (StatusCode, String, String) {
    let r = app.presenter_call("next", None).await;
    let status = r.status();
    let body: Value = r.json().await.expect("JSON");
    (
        status,
        body["error"].as_str().unwrap_or_default().to_string(),
        body["message"].as_str().unwrap_or_default().to_string(),
    )
}

/// Who chose the way on from each decision of run 1, as `/api/runs/1` says.
async fn chosen(app: &TestApp) -> Value {
    let r = app.presenter_get("/api/runs/1").await;
    assert_eq!(r.status(), StatusCode::OK);
    r.json::<Value>().await.expect("JSON")["chosen"].clone()
}

async fn the_default_tie_rule_waits_for_the_presenters_number(options: Options) {
    let app = spawn_app_with(options).await;
    vote_host(&app, &["vps", "paas"]).await;
    let (status, code, message) = next_refused(&app).await;
    assert_eq!((status, code.as_str()), (StatusCode::CONFLICT, "no_winner"));
    assert!(message.contains("tie"), "{message}");
    assert_eq!(app.state().await["slide"]["id"], "host", "Next moved nothing");
    app.follow("paas").await;
    assert_eq!(app.state().await["slide"]["id"], "end-paas");
    assert_eq!(chosen(&app).await, json!({ "host": "presenter" }));
}

async fn tie_first_follows_the_first_tied_choice(options: Options) {
    let app = spawn_app_with(with_host_rules(options, "tie = \"first\"")).await;
    // paas and rack tie; paas comes first in the story.
    vote_host(&app, &["rack", "paas"]).await;
    assert_eq!(app.next().await["slide"]["id"], "end-paas");
    assert_eq!(chosen(&app).await, json!({ "host": "first" }));
    // A three-way tie settles on vps, the first of all.
    app.back().await;
    app.open().await;
    app.voter().await.post_vote("host", "vps").await;
    app.close().await;
    assert_eq!(app.next().await["slide"]["id"], "end-vps");
    assert_eq!(chosen(&app).await, json!({ "host": "first" }));
}

async fn tie_random_draws_the_same_choice_for_the_same_run(options: Options) {
    let app = spawn_app_with(with_host_rules(options, "tie = \"random\"")).await;
    vote_host(&app, &["vps", "paas"]).await;
    let first = app.next().await["slide"]["id"].as_str().unwrap_or_default().to_string();
    assert!(["end-vps", "end-paas"].contains(&first.as_str()), "{first}");
    assert_eq!(chosen(&app).await, json!({ "host": "random" }));
    // The draw comes from the run: back and Next again draw the same.
    app.back().await;
    assert_eq!(app.next().await["slide"]["id"], first.as_str());
    // And it is the draw the run's number and start give.
    let state = app.state().await;
    let story = cyoa::story::Story::parse(
        "t.toml",
        &STORY
            .replace("prompt = \"Which host?\"", "prompt = \"Which host?\"\ntie = \"random\"")
            .replace(
                "start = \"intro\"",
                "start = \"intro\"\n[settings]\nweb_votes = \"sticky\"",
            ),
    )
    .expect("a story")
    .story;
    let host = story.decision("host").expect("host");
    let seed = cyoa::talk::rules::seed(1, state["started"].as_u64(), "host");
    let tally = cyoa::store::Tally([("vps".to_string(), 1), ("paas".to_string(), 1)].into_iter().collect());
    let want = match cyoa::talk::rules::way_on(host, story.rules_of(host), &tally, seed) {
        cyoa::talk::rules::Way::Follow { choice, .. } => host.choice(&choice).expect("a choice").goto.clone(),
        other => panic!("{other:?}"),
    };
    assert_eq!(first, want);
}

async fn below_min_votes_next_waits_and_the_presenter_view_says_so(options: Options) {
    let app = spawn_app_with(with_host_rules(options, "min_votes = 3")).await;
    vote_host(&app, &["vps", "vps"]).await;
    assert_eq!(app.state().await["decision"]["min_votes"], 3);
    let presenter = app.presenter_browser().await;
    let doc = html(&presenter.get("/presenter").await.text().await.expect("a page"));
    let note = select(&doc, "[data-not-enough]");
    assert_eq!(note.len(), 1);
    assert_eq!(note[0].value().attr("hidden"), None);
    assert_eq!(text_of(&doc, "[data-not-enough]"), "Not enough votes: 2 of 3");
    let (status, code, message) = next_refused(&app).await;
    assert_eq!((status, code.as_str()), (StatusCode::CONFLICT, "no_winner"));
    assert!(message.starts_with("Not enough votes: 2 of the 3 needed"), "{message}");
    // The presenter may still follow the leader: then the presenter chose.
    app.follow("vps").await;
    assert_eq!(chosen(&app).await, json!({ "host": "presenter" }));
    // With enough votes, Next follows the vote and the note is gone.
    app.goto("host").await;
    app.open().await;
    app.voter().await.post_vote("host", "vps").await;
    app.close().await;
    let doc = html(&presenter.get("/presenter").await.text().await.expect("a page"));
    assert_eq!(select(&doc, "[data-not-enough]")[0].value().attr("hidden"), Some(""));
    assert_eq!(app.next().await["slide"]["id"], "end-vps");
    assert_eq!(chosen(&app).await, json!({ "host": "vote" }));
}

async fn the_presenters_number_over_the_vote_is_recorded_and_shown(options: Options) {
    let app = spawn_app_with(options).await;
    vote_host(&app, &["vps", "vps", "paas"]).await;
    // The room chose vps; the presenter's number wins.
    app.follow("paas").await;
    assert_eq!(app.state().await["slide"]["id"], "end-paas");
    assert_eq!(chosen(&app).await, json!({ "host": "presenter" }));

    let presenter = app.presenter_browser().await;
    let doc = html(&presenter.get("/results").await.text().await.expect("a page"));
    // Beside the decision's tally, and on the path.
    for mark in [
        "[data-decision=host] [data-chosen-by]",
        ".path [data-slide=host] [data-chosen-by]",
    ] {
        assert_eq!(text_of(&doc, mark), "(chosen by the presenter)", "{mark}");
    }

    let csv = app.presenter_get("/api/runs/1.csv").await.text().await.expect("CSV");
    assert!(csv.lines().next().unwrap_or_default().ends_with(",chosen_by"), "{csv}");
    assert!(
        csv.lines()
            .any(|l| l == "1,host,Which host?,2,paas,A PaaS,1,3,no,yes,,presenter"),
        "{csv}"
    );
    assert!(
        csv.lines().any(|l| l == "1,host,Which host?,1,vps,A VPS,2,3,yes,no,,"),
        "{csv}"
    );
    let all = app.presenter_get("/api/runs.csv").await.text().await.expect("CSV");
    assert!(all.contains(",paas,A PaaS,1,3,no,yes,,presenter"), "{all}");
    let one: Value = app.presenter_get("/api/runs/1.json").await.json().await.expect("JSON");
    assert_eq!(one["chosen"], json!({ "host": "presenter" }));
    let every: Value = app.presenter_get("/api/runs.json").await.json().await.expect("JSON");
    assert_eq!(every["runs"][0]["chosen"], json!({ "host": "presenter" }));
}
