//! Keeps sockets honest: the server pings every socket every
//! [`Limits::ping_every`](super::limits::Limits) (30 s: under nginx's 60 s
//! read timeout, so a quiet socket behind a proxy stays open), and closes a
//! socket that sent nothing, not even a pong, for
//! [`Limits::socket_timeout`](super::limits::Limits) (60 s): a phone that
//! went away without a goodbye frees its slot and its presence.
//!
//! [`keep_alive`] wraps the socket's two halves for
//! [`super::ws::serve_socket`], which needs no change: writes go through a
//! task that also sends the pings, and reads end when the client is silent
//! too long.

use std::time::Duration;

use axum::extract::ws::{Message, WebSocket};
use futures_util::{Sink, SinkExt, Stream, StreamExt};
use tokio::sync::mpsc;
use tokio::time::Instant;

/// Messages waiting for the writer task; a socket this far behind waits.
const QUEUE: usize = 16;

/// The socket's halves with pings added and silence timed out.
pub fn keep_alive(
    socket: WebSocket,
    ping_every: Duration,
    timeout: Duration,
) -> (
    impl Sink<Message, Error = ()> + Unpin + Send + 'static,
    impl Stream<Item = Result<Message, axum::Error>> + Unpin + Send + 'static,
) {
    let (mut sink, stream) = socket.split();
    let (to_socket, mut outbox) = mpsc::channel::<Message>(QUEUE);
    tokio::spawn(async move {
        let mut ping = tokio::time::interval_at(Instant::now() + ping_every, ping_every);
        loop {
            let message = tokio::select! {
                message = outbox.recv() => match message {
                    Some(m) => m,
                    None => break,
                },
                _ = ping.tick() => Message::Ping(Default::default()),
            };
            let closing = matches!(message, Message::Close(_));
            if sink.send(message).await.is_err() || closing {
                break;
            }
        }
        let _ = sink.close().await;
    });
    let writes = futures_util::sink::unfold(to_socket, |tx, message: Message| async move {
        tx.send(message).await.map_err(|_| ())?;
        Ok::<_, ()>(tx)
    });
    let reads = futures_util::stream::unfold(stream, move |mut stream| async move {
        tokio::select! {
            message = stream.next() => message.map(|m| (m, stream)),
            _ = tokio::time::sleep(timeout) => {
                tracing::debug!(?timeout, "the socket was silent too long: closing it");
                None
            }
        }
    });
    (Box::pin(writes), Box::pin(reads))
}
