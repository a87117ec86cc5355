//! `cyoa-load`: plays an audience against a running cyoa server over real
//! sockets and reports what it saw.
//!
//! It opens a decision as the presenter (a new run, so the tally starts
//! empty), watches the tally pushes on a presenter socket, connects N web
//! voters (each `GET /` for its cookie, then `/ws`; spread over
//! 127.0.0.1, 127.0.0.2, ... so that no source address runs out of ports),
//! and has them vote, change their minds, leave and come back; phones post
//! signed Twilio webhooks. It prints a progress line a second on stderr
//! and a report on stdout: connections held, votes per second, vote to
//! push latency, the server's memory, errors by kind, and whether the
//! server's final tally equals the ground truth it kept (every voter's
//! last acknowledged choice). The exit code is 1 when the tallies differ
//! or the run could not be set up.
//!
//! Its voters vote as soon as their socket is open, and all of them come
//! from a few addresses: start the server with `--voter-min-age 0` and a
//! `--voter-mint-rate` and `--voter-mint-burst` above the voters' rate
//! (`scripts/bench.sh` does); otherwise votes come back `too_soon` and
//! voters `429`, each counted as an error.
//!
//! `cyoa-load soak --url A --url B ...` plays a long, messy audience
//! against several instances instead and checks every counter at the end
//! (see `soak.rs`; `scripts/soak.sh` runs it with the crashes).

mod audience;
mod server;
mod soak;
mod stats;

use std::net::{IpAddr, Ipv4Addr};
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicI32, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use clap::Parser;
use tokio::sync::{Semaphore, watch};

use audience::{Door, NO_VOTE, Plan, UNKNOWN};
use server::Server;
use stats::{Counters, Screens, Tracker, quantiles};

/// Plays an audience against a running cyoa server and checks its tally.
#[derive(Parser, Debug)]
#[command(name = "cyoa-load", version, about)]
struct Args {
    /// The server's base URL. Give one per instance of a talk whose
    /// instances share one store: voters are spread over them, the first
    /// is where the decision is opened and phones text, and every
    /// instance's presenter screen is watched.
    #[arg(long = "url", default_value = "http://127.0.0.1:8080")]
    urls: Vec<String>,
    /// The server's presenter token.
    #[arg(long, env = "CYOA_PRESENTER_TOKEN", hide_env_values = true)]
    presenter_token: String,
    /// The decision (slide id) to open and vote on; a new run is started.
    #[arg(long, default_value = "what-did-you-build")]
    decision: String,
    /// Web voters, each with its own cookie and socket.
    #[arg(long, default_value_t = 1000)]
    voters: usize,
    /// Votes per second from all web voters together; 0: each voter votes
    /// every --voter-interval-ms.
    #[arg(long, default_value_t = 0.0)]
    rate: f64,
    /// Time between one voter's votes when --rate is 0 (the server allows
    /// a voter 5 votes a second).
    #[arg(long, default_value_t = 250)]
    voter_interval_ms: u64,
    /// Seconds of voting, once every voter is connected.
    #[arg(long, default_value_t = 10.0)]
    duration: f64,
    /// Chance that a voter leaves after a vote and comes back 0.1 to 1 s
    /// later (well within the presence grace, so its vote stands).
    #[arg(long, default_value_t = 0.02)]
    leave: f64,
    /// Probes: more web voters, each tapping once, spread over the voting
    /// after every other voter's first vote is in; the first push whose
    /// total shows a probe's vote gives its exact vote-to-push time.
    #[arg(long, default_value_t = 0)]
    probes: usize,
    /// Phones voting by SMS (needs --twilio-auth-token).
    #[arg(long, default_value_t = 0)]
    sms_voters: usize,
    /// Time between one phone's texts.
    #[arg(long, default_value_t = 1000)]
    sms_interval_ms: u64,
    /// The server's Twilio auth token, to sign the webhooks.
    #[arg(long, env = "TWILIO_AUTH_TOKEN", hide_env_values = true)]
    twilio_auth_token: Option<String>,
    /// The URL the server checks signatures against [default: URL/sms].
    #[arg(long)]
    sms_url: Option<String>,
    /// Source addresses to spread sockets over, 127.0.0.1 upwards [default:
    /// one per 10,000 voters].
    #[arg(long)]
    sources: Option<u8>,
    /// Sockets being set up at once.
    #[arg(long, default_value_t = 128)]
    connect_concurrency: usize,
    /// The server's process id, to read its memory (VmRSS); without it,
    /// its /metrics is read if it has one.
    #[arg(long)]
    server_pid: Option<u32>,
}

fn main() -> ExitCode {
    if std::env::args().nth(1).as_deref() == Some("soak") {
        let args = soak::SoakArgs::parse_from(std::env::args().skip(1));
        // Every page is a file.
        if let Err(e) = rlimit::increase_nofile_limit(u64::MAX) {
            eprintln!("cyoa-load: warning: cannot raise the open-file limit: {e}");
        }
        return block_on(soak::run(args));
    }
    let args = Args::parse();
    // Every socket is a file: take all the files this process may have.
    match rlimit::increase_nofile_limit(u64::MAX) {
        Ok(limit) => {
            let needed = (args.voters + args.probes + 64) as u64;
            if limit < needed {
                eprintln!("cyoa-load: warning: only {limit} open files allowed; {needed} needed");
            }
        }
        Err(e) => eprintln!("cyoa-load: warning: cannot raise the open-file limit: {e}"),
    }
    block_on(run(args))
}

/// Runs `work` on a multi-threaded runtime: exit code 0 when it returned
/// `Ok(true)`.
fn block_on(work: impl std::future::Future<Output = Result<bool, String>>) -> ExitCode {
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("cyoa-load: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(work) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(e) => {
            eprintln!("cyoa-load: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Server memory in KiB: `VmRSS` of `--server-pid`, else the resident
/// memory /metrics reports.
async fn server_memory(server: &Server, pid: Option<u32>) -> Option<u64> {
    if let Some(pid) = pid {
        return server::rss_kib(pid);
    }
    let client = server::client(None).ok()?;
    let text = client
        .get(format!("{}/metrics", server.base))
        .send()
        .await
        .ok()?
        .text()
        .await
        .ok()?;
    text.lines()
        .find(|l| l.starts_with("process_resident_memory_bytes"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse::<f64>().ok())
        .map(|b| (b / 1024.0) as u64)
}

fn mib(kib: Option<u64>) -> String {
    kib.map_or("unknown".into(), |k| format!("{:.1} MiB", k as f64 / 1024.0))
}

async fn run(args: Args) -> Result<bool, String> {
    if args.voters == 0 && args.sms_voters == 0 {
        return Err("nobody to vote: give --voters or --sms-voters".into());
    }
    if args.sms_voters > 0 && args.twilio_auth_token.is_none() {
        return Err("--sms-voters needs --twilio-auth-token (the server's)".into());
    }
    let mut servers = Vec::with_capacity(args.urls.len());
    for url in &args.urls {
        servers.push(Server::new(url, &args.presenter_token).await?);
    }
    let server = servers[0].clone();

    // A new run, on the decision's slide, its vote open (on every
    // instance once the store's events reach it).
    let choices = server.open_decision(&args.decision).await?;
    for other in &servers[1..] {
        other.wait_for_open(&server, &args.decision).await?;
    }

    let interval = if args.rate > 0.0 {
        Duration::from_secs_f64(args.voters as f64 / args.rate)
    } else {
        Duration::from_millis(args.voter_interval_ms)
    };
    if interval < Duration::from_millis(200) {
        eprintln!(
            "cyoa-load: warning: each voter votes every {interval:?}, faster than the 5 votes/s a voter may cast; add voters"
        );
    }
    let twilio = args.twilio_auth_token.clone().map(|token| {
        let url = args.sms_url.clone().unwrap_or_else(|| format!("{}/sms", server.base));
        (token, url)
    });
    let slots = args.voters + args.probes + args.sms_voters;
    let (warm, _) = watch::channel(false);
    let plan = Arc::new(Plan {
        screens: Screens::new(servers.len()),
        servers,
        decision: args.decision.clone(),
        choices: choices.clone(),
        interval,
        sms_interval: Duration::from_millis(args.sms_interval_ms.max(1)),
        leave: args.leave,
        twilio,
        counters: Counters::default(),
        tracker: Tracker::new(choices.len()),
        truth: (0..slots).map(|_| AtomicI32::new(NO_VOTE)).collect(),
        settled: AtomicUsize::new(0),
        set_up: AtomicUsize::new(0),
        first_answers: AtomicUsize::new(0),
        first_voters: args.voters + args.sms_voters,
        warm,
    });

    let memory_before = server_memory(&server, args.server_pid).await;
    let (finish_tx, finish) = watch::channel(false);
    let (go_tx, go) = watch::channel(None);
    let presenter = audience::presenter_thread(plan.clone(), finish.clone()).await?;

    // Source addresses: loopback servers get 127.0.0.1, .2, ...
    let sources: Vec<IpAddr> = match server.addr.ip() {
        IpAddr::V4(ip) if ip.is_loopback() => {
            let n = args
                .sources
                .map_or(args.voters.div_ceil(10_000).max(1), usize::from)
                .clamp(1, 254);
            (1..=n as u8).map(|i| IpAddr::V4(Ipv4Addr::new(127, 0, 0, i))).collect()
        }
        _ => vec![IpAddr::V4(Ipv4Addr::UNSPECIFIED)],
    };
    let clients = sources
        .iter()
        .map(|s| server::client(Some(*s)))
        .collect::<Result<Vec<_>, _>>()?;
    let setups = Arc::new(Semaphore::new(args.connect_concurrency.max(1)));
    let door = |which: usize| Door {
        source: sources[which],
        client: clients[which].clone(),
        setups: setups.clone(),
        go: go.clone(),
        finish: finish.clone(),
    };
    let mut tasks = Vec::with_capacity(slots);
    for slot in 0..args.voters {
        let which = slot % sources.len();
        tasks.push(tokio::spawn(audience::web_voter(plan.clone(), slot, door(which))));
    }
    for index in 0..args.probes {
        let slot = args.voters + index;
        let which = slot % sources.len();
        tasks.push(tokio::spawn(audience::probe(
            plan.clone(),
            slot,
            index,
            args.probes,
            door(which),
        )));
    }
    let sms_client = server::client(None)?;
    for i in 0..args.sms_voters {
        tasks.push(tokio::spawn(audience::phone(
            plan.clone(),
            args.voters + args.probes + i,
            i,
            sms_client.clone(),
            go.clone(),
        )));
    }

    // Connect everyone first.
    let began = Instant::now();
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    tick.tick().await;
    while plan.set_up.load(Ordering::Relaxed) < args.voters + args.probes {
        tick.tick().await;
        eprintln!(
            "[connect {:>4.0}s] connected {:>6} of {}  errors {}",
            began.elapsed().as_secs_f64(),
            plan.counters.connected.load(Ordering::Relaxed),
            args.voters,
            plan.counters.errors().values().sum::<u64>()
        );
    }
    let connect_time = began.elapsed();
    let held = plan.counters.connected.load(Ordering::Relaxed);
    let memory_connected = server_memory(&server, args.server_pid).await;

    // Vote.
    let start = Instant::now();
    let until = start + Duration::from_secs_f64(args.duration.max(0.0));
    let _ = go_tx.send(Some((start, until)));
    let mut last_votes = 0;
    let mut memory_peak = memory_connected;
    while plan.settled.load(Ordering::Relaxed) < slots {
        tick.tick().await;
        let votes = plan.counters.votes();
        memory_peak = memory_peak.max(server_memory(&server, args.server_pid).await);
        eprintln!(
            "[vote {:>6.1}s] connected {:>6}  votes {:>8} ({:>6}/s)  errors {}  unseen in pushes {}  push latency {}",
            start.elapsed().as_secs_f64(),
            plan.counters.connected.load(Ordering::Relaxed),
            votes,
            votes - last_votes,
            plan.counters.errors().values().sum::<u64>(),
            plan.tracker.undelivered(),
            quantiles(&plan.tracker.latency())
        );
        last_votes = votes;
        if Instant::now() > until + Duration::from_secs(30) {
            eprintln!("cyoa-load: voters still busy 30 s after the end; reporting without them");
            break;
        }
    }
    // Voters stop sending at `until`; the last answers come just after.
    let voting_time = until - start;

    // The ground truth: every voter's last acknowledged choice.
    let mut truth = vec![0u64; choices.len()];
    let mut unknown = 0;
    for t in &plan.truth {
        match t.load(Ordering::Relaxed) {
            UNKNOWN => unknown += 1,
            c if c >= 0 => truth[c as usize] += 1,
            _ => {}
        }
    }
    // Pushes are coalesced: wait for every screen to show the last votes.
    let pushed_by = Instant::now() + Duration::from_secs(10);
    while plan.screens.showing_since(&truth).iter().any(Option::is_none) && Instant::now() < pushed_by {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let shown = plan.screens.showing_since(&truth);
    let (last_sent, last_answer) = plan.tracker.last_vote();
    let last_push = plan.screens.shown(0);
    let mut served = Vec::with_capacity(plan.servers.len());
    for s in &plan.servers {
        let state = s.decision().await?;
        served.push(server::counts(&choices, state.as_ref().map_or(&[][..], |d| &d.choices)));
    }
    let memory_end = server_memory(&server, args.server_pid).await;

    let _ = finish_tx.send(true);
    let _ = tokio::time::timeout(
        Duration::from_secs(10),
        tokio::task::spawn_blocking(move || presenter.join()),
    )
    .await;
    let _ = tokio::time::timeout(Duration::from_secs(10), async {
        for t in tasks {
            let _ = t.await;
        }
    })
    .await;

    // The report.
    let c = &plan.counters;
    let web = c.web_votes.load(Ordering::Relaxed);
    let sms = c.sms_votes.load(Ordering::Relaxed);
    println!("cyoa-load report ({} on {})", args.decision, args.urls.join(", "));
    println!(
        "connections held: {held} of {} web voters and probes (peak {}), connected in {:.1} s over {} source address(es); {} left and came back",
        args.voters + args.probes,
        c.peak_connected.load(Ordering::Relaxed),
        connect_time.as_secs_f64(),
        sources.len(),
        c.returns.load(Ordering::Relaxed)
    );
    println!(
        "votes: {} in {:.1} s = {:.0} votes/s (web {web}, sms {sms} from {} phones)",
        web + sms,
        voting_time.as_secs_f64(),
        (web + sms) as f64 / voting_time.as_secs_f64().max(1e-9),
        args.sms_voters
    );
    println!("vote answered: {}", quantiles(&plan.tracker.answers()));
    println!(
        "vote to presenter push: {} (an estimate from every vote; moves blur it)",
        quantiles(&plan.tracker.latency())
    );
    if args.probes > 0 {
        println!(
            "probe vote to presenter push: {}, {} of {} probes never seen",
            quantiles(&plan.tracker.probed()),
            plan.tracker.probes_unseen(),
            args.probes
        );
    }
    let pushes = plan.tracker.pushes();
    println!(
        "presenter pushes: {pushes} in {:.1} s ({:.1} per second; coalesced: {} votes per push)",
        voting_time.as_secs_f64(),
        pushes as f64 / voting_time.as_secs_f64().max(1e-9),
        (web + sms) / pushes.max(1)
    );
    println!("votes never seen in a push: {}", plan.tracker.undelivered());
    // The memory is the first instance's; its share of the connections
    // is every `instances`th voter's.
    let instances = plan.servers.len() as f64;
    let per_connection = match (memory_before, memory_connected) {
        (Some(b), Some(a)) if held > 0 => format!(
            "{:.1} KiB per connection",
            a.saturating_sub(b) as f64 / (held as f64 / instances)
        ),
        _ => "per connection unknown".into(),
    };
    println!(
        "server memory{}: {} before, {} with {held} connections ({per_connection}), peak {}, at the end {}",
        if plan.servers.len() > 1 {
            " (the first instance)"
        } else {
            ""
        },
        mib(memory_before),
        mib(memory_connected),
        mib(memory_peak),
        mib(memory_end)
    );
    let errors = c.errors();
    if errors.is_empty() {
        println!("errors: none");
    } else {
        println!("errors: {}", errors.values().sum::<u64>());
        for (kind, n) in &errors {
            println!("  {n:>8}  {kind}");
        }
    }
    let show = |counts: &[u64]| {
        choices
            .iter()
            .zip(counts)
            .map(|(id, n)| format!("{id} {n}"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    println!("last push: {}", last_push.as_deref().map_or("none".into(), show));
    // How long after the last vote was sent (and after the last answer
    // this process read) each presenter screen began to show the final
    // tally; a screen that showed it before (a last vote moving nothing
    // on it, or a push that came before this busy process read the
    // answer) counts 0.
    let ms = |d: Duration| format!("{:.1} ms", d.as_secs_f64() * 1000.0);
    let after = |at: Option<Instant>, vote: Option<Instant>| match (at, vote) {
        (Some(at), Some(vote)) => Some(at.saturating_duration_since(vote)),
        (Some(_), None) => Some(Duration::ZERO),
        (None, _) => None,
    };
    let slowest = |vote: Option<Instant>| {
        shown
            .iter()
            .map(|at| after(*at, vote))
            .collect::<Option<Vec<_>>>()
            .map_or("never".into(), |d| ms(d.into_iter().max().unwrap_or_default()))
    };
    println!(
        "every presenter screen showing the final tally: {} after the last vote was sent, {} after the last answer ({} of {} screens; per instance, after the send: {})",
        slowest(last_sent),
        slowest(last_answer),
        shown.iter().filter(|at| at.is_some()).count(),
        shown.len(),
        shown
            .iter()
            .map(|at| after(*at, last_sent).map_or("never".into(), ms))
            .collect::<Vec<_>>()
            .join(", ")
    );
    let ok = served.iter().all(|s| *s == truth) && unknown == 0;
    if ok {
        println!("tallies match: {}", show(&truth));
    } else {
        println!(
            "tallies MISMATCH: expected {} ({unknown} votes of unknown fate), server {}",
            show(&truth),
            served.iter().map(|s| show(s)).collect::<Vec<_>>().join("; ")
        );
    }
    Ok(ok)
}
