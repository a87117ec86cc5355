//! `GET /ws`: the live socket. Out: `state` on connect and on every
//! presenter change, coalesced `tally` pushes, `voted` acks and `error`s.
//! In: `{"type":"vote","decision":..,"choice":..}` from audience sockets.
//!
//! One task serves a socket: it reads votes and answers them, writes the
//! pushes and pings, and closes a silent socket. The loop is generic over
//! `Sink`/`Stream`, so unit tests drive it with channels.

use std::fmt::Display;

use axum::extract::rejection::QueryRejection;
use axum::extract::ws::{Message, Utf8Bytes, WebSocketUpgrade};
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use futures_util::{Sink, SinkExt, Stream, StreamExt};
use serde::{Deserialize, Serialize};
use tokio::sync::broadcast;
use tracing::Instrument;

use super::auth;
use super::error::{ApiError, Error};
use super::heartbeat::{Beat, Heartbeat};
use super::room::{self, Pass};
use super::state::AppState;
use super::voter::{self, VoterCookie};
use crate::store::Voter;
use crate::talk::lane;
use crate::talk::push::{Push, StatePush};
use crate::talk::view::StateView;

/// The largest message cyoa reads; a vote is well under 200 bytes.
pub const MAX_MESSAGE: usize = 4 * 1024;
/// The largest message the protocol layer accepts before it drops the
/// connection; between [`MAX_MESSAGE`] and this, the client gets an
/// `error` (`too_large`) and the socket stays usable.
pub const MAX_FRAME: usize = 64 * 1024;

/// Who is on the other end.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Role {
    /// An audience page of this voter, whose cookie was issued at this
    /// time (ms since the Unix epoch): it votes and counts for presence.
    Audience(Voter, u64),
    /// The presenter view: pushes only.
    Presenter,
}

impl Role {
    /// `audience` or `presenter`, for metrics and logs.
    pub fn name(&self) -> &'static str {
        match self {
            Role::Audience(..) => "audience",
            Role::Presenter => "presenter",
        }
    }
}

/// `?role=presenter` picks the presenter socket.
#[derive(Deserialize)]
pub struct WsQuery {
    role: Option<String>,
}

/// `GET /ws`: checks who is calling before upgrading.
pub async fn upgrade(
    State(app): State<AppState>,
    headers: HeaderMap,
    query: Result<Query<WsQuery>, QueryRejection>,
    ws: Result<WebSocketUpgrade, axum::extract::ws::rejection::WebSocketUpgradeRejection>,
) -> Response {
    let role = who(&app, &headers, query);
    // An audience socket votes in the run of its room cookie only; without
    // one, the page hears why (an `error`, then the close) and asks for it.
    let pass = match &role {
        Ok(Role::Audience(..)) => room::admit(&app, &headers).await,
        _ => Ok(Pass::Open),
    };
    let pass = match pass {
        Err(e) if e.code != room::REFUSED => return ApiError(e).into_response(),
        pass => pass.map_err(|e| e.message),
    };
    match role {
        Err(e) => ApiError(e).into_response(),
        Ok(role) => match ws {
            Err(rejection) => rejection.into_response(),
            Ok(ws) => {
                let max = app.traffic.limits.limits.max_socket_message;
                // The socket's tasks log inside the request's span (its id).
                let span = tracing::Span::current();
                // Small buffers: a socket mostly sits idle, and tens of thousands
                // of them at tungstenite's default 128 KiB each cost over
                // 100 KiB of memory apiece. A vote is under 100 bytes, and a
                // socket has one in flight: 1 KiB reads it in one go (4 KiB
                // cost 3 KiB more per socket: 12.3 against 9.3 KiB at 19,800
                // sockets). Larger messages still fit: the read buffer grows
                // to the message, up to `max`.
                ws.read_buffer_size(1024)
                    .write_buffer_size(0)
                    .max_message_size(max)
                    .max_frame_size(max)
                    .on_upgrade(move |socket| {
                        async move {
                            let _open = crate::metrics::socket_open(role.name());
                            tracing::debug!(role = role.name(), "socket open");
                            let (mut sink, stream) = socket.split();
                            let pass = match pass {
                                Ok(pass) => pass,
                                Err(why) => {
                                    let refusal = error_text(room::REFUSED, &why);
                                    let _ = sink.send(Message::Text(refusal.into())).await;
                                    let _ = sink.close().await;
                                    return;
                                }
                            };
                            let sockets = app.traffic.sockets.clone();
                            if matches!(role, Role::Presenter) {
                                // The presenter's pushes on the push lane:
                                // not queued behind the audience's sockets.
                                // Spawned here, so that this task holds a
                                // handle, not a second socket future.
                                let served = serve_socket(app, role, pass, sink, stream).in_current_span();
                                let _ = sockets.track_future(lane::spawn(served)).await;
                            } else {
                                sockets.track_future(serve_socket(app, role, pass, sink, stream)).await;
                            }
                            tracing::debug!("socket closed");
                        }
                        .instrument(span)
                    })
            }
        },
    }
}

fn who(app: &AppState, headers: &HeaderMap, query: Result<Query<WsQuery>, QueryRejection>) -> Result<Role, Error> {
    let Query(query) = query?;
    // A page of another site may open a socket to us with our cookies.
    if !auth::same_origin(app, headers) {
        return Err(auth::cross_site("Sockets"));
    }
    match query.role.as_deref() {
        Some("presenter") => match auth::presenter_session(app, headers) {
            auth::Session::Valid => Ok(Role::Presenter),
            auth::Session::Expired => Err(auth::session_expired(app)),
            auth::Session::None => Err(Error::new(
                StatusCode::UNAUTHORIZED,
                "unauthorized",
                "The presenter socket needs the presenter cookie: log in at /presenter?token=TOKEN.",
            )),
        },
        None | Some("audience") => match VoterCookie::from_headers(app, headers) {
            VoterCookie::Known(card) => Ok(Role::Audience(card.voter(), card.issued_ms)),
            VoterCookie::Missing => Err(Error::new(
                StatusCode::UNAUTHORIZED,
                "no_voter",
                "Open the audience page first: it gives this browser its voter cookie.",
            )),
            VoterCookie::Forged => Err(Error::bad_request(
                "bad_cookie",
                "Your voter cookie is invalid; reload the page.",
            )),
        },
        Some(_) => Err(Error::bad_request(
            "bad_role",
            "The role must be audience or presenter.",
        )),
    }
}

/// A message to the client.
#[derive(Serialize)]
#[serde(tag = "type", rename_all = "lowercase")]
enum Outbound<'a> {
    State {
        state: &'a StateView,
    },
    Voted {
        decision: &'a str,
        choice: &'a str,
    },
    /// A refusal; `vote` names the vote refused, when it answers one (a
    /// socket may also hear of a failed state push, which answers nothing).
    Error {
        code: &'a str,
        message: &'a str,
        #[serde(skip_serializing_if = "Option::is_none")]
        vote: Option<VoteRef<'a>>,
        /// For `too_soon`: the milliseconds until the vote would count.
        #[serde(skip_serializing_if = "Option::is_none")]
        retry_ms: Option<u64>,
    },
}

/// The vote a reply answers.
#[derive(Serialize)]
struct VoteRef<'a> {
    decision: &'a str,
    choice: &'a str,
}

impl Outbound<'_> {
    fn text(&self) -> String {
        // Serialising these plain structs cannot fail; an empty object
        // would only confuse a client, never the server.
        serde_json::to_string(self).unwrap_or_else(|_| "{}".into())
    }
}

fn error_text(code: &str, message: &str) -> String {
    Outbound::Error {
        code,
        message,
        vote: None,
        retry_ms: None,
    }
    .text()
}

/// A message from the client.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(tag = "type", rename_all = "lowercase", deny_unknown_fields)]
pub enum ClientMessage {
    /// `{"type":"vote","decision":..,"choice":..}`.
    Vote {
        /// The decision voted on.
        decision: String,
        /// The choice picked.
        choice: String,
    },
}

/// Reads a text message from a client; anything but a well-formed message
/// is an error (never a panic; `tests/fuzz_ws_message.rs` checks it).
pub fn parse_client_message(text: &str) -> Result<ClientMessage, serde_json::Error> {
    serde_json::from_str(text)
}

/// The `state` message for this socket (`you` filled for audience
/// sockets): the pushed state, or else the state read now.
async fn state_text(app: &AppState, role: &Role, pushed: Option<&StatePush>) -> String {
    let voter = match role {
        Role::Audience(v, _) => Some(v),
        Role::Presenter => None,
    };
    let view = match pushed {
        // The countdown's time left as the socket sends it.
        Some(push) => push.view_for(&app.talk, voter).await.map(StateView::fresh),
        None => StateView::read(&app.talk, voter, None).await,
    };
    let view = match role {
        Role::Presenter => view.map(|v| app.for_presenter(v)),
        Role::Audience(..) => view,
    };
    match view {
        Ok(state) => Outbound::State { state: &state }.text(),
        Err(e) => {
            tracing::warn!(error = %e, "cannot send the state to a socket");
            error_text("store", "The vote store is not answering; the page will catch up.")
        }
    }
}

/// Whether an audience socket let in without a room code (`Pass::Open`)
/// needs one now: a reloaded story (`serve --watch`) turned the room code
/// on. Its votes are refused, and a story push closes it with the
/// refusal, on which the page loads again and asks for the code.
fn code_now_needed(app: &AppState, role: &Role, pass: Pass) -> bool {
    matches!((role, pass), (Role::Audience(..), Pass::Open)) && app.access.room.on(&app.talk.story())
}

/// What a message from the client gets back: `Some` text, or `None` for a
/// binary message. Every message, binary too, counts against the socket's
/// rate before anything else is looked at.
async fn reply(app: &AppState, role: &Role, pass: Pass, text: Option<&str>) -> String {
    if let Err(e) = app.traffic.limits.socket_message(role) {
        return error_text(e.code, &e.message);
    }
    let Some(text) = text else {
        return error_text("bad_message", "Send votes as JSON text, not binary.");
    };
    if text.len() > MAX_MESSAGE {
        return error_text("too_large", "Messages are 4 KiB at most.");
    }
    let Ok(ClientMessage::Vote { decision, choice }) = parse_client_message(text) else {
        return error_text(
            "bad_message",
            r#"Send {"type":"vote","decision":"DECISION","choice":"CHOICE"}."#,
        );
    };
    let Role::Audience(voter, issued_ms) = role else {
        return error_text("bad_message", "The presenter's socket does not vote.");
    };
    if code_now_needed(app, role, pass) {
        return error_text(room::REFUSED, &room::code_needed().message);
    }
    if let Err(e) = voter::old_enough(app, *issued_ms) {
        return Outbound::Error {
            code: e.code,
            message: &e.message,
            vote: Some(VoteRef {
                decision: &decision,
                choice: &choice,
            }),
            retry_ms: e.retry_after_ms(),
        }
        .text();
    }
    match app.cast(pass, voter, &decision, &choice).await {
        Ok(()) => Outbound::Voted {
            decision: &decision,
            choice: &choice,
        }
        .text(),
        Err(e) => Outbound::Error {
            code: e.code,
            message: &e.message,
            vote: Some(VoteRef {
                decision: &decision,
                choice: &choice,
            }),
            retry_ms: None,
        }
        .text(),
    }
}

/// Writes one message; `false` when the connection failed, the client did
/// not take the message within `within` (it stopped reading: a full
/// buffer blocks the send, and with it the socket's heartbeat), or the
/// server began to stop meanwhile.
async fn send_within<W: Sink<Message> + Unpin>(
    sink: &mut W,
    message: Message,
    within: std::time::Duration,
    stopping: Option<&mut tokio::sync::watch::Receiver<bool>>,
) -> bool {
    let send = tokio::time::timeout(within, sink.send(message));
    let sent = match stopping {
        Some(stopping) => tokio::select! {
            biased;
            sent = send => sent,
            _ = stopping.changed() => return false,
        },
        None => send.await,
    };
    match sent {
        Ok(Ok(())) => true,
        Ok(Err(_)) => false,
        Err(_) => {
            tracing::debug!(timeout = ?within, "the client took no message for too long: closing its socket");
            false
        }
    }
}

/// Runs one socket until the client leaves, falls silent, the connection
/// fails or the server stops; an audience socket that came in with a room
/// code also ends when a new run starts (its page then asks for the new
/// code).
///
/// One task serves the socket: it waits for whichever comes first, a
/// message from the client (a vote, answered at once), a push, the
/// heartbeat's timer or the server stopping, and writes what that calls
/// for. No channel or second task stands between a vote and its answer.
pub async fn serve_socket<W, R, E>(app: AppState, role: Role, pass: Pass, mut sink: W, mut stream: R)
where
    W: Sink<Message> + Unpin + Send + 'static,
    R: Stream<Item = Result<Message, E>> + Unpin + Send + 'static,
    E: Display + Send,
{
    // Subscribe before reading the first state: a change made in between
    // then arrives as a push instead of being lost.
    let mut pushes = match role {
        Role::Presenter => app.talk.pushes.subscribe(),
        Role::Audience(..) => app.talk.pushes.subscribe_audience(),
    };
    // The lease first: a vote read after this counts while the page stays.
    if let Role::Audience(voter, _) = &role {
        app.talk.presence.connect(&app.talk, voter).await;
    }
    let limits = &app.traffic.limits.limits;
    let mut beat = Heartbeat::new(limits.ping_every, limits.socket_timeout);
    let timer = tokio::time::sleep_until(beat.deadline());
    tokio::pin!(timer);
    let mut stopping = app.talk.stopping();
    let first = state_text(&app, &role, None).await;
    let within = limits.socket_timeout;
    let mut open = send_within(&mut sink, Message::Text(first.into()), within, Some(&mut stopping)).await;
    while open {
        let out = tokio::select! {
            message = stream.next() => {
                beat.heard();
                match message {
                    Some(Ok(Message::Text(text))) => Message::Text(reply(&app, &role, pass, Some(text.as_str())).await.into()),
                    Some(Ok(Message::Binary(_))) => Message::Text(reply(&app, &role, pass, None).await.into()),
                    // The protocol layer answers pings itself.
                    Some(Ok(Message::Ping(_) | Message::Pong(_))) => continue,
                    Some(Ok(Message::Close(_))) | None => break,
                    Some(Err(e)) => {
                        tracing::debug!(error = %e, "socket read failed");
                        break;
                    }
                }
            }
            push = pushes.recv() => Message::Text(match push {
                Ok(Push::State(view)) if !pass.admits(view.run) => {
                    open = false;
                    error_text(room::REFUSED, &room::new_code_needed().message).into()
                }
                Ok(Push::State(view)) => state_text(&app, &role, Some(&view)).await.into(),
                Ok(Push::Tally(text) | Push::Presenter(text)) => text,
                Ok(Push::Story) if code_now_needed(&app, &role, pass) => {
                    open = false;
                    error_text(room::REFUSED, &room::code_needed().message).into()
                }
                Ok(Push::Story) => Utf8Bytes::from_static(r#"{"type":"story"}"#),
                // Fell behind: the state carries every count.
                Err(broadcast::error::RecvError::Lagged(_)) => state_text(&app, &role, None).await.into(),
                Err(broadcast::error::RecvError::Closed) => break,
            }),
            () = &mut timer => {
                let beaten = beat.fire(tokio::time::Instant::now());
                timer.as_mut().reset(beat.deadline());
                match beaten {
                    Beat::Ping => Message::Ping(Default::default()),
                    Beat::Wait => continue,
                    Beat::Silent => {
                        tracing::debug!(timeout = ?beat.timeout(), "the socket was silent too long: closing it");
                        break;
                    }
                }
            }
            _ = stopping.changed() => {
                open = false;
                Message::Close(None)
            }
        };
        // The goodbye (`open` now false) is sent even though the server
        // is stopping; every other send gives way to the stop.
        let stop = if open { Some(&mut stopping) } else { None };
        if !send_within(&mut sink, out, within, stop).await {
            break;
        }
    }
    // A client that stopped reading cannot take the close either.
    let _ = tokio::time::timeout(within, sink.close()).await;
    if let Role::Audience(voter, _) = &role {
        app.talk.presence.disconnect(&app.talk, voter).await;
    }
}

#[cfg(test)]
mod tests {
    //! The socket loop driven through channels, no network.

    use std::convert::Infallible;
    use std::pin::Pin;

    use futures_util::{sink, stream};
    use serde_json::{Value, json};
    use tokio::sync::mpsc;

    use super::*;
    use crate::store::VoteKind;
    use crate::story::Story;
    use crate::talk::control::{self, Action};

    const STORY: &str = r#"
title = "T"
start = "a"
[slides.a]
title = "A"
next = "d"
[slides.d]
title = "D"
[slides.d.decision]
prompt = "?"
choices = [{ id = "x", label = "X", goto = "a" }, { id = "y", label = "Y", goto = "a" }]
"#;

    type Out = mpsc::UnboundedReceiver<Message>;
    type In = mpsc::UnboundedSender<Result<Message, Infallible>>;

    /// Starts `serve_socket` on channels: what the test sends goes in,
    /// what the socket writes comes out.
    fn connect(app: &AppState, role: Role) -> (In, Out, tokio::task::JoinHandle<()>) {
        let (to_server, from_test) = mpsc::unbounded_channel::<Result<Message, Infallible>>();
        let (to_test, from_server) = mpsc::unbounded_channel::<Message>();
        let sink = sink::unfold(to_test, |tx, m: Message| async move {
            tx.send(m).map_err(|_| ())?;
            Ok::<_, ()>(tx)
        });
        let stream = stream::unfold(from_test, |mut rx| async move { rx.recv().await.map(|m| (m, rx)) });
        let (sink, stream): (Pin<Box<_>>, Pin<Box<_>>) = (Box::pin(sink), Box::pin(stream));
        let task = tokio::spawn(serve_socket(app.clone(), role, Pass::Open, sink, stream));
        (to_server, from_server, task)
    }

    async fn next_json(out: &mut Out) -> Value {
        let m = tokio::time::timeout(std::time::Duration::from_secs(5), out.recv())
            .await
            .expect("a message in time")
            .expect("the socket is open");
        match m {
            Message::Text(t) => serde_json::from_str(t.as_str()).expect("JSON"),
            other => panic!("unexpected {other:?}"),
        }
    }

    /// The state, and the sender that would stop the server (kept alive:
    /// dropping it tells every socket to close).
    fn app() -> (AppState, tokio::sync::watch::Sender<bool>) {
        let story = Story::parse("t.toml", STORY).expect("the story loads").story;
        AppState::for_tests(story)
    }

    fn voter() -> Voter {
        Voter::web("0123456789abcdef0123456789abcdef")
    }

    #[tokio::test]
    async fn a_socket_gets_the_state_then_acks_a_vote() {
        let (app, _stop) = app();
        control::apply(&app.talk, Action::Next).await.unwrap();
        control::apply(&app.talk, Action::Open).await.unwrap();
        let (tx, mut out, _task) = connect(&app, Role::Audience(voter(), 0));
        let first = next_json(&mut out).await;
        assert_eq!(
            (first["type"].as_str(), first["state"]["decision"]["id"].as_str()),
            (Some("state"), Some("d"))
        );
        let vote = json!({"type": "vote", "decision": "d", "choice": "y"}).to_string();
        tx.send(Ok(Message::Text(vote.into()))).unwrap();
        assert_eq!(
            next_json(&mut out).await,
            json!({"type": "voted", "decision": "d", "choice": "y"})
        );
        assert_eq!(app.talk.store.tally(1, "d").await.unwrap().get("y"), 1);
    }

    /// A vote's tally reaches the presenter screens while the server's
    /// runtime is too busy to poll anything (here: its only thread is
    /// blocked): the flusher runs on the push lane. Were it spawned on
    /// the server's runtime, no push would come.
    #[tokio::test(flavor = "current_thread")]
    async fn a_tally_reaches_the_presenter_while_the_servers_runtime_is_busy() {
        let (app, _stop) = app();
        control::apply(&app.talk, Action::Next).await.unwrap();
        control::apply(&app.talk, Action::Open).await.unwrap();
        let mut presenter = app.talk.pushes.subscribe();
        let _background = app.talk.spawn_background();
        app.cast(Pass::Open, &voter(), "d", "y").await.unwrap();
        let (heard, hear) = std::sync::mpsc::channel();
        lane::spawn(async move {
            while let Ok(push) = presenter.recv().await {
                if let Push::Tally(text) = push {
                    let _ = heard.send(text.to_string());
                    return;
                }
            }
        });
        // Blocks this runtime's one thread until the push arrives.
        let tally = hear
            .recv_timeout(std::time::Duration::from_secs(30))
            .expect("a tally push while the server's runtime was blocked");
        let tally: Value = serde_json::from_str(&tally).unwrap();
        assert_eq!(
            tally["choices"],
            json!([{"id": "x", "votes": 0}, {"id": "y", "votes": 1}])
        );
    }

    #[tokio::test]
    async fn a_bad_message_gets_an_error_and_the_socket_goes_on() {
        let (app, _stop) = app();
        let (tx, mut out, _task) = connect(&app, Role::Audience(voter(), 0));
        next_json(&mut out).await;
        tx.send(Ok(Message::Binary(vec![1, 2, 3].into()))).unwrap();
        assert_eq!(next_json(&mut out).await["code"], "bad_message");
        tx.send(Ok(Message::Text(
            r#"{"type":"vote","decision":"d","choice":"x"}"#.into(),
        )))
        .unwrap();
        assert_eq!(next_json(&mut out).await["code"], "not_open");
    }

    /// A socket let in while the room code was off, after a reload turned
    /// it on: its vote is refused and counts nothing, and the reload's
    /// story push closes it with the refusal (the page then asks for the
    /// code). The presenter's socket just hears of the reload.
    #[tokio::test]
    async fn a_reload_that_turns_the_room_code_on_shuts_out_a_socket_let_in_without_it() {
        let (app, _stop) = app();
        control::apply(&app.talk, Action::Next).await.unwrap();
        control::apply(&app.talk, Action::Open).await.unwrap();
        let (tx, mut out, task) = connect(&app, Role::Audience(voter(), 0));
        let (_presenter_tx, mut presenter, _presenter_task) = connect(&app, Role::Presenter);
        next_json(&mut out).await;
        next_json(&mut presenter).await;
        let with_code = STORY.replace("[slides.a]", "[settings]\nroom_code = true\n\n[slides.a]");
        let story = Story::parse("t.toml", &with_code).expect("the story loads").story;
        assert!(story.settings.room_code);
        app.talk.replace_story(story);
        let vote = json!({"type": "vote", "decision": "d", "choice": "y"}).to_string();
        tx.send(Ok(Message::Text(vote.into()))).unwrap();
        assert_eq!(next_json(&mut out).await["code"], room::REFUSED);
        assert_eq!(app.talk.store.tally(1, "d").await.unwrap().total(), 0);
        app.talk.pushes.story(true);
        assert_eq!(next_json(&mut out).await["code"], room::REFUSED);
        tokio::time::timeout(std::time::Duration::from_secs(5), task)
            .await
            .expect("the socket closes")
            .expect("the socket's task ends cleanly");
        assert_eq!(next_json(&mut presenter).await["type"], "story");
    }

    #[tokio::test]
    async fn a_presenter_change_reaches_the_socket_with_this_voters_choice() {
        let (app, _stop) = app();
        control::apply(&app.talk, Action::Next).await.unwrap();
        control::apply(&app.talk, Action::Open).await.unwrap();
        app.talk
            .store
            .vote(1, "d", &voter(), "x", VoteKind::Sticky)
            .await
            .unwrap();
        let (_tx, mut out, _task) = connect(&app, Role::Audience(voter(), 0));
        next_json(&mut out).await;
        control::apply(&app.talk, Action::Close).await.unwrap();
        let pushed = next_json(&mut out).await;
        assert_eq!(pushed["state"]["decision"]["status"], "closed");
        assert_eq!(pushed["state"]["you"], "x");
    }

    #[tokio::test]
    async fn a_state_push_gives_each_voter_its_own_choice_connected_here_or_not() {
        let (app, _stop) = app();
        control::apply(&app.talk, Action::Next).await.unwrap();
        control::apply(&app.talk, Action::Open).await.unwrap();
        let (here, elsewhere) = (voter(), Voter::web("fedcba9876543210fedcba9876543210"));
        for (v, choice) in [(&here, "x"), (&elsewhere, "y")] {
            app.talk.store.vote(1, "d", v, choice, VoteKind::Sticky).await.unwrap();
        }
        // `here` has a socket on this instance; `elsewhere` has none, so it
        // is not in the batch read and is looked up on its own.
        let (_tx, mut out, _task) = connect(&app, Role::Audience(here.clone(), 0));
        next_json(&mut out).await;
        let mut pushes = app.talk.pushes.subscribe_audience();
        control::apply(&app.talk, Action::Close).await.unwrap();
        let Ok(Push::State(pushed)) = pushes.recv().await else {
            panic!("a state push");
        };
        let you = |v: Option<Voter>| {
            let pushed = pushed.clone();
            let talk = app.talk.clone();
            async move { pushed.view_for(&talk, v.as_ref()).await.unwrap().you }
        };
        assert_eq!(you(Some(here)).await.as_deref(), Some("x"));
        assert_eq!(you(Some(elsewhere)).await.as_deref(), Some("y"));
        assert_eq!(you(None).await, None);
    }

    #[tokio::test]
    async fn the_socket_ends_when_the_client_goes_and_presence_forgets_it() {
        let (app, _stop) = app();
        let (tx, mut out, task) = connect(&app, Role::Audience(voter(), 0));
        next_json(&mut out).await;
        assert_eq!(app.talk.presence.open_sockets(&voter()), 1);
        drop(tx);
        task.await.unwrap();
        assert_eq!(app.talk.presence.open_sockets(&voter()), 0);
    }

    #[tokio::test]
    async fn stopping_the_server_closes_the_socket() {
        let (app, stop) = app();
        let (_tx, mut out, task) = connect(&app, Role::Presenter);
        next_json(&mut out).await;
        stop.send(true).unwrap();
        assert_eq!(out.recv().await, Some(Message::Close(None)));
        task.await.unwrap();
    }
}
