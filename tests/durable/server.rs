//! The real `cyoa` binary serving the test story on a data file.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::time::Duration;

/// The presenter token of every server here.
pub const TOKEN: &str = "durable-test-presenter-token";
/// The secret of every server here (one voter cookie across restarts).
pub const SECRET: &str = "the secret of the durable store tests";

/// The test story (two decisions in a row).
pub fn story() -> PathBuf {
    PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/two_decisions.toml"
    ))
}

/// `cyoa serve` on a data file, until dropped (then killed).
pub struct Server {
    child: Child,
    /// `http://127.0.0.1:PORT`.
    pub address: String,
}

/// How a server that did not start ended.
#[derive(Debug)]
pub struct Refused {
    pub status: ExitStatus,
    pub stderr: String,
}

/// Numbers the log files of the servers started.
static STARTED: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);

/// Where a server on `data` writes its stderr (beside the data file, so
/// removed with the test's folder; a file, so a busy log never blocks it).
fn log_file(data: &Path) -> PathBuf {
    let n = STARTED.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let mut name = data.as_os_str().to_owned();
    name.push(format!(".server-{n}.log"));
    PathBuf::from(name)
}

fn command(data: &Path, extra: &[&str], log: &Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_cyoa"));
    cmd.args([
        "serve",
        "--bind",
        "127.0.0.1:0",
        "--presenter-token",
        TOKEN,
        "--secret",
        SECRET,
    ])
    .arg("--story")
    .arg(story())
    .arg("--data")
    .arg(data)
    .args(extra)
    .env_remove("REDIS_URL")
    .env_remove("CYOA_DATA")
    .env_remove("CYOA_MEMORY")
    .env_remove("TWILIO_AUTH_TOKEN")
    .env_remove("TWILIO_NUMBER")
    .env_remove("CYOA_PUBLIC_URL")
    .env("RUST_LOG", "warn")
    .stdout(Stdio::piped())
    .stderr(std::fs::File::create(log).expect("a log file"));
    cmd
}

impl Server {
    /// Starts a server on `data`; panics with its log if it does not serve.
    pub fn start(data: &Path, extra: &[&str]) -> Server {
        match Server::try_start(data, extra) {
            Ok(server) => server,
            Err(refused) => panic!("cyoa did not start ({}): {}", refused.status, refused.stderr),
        }
    }

    /// Starts a server on `data`; its exit status and stderr if it stops
    /// before serving.
    pub fn try_start(data: &Path, extra: &[&str]) -> Result<Server, Refused> {
        let log = log_file(data);
        let mut child = command(data, extra, &log).spawn().expect("cyoa starts");
        let stdout = child.stdout.take().expect("stdout");
        let (lines_tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            // Read to the end, so the server never writes to a closed pipe.
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                let _ = lines_tx.send(line);
            }
        });
        let mut banner = Vec::new();
        loop {
            match lines.recv_timeout(Duration::from_secs(30)) {
                Ok(line) => {
                    let audience = line
                        .strip_prefix("audience: ")
                        .map(|url| url.trim_end_matches('/').to_string());
                    banner.push(line);
                    if let Some(address) = audience {
                        return Ok(Server { child, address });
                    }
                }
                Err(mpsc::RecvTimeoutError::Disconnected) => {
                    let status = child.wait().expect("cyoa exits");
                    let stderr = std::fs::read_to_string(&log).unwrap_or_default();
                    return Err(Refused { status, stderr });
                }
                Err(mpsc::RecvTimeoutError::Timeout) => {
                    let _ = child.kill();
                    panic!("cyoa printed no audience URL within 30 s: {banner:?}");
                }
            }
        }
    }

    /// SIGTERM, as systemd or Ctrl-C stops it; waits for it to exit.
    pub fn stop(&mut self) -> ExitStatus {
        let status = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .expect("kill runs");
        assert!(status.success(), "SIGTERM sent");
        self.child.wait().expect("cyoa exits")
    }

    /// `kill -9`: no chance to finish anything.
    pub fn kill9(&mut self) {
        self.child.kill().expect("SIGKILL");
        self.child.wait().expect("cyoa exits");
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
