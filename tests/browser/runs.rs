//! Runs compared across talks in headless Chromium: the presenter names
//! the current run on the console, and `/results` shows both published
//! runs side by side, by their names, checked with axe-core.

use cyoa::store::{Publication, RunId, VoteKind, Voter};
use fantoccini::Locator;

use crate::PHONE;
use crate::app::TestApp;
use crate::driver::Driver;
use crate::page::{click, js, press, wait_js, wait_text, wait_text_contains};

/// Plays `run` through the first decision in the store: `left` and
/// `right` votes, then on along `way`; publishes its results.
async fn play(app: &TestApp, run: RunId, left: usize, right: usize, way: &str) {
    let store = &app.store;
    let at = |path: &[&str]| path.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    store
        .show(run, "which-way", &at(&["welcome", "which-way"]))
        .await
        .expect("the decision");
    store.open(run, "which-way").await.expect("the vote opens");
    for (choice, n) in [("left", left), ("right", right)] {
        for i in 0..n {
            let voter = Voter::web(&format!("r{run}-{choice}-{i}"));
            store
                .vote(run, "which-way", &voter, choice, VoteKind::Sticky)
                .await
                .expect("a vote");
        }
    }
    store.close(run, "which-way").await.expect("the vote closes");
    let slide = format!("the-{way}-path");
    store
        .show(run, &slide, &at(&["welcome", "which-way", &slide]))
        .await
        .expect("the branch");
    store
        .set_published(run, Publication::Results, true)
        .await
        .expect("published");
}

async fn run_label(app: &TestApp, run: RunId) -> Option<String> {
    app.store.run(run).await.expect("the store").and_then(|r| r.state.label)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn labelled_runs_are_compared_on_the_results_page() {
    let mut driver = Driver::start();
    let app = TestApp::spawn().await;
    let first = app.store.current("welcome").await.expect("run 1").run;
    play(&app, first, 3, 1, "left").await;
    app.store.set_label(first, "PyCon 2027").await.expect("a label");
    let second = app.store.new_run("welcome").await.expect("run 2").run;
    play(&app, second, 1, 1, "right").await;

    // The presenter names the current run on the console.
    let console = crate::page::presenter_screen(&mut driver, &app).await;
    console.goto(&app.url("/presenter/notes")).await.expect("the console");
    wait_text(&console, ".console-now h1", "The right path").await;
    let field = console
        .find(Locator::Css("#run-label"))
        .await
        .expect("the run's name field");
    field.send_keys("Draft").await.expect("a name is typed");
    click(&console, ".run-label button[type=submit]").await;
    wait_text_contains(&console, "#flash", "is named").await;
    wait_text(&console, ".run-label-shown", "· Draft").await;
    crate::axe::check(&console, "console with the run's name").await;
    assert_eq!(run_label(&app, second).await.as_deref(), Some("Draft"));

    // N on the presenter view asks for the name (the prompt answered here).
    let screen = crate::page::presenter_screen(&mut driver, &app).await;
    wait_text(&screen, "#presenter h1", "The right path").await;
    js(
        &screen,
        "window.prompt = () => 'Berlin <i>& co</i>'; return true;",
        vec![],
    )
    .await;
    press(&screen, 'n').await;
    wait_text_contains(&screen, "#flash", "is named").await;
    assert_eq!(run_label(&app, second).await.as_deref(), Some("Berlin <i>& co</i>"));
    driver.close(screen).await;
    // The console still open shows the new name at once, as text.
    wait_text(&console, ".run-label-shown", "· Berlin <i>& co</i>").await;
    wait_js(
        &console,
        "the name field follows",
        "return document.querySelector('#run-label').value === 'Berlin <i>& co</i>';",
    )
    .await;
    driver.close(console).await;

    // Anyone reads both runs side by side, by name, escaped.
    let reader = driver.browser(PHONE.0, PHONE.1).await;
    reader.goto(&app.url("/results")).await.expect("the results page");
    wait_text(&reader, "#compare-title", "Every published run").await;
    let names = js(
        &reader,
        "return [...document.querySelectorAll('.compare-table[data-decision=\"which-way\"] tbody th')].map(th => th.textContent);",
        vec![],
    )
    .await;
    assert_eq!(names, serde_json::json!(["PyCon 2027", "Berlin <i>& co</i>"]));
    wait_js(
        &reader,
        "no markup from a run's name",
        "return !document.querySelector('.compare i');",
    )
    .await;
    let cells = js(
        &reader,
        "return [...document.querySelectorAll('.compare-table[data-decision=\"which-way\"] tr[data-run] td')].map(td => td.textContent.trim());",
        vec![],
    )
    .await;
    assert_eq!(
        cells,
        serde_json::json!([
            "75% 75% (3) (went this way)",
            "25% 25% (1)",
            "4",
            "50% 50% (1)",
            "50% 50% (1) (went this way)",
            "2"
        ])
    );
    wait_text(
        &reader,
        ".run-paths li[data-run=\"1\"] .run-path",
        "Welcome → Which way? → The left path",
    )
    .await;
    crate::axe::check(&reader, "results page comparing two runs").await;
    if let Ok(path) = std::env::var("CYOA_RUNS_SHOT") {
        js(
            &reader,
            "document.querySelector('.compare').scrollIntoView(); return true;",
            vec![],
        )
        .await;
        let png = reader.screenshot().await.expect("a screenshot");
        std::fs::write(path, png).expect("the screenshot is written");
    }
    driver.close(reader).await;

    // The presenter takes run 1 back from the audience, and publishes it
    // again, from the list of runs on /results, though run 2 is current.
    let screen = crate::page::presenter_screen(&mut driver, &app).await;
    screen.goto(&app.url("/results")).await.expect("the results page");
    wait_text(&screen, "#runs-title", "Your runs").await;
    let switch = "[data-publish-run=\"1\"]";
    wait_js(
        &screen,
        "run 1 shows as published",
        &format!("return document.querySelector('{switch}').getAttribute('aria-pressed') === 'true';"),
    )
    .await;
    crate::axe::check(&screen, "results page with the presenter's runs").await;
    for (on, compared) in [(false, "false"), (true, "true")] {
        click(&screen, switch).await;
        wait_js(
            &screen,
            "the page shows the new state",
            &format!(
                "return document.querySelector('{switch}').getAttribute('aria-pressed') === '{on}' \
                 && !!document.querySelector('#compare-title') === {compared};"
            ),
        )
        .await;
        let published = app
            .store
            .run(first)
            .await
            .expect("the store")
            .map(|r| r.state.published.results);
        assert_eq!(published, Some(on));
    }
    driver.close(screen).await;
}
