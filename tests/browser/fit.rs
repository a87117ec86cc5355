//! Every slide of every bundled story fits the projector: walked on the
//! presenter view at the common projector and laptop sizes, every decision
//! with its vote open and its bars and join panel beside it, nothing may be
//! clipped by an `overflow: hidden` box nor pushed below the fold.
//!
//! One browser, resized through the DevTools protocol; the presenter API
//! moves the talk, and the page follows over its socket as it does live.

use std::path::PathBuf;

use fantoccini::Client;
use fantoccini::wd::WebDriverCompatibleCommand;
use serde_json::{Value, json};

use cyoa::story::Story;

use crate::app::TestApp;
use crate::axe;
use crate::driver::Driver;
use crate::page::{self, wait_js};

/// Projectors and laptops: 4:3, the common 16:9 projector, the common
/// laptop, full HD.
const SIZES: [(u32, u32); 4] = [(1024, 768), (1280, 720), (1366, 768), (1920, 1080)];

/// What is wrong on the page: every element clipped by its own
/// `overflow: hidden`/`clip`, or reaching past the viewport.
const PROBLEMS: &str = "
  const main = document.getElementById('presenter');
  const vw = innerWidth, vh = innerHeight, found = [];
  const name = (e) => e.tagName.toLowerCase() + (e.id ? '#' + e.id : '') +
    (typeof e.className === 'string' && e.className ? '.' + e.className.trim().split(/\\s+/).join('.') : '') +
    ' \"' + (e.textContent || '').trim().replace(/\\s+/g, ' ').slice(0, 50) + '\"';
  for (const e of [main, ...main.querySelectorAll('*')]) {
    if (e.closest('.visually-hidden, [hidden]')) continue;
    const s = getComputedStyle(e);
    if (s.display === 'none' || s.visibility === 'hidden') continue;
    const r = e.getBoundingClientRect();
    if (r.width === 0 && r.height === 0) continue;
    if (/hidden|clip/.test(s.overflowY) && e.scrollHeight > e.clientHeight + 1)
      found.push('clipped at the bottom (' + e.scrollHeight + ' > ' + e.clientHeight + ' px): ' + name(e));
    if (/hidden|clip/.test(s.overflowX) && e.scrollWidth > e.clientWidth + 1)
      found.push('clipped at the side (' + e.scrollWidth + ' > ' + e.clientWidth + ' px): ' + name(e));
    if (r.bottom > vh + 0.5) found.push('below the fold (' + Math.round(r.bottom) + ' > ' + vh + ' px): ' + name(e));
    if (r.right > vw + 0.5) found.push('past the right edge (' + Math.round(r.right) + ' > ' + vw + ' px): ' + name(e));
  }
  return found;";

/// Walks every bundled story at every size; fails with every problem found.
pub async fn every_slide_fits(driver: &mut Driver) {
    let stories = bundled_stories();
    assert!(stories.len() >= 3, "the bundled stories: {stories:?}");
    let client = driver.browser(SIZES[0].0, SIZES[0].1).await;
    let mut problems = Vec::new();
    let mut checked = 0;
    // The smallest text scale each size needed, and where.
    let mut smallest: Vec<(f64, String)> = vec![(1.0, String::new()); SIZES.len()];
    for path in &stories {
        let story = match Story::load(path) {
            Ok(loaded) => loaded.story,
            Err(problems) => panic!("{} has problems: {problems:?}", path.display()),
        };
        let app = TestApp::spawn_story(story.clone(), None).await;
        page::open_presenter(&client, &app, "return !!document.querySelector('#presenter h1');").await;
        for slide in &story.slides {
            let (status, answer) = app.presenter_call("goto", Some(json!({ "slide": slide.id }))).await;
            assert_eq!(status, 200, "goto {}: {answer}", slide.id);
            let decision = story.decision(&slide.id);
            if decision.is_some() {
                let (status, answer) = app.presenter_call("open", None).await;
                assert_eq!(status, 200, "open {}: {answer}", slide.id);
            }
            let status = if decision.is_some() { "open" } else { "" };
            wait_js(
                &client,
                &format!("the presenter view on {}", slide.id),
                &format!(
                    "const m = document.getElementById('presenter');
                     return m.dataset.slide === {id} && (m.dataset.voteStatus || '') === {status};",
                    id = json!(slide.id),
                    status = json!(status),
                ),
            )
            .await;
            for (i, (width, height)) in SIZES.into_iter().enumerate() {
                resize(&client, width, height).await;
                checked += 1;
                let scale = page::js(
                    &client,
                    "return Number(document.getElementById('presenter').dataset.fit);",
                    vec![],
                )
                .await
                .as_f64()
                .unwrap_or(1.0);
                if scale < smallest[i].0 {
                    smallest[i] = (scale, slide.id.clone());
                }
                let found = page::js(&client, PROBLEMS, vec![]).await;
                let found: Vec<String> =
                    serde_json::from_value(found.clone()).unwrap_or_else(|_| vec![found.to_string()]);
                problems.extend(
                    found
                        .into_iter()
                        .map(|p| format!("{} {} at {width}x{height}: {p}", path.display(), slide.id)),
                );
            }
        }
        if path.ends_with("wsgi-deployment-adventure.toml") {
            // The bundled talk with its story map open.
            axe::presenter_with_the_story_map(&client).await;
        }
    }
    driver.close(client).await;
    for ((width, height), (scale, slide)) in SIZES.iter().zip(&smallest) {
        eprintln!("fit: {width}x{height}: smallest text scale {scale} ({slide})");
    }
    assert!(
        problems.is_empty(),
        "{} of {checked} slide views do not fit:\n{}",
        problems.len(),
        problems.join("\n")
    );
}

/// `stories/*.toml`, in name order.
fn bundled_stories() -> Vec<PathBuf> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("stories");
    let mut found: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .collect();
    found.sort();
    found
}

/// Sets the page's size and waits until the presenter view has fitted its
/// slide to it (`data-fit-size`, set by static/presenter.js).
async fn resize(client: &Client, width: u32, height: u32) {
    let params = json!({
        "width": width, "height": height, "deviceScaleFactor": 1, "mobile": false,
    });
    client
        .issue_cmd(Cdp::new("Emulation.setDeviceMetricsOverride", params))
        .await
        .expect("chromedriver resizes the page");
    wait_js(
        client,
        &format!("the slide fitted to {width}x{height}"),
        &format!(
            "return innerWidth === {width} && innerHeight === {height} &&
                    document.getElementById('presenter').dataset.fitSize === '{width}x{height}';"
        ),
    )
    .await;
}

/// A DevTools protocol command through chromedriver.
#[derive(Debug)]
struct Cdp {
    body: Value,
}

impl Cdp {
    fn new(cmd: &str, params: Value) -> Cdp {
        Cdp {
            body: json!({ "cmd": cmd, "params": params }),
        }
    }
}

impl WebDriverCompatibleCommand for Cdp {
    fn endpoint(&self, base: &reqwest::Url, session: Option<&str>) -> Result<reqwest::Url, url::ParseError> {
        base.join(&format!("session/{}/goog/cdp/execute", session.unwrap_or_default()))
    }

    fn method_and_body(&self, _: &reqwest::Url) -> (axum::http::Method, Option<String>) {
        (axum::http::Method::POST, Some(self.body.to_string()))
    }
}
