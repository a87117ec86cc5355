//! Results texts (`--sms-results`, feature `sms-outbound`) against a fake
//! Twilio REST API on a free port: who texted a vote is texted the outcome
//! when the vote closes, once; failures are retried with backoff and given
//! up after the last attempt; refusals are not retried; sends keep to the
//! rate limit; numbers are stored only sealed.

#![cfg(feature = "sms-outbound")]

#[allow(dead_code)]
#[path = "web/helpers.rs"]
mod helpers;
mod support;

use std::net::SocketAddr;
use std::num::NonZeroU32;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use cyoa::settings::{Settings, SmsSettings};
use cyoa::sms::Secret;
use cyoa::sms::outbound::OutboundConfig;
use cyoa::store::{MemoryStore, RedisStore, VoteStore};
use helpers::{Options, TestApp, WAIT, spawn_app_with};
use reqwest::Response;

const TWILIO_TOKEN: &str = "outbound-test-twilio-token";
const ACCOUNT: &str = "AC0123456789abcdef0123456789abcdef";
const NUMBER: &str = "+15005550006";

/// One request the fake Twilio received.
#[derive(Debug, Clone)]
struct Received {
    account: String,
    authorization: String,
    fields: Vec<(String, String)>,
    at: Instant,
}

impl Received {
    fn field(&self, name: &str) -> &str {
        self.fields
            .iter()
            .find(|(k, _)| k == name)
            .map_or("", |(_, v)| v.as_str())
    }
}

/// A fake Twilio Messages API: records every request; answers the first
/// `fail_first` with `fail_status`, then 201.
#[derive(Clone)]
struct FakeTwilio {
    received: Arc<Mutex<Vec<Received>>>,
    fail_first: Arc<AtomicUsize>,
    fail_status: StatusCode,
    address: SocketAddr,
}

impl FakeTwilio {
    async fn start(fail_first: usize, fail_status: StatusCode) -> FakeTwilio {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("a free port");
        let fake = FakeTwilio {
            received: Arc::default(),
            fail_first: Arc::new(AtomicUsize::new(fail_first)),
            fail_status,
            address: listener.local_addr().expect("an address"),
        };
        let app = Router::new()
            .route("/2010-04-01/Accounts/{account}/Messages.json", post(messages))
            .with_state(fake.clone());
        tokio::spawn(async move { axum::serve(listener, app).await });
        fake
    }

    fn url(&self) -> String {
        format!("http://{}", self.address)
    }

    fn received(&self) -> Vec<Received> {
        self.received.lock().unwrap().clone()
    }

    /// Waits until `n` requests have come in.
    async fn wait_for(&self, n: usize) -> Vec<Received> {
        let deadline = Instant::now() + WAIT;
        loop {
            let got = self.received();
            if got.len() >= n {
                return got;
            }
            assert!(
                Instant::now() < deadline,
                "{} of {n} requests to Twilio: {got:?}",
                got.len()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

async fn messages(
    State(fake): State<FakeTwilio>,
    Path(account): Path<String>,
    headers: HeaderMap,
    body: String,
) -> (StatusCode, &'static str) {
    fake.received.lock().unwrap().push(Received {
        account,
        authorization: headers
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string(),
        fields: form_urlencoded::parse(body.as_bytes()).into_owned().collect(),
        at: Instant::now(),
    });
    let failing = fake
        .fail_first
        .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
        .is_ok();
    if failing {
        (fake.fail_status, r#"{"code": 20500, "message": "fake failure"}"#)
    } else {
        (StatusCode::CREATED, r#"{"sid": "SMfake", "status": "queued"}"#)
    }
}

fn results(fake: &FakeTwilio, per_second: u32, max_attempts: u32) -> OutboundConfig {
    OutboundConfig {
        api_base: fake.url(),
        account_sid: ACCOUNT.into(),
        auth_token: Secret::new(TWILIO_TOKEN),
        from: NUMBER.into(),
        per_second: NonZeroU32::new(per_second).unwrap(),
        max_attempts,
        first_retry: Duration::from_millis(200),
    }
}

async fn spawn(store: VoteStore, results: OutboundConfig) -> TestApp {
    spawn_app_with(Options {
        store: Some(store),
        sms: SmsSettings {
            auth_token: Some(TWILIO_TOKEN.into()),
            number: Some(NUMBER.into()),
            insecure_skip_signature: false,
            account_sid: None,
            results: Some(results),
        },
        ..Options::default()
    })
    .await
}

/// A signed text from `from`; `tag` names it (its `MessageSid` is made
/// from it, in Twilio's shape).
async fn text(app: &TestApp, from: &str, body: &str, tag: &str) -> Response {
    let url = format!("{}/sms", app.address);
    let sid = support::message_sid(tag);
    let params: Vec<(String, String)> = [("From", from), ("To", NUMBER), ("Body", body), ("MessageSid", &sid)]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let mut form = form_urlencoded::Serializer::new(String::new());
    for (k, v) in &params {
        form.append_pair(k, v);
    }
    let r = app
        .api
        .post(&url)
        .header("content-type", "application/x-www-form-urlencoded")
        .header(
            cyoa::sms::signature::HEADER,
            cyoa::sms::signature::compute(TWILIO_TOKEN.as_bytes(), &url, &params),
        )
        .body(form.finish())
        .send()
        .await
        .expect("the server answers");
    assert_eq!(r.status(), StatusCode::OK);
    r
}

/// Waits until the store's queue is empty.
async fn wait_outbox_empty(store: &VoteStore) {
    let deadline = Instant::now() + WAIT;
    loop {
        let len = store.outbox_len().await.expect("the store answers");
        if len == 0 {
            return;
        }
        assert!(Instant::now() < deadline, "{len} texts still queued");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn the_voters_who_texted_get_the_outcome_once(store: VoteStore) {
    let fake = FakeTwilio::start(0, StatusCode::INTERNAL_SERVER_ERROR).await;
    let app = spawn(store.clone(), results(&fake, 50, 3)).await;
    app.open_build().await;
    text(&app, "+14155550101", "1", "SM01").await;
    text(&app, "+14155550102", "pets", "SM02").await;
    text(&app, "+14155550103", "2", "SM03").await;
    // A phone moving its vote is still one recipient.
    text(&app, "+14155550103", "1", "SM04").await;
    // A web voter gets no text.
    let mut web = app.voter().await.socket().await;
    web.next_json().await;
    assert_eq!(web.vote("build", "docs").await["type"], "voted");
    assert!(fake.received().is_empty(), "nothing is sent while the vote is open");

    app.close().await;
    let got = fake.wait_for(3).await;
    let mut to: Vec<&str> = got.iter().map(|r| r.field("To")).collect();
    to.sort();
    assert_eq!(to, ["+14155550101", "+14155550102", "+14155550103"]);
    use base64::Engine;
    let basic = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{ACCOUNT}:{TWILIO_TOKEN}"))
    );
    for r in &got {
        assert_eq!(r.account, ACCOUNT);
        assert_eq!(r.authorization, basic);
        assert_eq!(r.field("From"), NUMBER);
        assert_eq!(
            r.field("Body"),
            "Vote closed: Tinder for Pets won with 3 of 4 votes. Thanks for voting!"
        );
    }
    wait_outbox_empty(&store).await;

    // Reopened and closed again: only who texted since is texted again.
    app.open().await;
    text(&app, "+14155550104", "2", "SM05").await;
    app.close().await;
    let got = fake.wait_for(4).await;
    assert_eq!(got[3].field("To"), "+14155550104");
    assert_eq!(
        got[3].field("Body"),
        "Vote closed: Tinder for Pets won with 3 of 5 votes. Thanks for voting!"
    );
    wait_outbox_empty(&store).await;
    assert_eq!(fake.received().len(), 4, "each once");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_voters_who_texted_get_the_outcome_once_in_memory() {
    the_voters_who_texted_get_the_outcome_once(VoteStore::Memory(MemoryStore::new())).await;
}

async fn redis_store() -> (VoteStore, String) {
    let server = support::redis::shared();
    let prefix = support::redis::fresh_prefix();
    match RedisStore::connect(&server.url(), &prefix).await {
        Ok(store) => (VoteStore::Redis(store), prefix),
        Err(e) => panic!("cannot connect to the test redis-server: {e}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_voters_who_texted_get_the_outcome_once_in_redis() {
    the_voters_who_texted_get_the_outcome_once(redis_store().await.0).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn numbers_wait_in_redis_only_sealed() {
    let fake = FakeTwilio::start(0, StatusCode::INTERNAL_SERVER_ERROR).await;
    let (store, prefix) = redis_store().await;
    let app = spawn(store.clone(), results(&fake, 50, 3)).await;
    app.open_build().await;
    text(&app, "+14155550177", "1", "SM01").await;

    let client = redis::Client::open(support::redis::shared().url()).unwrap();
    let mut con = client.get_multiplexed_async_connection().await.unwrap();
    let keys: Vec<String> = redis::cmd("KEYS")
        .arg(format!("{prefix}*"))
        .query_async(&mut con)
        .await
        .unwrap();
    assert!(keys.iter().any(|k| k.contains("smsout:to:")), "{keys:?}");
    for key in &keys {
        let dump: Vec<u8> = redis::cmd("DUMP").arg(key).query_async(&mut con).await.unwrap();
        let dump = String::from_utf8_lossy(&dump);
        assert!(!dump.contains("4155550177"), "{key} holds the number in clear");
        assert!(!key.contains("4155550177"), "{key} names the number");
    }
    // It expires on its own if the run never closes.
    let ttl: i64 = redis::cmd("PTTL")
        .arg(keys.iter().find(|k| k.contains("smsout:to:")).unwrap())
        .query_async(&mut con)
        .await
        .unwrap();
    assert!(ttl > 0, "{ttl}");

    app.close().await;
    fake.wait_for(1).await;
    wait_outbox_empty(&store).await;
    let left: Vec<String> = redis::cmd("KEYS")
        .arg(format!("{prefix}smsout:*"))
        .query_async(&mut con)
        .await
        .unwrap();
    assert!(left.is_empty(), "sent, so gone: {left:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_send_is_retried_with_growing_waits_until_it_goes_through() {
    let fake = FakeTwilio::start(2, StatusCode::SERVICE_UNAVAILABLE).await;
    let store = VoteStore::Memory(MemoryStore::new());
    let app = spawn(store.clone(), results(&fake, 50, 5)).await;
    app.open_build().await;
    text(&app, "+14155550101", "1", "SM01").await;
    app.close().await;
    let got = fake.wait_for(3).await;
    wait_outbox_empty(&store).await;
    assert_eq!(got.len(), 3, "two failures, then sent");
    assert!(got.iter().all(|r| r.field("To") == "+14155550101"));
    let first = got[1].at - got[0].at;
    let second = got[2].at - got[1].at;
    assert!(first >= Duration::from_millis(200), "first retry after {first:?}");
    assert!(second >= Duration::from_millis(400), "second retry after {second:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_send_that_keeps_failing_is_given_up_after_the_last_attempt() {
    let fake = FakeTwilio::start(usize::MAX, StatusCode::INTERNAL_SERVER_ERROR).await;
    let store = VoteStore::Memory(MemoryStore::new());
    let app = spawn(store.clone(), results(&fake, 50, 3)).await;
    app.open_build().await;
    text(&app, "+14155550101", "1", "SM01").await;
    app.close().await;
    fake.wait_for(3).await;
    wait_outbox_empty(&store).await;
    assert_eq!(fake.received().len(), 3, "three attempts, no more");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_message_twilio_refuses_is_not_retried() {
    // 400: say the number opted out (Twilio error 21610).
    let fake = FakeTwilio::start(1, StatusCode::BAD_REQUEST).await;
    let store = VoteStore::Memory(MemoryStore::new());
    let app = spawn(store.clone(), results(&fake, 50, 5)).await;
    app.open_build().await;
    text(&app, "+14155550101", "1", "SM01").await;
    app.close().await;
    fake.wait_for(1).await;
    wait_outbox_empty(&store).await;
    assert_eq!(fake.received().len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sends_keep_to_the_rate_limit() {
    let fake = FakeTwilio::start(0, StatusCode::INTERNAL_SERVER_ERROR).await;
    let store = VoteStore::Memory(MemoryStore::new());
    // 4 a second: the first 4 at once, then one every 250 ms.
    let app = spawn(store.clone(), results(&fake, 4, 3)).await;
    app.open_build().await;
    for i in 0..8 {
        text(&app, &format!("+1415555020{i}"), "1", &format!("SM{i}")).await;
    }
    app.close().await;
    let got = fake.wait_for(8).await;
    let span = got[7].at - got[0].at;
    assert!(span >= Duration::from_millis(900), "8 texts at 4/s took only {span:?}");
    wait_outbox_empty(&store).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_the_auth_token_results_texts_do_not_start() {
    let fake = FakeTwilio::start(0, StatusCode::INTERNAL_SERVER_ERROR).await;
    let mut settings = Settings::new("outbound-test-presenter-token", "s");
    settings.server.bind = "127.0.0.1:0".into();
    settings.sms = SmsSettings {
        auth_token: None,
        number: Some(NUMBER.into()),
        insecure_skip_signature: true,
        account_sid: None,
        results: Some(results(&fake, 1, 1)),
    };
    let story = cyoa::story::Story::parse("t.toml", helpers::STORY).unwrap().story;
    let built = cyoa::web::Application::build(settings, story).await;
    let e = built.err().expect("refused");
    assert!(e.to_string().contains("--twilio-auth-token"), "{e}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_run_forgets_the_numbers_of_the_last_one() {
    let fake = FakeTwilio::start(0, StatusCode::INTERNAL_SERVER_ERROR).await;
    let (store, prefix) = redis_store().await;
    let app = spawn(store.clone(), results(&fake, 50, 3)).await;
    app.open_build().await;
    text(&app, "+14155550101", "1", "SM01").await;
    let client = redis::Client::open(support::redis::shared().url()).unwrap();
    let mut con = client.get_multiplexed_async_connection().await.unwrap();
    let kept = || {
        let mut con = con.clone();
        let pattern = format!("{prefix}smsout:*");
        async move {
            redis::cmd("KEYS")
                .arg(pattern)
                .query_async::<Vec<String>>(&mut con)
                .await
                .unwrap()
        }
    };
    assert_eq!(kept().await.len(), 1, "the voter's sealed number");

    // The run ends with its vote open: its number is deleted, never texted.
    app.new_run().await;
    let deadline = Instant::now() + WAIT;
    while !kept().await.is_empty() {
        assert!(Instant::now() < deadline, "still kept: {:?}", kept().await);
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(fake.received().is_empty());
    let _: () = redis::cmd("PING").query_async(&mut con).await.unwrap();
}
