//! `cyoa serve --watch` as a real process, with the presenter view and an
//! audience page in headless Chromium: saving the story file shows the
//! edit on both; an edit that does not check leaves the last good story
//! served, shows the check's `FILE:LINE:COL` on the presenter view and
//! console and in the log, and keeps the votes; the fix clears it; an edit
//! that removes the run's slide waits until the talk has moved on.

use std::io::{BufRead, BufReader, Read};
use std::path::Path;
use std::process::{Child, Command, Stdio};

use super::driver::Driver;
use super::page::{press, tap, wait_js, wait_text, wait_text_contains, wait_vote_status};
use super::{PHONE, SCREEN};

const TOKEN: &str = "watch-test-presenter-token";

/// The story, with `{which}` for the decision slide's title.
const STORY: &str = r##"title = "The watch test"
start = "welcome"

[slides.welcome]
title = "Welcome"
next = "which-way"

[slides.which-way]
title = "{which}"
notes = "Notes on the fork."
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

fn story(which: &str) -> String {
    STORY.replace("{which}", which)
}

/// Saves as many editors do: a new file renamed over the old one.
fn save(path: &Path, text: &str) {
    let fresh = path.with_extension("toml.new");
    std::fs::write(&fresh, text).expect("the edited story is written");
    std::fs::rename(&fresh, path).expect("the edit replaces the story");
}

/// A `cyoa serve --watch` process; killed if the test fails.
struct Served(Child);

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_watch_reloads_the_story_and_shows_what_is_wrong() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let file = dir.path().join("talk.toml");
    std::fs::write(&file, story("Which way?")).expect("the story file");
    let mut served = Served(
        Command::new(env!("CARGO_BIN_EXE_cyoa"))
            .args([
                "serve",
                "--memory",
                "--watch",
                "--bind",
                "127.0.0.1:0",
                "--presence-grace",
                "30",
            ])
            .arg("--story")
            .arg(&file)
            .args(["--presenter-token", TOKEN])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("cyoa serve starts"),
    );
    let mut lines = BufReader::new(served.0.stdout.take().expect("stdout")).lines();
    // The token was given: the line holds the bare presenter URL.
    let page = lines
        .next()
        .and_then(Result::ok)
        .and_then(|l| {
            l.strip_prefix("presenter: ")?
                .split_whitespace()
                .next()
                .map(str::to_owned)
        })
        .expect("the presenter line");
    let base = page.split("/presenter").next().expect("the base URL").to_string();
    let login = format!("{page}?token={TOKEN}");

    let mut driver = Driver::start();
    let screen = driver.browser(SCREEN.0, SCREEN.1).await;
    screen.goto(&login).await.expect("the presenter login");
    wait_text(&screen, "#presenter h1", "Welcome").await;
    let phone = driver.browser(PHONE.0, PHONE.1).await;
    phone.goto(&format!("{base}/")).await.expect("the audience page");
    wait_text(&phone, "#audience h1", "Welcome").await;
    press(&screen, fantoccini::key::Key::Right.into()).await;
    wait_text(&screen, "#presenter h1", "Which way?").await;
    press(&screen, 'o').await;
    wait_vote_status(&screen, "open").await;
    tap(&phone, "left").await;
    wait_text(&screen, "[data-tally=\"left\"]", "1").await;

    // A good edit shows on both pages; the vote stays.
    save(&file, &story("Which way now?"));
    wait_text(&screen, "#presenter h1", "Which way now?").await;
    wait_text(&phone, "#audience h1", "Which way now?").await;
    wait_text(&screen, "[data-tally=\"left\"]", "1").await;

    // A broken edit: the banner names the file and line; the old story and
    // the vote stay.
    let broken = story("Which way, broken?").replace(
        "title = \"The left path\"",
        "title = \"The left path\"\nnext = \"nowhere\"",
    );
    let line = broken
        .lines()
        .position(|l| l.contains("nowhere"))
        .expect("the bad line")
        + 1;
    save(&file, &broken);
    let place = format!("talk.toml:{line}:");
    wait_text_contains(&screen, "#story-problems", &place).await;
    wait_text_contains(&screen, "#story-problems", "nowhere").await;
    wait_text(&screen, "#presenter h1", "Which way now?").await;
    wait_text(&phone, "#audience h1", "Which way now?").await;
    wait_text(&screen, "[data-tally=\"left\"]", "1").await;
    wait_js(
        &phone,
        "no banner for the audience",
        "return !document.getElementById('story-problems');",
    )
    .await;
    // The console shows it too.
    wait_js(
        &screen,
        "the banner on the console",
        &format!(
            "const x = new XMLHttpRequest(); x.open('GET', '/presenter/notes', false); x.send();
             return x.status === 200 && x.responseText.includes('story-problems') && x.responseText.includes('{place}');"
        ),
    )
    .await;

    // The fix loads, and the banner goes.
    save(&file, &story("Which way, fixed?"));
    wait_text(&screen, "#presenter h1", "Which way, fixed?").await;
    wait_js(
        &screen,
        "the banner gone",
        "return !document.getElementById('story-problems');",
    )
    .await;
    wait_text(&screen, "[data-tally=\"left\"]", "1").await;

    // An edit without the slide the run is on waits until the talk moves on.
    let without = story("Gone")
        .replace(
            "[slides.which-way]\ntitle = \"Gone\"",
            "[slides.which-way-2]\ntitle = \"Gone\"",
        )
        .replace("[slides.which-way.decision]", "[slides.which-way-2.decision]")
        .replace("next = \"which-way\"", "next = \"which-way-2\"");
    save(&file, &without);
    wait_text_contains(&screen, "#story-problems", "which-way").await;
    wait_text(&screen, "#presenter h1", "Which way, fixed?").await;
    press(&screen, 'c').await;
    wait_vote_status(&screen, "closed").await;
    press(&screen, fantoccini::key::Key::Enter.into()).await;
    wait_text(&screen, "#presenter h1", "The left path").await;
    wait_js(
        &screen,
        "the held edit loaded",
        "return !document.getElementById('story-problems');",
    )
    .await;
    wait_js(
        &screen,
        "the held edit served",
        "const x = new XMLHttpRequest(); x.open('GET', '/presenter/notes', false); x.send();
         return x.status === 200 && !x.responseText.includes('story-problems');",
    )
    .await;

    driver.close(phone).await;
    driver.close(screen).await;

    // The log has the check's message with its place.
    let stopped = Command::new("kill")
        .args(["-TERM", &served.0.id().to_string()])
        .status()
        .expect("kill runs");
    assert!(stopped.success());
    served.0.wait().expect("cyoa stops");
    let mut log = String::new();
    served
        .0
        .stderr
        .take()
        .expect("stderr")
        .read_to_string(&mut log)
        .expect("the log");
    assert!(log.contains(&place), "the log lacks {place}:\n{log}");
    assert!(log.contains("reloaded the story"), "{log}");
}
