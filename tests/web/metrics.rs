//! `GET /metrics`: who may read it, and that it moves with the talk. The
//! registry is per process and tests run in parallel, so counts are
//! compared before and after, never to fixed numbers.

use reqwest::StatusCode;

use crate::helpers::{TOKEN, TestApp, WAIT, spawn_app};

pub(crate) async fn scrape(app: &TestApp) -> String {
    let r = app.get("/metrics").await;
    assert_eq!(r.status(), StatusCode::OK);
    assert!(
        r.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/openmetrics-text"),
        "{:?}",
        r.headers()
    );
    r.text().await.unwrap()
}

/// The value of the series named `series` (name and labels, exactly).
pub(crate) fn value(text: &str, series: &str) -> f64 {
    recorded(text, series).unwrap_or_else(|| panic!("no {series} in\n{text}"))
}

/// The value of `series`, or 0 when nothing was recorded under it yet
/// (families with open-ended labels show a series once it is used).
pub(crate) fn value_or_zero(text: &str, series: &str) -> f64 {
    recorded(text, series).unwrap_or(0.0)
}

fn recorded(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .find_map(|line| line.strip_prefix(series)?.strip_prefix(' '))
        .map(|v| v.trim().parse().unwrap())
}

/// Scrapes until `series` grew past its value in `before` (say, once the
/// flusher pushed the tally of a vote counted), or [`WAIT`] passed: the
/// last scrape, for the caller's assertions.
pub(crate) async fn scrape_until_grown(app: &TestApp, before: &str, series: &str) -> String {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let after = scrape(app).await;
        if value_or_zero(&after, series) > value_or_zero(before, series) || tokio::time::Instant::now() > deadline {
            return after;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn metrics_name_every_family() {
    let app = spawn_app().await;
    // Families with open-ended labels show once something was recorded.
    cyoa::metrics::sms_received();
    cyoa::metrics::sms_refused("test");
    cyoa::metrics::vote_refused("test");
    cyoa::metrics::redis_call("test", std::time::Duration::from_millis(1), true);
    let text = scrape(&app).await;
    for family in [
        "cyoa_sockets_open",
        "cyoa_http_connections_open",
        "cyoa_http_connections_refused",
        "cyoa_votes_counted",
        "cyoa_votes_refused",
        "cyoa_sms_received",
        "cyoa_sms_refused",
        "cyoa_pushes",
        "cyoa_redis_errors",
        "cyoa_redis_seconds",
        "cyoa_vote_to_push_seconds",
        "cyoa_rate_limited",
        "cyoa_voters_minted",
        "cyoa_voter_mints_refused",
        "cyoa_body_timeouts",
        "cyoa_store_data_lost",
        "cyoa_store_lost",
        "cyoa_votes_closed_by_timer",
    ] {
        assert!(text.contains(&format!("# TYPE {family} ")), "{family} missing:\n{text}");
    }
}

#[tokio::test]
async fn metrics_count_votes_sockets_and_pushes() {
    let app = spawn_app().await;
    let before = scrape(&app).await;
    app.open_build().await;
    let voter = app.voter().await;
    let mut socket = voter.socket().await;
    assert_eq!(voter.post_vote("build", "pets").await.status(), StatusCode::SEE_OTHER);
    socket.wait_for_tally("build", "pets", 1).await;
    assert_eq!(voter.post_vote("nope", "pets").await.status(), StatusCode::NOT_FOUND);

    let after = scrape_until_grown(&app, &before, "cyoa_vote_to_push_seconds_count").await;
    let grew = |series: &str| value(&after, series) > value(&before, series);
    assert!(grew("cyoa_votes_counted_total{channel=\"web\"}"), "{after}");
    assert!(grew("cyoa_pushes_total{kind=\"tally\"}"), "{after}");
    assert!(grew("cyoa_pushes_total{kind=\"state\"}"), "{after}");
    assert!(grew("cyoa_vote_to_push_seconds_count"), "{after}");
    assert!(value(&after, "cyoa_votes_refused_total{reason=\"unknown_decision\"}") >= 1.0);
    assert!(value(&after, "cyoa_sockets_open{role=\"audience\"}") >= 1.0);
    assert!(value(&after, "cyoa_http_connections_open") >= 1.0);
}

#[tokio::test]
async fn metrics_through_a_proxy_need_the_presenter_token() {
    let app = spawn_app().await;
    let url = format!("{}/metrics", app.address);
    let proxied = app
        .api
        .get(&url)
        .header("x-forwarded-for", "203.0.113.9")
        .send()
        .await
        .unwrap();
    assert_eq!(proxied.status(), StatusCode::UNAUTHORIZED);
    let wrong = app.api.get(&url).bearer_auth("not-the-token").send().await.unwrap();
    assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED);
    let with_token = app
        .api
        .get(&url)
        .header("x-forwarded-for", "203.0.113.9")
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(with_token.status(), StatusCode::OK);
    // The presenter's cookie is not the token.
    let presenter = app.presenter_browser().await;
    let cookie_only = presenter
        .client
        .get(&url)
        .header("x-forwarded-for", "203.0.113.9")
        .send()
        .await
        .unwrap();
    assert_eq!(cookie_only.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_time_redis_calls_and_count_its_failures() {
    use crate::helpers::{Options, spawn_app_with};
    use crate::support::redis::{RedisServer, fresh_prefix};
    use cyoa::store::{RedisStore, VoteStore};

    let mut server = RedisServer::start();
    let store = RedisStore::connect(&server.url(), &fresh_prefix())
        .await
        .expect("the test redis-server answers");
    let app = spawn_app_with(Options {
        store: Some(VoteStore::Redis(store)),
        ..Options::default()
    })
    .await;
    app.open_build().await;
    let before = scrape(&app).await;
    let voter = app.voter().await;
    assert_eq!(voter.post_vote("build", "pets").await.status(), StatusCode::SEE_OTHER);
    let after = scrape(&app).await;
    let series = "cyoa_redis_seconds_count{operation=\"vote\"}";
    assert!(
        value_or_zero(&after, series) > value_or_zero(&before, series),
        "{after}"
    );

    server.stop();
    let refused = voter.post_vote("build", "docs").await;
    assert_eq!(refused.status(), StatusCode::SERVICE_UNAVAILABLE);
    let down = scrape(&app).await;
    // A vote's one store call is the vote script itself (the run is known
    // from the vote before): that is the call that fails.
    assert!(down.contains("cyoa_redis_errors_total{operation=\"vote\"}"), "{down}");
    assert!(value(&down, "cyoa_votes_refused_total{reason=\"store\"}") >= 1.0);
}
