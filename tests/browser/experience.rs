//! The presenter's and the audience's experience: joining by QR code, the
//! live chart, results hidden until a vote closes, the story's theme (dark
//! and light, colours, logo, style sheet) at projector and phone sizes, and
//! accessibility (keyboard, live regions, axe-core on every page).

use std::path::PathBuf;
use std::time::Duration;

use fantoccini::Client;
use fantoccini::key::Key;
use futures_util::StreamExt;
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;

use cyoa::story::Story;

use crate::app::TestApp;
use crate::axe;
use crate::driver::Driver;
use crate::page::{self, js, mark, press, tap, wait_js, wait_pressed, wait_text, wait_vote_status};

/// A story with a join slide, one decision whose results are hidden (the
/// story's setting) and one that shows them live (its own).
const STORY: &str = r##"
title = "The experience test"
start = "join"

[settings]
results = "hidden"

[settings.theme]
accent = "#0a7d4f"
logo = "img/logo.svg"
css = "extra.css"

[slides.join]
title = "Join in"
body = "Scan the code, or type the address."
join = true
next = "pick"

[slides.pick]
title = "Pick one"
[slides.pick.decision]
prompt = "Cats or dogs?"
results = "live"
choices = [
  { id = "cats", label = "Cats", goto = "secret" },
  { id = "dogs", label = "Dogs", goto = "secret" },
  { id = "fish", label = "Fish", goto = "secret" },
]

[slides.secret]
title = "A secret ballot"
[slides.secret.decision]
prompt = "Tea or coffee?"
choices = [
  { id = "tea", label = "Tea", goto = "end" },
  { id = "coffee", label = "Coffee", goto = "end" },
]

[slides.end]
title = "The end"
"##;

const LOGO: &str = r##"<svg xmlns="http://www.w3.org/2000/svg" width="120" height="40" viewBox="0 0 120 40"><rect width="120" height="40" rx="8" fill="#0a7d4f"/></svg>"##;
const CSS: &str = ":root { --story-css: loaded; }\n";

const TWILIO_TOKEN: &str = "experience-test-twilio-token";
const SMS_NUMBER: &str = "+15005550006";

/// The story written to a fresh folder with its logo and style sheet, loaded
/// as `cyoa serve --story` loads it.
fn story_in_folder(toml: &str) -> (Story, PathBuf) {
    let dir = std::env::temp_dir().join(format!("cyoa-experience-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("img")).expect("a story folder");
    std::fs::write(dir.join("img/logo.svg"), LOGO).expect("the logo");
    std::fs::write(dir.join("extra.css"), CSS).expect("the style sheet");
    let path = dir.join("story.toml");
    std::fs::write(&path, toml).expect("the story");
    match Story::load(&path) {
        Ok(loaded) => (loaded.story, dir),
        Err(problems) => panic!("the experience story has problems: {problems:?}"),
    }
}

fn parsed(toml: &str) -> Story {
    match Story::parse("experience.toml", toml) {
        Ok(loaded) => loaded.story,
        Err(problems) => panic!("the story has problems: {problems:?}"),
    }
}

async fn login(driver: &mut Driver, app: &TestApp, size: (u32, u32), flags: &[&str]) -> Client {
    let client = driver.browser_with(size.0, size.1, flags).await;
    page::open_presenter(&client, app, "return !!document.querySelector('#presenter h1');").await;
    client
}

async fn phone(driver: &mut Driver, app: &TestApp, flags: &[&str]) -> Client {
    let client = driver.browser_with(360, 740, flags).await;
    client.goto(&app.url("/")).await.expect("the audience page");
    wait_js(
        &client,
        "the audience page",
        "return !!document.querySelector('#audience h1');",
    )
    .await;
    client
}

/// Whether `css`'s first element lies wholly inside the window.
async fn on_screen(client: &Client, css: &str) -> Value {
    js(
        client,
        "const e = document.querySelector(arguments[0]); if (!e) return 'missing';
         const r = e.getBoundingClientRect();
         return r.width > 0 && r.top >= 0 && r.left >= 0 && r.bottom <= innerHeight + 0.5 && r.right <= innerWidth + 0.5;",
        vec![json!(css)],
    )
    .await
}

async fn command(client: &Client, name: &str, body: Value) {
    let status = js(
        client,
        "const [path, body] = arguments;
         return fetch(path, { method: 'POST', body: JSON.stringify(body),
           headers: { 'Content-Type': 'application/json', 'X-Cyoa-Presenter': '1' } }).then(r => r.status);",
        vec![json!(format!("/api/presenter/{name}")), body],
    )
    .await;
    assert_eq!(status, json!(200), "the presenter command {name}");
}

/// A picture of the page into `target/screenshots/`, to look at.
async fn save_screenshot(client: &Client, name: &str) {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/screenshots");
    std::fs::create_dir_all(&dir).expect("the screenshot folder");
    let png = client.screenshot().await.expect("a screenshot");
    std::fs::write(dir.join(name), png).expect("writing a screenshot");
}

pub async fn run(driver: &mut Driver) {
    joining_by_qr_code_on_the_join_slide_and_every_decision_slide(driver).await;
    the_live_chart_grows_its_bars_and_tells_screen_readers(driver).await;
    hidden_results_show_only_the_total_until_the_vote_closes(driver).await;
    themes_follow_the_system_unless_the_story_sets_them(driver).await;
    results_and_explore_wear_the_storys_look(driver).await;
    error_pages_pass_axe(driver).await;
}

async fn joining_by_qr_code_on_the_join_slide_and_every_decision_slide(driver: &mut Driver) {
    let (story, dir) = story_in_folder(STORY);
    let app = TestApp::spawn_story_with_sms(story, TWILIO_TOKEN, SMS_NUMBER).await;
    let screen = login(driver, &app, (1280, 720), &[]).await;
    mark(&screen).await;

    // The join slide: a large QR code, the short URL and the number.
    wait_js(
        &screen,
        "the QR code drawn",
        "const q = document.querySelector('.join-slide img.qr'); return !!q && q.complete && q.naturalWidth > 0;",
    )
    .await;
    let short = app
        .url("/")
        .trim_start_matches("http://")
        .trim_end_matches('/')
        .to_string();
    wait_text(&screen, ".join-url", &short).await;
    page::wait_text_contains(&screen, ".join-panel [data-sms]", SMS_NUMBER).await;
    let share = js(
        &screen,
        "return document.querySelector('img.qr').getBoundingClientRect().height / innerHeight;",
        vec![],
    )
    .await;
    assert!(
        share.as_f64().unwrap_or(0.0) >= 0.55,
        "the join slide's QR code is {share} of the screen's height"
    );
    assert_eq!(
        on_screen(&screen, ".join-panel").await,
        json!(true),
        "the join panel fits the screen"
    );
    let alt = js(&screen, "return document.querySelector('img.qr').alt;", vec![]).await;
    assert_eq!(alt, json!(format!("QR code of {}", app.url("/"))));
    // The story's logo and style sheet, served from next to the story.
    wait_js(
        &screen,
        "the story's logo",
        "const l = document.querySelector('img.logo'); return !!l && l.complete && l.naturalWidth > 0;",
    )
    .await;
    let probe = js(
        &screen,
        "return getComputedStyle(document.documentElement).getPropertyValue('--story-css').trim();",
        vec![],
    )
    .await;
    assert_eq!(probe, json!("loaded"), "the story's style sheet applies");
    axe::check(&screen, "presenter join slide").await;
    save_screenshot(&screen, "join-slide.png").await;

    // The image route: the same QR code, for a story's own slides.
    let http = reqwest::Client::new();
    let r = http.get(app.url("/join.svg")).send().await.expect("GET /join.svg");
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], "image/svg+xml");
    let svg = r.text().await.expect("the SVG");
    assert_eq!(
        Some(svg),
        cyoa::web::join::qr_svg(&app.url("/")),
        "the QR code of the audience URL"
    );
    // Only the story's own files are served; nothing else in its folder.
    for (path, status) in [
        ("/story-assets/extra.css", 200),
        ("/story-assets/img/logo.svg", 200),
        ("/story-assets/story.toml", 404),
        ("/story-assets/%2e%2e/story.toml", 404),
        ("/story-assets/img/..%2f..%2fstory.toml", 404),
    ] {
        let r = http.get(app.url(path)).send().await.expect("a story asset");
        assert_eq!(r.status(), status, "{path}");
    }

    // A decision slide at 1920x1080 and at 1280x720: QR code, URL, SMS and
    // every bar on screen at once, the QR code a third of the height.
    press(&screen, Key::Right.into()).await;
    wait_text(&screen, "#presenter h1", "Pick one").await;
    press(&screen, 'o').await;
    wait_vote_status(&screen, "open").await;
    let big = login(driver, &app, (1920, 1080), &[]).await;
    for (client, size) in [(&screen, "1280x720"), (&big, "1920x1080")] {
        wait_js(
            client,
            "the QR code on the decision slide",
            "const q = document.querySelector('.with-join img.qr'); return !!q && q.complete && q.naturalWidth > 0;",
        )
        .await;
        let share = js(
            client,
            "return document.querySelector('img.qr').getBoundingClientRect().height / innerHeight;",
            vec![],
        )
        .await;
        assert!(
            share.as_f64().unwrap_or(0.0) >= 0.33,
            "the QR code is {share} of the height at {size}"
        );
        for part in [".join-panel", "li.choice:last-child .bar", ".total", "img.qr"] {
            assert_eq!(on_screen(client, part).await, json!(true), "{part} on screen at {size}");
        }
        page::wait_text_contains(client, ".join-panel [data-sms]", "1–3 or A–C").await;
    }
    axe::check(&big, "presenter decision slide (1920x1080)").await;
    page::assert_not_reloaded(&screen, "presenter").await;
    driver.close(big).await;
    driver.close(screen).await;
    let _ = std::fs::remove_dir_all(dir);
}

async fn the_live_chart_grows_its_bars_and_tells_screen_readers(driver: &mut Driver) {
    let app = TestApp::spawn_story(parsed(STORY), None).await;
    let screen = login(driver, &app, (1280, 720), &[]).await;
    command(&screen, "goto", json!({ "slide": "pick" })).await;
    command(&screen, "open", json!({})).await;
    wait_vote_status(&screen, "open").await;
    mark(&screen).await;
    let voter = phone(driver, &app, &[]).await;
    axe::check(&voter, "audience with an open vote").await;

    // By keyboard: Tab reaches the first choice, Enter votes.
    wait_js(
        &voter,
        "the ballot",
        "return !!document.querySelector('button[data-choice]');",
    )
    .await;
    js(
        &voter,
        "document.activeElement.blur(); window.focus(); return true;",
        vec![],
    )
    .await;
    press(&voter, Key::Tab.into()).await;
    wait_js(
        &voter,
        "a choice focused by Tab",
        "return !!document.activeElement && document.activeElement.dataset.choice === 'cats';",
    )
    .await;
    press(&voter, Key::Enter.into()).await;
    wait_pressed(&voter, "cats").await;
    page::wait_text_contains(&voter, "#announce", "Your vote: Cats").await;

    // Counts, shares and bars move; the bar grows by a CSS transition.
    wait_text(&screen, "[data-tally=\"cats\"]", "1").await;
    wait_text(&screen, "[data-percent=\"cats\"]", "100%").await;
    wait_text(&screen, "[data-percent=\"dogs\"]", "0%").await;
    let transition = js(
        &screen,
        "return getComputedStyle(document.querySelector('[data-bar=\"cats\"]')).transitionDuration;",
        vec![],
    )
    .await;
    assert_eq!(transition, json!("0.6s"), "the bars animate");
    wait_js(
        &screen,
        "the Cats bar at full width",
        "const b = document.querySelector('[data-bar=\"cats\"]');
         return b.getBoundingClientRect().width >= b.parentNode.getBoundingClientRect().width - 1;",
    )
    .await;
    // Readable from the back: large counts.
    let size = js(
        &screen,
        "return parseFloat(getComputedStyle(document.querySelector('[data-tally=\"cats\"]')).fontSize);",
        vec![],
    )
    .await;
    assert!(size.as_f64().unwrap_or(0.0) >= 28.0, "counts are {size} px at 1280x720");
    // Screen readers hear the tally through a polite live region.
    page::wait_text(&screen, "#tally-announce", "1 vote. Leading: Cats with 100%.").await;
    let live = js(
        &screen,
        "return document.getElementById('tally-announce').getAttribute('aria-live');",
        vec![],
    )
    .await;
    assert_eq!(live, json!("polite"));

    // A second voter: shares split, the bars follow.
    let second = phone(driver, &app, &[]).await;
    tap(&second, "dogs").await;
    wait_text(&screen, "[data-percent=\"cats\"]", "50%").await;
    wait_text(&screen, "[data-percent=\"dogs\"]", "50%").await;
    axe::check(&screen, "presenter with live bars").await;
    page::assert_not_reloaded(&screen, "presenter").await;

    // Closed: the audience sees the tally, shares included.
    press(&screen, 'c').await;
    wait_vote_status(&screen, "closed").await;
    wait_text(&voter, "#audience [data-percent=\"cats\"]", "50%").await;
    axe::check(&voter, "audience with a closed vote").await;
    save_screenshot(&voter, "audience-closed.png").await;
    axe::check(&screen, "presenter with a closed vote").await;

    // Reduced motion: no transition.
    let calm = login(driver, &app, (1280, 720), &["--force-prefers-reduced-motion"]).await;
    let seen = js(
        &calm,
        "return [matchMedia('(prefers-reduced-motion: reduce)').matches,
                 getComputedStyle(document.querySelector('[data-bar=\"cats\"]')).transitionDuration];",
        vec![],
    )
    .await;
    assert_eq!(seen, json!([true, "0s"]), "no animation for prefers-reduced-motion");
    driver.close(calm).await;
    driver.close(second).await;
    driver.close(voter).await;
    driver.close(screen).await;
}

/// An audience socket (with the voter cookie the audience page gives) that
/// collects every message until the decision's closing state.
async fn audience_socket_hears_no_counts(app: &TestApp) -> tokio::task::JoinHandle<Vec<Value>> {
    let page = reqwest::get(app.url("/")).await.expect("the audience page");
    let cookies: Vec<String> = page
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok()?.split(';').next().map(str::to_owned))
        .collect();
    let url = app.url("/ws").replacen("http://", "ws://", 1);
    let mut request = tokio_tungstenite::tungstenite::client::IntoClientRequest::into_client_request(url.as_str())
        .expect("a socket request");
    let origin = app.url("");
    request
        .headers_mut()
        .insert("origin", origin.trim_end_matches('/').parse().expect("an origin"));
    request
        .headers_mut()
        .insert("cookie", cookies.join("; ").parse().expect("a cookie header"));
    let (mut ws, _) = tokio_tungstenite::connect_async(request)
        .await
        .expect("the audience socket");
    tokio::spawn(async move {
        let mut seen = Vec::new();
        while let Ok(Some(Ok(message))) = tokio::time::timeout(Duration::from_secs(20), ws.next()).await {
            if let Message::Text(text) = message {
                let v: Value = serde_json::from_str(text.as_str()).expect("JSON");
                let closed = v["state"]["decision"]["status"] == "closed";
                seen.push(v);
                if closed {
                    break;
                }
            }
        }
        seen
    })
}

async fn hidden_results_show_only_the_total_until_the_vote_closes(driver: &mut Driver) {
    let app = TestApp::spawn_story(parsed(STORY), None).await;
    let screen = login(driver, &app, (1280, 720), &[]).await;
    command(&screen, "goto", json!({ "slide": "secret" })).await;
    command(&screen, "open", json!({})).await;
    wait_vote_status(&screen, "open").await;
    mark(&screen).await;
    let listening = audience_socket_hears_no_counts(&app).await;
    let voter = phone(driver, &app, &[]).await;
    tap(&voter, "coffee").await;
    wait_pressed(&voter, "coffee").await;
    let other = phone(driver, &app, &[]).await;
    tap(&other, "coffee").await;

    // The presenter sees votes arrive, but no count, bar or leader.
    wait_text(&screen, "[data-total]", "2").await;
    let shown = js(
        &screen,
        "return [document.querySelectorAll('[data-tally], [data-bar], [data-percent]').length,
                 !!document.querySelector('[data-hidden-note]'),
                 document.querySelector('[data-winner]').textContent.trim()];",
        vec![],
    )
    .await;
    assert_eq!(shown, json!([0, true, ""]), "no count while the results are hidden");
    axe::check(&screen, "presenter with hidden results").await;
    save_screenshot(&screen, "hidden-results.png").await;
    // Nor do the pages' JSON and HTML carry them.
    let state = app.state().await;
    assert_eq!(state["decision"]["hidden"], json!(true));
    assert_eq!(state["decision"]["total"], json!(2));
    assert!(
        state["decision"]["choices"]
            .as_array()
            .is_some_and(|cs| cs.iter().all(|c| c["votes"] == 0)),
        "{state}"
    );
    assert_eq!(state["decision"]["winner"], Value::Null);
    // Nor the story map on the projector (key M).
    let map = story_map(&screen).await;
    assert!(
        map.contains("<svg") && !map.contains("% ("),
        "the story map shows no share while the results are hidden: {map}"
    );

    // Closed: the counts appear everywhere.
    press(&screen, 'c').await;
    wait_vote_status(&screen, "closed").await;
    wait_text(&screen, "[data-tally=\"coffee\"]", "2").await;
    wait_text(&screen, "[data-percent=\"coffee\"]", "100%").await;
    page::wait_text_contains(&screen, "[data-winner]", "Coffee").await;
    wait_text(&voter, "#audience [data-tally=\"coffee\"]", "2").await;
    let map = story_map(&screen).await;
    assert!(
        map.contains("100% (2)"),
        "the story map shows the shares once closed: {map}"
    );
    page::assert_not_reloaded(&screen, "presenter").await;

    let heard = listening.await.expect("the socket reader");
    let mut counted = 0;
    for message in &heard {
        let decision = match message["type"].as_str() {
            Some("state") => &message["state"]["decision"],
            Some("tally") => message,
            _ => continue,
        };
        if message["type"] == "state" && decision["status"] == "closed" {
            continue;
        }
        if let Some(choices) = decision["choices"].as_array() {
            assert!(
                choices.iter().all(|c| c["votes"].as_u64().unwrap_or(0) == 0),
                "a count sent while hidden: {message}"
            );
        }
        assert_eq!(decision["winner"], Value::Null, "a leader sent while hidden: {message}");
        counted += 1;
    }
    assert!(counted > 0, "the socket heard the vote: {heard:?}");
    let last = heard.last().expect("the closing state");
    assert_eq!(
        last["state"]["decision"]["winner"],
        json!("coffee"),
        "the counts once closed"
    );
    driver.close(other).await;
    driver.close(voter).await;
    driver.close(screen).await;
}

/// The presenter's story map (`/presenter/map.svg`), as the overlay gets it.
async fn story_map(client: &Client) -> String {
    let map = client
        .execute_async(
            "const done = arguments[arguments.length - 1];
             fetch('/presenter/map.svg').then((r) => r.text()).then(done, (e) => done('failed: ' + e));",
            vec![],
        )
        .await
        .expect("the story map");
    map.as_str().unwrap_or_default().to_string()
}

async fn body_colour(client: &Client) -> Value {
    js(
        client,
        "return getComputedStyle(document.body).backgroundColor;",
        vec![],
    )
    .await
}

async fn themes_follow_the_system_unless_the_story_sets_them(driver: &mut Driver) {
    // No mode in the story: the system's dark preference wins.
    let app = TestApp::spawn_story(parsed(STORY), None).await;
    let dark_screen = login(driver, &app, (1280, 720), &["--force-dark-mode"]).await;
    let dark_phone = phone(driver, &app, &["--force-dark-mode"]).await;
    for client in [&dark_screen, &dark_phone] {
        let dark = js(
            client,
            "return matchMedia('(prefers-color-scheme: dark)').matches;",
            vec![],
        )
        .await;
        assert_eq!(dark, json!(true), "the browser prefers dark");
        assert_eq!(body_colour(client).await, json!("rgb(17, 18, 24)"), "the dark palette");
    }
    axe::check(&dark_screen, "presenter join slide, dark").await;
    axe::check(&dark_phone, "audience, dark").await;
    command(&dark_screen, "goto", json!({ "slide": "pick" })).await;
    command(&dark_screen, "open", json!({})).await;
    wait_vote_status(&dark_screen, "open").await;
    wait_js(
        &dark_phone,
        "the ballot",
        "return !!document.querySelector('button[data-choice]');",
    )
    .await;
    tap(&dark_phone, "fish").await;
    wait_text(&dark_screen, "[data-tally=\"fish\"]", "1").await;
    axe::check(&dark_screen, "presenter decision slide, dark").await;
    axe::check(&dark_phone, "audience ballot, dark").await;
    // The phone page fits 360 px: nothing wider than the screen.
    let width = js(&dark_phone, "return document.documentElement.scrollWidth;", vec![]).await;
    assert_eq!(width, json!(360), "the audience page is 360 px wide");
    driver.close(dark_phone).await;
    driver.close(dark_screen).await;

    // The story's own colours and mode beat the system's.
    let coloured = STORY.replace(
        "accent = \"#0a7d4f\"",
        "mode = \"light\"\naccent = \"#ffcc00\"\nbackground = \"#fdf6e3\"\ntext = \"#073642\"",
    );
    let app = TestApp::spawn_story(parsed(&coloured), None).await;
    let screen = login(driver, &app, (1280, 720), &["--force-dark-mode"]).await;
    let voter = phone(driver, &app, &["--force-dark-mode"]).await;
    for client in [&screen, &voter] {
        assert_eq!(
            body_colour(client).await,
            json!("rgb(253, 246, 227)"),
            "the story's background"
        );
        let text = js(client, "return getComputedStyle(document.body).color;", vec![]).await;
        assert_eq!(text, json!("rgb(7, 54, 66)"), "the story's text colour");
    }
    axe::check(&screen, "presenter in the story's colours").await;
    axe::check(&voter, "audience in the story's colours").await;
    driver.close(voter).await;
    driver.close(screen).await;
}

async fn results_and_explore_wear_the_storys_look(driver: &mut Driver) {
    // The story's mode, colours, logo and style sheet, as on the talk's pages.
    let looked = STORY.replace(
        "accent = \"#0a7d4f\"",
        "mode = \"light\"\naccent = \"#ffcc00\"\nbackground = \"#fdf6e3\"\ntext = \"#073642\"",
    );
    let (story, dir) = story_in_folder(&looked);
    let app = TestApp::spawn_story(story, None).await;
    let screen = login(driver, &app, (1280, 720), &[]).await;
    let reader = driver.browser_with(360, 740, &["--force-dark-mode"]).await;
    for (path, published, heading) in [
        ("/results", false, "#results h1"),
        ("/explore", false, "#explore h1"),
        ("/results", true, "#results h1"),
        ("/explore", true, "#explore h1"),
        ("/explore/pick", true, "#explore h1"),
    ] {
        if published {
            command(&screen, "results", json!({ "published": true })).await;
            command(&screen, "explore", json!({ "published": true })).await;
        }
        reader.goto(&app.url(path)).await.expect("a page after the talk");
        wait_js(
            &reader,
            heading,
            &format!("return !!document.querySelector('{heading}');"),
        )
        .await;
        wait_js(
            &reader,
            "the story's logo",
            "const l = document.querySelector('img.logo'); return !!l && l.complete && l.naturalWidth > 0;",
        )
        .await;
        let probe = js(
            &reader,
            "return getComputedStyle(document.documentElement).getPropertyValue('--story-css').trim();",
            vec![],
        )
        .await;
        assert_eq!(probe, json!("loaded"), "{path}: the story's style sheet applies");
        assert_eq!(
            body_colour(&reader).await,
            json!("rgb(253, 246, 227)"),
            "{path}: the story's background beats the system's dark mode"
        );
        let what = format!(
            "{path} in the story's look{}",
            if published { "" } else { ", not published" }
        );
        axe::check(&reader, &what).await;
    }
    driver.close(reader).await;
    driver.close(screen).await;
    let _ = std::fs::remove_dir_all(dir);
}

async fn error_pages_pass_axe(driver: &mut Driver) {
    let app = TestApp::spawn_story(parsed(STORY), None).await;
    let client = driver.browser(360, 740).await;
    for (path, what) in [
        ("/no-such-page", "404 page"),
        ("/presenter", "presenter login needed"),
        ("/vote/no-such-vote", "unknown vote"),
    ] {
        client.goto(&app.url(path)).await.expect("an error page");
        wait_js(&client, what, "return !!document.getElementById('error');").await;
        axe::check(&client, what).await;
    }
    // The pinned audience page of a decision not open yet.
    client.goto(&app.url("/vote/pick")).await.expect("a pinned page");
    wait_js(
        &client,
        "the pinned page",
        "return !!document.getElementById('audience');",
    )
    .await;
    axe::check(&client, "pinned audience page").await;
    driver.close(client).await;
}
