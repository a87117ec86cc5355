//! The presenter console (`/presenter/notes`) in headless Chromium, on a
//! phone-sized window beside the presenter view and an audience phone: the
//! notes, the elapsed time, the live tally, and buttons and keys on the
//! console that move the presenter view and the audience page; logging out
//! with the console's button and with L on the presenter view; the one
//! keymap that means the same on both screens, and its `?` help.

use fantoccini::Client;
use fantoccini::key::Key;

use super::app::TestApp;
use super::driver::Driver;
use super::page::{self, assert_not_reloaded, click, mark, press, tap, wait_js, wait_text, wait_text_contains};
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
    let (_app, screen, phone, console) = three_screens(&mut driver).await;

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
    wait_console_vote(&console, "closed").await;
    page::screenshot(&console, "console-phone.png").await;

    // Following a choice from the console moves everyone there.
    click(&console, "button[data-follow=\"right\"]").await;
    wait_text(&screen, "#presenter h1", "The right path").await;
    wait_text(&phone, "#audience h1", "The right path").await;
    wait_text(&console, "#console h1", "The right path").await;
    wait_text(&console, ".no-notes", "No notes for this slide.").await;

    // ← on the console goes back for everyone.
    press(&console, Key::Left.into()).await;
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

    close_unreloaded(
        &mut driver,
        [(console, "console"), (phone, "audience"), (screen, "presenter")],
    )
    .await;
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
    press(&console, Key::Right.into()).await;
    wait_text(&screen, "#presenter h1", "Which way?").await;

    // The console's button, confirmed: that browser lands on the logged-out
    // page and its presenter pages ask for a login; the projector goes on.
    click(&console, "button[data-logout]").await;
    console.accept_alert().await.expect("the logout question");
    assert_logged_out(&console, &app, "/presenter/notes").await;
    press(&screen, Key::Left.into()).await;
    wait_text(&screen, "#presenter h1", "Welcome").await;

    // L, confirmed, on the presenter view.
    press(&screen, 'L').await;
    screen.accept_alert().await.expect("the logout question");
    assert_logged_out(&screen, &app, "/presenter").await;
    driver.close(console).await;
    driver.close(screen).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_means_the_same_on_the_presenter_view_and_the_console() {
    let mut driver = Driver::start();
    let (app, screen, phone, console) = three_screens(&mut driver).await;

    // To the vote, opened from the console; one vote for the right path.
    press(&console, Key::Right.into()).await;
    wait_text(&screen, "#presenter h1", "Which way?").await;
    wait_text(&console, "#console h1", "Which way?").await;
    press(&console, 'o').await;
    page::wait_vote_status(&screen, "open").await;
    tap(&phone, "right").await;
    wait_text(&console, "[data-tally=\"right\"]", "1").await;

    // Enter on an open vote: on both screens the server's refusal, and
    // nobody moves.
    for (client, which) in [(&screen, "presenter"), (&console, "console")] {
        press(client, Key::Enter.into()).await;
        wait_text_contains(client, "#flash", "still open").await;
        wait_text(client, &format!("#{which} h1"), "Which way?").await;
    }

    // Closed, Enter follows the winner, from either screen.
    press(&screen, 'c').await;
    wait_console_vote(&console, "closed").await;
    press(&console, Key::Enter.into()).await;
    wait_both(&screen, &console, "The right path").await;
    press(&screen, Key::Left.into()).await;
    wait_both(&screen, &console, "Which way?").await;
    press(&screen, Key::Enter.into()).await;
    wait_both(&screen, &console, "The right path").await;

    // A digit follows that choice by its number, from either screen, even
    // against the winner; a number the vote does not have moves nobody.
    press(&console, Key::Left.into()).await;
    wait_both(&screen, &console, "Which way?").await;
    for (client, which) in [(&screen, "presenter"), (&console, "console")] {
        press(client, '3').await;
        wait_text(client, "#flash", "There is no choice 3.").await;
        wait_text(client, &format!("#{which} h1"), "Which way?").await;
    }
    press(&console, '1').await;
    wait_both(&screen, &console, "The left path").await;
    press(&screen, Key::Left.into()).await;
    wait_both(&screen, &console, "Which way?").await;
    press(&screen, '1').await;
    wait_both(&screen, &console, "The left path").await;
    let state = app.state().await;
    assert_eq!(state["slide"]["id"], "the-left-path", "{state}");

    // A digit where there is no vote says so on both.
    for client in [&screen, &console] {
        press(client, '1').await;
        wait_text(client, "#flash", "There is no vote on this slide.").await;
    }

    // A key of the presenter view only says so on the console, and does nothing.
    press(&console, 'f').await;
    wait_text(&console, "#flash", "F works on the presenter view only.").await;
    press(&console, 'm').await;
    wait_text(&console, "#flash", "M works on the presenter view only.").await;

    // P on the console publishes the results, as on the presenter view.
    press(&console, 'p').await;
    wait_text(&console, "#flash", "Results published at /results.").await;
    assert_eq!(app.state().await["published"]["results"], true);
    press(&screen, 'p').await;
    wait_text(&screen, "#flash", "Results hidden again.").await;
    assert_eq!(app.state().await["published"]["results"], false);

    // ? shows the same table on both screens, the README's table row by
    // row; the keys of the presenter view only are greyed on the console.
    let readme = readme_keys();
    for (client, which) in [(&screen, "presenter view"), (&console, "console")] {
        press(client, '?').await;
        wait_js(
            client,
            "the keys' help",
            "const h = document.getElementById('keys-help'); return !!h && !h.hidden;",
        )
        .await;
        let rows = help_rows(client).await;
        assert_eq!(rows, readme, "the {which}'s ? help and the README's key table differ");
        super::axe::check(client, &format!("the keys' help on the {which}")).await;
    }
    let greyed = page::js(
        &console,
        "return [...document.querySelectorAll('#keys-help tr.elsewhere th')].map((th) => th.textContent);",
        vec![],
    )
    .await;
    assert_eq!(greyed, serde_json::json!(["F", "M"]));
    let greyed = page::js(
        &screen,
        "return document.querySelectorAll('#keys-help tr.elsewhere').length;",
        vec![],
    )
    .await;
    assert_eq!(greyed, serde_json::json!(0));

    // Escape hides it again, on both.
    for client in [&screen, &console] {
        press(client, Key::Escape.into()).await;
        wait_js(
            client,
            "the keys' help hidden",
            "return document.getElementById('keys-help').hidden;",
        )
        .await;
    }

    close_unreloaded(
        &mut driver,
        [(console, "console"), (phone, "audience"), (screen, "presenter")],
    )
    .await;
}

/// A server of the console test story with the presenter view, an
/// audience phone and the console open, each marked for
/// [`close_unreloaded`].
async fn three_screens(driver: &mut Driver) -> (TestApp, Client, Client, Client) {
    let app = spawn_console_story().await;
    let screen = presenter(driver, &app).await;
    let phone = audience(driver, &app).await;
    let console = open_console(driver, &app).await;
    for client in [&screen, &phone, &console] {
        mark(client).await;
    }
    (app, screen, phone, console)
}

/// Checks that no page was reloaded nor had a script error, then closes them.
async fn close_unreloaded<const N: usize>(driver: &mut Driver, pages: [(Client, &str); N]) {
    for (client, which) in pages {
        assert_not_reloaded(&client, which).await;
        driver.close(client).await;
    }
}

/// Waits until the presenter view and the console both show `title`.
async fn wait_both(screen: &Client, console: &Client, title: &str) {
    wait_text(screen, "#presenter h1", title).await;
    wait_text(console, "#console h1", title).await;
}

async fn wait_console_vote(console: &Client, status: &str) {
    wait_js(
        console,
        &format!("the console to show a vote that is {status}"),
        &format!("return document.getElementById('console').dataset.voteStatus === '{status}';"),
    )
    .await;
}

/// The `?` help's rows on the page: (key, what it does).
async fn help_rows(client: &Client) -> Vec<(String, String)> {
    let rows = page::js(
        client,
        "return [...document.querySelectorAll('#keys-help tbody tr')].map((tr) =>
             [tr.querySelector('th').textContent, tr.querySelector('td').textContent]);",
        vec![],
    )
    .await;
    serde_json::from_value(rows).expect("the help's rows")
}

/// The README's key table: (key, what it does), code marks left out.
fn readme_keys() -> Vec<(String, String)> {
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).expect("README.md");
    readme
        .lines()
        .skip_while(|line| !line.starts_with("| Key | Does |"))
        .skip(2)
        .take_while(|line| line.starts_with('|'))
        .map(|line| {
            let cells: Vec<String> = line
                .trim_matches('|')
                .split(" | ")
                .map(|cell| cell.trim().replace('`', ""))
                .collect();
            assert_eq!(cells.len(), 2, "a README key row of two cells: {line}");
            (cells[0].clone(), cells[1].clone())
        })
        .collect()
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
