//! Timed votes in headless Chromium: T on the presenter view starts the
//! countdown, and the presenter view, the console and every phone show it,
//! counting from the server's time left so they agree; the audience page
//! tells screen readers now and then, not every second; the last seconds
//! change look calmly; the console's buttons extend and stop it; at zero the
//! vote closes by itself on every page. axe-core finds nothing serious or
//! critical on the presenter view or the audience page while it runs.

use fantoccini::Client;
use serde_json::{Value, json};

use crate::app::TestApp;
use crate::driver::Driver;
use crate::page::{click, js, mark, press, wait_js, wait_text, wait_vote_status};
use crate::{audience, presenter};

/// The seconds a page's countdown line shows (`None`: hidden or absent),
/// and when it showed them (ms since the epoch, the machine's clock).
async fn shown_seconds(client: &Client) -> Option<(u64, f64)> {
    let seen = js(
        client,
        "const n = document.querySelector('[data-countdown]');
         return [n && !n.hidden ? n.textContent : null, Date.now()];",
        vec![],
    )
    .await;
    let at = seen[1].as_f64()?;
    let text = seen[0].as_str()?;
    let clock = text.rsplit(' ').next()?;
    let (m, s) = clock.split_once(':')?;
    Some((m.parse::<u64>().ok()? * 60 + s.parse::<u64>().ok()?, at))
}

/// Waits until `client`'s countdown line shows a time for which `wanted`
/// holds.
async fn wait_countdown(client: &Client, what: &str, wanted: &str) {
    wait_js(
        client,
        what,
        &format!(
            "const n = document.querySelector('[data-countdown]');
             if (!n || n.hidden) return false;
             const m = /(\\d+):(\\d\\d)$/.exec(n.textContent.trim());
             if (!m) return false;
             const left = Number(m[1]) * 60 + Number(m[2]);
             return {wanted};"
        ),
    )
    .await;
}

/// Waits until no countdown line shows on `client`.
async fn wait_no_countdown(client: &Client, what: &str) {
    wait_js(
        client,
        what,
        "return [...document.querySelectorAll('[data-countdown]')].every((n) => n.hidden);",
    )
    .await;
}

/// The texts the audience page's live region said, from now on.
async fn listen(client: &Client) {
    js(
        client,
        "window.cyoaSaid = [];
         const region = document.getElementById('announce');
         new MutationObserver(() => { if (region.textContent) window.cyoaSaid.push(region.textContent); })
           .observe(region, { childList: true, characterData: true, subtree: true });
         return true;",
        vec![],
    )
    .await;
}

async fn said(client: &Client) -> Vec<String> {
    let v = js(client, "return window.cyoaSaid || [];", vec![]).await;
    serde_json::from_value(v).unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn phones_show_the_countdown_and_the_vote_closes_by_itself() {
    let mut driver = Driver::start();
    let driver = &mut driver;
    let app = TestApp::spawn().await;
    let screen = presenter(driver, &app).await;
    let phones = [audience(driver, &app).await, audience(driver, &app).await];
    let console = crate::page::presenter_screen(driver, &app).await;
    console.goto(&app.url("/presenter/notes")).await.expect("the console");
    wait_text(&console, "#console h1", "Welcome").await;
    for client in [&screen, &console, &phones[0], &phones[1]] {
        mark(client).await;
    }
    press(&screen, fantoccini::key::Key::Right.into()).await;
    wait_text(&screen, "#presenter h1", "Which way?").await;
    press(&screen, 'o').await;
    wait_vote_status(&screen, "open").await;
    for phone in &phones {
        wait_js(
            phone,
            "the open vote",
            "return !!document.querySelector('button[data-choice]');",
        )
        .await;
        listen(phone).await;
    }

    // T: the default 30 s, on every screen.
    press(&screen, 't').await;
    let running = "left > 20 && left <= 30";
    wait_countdown(&screen, "the presenter view's countdown", running).await;
    wait_countdown(&console, "the console's countdown", running).await;
    for phone in &phones {
        wait_countdown(phone, "a phone's countdown", running).await;
    }
    // They count from the server's time left: within a second of each other.
    // (Read one after another: each reading is taken back to the time of
    // the first by the machine's clock, which every browser here shares.)
    let mut seen = Vec::new();
    let mut first_at = None;
    for client in [&screen, &console, &phones[0], &phones[1]] {
        let (seconds, at) = shown_seconds(client).await.expect("a countdown shows");
        let first = *first_at.get_or_insert(at);
        seen.push(seconds as f64 + (at - first) / 1000.0);
    }
    let spread = seen.iter().cloned().fold(f64::MIN, f64::max) - seen.iter().cloned().fold(f64::MAX, f64::min);
    assert!(spread <= 1.5, "the screens disagree: {seen:?}");
    // The phones said it once, politely: "The vote closes in 0:30".
    wait_js(
        &phones[0],
        "the countdown announced",
        "return (window.cyoaSaid || []).some((t) => /closes in 0:(29|30)/.test(t));",
    )
    .await;
    let region = js(
        &phones[0],
        "return document.getElementById('announce').getAttribute('aria-live');",
        vec![],
    )
    .await;
    assert_eq!(region, json!("polite"));

    crate::axe::check(&screen, "presenter view with a running countdown").await;
    crate::axe::check(&phones[0], "audience page with a running countdown").await;
    crate::axe::check(&console, "presenter console with a running countdown").await;

    // +15 s on the console: every page jumps up by it.
    let before = app.state().await["timer"]["remaining_ms"]
        .as_u64()
        .expect("a countdown runs")
        / 1000;
    click(&console, "button[data-command=\"timer/extend\"]").await;
    let extended = format!("left >= {} && left <= {}", before + 10, before + 16);
    wait_countdown(&screen, "the presenter view's countdown extended", &extended).await;
    for phone in &phones {
        wait_countdown(phone, "a phone's countdown extended", &extended).await;
    }

    // The last 10 seconds: a calm change of look, no motion; still clean.
    let ending = js(
        &screen,
        "cyoa.countdown.set({ remaining_ms: 9500 });
         const n = document.querySelector('[data-countdown]');
         const style = getComputedStyle(n);
         return [n.classList.contains('countdown-ending'), style.animationName, style.backgroundColor];",
        vec![],
    )
    .await;
    assert_eq!(ending[0], Value::Bool(true), "{ending}");
    assert_eq!(ending[1], json!("none"), "no animation: {ending}");
    crate::axe::check(&screen, "presenter view in the countdown's last seconds").await;
    js(
        &phones[0],
        "cyoa.countdown.set({ remaining_ms: 9500 }); return true;",
        vec![],
    )
    .await;
    crate::axe::check(&phones[0], "audience page in the countdown's last seconds").await;
    // Shift+T stops it; the vote stays open.
    press(&screen, 'T').await;
    for client in [&screen, &console, &phones[0], &phones[1]] {
        wait_no_countdown(client, "the countdown stopped").await;
    }
    assert_eq!(app.state().await["decision"]["status"], "open");

    // A short countdown closes the vote by itself on every page.
    let (status, body) = app.presenter_call("timer/start", Some(json!({ "seconds": 2 }))).await;
    assert_eq!(status, 200, "{body}");
    wait_vote_status(&screen, "closed").await;
    for phone in &phones {
        wait_js(
            phone,
            "the vote closed on the phone",
            "const s = document.querySelector('#audience .vote'); return !!s && s.dataset.voteStatus === 'closed';",
        )
        .await;
        wait_no_countdown(phone, "no countdown after the close").await;
    }
    let heard = said(&phones[1]).await;
    assert!(
        heard.len() < 8,
        "the phone spoke too often for one countdown: {heard:?}"
    );
    for (client, which) in [(&screen, "presenter"), (&phones[0], "audience")] {
        crate::page::assert_not_reloaded(client, which).await;
    }
    for client in [screen, console] {
        driver.close(client).await;
    }
    for phone in phones {
        driver.close(phone).await;
    }
}
