//! Talking to the cyoa server under test over HTTP: the presenter's
//! commands, the state, voter cookies, sockets from a chosen source
//! address, and the server's memory.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use reqwest::header::{COOKIE, SET_COOKIE};
use serde::Deserialize;
use tokio::net::{TcpSocket, TcpStream};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

/// The voter cookie's name.
pub const VOTER_COOKIE: &str = "cyoa_voter";
/// The presenter cookie's name.
pub const PRESENTER_COOKIE: &str = "cyoa_presenter";

/// An audience or presenter socket.
pub type Socket = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// The server under test.
#[derive(Clone)]
pub struct Server {
    /// Base URL, no trailing slash (`http://127.0.0.1:8080`).
    pub base: String,
    /// Where its TCP listener is.
    pub addr: SocketAddr,
    token: String,
    /// A client from the default source address, for the presenter.
    client: reqwest::Client,
}

/// One choice of the decision under load, as `/api/state` shows it.
#[derive(Debug, Clone, Deserialize)]
pub struct ChoiceView {
    pub id: String,
    pub votes: u64,
}

/// The counts of `views` in the order of the choice ids `ids` (0 for an
/// id not among them).
pub fn counts(ids: &[String], views: &[ChoiceView]) -> Vec<u64> {
    ids.iter()
        .map(|id| views.iter().find(|c| &c.id == id).map_or(0, |c| c.votes))
        .collect()
}

/// The decision part of `/api/state`.
#[derive(Debug, Clone, Deserialize)]
pub struct DecisionView {
    pub id: String,
    pub status: String,
    pub choices: Vec<ChoiceView>,
}

#[derive(Deserialize)]
struct StateView {
    run: Option<u64>,
    decision: Option<DecisionView>,
}

/// A client that never follows redirects (the form vote and the presenter
/// login answer 303) from `source`.
pub fn client(source: Option<IpAddr>) -> Result<reqwest::Client, String> {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .local_address(source)
        .timeout(Duration::from_secs(30))
        .pool_max_idle_per_host(16)
        .build()
        .map_err(|e| format!("cannot build an HTTP client: {e}"))
}

/// The value of cookie `name` among a response's `Set-Cookie` headers.
fn cookie_value(response: &reqwest::Response, name: &str) -> Option<String> {
    response.headers().get_all(SET_COOKIE).iter().find_map(|h| {
        let pair = h.to_str().ok()?.split(';').next()?;
        let (n, v) = pair.split_once('=')?;
        (n.trim() == name).then(|| v.trim().to_string())
    })
}

impl Server {
    /// The server at `base` (`http://host:port`), driven with `token`.
    pub async fn new(base: &str, token: &str) -> Result<Server, String> {
        let base = base.trim_end_matches('/').to_string();
        let url = reqwest::Url::parse(&base).map_err(|e| format!("bad --url {base}: {e}"))?;
        let host = url.host_str().ok_or_else(|| format!("--url {base} has no host"))?;
        let port = url.port_or_known_default().unwrap_or(80);
        let addr = tokio::net::lookup_host((host, port))
            .await
            .map_err(|e| format!("cannot resolve {host}: {e}"))?
            .find(SocketAddr::is_ipv4)
            .ok_or_else(|| format!("{host} has no IPv4 address"))?;
        Ok(Server {
            base,
            addr,
            token: token.to_string(),
            client: client(None)?,
        })
    }

    /// Runs a presenter command (`new-run`, `goto`, `open`, ...).
    /// Starts a new run, goes to `decision`'s slide and opens its vote;
    /// returns the choices' ids.
    pub async fn open_decision(&self, decision: &str) -> Result<Vec<String>, String> {
        self.command("new-run", None).await?;
        self.command("goto", Some(serde_json::json!({ "slide": decision })))
            .await?;
        self.command("open", None).await?;
        let view = self
            .decision()
            .await?
            .filter(|d| d.id == decision && d.status == "open")
            .ok_or_else(|| format!("the decision {decision} did not open"))?;
        let choices: Vec<String> = view.choices.iter().map(|c| c.id.clone()).collect();
        if choices.is_empty() {
            return Err(format!("the decision {decision} has no choices"));
        }
        Ok(choices)
    }

    pub async fn command(&self, name: &str, body: Option<serde_json::Value>) -> Result<(), String> {
        let mut request = self
            .client
            .post(format!("{}/api/presenter/{name}", self.base))
            .bearer_auth(&self.token);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.map_err(|e| format!("{name}: {e}"))?;
        let status = response.status();
        if status.is_success() {
            Ok(())
        } else {
            let text = response.text().await.unwrap_or_default();
            Err(format!("presenter command {name}: {status} {text}"))
        }
    }

    /// `GET /api/state`.
    async fn state(&self) -> Result<StateView, String> {
        let response = self
            .client
            .get(format!("{}/api/state", self.base))
            .send()
            .await
            .map_err(|e| format!("GET /api/state: {e}"))?;
        response.json().await.map_err(|e| format!("GET /api/state: {e}"))
    }

    /// The current decision, from `GET /api/state`.
    pub async fn decision(&self) -> Result<Option<DecisionView>, String> {
        Ok(self.state().await?.decision)
    }

    /// Waits (10 s at most) until this instance shows what `first` shows:
    /// the same run, on `decision`, open. Instances sharing a store follow
    /// each other's presenter through the store's events.
    pub async fn wait_for_open(&self, first: &Server, decision: &str) -> Result<(), String> {
        let run = first.state().await?.run;
        let by = tokio::time::Instant::now() + Duration::from_secs(10);
        loop {
            let state = self.state().await?;
            if state.run == run
                && state
                    .decision
                    .as_ref()
                    .is_some_and(|d| d.id == decision && d.status == "open")
            {
                return Ok(());
            }
            if tokio::time::Instant::now() > by {
                return Err(format!(
                    "{} did not follow {} to run {run:?}, {decision} open, within 10 s: do they share a store?",
                    self.base, first.base
                ));
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// The presenter cookie, from `GET /presenter?token=...`.
    pub async fn presenter_cookie(&self) -> Result<String, String> {
        let response = self
            .client
            .get(format!("{}/presenter", self.base))
            .query(&[("token", &self.token)])
            .send()
            .await
            .map_err(|e| format!("GET /presenter: {e}"))?;
        cookie_value(&response, PRESENTER_COOKIE).ok_or_else(|| {
            format!(
                "GET /presenter gave no presenter cookie ({}): wrong token?",
                response.status()
            )
        })
    }

    /// A new voter's cookie, from `GET /` with `client`.
    pub async fn voter_cookie(&self, client: &reqwest::Client) -> Result<String, String> {
        let response = client
            .get(format!("{}/", self.base))
            .send()
            .await
            .map_err(|e| format!("GET /: {}", error_kind(&e)))?;
        let status = response.status();
        let cookie = cookie_value(&response, VOTER_COOKIE);
        // Read the page so that the connection goes back to the pool.
        let _ = response.bytes().await;
        if status == reqwest::StatusCode::TOO_MANY_REQUESTS {
            // Every voter here comes from a few addresses.
            return Err(
                "GET /: no new voter (429): start the server with a higher --voter-mint-rate and --voter-mint-burst"
                    .into(),
            );
        }
        cookie.ok_or_else(|| "GET /: no voter cookie".to_string())
    }

    /// Opens `/ws` (with `query`) from `source`, sending `cookie`.
    pub async fn socket(&self, source: IpAddr, query: &str, cookie: &str) -> Result<Socket, String> {
        let socket = TcpSocket::new_v4().map_err(|e| format!("socket: {}", e.kind()))?;
        socket
            .bind(SocketAddr::new(source, 0))
            .map_err(|e| format!("bind: {}", e.kind()))?;
        let stream = socket
            .connect(self.addr)
            .await
            .map_err(|e| format!("connect: {}", e.kind()))?;
        let _ = stream.set_nodelay(true);
        let url = format!("ws://{}/ws{query}", self.addr);
        let mut request = url.into_client_request().map_err(|e| format!("ws request: {e}"))?;
        let value = cookie.parse().map_err(|_| "cookie is not a header value".to_string())?;
        request.headers_mut().insert(COOKIE, value);
        // Small buffers: tens of thousands of these live in this process.
        let config = WebSocketConfig::default().read_buffer_size(4096).write_buffer_size(0);
        let (socket, _) =
            tokio_tungstenite::client_async_with_config(request, MaybeTlsStream::Plain(stream), Some(config))
                .await
                .map_err(|e| format!("ws handshake: {}", handshake_kind(&e)))?;
        Ok(socket)
    }
}

/// A short name for an HTTP error, for the error table.
fn error_kind(e: &reqwest::Error) -> &'static str {
    if e.is_timeout() {
        "timeout"
    } else if e.is_connect() {
        "connect failed"
    } else {
        "request failed"
    }
}

fn handshake_kind(e: &tokio_tungstenite::tungstenite::Error) -> String {
    use tokio_tungstenite::tungstenite::Error;
    match e {
        Error::Http(response) => format!("HTTP {}", response.status()),
        Error::Io(io) => format!("{}", io.kind()),
        other => format!("{other}"),
    }
}

/// The resident memory of process `pid` in KiB (`VmRSS`).
pub fn rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}
