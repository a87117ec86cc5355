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

/// The test story with `settings` (TOML) after its `start`.
fn story_with(settings: &str) -> String {
    STORY.replace("start = \"intro\"", &format!("start = \"intro\"\n\n{settings}"))
}

/// A server on `story`.
async fn spawn_story(story: String) -> TestApp {
    spawn_app_with(Options {
        story,
        ..Options::default()
    })
    .await
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
    let story = story_with("[settings]\nlanguage = \"de\"");
    let app = spawn_story(story).await;
    let (_, doc) = page(&app, "/", Some("en-US,en;q=0.9")).await;
    assert_eq!(lang_of(&doc), "de");
    assert_eq!(script_texts(&doc)["or"], "oder");
}

#[test]
fn a_story_language_cyoa_lacks_is_refused_with_the_ones_it_has() {
    let story = story_with("[settings]\nlanguage = \"fr\"");
    let problems = cyoa::story::Story::parse("fr.toml", &story).expect_err("French is refused");
    let text = problems.iter().map(ToString::to_string).collect::<Vec<_>>().join("\n");
    assert!(text.contains("fr.toml:5:"), "{text}");
    assert!(text.contains("`en`, `de`"), "{text}");
}

/// The presenter publishes the results or opens exploring.
async fn publish(app: &TestApp, what: &str) {
    let r = app
        .presenter_call(what, Some(serde_json::json!({ "published": true })))
        .await;
    assert_eq!(r.status(), StatusCode::OK, "publishing {what}");
}

#[tokio::test]
async fn results_and_explore_and_their_waiting_pages_read_in_german() {
    let app = spawn_app().await;
    app.play_to_end_paas().await;

    // Before publishing: the waiting pages.
    let (status, doc) = page(&app, "/results", Some("de-DE,de;q=0.9")).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(lang_of(&doc), "de");
    assert_eq!(text_of(&doc, "h1"), "Die Ergebnisse sind noch nicht veröffentlicht");
    assert_eq!(text_of(&doc, "main a"), "Zurück zum Vortrag");
    for path in ["/explore", "/explore/host"] {
        let (status, doc) = page(&app, path, Some("de")).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{path}");
        assert_eq!(lang_of(&doc), "de", "{path}");
        assert_eq!(text_of(&doc, "h1"), "Erkunden ist nach dem Vortrag möglich", "{path}");
    }
    // English stays English.
    let (_, doc) = page(&app, "/results", Some("en")).await;
    assert_eq!(lang_of(&doc), "en");
    assert_eq!(text_of(&doc, "h1"), "Results are not published yet");

    publish(&app, "results").await;
    publish(&app, "explore").await;
    let (status, doc) = page(&app, "/results", Some("de")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(lang_of(&doc), "de");
    assert_eq!(text_of(&doc, "h1"), "Ergebnisse von Durchlauf 1");
    assert_eq!(text_of(&doc, "#path-title"), "Der eingeschlagene Weg");
    assert_eq!(
        text_of(&doc, ".result[data-decision=build] .outcome"),
        "Gewonnen: Tinder for Pets · 1 Stimmen"
    );
    assert_eq!(
        text_of(&doc, ".result[data-decision=build] thead th:first-child"),
        "Antwort"
    );
    assert!(text_of(&doc, ".exports").starts_with("Herunterladen:"));

    let (_, doc) = page(&app, "/explore", Some("de")).await;
    assert_eq!(text_of(&doc, "h1"), "Die Geschichte erkunden");
    assert_eq!(
        text_of(&doc, "svg.story-map > title"),
        "Karte der Geschichte: The test adventure"
    );
    let (_, doc) = page(&app, "/explore/host", Some("de")).await;
    assert_eq!(lang_of(&doc), "de");
    assert_eq!(text_of(&doc, ".on-path"), "Hier ist der Vortrag entlanggegangen.");
    assert_eq!(text_of(&doc, ".taken-mark"), "so hat der Saal entschieden");
    assert_eq!(text_of(&doc, ".taken .share"), "100 % (1 von 1 Stimmen)");
    assert_eq!(text_of(&doc, ".explore-nav a:first-child"), "Die ganze Karte");
    let (_, doc) = page(&app, "/explore/intro", Some("de")).await;
    assert_eq!(text_of(&doc, ".explore-next a"), "Weiter: What did you build?");
    let (_, doc) = page(&app, "/explore/end-vps", Some("de")).await;
    assert_eq!(text_of(&doc, ".ending"), "Hier endet dieser Weg.");
    let (status, doc) = page(&app, "/explore/no-such-slide", Some("de")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(
        text_of(&doc, ".message"),
        "Diese Folie gibt es in der Geschichte nicht; fang auf der Karte unter /explore neu an."
    );
}

#[tokio::test]
async fn the_storys_language_wins_on_results_explore_and_the_join_panel() {
    let story = story_with("[settings]\nlanguage = \"de\"");
    let app = spawn_story(story).await;
    let (_, doc) = page(&app, "/results", Some("en-US,en;q=0.9")).await;
    assert_eq!(lang_of(&doc), "de");
    assert_eq!(text_of(&doc, "h1"), "Die Ergebnisse sind noch nicht veröffentlicht");
    let (_, doc) = page(&app, "/explore", Some("en")).await;
    assert_eq!(lang_of(&doc), "de");
    assert_eq!(text_of(&doc, "h1"), "Erkunden ist nach dem Vortrag möglich");

    // The room reads the projector: its join panel is in the story's language.
    app.open_build().await;
    let presenter = app.presenter_browser().await;
    let doc = html(&presenter.get("/presenter").await.text().await.expect("a page"));
    assert_eq!(lang_of(&doc), "de");
    let panel = select(&doc, "aside.join-panel")[0];
    assert_eq!(panel.attr("aria-label"), Some("So stimmst du mit ab"));
    assert_eq!(text_of(&doc, ".join-call"), "Stimm mit deinem Handy ab");
    let qr = select(&doc, ".join-panel img.qr")[0];
    assert_eq!(qr.attr("alt"), Some(format!("QR-Code für {}/", app.address).as_str()));
    let winner = select(&doc, "[data-winner]")[0];
    assert_eq!(winner.attr("data-winner-prefix"), Some("Gewonnen: "));
    assert_eq!(winner.attr("data-leading-prefix"), Some("Vorn liegt: "));
}

#[tokio::test]
async fn the_audience_page_links_to_what_the_presenter_published() {
    let app = spawn_app().await;
    let links = |doc: &scraper::Html| {
        let nav = select(doc, "nav#published-links")[0];
        let shown = |what: &str| {
            select(doc, &format!("nav#published-links a[data-published-link={what}]"))[0]
                .attr("hidden")
                .is_none()
        };
        (nav.attr("hidden").is_none(), shown("results"), shown("explore"))
    };
    let (_, doc) = page(&app, "/", Some("de")).await;
    assert_eq!(links(&doc), (false, false, false), "nothing published yet");

    publish(&app, "results").await;
    let (_, doc) = page(&app, "/", Some("de")).await;
    assert_eq!(links(&doc), (true, true, false));
    assert_eq!(text_of(&doc, "a[href='/results']"), "Zu den Ergebnissen");
    assert_eq!(
        select(&doc, "nav#published-links")[0].attr("aria-label"),
        Some("Nach dem Vortrag")
    );

    publish(&app, "explore").await;
    let (_, doc) = page(&app, "/", Some("en")).await;
    assert_eq!(links(&doc), (true, true, true));
    assert_eq!(text_of(&doc, "a[href='/results']"), "See the results");
    assert_eq!(text_of(&doc, "a[href='/explore']"), "Explore every branch");
    // The pinned page has them too.
    let (_, doc) = page(&app, "/vote/build", None).await;
    assert_eq!(links(&doc), (true, true, true));
}

#[tokio::test]
async fn results_and_explore_wear_the_storys_theme() {
    let story = story_with(
        "[settings.theme]\nmode = \"dark\"\naccent = \"#0a7d4f\"\nbackground = \"#101820\"\ntext = \"#f0f0f0\"",
    );
    let app = spawn_story(story).await;
    for path in ["/results", "/explore", "/explore/intro"] {
        let (_, doc) = page(&app, path, None).await;
        let root = select(&doc, "html")[0];
        assert_eq!(
            (
                root.attr("data-theme"),
                root.attr("data-accent"),
                root.attr("data-background"),
                root.attr("data-text")
            ),
            (Some("dark"), Some("#0a7d4f"), Some("#101820"), Some("#f0f0f0")),
            "{path}"
        );
        assert_eq!(select(&doc, "script[src^='/static/theme.js?v=']").len(), 1, "{path}");
    }
}
