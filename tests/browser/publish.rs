//! The story map overlay (key M), publishing the results (P) and the
//! explore mode (E) in headless Chromium, and the README's screenshot of
//! the story map (`story-map.png`, beside the other screenshots).

use cyoa::store::{VoteKind, Voter};
use cyoa::story::{Story, Then};
use fantoccini::key::Key;
use fantoccini::{Client, Locator};

use crate::app::TestApp;
use crate::driver::Driver;
use crate::page::{
    assert_not_reloaded, mark, open_presenter, press, tap, wait_js, wait_text, wait_text_contains, wait_vote_status,
};
use crate::{PHONE, SCREEN, audience, open_first_decision, presenter};

/// Every scenario of this file, in turn.
pub async fn scenarios(driver: &mut Driver) {
    key_m_shows_the_map_with_the_path_and_follows_the_talk(driver).await;
    the_results_page_shows_the_tally_once_the_presenter_publishes_it(driver).await;
    explore_mode_opens_a_branch_not_taken(driver).await;
}

/// Plays the first decision: the phone votes left, the vote closes, Enter
/// follows the winner.
async fn play_first_decision(screen: &Client, phone: &Client) {
    open_first_decision(screen).await;
    tap(phone, "left").await;
    wait_text(screen, "[data-tally=\"left\"]", "1").await;
    press(screen, 'c').await;
    wait_vote_status(screen, "closed").await;
    press(screen, Key::Enter.into()).await;
    wait_text(screen, "#presenter h1", "The left path").await;
}

/// Waits until the audience page shows (or hides) its link to `/{what}`,
/// and the links' box with it when it is the only one.
async fn wait_published_link(phone: &Client, what: &str, shown: bool) {
    let script = format!(
        "const a = document.querySelector('#published-links a[data-published-link=\"{what}\"]');
         if (!a) return false;
         const visible = !a.hidden && a.getBoundingClientRect().height > 0;
         return visible === {shown} && a.getAttribute('href') === '/{what}';"
    );
    let description = format!(
        "the audience page's link to /{what} {}",
        if shown { "shown" } else { "hidden" }
    );
    wait_js(phone, &description, &script).await;
}

async fn key_m_shows_the_map_with_the_path_and_follows_the_talk(driver: &mut Driver) {
    let app = TestApp::spawn().await;
    let screen = presenter(driver, &app).await;
    let phone = audience(driver, &app).await;
    mark(&screen).await;
    play_first_decision(&screen, &phone).await;

    press(&screen, 'm').await;
    wait_js(
        &screen,
        "the map overlay with the run's path",
        "const o = document.getElementById('map-overlay');
         if (!o || o.hidden || getComputedStyle(o).display === 'none') return false;
         const current = o.querySelector('svg .group.current');
         const taken = [...o.querySelectorAll('svg path.edge.taken')].map(p => p.dataset.from + '>' + p.dataset.to);
         return !!current && current.dataset.slides.includes('the-left-path')
           && taken.includes('which-way>the-left-path')
           && o.querySelector('.choice-label.taken .share').textContent === '100% (1)';",
    )
    .await;
    crate::axe::check(&screen, "presenter with the story map").await;
    // The talk moves on: the open map follows, by the live push alone.
    press(&screen, ' ').await;
    wait_text(&screen, "#presenter h1", "Stay or go?").await;
    wait_js(
        &screen,
        "the map to show the next slide as current",
        "const c = document.querySelector('#map-overlay svg .group.current');
         return !!c && c.dataset.slides.split(' ').includes('stay-or-go');",
    )
    .await;
    // M again (or Escape) hides it.
    press(&screen, 'm').await;
    wait_js(
        &screen,
        "the map overlay to hide",
        "return document.getElementById('map-overlay').hidden;",
    )
    .await;
    assert_not_reloaded(&screen, "presenter").await;
    driver.close(phone).await;
    driver.close(screen).await;
}

async fn the_results_page_shows_the_tally_once_the_presenter_publishes_it(driver: &mut Driver) {
    let app = TestApp::spawn().await;
    let screen = presenter(driver, &app).await;
    let phone = audience(driver, &app).await;
    play_first_decision(&screen, &phone).await;
    mark(&phone).await;
    wait_published_link(&phone, "results", false).await;

    let reader = driver.browser(PHONE.0, PHONE.1).await;
    reader.goto(&app.url("/results")).await.expect("the results page");
    wait_text(&reader, "#results h1", "Results are not published yet").await;
    crate::axe::check(&reader, "results page, not published").await;

    // P publishes: the waiting page turns into the results by itself.
    press(&screen, 'p').await;
    wait_text_contains(&screen, "#flash", "Results published").await;
    wait_text(&reader, "#results h1", "Results of run 1").await;
    wait_text(
        &reader,
        ".result[data-decision=\"which-way\"] .outcome",
        "Winner: Left · 1 votes",
    )
    .await;
    wait_text(&reader, ".path li[data-slide=\"which-way\"] .chose", "→ Left").await;
    crate::axe::check(&reader, "results page").await;
    driver.close(reader).await;

    // The audience page got its link by the live push alone, and loses it
    // when the presenter takes the results back (P again).
    wait_published_link(&phone, "results", true).await;
    wait_published_link(&phone, "explore", false).await;
    wait_text(
        &phone,
        "#published-links a[data-published-link=\"results\"]",
        "See the results",
    )
    .await;
    crate::axe::check(&phone, "audience page with the results link").await;
    press(&screen, 'p').await;
    wait_text_contains(&screen, "#flash", "Results hidden again").await;
    wait_published_link(&phone, "results", false).await;
    wait_js(
        &phone,
        "the links' box hidden with nothing in it",
        "return document.getElementById('published-links').hidden;",
    )
    .await;
    assert_not_reloaded(&phone, "audience").await;
    driver.close(phone).await;
    driver.close(screen).await;
}

async fn explore_mode_opens_a_branch_not_taken(driver: &mut Driver) {
    let app = TestApp::spawn().await;
    let screen = presenter(driver, &app).await;
    let phone = audience(driver, &app).await;
    play_first_decision(&screen, &phone).await;
    mark(&phone).await;

    let reader = driver.browser(SCREEN.0, SCREEN.1).await;
    reader.goto(&app.url("/explore")).await.expect("the explore page");
    wait_text(&reader, "#explore h1", "Exploring opens after the talk").await;
    crate::axe::check(&reader, "explore page, not open").await;
    press(&screen, 'e').await;
    wait_text(&reader, "#explore h1", "Explore the story").await;
    // The audience page offers exploring as soon as it opens.
    wait_published_link(&phone, "explore", true).await;
    wait_published_link(&phone, "results", false).await;
    crate::axe::check(&phone, "audience page with the explore link").await;
    assert_not_reloaded(&phone, "audience").await;

    // The right path was not taken: its box on the map is a link.
    wait_js(
        &reader,
        "the map with a link to the path not taken",
        "return !!document.querySelector('.map-frame a[href=\"/explore/the-right-path\"]');",
    )
    .await;
    crate::axe::check(&reader, "explore page").await;
    reader
        .find(Locator::Css(".map-frame a[href=\"/explore/the-right-path\"] text"))
        .await
        .expect("the box of the path not taken")
        .click()
        .await
        .expect("a click on the box");
    wait_text(&reader, "h1.slide-title", "The right path").await;
    wait_js(
        &reader,
        "no on-path mark on a branch not taken",
        "return !document.querySelector('[data-on-path]');",
    )
    .await;
    reader
        .find(Locator::Css(".explore-next a"))
        .await
        .expect("the next link")
        .click()
        .await
        .expect("a click on next");
    wait_text(&reader, "h1.slide-title", "Stay or go?").await;
    wait_js(
        &reader,
        "the decision's choices as links",
        "const links = [...document.querySelectorAll('.explore-choices a')].map(a => a.getAttribute('href'));
         return links.length === 2 && links.every(h => h === '/explore/the-end');",
    )
    .await;
    crate::axe::check(&reader, "explore page of a decision").await;
    driver.close(reader).await;
    driver.close(phone).await;
    driver.close(screen).await;
}

/// The README's picture of the story map: the bundled talk a few decisions
/// in, its path highlighted and the open vote's shares on its edges.
pub async fn map_screenshot(driver: &mut Driver) {
    let story = match Story::bundled() {
        Ok(loaded) => loaded.story,
        Err(problems) => panic!("the bundled story has problems: {problems:?}"),
    };
    let app = TestApp::spawn_story(story.clone(), None).await;
    let store = &app.store;
    let run = store.current(&story.start).await.expect("the run").run;
    // Walk the story: the second choice at the first decision, then the
    // first, and so on, with made-up votes; the fourth vote stays open.
    let mut path = vec![story.start.clone()];
    let mut decisions = 0;
    let mut slide = story.slide(&story.start).expect("the start slide");
    loop {
        let next = match &slide.then {
            Then::Next(to) => to.clone(),
            Then::Ending => break,
            Then::Decision(d) => {
                decisions += 1;
                store.show(run, &d.id, &path).await.expect("a move");
                store.open(run, &d.id).await.expect("an open vote");
                for (i, choice) in d.choices.iter().enumerate() {
                    let votes = 6 + 11 * ((i + decisions) % d.choices.len());
                    for n in 0..votes {
                        let voter = Voter::web(&format!("map-{}-{}-{n}", d.id, choice.id));
                        store
                            .vote(run, &d.id, &voter, &choice.id, VoteKind::Sticky)
                            .await
                            .expect("a vote");
                    }
                }
                if decisions == 4 {
                    break;
                }
                store.close(run, &d.id).await.expect("a closed vote");
                d.choices[(decisions + 1) % d.choices.len()].goto.clone()
            }
        };
        path.push(next.clone());
        slide = story.slide(&next).expect("the next slide");
    }

    let screen = driver.browser(1000, 2100).await;
    open_presenter(&screen, &app, "return !!document.getElementById('presenter');").await;
    press(&screen, 'm').await;
    wait_js(
        &screen,
        "the map in the overlay",
        "return !!document.querySelector('#map-overlay svg .group.current');",
    )
    .await;
    let svg = screen.find(Locator::Css("#map-overlay svg")).await.expect("the map");
    let png = svg.screenshot().await.expect("a screenshot of the map");
    assert!(png.len() > 20_000, "the map looks blank ({} bytes)", png.len());
    crate::page::save_screenshot("story-map.png", png);
    driver.close(screen).await;
}
