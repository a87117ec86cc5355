//! An image slide (an imported deck's page) in headless Chromium: on the
//! projector the image fills the screen at 16:9 with no title bar; a phone
//! shows the slide's title and the image's words, also after the presenter
//! moves on (the page redraws itself); axe-core finds nothing serious on
//! either page.

use fantoccini::key::Key;

use cyoa::story::Story;

use crate::app::TestApp;
use crate::axe;
use crate::driver::Driver;
use crate::page::{js, press, wait_text};
use crate::{PHONE, SCREEN};

/// Two image slides, their images files next to the story.
const STORY: &str = r##"
title = "An imported deck"
start = "first"

[slides.first]
title = "Deploy or die"
image = "talk-slides/01.svg"
alt = "Deploy or die. A talk about shipping"
next = "second"

[slides.second]
title = "Where do we deploy?"
image = "talk-slides/02.svg"
alt = "Where do we deploy? PaaS or a server of our own"
"##;

/// A 16:9 picture.
const SVG: &str = r##"<svg xmlns="http://www.w3.org/2000/svg" width="1920" height="1080" viewBox="0 0 1920 1080"><rect width="1920" height="1080" fill="#fff"/><text x="80" y="200" font-size="120">A slide</text></svg>"##;

pub async fn scenario(driver: &mut Driver) {
    let dir = tempfile::tempdir().expect("a temporary folder");
    std::fs::create_dir(dir.path().join("talk-slides")).expect("a folder");
    for name in ["01.svg", "02.svg"] {
        std::fs::write(dir.path().join("talk-slides").join(name), SVG).expect("an image");
    }
    let path = dir.path().join("talk.toml");
    std::fs::write(&path, STORY).expect("the story");
    let story = Story::load(&path).unwrap_or_else(|p| panic!("{p:#?}")).story;
    let app = TestApp::spawn_story(story, None).await;

    let screen = crate::page::presenter_screen(driver, &app).await;
    crate::page::wait_js(
        &screen,
        "the image slide drawn",
        "const img = document.querySelector('#presenter.slide--image img.slide-image');
         return Boolean(img && img.complete && img.naturalWidth > 0);",
    )
    .await;
    let shape = js(
        &screen,
        "const img = document.querySelector('#presenter img.slide-image').getBoundingClientRect();
         const h1 = document.querySelector('#presenter h1').getBoundingClientRect();
         return [Math.round(img.left), Math.round(img.top), Math.round(img.width), Math.round(img.height),
                 Math.round(h1.width * h1.height),
                 document.querySelector('#presenter img.slide-image').alt];",
        vec![],
    )
    .await;
    // 1280×720 is 16:9: the image covers the whole screen; the title takes
    // no room (it stays for screen readers).
    assert_eq!(
        shape,
        serde_json::json!([0, 0, SCREEN.0, SCREEN.1, 1, "Deploy or die. A talk about shipping"]),
        "the image slide on the projector"
    );
    axe::check(&screen, "presenter view of an image slide").await;

    let phone = driver.browser(PHONE.0, PHONE.1).await;
    phone.goto(&app.url("/")).await.expect("the audience page");
    wait_text(&phone, "#audience h1", "Deploy or die").await;
    wait_text(&phone, "#audience .slide-alt", "Deploy or die. A talk about shipping").await;
    axe::check(&phone, "audience page of an image slide").await;

    press(&screen, Key::Right.into()).await;
    wait_text(&phone, "#audience h1", "Where do we deploy?").await;
    wait_text(
        &phone,
        "#audience .slide-alt",
        "Where do we deploy? PaaS or a server of our own",
    )
    .await;
}
