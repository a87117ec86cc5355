//! The web server: pages, the JSON API, the live socket.
//!
//! The flow of a request: [`auth`], [`voter`] and [`room`] say who is
//! calling and where they may vote, then the talk's core
//! ([`crate::talk`]) changes the run or counts the vote, and [`error`]
//! turns its refusals into HTTP answers; [`ws`] carries its pushes to the
//! sockets; [`results`] and [`explore`] open the run to the audience after
//! the talk. [`Application`] binds and serves it all.

pub mod api;
pub mod assets;
pub mod auth;
pub mod error;
pub mod explore;
pub mod headers;
pub mod heartbeat;
pub mod join;
pub mod lan;
pub mod language;
pub mod limits;
pub mod notes;
pub mod pages;
pub mod results;
pub mod room;
pub mod runs;
pub mod scrape;
pub mod serve;
pub mod sms;
pub mod state;
pub mod voter;
pub mod ws;

use std::convert::Infallible;
use std::future::Future;
use std::io;
use std::path::PathBuf;
use std::time::Duration;

use axum::Router;
use axum::extract::{DefaultBodyLimit, Request};
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum_extra::extract::cookie::Key;
use sha2::{Digest, Sha512};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tower_http::compression::CompressionLayer;
use tower_http::set_header::SetResponseHeaderLayer;

pub use limits::Limits;
pub use state::AppState;

use crate::settings::Settings;
use crate::sms::{Secret, SmsConfig, derive_phone_key};
use crate::story::Story;

/// How long stopping may take: open connections are dropped after this.
pub const SHUTDOWN_WITHIN: Duration = Duration::from_secs(8);

/// The largest request body cyoa reads (forms, JSON).
pub const MAX_BODY: usize = 4 * 1024;

/// The Content-Security-Policy of every response: nothing but our own
/// files, no inline script or style, no framing.
pub const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'";

/// The key that signs the voter and presenter cookies, derived from the
/// secret: instances that share the secret read each other's cookies.
pub fn cookie_key(secret: &str) -> Key {
    Key::from(&Sha512::digest(secret.as_bytes()))
}

/// A bound, ready-to-run server.
pub struct Application {
    listener: TcpListener,
    port: u16,
    /// The address it listens on.
    addr: std::net::SocketAddr,
    state: AppState,
    router: App,
    stop: watch::Sender<bool>,
    /// The story file `--watch` loads again on every change.
    watched: Option<PathBuf>,
}

fn invalid(message: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidInput, message)
}

impl Application {
    /// The server's startup: checks the settings ([`Settings::validate`]),
    /// opens the vote store and claims it, binds the listener (so port 0
    /// is resolved) and wires SMS voting. The background tasks, the story
    /// watcher among them, start with [`Application::run_until`].
    pub async fn build(settings: Settings, story: Story) -> io::Result<Application> {
        settings.validate().map_err(invalid)?;
        let Settings {
            server,
            secrets,
            story: source,
            store,
            limits,
            sms,
            room: room_settings,
            log_format: _,
        } = settings;
        let grace = room_settings.presence_grace.unwrap_or(story.settings.presence_grace);
        let store = store.open(grace).await.map_err(invalid)?;
        // Before anything is served: from now on Redis answering without
        // this identity means it lost the talk's data.
        store
            .claim_identity()
            .await
            .map_err(|e| io::Error::other(format!("cannot claim the vote store: {e}")))?;
        let bind = match server.lan {
            true => lan::every_interface(&server.bind).map_err(invalid)?.to_string(),
            false => server.bind,
        };
        let listener = TcpListener::bind(&bind)
            .await
            .map_err(|e| io::Error::new(e.kind(), format!("cannot serve on {bind}: {e}")))?;
        let addr = listener.local_addr()?;
        let public_url = match server.public_url {
            Some(url) => url,
            // Listening on every interface (--lan, or --bind 0.0.0.0:PORT):
            // phones reach this machine at its LAN address, never at
            // 0.0.0.0; without one, this machine's own loopback (with
            // the hint printed at start).
            None if server.lan || addr.ip().is_unspecified() => {
                let ip = match lan::address() {
                    Some(ip) => ip,
                    None if server.lan => {
                        return Err(invalid(
                            "--lan: this machine has no address on a local network (is it on Wi-Fi?); \
                             give the audience's address with --public-url"
                                .into(),
                        ));
                    }
                    None if addr.is_ipv6() => std::net::Ipv6Addr::LOCALHOST.into(),
                    None => std::net::Ipv4Addr::LOCALHOST.into(),
                };
                format!("http://{}", std::net::SocketAddr::new(ip, addr.port()))
            }
            None => format!("http://{addr}"),
        };
        let public_url = public_url.trim_end_matches('/').to_string();
        let (public_origin, secure_cookies) = crate::settings::public_origin(&public_url).map_err(invalid)?;
        let (stop, stopping) = watch::channel(false);
        let phone_key = derive_phone_key(secrets.secret.as_bytes());
        #[cfg(feature = "sms-outbound")]
        let outbound = match sms.results {
            Some(results) => Some(std::sync::Arc::new(
                crate::sms::outbound::Outbound::new(results, secrets.secret.as_bytes(), phone_key).map_err(invalid)?,
            )),
            None => None,
        };
        let sms = SmsConfig {
            auth_token: sms.auth_token.map(Secret::new),
            insecure_skip_signature: sms.insecure_skip_signature,
            public_url: public_url.clone(),
            number: sms.number,
            phone_key,
            account_sid: sms.account_sid,
        };
        let sms_number = sms.number.clone().filter(|_| sms.enabled());
        let talk = crate::talk::Talk::new(story, store, grace, sms_number, stopping);
        let state = AppState::new(state::Inner {
            talk,
            access: state::Access {
                key: cookie_key(&secrets.secret),
                presenter_sessions: auth::PresenterSessions::new(
                    &secrets.secret,
                    &secrets.presenter_token,
                    limits.presenter_session,
                ),
                room: room::Room::new(&secrets.secret, room_settings.room_code),
                presenter_token: secrets.presenter_token,
            },
            site: state::Site {
                public_url,
                public_origin,
                secure_cookies,
            },
            traffic: state::Traffic {
                limits: limits::Guards::new(limits),
                sockets: tokio_util::task::TaskTracker::new(),
            },
            sms: state::Texts {
                config: sms,
                #[cfg(feature = "sms-outbound")]
                outbound,
            },
        });
        let router = router(state.clone(), server.static_dir);
        Ok(Application {
            listener,
            port: addr.port(),
            addr,
            state,
            router,
            stop,
            watched: source.watched().cloned(),
        })
    }

    /// The shared state, for tests that drive it beside the server.
    pub fn state(&self) -> AppState {
        self.state.clone()
    }

    /// The port it listens on.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The address it listens on (`0.0.0.0:PORT` with `--lan`).
    pub fn local_addr(&self) -> std::net::SocketAddr {
        self.addr
    }

    /// Whether the audience's address is this machine only (loopback),
    /// which phones cannot reach.
    pub fn public_url_is_loopback(&self) -> bool {
        lan::is_loopback_url(&self.state.site.public_url)
    }

    /// The audience's base URL, without a trailing slash.
    pub fn public_url(&self) -> &str {
        &self.state.site.public_url
    }

    /// The audience page's URL.
    pub fn audience_url(&self) -> String {
        format!("{}/", self.state.site.public_url)
    }

    /// Whether `/sms` takes votes.
    pub fn sms_enabled(&self) -> bool {
        self.state.sms.config.enabled()
    }

    /// The URL Twilio must post text messages to: the number's Messaging
    /// webhook.
    pub fn sms_url(&self) -> String {
        format!("{}/sms", self.state.site.public_url)
    }

    /// Whether joining needs the room code (`--room-code` or the story's
    /// `room_code`).
    pub fn room_code(&self) -> bool {
        self.state.access.room.on(&self.state.talk.story())
    }

    /// Whether SMS voters are texted the outcome (`--sms-results`).
    pub fn sms_results(&self) -> bool {
        #[cfg(feature = "sms-outbound")]
        return self.state.sms.outbound.is_some();
        #[cfg(not(feature = "sms-outbound"))]
        false
    }

    /// The story file watched for changes (`serve --watch`), if any.
    pub fn watched(&self) -> Option<&std::path::Path> {
        self.watched.as_deref()
    }

    /// The data file runs and votes are kept in, if the store has one.
    pub fn data_file(&self) -> Option<&std::path::Path> {
        self.state.talk.store.data_file()
    }

    /// Where runs and votes are kept when there is no data file.
    pub fn store_kind(&self) -> &'static str {
        match self.state.talk.store {
            crate::store::VoteStore::Redis(_) => "in Redis (--redis-url)",
            _ => "in memory only (--memory): lost when the server stops",
        }
    }

    /// The presenter view's URL, without the token.
    pub fn presenter_page(&self) -> String {
        format!("{}/presenter", self.state.site.public_url)
    }

    /// The presenter's login URL. It holds the token: print it once, never log it.
    pub fn presenter_url(&self) -> String {
        format!("{}?token={}", self.presenter_page(), self.state.access.presenter_token)
    }

    /// Serves until SIGTERM or Ctrl-C, then stops gracefully.
    pub async fn run_until_stopped(self) -> io::Result<()> {
        let stop = shutdown_signal();
        self.run_until(stop).await
    }

    /// Serves until `stop` completes, then stops within
    /// [`SHUTDOWN_WITHIN`]: requests in flight finish, sockets get a close
    /// frame, the background tasks end (presence leases are no longer
    /// renewed, so they run out; nothing is withdrawn at once, as another
    /// instance may hold the same voters). Connections still open at the
    /// deadline are dropped.
    pub async fn run_until(self, stop: impl Future<Output = ()> + Send + 'static) -> io::Result<()> {
        let app = self.state.clone();
        let mut background = app.talk.spawn_background();
        background.push(tokio::spawn(notes::minting(app.clone())));
        let watcher = self
            .watched
            .map(|path| tokio::spawn(crate::talk::reload::watch(app.talk.clone(), path)));
        #[cfg(feature = "sms-outbound")]
        let results = self
            .state
            .sms
            .outbound
            .clone()
            .map(|outbound| tokio::spawn(sms::results_worker(self.state.clone(), outbound)));
        let tell = self.stop;
        let (stopped, signalled) = tokio::sync::oneshot::channel::<()>();
        let serve = serve::serve(
            self.listener,
            self.router,
            self.state.traffic.limits.clone(),
            async move {
                stop.await;
                tracing::info!("stopping");
                // Sockets are upgraded connections the server no longer
                // tracks: they close on this signal.
                let _ = tell.send(true);
                let _ = stopped.send(());
            },
        );
        let work = async {
            let result = serve.await;
            app.traffic.sockets.close();
            app.traffic.sockets.wait().await;
            for task in background.into_iter().chain(watcher) {
                let _ = task.await;
            }
            #[cfg(feature = "sms-outbound")]
            if let Some(results) = results {
                let _ = results.await;
            }
            result
        };
        let deadline = async {
            match signalled.await {
                Ok(()) => tokio::time::sleep(SHUTDOWN_WITHIN).await,
                // The server ended without the signal: no deadline needed.
                Err(_) => std::future::pending().await,
            }
        };
        let result = tokio::select! {
            result = work => result,
            _ = deadline => {
                tracing::warn!(
                    within = ?SHUTDOWN_WITHIN,
                    sockets = app.traffic.sockets.len(),
                    "connections still open at the shutdown deadline: dropping them"
                );
                Ok(())
            }
        };
        // The data file whole on its own once the server has stopped.
        app.talk.store.stopped().await;
        result
    }
}

/// SIGTERM or Ctrl-C. The handlers are in place when this returns, before
/// the first connection is taken: a stop sent as soon as the URLs are
/// printed is a clean one, not the default end of the process.
fn shutdown_signal() -> impl Future<Output = ()> + Send + 'static {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{Signal, SignalKind, signal};
        let listen = |kind: SignalKind, name: &'static str| match signal(kind) {
            Ok(s) => Some(s),
            Err(e) => {
                tracing::error!(error = %e, signal = name, "cannot listen for the signal");
                None
            }
        };
        async fn next(signal: Option<Signal>) {
            match signal {
                Some(mut s) => {
                    s.recv().await;
                }
                None => std::future::pending::<()>().await,
            }
        }
        let terminate = next(listen(SignalKind::terminate(), "SIGTERM"));
        let interrupt = next(listen(SignalKind::interrupt(), "SIGINT"));
        async move {
            tokio::select! {
                _ = terminate => {},
                _ = interrupt => {},
            }
        }
    }
    #[cfg(not(unix))]
    async {
        if let Err(e) = tokio::signal::ctrl_c().await {
            tracing::error!(error = %e, "cannot listen for Ctrl-C");
            std::future::pending::<()>().await;
        }
    }
}

/// The whole application as one service: every route, with the layers
/// every response gets.
pub type App = tower::util::BoxCloneSyncService<Request, Response, Infallible>;

/// Every route, with the layers every response gets. The layers wrap the
/// routers once, as one stack, rather than each route on its own (as
/// `Router::layer` does), which would clone a boxed stack per layer on
/// every request.
pub fn router(state: AppState, static_dir: PathBuf) -> App {
    // Hashed once, here: the pages name each file with its version.
    let assets = std::sync::Arc::new(assets::Assets::load(&static_dir));
    let static_files = {
        let assets = assets.clone();
        tower::service_fn(move |request| {
            let assets = assets.clone();
            async move { Ok::<_, Infallible>(assets::serve(assets, request).await) }
        })
    };
    // The presenter's pages and answers, refusals and the login too, and the
    // runs' history (the presenter sees more of it than anyone else): never
    // kept by a browser or a proxy, where the next person at a shared
    // computer, or the proxy's next client, would find them.
    let never_cached = Router::new()
        .route("/presenter", get(pages::presenter))
        .route("/presenter/notes", get(notes::console))
        .route("/presenter/logout", post(pages::logout))
        .route("/presenter/logged-out", get(pages::logged_out))
        .route("/presenter/map.svg", get(results::map_svg))
        .route("/api/presenter/next", post(api::next))
        .route("/api/presenter/back", post(api::back))
        .route("/api/presenter/goto", post(api::goto))
        .route("/api/presenter/open", post(api::open))
        .route("/api/presenter/close", post(api::close))
        .route("/api/presenter/follow", post(api::follow))
        .route("/api/presenter/new-run", post(api::new_run))
        .route("/api/presenter/results", post(results::publish))
        .route("/api/presenter/explore", post(results::publish_explore))
        .route("/api/presenter/timer/start", post(api::timer_start))
        .route("/api/presenter/timer/extend", post(api::timer_extend))
        .route("/api/presenter/timer/cancel", post(api::timer_cancel))
        .route("/api/runs", get(api::runs))
        .route("/api/runs.csv", get(runs::all_csv))
        .route("/api/runs.json", get(runs::all_json))
        .route("/api/runs/{run}/label", post(runs::label))
        .route("/api/runs/{run}/results", post(runs::publish))
        .route("/api/runs/{run}", get(results::run_or_export))
        .layer(SetResponseHeaderLayer::overriding(
            header::CACHE_CONTROL,
            HeaderValue::from_static("no-store"),
        ));
    let pages = Router::new()
        .merge(never_cached)
        .route("/", get(pages::audience))
        .route("/vote/{decision}", get(pages::pinned).post(pages::vote))
        .route("/join.svg", get(join::svg))
        .route("/story-assets/{*name}", get(join::story_asset))
        .route("/api/state", get(api::state))
        .route("/results", get(results::page))
        .route("/explore", get(explore::index))
        .route("/explore/{slide}", get(explore::slide))
        .nest_service("/static", static_files)
        .fallback(pages::not_found)
        .with_state(state.clone());
    // Compressed, in the story's or the browser's language (error pages too).
    let pages = tower::ServiceBuilder::new()
        .layer(CompressionLayer::new())
        .layer(axum::middleware::from_fn_with_state(state.clone(), language::scope))
        .layer(axum::middleware::from_fn(move |request, next| {
            assets::scope(assets.clone(), request, next)
        }))
        .map_response(IntoResponse::into_response)
        .service(pages);
    let routes = Router::new()
        // Not compressed: a socket upgrade and small answers.
        .route("/ws", get(ws::upgrade))
        .route("/healthz", get(api::healthz))
        .route("/readyz", get(api::readyz))
        .route("/metrics", get(scrape::metrics))
        // Twilio's webhook. Its body limit is above the 16 KiB that
        // `sms::handle` checks itself, so an oversized text gets its clear
        // answer. Not rate-limited by address: every webhook comes from
        // Twilio's few addresses; the signature is the gate, and only the
        // failed ones count against an address.
        .route(
            "/sms",
            post(sms::webhook)
                .layer(DefaultBodyLimit::max(2 * crate::sms::MAX_BODY_BYTES))
                .layer(axum::middleware::from_fn_with_state(
                    state.traffic.limits.clone(),
                    limits::sms_signatures,
                )),
        )
        .fallback_service(pages)
        .with_state(state.clone());
    let app = tower::ServiceBuilder::new()
        .layer(axum::middleware::map_response_with_state(
            headers::Https(state.site.secure_cookies),
            headers::secure,
        ))
        .layer(axum::middleware::from_fn_with_state(
            state.traffic.limits.clone(),
            limits::per_address,
        ))
        .layer(axum::middleware::from_fn_with_state(
            state.traffic.limits.clone(),
            limits::body_deadline,
        ))
        .layer(DefaultBodyLimit::max(state.traffic.limits.limits.max_body))
        .service(routes);
    crate::telemetry::request_layers(app)
}
