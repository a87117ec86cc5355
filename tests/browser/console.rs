//! The presenter console (`/presenter/notes`) in headless Chromium, on a
//! phone-sized window beside the presenter view and an audience phone: the
//! notes, the elapsed time, the live tally, and buttons and keys on the
//! console that move the presenter view and the audience page; logging out
//! with the console's button and with L on the presenter view.

use fantoccini::{Client, Locator};

use super::app::TestApp;
use super::driver::Driver;
use super::page::{self, assert_not_reloaded, mark, press, tap, wait_js, wait_text, wait_text_contains};
use super::{PHONE, audience, presenter};

/// The browser test story with speaker notes in Markdown.
const STORY: &str = r##"
title = "The console test"
start = "welcome"

[slides.welcome]
title = "Welcome"
body = "Phones out."
notes = "Say **hello** and point at the QR code."
next = "which-way"

[slides.which-way]
title = "Which way?"
notes = "Let them argue for a minute."
[slides.which-way.decision]
prompt = "Left or right?"
choices = [
  { id = "left", label = "Left", goto = "the-left-path" },
  { id = "right", label = "Right", goto = "the-right-path" },
]

[slides.the-left-path]
title = "The left path"

[slides.the-right-path]
title = "The right path"
"##;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_presenter_console_shows_notes_and_moves_the_talk() {
    let mut driver = Driver::start();
    let app = spawn_console_story().await;
    let screen = presenter(&mut driver, &app).await;
    let phone = audience(&mut driver, &app).await;
    let console = open_console(&mut driver, &app).await;
    mark(&screen).await;
    mark(&phone).await;
    mark(&console).await;

    // Notes in Markdown, the next slide, the time since the run started.
    wait_text(&console, "#console h1", "Welcome").await;
    wait_text(&console, ".notes-body strong", "hello").await;
    wait_text(&console, ".next-slide", "Which way?").await;
    crate::axe::check(&console, "presenter console").await;
    wait_js(
        &console,
        "the elapsed time as m:ss",
        "return /^\\d+:\\d\\d$/.test(document.getElementById('elapsed').textContent);",
    )
    .await;

    // No serious or critical accessibility problem, at the start and at a vote.
    super::axe::check(&console, "presenter console").await;

    // Phone-sized: nothing wider than the screen, big touch targets.
    let layout = page::js(
        &console,
        "const sizes = [...document.querySelectorAll('#console button')].map((b) => b.getBoundingClientRect());
         return [document.documentElement.scrollWidth, Math.min(...sizes.map((r) => r.height))];",
        vec![],
    )
    .await;
    assert!(
        layout[0].as_f64().unwrap_or(f64::MAX) <= f64::from(PHONE.0),
        "the console scrolls sideways at {} px: {layout}",
        PHONE.0
    );
    assert!(
        layout[1].as_f64().unwrap_or(0.0) >= 44.0,
        "a console button is under 44 px high: {layout}"
    );

    // A tap on Next moves the presenter view and the audience page.
    click(&console, "button[data-command=\"next\"]").await;
    wait_text(&screen, "#presenter h1", "Which way?").await;
    wait_text(&phone, "#audience h1", "Which way?").await;
    wait_text(&console, "#console h1", "Which way?").await;
    wait_text_contains(&console, ".notes-body", "argue").await;
    wait_text_contains(&console, "[data-choice-row=\"left\"] .leads-to", "The left path").await;

    // A key on the presenter view opens the vote on the console too.
    press(&screen, 'o').await;
    wait_js(
        &console,
        "the console to show the open vote",
        "return document.getElementById('console').dataset.voteStatus === 'open'
             && !!document.querySelector('button[data-command=\"close\"]');",
    )
    .await;
    crate::axe::check(&console, "presenter console with an open vote").await;

    super::axe::check(&console, "presenter console at an open vote").await;

    // A vote shows on the console's tally, in place.
    tap(&phone, "left").await;
    wait_text(&console, "[data-tally=\"left\"]", "1").await;
    wait_text(&console, "[data-total]", "1").await;

    // A key on the console closes the vote on the presenter view.
    press(&console, 'c').await;
    page::wait_vote_status(&screen, "closed").await;
    wait_js(
        &console,
        "the console to show the closed vote",
        "return document.getElementById('console').dataset.voteStatus === 'closed';",
    )
    .await;
    screenshot(&console, "console-phone.png").await;

    // Following a choice from the console moves everyone there.
    click(&console, "button[data-follow=\"right\"]").await;
    wait_text(&screen, "#presenter h1", "The right path").await;
    wait_text(&phone, "#audience h1", "The right path").await;
    wait_text(&console, "#console h1", "The right path").await;
    wait_text(&console, ".no-notes", "No notes for this slide.").await;

    // ← on the console goes back for everyone.
    press(&console, fantoccini::key::Key::Left.into()).await;
    wait_text(&screen, "#presenter h1", "Which way?").await;
    wait_text(&console, "#console h1", "Which way?").await;

    // A new run from the console, after its question: everyone back at the start.
    click(&console, "button[data-command=\"new-run\"]").await;
    console.accept_alert().await.expect("the new-run question");
    wait_text(&screen, "#presenter h1", "Welcome").await;
    wait_text(&console, "#console h1", "Welcome").await;
    wait_js(
        &console,
        "the console on run 2",
        "return document.getElementById('console').dataset.run === '2';",
    )
    .await;

    assert_not_reloaded(&console, "console").await;
    assert_not_reloaded(&screen, "presenter").await;
    assert_not_reloaded(&phone, "audience").await;
    driver.close(console).await;
    driver.close(phone).await;
    driver.close(screen).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_console_button_and_l_on_the_presenter_view_log_that_browser_out() {
    let mut driver = Driver::start();
    let app = spawn_console_story().await;
    let screen = presenter(&mut driver, &app).await;
    let console = open_console(&mut driver, &app).await;

    // L asks first; dismissed, nothing happens.
    press(&screen, 'l').await;
    screen.dismiss_alert().await.expect("the logout question");
    press(&console, fantoccini::key::Key::Right.into()).await;
    wait_text(&screen, "#presenter h1", "Which way?").await;

    // The console's button, confirmed: that browser lands on the logged-out
    // page and its presenter pages ask for a login; the projector goes on.
    click(&console, "button[data-logout]").await;
    console.accept_alert().await.expect("the logout question");
    assert_logged_out(&console, &app, "/presenter/notes").await;
    press(&screen, fantoccini::key::Key::Left.into()).await;
    wait_text(&screen, "#presenter h1", "Welcome").await;

    // L, confirmed, on the presenter view.
    press(&screen, 'L').await;
    screen.accept_alert().await.expect("the logout question");
    assert_logged_out(&screen, &app, "/presenter").await;
    driver.close(console).await;
    driver.close(screen).await;
}

/// Waits for the logged-out page, then checks that the presenter page at
/// `path` asks this browser for a login.
async fn assert_logged_out(client: &Client, app: &TestApp, path: &str) {
    wait_js(
        client,
        "the logged-out page",
        "return location.pathname === '/presenter/logged-out' && !!document.getElementById('logged-out');",
    )
    .await;
    wait_text(client, "#logged-out h1", "Logged out").await;
    client.goto(&app.url(path)).await.expect("the presenter page again");
    wait_text(client, "#error h1", "Not logged in").await;
}

/// A server of the console test story.
async fn spawn_console_story() -> TestApp {
    let story = cyoa::story::Story::parse("console-test.toml", STORY)
        .expect("the console test story checks")
        .story;
    TestApp::spawn_story(story, None).await
}

/// A new phone-sized browser logged in on the console itself.
async fn open_console(driver: &mut Driver, app: &TestApp) -> Client {
    let client = driver.browser(PHONE.0, PHONE.1).await;
    let login = app.presenter_login_url().replace("/presenter?", "/presenter/notes?");
    client.goto(&login).await.expect("the console login");
    wait_js(
        &client,
        "the console, its token gone from the address",
        "return !!document.getElementById('console') && location.pathname === '/presenter/notes' && !location.search;",
    )
    .await;
    client
}

/// Saves the page as the other screenshots are saved: into
/// `CYOA_SCREENSHOT_DIR` (`scripts/screenshots.sh`: `docs/img`), else
/// `target/screenshots/`.
async fn screenshot(client: &Client, name: &str) {
    let dir = match std::env::var_os("CYOA_SCREENSHOT_DIR") {
        Some(dir) => std::path::PathBuf::from(dir),
        None => std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/screenshots"),
    };
    std::fs::create_dir_all(&dir).expect("the screenshot folder");
    let png = client.screenshot().await.expect("a screenshot");
    std::fs::write(dir.join(name), png).expect("writing a screenshot");
}

async fn click(client: &Client, css: &str) {
    wait_js(
        client,
        &format!("{css} on the page"),
        &format!("return !!document.querySelector('{}');", css.replace('\'', "\\'")),
    )
    .await;
    client
        .find(Locator::Css(css))
        .await
        .expect("the button just seen")
        .click()
        .await
        .expect("a click");
}
