//! `cyoa serve` instances as systemd runs them: the built binary, settings
//! from the environment (what /etc/cyoa/cyoa.env holds), a loopback port of
//! their own, one shared Redis.

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::{Guarded, TempDir, read_log, repo};

/// How long an instance may take to answer /readyz.
const READY_WITHIN: Duration = Duration::from_secs(30);

/// What every instance of one deployment shares: cyoa.env.
#[derive(Clone)]
pub struct Env {
    /// CYOA_PUBLIC_URL: the URL of nginx's site.
    pub public_url: String,
    /// REDIS_URL.
    pub redis_url: String,
    /// CYOA_REDIS_PREFIX.
    pub redis_prefix: String,
    /// CYOA_PRESENTER_TOKEN.
    pub presenter_token: String,
    /// CYOA_SECRET.
    pub secret: String,
    /// TWILIO_AUTH_TOKEN.
    pub twilio_auth_token: String,
}

/// One running `cyoa serve`, killed on drop.
pub struct Instance {
    /// The loopback port it listens on.
    pub port: u16,
    _process: Guarded,
    log: PathBuf,
    _dir: TempDir,
}

impl Instance {
    /// Starts `cyoa serve --bind 127.0.0.1:<port>` with `env` and waits
    /// until its /readyz answers 200 (it reached Redis).
    pub async fn start(env: &Env, port: u16) -> Instance {
        let dir = TempDir::new("cyoa");
        let log = dir.path().join("cyoa.log");
        let out = std::fs::File::create(&log).unwrap_or_else(|e| panic!("cannot create {}: {e}", log.display()));
        let err = out
            .try_clone()
            .unwrap_or_else(|e| panic!("cannot reopen {}: {e}", log.display()));
        let child = Command::new(env!("CARGO_BIN_EXE_cyoa"))
            .args(["serve", "--bind", &format!("127.0.0.1:{port}")])
            .current_dir(repo())
            .env("CYOA_PUBLIC_URL", &env.public_url)
            .env("REDIS_URL", &env.redis_url)
            .env("CYOA_REDIS_PREFIX", &env.redis_prefix)
            .env("CYOA_PRESENTER_TOKEN", &env.presenter_token)
            .env("CYOA_SECRET", &env.secret)
            // Votes count from a fresh cookie at once: no test waits a second.
            .env("CYOA_VOTER_MIN_AGE", "0")
            .env("TWILIO_AUTH_TOKEN", &env.twilio_auth_token)
            .env("TWILIO_NUMBER", "+15550100199")
            .env_remove("CYOA_STORY")
            .env_remove("CYOA_BIND")
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot run cyoa: {e}"));
        let mut process = Guarded::new(child, "KILL");
        let client = reqwest::Client::new();
        let readyz = format!("http://127.0.0.1:{port}/readyz");
        let deadline = Instant::now() + READY_WITHIN;
        loop {
            assert!(
                process.exited().is_none(),
                "cyoa on port {port} exited; its log:\n{}",
                read_log(&log)
            );
            if let Ok(response) = client.get(&readyz).timeout(Duration::from_secs(2)).send().await
                && response.status() == 200
            {
                return Instance {
                    port,
                    _process: process,
                    log,
                    _dir: dir,
                };
            }
            assert!(
                Instant::now() < deadline,
                "cyoa on port {port} was not ready within {READY_WITHIN:?}; its log:\n{}",
                read_log(&log)
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    /// What the instance wrote so far.
    pub fn log(&self) -> String {
        read_log(&self.log)
    }
}
