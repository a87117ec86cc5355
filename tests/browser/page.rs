//! Reading and driving a page: every wait polls the DOM with a deadline
//! instead of sleeping.

use std::time::{Duration, Instant};

use fantoccini::actions::{InputSource, KeyAction, KeyActions};
use fantoccini::{Client, Locator};
use serde_json::{Value, json};

use crate::app::TestApp;
use crate::driver::Driver;

/// How long a condition may take before the test fails.
pub const TIMEOUT: Duration = Duration::from_secs(15);
const POLL: Duration = Duration::from_millis(50);

/// Polls `probe` until it returns `Some`, or fails the test after [`TIMEOUT`]
/// saying what was awaited and what was last seen.
pub async fn wait_for<T, F, Fut>(what: &str, mut probe: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = (Option<T>, String)>,
{
    let deadline = Instant::now() + TIMEOUT;
    loop {
        let (found, seen) = probe().await;
        if let Some(value) = found {
            return value;
        }
        assert!(
            Instant::now() < deadline,
            "timed out after {TIMEOUT:?} waiting for {what}; last seen: {seen}"
        );
        tokio::time::sleep(POLL).await;
    }
}

/// Runs a script in the page and returns its result (null on a failed call,
/// e.g. while the page is navigating).
pub async fn js(client: &Client, script: &str, args: Vec<Value>) -> Value {
    client.execute(script, args).await.unwrap_or(Value::Null)
}

/// The text of the first element matching `css`, if there is one.
pub async fn text(client: &Client, css: &str) -> Option<String> {
    let found = js(
        client,
        "const e = document.querySelector(arguments[0]); return e ? e.textContent.trim() : null;",
        vec![json!(css)],
    )
    .await;
    found.as_str().map(str::to_owned)
}

/// Waits until the element matching `css` has exactly the text `expected`.
pub async fn wait_text(client: &Client, css: &str, expected: &str) {
    wait_for(&format!("{css} to read {expected:?}"), || async {
        let seen = text(client, css).await;
        let ok = seen.as_deref() == Some(expected);
        (ok.then_some(()), format!("{seen:?}"))
    })
    .await
}

/// Waits until the element matching `css` contains `expected` in its text.
pub async fn wait_text_contains(client: &Client, css: &str, expected: &str) {
    wait_for(&format!("{css} to contain {expected:?}"), || async {
        let seen = text(client, css).await;
        let ok = seen.as_deref().is_some_and(|t| t.contains(expected));
        (ok.then_some(()), format!("{seen:?}"))
    })
    .await
}

/// Waits until `script` (a function body returning a boolean) returns true.
pub async fn wait_js(client: &Client, what: &str, script: &str) {
    wait_for(what, || async {
        let seen = js(client, script, vec![]).await;
        (seen.as_bool().unwrap_or(false).then_some(()), seen.to_string())
    })
    .await
}

/// Waits for an enabled audience button for `choice` and clicks it.
pub async fn tap(client: &Client, choice: &str) {
    let css = format!("button[data-choice=\"{choice}\"]");
    wait_js(
        client,
        &format!("an enabled {css}"),
        &format!("const b = document.querySelector('{css}'); return !!b && !b.disabled;"),
    )
    .await;
    client
        .find(Locator::Css(&css))
        .await
        .expect("the button just seen")
        .click()
        .await
        .expect("a click on the choice");
}

/// Waits until the audience button for `choice` is the one pressed.
pub async fn wait_pressed(client: &Client, choice: &str) {
    wait_js(
        client,
        &format!("{choice} to be the only pressed choice"),
        &format!(
            "const p = [...document.querySelectorAll('button[data-choice][aria-pressed=\"true\"]')];
             return p.length === 1 && p[0].dataset.choice === '{choice}';"
        ),
    )
    .await
}

/// Presses and releases one key, as a real keyboard would.
pub async fn press(client: &Client, key: char) {
    let keys = KeyActions::new("keyboard".into())
        .then(KeyAction::Down { value: key })
        .then(KeyAction::Up { value: key });
    client.perform_actions(keys).await.expect("a key press");
}

/// Marks the page's window object and starts collecting script errors and
/// Content-Security-Policy violations; [`assert_not_reloaded`] checks that
/// the mark survives (the page changed without a reload) and nothing failed.
pub async fn mark(client: &Client) {
    let script = "window.cyoaTestMark = 'kept';
        window.cyoaTestProblems = [];
        const note = (what) => window.cyoaTestProblems.push(String(what));
        window.addEventListener('error', (e) => note(e.message));
        window.addEventListener('unhandledrejection', (e) => note(e.reason));
        document.addEventListener('securitypolicyviolation', (e) => note('CSP: ' + e.violatedDirective));
        return true;";
    js(client, script, vec![]).await;
}

/// Fails unless the mark set by [`mark`] is still on the page and no script
/// error or CSP violation happened since.
pub async fn assert_not_reloaded(client: &Client, which: &str) {
    let seen = js(
        client,
        "return [window.cyoaTestMark || null, window.cyoaTestProblems || null];",
        vec![],
    )
    .await;
    assert_eq!(
        seen[0],
        json!("kept"),
        "the {which} page was reloaded; it must update in place"
    );
    assert_eq!(
        seen[1],
        json!([]),
        "the {which} page had script errors or CSP violations"
    );
}

/// Waits until the presenter view shows a decision whose vote is `status`.
pub async fn wait_vote_status(client: &Client, status: &str) {
    wait_js(
        client,
        &format!("the presenter view to show a vote that is {status}"),
        &format!("const m = document.getElementById('presenter'); return !!m && m.dataset.voteStatus === '{status}';"),
    )
    .await
}

/// Logs `client` in as the presenter of `app` and waits until `ready` (a
/// function body returning a boolean) is true on the presenter view.
pub async fn open_presenter(client: &Client, app: &TestApp, ready: &str) {
    client
        .goto(&app.presenter_login_url())
        .await
        .expect("the presenter login");
    wait_js(client, "the presenter view", ready).await;
}

/// A new screen-sized browser logged in as the presenter of `app`, on
/// the page the login leads to.
pub async fn presenter_screen(driver: &mut Driver, app: &TestApp) -> Client {
    let client = driver.browser(crate::SCREEN.0, crate::SCREEN.1).await;
    client
        .goto(&app.presenter_login_url())
        .await
        .expect("the presenter login");
    client
}

/// Saves the page as the other screenshots are saved: into
/// `CYOA_SCREENSHOT_DIR` (`scripts/screenshots.sh`: `docs/img`), else
/// `target/screenshots/`. A blank page fails (a drawn page's PNG is far
/// larger than a few kilobytes).
pub async fn screenshot(client: &Client, name: &str) {
    save_screenshot(name, client.screenshot().await.expect("a screenshot"));
}

/// Writes `png` where [`screenshot`] does.
pub fn save_screenshot(name: &str, png: Vec<u8>) {
    assert!(png.len() > 10_000, "{name} looks blank ({} bytes)", png.len());
    let dir = match std::env::var_os("CYOA_SCREENSHOT_DIR") {
        Some(dir) => std::path::PathBuf::from(dir),
        None => std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/screenshots"),
    };
    std::fs::create_dir_all(&dir).expect("the screenshot folder");
    std::fs::write(dir.join(name), png).expect("writing a screenshot");
}

/// Waits for the element `css` names, then clicks it.
pub async fn click(client: &Client, css: &str) {
    wait_js(
        client,
        &format!("{css} on the page"),
        &format!("return !!document.querySelector('{}');", css.replace('\'', "\\'")),
    )
    .await;
    client
        .find(Locator::Css(css))
        .await
        .expect("the button just seen")
        .click()
        .await
        .expect("a click");
}
