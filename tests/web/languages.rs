//! The audience's language: the story's `[settings] language`, else the
//! browser's `Accept-Language` by q-value, else English; the `<html lang>`,
//! the page texts, the error pages and the texts given to `audience.js`.

use reqwest::StatusCode;
use serde_json::Value;

use crate::helpers::{Options, STORY, TestApp, html, select, spawn_app, spawn_app_with, text_of};

/// A page fetched with this `Accept-Language` (none: no header).
async fn page(app: &TestApp, path: &str, accept: Option<&str>) -> (StatusCode, scraper::Html) {
    let mut request = app.api.get(format!("{}{path}", app.address));
    if let Some(accept) = accept {
        request = request.header("accept-language", accept);
    }
    let response = request.send().await.expect("the server answers");
    let status = response.status();
    (status, html(&response.text().await.expect("a page")))
}

fn lang_of(doc: &scraper::Html) -> String {
    select(doc, "html")[0]
        .value()
        .attr("lang")
        .unwrap_or_default()
        .to_string()
}

/// The texts the page gives its script.
fn script_texts(doc: &scraper::Html) -> Value {
    let block = select(doc, "script#cyoa-texts[type=\"application/json\"]");
    assert_eq!(block.len(), 1, "one JSON block of texts");
    serde_json::from_str(&block[0].text().collect::<String>()).expect("the texts are JSON")
}

#[tokio::test]
async fn the_browsers_language_picks_the_audience_texts() {
    let app = spawn_app().await;
    let (_, de) = page(&app, "/", Some("de-DE,de;q=0.9,en;q=0.8")).await;
    assert_eq!(lang_of(&de), "de");
    assert_eq!(
        text_of(&de, ".waiting"),
        "Folge dem Vortrag: Die nächste Abstimmung erscheint hier von selbst."
    );
    assert_eq!(script_texts(&de)["withdrawn"], "Deine Stimme wurde zurückgezogen.");

    // By q-value: English first here, although German comes first.
    let (_, en) = page(&app, "/", Some("de;q=0.5, en;q=0.9")).await;
    assert_eq!(lang_of(&en), "en");
    assert_eq!(
        text_of(&en, ".waiting"),
        "Follow the talk: the next vote shows up here by itself."
    );
    assert_eq!(script_texts(&en)["withdrawn"], "Your vote was withdrawn.");

    // Languages cyoa lacks, or none, fall back to English.
    for accept in [Some("fr-FR, es;q=0.8"), Some("*"), None] {
        let (_, doc) = page(&app, "/", accept).await;
        assert_eq!(lang_of(&doc), "en", "{accept:?}");
    }
}

#[tokio::test]
async fn an_open_vote_and_its_result_read_in_german() {
    let app = spawn_app().await;
    app.open_build().await;
    let (_, doc) = page(&app, "/", Some("de")).await;
    assert_eq!(
        text_of(&doc, ".hint"),
        "Tippe auf eine Antwort, um abzustimmen; bis die Abstimmung schließt, kannst du es dir anders überlegen."
    );
    assert_eq!(text_of(&doc, "#announce"), "Abstimmung offen: Pets or docs?");
    app.close().await;
    let (_, doc) = page(&app, "/", Some("de")).await;
    assert_eq!(text_of(&doc, "[data-status]"), "Abstimmung geschlossen");
    assert!(
        text_of(&doc, ".total").starts_with("Stimmen:"),
        "{}",
        text_of(&doc, ".total")
    );
}

#[tokio::test]
async fn error_pages_follow_the_language() {
    let app = spawn_app().await;
    let (status, doc) = page(&app, "/no-such-page", Some("de")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(lang_of(&doc), "de");
    assert_eq!(text_of(&doc, "h1"), "Nicht gefunden");
    assert_eq!(text_of(&doc, ".message"), "Unter dieser Adresse gibt es nichts.");
    assert_eq!(text_of(&doc, "main a"), "Zurück zum Vortrag");

    let (_, doc) = page(&app, "/vote/no-such-vote", Some("en")).await;
    assert_eq!(lang_of(&doc), "en");
    assert_eq!(text_of(&doc, "main a"), "Back to the talk");
    assert!(
        text_of(&doc, ".message").contains("no-such-vote"),
        "English keeps the details"
    );
}

#[tokio::test]
async fn the_storys_language_wins_over_the_browsers() {
    let story = STORY.replace(
        "start = \"intro\"",
        "start = \"intro\"\n\n[settings]\nlanguage = \"de\"",
    );
    let app = spawn_app_with(Options {
        story,
        ..Options::default()
    })
    .await;
    let (_, doc) = page(&app, "/", Some("en-US,en;q=0.9")).await;
    assert_eq!(lang_of(&doc), "de");
    assert_eq!(script_texts(&doc)["or"], "oder");
}

#[test]
fn a_story_language_cyoa_lacks_is_refused_with_the_ones_it_has() {
    let story = STORY.replace(
        "start = \"intro\"",
        "start = \"intro\"\n\n[settings]\nlanguage = \"fr\"",
    );
    let problems = cyoa::story::Story::parse("fr.toml", &story).expect_err("French is refused");
    let text = problems.iter().map(ToString::to_string).collect::<Vec<_>>().join("\n");
    assert!(text.contains("fr.toml:6:"), "{text}");
    assert!(text.contains("`en`, `de`"), "{text}");
}
