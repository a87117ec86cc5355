//! `cyoa-load soak`: a long, messy audience against several instances of
//! one talk, while someone else kills and restarts an instance and restarts
//! Redis (`scripts/soak.sh`, `tests/multi/soak.rs`).
//!
//! Web voters join on any instance, vote, change their minds, leave for a
//! moment (well within the presence grace) or for long (well beyond it),
//! come back on any instance, and some leave for good (new voters take
//! their seats a little later); phones text signed webhooks to any
//! instance. A refused vote ("try again": a WebSocket
//! `store` error, an SMS 503, a refused connection) is sent again until it
//! is acknowledged, as the audience page and Twilio do.
//!
//! The simulator keeps the ground truth: a phone's last acknowledged text
//! (sticky), a web voter's last acknowledged vote while a page of it is
//! open, nothing for a voter gone. It checks on the way that no
//! acknowledged vote is lost: a voter back within a fraction of the grace
//! (or whose instance died under it) must find its vote still there, and
//! none finds a choice it never made. At the end it waits (within a
//! deadline) until every instance's `/api/state` shows the ground truth,
//! and reports; the exit code is 1 when it never did or a check failed.

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use clap::Parser;
use futures_util::{SinkExt, StreamExt};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use tokio::sync::Semaphore;
use tokio_tungstenite::tungstenite::Message;

use crate::server::{Server, Socket, VOTER_COOKIE};

/// Plays a long audience against several instances and checks every
/// counter against the ground truth at the end.
#[derive(Parser, Debug)]
#[command(name = "cyoa-load soak", version, about)]
pub struct SoakArgs {
    /// An instance's base URL; give one per instance.
    #[arg(long = "url", required = true)]
    urls: Vec<String>,
    /// The presenter token (the same on every instance).
    #[arg(long, env = "CYOA_PRESENTER_TOKEN", hide_env_values = true)]
    presenter_token: String,
    /// The decision (slide id) to open and vote on; a new run is started.
    #[arg(long, default_value = "what-did-you-build")]
    decision: String,
    /// Web voters.
    #[arg(long, default_value_t = 1000)]
    voters: usize,
    /// Phones voting by SMS (needs --twilio-auth-token).
    #[arg(long, default_value_t = 0)]
    sms_voters: usize,
    /// The instances' Twilio auth token, to sign the webhooks.
    #[arg(long, env = "TWILIO_AUTH_TOKEN", hide_env_values = true)]
    twilio_auth_token: Option<String>,
    /// Seconds of activity.
    #[arg(long, default_value_t = 60.0)]
    duration: f64,
    /// The instances' presence grace in seconds (`--presence-grace`).
    #[arg(long, default_value_t = 10.0)]
    grace: f64,
    /// Mean seconds between two actions of one voter or phone.
    #[arg(long, default_value_t = 3.0)]
    pause: f64,
    /// Seed of every voter's choices.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Sockets being set up at once.
    #[arg(long, default_value_t = 64)]
    connect_concurrency: usize,
}

/// How long one vote, text or connection is retried before it counts as
/// failed: longer than any outage the soak makes.
const RETRY_FOR: Duration = Duration::from_secs(90);
/// How long a sent vote waits for its answer before it is sent again.
const ANSWER_WITHIN: Duration = Duration::from_secs(10);

/// What every voter shares.
struct Soak {
    servers: Vec<Server>,
    decision: String,
    choices: Vec<String>,
    grace: Duration,
    pause: f64,
    until: Instant,
    twilio: Option<String>,
    setups: Semaphore,
    /// Per voter (web, then phones): the ground truth, a choice index.
    truth: Vec<Mutex<Option<usize>>>,
    stats: Stats,
}

#[derive(Default)]
struct Stats {
    web_votes: AtomicU64,
    sms_votes: AtomicU64,
    retries: AtomicU64,
    joined: AtomicU64,
    short_absences: AtomicU64,
    long_absences: AtomicU64,
    gone: AtomicU64,
    dropped: AtomicU64,
    failed: AtomicBool,
    problems: Mutex<BTreeMap<String, u64>>,
}

impl Stats {
    /// A check failed: the soak fails.
    fn problem(&self, what: impl Into<String>) {
        self.failed.store(true, Ordering::Relaxed);
        *self
            .problems
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .entry(what.into())
            .or_insert(0) += 1;
    }
}

/// How a page came back: a short absence must find its vote.
#[derive(Clone, Copy, PartialEq)]
enum Absence {
    /// Well within the grace (or its instance died under it).
    Short,
    /// Anything else: the vote may or may not still be there.
    Unsure,
}

/// A web voter's open page.
struct Page {
    socket: Socket,
}

/// Runs the soak; `Ok(true)` when every check passed.
pub async fn run(args: SoakArgs) -> Result<bool, String> {
    if args.sms_voters > 0 && args.twilio_auth_token.is_none() {
        return Err("--sms-voters needs --twilio-auth-token (the instances')".into());
    }
    let mut servers = Vec::new();
    for url in &args.urls {
        servers.push(Server::new(url, &args.presenter_token).await?);
    }
    let first = &servers[0];
    let choices = first.open_decision(&args.decision).await?;
    let began = Instant::now();
    let soak = Arc::new(Soak {
        servers,
        decision: args.decision.clone(),
        choices,
        grace: Duration::from_secs_f64(args.grace),
        pause: args.pause.max(0.05),
        until: began + Duration::from_secs_f64(args.duration),
        twilio: args.twilio_auth_token.clone(),
        setups: Semaphore::new(args.connect_concurrency.max(1)),
        truth: (0..args.voters + args.sms_voters).map(|_| Mutex::new(None)).collect(),
        stats: Stats::default(),
    });
    let mut tasks = Vec::new();
    for slot in 0..args.voters {
        tasks.push(tokio::spawn(web_voter(soak.clone(), slot, args.seed)));
    }
    for i in 0..args.sms_voters {
        let soak = soak.clone();
        tasks.push(tokio::spawn(async move {
            phone(soak, args.voters + i, i, args.seed).await;
            None
        }));
    }
    let progress = tokio::spawn({
        let soak = soak.clone();
        async move {
            let mut tick = tokio::time::interval(Duration::from_secs(5));
            loop {
                tick.tick().await;
                let s = &soak.stats;
                eprintln!(
                    "[soak {:>6.1}s] web votes {:>7}  texts {:>6}  retries {:>6}  short/long absences {}/{}  gone {}  pages dropped by a server {}",
                    began.elapsed().as_secs_f64(),
                    s.web_votes.load(Ordering::Relaxed),
                    s.sms_votes.load(Ordering::Relaxed),
                    s.retries.load(Ordering::Relaxed),
                    s.short_absences.load(Ordering::Relaxed),
                    s.long_absences.load(Ordering::Relaxed),
                    s.gone.load(Ordering::Relaxed),
                    s.dropped.load(Ordering::Relaxed),
                );
            }
        }
    });
    // Every voter ends in a known state: its page open (or gone) and its
    // last vote acknowledged. Open pages are kept until the comparison.
    let mut pages = Vec::new();
    for task in tasks {
        match task.await {
            // Read on (pongs included) until the comparison is over: a
            // page that goes silent is closed by the server after a minute.
            Ok(Some(mut page)) => pages.push(tokio::spawn(async move {
                while let Some(Ok(_)) = page.socket.next().await {}
            })),
            Ok(None) => {}
            Err(e) => soak.stats.problem(format!("a voter task failed: {e}")),
        }
    }
    let activity = began.elapsed();
    eprintln!("[soak {:>6.1}s] every voter settled; comparing", activity.as_secs_f64());

    let mut truth = vec![0u64; soak.choices.len()];
    for t in &soak.truth {
        if let Some(c) = *t.lock().unwrap_or_else(|e| e.into_inner()) {
            truth[c] += 1;
        }
    }
    // Votes of voters gone go after the grace and a reaped instance's
    // lease; after an outage the sweepers hold off one lease more.
    let settle_by = Instant::now() + soak.grace * 4 + Duration::from_secs(60);
    let mut served: Vec<Vec<u64>>;
    let mut first_look = true;
    loop {
        served = Vec::new();
        for server in &soak.servers {
            served.push(counts(&soak, server).await.unwrap_or_default());
        }
        if served.iter().all(|s| *s == truth) || Instant::now() > settle_by {
            break;
        }
        if first_look {
            eprintln!("[soak] not equal yet: ground truth {truth:?}, instances {served:?}");
            first_look = false;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let settled_in = began.elapsed() - activity;
    progress.abort();
    for page in pages {
        page.abort();
    }

    let s = &soak.stats;
    let show = |counts: &[u64]| {
        soak.choices
            .iter()
            .zip(counts)
            .map(|(id, n)| format!("{id} {n}"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    println!(
        "cyoa-load soak report ({} on {} instance(s): {})",
        args.decision,
        soak.servers.len(),
        args.urls.join(" ")
    );
    println!(
        "voters: {} web, {} phones, for {:.0} s (until every voter settled: {:.1} s)",
        args.voters,
        args.sms_voters,
        args.duration,
        activity.as_secs_f64()
    );
    println!(
        "acknowledged votes: {} web, {} by SMS; retries after a refusal or a lost connection: {}",
        s.web_votes.load(Ordering::Relaxed),
        s.sms_votes.load(Ordering::Relaxed),
        s.retries.load(Ordering::Relaxed)
    );
    println!(
        "voters who joined: {} (a seat left for good is taken by someone new); absences: {} short (vote kept), {} long (past the grace), {} voters gone for good, {} pages dropped by a server",
        s.joined.load(Ordering::Relaxed),
        s.short_absences.load(Ordering::Relaxed),
        s.long_absences.load(Ordering::Relaxed),
        s.gone.load(Ordering::Relaxed),
        s.dropped.load(Ordering::Relaxed)
    );
    let problems = s.problems.lock().unwrap_or_else(|e| e.into_inner()).clone();
    if problems.is_empty() {
        println!("checks on the way: all passed");
    } else {
        println!("checks on the way FAILED:");
        for (what, n) in &problems {
            println!("  {n:>8}  {what}");
        }
    }
    println!("ground truth: {} ({} votes)", show(&truth), truth.iter().sum::<u64>());
    let mut ok = !s.failed.load(Ordering::Relaxed);
    for (server, counts) in soak.servers.iter().zip(&served) {
        let same = *counts == truth;
        ok &= same;
        println!(
            "{}: {} {}",
            server.base,
            show(counts),
            if same { "(equal)" } else { "(MISMATCH)" }
        );
    }
    println!(
        "final comparison: {} after {:.1} s of settling",
        if ok {
            "every counter equals the ground truth"
        } else {
            "FAILED"
        },
        settled_in.as_secs_f64()
    );
    Ok(ok)
}

/// The decision's counts on one instance (a negative count would not
/// parse: it fails the comparison).
async fn counts(soak: &Soak, server: &Server) -> Option<Vec<u64>> {
    let d = server.decision().await.ok()??;
    Some(crate::server::counts(&soak.choices, &d.choices))
}

/// A pause of about `mean` seconds (exponential), at most four times it.
fn pause(rng: &mut StdRng, mean: f64) -> Duration {
    let u: f64 = rng.random_range(0.0001..1.0);
    Duration::from_secs_f64((-u.ln() * mean).min(mean * 4.0))
}

fn set_truth(soak: &Soak, slot: usize, choice: Option<usize>) {
    *soak.truth[slot].lock().unwrap_or_else(|e| e.into_inner()) = choice;
}

/// Opens a page on `server` or, if that fails, on the others in turn,
/// until one opens (or [`RETRY_FOR`] passed). Returns the page and the
/// choice the first state says the voter has (`Err(())`: no state came).
async fn open_page(soak: &Soak, cookie: &str, server: usize) -> Option<(Page, Result<Option<String>, ()>)> {
    let deadline = Instant::now() + RETRY_FOR;
    let mut at = server;
    loop {
        let opened = {
            let _permit = soak.setups.acquire().await.ok()?;
            soak.servers[at]
                .socket(IpAddr::V4(Ipv4Addr::LOCALHOST), "", cookie)
                .await
        };
        if let Ok(mut socket) = opened {
            let you = first_state(&mut socket).await;
            return Some((Page { socket }, you));
        }
        if Instant::now() > deadline {
            return None;
        }
        soak.stats.retries.fetch_add(1, Ordering::Relaxed);
        at = (at + 1) % soak.servers.len();
        if at == server {
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }
}

/// The voter's choice in the first `state` the server sends.
async fn first_state(socket: &mut Socket) -> Result<Option<String>, ()> {
    let read = async {
        while let Some(Ok(message)) = socket.next().await {
            let Message::Text(text) = message else { continue };
            let Ok(v) = serde_json::from_str::<serde_json::Value>(text.as_str()) else {
                continue;
            };
            match v["type"].as_str() {
                Some("state") => return Ok(v["state"]["you"].as_str().map(str::to_string)),
                Some("error") => return Err(()),
                _ => {}
            }
        }
        Err(())
    };
    tokio::time::timeout(ANSWER_WITHIN, read).await.unwrap_or(Err(()))
}

/// What came of one vote on a page.
enum Sent {
    Voted,
    /// Refused for now (Redis down, rate limit): send it again.
    Refused,
    /// The page is gone (its instance died): reopen and send it again.
    Closed,
}

/// Sends a vote for `choice` and waits for its answer.
async fn send_vote(soak: &Soak, page: &mut Page, choice: usize) -> Sent {
    let text = format!(
        r#"{{"type":"vote","decision":"{}","choice":"{}"}}"#,
        soak.decision, soak.choices[choice]
    );
    if page.socket.send(Message::Text(text.into())).await.is_err() {
        return Sent::Closed;
    }
    let answer = async {
        loop {
            match page.socket.next().await {
                Some(Ok(Message::Text(text))) => {
                    let text = text.as_str();
                    if text.starts_with(r#"{"type":"voted""#) {
                        return Sent::Voted;
                    }
                    if text.starts_with(r#"{"type":"error""#) && text.contains(r#""vote""#) {
                        return Sent::Refused;
                    }
                }
                Some(Ok(_)) => {}
                Some(Err(_)) | None => return Sent::Closed,
            }
        }
    };
    tokio::time::timeout(ANSWER_WITHIN, answer)
        .await
        .unwrap_or(Sent::Refused)
}

/// Votes `choice` until acknowledged, reopening the page elsewhere when its
/// instance is gone. `None`: the voter could not get through at all.
async fn vote_until_acknowledged(
    soak: &Soak,
    rng: &mut StdRng,
    cookie: &str,
    mut page: Page,
    choice: usize,
) -> Option<Page> {
    let deadline = Instant::now() + RETRY_FOR;
    let mut backoff = Duration::from_millis(250);
    loop {
        match send_vote(soak, &mut page, choice).await {
            Sent::Voted => {
                soak.stats.web_votes.fetch_add(1, Ordering::Relaxed);
                return Some(page);
            }
            Sent::Refused => {
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(Duration::from_secs(4));
            }
            Sent::Closed => {
                soak.stats.dropped.fetch_add(1, Ordering::Relaxed);
                let next = rng.random_range(0..soak.servers.len());
                page = open_page(soak, cookie, next).await?.0;
            }
        }
        soak.stats.retries.fetch_add(1, Ordering::Relaxed);
        if Instant::now() > deadline {
            return None;
        }
    }
}

/// Waits `time` on an open page (reading its pushes). `false` when the
/// server closed it meanwhile (its instance died, or stopped).
async fn stay(page: &mut Page, time: Duration) -> bool {
    let read = async { while let Some(Ok(_)) = page.socket.next().await {} };
    tokio::select! {
        _ = read => false,
        _ = tokio::time::sleep(time) => true,
    }
}

/// Checks the choice a page found on coming back against the truth (and
/// `before`, the voter's last choice before a long absence, whose
/// withdrawal may be late after an outage).
fn check_return(soak: &Soak, slot: usize, absence: Absence, you: &Result<Option<String>, ()>, before: Option<usize>) {
    let truth = *soak.truth[slot].lock().unwrap_or_else(|e| e.into_inner());
    let truth = truth.map(|c| soak.choices[c].as_str());
    let before = before.map(|c| soak.choices[c].as_str());
    let Ok(you) = you else { return };
    let you = you.as_deref();
    if absence == Absence::Short && you != truth {
        soak.stats.problem(format!(
            "a voter back within a fraction of the grace lost its acknowledged vote (had {truth:?}, found {you:?})"
        ));
    } else if you.is_some() && you != truth && you != before {
        soak.stats.problem(format!(
            "a voter found a choice it never made (had {truth:?}, found {you:?})"
        ));
    }
}

/// A voter could not get a page open or a vote through for [`RETRY_FOR`].
struct GaveUp;

/// One web voter. Returns its open page at the end (`None`: gone); a voter
/// that could not get through fails the soak.
async fn web_voter(soak: Arc<Soak>, slot: usize, seed: u64) -> Option<Page> {
    match voter_life(&soak, slot, seed).await {
        Ok(page) => page,
        Err(GaveUp) => {
            soak.stats.problem(format!(
                "a voter could not get a page open or a vote through for {RETRY_FOR:?}"
            ));
            set_truth(&soak, slot, None);
            None
        }
    }
}

async fn voter_life(soak: &Arc<Soak>, slot: usize, seed: u64) -> Result<Option<Page>, GaveUp> {
    let mut rng = StdRng::seed_from_u64(seed.wrapping_mul(1_000_003).wrapping_add(slot as u64));
    let client = crate::server::client(None).map_err(|_| GaveUp)?;
    loop {
        let home = rng.random_range(0..soak.servers.len());
        let cookie = {
            let _permit = soak.setups.acquire().await.map_err(|_| GaveUp)?;
            let mut cookie = Err(String::new());
            for attempt in 0..soak.servers.len() * 20 {
                cookie = soak.servers[(home + attempt) % soak.servers.len()]
                    .voter_cookie(&client)
                    .await;
                if cookie.is_ok() {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(250)).await;
            }
            format!("{VOTER_COOKIE}={}", cookie.map_err(|_| GaveUp)?)
        };
        let (page, _) = open_page(soak, &cookie, home).await.ok_or(GaveUp)?;
        soak.stats.joined.fetch_add(1, Ordering::Relaxed);
        if let Some(page) = one_voter(soak, slot, &mut rng, &cookie, page).await? {
            return Ok(Some(page));
        }
        // Gone: someone new may take the seat a little later.
        let next = Instant::now() + pause(&mut rng, soak.pause * 3.0);
        if next >= soak.until {
            return Ok(None);
        }
        tokio::time::sleep_until(next.into()).await;
    }
}

/// One voter (one cookie) from its first page on: its page at the end, or
/// `None` once it left for good.
async fn one_voter(
    soak: &Arc<Soak>,
    slot: usize,
    rng: &mut StdRng,
    cookie: &str,
    mut page: Page,
) -> Result<Option<Page>, GaveUp> {
    let cookie = cookie.to_string();
    let mut current: Option<usize> = None;
    let short = soak.grace / 4;
    let long = soak.grace * 2 + Duration::from_secs(5);
    loop {
        let wait = pause(rng, soak.pause);
        let left = soak.until.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Ok(Some(page));
        }
        if !stay(&mut page, wait.min(left)).await {
            let dropped_at = Instant::now();
            // Its instance died (or Redis went and took the page along):
            // the page reconnects at once, anywhere, and must find its vote.
            soak.stats.dropped.fetch_add(1, Ordering::Relaxed);
            let next = rng.random_range(0..soak.servers.len());
            let (again, you) = open_page(soak, &cookie, next).await.ok_or(GaveUp)?;
            let absence = if dropped_at.elapsed() < short {
                Absence::Short
            } else {
                Absence::Unsure
            };
            check_return(soak, slot, absence, &you, None);
            page = again;
            if absence == Absence::Unsure || you.is_err() {
                if let Some(c) = current {
                    page = vote_until_acknowledged(soak, rng, &cookie, page, c)
                        .await
                        .ok_or(GaveUp)?;
                }
            }
            continue;
        }
        if Instant::now() >= soak.until {
            return Ok(Some(page));
        }
        match rng.random_range(0..100) {
            // A vote, or a change of mind.
            0..60 => {
                let choice = match current {
                    Some(c) if soak.choices.len() > 1 => {
                        (c + rng.random_range(1..soak.choices.len())) % soak.choices.len()
                    }
                    _ => rng.random_range(0..soak.choices.len()),
                };
                page = vote_until_acknowledged(soak, rng, &cookie, page, choice)
                    .await
                    .ok_or(GaveUp)?;
                current = Some(choice);
                set_truth(soak, slot, current);
            }
            // A reload or a flaky connection: back well within the grace,
            // on any instance; the vote must still be there.
            60..75 => {
                let _ = page.socket.close(None).await;
                let left_at = Instant::now();
                tokio::time::sleep(short.mul_f64(rng.random_range(0.0..0.5))).await;
                let next = rng.random_range(0..soak.servers.len());
                let (again, you) = open_page(soak, &cookie, next).await.ok_or(GaveUp)?;
                let absence = if left_at.elapsed() < short {
                    Absence::Short
                } else {
                    Absence::Unsure
                };
                check_return(soak, slot, absence, &you, None);
                page = again;
                soak.stats.short_absences.fetch_add(1, Ordering::Relaxed);
                if absence == Absence::Unsure || you.is_err() {
                    if let Some(c) = current {
                        page = vote_until_acknowledged(soak, rng, &cookie, page, c)
                            .await
                            .ok_or(GaveUp)?;
                    }
                }
            }
            // Away past the grace: the vote goes. Back later (if the soak
            // still runs), voting again.
            75..80 => {
                let _ = page.socket.close(None).await;
                let before = current.take();
                set_truth(soak, slot, None);
                soak.stats.long_absences.fetch_add(1, Ordering::Relaxed);
                let back = Instant::now() + long;
                if back >= soak.until {
                    return Ok(None);
                }
                tokio::time::sleep_until(back.into()).await;
                let next = rng.random_range(0..soak.servers.len());
                let (again, you) = open_page(soak, &cookie, next).await.ok_or(GaveUp)?;
                check_return(soak, slot, Absence::Unsure, &you, before);
                page = again;
                let choice = rng.random_range(0..soak.choices.len());
                page = vote_until_acknowledged(soak, rng, &cookie, page, choice)
                    .await
                    .ok_or(GaveUp)?;
                current = Some(choice);
                set_truth(soak, slot, current);
            }
            // Gone for good.
            80..82 => {
                let _ = page.socket.close(None).await;
                set_truth(soak, slot, None);
                soak.stats.gone.fetch_add(1, Ordering::Relaxed);
                return Ok(None);
            }
            // Just watching.
            _ => {}
        }
    }
}

/// One phone: texts a choice now and then, each text a webhook signed as
/// Twilio signs it, to any instance; a refused text is sent again (a new
/// message, as a person texting again) until one is thanked.
async fn phone(soak: Arc<Soak>, slot: usize, number: usize, seed: u64) {
    let Some(token) = soak.twilio.clone() else { return };
    let Ok(client) = crate::server::client(None) else {
        return;
    };
    let mut rng = StdRng::seed_from_u64(seed.wrapping_mul(7_000_003).wrapping_add(number as u64) ^ u64::MAX);
    let from = format!("+1555{number:07}");
    loop {
        let left = soak.until.saturating_duration_since(Instant::now());
        tokio::time::sleep(pause(&mut rng, soak.pause * 3.0).min(left)).await;
        if Instant::now() >= soak.until {
            return;
        }
        let choice = rng.random_range(0..soak.choices.len());
        let deadline = Instant::now() + RETRY_FOR;
        loop {
            let server = &soak.servers[rng.random_range(0..soak.servers.len())];
            let url = format!("{}/sms", server.base);
            let response = crate::audience::text(&client, &url, &token, &from, choice + 1, &mut rng).await;
            if let Ok(r) = response {
                let ok = r.status().is_success();
                let _ = r.bytes().await;
                if ok {
                    soak.stats.sms_votes.fetch_add(1, Ordering::Relaxed);
                    set_truth(&soak, slot, Some(choice));
                    break;
                }
            }
            // Refused (503 while Redis is down) or unanswered (the instance
            // died): text again. A text that was unanswered may have
            // counted; the next one for the same choice settles it.
            soak.stats.retries.fetch_add(1, Ordering::Relaxed);
            if Instant::now() > deadline {
                soak.stats.problem("a text was never thanked within the retry time");
                return;
            }
            tokio::time::sleep(Duration::from_millis(rng.random_range(200..1000))).await;
        }
    }
}
