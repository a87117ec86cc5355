//! Redis losing the talk's data under an open presenter view, in headless
//! Chromium: the view swaps in the banner "The vote store lost its data"
//! by itself (no reload, no script error), and draws the slide again once
//! Redis is restored from its backup.

use cyoa::store::{RedisStore, VoteStore};

use super::app::TestApp;
use super::driver::Driver;
use super::page::{assert_not_reloaded, mark, wait_text, wait_text_contains};
use super::presenter;
use super::support::redis::{fresh_prefix, shared};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_presenter_view_shows_the_lost_store_and_the_slide_again_once_restored() {
    let mut driver = Driver::start();
    let prefix = fresh_prefix();
    let store = RedisStore::connect(&shared().url(), &prefix)
        .await
        .expect("the test Redis answers");
    let app = TestApp::spawn_on(VoteStore::Redis(store)).await;
    let screen = presenter(&mut driver, &app).await;
    mark(&screen).await;
    let saved = shared().backup(&prefix);

    // Redis loses this talk's data (its keys deleted, as a flush would).
    shared().delete_prefix(&prefix);
    wait_text(&screen, "#store-lost h2", "The vote store lost its data").await;
    wait_text_contains(&screen, "#store-lost", "restore Redis from its backup").await;
    assert_not_reloaded(&screen, "presenter").await;

    // Restored from the backup: the slide comes back by itself.
    shared().restore(&saved);
    wait_text(&screen, "#presenter h1", "Welcome").await;
    assert_not_reloaded(&screen, "presenter").await;
    driver.close(screen).await;
}
