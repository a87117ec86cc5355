//! The room code in headless Chromium: the join panel shows it, a phone
//! that types it (lower case, with a space) and a phone that opens the QR
//! code's URL both vote, axe-core finds nothing serious on the join page,
//! and a new run shows a new code while the phones ask for it.

use fantoccini::key::Key;
use fantoccini::{Client, Locator};
use serde_json::json;

use cyoa::story::Story;

use crate::PHONE;
use crate::app::TestApp;
use crate::axe;
use crate::driver::Driver;
use crate::page::{js, press, tap, text, wait_for, wait_js, wait_text, wait_text_contains, wait_vote_status};

/// A join slide, then one decision; joining needs the room code.
const STORY: &str = r##"
title = "The room code test"
start = "join"

[settings]
room_code = true

[slides.join]
title = "Join in"
join = true
next = "pick"

[slides.pick]
title = "Pick one"
[slides.pick.decision]
prompt = "Cats or dogs?"
choices = [
  { id = "cats", label = "Cats", goto = "end" },
  { id = "dogs", label = "Dogs", goto = "end" },
]

[slides.end]
title = "The end"
"##;

/// Types `code` into the join page's field and sends the form.
async fn type_code(phone: &Client, code: &str) {
    let field = phone
        .find(Locator::Css("#room-code"))
        .await
        .expect("the join page's code field");
    field.clear().await.expect("the field clears");
    field.send_keys(code).await.expect("the code is typed");
    phone
        .find(Locator::Css("#room form button"))
        .await
        .expect("the join button")
        .click()
        .await
        .expect("the join button clicks");
}

/// The page's address, once it is `url` (after the redirect that drops
/// the code).
async fn wait_url(client: &Client, url: &str) {
    wait_for(&format!("the address {url}"), || async {
        let now = client.current_url().await.map(|u| u.to_string()).unwrap_or_default();
        ((now == url).then_some(()), now)
    })
    .await
}

pub async fn scenario(driver: &mut Driver) {
    let story = Story::parse("room-code-test.toml", STORY)
        .expect("the test story checks")
        .story;
    let app = TestApp::spawn_story(story, None).await;
    let screen = crate::page::presenter_screen(driver, &app).await;
    wait_text(&screen, "#presenter h1", "Join in").await;

    // The join slide shows the code, and the QR code's link carries it.
    let code = text(&screen, ".join-panel [data-room-code]")
        .await
        .expect("the code on the join panel");
    assert_eq!(code.chars().count(), 5, "{code}");
    let qr_url = app.url(&format!("/?code={code}"));
    assert_eq!(
        js(
            &screen,
            "return document.querySelector('.join-panel a.audience-url').href;",
            vec![]
        )
        .await,
        json!(qr_url)
    );
    wait_js(
        &screen,
        "the QR code drawn",
        "const qr = document.querySelector('.join-panel img.qr'); return qr.complete && qr.naturalWidth > 0;",
    )
    .await;

    // A phone that types: the join page, a wrong code, then the right one
    // in lower case with a space.
    let typist = driver.browser(PHONE.0, PHONE.1).await;
    typist.goto(&app.url("/")).await.expect("the audience URL");
    wait_js(
        &typist,
        "the join page",
        "return !!document.querySelector('#room form');",
    )
    .await;
    axe::check(&typist, "join page").await;
    let wrong: String = std::iter::once(if code.starts_with('A') { 'B' } else { 'A' })
        .chain(code.chars().skip(1))
        .collect();
    type_code(&typist, &wrong).await;
    wait_text_contains(&typist, "#room-problem", "not right").await;
    axe::check(&typist, "join page after a wrong code").await;
    let typed = format!("{} {}", code[..2].to_lowercase(), code[2..].to_lowercase());
    type_code(&typist, &typed).await;
    wait_text(&typist, "#audience h1", "Join in").await;
    wait_url(&typist, &app.url("/")).await;

    // A phone that scans: the QR code's URL opens the audience page, and
    // the code leaves the address bar.
    let scanner = driver.browser(PHONE.0, PHONE.1).await;
    scanner.goto(&qr_url).await.expect("the QR code's URL");
    wait_text(&scanner, "#audience h1", "Join in").await;
    wait_url(&scanner, &app.url("/")).await;

    // Both vote; the projector counts two.
    press(&screen, Key::Right.into()).await;
    wait_text(&screen, "#presenter h1", "Pick one").await;
    // The decision panel shows the code too.
    wait_text(&screen, ".join-panel [data-room-code]", &code).await;
    press(&screen, 'o').await;
    wait_vote_status(&screen, "open").await;
    tap(&scanner, "cats").await;
    tap(&typist, "dogs").await;
    wait_text(&screen, "[data-total]", "2").await;

    // A new run: the panel shows a new code, and the phones ask for it.
    press(&screen, 'r').await;
    screen.accept_alert().await.expect("the new-run confirmation");
    wait_text(&screen, "#presenter h1", "Join in").await;
    let new = wait_for("a new code on the join panel", || async {
        let seen = text(&screen, ".join-panel [data-room-code]").await;
        (seen.clone().filter(|c| *c != code), format!("{seen:?}"))
    })
    .await;
    for phone in [&scanner, &typist] {
        wait_text_contains(phone, "#room-problem", "new run").await;
    }
    type_code(&scanner, &new).await;
    wait_text(&scanner, "#audience h1", "Join in").await;

    driver.close(scanner).await;
    driver.close(typist).await;
    driver.close(screen).await;
}
