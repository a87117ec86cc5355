//! Signed Twilio webhooks per second through cyoa's real HTTP server.
//!
//! Starts the server in this process (its own 2-thread runtime, as
//! `cyoa serve` has on this machine), opens the bundled talk's first vote,
//! pre-signs `SMS_LOAD_TEXTS` webhooks, each from its own phone with its own
//! `MessageSid`, and posts them over `SMS_LOAD_CONCURRENCY` keep-alive
//! connections. Prints webhooks per second, latency percentiles, and whether
//! the final tally equals the number of texts sent.
//!
//! Under `cargo test --all-targets` (no `--bench` argument) it posts only
//! 200, as a check.
//!
//! ```sh
//! cargo bench --bench sms_load                                   # memory store
//! REDIS_URL=redis://127.0.0.1:6390 cargo bench --bench sms_load  # Redis
//! ```

use std::time::{Duration, Instant};

use cyoa::settings::{Settings, SmsSettings, StoreChoice};
use cyoa::sms::signature;
use cyoa::store::{MemoryStore, RedisStore, VoteStore};
use cyoa::story::Story;
use cyoa::web::Application;

const TOKEN: &str = "load-test-twilio-auth-token";

fn env_number(name: &str, default: usize) -> usize {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

/// One pre-signed webhook: its body and signature.
struct Webhook {
    body: String,
    signature: String,
}

fn webhook(url: &str, n: usize) -> Webhook {
    let from = format!("+1415{n:07}");
    let sid = format!("SM{n:032}");
    let choice = if n % 3 == 0 { "1" } else { "b" };
    let params: Vec<(String, String)> = [
        ("ToCountry", "US"),
        ("SmsMessageSid", sid.as_str()),
        ("NumMedia", "0"),
        ("SmsSid", sid.as_str()),
        ("SmsStatus", "received"),
        ("Body", choice),
        ("To", "+15005550006"),
        ("NumSegments", "1"),
        ("MessageSid", sid.as_str()),
        ("AccountSid", "AC00000000000000000000000000000000"),
        ("From", from.as_str()),
        ("ApiVersion", "2010-04-01"),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    let mut form = form_urlencoded::Serializer::new(String::new());
    for (k, v) in &params {
        form.append_pair(k, v);
    }
    Webhook {
        body: form.finish(),
        signature: signature::compute(TOKEN.as_bytes(), url, &params),
    }
}

/// CPU seconds this process has used (user + system), from /proc; `None`
/// where there is no /proc.
fn cpu_seconds() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // Fields after the command name (which may hold spaces) end with ')'.
    let rest = stat.rsplit_once(')')?.1;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // utime and stime are fields 14 and 15 of the whole line: 12 and 13 here.
    let ticks: f64 = fields.get(11)?.parse::<f64>().ok()? + fields.get(12)?.parse::<f64>().ok()?;
    // Linux reports them in USER_HZ, 100 a second on every common platform.
    Some(ticks / 100.0)
}

fn main() {
    // `cargo bench` passes --bench; `cargo test --all-targets` does not:
    // then a short run only checks that the driver and the server work.
    let measuring = std::env::args().any(|a| a == "--bench");
    let texts = env_number("SMS_LOAD_TEXTS", if measuring { 20_000 } else { 200 });
    let concurrency = env_number("SMS_LOAD_CONCURRENCY", 32).max(1);
    let redis_url = std::env::var("REDIS_URL").ok();

    let story = match Story::bundled() {
        Ok(loaded) => loaded.story,
        Err(e) => panic!("the bundled story does not load: {e:?}"),
    };
    let decision = story.decisions().next().expect("the talk has a decision").id.clone();

    // The server: its own runtime, two worker threads.
    let server_rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a runtime");
    let (store, run, port, stop) = server_rt.block_on(async {
        let store = match &redis_url {
            Some(url) => {
                let prefix = format!("sms-load:{}:", std::process::id());
                VoteStore::Redis(RedisStore::connect(url, &prefix).await.expect("Redis answers"))
            }
            None => VoteStore::Memory(MemoryStore::new()),
        };
        let state = store.current(&story.start).await.expect("a run");
        store
            .show(state.run, &decision, &[story.start.clone(), decision.clone()])
            .await
            .expect("show");
        store.open(state.run, &decision).await.expect("open");
        let mut settings = Settings::new("load-test-presenter-token", "load-test-secret");
        settings.server.bind = "127.0.0.1:0".into();
        settings.store = StoreChoice::Open(store.clone());
        // `results` too when built with `sms-outbound`.
        #[allow(clippy::needless_update)]
        let sms = SmsSettings {
            auth_token: Some(TOKEN.into()),
            number: Some("+15005550006".into()),
            insecure_skip_signature: false,
            ..SmsSettings::default()
        };
        settings.sms = sms;
        let app = Application::build(settings, story.clone())
            .await
            .expect("the server binds");
        let port = app.port();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        tokio::spawn(app.run_until(async move {
            let _ = stopped.await;
        }));
        (store, state.run, port, stop)
    });

    let url = format!("http://127.0.0.1:{port}/sms");
    let hooks: Vec<Webhook> = (0..texts).map(|n| webhook(&url, n)).collect();

    // The client: one thread, `concurrency` connections kept alive.
    let client_rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    let (elapsed, mut latencies, failures, cpu) = client_rt.block_on(async {
        let client = reqwest::Client::builder()
            .pool_max_idle_per_host(concurrency)
            .build()
            .expect("a client");
        let hooks = std::sync::Arc::new(hooks);
        let next = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let started = Instant::now();
        let cpu_before = cpu_seconds();
        let workers: Vec<_> = (0..concurrency)
            .map(|_| {
                let (client, hooks, next, url) = (client.clone(), hooks.clone(), next.clone(), url.clone());
                tokio::spawn(async move {
                    let mut latencies = Vec::new();
                    let mut failures = 0usize;
                    loop {
                        let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        let Some(hook) = hooks.get(i) else { break };
                        let sent = Instant::now();
                        let answer = client
                            .post(&url)
                            .header("content-type", "application/x-www-form-urlencoded")
                            .header(signature::HEADER, &hook.signature)
                            .body(hook.body.clone())
                            .send()
                            .await;
                        match answer {
                            Ok(r) if r.status().is_success() => {
                                let _ = r.bytes().await;
                            }
                            Ok(r) => {
                                failures += 1;
                                eprintln!("{}: {}", r.status(), r.text().await.unwrap_or_default());
                            }
                            Err(e) => {
                                failures += 1;
                                eprintln!("{e}");
                            }
                        }
                        latencies.push(sent.elapsed());
                    }
                    (latencies, failures)
                })
            })
            .collect();
        let mut all = Vec::with_capacity(texts);
        let mut failures = 0;
        for w in workers {
            let (l, f) = w.await.expect("a worker");
            all.extend(l);
            failures += f;
        }
        let cpu = cpu_seconds().zip(cpu_before).map(|(after, before)| after - before);
        (started.elapsed(), all, failures, cpu)
    });

    let tally = server_rt.block_on(store.tally(run, &decision)).expect("the tally");
    let total: u64 = tally.0.values().sum();
    let _ = stop.send(());
    latencies.sort();
    let at = |q: f64| latencies.get(((latencies.len() as f64 * q) as usize).min(latencies.len().saturating_sub(1)));
    let ms = |d: Option<&Duration>| d.map_or(0.0, |d| d.as_secs_f64() * 1000.0);
    println!("store: {}", if redis_url.is_some() { "redis" } else { "memory" });
    println!(
        "{texts} signed webhooks over {concurrency} connections in {:.2} s",
        elapsed.as_secs_f64()
    );
    println!("webhooks/s: {:.0}", texts as f64 / elapsed.as_secs_f64());
    println!(
        "latency ms: p50 {:.2}, p99 {:.2}, max {:.2}",
        ms(at(0.50)),
        ms(at(0.99)),
        ms(latencies.last())
    );
    if let Some(cpu) = cpu.filter(|c| *c > 0.0) {
        // Load-independent: what one core does, server and load driver
        // together (redis-server's own time not included).
        println!(
            "cpu: {cpu:.2} s for server and driver; {:.0} webhooks per CPU-second",
            texts as f64 / cpu
        );
    }
    println!(
        "load average at the end: {}",
        std::fs::read_to_string("/proc/loadavg").unwrap_or_default().trim()
    );
    println!("failed: {failures}");
    println!(
        "final tally: {total} ({})",
        if total == texts as u64 {
            "equals the texts sent"
        } else {
            "DOES NOT equal the texts sent"
        }
    );
    if failures > 0 || total != texts as u64 {
        std::process::exit(1);
    }
}
