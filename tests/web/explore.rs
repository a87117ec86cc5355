//! `/explore` and `/explore/{slide}`: closed (403, nothing of the story)
//! until the presenter opens them, then every slide with its choices as
//! links and the run's path marked; and the presenter's story map,
//! `/presenter/map.svg`.

use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::{Options, TOKEN, TestApp, html, select, spawn_app, spawn_app_with, text_of};

/// The test story's slide titles: none may show before exploring opens.
const TITLES: [&str; 5] = [
    "Welcome to the test",
    "What did you build?",
    "Where do you host it?",
    "The VPS ending",
    "The PaaS ending",
];

async fn open_explore(app: &TestApp) {
    let r = app.presenter_call("explore", Some(json!({ "published": true }))).await;
    assert_eq!(r.status(), StatusCode::OK);
}

#[tokio::test]
async fn nothing_of_the_story_shows_before_exploring_opens() {
    let app = spawn_app().await;
    app.play_to_end_paas().await;
    // Known slides, unknown ones and the index answer alike.
    for path in [
        "/explore",
        "/explore/intro",
        "/explore/end-paas",
        "/explore/no-such-slide",
        "/explore/%3Cx%3E",
    ] {
        let r = app.get(path).await;
        assert_eq!(r.status(), StatusCode::FORBIDDEN, "{path}");
        let page = r.text().await.expect("a page");
        assert!(page.contains("Exploring opens after the talk"), "{path}: {page}");
        for title in TITLES {
            assert!(!page.contains(title), "{path} leaked {title:?}");
        }
        assert!(!page.contains("<svg"), "{path} leaked the map");
    }
    // Publishing the results does not open exploring.
    let r = app.presenter_call("results", Some(json!({ "published": true }))).await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(app.get("/explore/host").await.status(), StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn every_branch_can_be_browsed_with_the_runs_path_marked() {
    let app = spawn_app().await;
    app.play_to_end_paas().await;
    open_explore(&app).await;

    // The index: the map, every box a link, the run's path highlighted.
    let r = app.get("/explore").await;
    assert_eq!(r.status(), StatusCode::OK);
    let doc = html(&r.text().await.expect("a page"));
    let links: Vec<String> = select(&doc, ".map-frame a")
        .iter()
        .filter_map(|a| a.value().attr("href").map(str::to_string))
        .collect();
    for slide in [
        "/explore/intro",
        "/explore/host",
        "/explore/end-vps",
        "/explore/end-paas",
    ] {
        assert!(links.iter().any(|l| l == slide), "{slide} not in {links:?}");
    }
    assert_eq!(select(&doc, ".map-frame g.group.current").len(), 1);

    // A decision: its choices are links, the one the room took is marked.
    let doc = html(&app.get("/explore/host").await.text().await.expect("a page"));
    assert_eq!(text_of(&doc, "h1.slide-title"), "Where do you host it?");
    assert_eq!(select(&doc, "[data-on-path]").len(), 1);
    let choices = select(&doc, ".explore-choices li a");
    let hrefs: Vec<&str> = choices.iter().filter_map(|a| a.value().attr("href")).collect();
    assert_eq!(hrefs, ["/explore/end-vps", "/explore/end-paas", "/explore/end-vps"]);
    assert_eq!(text_of(&doc, ".explore-choices li.taken a"), "A PaaS");
    assert_eq!(text_of(&doc, ".explore-choices li.taken .share"), "100% (1 of 1 votes)");
    // Both of build's choices lead to host: neither is marked as the one.
    let doc = html(&app.get("/explore/build").await.text().await.expect("a page"));
    assert_eq!(select(&doc, ".explore-choices li a").len(), 2);
    assert!(select(&doc, ".explore-choices li.taken").is_empty());

    // A path not taken: readable, not marked, an ending.
    let doc = html(&app.get("/explore/end-vps").await.text().await.expect("a page"));
    assert_eq!(text_of(&doc, "h1.slide-title"), "The VPS ending");
    assert!(select(&doc, "[data-on-path]").is_empty());
    assert_eq!(select(&doc, ".ending").len(), 1);

    // A plain slide links on to the next.
    let doc = html(&app.get("/explore/intro").await.text().await.expect("a page"));
    assert_eq!(text_of(&doc, ".explore-next a"), "Next: What did you build?");
    assert_eq!(text_of(&doc, ".slide-body strong"), "room");

    // Unknown slides are a 404 once open.
    assert_eq!(app.get("/explore/no-such-slide").await.status(), StatusCode::NOT_FOUND);
    assert_eq!(app.get("/explore/%3Cscript%3E").await.status(), StatusCode::NOT_FOUND);

    // Closed again: back to nothing.
    let r = app.presenter_call("explore", Some(json!({ "published": false }))).await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(app.get("/explore/build").await.status(), StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn speaker_notes_never_show_when_exploring() {
    let story = r#"
title = "Notes"
start = "a"

[slides.a]
title = "A <b>bold</b> & plain"
body = "<script>alert(1)</script> text"
notes = "A SECRET SPEAKER NOTE"
"#;
    let app = spawn_app_with(Options {
        story: story.into(),
        ..Options::default()
    })
    .await;
    open_explore(&app).await;
    for path in ["/explore", "/explore/a"] {
        let page = app.get(path).await.text().await.expect("a page");
        assert!(!page.contains("SECRET SPEAKER NOTE"), "{path}");
        assert!(!page.contains("<script>alert"), "{path}: {page}");
        assert!(!page.contains("<b>bold</b>"), "{path}");
    }
}

#[tokio::test]
async fn the_story_map_is_for_the_presenter_with_the_path_and_shares() {
    let app = spawn_app().await;
    app.open_build().await;
    app.voter().await.post_vote("build", "pets").await;
    app.voter().await.post_vote("build", "pets").await;
    app.voter().await.post_vote("build", "docs").await;

    // Nobody else: not the audience, not a wrong token.
    assert_eq!(app.get("/presenter/map.svg").await.status(), StatusCode::UNAUTHORIZED);
    let voter = app.voter().await;
    assert_eq!(voter.get("/presenter/map.svg").await.status(), StatusCode::UNAUTHORIZED);
    let r = app
        .api
        .get(format!("{}/presenter/map.svg", app.address))
        .bearer_auth("wrong")
        .send()
        .await
        .expect("an answer");
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);

    let presenter = app.presenter_browser().await;
    let r = presenter.get("/presenter/map.svg").await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.headers()["content-type"], "image/svg+xml");
    let svg = r.text().await.expect("SVG");
    let doc = roxmltree::Document::parse(&svg).expect("the map is XML");
    let current: Vec<&str> = doc
        .descendants()
        .filter(|n| n.attribute("class").is_some_and(|c| c.contains("current")))
        .filter_map(|n| n.attribute("data-slides"))
        .collect();
    assert_eq!(current, ["intro build"], "the box of the slide on screen");
    // The open vote's live shares are on its edges.
    let shares: Vec<&str> = doc
        .descendants()
        .filter(|n| n.attribute("class") == Some("share"))
        .filter_map(|n| n.text())
        .collect();
    assert_eq!(shares, ["67% (2)", "33% (1)"]);

    // Closed and followed: the edges taken are highlighted, and the label
    // of a choice taken when it alone leads there.
    app.close().await;
    app.follow("docs").await;
    app.open().await;
    app.voter().await.post_vote("host", "paas").await;
    app.close().await;
    app.follow("paas").await;
    let r = app
        .api
        .get(format!("{}/presenter/map.svg", app.address))
        .bearer_auth(TOKEN)
        .send()
        .await
        .expect("an answer");
    let svg = r.text().await.expect("SVG");
    let doc = roxmltree::Document::parse(&svg).expect("XML");
    let taken: Vec<(&str, &str)> = doc
        .descendants()
        .filter(|n| n.has_tag_name("path") && n.attribute("class").is_some_and(|c| c.contains("taken")))
        .filter_map(|n| Some((n.attribute("data-from")?, n.attribute("data-to")?)))
        .collect();
    assert_eq!(taken, [("build", "host"), ("host", "end-paas")]);
    let chosen: Vec<&str> = doc
        .descendants()
        .filter(|n| n.attribute("class") == Some("choice-label taken"))
        .filter_map(|n| n.text())
        .map(str::trim)
        .collect();
    assert_eq!(chosen, ["A PaaS"]);
    let current: Vec<&str> = doc
        .descendants()
        .filter(|n| n.attribute("class").is_some_and(|c| c.contains("current")))
        .filter_map(|n| n.attribute("data-slides"))
        .collect();
    assert_eq!(current, ["end-paas"]);
}

#[tokio::test]
async fn the_map_keeps_hidden_results_hidden_until_the_vote_closes() {
    let story = crate::helpers::STORY.replace(
        "[slides.build.decision]\n",
        "[slides.build.decision]\nresults = \"hidden\"\n",
    );
    let app = spawn_app_with(Options {
        story,
        ..Options::default()
    })
    .await;
    app.open_build().await;
    app.voter().await.post_vote("build", "pets").await;
    let map = || async {
        app.api
            .get(format!("{}/presenter/map.svg", app.address))
            .bearer_auth(TOKEN)
            .send()
            .await
            .expect("an answer")
            .text()
            .await
            .expect("SVG")
    };
    let svg = map().await;
    assert!(!svg.contains("class=\"share\""), "a hidden tally on the map:\n{svg}");
    app.close().await;
    let svg = map().await;
    assert!(svg.contains("100% (1)"), "the tally once closed:\n{svg}");
}
