//! The soak, short: a few hundred web voters and some phones on two
//! instances for about a minute (`cyoa-load soak`, the same simulator as
//! the long run of `scripts/soak.sh`), while one instance is killed with
//! `kill -9` and restarted, and Redis is restarted once. At the end every
//! counter on both instances equals the simulator's ground truth, `cyoa
//! audit` finds every counter equal to the voter records (none negative),
//! and no acknowledged vote was lost on the way.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::helpers::{TOKEN, Talk};
use crate::support::redis::RedisServer;

const TWILIO_TOKEN: &str = "soak-twilio-auth-token";
/// Seconds of activity.
const DURATION: u64 = 45;
const VOTERS: usize = 300;
const PHONES: usize = 40;
/// The presence grace, seconds.
const GRACE: u64 = 2;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_short_soak_with_a_crash_and_a_redis_restart_ends_with_every_counter_exact() {
    let mut redis = RedisServer::start();
    let mut talk = Talk::new(redis.url());
    talk.grace = GRACE;
    // The whole audience comes from 127.0.0.1: the per-address limits are
    // raised (per-voter limits stand), and texts are signed with this token.
    talk.args = [
        "--twilio-auth-token",
        TWILIO_TOKEN,
        "--address-rate",
        "1000000",
        "--address-burst",
        "1000000",
        "--max-connections-per-address",
        "100000",
        "--voter-mint-rate",
        "1000000",
        "--voter-mint-burst",
        "1000000",
    ]
    .map(String::from)
    .to_vec();
    let a = talk.instance().await;
    let mut b = talk.instance().await;

    let mut load = Command::new(crate::support::load::binary())
        .arg("soak")
        .args(["--url", &a.address, "--url", &b.address])
        .args(["--presenter-token", TOKEN, "--twilio-auth-token", TWILIO_TOKEN])
        .args(["--decision", "build"])
        .args(["--voters", &VOTERS.to_string(), "--sms-voters", &PHONES.to_string()])
        .args(["--duration", &DURATION.to_string(), "--grace", &GRACE.to_string()])
        .args(["--pause", "2"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run cyoa-load: {e}"));
    // Its progress lines go to this test's output as they come; the first
    // one says the voters are at it.
    let (started_tx, started) = tokio::sync::oneshot::channel::<()>();
    let stderr = load.stderr.take().expect("stderr was piped");
    std::thread::spawn(move || {
        let mut started_tx = Some(started_tx);
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            eprintln!("{line}");
            if line.starts_with("[soak") {
                if let Some(tx) = started_tx.take() {
                    let _ = tx.send(());
                }
            }
        }
    });
    let stdout = load.stdout.take().expect("stdout was piped");
    let report = std::thread::spawn(move || std::io::read_to_string(stdout).unwrap_or_default());
    tokio::time::timeout(Duration::from_secs(60), started)
        .await
        .expect("cyoa-load soak started within a minute")
        .expect("cyoa-load soak reported progress");

    // The crashes, while the audience votes.
    tokio::time::sleep(Duration::from_secs(8)).await;
    b.kill9();
    println!("killed instance B (kill -9)");
    tokio::time::sleep(Duration::from_secs(4)).await;
    b.restart(&talk).await;
    println!("restarted instance B on {}", b.address);
    tokio::time::sleep(Duration::from_secs(6)).await;
    let outage = Instant::now();
    redis.stop();
    tokio::time::sleep(Duration::from_secs(4)).await;
    redis.start_again();
    println!("Redis was down for {:?}", outage.elapsed());

    let deadline = Instant::now() + Duration::from_secs(DURATION + 300);
    let status = loop {
        if let Some(status) = load.try_wait().expect("cyoa-load can be waited for") {
            break status;
        }
        assert!(Instant::now() < deadline, "cyoa-load soak did not end in time");
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let report = report.join().unwrap_or_default();
    println!("{report}");
    assert!(status.success(), "the soak failed:\n{report}");
    assert!(report.contains("every counter equals the ground truth"), "{report}");

    let audit = Command::new(env!("CARGO_BIN_EXE_cyoa"))
        .args(["audit", "--redis-url", &talk.redis_url, "--redis-prefix", &talk.prefix])
        .output()
        .expect("cyoa audit runs");
    assert!(
        audit.status.success(),
        "cyoa audit found counters that differ from the voter records:\n{}",
        String::from_utf8_lossy(&audit.stdout)
    );
    drop((a, b));
}
