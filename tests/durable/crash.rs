//! `kill -9` of a real server during a burst of form, socket and SMS votes:
//! every vote it acknowledged is back after the restart, none counted
//! twice, and the presenter finds the talk where it was.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

use crate::server::{Server, TOKEN};
use crate::support::backends::{data_dir, data_file};
use crate::support::ws::votes_of;
use crate::support::{message_sid, presenter_request};

/// Flags that let one test machine be a whole room: no rate limits that
/// one address would hit, no wait before a new voter may vote, and a
/// presence grace longer than the test.
pub const ROOM: &[&str] = &[
    "--voter-min-age",
    "0",
    "--address-rate",
    "100000",
    "--address-burst",
    "100000",
    "--voter-mint-rate",
    "100000",
    "--voter-mint-burst",
    "100000",
    "--max-connections-per-address",
    "100000",
    "--presence-grace",
    "120",
    "--insecure-skip-twilio-signature",
];

/// What the clients saw, per choice (0: pets, 1: docs).
#[derive(Default)]
pub struct Counts {
    /// Votes sent (whether or not an answer came).
    pub sent: [AtomicU64; 2],
    /// Votes acknowledged: a 303 to a form, `voted` on a socket, a TwiML
    /// confirmation to a text.
    pub acknowledged: [AtomicU64; 2],
    /// Votes acknowledged per channel: form, socket, text.
    pub by_channel: [AtomicU64; 3],
}

impl Counts {
    pub fn total_acknowledged(&self) -> u64 {
        self.acknowledged.iter().map(|a| a.load(Ordering::SeqCst)).sum()
    }
}

pub const CHOICES: [&str; 2] = ["pets", "docs"];
const LABELS: [&str; 2] = ["Tinder for Pets", "Doc Send"];

/// The `Cookie` header of a new voter (its first page load).
async fn new_voter(client: &reqwest::Client, address: &str) -> Option<String> {
    let r = client.get(format!("{address}/")).send().await.ok()?;
    let cookies: Vec<String> = r
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .filter_map(|v| v.split(';').next())
        .map(str::to_string)
        .collect();
    (!cookies.is_empty()).then(|| cookies.join("; "))
}

/// One form vote; `None` once the server is gone.
async fn form_vote(client: &reqwest::Client, address: &str, choice: usize, counts: &Counts) -> Option<()> {
    let cookie = new_voter(client, address).await?;
    counts.sent[choice].fetch_add(1, Ordering::SeqCst);
    let r = client
        .post(format!("{address}/vote/build"))
        .header("origin", address)
        .header("cookie", cookie)
        .form(&[("choice", CHOICES[choice])])
        .send()
        .await
        .ok()?;
    assert_eq!(r.status(), reqwest::StatusCode::SEE_OTHER, "a form vote was refused");
    counts.acknowledged[choice].fetch_add(1, Ordering::SeqCst);
    counts.by_channel[0].fetch_add(1, Ordering::SeqCst);
    Some(())
}

/// One socket vote; `None` once the server is gone.
async fn socket_vote(client: &reqwest::Client, address: &str, choice: usize, counts: &Counts) -> Option<()> {
    let cookie = new_voter(client, address).await?;
    let mut req = format!("{}/ws", address.replace("http://", "ws://"))
        .into_client_request()
        .ok()?;
    req.headers_mut().insert("cookie", cookie.parse().ok()?);
    let (mut ws, _) = tokio_tungstenite::connect_async(req).await.ok()?;
    let vote = json!({ "type": "vote", "decision": "build", "choice": CHOICES[choice] });
    counts.sent[choice].fetch_add(1, Ordering::SeqCst);
    ws.send(Message::text(vote.to_string())).await.ok()?;
    loop {
        let Message::Text(text) = ws.next().await?.ok()? else {
            continue;
        };
        let m: Value = serde_json::from_str(&text).ok()?;
        match m["type"].as_str() {
            Some("voted") => break,
            Some("error") => panic!("a socket vote was refused: {m}"),
            _ => {}
        }
    }
    counts.acknowledged[choice].fetch_add(1, Ordering::SeqCst);
    counts.by_channel[1].fetch_add(1, Ordering::SeqCst);
    Some(())
}

/// One text; `None` once the server is gone.
async fn sms_vote(client: &reqwest::Client, address: &str, n: u64, choice: usize, counts: &Counts) -> Option<()> {
    let from = format!("+1555{:07}", n);
    let sid = message_sid(&format!("k{n}"));
    let body = (choice + 1).to_string();
    let form = {
        let mut form = form_urlencoded::Serializer::new(String::new());
        for (k, v) in [
            ("From", from.as_str()),
            ("To", "+15005550006"),
            ("Body", body.as_str()),
            ("MessageSid", sid.as_str()),
            ("SmsMessageSid", sid.as_str()),
            ("NumSegments", "1"),
        ] {
            form.append_pair(k, v);
        }
        form.finish()
    };
    counts.sent[choice].fetch_add(1, Ordering::SeqCst);
    let r = client
        .post(format!("{address}/sms"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(form)
        .send()
        .await
        .ok()?;
    let status = r.status();
    let text = r.text().await.ok()?;
    assert_eq!(status, reqwest::StatusCode::OK, "a text was refused: {text}");
    assert!(text.contains(LABELS[choice]), "the reply confirms the vote: {text}");
    counts.acknowledged[choice].fetch_add(1, Ordering::SeqCst);
    counts.by_channel[2].fetch_add(1, Ordering::SeqCst);
    Some(())
}

/// Sends votes of every kind from `lanes` loops each until the server is
/// gone; the loops' handles.
pub fn burst(address: &str, counts: &Arc<Counts>, lanes: u64) -> Vec<tokio::task::JoinHandle<()>> {
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(20))
        .build()
        .expect("a client");
    let next = Arc::new(AtomicU64::new(0));
    let mut tasks = Vec::new();
    for lane in 0..lanes * 3 {
        let (client, address, counts, next) = (client.clone(), address.to_string(), counts.clone(), next.clone());
        tasks.push(tokio::spawn(async move {
            loop {
                let n = next.fetch_add(1, Ordering::SeqCst);
                // Two pets for every docs: the tallies differ.
                let choice = usize::from(n % 3 == 2);
                let sent = match lane % 3 {
                    0 => form_vote(&client, &address, choice, &counts).await,
                    1 => socket_vote(&client, &address, choice, &counts).await,
                    _ => sms_vote(&client, &address, n, choice, &counts).await,
                };
                if sent.is_none() {
                    return;
                }
            }
        }));
    }
    tasks
}

/// Moves the run to `build` and opens its vote.
pub async fn open_build(address: &str) {
    presenter(address, "goto", Some(json!({ "slide": "build" }))).await;
    presenter(address, "open", None).await;
}

/// Closes the vote, starts a new run and opens `build` in it; the history
/// as the presenter then sees it.
pub async fn next_run_open(address: &str) -> Value {
    presenter(address, "close", None).await;
    presenter(address, "new-run", None).await;
    open_build(address).await;
    get(address, "/api/runs").await
}

/// A client that does not follow redirects, as the form votes need.
fn form_client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

pub async fn presenter(address: &str, action: &str, body: Option<Value>) -> Value {
    let r = presenter_request(&reqwest::Client::new(), address, TOKEN, action, body)
        .send()
        .await
        .expect("the server answers");
    assert!(r.status().is_success(), "{action}: {}", r.status());
    r.json().await.expect("JSON")
}

pub async fn get(address: &str, path: &str) -> Value {
    reqwest::Client::new()
        .get(format!("{address}{path}"))
        .bearer_auth(TOKEN)
        .send()
        .await
        .expect("the server answers")
        .json()
        .await
        .expect("JSON")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_acknowledged_vote_survives_kill_9_and_none_counts_twice() {
    let (_dir, file) = data_file();
    let mut server = Server::start(&file, ROOM);
    let address = server.address.clone();
    // Run 1: a rehearsal, closed; run 2 is the talk, its vote open.
    open_build(&address).await;
    let counts = Arc::new(Counts::default());
    let client = form_client();
    form_vote(&client, &address, 1, &counts).await.expect("a vote");
    let before = next_run_open(&address).await;

    let counts = Arc::new(Counts::default());
    let tasks = burst(&address, &counts, 8);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    while counts.total_acknowledged() < 150 {
        assert!(tokio::time::Instant::now() < deadline, "the burst stalled");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    server.kill9();
    for task in tasks {
        task.await.expect("a vote loop");
    }
    let acknowledged = counts.acknowledged.each_ref().map(|a| a.load(Ordering::SeqCst));
    let sent = counts.sent.each_ref().map(|a| a.load(Ordering::SeqCst));
    let channels = counts.by_channel.each_ref().map(|a| a.load(Ordering::SeqCst));
    println!(
        "kill -9 after {acknowledged:?} votes acknowledged of {sent:?} sent (pets, docs); \
         {channels:?} acknowledged (forms, sockets, texts)"
    );
    assert!(channels.iter().all(|n| *n > 0), "every channel voted: {channels:?}");
    assert!(
        sent.iter().sum::<u64>() > acknowledged.iter().sum::<u64>(),
        "killed mid-burst: some votes had no answer"
    );

    let server = Server::start(&file, ROOM);
    let state = get(&server.address, "/api/state").await;
    for (i, choice) in CHOICES.iter().enumerate() {
        let counted = votes_of(&state["decision"], choice);
        assert!(
            counted >= acknowledged[i],
            "{choice}: {counted} counted, {} acknowledged: {state}",
            acknowledged[i]
        );
        assert!(
            counted <= sent[i],
            "{choice}: {counted} counted, only {} sent (a vote counted twice): {state}",
            sent[i]
        );
    }
    let after = get(&server.address, "/api/runs").await;
    assert_eq!(after["current"], 2, "{after}");
    assert_eq!(after["runs"][0], before["runs"][0], "the rehearsal's history is back");
    let talk = &after["runs"][1];
    assert_eq!(talk["slide"], "build", "the presenter's slide: {talk}");
    assert_eq!(talk["open"], "build", "the open decision: {talk}");
    assert_eq!(talk["path"], before["runs"][1]["path"], "{talk}");
    assert_eq!(before["runs"][0]["decisions"][0]["id"], "build", "{before}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_a_clean_stop_the_data_file_alone_holds_the_talk() {
    let (_dir, file) = data_file();
    let mut server = Server::start(&file, ROOM);
    let address = server.address.clone();
    open_build(&address).await;
    let counts = Counts::default();
    let client = form_client();
    for n in 0..5 {
        form_vote(&client, &address, n % 2, &counts).await.expect("a vote");
    }
    assert!(server.stop().success(), "a clean stop");
    // Only the data file, as a presenter would copy it to another laptop.
    let elsewhere = data_dir();
    let copy = elsewhere.path().join("talk.sqlite3");
    std::fs::copy(&file, &copy).expect("a copy");
    let server = Server::start(&copy, ROOM);
    let state = get(&server.address, "/api/state").await;
    assert_eq!(votes_of(&state["decision"], "pets"), 3, "{state}");
    assert_eq!(votes_of(&state["decision"], "docs"), 2, "{state}");
}
