//! deploy/ checked on real parts: nginx with the site config, systemd's
//! verdict on the units, and the whole chain nginx -> two cyoa instances
//! -> one redis-server driven end to end.
//!
//! The linters (ansible-playbook --syntax-check, ansible-lint, shellcheck,
//! hadolint) run from `scripts/lint-deploy.sh`, which `scripts/test.sh`
//! calls: they are Python and Haskell tools, not Rust crates.

#[path = "../support/mod.rs"]
mod support;

mod cyoa;
mod data_safety;
mod end_to_end;
mod nginx;
mod systemd;

use std::net::{Ipv4Addr, TcpListener};
use std::path::{Path, PathBuf};

/// The repository's root (this crate's manifest directory).
pub fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// A file of the repository, by its path from the root.
pub fn repo_file(path: &str) -> PathBuf {
    repo().join(path)
}

/// A loopback port that was free a moment ago. Another process may take
/// it before ours binds it; the starters retry then.
pub fn free_port() -> u16 {
    TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap_or_else(|e| panic!("cannot find a free loopback port: {e}"))
}

/// A fresh, empty directory under the system's temp dir, removed on drop.
pub struct TempDir(PathBuf);

impl TempDir {
    /// Creates `<tmp>/cyoa-deploy-<what>-<pid>-<n>`.
    pub fn new(what: &str) -> TempDir {
        use std::sync::atomic::{AtomicU64, Ordering};
        static NEXT: AtomicU64 = AtomicU64::new(1);
        let dir = std::env::temp_dir().join(format!(
            "cyoa-deploy-{what}-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("cannot create {}: {e}", dir.display()));
        TempDir(dir)
    }

    /// The directory.
    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A child process that ends with the test: on drop at once, and, through
/// a watchdog `sh` blocked on a pipe only this process writes, when the
/// test binary exits in any other way (even killed).
pub struct Guarded {
    child: std::process::Child,
    signal: &'static str,
    watchdog: std::process::Child,
    _lifeline: std::process::ChildStdin,
}

impl Guarded {
    /// Watches `child`, which is stopped with `kill -<signal>` (nginx needs
    /// TERM so that its master stops its workers).
    pub fn new(child: std::process::Child, signal: &'static str) -> Guarded {
        use std::process::{Command, Stdio};
        let mut watchdog = Command::new("sh")
            .arg("-c")
            .arg(r#"read _ignored; kill -"$1" "$2" 2>/dev/null"#)
            .arg("cyoa-deploy-watchdog")
            .arg(signal)
            .arg(child.id().to_string())
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot run sh for a watchdog: {e}"));
        let lifeline = watchdog.stdin.take().expect("stdin was piped");
        Guarded {
            child,
            signal,
            watchdog,
            _lifeline: lifeline,
        }
    }

    /// Whether the process has exited (and how).
    pub fn exited(&mut self) -> Option<std::process::ExitStatus> {
        self.child.try_wait().ok().flatten()
    }

    /// Stops the process and waits for it.
    pub fn stop(&mut self) {
        if self.exited().is_none() {
            let _ = std::process::Command::new("kill")
                .arg(format!("-{}", self.signal))
                .arg(self.child.id().to_string())
                .status();
        }
        let _ = self.child.wait();
        let _ = self.watchdog.kill();
        let _ = self.watchdog.wait();
    }
}

impl Drop for Guarded {
    fn drop(&mut self) {
        self.stop();
    }
}

/// The text of a (log) file, or a note that it is missing.
pub fn read_log(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| format!("({}: {e})", path.display()))
}
