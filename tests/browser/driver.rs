//! One chromedriver for the whole test binary, and headless Chromium sessions
//! on it: each session is a separate browser with its own cookies (a voter).

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::{Client, ClientBuilder};
use hyper_util::client::legacy::connect::HttpConnector;
use serde_json::json;

const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
const CHROMIUM: &str = "/usr/bin/chromium";
const INSTALL: &str =
    "install chromium and chromium-driver: apt-get install chromium chromium-driver (scripts/test.sh does this)";

/// A running chromedriver; when dropped it ends every session it opened
/// (Chromium outlives a killed chromedriver) and then stops.
pub struct Driver {
    child: Child,
    addr: SocketAddr,
    url: String,
    sessions: Vec<String>,
    profiles: Vec<tempdir::Dir>,
}

impl Driver {
    /// Starts chromedriver on a free port and waits until it listens.
    pub fn start() -> Driver {
        for program in [CHROMEDRIVER, CHROMIUM] {
            assert!(Path::new(program).exists(), "{program} is missing; {INSTALL}");
        }
        let port = free_port();
        let child = Command::new(CHROMEDRIVER)
            .arg(format!("--port={port}"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {CHROMEDRIVER}: {e}; {INSTALL}"));
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        let deadline = Instant::now() + Duration::from_secs(20);
        while TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_err() {
            assert!(
                Instant::now() < deadline,
                "chromedriver did not listen on {addr} within 20 s"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        Driver {
            child,
            addr,
            url: format!("http://{addr}"),
            sessions: Vec::new(),
            profiles: Vec::new(),
        }
    }

    /// Opens a new browser (a fresh profile: no cookies) whose page is
    /// `width` x `height` CSS pixels; below 600 px wide it is a touch phone.
    pub async fn browser(&mut self, width: u32, height: u32) -> Client {
        self.browser_with(width, height, &[]).await
    }

    /// [`Driver::browser`] set to the language `lang` (`de`): its user
    /// interface and its `Accept-Language`.
    pub async fn browser_in(&mut self, width: u32, height: u32, lang: &str) -> Client {
        let flags = [format!("--lang={lang}"), format!("--accept-lang={lang}")];
        self.browser_with(width, height, &[&flags[0], &flags[1]]).await
    }

    /// [`Driver::browser`] with more Chromium flags, such as
    /// `--force-dark-mode` (the system prefers dark) or
    /// `--force-prefers-reduced-motion`.
    pub async fn browser_with(&mut self, width: u32, height: u32, flags: &[&str]) -> Client {
        let profile = tempdir::Dir::new("cyoa-chromium");
        let mut args = vec![
            "--headless".to_string(),
            "--no-sandbox".into(),
            "--disable-gpu".into(),
            "--disable-dev-shm-usage".into(),
            "--disable-quic".into(),
            "--no-first-run".into(),
            "--disable-background-networking".into(),
            "--disable-component-update".into(),
            "--disable-sync".into(),
            "--hide-scrollbars".into(),
            format!("--window-size={},{}", width.max(800), height + 200),
            format!("--user-data-dir={}", profile.path().display()),
        ];
        args.extend(flags.iter().map(|f| f.to_string()));
        self.profiles.push(profile);
        let capabilities = json!({
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": CHROMIUM,
                "args": args,
                // The page's exact size (a headless window's frame and a
                // minimum window width would otherwise change it).
                "mobileEmulation": { "deviceMetrics": {
                    "width": width, "height": height, "pixelRatio": 1.0,
                    "mobile": width < 600, "touch": width < 600,
                } },
            },
            "unhandledPromptBehavior": "ignore",
        });
        let serde_json::Value::Object(capabilities) = capabilities else {
            unreachable!("a JSON object literal")
        };
        let mut connector = HttpConnector::new();
        connector.enforce_http(true);
        let client = ClientBuilder::new(connector)
            .capabilities(capabilities)
            .connect(&self.url)
            .await
            .unwrap_or_else(|e| panic!("chromedriver could not start Chromium: {e}; {INSTALL}"));
        if let Ok(Some(id)) = client.session_id().await {
            self.sessions.push(id);
        }
        client
    }
}

impl Driver {
    /// Ends a browser session (closing its pages, so its sockets close).
    pub async fn close(&mut self, client: Client) {
        if let Ok(Some(id)) = client.session_id().await {
            self.sessions.retain(|s| *s != id);
        }
        client.close().await.expect("chromedriver ends the session");
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        // Sessions still open here are those of a failed test: end them, or
        // their Chromium would outlive chromedriver.
        for id in &self.sessions {
            delete_session(self.addr, id);
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `DELETE /session/{id}` with a blocking socket, usable inside `drop`.
fn delete_session(addr: SocketAddr, id: &str) {
    let Ok(mut stream) = TcpStream::connect_timeout(&addr, Duration::from_secs(2)) else {
        return;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
    let request =
        format!("DELETE /session/{id} HTTP/1.1\r\nHost: {addr}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
    if stream.write_all(request.as_bytes()).is_ok() {
        // The answer's first bytes mean the session is gone; chromedriver
        // may keep the connection open after it, so read no further.
        let mut answer = [0u8; 512];
        let _ = stream.read(&mut answer);
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free local port")
}

/// Temporary directories for browser profiles, removed when dropped.
mod tempdir {
    use std::path::{Path, PathBuf};
    use std::sync::atomic::{AtomicU32, Ordering};

    pub struct Dir(PathBuf);

    impl Dir {
        pub fn new(prefix: &str) -> Dir {
            static NEXT: AtomicU32 = AtomicU32::new(0);
            let n = NEXT.fetch_add(1, Ordering::Relaxed);
            let path = std::env::temp_dir().join(format!("{prefix}-{}-{n}", std::process::id()));
            let _ = std::fs::remove_dir_all(&path);
            std::fs::create_dir_all(&path).expect("a temporary profile directory");
            Dir(path)
        }

        pub fn path(&self) -> &Path {
            &self.0
        }
    }

    impl Drop for Dir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}
