//! A socket whose client stops reading is closed within
//! `--socket-timeout`, even while pushes keep coming (a blocked send does
//! not hold up its heartbeat), and its presence vote goes a grace later.

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

use crate::helpers::{Options, WAIT, spawn_app_with, test_limits};

#[tokio::test]
async fn a_socket_that_stops_reading_is_closed_and_its_presence_vote_withdrawn() {
    // A long prompt makes every state push large, so a handful of them
    // fills the connection's buffers.
    let prompt = "Which one? ".repeat(2_000);
    let story = crate::helpers::STORY.replace("prompt = \"Pets or docs?\"", &format!("prompt = \"{prompt}\""));
    let app = spawn_app_with(Options {
        story,
        limits: cyoa::web::Limits {
            ping_every: Duration::from_millis(500),
            socket_timeout: Duration::from_secs(2),
            // The presenter's calls and the test's reads all come from
            // 127.0.0.1.
            per_address: cyoa::web::limits::Rate {
                per_second: 100_000,
                burst: 100_000,
            },
            ..test_limits()
        },
        ..Options::default()
    })
    .await;
    app.open_build().await;

    // A real client over a TCP connection with a small receive buffer.
    let voter = app.voter().await;
    let mut request = format!("{}/ws", app.ws_address)
        .into_client_request()
        .expect("a request");
    let cookie = voter.cookie_header().expect("the page gave a cookie");
    request
        .headers_mut()
        .insert("cookie", cookie.parse().expect("a header"));
    let tcp = tokio::net::TcpSocket::new_v4().expect("a socket");
    tcp.set_recv_buffer_size(4096).expect("a small receive buffer");
    let address = app.address.trim_start_matches("http://").parse().expect("an address");
    let tcp = tcp.connect(address).await.expect("the server accepts");
    let (ws, _) = tokio_tungstenite::client_async(request, tcp)
        .await
        .expect("the socket opens");
    let (mut sink, mut stream) = ws.split();
    sink.send(Message::text(
        json!({"type": "vote", "decision": "build", "choice": "pets"}).to_string(),
    ))
    .await
    .expect("the vote is sent");
    loop {
        let message = tokio::time::timeout(WAIT, stream.next())
            .await
            .expect("an answer in time")
            .expect("the socket is open")
            .expect("a message");
        let Message::Text(text) = message else { continue };
        let message: Value = serde_json::from_str(text.as_str()).expect("JSON");
        if message["type"] == "voted" {
            break;
        }
        assert_ne!(message["type"], "error", "{message}");
    }
    assert_eq!(app.votes("pets").await, 1);

    // From now on the client reads nothing, but it still speaks: its pings
    // would keep a socket that the server reads from alive.
    let speaker = tokio::spawn(async move {
        while sink.send(Message::Ping(Vec::new().into())).await.is_ok() {
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    });
    // The presenter keeps pushing states until the server gave up on the
    // client: its vote is withdrawn a grace after its socket closed.
    let deadline = tokio::time::Instant::now() + 3 * WAIT;
    let mut published = false;
    let mut pushes = 0;
    while app.votes("pets").await == 1 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the socket that stopped reading still holds its vote after {pushes} pushes"
        );
        published = !published;
        let r = app
            .presenter_call("results", Some(json!({ "published": published })))
            .await;
        assert!(r.status().is_success(), "{}", r.status());
        pushes += 1;
    }
    assert_eq!(app.state().await["decision"]["total"], 0);
    speaker.abort();
    drop(stream);
}
