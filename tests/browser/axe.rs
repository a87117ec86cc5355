//! axe-core, the accessibility checker, run inside the pages under test:
//! its source (installed from npm into `tests/browser/node_modules` by
//! `scripts/test.sh`, pinned in `package-lock.json`) is injected through
//! WebDriver's execute script, which the pages' Content-Security-Policy
//! does not govern, and every serious or critical violation fails the test.

use std::path::PathBuf;
use std::sync::OnceLock;

use fantoccini::Client;
use serde_json::Value;

const HOW: &str =
    "install it with `npm ci --prefix tests/browser` (npm itself: apt-get install npm; scripts/test.sh does both)";

/// axe-core's source, read once.
fn source() -> &'static str {
    static SOURCE: OnceLock<String> = OnceLock::new();
    SOURCE.get_or_init(|| {
        let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/browser/node_modules/axe-core/axe.min.js");
        std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("axe-core is missing ({}: {e}); {HOW}", path.display()))
    })
}

/// Runs axe-core on the page `client` shows and fails the test, naming
/// `page`, on any serious or critical violation.
pub async fn check(client: &Client, page: &str) {
    let loaded = client
        .execute("return typeof window.axe === 'object';", vec![])
        .await
        .unwrap_or(Value::Bool(false));
    if loaded != Value::Bool(true) {
        let script = format!("{}\n;return typeof window.axe === 'object';", source());
        let injected = client.execute(&script, vec![]).await;
        assert!(
            matches!(injected, Ok(Value::Bool(true))),
            "axe-core did not load into the {page}: {injected:?}"
        );
    }
    let run = "const done = arguments[arguments.length - 1];
        axe.run(document, { resultTypes: ['violations'] })
          .then((r) => done(r.violations
            .filter((v) => v.impact === 'serious' || v.impact === 'critical')
            .map((v) => v.impact + ' ' + v.id + ': ' + v.help + ' at ' +
              v.nodes.slice(0, 4).map((n) => n.target.join(' ') + ' (' + (n.failureSummary || '') + ')').join('; '))))
          .catch((e) => done(['axe failed: ' + e]));";
    let found = client
        .execute_async(run, vec![])
        .await
        .unwrap_or_else(|e| panic!("axe-core could not run on the {page}: {e}"));
    let problems: Vec<String> = serde_json::from_value(found.clone()).unwrap_or_else(|_| vec![found.to_string()]);
    assert!(
        problems.is_empty(),
        "accessibility problems on the {page}:\n{}",
        problems.join("\n")
    );
}

/// The presenter view (`client`, logged in) with its story map open (key
/// M): the map scrolls, so it must be reachable and named for the
/// keyboard. Closes the map again (Escape).
pub async fn presenter_with_the_story_map(client: &Client) {
    crate::page::press(client, 'm').await;
    crate::page::wait_js(
        client,
        "the story map to open",
        "const o = document.getElementById('map-overlay');
         return !!o && !o.hidden && !!o.dataset.loaded && !!o.querySelector('svg');",
    )
    .await;
    check(client, "presenter view with the story map open").await;
    crate::page::press(client, fantoccini::key::Key::Escape.into()).await;
    crate::page::wait_js(
        client,
        "the story map to close",
        "const o = document.getElementById('map-overlay'); return !!o && o.hidden;",
    )
    .await;
}
