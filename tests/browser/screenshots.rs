//! The README's screenshots: the presenter view at 1280x720 and the audience
//! page on a 360x740 phone, at the story's first decision with some votes.
//! Taken in every run of the browser suite (so a page that no longer renders
//! at these sizes fails it), into `target/screenshots/`, or into the folder
//! named by `CYOA_SCREENSHOT_DIR` (`scripts/screenshots.sh` names `docs/img`).

use std::path::PathBuf;

use cyoa::store::{VoteKind, Voter};
use cyoa::story::{Decision, Story, Then};
use serde_json::json;

use crate::app::TestApp;
use crate::driver::Driver;
use crate::page::{js, open_presenter, screenshot, tap, wait_js, wait_pressed, wait_text, wait_vote_status};

/// Votes already cast when the screenshots are taken, per choice in story
/// order (the phone adds one more to the first choice).
const VOTES: [u64; 4] = [17, 24, 9, 6];

/// The audience URL the presenter view shows.
const PUBLIC_URL: &str = "http://talk.example.org";

/// The first decision on the way from the story's start.
fn first_decision(story: &Story) -> Option<Decision> {
    let mut slide = story.slide(&story.start)?;
    for _ in 0..story.slides.len() {
        match &slide.then {
            Then::Decision(d) => return Some(d.clone()),
            Then::Next(next) => slide = story.slide(next)?,
            Then::Ending => return None,
        }
    }
    None
}

pub async fn take(driver: &mut Driver) {
    let story = match std::env::var_os("CYOA_STORY") {
        Some(path) => Story::load(&PathBuf::from(path)),
        None => Story::bundled(),
    };
    let story = match story {
        Ok(loaded) => loaded.story,
        Err(problems) => panic!("the story has problems: {problems:?}"),
    };
    let decision = match std::env::var("CYOA_SCREENSHOT_DECISION") {
        Ok(id) => story.decision(&id).cloned(),
        Err(_) => first_decision(&story),
    };
    let decision = decision.expect("the story has the decision to show");
    let app = TestApp::spawn_story(story.clone(), Some(PUBLIC_URL)).await;

    let screen = driver.browser(1280, 720).await;
    open_presenter(&screen, &app, "return !!document.getElementById('presenter');").await;
    let control = "const [path, body] = arguments;
        return fetch(path, { method: 'POST', body: JSON.stringify(body),
          headers: { 'Content-Type': 'application/json', 'X-Cyoa-Presenter': '1' } }).then(r => r.status);";
    let status = js(
        &screen,
        control,
        vec![json!("/api/presenter/goto"), json!({ "slide": decision.id })],
    )
    .await;
    assert_eq!(status, json!(200), "goto the decision's slide");
    let status = js(&screen, control, vec![json!("/api/presenter/open"), json!({})]).await;
    assert_eq!(status, json!(200), "open the vote");
    wait_vote_status(&screen, "open").await;

    let state = app.store.current(&story.start).await.expect("the run");
    for (choice, &votes) in decision.choices.iter().zip(VOTES.iter()) {
        for n in 0..votes {
            let voter = Voter::web(&format!("screenshot-{}-{n}", choice.id));
            app.store
                .vote(state.run, &decision.id, &voter, &choice.id, VoteKind::Sticky)
                .await
                .expect("a vote");
        }
    }

    let phone = driver.browser(360, 740).await;
    phone.goto(&app.url("/")).await.expect("the audience page");
    let first = &decision.choices[0].id;
    tap(&phone, first).await;
    wait_pressed(&phone, first).await;
    let expected = (VOTES[0] + 1).to_string();
    wait_text(&screen, &format!("[data-tally=\"{first}\"]"), &expected).await;
    // Let the bars' transition finish and the announcement settle.
    wait_js(
        &phone,
        "a quiet audience page",
        "return document.getAnimations().length === 0;",
    )
    .await;
    wait_js(
        &screen,
        "a quiet presenter view",
        "return document.getAnimations().length === 0;",
    )
    .await;

    // Everything of the decision fits the projector: the last line, the
    // leading choice, and the join panel's QR code and URL.
    for part in ["[data-winner]", "li.choice:last-child .bar", ".join-url", "img.qr"] {
        let seen = js(
            &screen,
            "const e = document.querySelector(arguments[0]); if (!e) return 'missing';
             const r = e.getBoundingClientRect();
             return r.height > 0 && r.top >= 0 && r.bottom <= innerHeight + 0.5 && r.right <= innerWidth + 0.5;",
            vec![json!(part)],
        )
        .await;
        assert_eq!(seen, json!(true), "{part} on the presenter's screen");
    }

    for (client, name) in [(&screen, "presenter.png"), (&phone, "audience-phone.png")] {
        screenshot(client, name).await;
    }

    driver.close(phone).await;
    driver.close(screen).await;
}
