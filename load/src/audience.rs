//! The audience: web voters on sockets, phones posting signed webhooks, and
//! the presenter socket that watches the tally pushes.

use std::net::IpAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicI32, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde::Deserialize;
use tokio::sync::{Semaphore, watch};
use tokio::time::sleep_until;
use tokio_tungstenite::tungstenite::Message;

use crate::server::{PRESENTER_COOKIE, Server, Socket, VOTER_COOKIE};
use crate::stats::{Counters, Screens, Tracker};

/// A voter's last acknowledged choice: none yet.
pub const NO_VOTE: i32 = -1;
/// A voter whose last vote was never answered: it may or may not count.
pub const UNKNOWN: i32 = -2;

/// How long a vote may wait for its answer before it counts as lost.
const ANSWER_WITHIN: Duration = Duration::from_secs(10);

/// What every voter task shares.
pub struct Plan {
    /// The instances of the talk (sharing one store); voter `slot` uses
    /// instance `slot % servers.len()`, and the first is where the decision
    /// is opened, phones text and the tracker's presenter watches.
    pub servers: Vec<Server>,
    pub decision: String,
    pub choices: Vec<String>,
    /// Time between one voter's votes.
    pub interval: Duration,
    /// Time between one phone's texts.
    pub sms_interval: Duration,
    /// Chance that a voter leaves (and comes back) after a vote.
    pub leave: f64,
    /// The Twilio auth token and the URL the server signs, for phones.
    pub twilio: Option<(String, String)>,
    pub counters: Counters,
    pub tracker: Tracker,
    /// What every instance's presenter screen shows.
    pub screens: Screens,
    /// Per web voter then per phone: the last acknowledged choice (an
    /// index), [`NO_VOTE`] or [`UNKNOWN`].
    pub truth: Vec<AtomicI32>,
    /// Voters and phones done voting (or failed): their truth is final.
    pub settled: AtomicUsize,
    /// Voters whose setup ended (connected or failed).
    pub set_up: AtomicUsize,
    /// Voters and phones whose first vote was answered (or who failed):
    /// when all are, every later change of the total is a probe's vote.
    pub first_answers: AtomicUsize,
    /// How many voters and phones `first_answers` waits for.
    pub first_voters: usize,
    /// Turns true when `first_answers` reaches `first_voters`.
    pub warm: watch::Sender<bool>,
}

impl Plan {
    /// The instance voter `slot` uses.
    pub fn server(&self, slot: usize) -> &Server {
        &self.servers[slot % self.servers.len()]
    }

    /// One more voter or phone whose first vote was answered (or who
    /// will not vote).
    fn first_answered(&self) {
        if self.first_answers.fetch_add(1, Ordering::Relaxed) + 1 >= self.first_voters {
            self.warm.send_replace(true);
        }
    }
}

/// When to vote: `None` until every voter is connected, then the start and
/// the end of the voting phase.
pub type Phase = watch::Receiver<Option<(Instant, Instant)>>;

/// Waits for the voting phase.
async fn phase(go: &mut Phase) -> Option<(Instant, Instant)> {
    loop {
        if let Some(p) = *go.borrow_and_update() {
            return Some(p);
        }
        go.changed().await.ok()?;
    }
}

/// A choice other than `current` (any choice when there is none).
fn pick(rng: &mut StdRng, choices: usize, current: Option<usize>) -> usize {
    match current {
        Some(c) if choices > 1 => (c + rng.random_range(1..choices)) % choices,
        _ => rng.random_range(0..choices),
    }
}

fn settle(plan: &Plan, slot: usize, truth: i32) {
    plan.truth[slot].store(truth, Ordering::Relaxed);
    plan.settled.fetch_add(1, Ordering::Relaxed);
}

/// A vote on its way.
struct InFlight {
    choice: usize,
    sent: crate::stats::Sent,
    at: Instant,
}

#[derive(Deserialize)]
struct ErrorMessage {
    code: String,
}

/// How a web voter or a probe gets in: the address it comes from, its
/// HTTP client, the permits of the setups under way, and when to vote
/// and to go.
pub struct Door {
    pub source: IpAddr,
    pub client: reqwest::Client,
    pub setups: Arc<Semaphore>,
    pub go: Phase,
    pub finish: watch::Receiver<bool>,
}

/// A voter in the room: its cookie, its socket, and the voting's start
/// and end.
struct Joined {
    cookie: String,
    socket: Socket,
    start: Instant,
    until: Instant,
}

/// A voter's way in: gets a cookie, opens its socket, and waits for the
/// voting, reading (and dropping) what the server pushes meanwhile.
/// `None` when it did not get in: the error is counted (`what` names the
/// voter in it) and the slot settled with no vote.
async fn join(plan: &Plan, slot: usize, door: &mut Door, what: &str) -> Option<Joined> {
    let counters = &plan.counters;
    let setup = async {
        let _permit = door.setups.acquire().await.map_err(|_| "stopped".to_string())?;
        let server = plan.server(slot);
        let cookie = server.voter_cookie(&door.client).await?;
        let cookie = format!("{VOTER_COOKIE}={cookie}");
        let socket = server.socket(door.source, "", &cookie).await?;
        Ok::<_, String>((cookie, socket))
    };
    let result = setup.await;
    plan.set_up.fetch_add(1, Ordering::Relaxed);
    let (cookie, mut socket) = match result {
        Ok(ok) => ok,
        Err(e) => {
            counters.error(format!("{what} setup: {e}"));
            settle(plan, slot, NO_VOTE);
            return None;
        }
    };
    counters.connect();
    let Some((start, until)) = (tokio::select! {
        p = phase(&mut door.go) => p,
        _ = drain(&mut socket) => None,
    }) else {
        counters.error("socket closed before voting");
        counters.disconnect();
        settle(plan, slot, NO_VOTE);
        return None;
    };
    Some(Joined {
        cookie,
        socket,
        start,
        until,
    })
}

/// One web voter: gets a cookie, opens its socket, votes and changes its
/// mind every `interval`, sometimes leaves and comes back, then stays
/// connected until `finish`.
pub async fn web_voter(plan: Arc<Plan>, slot: usize, mut door: Door) {
    let counters = &plan.counters;
    let Some(Joined {
        cookie,
        mut socket,
        start,
        until,
    }) = join(&plan, slot, &mut door, "voter").await
    else {
        plan.first_answered();
        return;
    };
    let mut rng = StdRng::seed_from_u64(slot as u64);
    let mut first = true;
    let mut connected = true;

    let mut current: Option<usize> = None;
    let mut in_flight: Option<InFlight> = None;
    let mut next_vote = start + plan.interval.mul_f64(rng.random::<f64>());
    let mut back_at: Option<Instant> = None;
    let truth;
    loop {
        let now = Instant::now();
        if let Some(f) = &in_flight
            && now.duration_since(f.at) > ANSWER_WITHIN
        {
            counters.error("vote unanswered within 10 s");
            truth = UNKNOWN;
            break;
        }
        if !connected {
            // Away: come back at `back_at`, or at once when voting ends.
            let at = back_at.unwrap_or(now).min(until);
            tokio::time::sleep_until(at.into()).await;
            match plan.server(slot).socket(door.source, "", &cookie).await {
                Ok(s) => {
                    socket = s;
                    connected = true;
                    counters.connect();
                    counters.returns.fetch_add(1, Ordering::Relaxed);
                }
                Err(e) => {
                    counters.error(format!("voter return: {e}"));
                    truth = UNKNOWN;
                    break;
                }
            }
            continue;
        }
        if in_flight.is_none() && now >= until {
            truth = current.map_or(NO_VOTE, |c| c as i32);
            break;
        }
        let vote_at = if in_flight.is_none() {
            next_vote.min(until)
        } else {
            now + ANSWER_WITHIN
        };
        tokio::select! {
            message = socket.next() => match message {
                Some(Ok(Message::Text(text))) => {
                    let text = text.as_str();
                    if text.starts_with(r#"{"type":"voted""#) {
                        if let Some(f) = in_flight.take() {
                            plan.tracker.answered(f.at);
                            if std::mem::take(&mut first) {
                                plan.first_answered();
                            }
                            current = Some(f.choice);
                            counters.web_votes.fetch_add(1, Ordering::Relaxed);
                            if rng.random::<f64>() < plan.leave && Instant::now() < until {
                                let _ = socket.close(None).await;
                                connected = false;
                                counters.disconnect();
                                back_at = Some(Instant::now() + Duration::from_millis(rng.random_range(100..1000)));
                            }
                        }
                    } else if text.starts_with(r#"{"type":"error""#) {
                        let code = serde_json::from_str::<ErrorMessage>(text).map_or_else(|_| "?".into(), |e| e.code);
                        counters.error(format!("vote refused: {code}"));
                        if let Some(f) = in_flight.take() {
                            plan.tracker.refused(f.sent);
                        }
                    }
                }
                Some(Ok(_)) => {}
                Some(Err(_)) | None => {
                    counters.error("socket closed by the server");
                    counters.disconnect();
                    if in_flight.is_some() {
                        if first {
                            plan.first_answered();
                        }
                        settle(&plan, slot, UNKNOWN);
                        return;
                    }
                    connected = false;
                    back_at = None;
                }
            },
            _ = sleep_until(vote_at.into()), if in_flight.is_none() => {
                if Instant::now() >= until {
                    continue;
                }
                let choice = pick(&mut rng, plan.choices.len(), current);
                let text = format!(
                    r#"{{"type":"vote","decision":"{}","choice":"{}"}}"#,
                    plan.decision, plan.choices[choice]
                );
                let sent = plan.tracker.sent(choice, current);
                in_flight = Some(InFlight { choice, sent, at: Instant::now() });
                if socket.send(Message::Text(text.into())).await.is_err() {
                    counters.error("vote not sent: socket closed");
                }
                next_vote += plan.interval;
                if next_vote < Instant::now() {
                    next_vote = Instant::now();
                }
            }
        }
    }
    if first {
        plan.first_answered();
    }
    settle(&plan, slot, truth);
    stay(&plan, socket, connected, door.finish).await;
}

/// After voting: a voter still connected stays (its vote is a presence
/// vote), dropping pushes until told to go.
async fn stay(plan: &Plan, mut socket: Socket, connected: bool, mut finish: watch::Receiver<bool>) {
    let counters = &plan.counters;
    if connected {
        // Stay: the vote is a presence vote. Drop pushes until told to go.
        let told = tokio::select! {
            told = finish.wait_for(|f| *f) => told.is_ok(),
            _ = drain(&mut socket) => false,
        };
        if told {
            let _ = socket.close(None).await;
        }
        counters.disconnect();
    }
}

/// A probe: a voter who taps once, `index` of `probes` spread over the
/// voting once every other voter's first vote is in, then stays. After
/// that point the others only move their votes, which leaves the total
/// as it is, so a probe's vote is the one that raises it: the first push
/// whose total reaches it shows it (see [`Tracker::probe_sent`]). This
/// is the vote-to-push latency of one person tapping into a busy room,
/// exact where the estimate from every vote cannot be (moves).
pub async fn probe(plan: Arc<Plan>, slot: usize, index: usize, probes: usize, mut door: Door) {
    let counters = &plan.counters;
    let Some(Joined {
        mut socket,
        start,
        until,
        ..
    }) = join(&plan, slot, &mut door, "probe").await
    else {
        return;
    };
    // The others' first votes in, or half the voting gone at the latest.
    let mut warm = plan.warm.subscribe();
    let latest = start + (until - start) / 2;
    let begin = tokio::select! {
        _ = warm.wait_for(|w| *w) => Instant::now(),
        _ = sleep_until(latest.into()) => {
            if index == 0 {
                counters.error("probes began before every first vote was in");
            }
            Instant::now()
        }
    };
    let end = until
        .checked_sub(Duration::from_millis(500))
        .unwrap_or(until)
        .max(begin);
    let at = begin + (end - begin).mul_f64((index as f64 + 0.5) / probes.max(1) as f64);
    let choice = index % plan.choices.len();
    let read = tokio::select! {
        _ = sleep_until(at.into()) => true,
        _ = drain(&mut socket) => false,
    };
    let mut truth = NO_VOTE;
    let mut connected = read;
    if read {
        let text = format!(
            r#"{{"type":"vote","decision":"{}","choice":"{}"}}"#,
            plan.decision, plan.choices[choice]
        );
        let sent = plan.tracker.probe_sent(choice);
        let sent_at = Instant::now();
        if socket.send(Message::Text(text.into())).await.is_err() {
            counters.error("probe vote not sent: socket closed");
        }
        let answer = tokio::time::timeout(ANSWER_WITHIN, async {
            while let Some(Ok(message)) = socket.next().await {
                if let Message::Text(text) = message {
                    if text.starts_with(r#"{"type":"voted""#) {
                        return Some(true);
                    }
                    if text.starts_with(r#"{"type":"error""#) {
                        return Some(false);
                    }
                }
            }
            None
        })
        .await;
        match answer {
            Ok(Some(true)) => {
                plan.tracker.answered(sent_at);
                counters.web_votes.fetch_add(1, Ordering::Relaxed);
                truth = choice as i32;
            }
            Ok(Some(false)) => {
                counters.error("probe vote refused");
                plan.tracker.refused(sent);
            }
            Ok(None) => {
                counters.error("socket closed by the server");
                truth = UNKNOWN;
                connected = false;
            }
            Err(_) => {
                counters.error("vote unanswered within 10 s");
                truth = UNKNOWN;
            }
        }
    } else {
        counters.error("socket closed by the server");
    }
    if !connected {
        counters.disconnect();
    }
    settle(&plan, slot, truth);
    stay(&plan, socket, connected, door.finish).await;
}

/// Reads a socket until it closes.
async fn drain(socket: &mut Socket) {
    while let Some(Ok(_)) = socket.next().await {}
}

/// One phone: texts a choice every `sms_interval` (changing its mind each
/// time), each a webhook signed as Twilio signs it, with its own
/// `MessageSid`.
pub async fn phone(plan: Arc<Plan>, slot: usize, number: usize, client: reqwest::Client, mut go: Phase) {
    let Some((token, url)) = plan.twilio.clone() else {
        plan.first_answered();
        settle(&plan, slot, NO_VOTE);
        return;
    };
    let Some((start, until)) = phase(&mut go).await else {
        plan.first_answered();
        settle(&plan, slot, NO_VOTE);
        return;
    };
    let mut first = true;
    let mut rng = StdRng::seed_from_u64(u64::MAX - number as u64);
    let from = format!("+1555{number:07}");
    let mut current: Option<usize> = None;
    let mut next = start + plan.sms_interval.mul_f64(rng.random::<f64>());
    let mut truth = NO_VOTE;
    while next < until {
        sleep_until(next.into()).await;
        next += plan.sms_interval;
        let choice = pick(&mut rng, plan.choices.len(), current);
        let sent = plan.tracker.sent(choice, current);
        let response = text(&client, &url, &token, &from, choice + 1, &mut rng).await;
        match response {
            Ok(r) if r.status().is_success() => {
                let _ = r.bytes().await;
                if std::mem::take(&mut first) {
                    plan.first_answered();
                }
                current = Some(choice);
                truth = choice as i32;
                plan.tracker.texted();
                plan.counters.sms_votes.fetch_add(1, Ordering::Relaxed);
            }
            Ok(r) => {
                plan.counters
                    .error(format!("sms refused: HTTP {}", r.status().as_u16()));
                plan.tracker.refused(sent);
            }
            Err(_) => {
                // Sent but unanswered: it may have counted.
                plan.counters.error("sms unanswered");
                truth = UNKNOWN;
                break;
            }
        }
    }
    if first {
        plan.first_answered();
    }
    settle(&plan, slot, truth);
}

#[derive(Deserialize)]
struct Push {
    #[serde(rename = "type")]
    kind: String,
    decision: Option<String>,
    choices: Option<Vec<crate::server::ChoiceView>>,
    state: Option<PushedState>,
}

#[derive(Deserialize)]
struct PushedState {
    decision: Option<crate::server::DecisionView>,
}

/// Instance `screen`'s presenter socket: every tally (and state) push of
/// the decision goes to the screens, and the first instance's to the
/// latency tracker too.
pub async fn presenter(plan: Arc<Plan>, screen: usize, mut socket: Socket, mut finish: watch::Receiver<bool>) {
    loop {
        let message = tokio::select! {
            m = socket.next() => m,
            _ = finish.wait_for(|f| *f) => break,
        };
        let text = match message {
            Some(Ok(Message::Text(text))) => text,
            Some(Ok(_)) => continue,
            Some(Err(_)) | None => {
                plan.counters.error("presenter socket closed by the server");
                return;
            }
        };
        let Ok(push) = serde_json::from_str::<Push>(text.as_str()) else {
            plan.counters.error("presenter: unreadable push");
            continue;
        };
        let choices = match push.kind.as_str() {
            "tally" if push.decision.as_deref() == Some(plan.decision.as_str()) => push.choices,
            "state" => push
                .state
                .and_then(|s| s.decision)
                .filter(|d| d.id == plan.decision)
                .map(|d| d.choices),
            _ => None,
        };
        if let Some(choices) = choices {
            let counts = crate::server::counts(&plan.choices, &choices);
            if screen == 0 {
                plan.tracker.push(&counts);
            }
            plan.screens.show(screen, &counts);
        }
    }
    let _ = socket.close(None).await;
}

/// Opens every instance's presenter socket and watches them on a thread
/// of their own, with its own runtime: the presenter's screen is another
/// machine, so its pushes must not wait for this process's thousands of
/// voter tasks to be polled first (which would add their queue to the
/// latency measured).
pub async fn presenter_thread(
    plan: Arc<Plan>,
    finish: watch::Receiver<bool>,
) -> Result<std::thread::JoinHandle<()>, String> {
    // The cookies on this runtime: its HTTP client's pool belongs here.
    let mut cookies = Vec::with_capacity(plan.servers.len());
    for server in &plan.servers {
        cookies.push(server.presenter_cookie().await?);
    }
    let (opened_tx, opened) = tokio::sync::oneshot::channel();
    let thread = std::thread::Builder::new()
        .name("presenter".into())
        .spawn(move || {
            let runtime = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
                Ok(r) => r,
                Err(e) => {
                    let _ = opened_tx.send(Err(format!("presenter runtime: {e}")));
                    return;
                }
            };
            runtime.block_on(async move {
                let mut sockets = Vec::with_capacity(cookies.len());
                for (server, cookie) in plan.servers.iter().zip(&cookies) {
                    match presenter_socket(server, cookie).await {
                        Ok(socket) => sockets.push(socket),
                        Err(e) => {
                            let _ = opened_tx.send(Err(e));
                            return;
                        }
                    }
                }
                let _ = opened_tx.send(Ok(()));
                let screens = sockets
                    .into_iter()
                    .enumerate()
                    .map(|(screen, socket)| presenter(plan.clone(), screen, socket, finish.clone()));
                futures_util::future::join_all(screens).await;
            });
        })
        .map_err(|e| format!("presenter thread: {e}"))?;
    opened.await.map_err(|_| "presenter thread ended".to_string())??;
    Ok(thread)
}

/// Opens the presenter's socket with the presenter's cookie.
async fn presenter_socket(server: &Server, cookie: &str) -> Result<Socket, String> {
    let source = match server.addr.ip() {
        IpAddr::V4(v4) if v4.is_loopback() => IpAddr::V4(v4),
        _ => IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED),
    };
    server
        .socket(source, "?role=presenter", &format!("{PRESENTER_COOKIE}={cookie}"))
        .await
}

/// Posts Twilio's webhook for a text from `from` saying `number` to `url`,
/// signed as Twilio signs it with `token`; each text with its own
/// `MessageSid`.
pub async fn text(
    client: &reqwest::Client,
    url: &str,
    token: &str,
    from: &str,
    number: usize,
    rng: &mut impl rand::Rng,
) -> reqwest::Result<reqwest::Response> {
    let (body, signature) = signed_sms(url, token, from, number, rng);
    client
        .post(url)
        .header("content-type", "application/x-www-form-urlencoded")
        .header(cyoa::sms::signature::HEADER, signature)
        .body(body)
        .send()
        .await
}

/// The body and the `X-Twilio-Signature` of a text from `from` saying
/// `number`, posted to `url`, as Twilio signs it with `token`.
fn signed_sms(url: &str, token: &str, from: &str, number: usize, rng: &mut impl rand::Rng) -> (String, String) {
    let params: Vec<(String, String)> = vec![
        ("AccountSid".into(), "AC00000000000000000000000000000000".into()),
        ("Body".into(), number.to_string()),
        ("From".into(), from.to_string()),
        ("MessageSid".into(), format!("SM{:032x}", rng.random::<u128>())),
        ("NumMedia".into(), "0".into()),
        ("To".into(), "+15550000000".into()),
    ];
    let signature = cyoa::sms::signature::compute(token.as_bytes(), url, &params);
    let body = form_urlencoded::Serializer::new(String::new())
        .extend_pairs(&params)
        .finish();
    (body, signature)
}
