//! The web server: pages, the JSON API, the live socket.
//!
//! The flow of a request: [`auth`] and [`voter`] say who is calling,
//! [`control`] changes the run or counts a vote, [`view`] says where the
//! talk stands, [`push`] tells every socket, [`presence`] withdraws the
//! votes of voters who left. [`Application`] binds and serves it all.

pub mod api;
pub mod auth;
pub mod control;
pub mod error;
pub mod pages;
pub mod presence;
pub mod push;
pub mod state;
pub mod view;
pub mod voter;
pub mod ws;

use std::future::Future;
use std::io;
use std::path::PathBuf;
use std::time::Duration;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::{HeaderValue, Request, header};
use axum::routing::{get, post};
use axum_extra::extract::cookie::Key;
use sha2::{Digest, Sha512};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tower_http::compression::CompressionLayer;
use tower_http::services::ServeDir;
use tower_http::set_header::SetResponseHeaderLayer;
use tower_http::trace::TraceLayer;

pub use state::AppState;

use crate::store::VoteStore;
use crate::story::Story;

/// The largest request body cyoa reads (forms, JSON).
pub const MAX_BODY: usize = 4 * 1024;

/// The Content-Security-Policy of every response: nothing but our own
/// files, no inline script or style, no framing.
pub const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'";

/// Everything the server needs to start.
pub struct Config {
    /// The talk.
    pub story: Story,
    /// The vote store.
    pub store: VoteStore,
    /// Address to listen on (`127.0.0.1:0` picks a free port).
    pub bind: String,
    /// Base URL the audience uses; `None`: `http://` and the bound address.
    pub public_url: Option<String>,
    /// The presenter token; must not be empty.
    pub presenter_token: String,
    /// Signs cookies; any length, the longer the better.
    pub secret: String,
    /// Overrides the story's presence grace.
    pub presence_grace: Option<Duration>,
    /// Directory served at `/static`.
    pub static_dir: PathBuf,
}

/// The `static/` directory: the one in the working directory, else the
/// one beside the sources this binary was built from.
pub fn default_static_dir() -> PathBuf {
    let here = PathBuf::from("static");
    if here.is_dir() {
        here
    } else {
        PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/static"))
    }
}

/// A bound, ready-to-run server.
pub struct Application {
    listener: TcpListener,
    port: u16,
    state: AppState,
    router: Router,
    stop: watch::Sender<bool>,
}

fn invalid(message: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidInput, message)
}

/// `scheme://host[:port]` of a URL, and whether it is https.
fn origin_of(url: &str) -> io::Result<(String, bool)> {
    let (scheme, rest) = url
        .split_once("://")
        .ok_or_else(|| invalid(format!("the public URL {url:?} must start with http:// or https://")))?;
    let scheme = scheme.to_ascii_lowercase();
    if scheme != "http" && scheme != "https" {
        return Err(invalid(format!(
            "the public URL {url:?} must start with http:// or https://"
        )));
    }
    let host = rest.split('/').next().unwrap_or_default();
    if host.is_empty() {
        return Err(invalid(format!("the public URL {url:?} has no host")));
    }
    Ok((format!("{scheme}://{}", host.to_ascii_lowercase()), scheme == "https"))
}

impl Application {
    /// Checks the config and binds the listener (so port 0 is resolved).
    pub async fn build(config: Config) -> io::Result<Application> {
        if config.presenter_token.is_empty() {
            return Err(invalid("the presenter token must not be empty".into()));
        }
        let listener = TcpListener::bind(&config.bind).await?;
        let addr = listener.local_addr()?;
        let public_url = config
            .public_url
            .unwrap_or_else(|| format!("http://{addr}"))
            .trim_end_matches('/')
            .to_string();
        let (public_origin, secure_cookies) = origin_of(&public_url)?;
        let (stop, stopping) = watch::channel(false);
        let settings = &config.story.settings;
        let state = AppState::new(state::Inner {
            key: Key::from(&Sha512::digest(config.secret.as_bytes())),
            presenter_mark: auth::presenter_mark(&config.secret, &config.presenter_token),
            presenter_token: config.presenter_token,
            public_url,
            public_origin,
            secure_cookies,
            web_votes: settings.web_votes,
            grace: config.presence_grace.unwrap_or(settings.presence_grace),
            pushes: push::Pushes::new(),
            presence: presence::Presence::default(),
            control: tokio::sync::Mutex::new(()),
            stopping,
            story: config.story,
            store: config.store,
        });
        let router = router(state.clone(), config.static_dir);
        Ok(Application {
            listener,
            port: addr.port(),
            state,
            router,
            stop,
        })
    }

    /// The port it listens on.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The audience's base URL, without a trailing slash.
    pub fn public_url(&self) -> &str {
        &self.state.public_url
    }

    /// The audience page's URL.
    pub fn audience_url(&self) -> String {
        format!("{}/", self.state.public_url)
    }

    /// The presenter's login URL. It holds the token: print it once, never log it.
    pub fn presenter_url(&self) -> String {
        format!(
            "{}/presenter?token={}",
            self.state.public_url, self.state.presenter_token
        )
    }

    /// Serves until SIGTERM or Ctrl-C, then stops gracefully.
    pub async fn run_until_stopped(self) -> io::Result<()> {
        self.run_until(shutdown_signal()).await
    }

    /// Serves until `stop` completes: requests in flight finish, sockets
    /// are closed, the tally flusher ends.
    pub async fn run_until(self, stop: impl Future<Output = ()> + Send + 'static) -> io::Result<()> {
        let flusher = tokio::spawn(push::flusher(self.state.clone()));
        let tell = self.stop;
        let result = axum::serve(self.listener, self.router)
            .with_graceful_shutdown(async move {
                stop.await;
                tracing::info!("stopping");
                // Sockets are upgraded connections the server no longer
                // tracks: they close on this signal.
                let _ = tell.send(true);
            })
            .await;
        let _ = flusher.await;
        result
    }
}

async fn shutdown_signal() {
    let ctrl_c = async {
        if let Err(e) = tokio::signal::ctrl_c().await {
            tracing::error!(error = %e, "cannot listen for Ctrl-C");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(e) => {
                tracing::error!(error = %e, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = terminate => {},
    }
}

/// Every route, with the layers every response gets.
pub fn router(state: AppState, static_dir: PathBuf) -> Router {
    let static_files = tower::ServiceBuilder::new()
        .layer(SetResponseHeaderLayer::if_not_present(
            header::CACHE_CONTROL,
            HeaderValue::from_static("public, max-age=3600"),
        ))
        .service(ServeDir::new(static_dir));
    let compressed = Router::new()
        .route("/", get(pages::audience))
        .route("/vote/{decision}", get(pages::pinned).post(pages::vote))
        .route("/presenter", get(pages::presenter))
        .route("/api/state", get(api::state))
        .route("/api/presenter/next", post(api::next))
        .route("/api/presenter/back", post(api::back))
        .route("/api/presenter/goto", post(api::goto))
        .route("/api/presenter/open", post(api::open))
        .route("/api/presenter/close", post(api::close))
        .route("/api/presenter/follow", post(api::follow))
        .route("/api/presenter/new-run", post(api::new_run))
        .route("/api/runs", get(api::runs))
        .route("/api/runs/{run}", get(api::run))
        .nest_service("/static", static_files)
        .fallback(pages::not_found)
        .layer(CompressionLayer::new());
    Router::new()
        // Not compressed: a socket upgrade and two tiny answers.
        .route("/ws", get(ws::upgrade))
        .route("/healthz", get(api::healthz))
        .route("/readyz", get(api::readyz))
        .merge(compressed)
        .layer(DefaultBodyLimit::max(MAX_BODY))
        .layer(SetResponseHeaderLayer::overriding(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(CSP),
        ))
        .layer(SetResponseHeaderLayer::overriding(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ))
        .layer(SetResponseHeaderLayer::overriding(
            header::REFERRER_POLICY,
            HeaderValue::from_static("no-referrer"),
        ))
        // The span names the path only: the query may hold the presenter token.
        .layer(TraceLayer::new_for_http().make_span_with(
            |req: &Request<_>| tracing::info_span!("request", method = %req.method(), path = %req.uri().path()),
        ))
        .with_state(state)
}
