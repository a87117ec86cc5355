//! `/presenter/notes`, the presenter console, over HTTP: the presenter's
//! login, and what it shows of the slide, its notes and what follows.

use reqwest::StatusCode;

use crate::helpers::{Options, STORY, TOKEN, TestApp, html, select, spawn_app, spawn_app_with, text_of};

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

/// The test story timed: one minute for each slide but the endings, the
/// VPS ending 5 minutes, the PaaS one 30, and a talk of 20 minutes.
fn timed_story() -> String {
    STORY
        .replace("start = \"intro\"", "start = \"intro\"\n[settings]\nduration = 20")
        .replace("title = \"The VPS ending\"", "title = \"The VPS ending\"\nminutes = 5")
        .replace(
            "title = \"The PaaS ending\"",
            "title = \"The PaaS ending\"\nminutes = 30",
        )
}

#[tokio::test]
async fn the_console_shows_the_time_left_and_the_rest_of_the_talk_along_each_choice() {
    let app = spawn_timed().await;
    let browser = app.presenter_browser().await;
    app.goto("build").await;
    let doc = html(&browser.get("/presenter/notes").await.text().await.expect("a page"));
    let main = select(&doc, "#console")[0].value();
    assert_eq!(main.attr("data-duration"), Some("1200"));
    // The run started moments ago: 20 minutes, less a few seconds at most.
    let left = text_of(&doc, "#time-left");
    assert!(["20:00", "19:59", "19:58"].contains(&left.as_str()), "{left}");
    // Both choices of `build` lead to `host`: 1 minute there, then 5 or 30.
    let rest = |doc: &scraper::Html, choice: &str| {
        let node = select(doc, &format!("[data-choice-row=\"{choice}\"] .choice-rest"))[0];
        let marked = node.value().classes().any(|c| c == "no-fit");
        (
            node.text().next().unwrap_or_default().to_string(),
            node.value().attr("data-rest-shortest").unwrap_or_default().to_string(),
            node.value().attr("data-rest-longest").unwrap_or_default().to_string(),
            marked,
        )
    };
    assert_eq!(
        rest(&doc, "pets"),
        ("6–31 min".into(), "360".into(), "1860".into(), false)
    );
    // At `host`: the VPS ways fit in 20 minutes, the PaaS one cannot.
    app.goto("host").await;
    let doc = html(&browser.get("/presenter/notes").await.text().await.expect("a page"));
    assert_eq!(rest(&doc, "vps"), ("5 min".into(), "300".into(), "300".into(), false));
    assert_eq!(rest(&doc, "rack").0, "5 min");
    assert_eq!(
        rest(&doc, "paas"),
        ("30 min".into(), "1800".into(), "1800".into(), true)
    );
    let marks = select(&doc, "[data-choice-row=\"paas\"] [data-no-fit]");
    assert_eq!(marks[0].value().attr("hidden"), None, "the mark says it in words");
    assert_eq!(
        select(&doc, "[data-choice-row=\"vps\"] [data-no-fit]")[0]
            .value()
            .attr("hidden"),
        Some("")
    );

    // Without a duration: no time left, but the rest of the talk still.
    let plain = spawn_app().await;
    let browser = plain.presenter_browser().await;
    plain.goto("host").await;
    let doc = html(&browser.get("/presenter/notes").await.text().await.expect("a page"));
    assert!(select(&doc, "#time-left").is_empty());
    assert_eq!(rest(&doc, "vps").0, "1 min");
}

#[tokio::test]
async fn the_story_map_shows_minutes_on_each_box() {
    let app = spawn_timed().await;
    let svg = app
        .presenter_get("/presenter/map.svg")
        .await
        .text()
        .await
        .expect("an SVG");
    let doc = html(&svg);
    let minutes: Vec<String> = select(&doc, "text.minutes")
        .iter()
        .map(|t| t.text().collect::<String>())
        .collect();
    // intro + build are one box; host; the two endings.
    assert_eq!(minutes.len(), 4, "{svg}");
    for want in ["2 min", "1 min", "5 min", "30 min"] {
        assert!(minutes.iter().any(|m| m == want), "{want} in {minutes:?}");
    }
}

/// The app serving [`timed_story`].
async fn spawn_timed() -> TestApp {
    spawn_app_with(Options {
        story: timed_story(),
        ..Options::default()
    })
    .await
}
