//! From "I have a deck" to a branching talk, as docs/authoring.md walks it,
//! in headless Chromium: a deck printed to PDF by Chromium is imported
//! (`cyoa::import::import`, what `cyoa import` runs), made to branch by the
//! edit the guide shows, checked clean, and served. The guide's pictures
//! are taken on the way (`deck-*.png`, into `docs/img/` with
//! `scripts/screenshots.sh`); axe-core checks each page shown.

use std::path::Path;

use cyoa::story::Story;
use fantoccini::Client;

use crate::app::TestApp;
use crate::driver::Driver;
use crate::page::{open_presenter, press, screenshot, wait_js, wait_text};
use crate::support::pdf::print_to_pdf;

/// Five 16:9 pages, as a slide tool exports them.
const DECK_HTML: &str = r#"<!doctype html><html><head><meta charset="utf-8"><style>
@page { size: 1280px 720px; margin: 0 }
body { margin: 0; font-family: sans-serif; color: #1d1b3a }
section { height: 720px; box-sizing: border-box; padding: 72px 96px; break-after: page;
  background: linear-gradient(135deg, #f4f1ff, #dfe9ff) }
h1 { font-size: 72px; margin: 0 0 32px } p { font-size: 34px; margin: 0 0 16px }
</style></head><body>
<section><h1>Deploy or die</h1><p>You built an app. Now it has to run somewhere.</p></section>
<section><h1>Where do we deploy?</h1><p>A platform that runs it for us,</p><p>or a server of our own.</p></section>
<section><h1>A platform</h1><p>git push, and it runs.</p><p>Until the bill arrives.</p></section>
<section><h1>Our own server</h1><p>ssh, nginx, systemd, backups.</p><p>Every night is yours.</p></section>
<section><h1>What we learned</h1><p>Thank you!</p></section>
</body></html>"#;

/// The guide's edit: the second slide asks the room, each branch goes on
/// to the last slide, and the talk has a budget.
fn make_it_branch(imported: &str) -> String {
    let branched = imported
        .replacen(
            "start = ",
            "[settings]\nduration = 20\n\nstart = ",
            1,
        )
        .replace(
            "next = \"a-platform\"\n",
            "minutes = 2\n\n[slides.where-do-we-deploy.decision]\nprompt = \"Where should the app run?\"\nchoices = [\n  { id = \"paas\", label = \"A platform\", goto = \"a-platform\" },\n  { id = \"vps\", label = \"Our own server\", goto = \"our-own-server\" },\n]\n",
        )
        .replace(
            "next = \"our-own-server\"\n",
            "minutes = 6\nnext = \"what-we-learned\"\n",
        )
        .replace(
            "[slides.our-own-server]\ntitle = \"Our own server\"\n",
            "[slides.our-own-server]\ntitle = \"Our own server\"\nminutes = 25\n",
        );
    // `[settings]` must come after the top-level keys: move `title` and
    // `start` above it.
    let (head, rest) = branched.split_once("[settings]").expect("the settings table");
    let (settings, slides) = rest.split_once("\n\nstart = ").expect("start");
    let (start, slides) = slides.split_once('\n').expect("the slides");
    format!("{head}start = {start}\n\n[settings]{settings}\n{slides}")
}

/// Waits for the page to stop moving, then takes the guide's picture.
async fn picture(client: &Client, name: &str, what: &str) {
    wait_js(client, "a quiet page", "return document.getAnimations().length === 0;").await;
    crate::axe::check(client, what).await;
    screenshot(client, name).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_imported_deck_made_to_branch() {
    let dir = tempfile::tempdir().expect("a temporary folder");
    let pdf = print_to_pdf(dir.path(), DECK_HTML, "deck.pdf", &[]);
    let story_path = dir.path().join("talk.toml");
    let imported = cyoa::import::import(&pdf, &story_path, false).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(imported.slides, 5);
    let text = std::fs::read_to_string(&story_path).expect("the imported story");
    for id in [
        "deploy-or-die",
        "where-do-we-deploy",
        "a-platform",
        "our-own-server",
        "what-we-learned",
    ] {
        assert!(text.contains(&format!("[slides.{id}]")), "{id} in\n{text}");
    }
    std::fs::write(&story_path, make_it_branch(&text)).expect("the edit");
    let story = load_clean(&story_path);
    let check = std::process::Command::new(env!("CARGO_BIN_EXE_cyoa"))
        .arg("check")
        .arg(&story_path)
        .output()
        .expect("cyoa check runs");
    let said = String::from_utf8_lossy(&check.stdout).into_owned() + &String::from_utf8_lossy(&check.stderr);
    assert!(check.status.success(), "{said}");
    println!("{said}");
    for line in [
        "5 slides, 1 decision",
        "shortest path 10 min, longest path 29 min, duration 20 min",
    ] {
        assert!(said.contains(line), "{line:?} in {said}");
    }
    assert!(story.decision("where-do-we-deploy").is_some());

    let mut driver = Driver::start();
    let app = TestApp::spawn_story(story, Some("http://talk.example.org")).await;
    let screen = crate::page::presenter_screen(&mut driver, &app).await;
    open_presenter(
        &screen,
        &app,
        "return !!document.querySelector('#presenter.slide--image img.slide-image');",
    )
    .await;
    wait_js(
        &screen,
        "the imported page drawn",
        "const img = document.querySelector('#presenter img.slide-image');
         return img.complete && img.naturalWidth > 0;",
    )
    .await;
    picture(&screen, "deck-imported.png", "an imported page on the presenter view").await;

    // The decision slide, its vote open, a few votes in.
    press(&screen, fantoccini::key::Key::Right.into()).await;
    wait_text(&screen, "#presenter h1", "Where do we deploy?").await;
    press(&screen, 'o').await;
    crate::page::wait_vote_status(&screen, "open").await;
    let run = app.store.current("deploy-or-die").await.expect("the run").run;
    for (choice, n) in [("paas", 14), ("vps", 23)] {
        for i in 0..n {
            let voter = cyoa::store::Voter::web(&format!("deck-{choice}-{i}"));
            app.store
                .vote(run, "where-do-we-deploy", &voter, choice, cyoa::store::VoteKind::Sticky)
                .await
                .expect("a vote");
        }
    }
    // A phone's vote pushes the tally with every vote in it.
    let phone = driver.browser(crate::PHONE.0, crate::PHONE.1).await;
    phone.goto(&app.url("/")).await.expect("the audience page");
    crate::page::tap(&phone, "vps").await;
    crate::page::wait_pressed(&phone, "vps").await;
    driver.close(phone).await;
    wait_text(&screen, "[data-tally=\"vps\"]", "24").await;
    picture(&screen, "deck-decision.png", "the imported deck's decision").await;

    // The console: how long each branch takes, and which cannot fit.
    let console = crate::page::presenter_screen(&mut driver, &app).await;
    console.goto(&app.url("/presenter/notes")).await.expect("the console");
    wait_text(&console, ".console-now h1", "Where do we deploy?").await;
    wait_js(
        &console,
        "the own-server branch marked as not fitting",
        "const rest = document.querySelector('[data-choice-row=\"vps\"] .choice-rest');
         return !!rest && rest.classList.contains('no-fit');",
    )
    .await;
    picture(&console, "deck-console.png", "the console with each branch's time").await;
    driver.close(console).await;
    driver.close(screen).await;
}

/// The story at `path`, which must check with one warning only: its
/// longest path (the own-server branch) is over its duration.
fn load_clean(path: &Path) -> Story {
    match Story::load(path) {
        Ok(loaded) => {
            let warnings: Vec<String> = loaded.warnings.iter().map(|w| w.message.clone()).collect();
            assert_eq!(warnings.len(), 1, "{warnings:?}");
            assert!(warnings[0].contains("over its `duration` of 20 min"), "{warnings:?}");
            loaded.story
        }
        Err(problems) => panic!(
            "the branched story does not check: {problems:?}\n{}",
            std::fs::read_to_string(path).unwrap_or_default()
        ),
    }
}
