//! A short run of the load generator, `cyoa-load`, against the real server
//! binary: a correctness check under concurrency, not a timing test. The
//! generator's votes, mind changes, leaves and returns, its probes' single
//! taps (and signed SMS webhooks, when the server takes them) must end in a server tally equal
//! to the generator's ground truth, with the memory store and with Redis,
//! and on every instance of two that share one Redis.
//! The generator is the workspace's other package (load/), built next to
//! the server binary (`support::load`).

mod support;

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

const TOKEN: &str = "load-test-presenter-token";
const TWILIO_TOKEN: &str = "load-test-twilio-token";

/// The server binary, killed when dropped.
struct Served {
    child: Child,
    url: String,
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Whether this build of the server takes SMS webhooks (`/sms`).
fn server_takes_sms() -> bool {
    let help = Command::new(env!("CARGO_BIN_EXE_cyoa"))
        .args(["serve", "--help"])
        .output()
        .expect("cyoa serve --help runs");
    String::from_utf8_lossy(&help.stdout).contains("--twilio-auth-token")
}

/// Starts `cyoa serve` on a free port with `extra` flags and waits for it
/// to print its audience URL.
fn serve(extra: &[&str]) -> Served {
    let mut command = Command::new(env!("CARGO_BIN_EXE_cyoa"));
    command
        .args(["serve", "--bind", "127.0.0.1:0", "--presenter-token", TOKEN])
        .args(match extra.contains(&"--redis-url") {
            true => &[][..],
            false => &["--memory"][..],
        })
        .args(["--secret", "load-test-secret-load-test-secret"])
        // The whole audience comes from one address here, not from a hall
        // of phones: the per-address limits would stop it.
        .args(["--address-rate", "100000", "--address-burst", "100000"])
        .args(["--max-connections-per-address", "100000"])
        // Its voters come from a few addresses and vote at once.
        .args([
            "--voter-mint-rate",
            "100000",
            "--voter-mint-burst",
            "100000",
            "--voter-min-age",
            "0",
        ])
        .args(extra)
        .env("RUST_LOG", "cyoa=warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit());
    if server_takes_sms() {
        command.args(["--twilio-auth-token", TWILIO_TOKEN]);
    }
    let mut child = command.spawn().expect("the cyoa binary starts");
    let stdout = child.stdout.take().expect("stdout is piped");
    let mut lines = BufReader::new(stdout).lines();
    let url = loop {
        match lines.next() {
            Some(Ok(line)) => {
                if let Some(url) = line.strip_prefix("audience: ") {
                    break url.trim_end_matches('/').to_string();
                }
            }
            _ => {
                let status = child.wait();
                panic!("cyoa serve stopped before printing its audience URL: {status:?}");
            }
        }
    };
    // Keep reading stdout so the server never blocks on a full pipe.
    std::thread::spawn(move || for _ in lines {});
    Served { child, url }
}

/// Runs `cyoa-load` against `served` (its voters spread over the
/// instances) and checks that it reports matching tallies and exits 0;
/// returns its report.
fn load(served: &[&Served]) -> String {
    let mut command = Command::new(support::load::binary());
    for s in served {
        command.args(["--url", &s.url]);
    }
    command
        .args(["--presenter-token", TOKEN])
        .args([
            "--voters",
            "200",
            "--probes",
            "20",
            "--duration",
            "3",
            "--leave",
            "0.05",
        ])
        .args(["--server-pid", &served[0].child.id().to_string()]);
    if server_takes_sms() {
        command.args([
            "--sms-voters",
            "20",
            "--sms-interval-ms",
            "300",
            "--twilio-auth-token",
            TWILIO_TOKEN,
        ]);
    }
    let output = command.output().expect("cyoa-load runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success() && stdout.contains("tallies match"),
        "cyoa-load failed ({}):\n{stdout}\n{stderr}",
        output.status
    );
    assert!(stdout.contains("errors: none"), "cyoa-load saw errors:\n{stdout}");
    assert!(
        stdout.contains("connections held: 220 of 220"),
        "not every voter connected:\n{stdout}"
    );
    // Every probe's vote was seen in a push: the total reached each.
    assert!(
        stdout.contains("(20 samples), 0 of 20 probes never seen"),
        "not every probe was seen in a push:\n{stdout}"
    );
    let screens = format!("({n} of {n} screens;", n = served.len());
    assert!(
        stdout.contains(&screens),
        "not every presenter screen showed the final tally:\n{stdout}"
    );
    stdout.into_owned()
}

#[test]
fn the_tally_matches_the_ground_truth_in_memory() {
    let served = serve(&[]);
    load(&[&served]);
}

#[test]
fn the_tally_matches_the_ground_truth_with_redis() {
    let redis = support::redis::shared();
    let prefix = support::redis::fresh_prefix();
    let served = serve(&["--redis-url", &redis.url(), "--redis-prefix", &prefix]);
    load(&[&served]);
}

/// Two instances of one talk on one Redis: the voters are split between
/// them, the decision opened on the first reaches the second through
/// Redis, and each instance's tally and presenter screen end on the
/// ground truth (`tallies match` compares every instance's).
#[test]
fn the_tally_matches_on_every_instance_sharing_one_redis() {
    let redis = support::redis::shared();
    let prefix = support::redis::fresh_prefix();
    let flags = ["--redis-url", &redis.url(), "--redis-prefix", &prefix];
    let first = serve(&flags);
    let second = serve(&flags);
    let report = load(&[&first, &second]);
    assert!(
        report.contains(&format!("on {}, {})", first.url, second.url)),
        "the report does not name both instances:\n{report}"
    );
    // Half the voters voted on the second instance.
    let metrics = tokio::runtime::Runtime::new()
        .expect("a runtime")
        .block_on(async { reqwest::get(format!("{}/metrics", second.url)).await?.text().await })
        .expect("the second instance's /metrics");
    let votes: u64 = metrics
        .lines()
        .find_map(|l| l.strip_prefix("cyoa_store_calls_total{operation=\"vote\"} "))
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or(0);
    assert!(votes >= 100, "the second instance took {votes} votes:\n{metrics}");
}
