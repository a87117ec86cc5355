//! A short run of the load generator, `cyoa-load`, against the real server
//! binary: a correctness check under concurrency, not a timing test. The
//! generator's votes, mind changes, leaves and returns, its probes' single
//! taps (and signed SMS webhooks, when the server takes them) must end in a server tally equal
//! to the generator's ground truth, with the memory store and with Redis.
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

/// Runs `cyoa-load` against `served` and checks that it reports matching
/// tallies and exits 0.
fn load(served: &Served) {
    let mut command = Command::new(support::load::binary());
    command
        .args(["--url", &served.url, "--presenter-token", TOKEN])
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
        .args(["--server-pid", &served.child.id().to_string()]);
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
}

#[test]
fn the_tally_matches_the_ground_truth_in_memory() {
    let served = serve(&[]);
    load(&served);
}

#[test]
fn the_tally_matches_the_ground_truth_with_redis() {
    let redis = support::redis::shared();
    let prefix = support::redis::fresh_prefix();
    let served = serve(&["--redis-url", &redis.url(), "--redis-prefix", &prefix]);
    load(&served);
}
