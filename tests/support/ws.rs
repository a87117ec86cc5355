//! What the web and multi-instance tests read from a cyoa WebSocket: JSON
//! messages, and the votes a decision's JSON gives a Choice.

use std::time::Duration;

use futures_util::StreamExt;
use serde_json::Value;
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

/// A client's end of a cyoa socket.
pub type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// The next JSON message, skipping pings and pongs, or `None` once the
/// socket closed; fails if nothing comes within `within`.
pub async fn next_json(ws: &mut Ws, within: Duration) -> Option<Value> {
    loop {
        let message = tokio::time::timeout(within, ws.next())
            .await
            .unwrap_or_else(|_| panic!("no message within {within:?}"));
        match message {
            Some(Ok(Message::Text(t))) => return Some(serde_json::from_str(t.as_str()).expect("JSON text")),
            Some(Ok(Message::Ping(_) | Message::Pong(_))) => continue,
            Some(Ok(Message::Close(_))) | None | Some(Err(_)) => return None,
            Some(Ok(other)) => panic!("unexpected message {other:?}"),
        }
    }
}

/// Votes for `choice` in a `decision` JSON (from the state or a tally).
pub fn votes_of(decision: &Value, choice: &str) -> u64 {
    decision["choices"]
        .as_array()
        .and_then(|cs| cs.iter().find(|c| c["id"] == choice))
        .and_then(|c| c["votes"].as_u64())
        .unwrap_or_else(|| panic!("no choice {choice} in {decision}"))
}
