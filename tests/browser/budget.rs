//! The time budget and the decision rules in headless Chromium: the
//! console counts the time left against the story's duration and marks a
//! choice whose way cannot fit, from the server's clock, second by second;
//! the presenter view says "not enough votes" below `min_votes` and
//! follows the count as phones vote. Both pages stay axe-clean.

use super::app::TestApp;
use super::driver::Driver;
use super::page::{open_presenter, tap, wait_js, wait_text};
use super::{PHONE, audience};

/// A 20-minute talk: the right path takes 30 minutes, the left one 5, and
/// the vote needs 2 votes for Next to follow it.
const STORY: &str = r##"
title = "The budget test"
start = "welcome"

[settings]
duration = 20

[slides.welcome]
title = "Welcome"
next = "which-way"

[slides.which-way]
title = "Which way?"
minutes = 1
[slides.which-way.decision]
prompt = "Left or right?"
min_votes = 2
choices = [
  { id = "left", label = "Left", goto = "the-left-path" },
  { id = "right", label = "Right", goto = "the-right-path" },
]

[slides.the-left-path]
title = "The left path"
minutes = 5

[slides.the-right-path]
title = "The right path"
minutes = 30
"##;

/// Whether `choice`'s rest of the talk is marked as not fitting, in a
/// class and in words.
fn marked(choice: &str, yes: bool) -> String {
    format!(
        "const rest = document.querySelector('[data-choice-row=\"{choice}\"] .choice-rest');
         return !!rest && rest.classList.contains('no-fit') === {yes}
           && rest.querySelector('[data-no-fit]').hidden === {not};",
        not = !yes
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_console_counts_the_time_left_and_marks_a_way_that_cannot_fit() {
    let mut driver = Driver::start();
    let app = spawn().await;

    let (status, body) = app
        .presenter_call("goto", Some(serde_json::json!({ "slide": "which-way" })))
        .await;
    assert_eq!(status, 200, "{body}");
    let console = driver.browser(PHONE.0, PHONE.1).await;
    let login = app.presenter_login_url().replace("/presenter?", "/presenter/notes?");
    console.goto(&login).await.expect("the console login");
    wait_text(&console, "#console h1", "Which way?").await;
    wait_js(
        &console,
        "the time left of a 20-minute talk, just started",
        "return /^(20:00|19:[0-5]\\d)$/.test(document.getElementById('time-left').textContent);",
    )
    .await;
    wait_js(
        &console,
        "the left path's 5 minutes",
        "const rest = document.querySelector('[data-choice-row=\"left\"] .choice-rest');
         return !!rest && rest.firstChild.textContent === '5 min';",
    )
    .await;
    wait_js(&console, "the right path marked", &marked("right", true)).await;
    wait_js(&console, "the left path not marked", &marked("left", false)).await;
    super::axe::check(&console, "presenter console with a time budget").await;

    // The page keeps counting: with two hours the right path fits too.
    super::page::js(
        &console,
        "document.getElementById('console').dataset.duration = '7200'; return true;",
        vec![],
    )
    .await;
    wait_js(&console, "the right path no longer marked", &marked("right", false)).await;
    wait_js(
        &console,
        "two hours left, as h:mm:ss",
        "return /^1:59:[0-5]\\d$/.test(document.getElementById('time-left').textContent);",
    )
    .await;
    driver.close(console).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_presenter_view_says_not_enough_votes_until_there_are_enough() {
    let mut driver = Driver::start();
    let app = spawn().await;
    let screen = driver.browser(1280, 720).await;
    open_presenter(&screen, &app, "return !!document.getElementById('presenter');").await;
    let phone = audience(&mut driver, &app).await;
    let (status, body) = app
        .presenter_call("goto", Some(serde_json::json!({ "slide": "which-way" })))
        .await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = app.presenter_call("open", None).await;
    assert_eq!(status, 200, "{body}");
    wait_text(&screen, "[data-not-enough]", "Not enough votes: 0 of 2").await;
    tap(&phone, "left").await;
    wait_text(&screen, "[data-not-enough]", "Not enough votes: 1 of 2").await;
    super::axe::check(&screen, "presenter view with too few votes").await;
    driver.close(phone).await;
    driver.close(screen).await;
}

/// The app serving [`STORY`].
async fn spawn() -> TestApp {
    let story = cyoa::story::Story::parse("budget.toml", STORY)
        .expect("the story checks")
        .story;
    TestApp::spawn_story(story, None).await
}
