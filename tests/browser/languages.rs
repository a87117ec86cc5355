//! The audience page in German: a Chromium set to German gets German texts,
//! from the server and from `audience.js` alike; a story in German wins
//! over an English browser.

use super::app::TestApp;
use super::driver::Driver;
use super::page::{self, press, tap, wait_js, wait_text, wait_vote_status};
use super::{PHONE, presenter};

const STORY: &str = r##"
title = "Der Sprachtest"
start = "welcome"
{settings}
[slides.welcome]
title = "Welcome"
next = "which-way"

[slides.which-way]
title = "Which way?"
[slides.which-way.decision]
prompt = "Left or right?"
choices = [
  { id = "left", label = "Left", goto = "the-end" },
  { id = "right", label = "Right", goto = "the-end" },
]

[slides.the-end]
title = "The end"
"##;

fn story(settings: &str) -> cyoa::story::Story {
    cyoa::story::Story::parse("language-test.toml", &STORY.replace("{settings}", settings))
        .expect("the language test story checks")
        .story
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_german_browser_and_a_german_story_get_german_texts() {
    let mut driver = Driver::start();

    // A German browser, a story that sets no language.
    let app = TestApp::spawn_story(story(""), None).await;
    let screen = presenter(&mut driver, &app).await;
    let phone = driver.browser_in(PHONE.0, PHONE.1, "de").await;
    phone.goto(&app.url("/")).await.expect("the audience page");
    wait_text(&phone, "#audience h1", "Welcome").await;
    wait_js(
        &phone,
        "<html lang=de>",
        "return document.documentElement.lang === 'de';",
    )
    .await;
    wait_text(
        &phone,
        ".waiting",
        "Folge dem Vortrag: Die nächste Abstimmung erscheint hier von selbst.",
    )
    .await;

    // The script's own texts: drawn in German as the talk moves on.
    press(&screen, fantoccini::key::Key::Right.into()).await;
    wait_text(&phone, "#audience h1", "Which way?").await;
    wait_text(&phone, "[data-status]", "Die Abstimmung hat noch nicht begonnen.").await;
    press(&screen, 'o').await;
    wait_vote_status(&screen, "open").await;
    tap(&phone, "left").await;
    wait_text(
        &phone,
        ".hint",
        "Du hast für Left gestimmt. Tippe auf eine andere Antwort, um deine Stimme zu ändern.",
    )
    .await;
    press(&screen, 'c').await;
    wait_text(&phone, "#audience [data-status]", "Abstimmung geschlossen").await;
    page::wait_text_contains(&phone, "#audience .total", "Stimmen:").await;
    // The single winner's prefix, drawn by cyoa.css, is German too.
    wait_js(
        &phone,
        "the German winner's prefix",
        "const w = document.querySelector('#audience [data-winner]');
         return !!w && w.dataset.outcome === 'winner'
           && getComputedStyle(w, '::before').content === '\"Gewonnen: \"';",
    )
    .await;
    crate::axe::check(&phone, "German audience page with a closed vote").await;

    // P and E: the links appear, in German, by the live push alone.
    page::mark(&phone).await;
    press(&screen, 'p').await;
    wait_text(&phone, "#published-links a[href=\"/results\"]", "Zu den Ergebnissen").await;
    press(&screen, 'e').await;
    wait_text(&phone, "#published-links a[href=\"/explore\"]", "Alle Zweige erkunden").await;
    wait_js(
        &phone,
        "both links shown",
        "return [...document.querySelectorAll('#published-links a')].every(a => !a.hidden)
           && !document.getElementById('published-links').hidden;",
    )
    .await;
    page::assert_not_reloaded(&phone, "audience").await;
    crate::axe::check(&phone, "German audience page with the published links").await;

    // The results and explore pages read German too.
    phone.goto(&app.url("/results")).await.expect("the results page");
    wait_text(&phone, "#results h1", "Ergebnisse von Durchlauf 1").await;
    wait_js(
        &phone,
        "<html lang=de>",
        "return document.documentElement.lang === 'de';",
    )
    .await;
    crate::axe::check(&phone, "German results page").await;
    phone.goto(&app.url("/explore")).await.expect("the explore page");
    wait_text(&phone, "#explore h1", "Die Geschichte erkunden").await;
    crate::axe::check(&phone, "German explore page").await;
    driver.close(phone).await;
    driver.close(screen).await;

    // An English browser, a story in German: the story wins.
    let app = TestApp::spawn_story(story("\n[settings]\nlanguage = \"de\"\n"), None).await;
    let phone = driver.browser_in(PHONE.0, PHONE.1, "en-US").await;
    phone.goto(&app.url("/")).await.expect("the audience page");
    wait_text(&phone, "#audience h1", "Welcome").await;
    wait_js(
        &phone,
        "<html lang=de>",
        "return document.documentElement.lang === 'de';",
    )
    .await;
    wait_text(
        &phone,
        ".waiting",
        "Folge dem Vortrag: Die nächste Abstimmung erscheint hier von selbst.",
    )
    .await;
    // The room reads the projector: its join panel speaks the story's
    // language, whatever the presenter's browser says.
    let screen = presenter(&mut driver, &app).await;
    press(&screen, fantoccini::key::Key::Right.into()).await;
    wait_text(&screen, "#presenter h1", "Which way?").await;
    wait_text(&screen, ".join-call", "Stimm mit deinem Handy ab").await;
    wait_js(
        &screen,
        "the German join panel",
        "const p = document.querySelector('.join-panel');
         return document.documentElement.lang === 'de'
           && p.getAttribute('aria-label') === 'So stimmst du mit ab'
           && p.querySelector('img.qr').alt.startsWith('QR-Code für ');",
    )
    .await;
    crate::axe::check(&screen, "German presenter view with the join panel").await;
    driver.close(screen).await;

    // And an English browser with no story language reads English.
    let app = TestApp::spawn_story(story(""), None).await;
    let english = driver.browser_in(PHONE.0, PHONE.1, "en-US").await;
    english.goto(&app.url("/")).await.expect("the audience page");
    wait_js(
        &english,
        "<html lang=en>",
        "return document.documentElement.lang === 'en';",
    )
    .await;
    wait_text(
        &english,
        ".waiting",
        "Follow the talk: the next vote shows up here by itself.",
    )
    .await;
    driver.close(english).await;
    driver.close(phone).await;
}
