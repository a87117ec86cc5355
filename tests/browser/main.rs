//! cyoa in headless Chromium: the audience page and the presenter view
//! talking to a real server over real sockets.
//!
//! One chromedriver serves the whole binary, so every scenario runs inside
//! one test, in turn; each scenario gets a fresh server and fresh browsers
//! (separate cookies, i.e. separate voters). Waits poll the DOM with a
//! deadline; nothing sleeps for a fixed time.

mod app;
mod axe;
mod budget;
mod console;
mod cross_site;
mod deck;
mod driver;
mod experience;
mod fit;
mod image_slide;
mod languages;
mod page;
mod publish;
mod room;
mod runs;
mod screenshots;
mod store_lost;
#[path = "../support/mod.rs"]
mod support;
mod timer;
mod watch;

use std::time::{Duration, Instant};

use fantoccini::Client;
use fantoccini::key::Key;

use app::TestApp;
use driver::Driver;
use page::{
    assert_not_reloaded, mark, press, tap, wait_js, wait_pressed, wait_text, wait_text_contains, wait_vote_status,
};

/// A phone held upright.
const PHONE: (u32, u32) = (360, 740);
/// A projector.
const SCREEN: (u32, u32) = (1280, 720);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn audience_and_presenter_in_headless_chromium() {
    let mut driver = Driver::start();
    tally_follows_taps_and_withdraws_when_the_page_closes(&mut driver).await;
    two_tabs_of_one_voter_count_once(&mut driver).await;
    the_audience_page_follows_the_presenter_to_the_next_decision(&mut driver).await;
    both_pages_reconnect_by_themselves_when_the_server_comes_back(&mut driver).await;
    sms_and_web_votes_add_up_on_the_presenters_tally(&mut driver).await;
    cross_site::another_site_cannot_vote_for_a_visitor(&mut driver).await;
    publish::scenarios(&mut driver).await;
    room::scenario(&mut driver).await;
    image_slide::scenario(&mut driver).await;
    experience::run(&mut driver).await;
    fit::every_slide_fits(&mut driver).await;
    screenshots::take(&mut driver).await;
    publish::map_screenshot(&mut driver).await;
}

/// Logs a presenter in and waits for the presenter view.
async fn presenter(driver: &mut Driver, app: &TestApp) -> Client {
    let client = crate::page::presenter_screen(driver, app).await;
    wait_text(&client, "#presenter h1", "Welcome").await;
    client
}

/// Opens the audience page in a new browser (a new voter).
async fn audience(driver: &mut Driver, app: &TestApp) -> Client {
    let client = driver.browser(PHONE.0, PHONE.1).await;
    client.goto(&app.url("/")).await.expect("the audience page");
    wait_text(&client, "#audience h1", "Welcome").await;
    client
}

/// From the first slide, keys the presenter to the first decision and opens it.
async fn open_first_decision(presenter: &Client) {
    press(presenter, Key::Right.into()).await;
    wait_text(presenter, "#presenter h1", "Which way?").await;
    press(presenter, 'o').await;
    wait_vote_status(presenter, "open").await;
}

async fn tally_follows_taps_and_withdraws_when_the_page_closes(driver: &mut Driver) {
    let app = TestApp::spawn().await;
    let screen = presenter(driver, &app).await;
    let phone = audience(driver, &app).await;
    mark(&screen).await;
    mark(&phone).await;
    // The story's accent colour, with dark text on this light yellow.
    let accent = page::js(
        &phone,
        "const s = getComputedStyle(document.documentElement);
         return s.getPropertyValue('--accent').trim() + ' ' + s.getPropertyValue('--accent-fg').trim();",
        vec![],
    )
    .await;
    assert_eq!(
        accent,
        serde_json::json!("#ffcc00 #10111a"),
        "the story's accent on the audience page"
    );
    open_first_decision(&screen).await;

    // A tap moves the presenter's tally, with no reload on either side.
    tap(&phone, "left").await;
    wait_pressed(&phone, "left").await;
    wait_text(&screen, "[data-tally=\"left\"]", "1").await;
    wait_text(&screen, "[data-total]", "1").await;
    assert_not_reloaded(&phone, "audience").await;

    // Changing the vote moves it.
    tap(&phone, "right").await;
    wait_pressed(&phone, "right").await;
    wait_text(&screen, "[data-tally=\"right\"]", "1").await;
    wait_text(&screen, "[data-tally=\"left\"]", "0").await;
    wait_text(&screen, "[data-total]", "1").await;
    assert_not_reloaded(&phone, "audience").await;
    assert_not_reloaded(&screen, "presenter").await;

    // Closing the page withdraws the vote, but only after the grace.
    let closed_at = Instant::now();
    driver.close(phone).await;
    wait_text(&screen, "[data-tally=\"right\"]", "0").await;
    let after = closed_at.elapsed();
    assert!(
        after >= app::GRACE - Duration::from_millis(100),
        "the vote went {after:?} after its page closed, before the grace of {:?}",
        app::GRACE
    );
    wait_text(&screen, "[data-total]", "0").await;
    driver.close(screen).await;
}

async fn two_tabs_of_one_voter_count_once(driver: &mut Driver) {
    let app = TestApp::spawn().await;
    let screen = presenter(driver, &app).await;
    let phone = audience(driver, &app).await;
    open_first_decision(&screen).await;

    let first = phone.window().await.expect("the first tab");
    let second = phone.new_window(true).await.expect("a second tab").handle;
    phone.switch_to_window(second.clone()).await.expect("to the second tab");
    phone
        .goto(&app.url("/"))
        .await
        .expect("the audience page in the second tab");

    tap(&phone, "left").await;
    wait_text(&screen, "[data-tally=\"left\"]", "1").await;
    phone
        .switch_to_window(first.clone())
        .await
        .expect("back to the first tab");
    tap(&phone, "left").await;
    wait_pressed(&phone, "left").await;
    wait_text(&screen, "[data-total]", "1").await;

    // One tab closed, one still open: the vote stays past the grace.
    phone.close_window().await.expect("closing the first tab");
    phone.switch_to_window(second).await.expect("to the second tab");
    let until = Instant::now() + app::GRACE + Duration::from_millis(500);
    while Instant::now() < until {
        let left = page::text(&screen, "[data-tally=\"left\"]").await;
        assert_eq!(left.as_deref(), Some("1"), "the vote must count while one tab is open");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    // The last tab closed: the vote goes.
    driver.close(phone).await;
    wait_text(&screen, "[data-tally=\"left\"]", "0").await;
    driver.close(screen).await;
}

async fn the_audience_page_follows_the_presenter_to_the_next_decision(driver: &mut Driver) {
    let app = TestApp::spawn().await;
    let screen = presenter(driver, &app).await;
    let phone = audience(driver, &app).await;
    mark(&phone).await;
    open_first_decision(&screen).await;

    tap(&phone, "right").await;
    wait_text(&screen, "[data-tally=\"right\"]", "1").await;

    // Closed: the audience sees the result.
    press(&screen, 'c').await;
    wait_vote_status(&screen, "closed").await;
    wait_text_contains(&phone, "#audience [data-winner]", "Right").await;

    // The presenter follows the winner, then moves on to the next decision.
    press(&screen, Key::Enter.into()).await;
    wait_text(&screen, "#presenter h1", "The right path").await;
    wait_text(&phone, "#audience h1", "The right path").await;
    press(&screen, ' ').await;
    wait_text(&screen, "#presenter h1", "Stay or go?").await;
    press(&screen, 'o').await;

    // The audience page got there by itself, with fresh, unpressed buttons.
    wait_text(&phone, "#audience h1", "Stay or go?").await;
    tap(&phone, "go").await;
    wait_pressed(&phone, "go").await;
    wait_text(&screen, "[data-tally=\"go\"]", "1").await;
    wait_text(&screen, "[data-tally=\"stay\"]", "0").await;
    assert_not_reloaded(&phone, "audience").await;

    // A refused command shows the server's reason on the presenter view.
    press(&screen, Key::Enter.into()).await;
    wait_text_contains(&screen, "#flash", "still open").await;

    // A number follows that choice (closing the vote); Left goes back.
    press(&screen, '1').await;
    wait_text(&screen, "#presenter h1", "The end").await;
    wait_text(&phone, "#audience h1", "The end").await;
    press(&screen, Key::Left.into()).await;
    wait_text(&screen, "#presenter h1", "Stay or go?").await;

    // R asks first, then starts a new run from the first slide.
    press(&screen, 'r').await;
    screen.accept_alert().await.expect("the new-run confirmation");
    wait_text(&screen, "#presenter h1", "Welcome").await;
    wait_text(&phone, "#audience h1", "Welcome").await;
    page::wait_js(
        &screen,
        "the presenter view on run 2",
        "return document.getElementById('presenter').dataset.run === '2';",
    )
    .await;
    assert_not_reloaded(&phone, "audience").await;

    driver.close(phone).await;
    driver.close(screen).await;
}

async fn both_pages_reconnect_by_themselves_when_the_server_comes_back(driver: &mut Driver) {
    let mut app = TestApp::spawn().await;
    let screen = presenter(driver, &app).await;
    let phone = audience(driver, &app).await;
    mark(&phone).await;
    mark(&screen).await;
    open_first_decision(&screen).await;

    app.stop().await;
    page::wait_js(
        &phone,
        "the audience page to say it is reconnecting",
        "const c = document.getElementById('connection'); return !!c && !c.hidden;",
    )
    .await;
    app.restart().await;
    page::wait_js(
        &phone,
        "the audience page to reconnect",
        "const c = document.getElementById('connection'); return !!c && c.hidden;",
    )
    .await;

    // Back on the socket: a tap still moves the presenter's tally.
    tap(&phone, "left").await;
    wait_pressed(&phone, "left").await;
    wait_text(&screen, "[data-tally=\"left\"]", "1").await;
    assert_not_reloaded(&phone, "audience").await;
    assert_not_reloaded(&screen, "presenter").await;

    driver.close(phone).await;
    driver.close(screen).await;
}

/// Twilio's auth token and number in the SMS scenario.
const TWILIO_TOKEN: &str = "browser-test-twilio-token";
const SMS_NUMBER: &str = "+15005550006";

/// Posts a text to `/sms`, signed as Twilio signs it.
async fn text_message(app: &TestApp, from: &str, body: &str, sid: &str) {
    let url = app.url("/sms");
    let params: Vec<(String, String)> = [("From", from), ("To", SMS_NUMBER), ("Body", body), ("MessageSid", sid)]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let signature = cyoa::sms::signature::compute(TWILIO_TOKEN.as_bytes(), &url, &params);
    let mut form = form_urlencoded::Serializer::new(String::new());
    for (k, v) in &params {
        form.append_pair(k, v);
    }
    let r = reqwest::Client::new()
        .post(&url)
        .header("content-type", "application/x-www-form-urlencoded")
        .header(cyoa::sms::signature::HEADER, signature)
        .body(form.finish())
        .send()
        .await
        .expect("the server answers the webhook");
    assert_eq!(r.status(), reqwest::StatusCode::OK, "the text is taken");
}

async fn sms_and_web_votes_add_up_on_the_presenters_tally(driver: &mut Driver) {
    let app = TestApp::spawn_with_sms(TWILIO_TOKEN, SMS_NUMBER).await;
    let screen = presenter(driver, &app).await;
    let phone = audience(driver, &app).await;
    mark(&screen).await;
    mark(&phone).await;
    open_first_decision(&screen).await;

    // Both pages say what to text, the audience page drawn by its script.
    wait_text_contains(&screen, "[data-sms]", SMS_NUMBER).await;
    wait_text_contains(&screen, "[data-sms]", "1–2 or A–B").await;
    wait_text(&phone, "[data-sms]", &format!("Or text 1–2 or A–B to {SMS_NUMBER}")).await;

    tap(&phone, "left").await;
    wait_pressed(&phone, "left").await;
    text_message(&app, "+14155550101", "B", "SM00000000000000000000000000000001").await;
    text_message(&app, "+14155550102", "left!", "SM00000000000000000000000000000002").await;
    wait_text(&screen, "[data-tally=\"left\"]", "2").await;
    wait_text(&screen, "[data-tally=\"right\"]", "1").await;
    wait_text(&screen, "[data-total]", "3").await;

    // A phone moving its vote moves the bar; the web vote stays.
    text_message(&app, "+14155550102", "2", "SM00000000000000000000000000000003").await;
    wait_text(&screen, "[data-tally=\"right\"]", "2").await;
    wait_text(&screen, "[data-tally=\"left\"]", "1").await;
    wait_text(&screen, "[data-total]", "3").await;
    assert_not_reloaded(&screen, "presenter").await;
    assert_not_reloaded(&phone, "audience").await;

    // Closed: the line goes from the audience page.
    press(&screen, 'c').await;
    wait_vote_status(&screen, "closed").await;
    wait_js(
        &phone,
        "no SMS line once closed",
        "return !document.querySelector('[data-sms]');",
    )
    .await;
    driver.close(phone).await;
    driver.close(screen).await;
}
