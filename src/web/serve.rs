//! The accept loop: hyper's HTTP/1 server under the router, in place of
//! `axum::serve`, which cannot bound the request head, time out slow or
//! idle clients, or count connections per address.
//!
//! Each connection: counted against its address ([`Guards::connect`]; over
//! the limit it gets a 503 and is closed), its request head bounded
//! ([`Limits::max_header`], 431 beyond) and timed ([`Limits::header_timeout`],
//! which also closes a kept-alive connection left idle), its peer address
//! given to handlers as `ConnectInfo<SocketAddr>`. A connection upgraded to
//! a WebSocket keeps its slot until the socket closes. On stop, the
//! listener closes, requests in flight finish, then `serve` returns.

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::extract::ConnectInfo;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tower::ServiceExt;

use super::limits::{ConnectionSlot, Guards};

/// What a refused connection reads before it is closed.
const TOO_MANY: &str = "Too many connections from your address; close some and try again.\n";

/// Serves `router` on `listener` until `stop` completes, then lets the
/// requests in flight finish.
pub async fn serve(
    listener: TcpListener,
    router: super::App,
    guards: Arc<Guards>,
    stop: impl Future<Output = ()> + Send + 'static,
) -> io::Result<()> {
    let limits = &guards.limits;
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(limits.header_timeout)
        // hyper's read buffer must hold at least 8 KiB; the head limit itself
        // may be lower.
        .max_buf_size(limits.max_header.max(8 * 1024) + limits.max_body)
        .max_header_size(limits.max_header);
    let http = Arc::new(http);
    guards.sweep();
    // Connections hold a receiver; `closed()` on the sender waits for all.
    let (closing, closing_rx) = watch::channel(false);
    let mut stop = std::pin::pin!(stop);
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(pair) => pair,
                Err(e) => {
                    // Out of file descriptors, say: wait instead of spinning.
                    tracing::warn!(error = %e, "cannot accept a connection");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
            _ = &mut stop => break,
        };
        // Behind a trusted proxy every connection comes from the proxy: the
        // per-address count would cap the whole server, so the proxy's own
        // limits (nginx `limit_conn`) apply instead.
        let slot = if guards.limits.trust_forwarded_for {
            None
        } else {
            match guards.connect(peer.ip()) {
                Some(slot) => Some(slot),
                None => {
                    crate::metrics::connection_refused();
                    tracing::info!(peer = %peer.ip(), "too many connections from one address: refused");
                    tokio::spawn(refuse(stream));
                    continue;
                }
            }
        };
        let _ = stream.set_nodelay(true);
        tokio::spawn(connection(
            Counted {
                stream,
                _slot: slot,
                _open: crate::metrics::connection_open(),
            },
            peer,
            router.clone(),
            http.clone(),
            closing_rx.clone(),
        ));
    }
    drop(listener);
    drop(closing_rx);
    let _ = closing.send(true);
    closing.closed().await;
    Ok(())
}

async fn refuse(mut stream: TcpStream) {
    let _ = tokio::time::timeout(Duration::from_secs(2), async {
        let response = format!(
            "HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain; charset=utf-8\r\n\
             Retry-After: 10\r\nConnection: close\r\nContent-Length: {}\r\n\r\n{TOO_MANY}",
            TOO_MANY.len()
        );
        let _ = stream.write_all(response.as_bytes()).await;
        let _ = stream.shutdown().await;
    })
    .await;
}

async fn connection(
    stream: Counted,
    peer: SocketAddr,
    router: super::App,
    http: Arc<hyper::server::conn::http1::Builder>,
    mut closing: watch::Receiver<bool>,
) {
    let service = hyper::service::service_fn(move |mut request: hyper::Request<Incoming>| {
        request.extensions_mut().insert(ConnectInfo(peer));
        router.clone().oneshot(request.map(axum::body::Body::new))
    });
    let conn = http.serve_connection(TokioIo::new(stream), service).with_upgrades();
    let mut conn = std::pin::pin!(conn);
    tokio::select! {
        result = conn.as_mut() => {
            if let Err(e) = result {
                tracing::debug!(error = %e, "connection ended with an error");
            }
        }
        _ = closing.changed() => {
            conn.as_mut().graceful_shutdown();
            let _ = conn.as_mut().await;
        }
    }
}

/// A connection that counts as open (for its address, and in the metrics)
/// as long as it lives, through a WebSocket upgrade too.
struct Counted {
    stream: TcpStream,
    _slot: Option<ConnectionSlot>,
    _open: crate::metrics::ConnectionOpen,
}

impl AsyncRead for Counted {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_read(cx, buf)
    }
}

impl AsyncWrite for Counted {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write(cx, buf)
    }
    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_flush(cx)
    }
    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_shutdown(cx)
    }
    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write_vectored(cx, bufs)
    }
    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }
}
