//! `/presenter/notes`, the presenter console, over HTTP: the presenter's
//! login, and what it shows of the slide, its notes and what follows.

use reqwest::StatusCode;

use crate::helpers::{Options, STORY, TOKEN, html, select, spawn_app, spawn_app_with, text_of};

#[tokio::test]
async fn the_console_needs_the_presenter_and_its_token_logs_in() {
    let app = spawn_app().await;
    assert_eq!(app.get("/presenter/notes").await.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        app.get("/presenter/notes?token=wrong").await.status(),
        StatusCode::UNAUTHORIZED
    );
    let browser = app.browser();
    let login = browser.get(&format!("/presenter/notes?token={TOKEN}")).await;
    assert_eq!(login.status(), StatusCode::SEE_OTHER);
    assert_eq!(login.headers()["location"], "/presenter/notes");
    assert_eq!(browser.get("/presenter/notes").await.status(), StatusCode::OK);
    // The one login serves both presenter pages.
    assert_eq!(browser.get("/presenter").await.status(), StatusCode::OK);
}

#[tokio::test]
async fn the_console_shows_the_notes_where_each_choice_leads_and_the_start_time() {
    let story = STORY.replace(
        "body = \"Hello **room**.\"",
        "body = \"Hello **room**.\"\nnotes = \"Count to *three*; <b>no html</b>.\"",
    );
    let app = spawn_app_with(Options {
        story,
        ..Options::default()
    })
    .await;
    let browser = app.presenter_browser().await;
    let doc = html(&browser.get("/presenter/notes").await.text().await.expect("a page"));
    assert_eq!(text_of(&doc, "#console h1"), "Welcome to the test");
    assert_eq!(text_of(&doc, ".notes-body em"), "three");
    assert!(select(&doc, ".notes-body b").is_empty(), "raw HTML in notes is text");
    assert_eq!(text_of(&doc, ".next-slide"), "What did you build?");
    let main = select(&doc, "#console")[0].value();
    let started: u64 = main
        .attr("data-started")
        .and_then(|s| s.parse().ok())
        .expect("data-started");
    let now: u64 = main.attr("data-now").and_then(|s| s.parse().ok()).expect("data-now");
    assert!(started <= now && now - started < 60_000, "started {started}, now {now}");

    app.goto("build").await;
    let doc = html(&browser.get("/presenter/notes").await.text().await.expect("a page"));
    assert_eq!(
        text_of(&doc, "[data-choice-row=\"pets\"] .leads-to"),
        "→ Where do you host it?"
    );
    assert_eq!(select(&doc, "button[data-command=\"open\"]").len(), 1);
    assert_eq!(text_of(&doc, ".no-notes"), "No notes for this slide.");
}
