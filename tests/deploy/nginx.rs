//! The real nginx with deploy/nginx/cyoa.conf: rendered for a temp prefix,
//! checked with `nginx -t`, and run unprivileged for the end-to-end test.
//!
//! What the test changes in the site file, and nothing else: the
//! placeholders (see the file's head), `listen 80` and `listen 443` become
//! free loopback ports, and the `listen [::]` lines go (a test machine may
//! have no IPv6). The TLS certificate is a self-signed one made at test
//! time with `openssl req`. `nginx -t` checks the site as deployed, with
//! TLS. The end-to-end test runs the plain-HTTP variant: the same file with
//! the 443 listener's `ssl http2` dropped, because the test's HTTP and
//! WebSocket clients speak no TLS; everything behind the listener (the
//! upstream, /ws, /sms, /static/, headers, limits) is the deployed config.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::{Guarded, TempDir, free_port, read_log, repo_file};

/// The public host name the test site answers to.
pub const SERVER_NAME: &str = "talk.cyoa.test";

/// How long nginx may take to listen after it was started.
const READY_WITHIN: Duration = Duration::from_secs(20);

/// How the site's port-443 server listens.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Listener {
    /// As deployed: TLS (and HTTP/2) with the test's self-signed certificate.
    Tls,
    /// Plain HTTP on the same server block, for clients without TLS.
    Plain,
}

/// Where a rendered site points.
pub struct Site<'a> {
    /// Port of the `listen 80` server (ACME challenges, redirect).
    pub http_port: u16,
    /// Port of the `listen 443` server (the talk).
    pub https_port: u16,
    /// How the 443 server listens.
    pub listener: Listener,
    /// Ports of the cyoa instances.
    pub upstreams: &'a [u16],
    /// The directory served at /static/.
    pub static_dir: &'a Path,
    /// certbot's webroot.
    pub acme_root: &'a Path,
    /// Certificate and key files.
    pub cert: &'a Path,
    /// The certificate's private key.
    pub key: &'a Path,
}

/// deploy/nginx/cyoa.conf as it is in the repository.
pub fn site_template() -> String {
    let path = repo_file("deploy/nginx/cyoa.conf");
    fs::read_to_string(&path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()))
}

/// Replaces `from` by `to` in `text`, insisting that `from` is there: a
/// changed site file must fail the test, not silently skip a substitution.
fn replace(text: &str, from: &str, to: &str) -> String {
    assert!(
        text.contains(from),
        "deploy/nginx/cyoa.conf has no `{from}` any more; update tests/deploy/nginx.rs"
    );
    text.replace(from, to)
}

/// The site file with the test's ports and paths.
pub fn render(site: &Site) -> String {
    let upstreams: String = site
        .upstreams
        .iter()
        .map(|port| format!("server 127.0.0.1:{port} max_fails=0;"))
        .collect::<Vec<_>>()
        .join(" ");
    let mut text = site_template();
    for (from, to) in [
        ("__SERVER_NAME__", SERVER_NAME.to_string()),
        ("__UPSTREAMS__", upstreams),
        ("__STATIC_DIR__", site.static_dir.display().to_string()),
        ("__ACME_ROOT__", site.acme_root.display().to_string()),
        ("__TLS_CERT__", site.cert.display().to_string()),
        ("__TLS_KEY__", site.key.display().to_string()),
        ("listen 80;", format!("listen 127.0.0.1:{};", site.http_port)),
    ] {
        text = replace(&text, from, &to);
    }
    let https = match site.listener {
        Listener::Tls => format!("listen 127.0.0.1:{} ssl http2;", site.https_port),
        Listener::Plain => format!("listen 127.0.0.1:{};", site.https_port),
    };
    text = replace(&text, "listen 443 ssl http2;", &https);
    assert!(!text.contains("__"), "a placeholder is left in the site:\n{text}");
    text.lines()
        .filter(|line| !line.trim_start().starts_with("listen [::]"))
        .map(|line| format!("{line}\n"))
        .collect()
}

/// A self-signed certificate and its key, made with `openssl req` in `dir`.
pub fn self_signed_cert(dir: &Path) -> (PathBuf, PathBuf) {
    let cert = dir.join("fullchain.pem");
    let key = dir.join("privkey.pem");
    let out = Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-nodes",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
        ])
        .args(["-days", "2", "-subj", &format!("/CN={SERVER_NAME}")])
        .arg("-keyout")
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .output();
    match out {
        Ok(out) if out.status.success() => (cert, key),
        Ok(out) => panic!("openssl req failed:\n{}", String::from_utf8_lossy(&out.stderr)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            panic!("openssl not found: install it with `apt-get install openssl`")
        }
        Err(e) => panic!("cannot run openssl: {e}"),
    }
}

/// nginx's own configuration around the site, as Debian's nginx.conf
/// includes sites-enabled/ in its http block, with every file nginx writes
/// kept in `dir` so that it runs without root.
fn main_conf(dir: &Path) -> String {
    let d = dir.display();
    format!(
        "worker_processes 1;\n\
         pid {d}/nginx.pid;\n\
         error_log {d}/error.log notice;\n\
         events {{ worker_connections 256; }}\n\
         http {{\n\
         \x20   include /etc/nginx/mime.types;\n\
         \x20   default_type application/octet-stream;\n\
         \x20   access_log {d}/access.log;\n\
         \x20   client_body_temp_path {d}/tmp/body;\n\
         \x20   proxy_temp_path {d}/tmp/proxy;\n\
         \x20   fastcgi_temp_path {d}/tmp/fastcgi;\n\
         \x20   uwsgi_temp_path {d}/tmp/uwsgi;\n\
         \x20   scgi_temp_path {d}/tmp/scgi;\n\
         \x20   include {d}/cyoa.conf;\n\
         }}\n"
    )
}

/// Writes nginx.conf and cyoa.conf for `site` into `dir`; returns nginx.conf.
pub fn write_conf(dir: &Path, site: &Site) -> PathBuf {
    fs::create_dir_all(dir.join("tmp")).unwrap_or_else(|e| panic!("cannot create {}/tmp: {e}", dir.display()));
    fs::write(dir.join("cyoa.conf"), render(site)).unwrap_or_else(|e| panic!("cannot write cyoa.conf: {e}"));
    let conf = dir.join("nginx.conf");
    fs::write(&conf, main_conf(dir)).unwrap_or_else(|e| panic!("cannot write nginx.conf: {e}"));
    conf
}

/// `nginx -p <dir> -c <conf>`. nginx lives in /usr/sbin, which is not on
/// every user's PATH.
fn nginx(dir: &Path, conf: &Path) -> Command {
    let binary = if Path::new("/usr/sbin/nginx").exists() {
        "/usr/sbin/nginx"
    } else {
        "nginx"
    };
    let mut command = Command::new(binary);
    command.arg("-p").arg(dir).arg("-c").arg(conf);
    command
}

/// The panic for a missing nginx.
fn nginx_missing() -> ! {
    panic!("nginx not found: install it with `apt-get install nginx` (scripts/lint-deploy.sh does this)")
}

/// `nginx -t`: its verdict and what it said.
pub fn check(dir: &Path, conf: &Path) -> (bool, String) {
    match nginx(dir, conf).arg("-t").output() {
        Ok(out) => (
            out.status.success(),
            format!(
                "{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            ),
        ),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => nginx_missing(),
        Err(e) => panic!("cannot run nginx: {e}"),
    }
}

/// A running nginx serving deploy's site, stopped on drop.
pub struct Nginx {
    /// Port of the port-80 server.
    pub http_port: u16,
    /// Port of the port-443 server (plain HTTP here).
    pub https_port: u16,
    /// certbot's webroot, served for /.well-known/acme-challenge/.
    pub acme_root: PathBuf,
    _process: Guarded,
    dir: TempDir,
}

impl Nginx {
    /// Starts nginx in the foreground (`daemon off`) with the plain-HTTP
    /// variant of the site in front of `upstreams`, on free ports; waits
    /// until it listens.
    pub fn start(upstreams: &[u16], static_dir: &Path) -> Nginx {
        let dir = TempDir::new("nginx");
        let acme_root = dir.path().join("acme");
        fs::create_dir_all(&acme_root).unwrap_or_else(|e| panic!("cannot create the ACME webroot: {e}"));
        let (cert, key) = self_signed_cert(dir.path());
        let mut last_log = String::new();
        for _ in 0..5 {
            let site = Site {
                http_port: free_port(),
                https_port: free_port(),
                listener: Listener::Plain,
                upstreams,
                static_dir,
                acme_root: &acme_root,
                cert: &cert,
                key: &key,
            };
            let conf = write_conf(dir.path(), &site);
            let _ = fs::remove_file(dir.path().join("error.log"));
            // Before it opens error.log, nginx writes its complaints to stderr.
            let stderr = fs::File::create(dir.path().join("error.log"))
                .unwrap_or_else(|e| panic!("cannot create nginx's error.log: {e}"));
            let child = match nginx(dir.path(), &conf)
                .args(["-g", "daemon off;"])
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(stderr)
                .spawn()
            {
                Ok(child) => child,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => nginx_missing(),
                Err(e) => panic!("cannot run nginx: {e}"),
            };
            let mut process = Guarded::new(child, "TERM");
            let deadline = Instant::now() + READY_WITHIN;
            loop {
                if process.exited().is_some() {
                    last_log = read_log(&dir.path().join("error.log"));
                    break;
                }
                if listens(site.http_port) && listens(site.https_port) {
                    return Nginx {
                        http_port: site.http_port,
                        https_port: site.https_port,
                        acme_root,
                        _process: process,
                        dir,
                    };
                }
                assert!(
                    Instant::now() < deadline,
                    "nginx did not listen within {READY_WITHIN:?}; its log:\n{}",
                    read_log(&dir.path().join("error.log"))
                );
                std::thread::sleep(Duration::from_millis(5));
            }
            if !last_log.contains("Address already in use") {
                panic!("nginx did not start; its log:\n{last_log}");
            }
        }
        panic!("nginx found no free ports in 5 attempts; its last log:\n{last_log}")
    }

    /// nginx's error log so far.
    pub fn error_log(&self) -> String {
        read_log(&self.dir.path().join("error.log"))
    }
}

/// Whether something accepts connections on the loopback `port`.
pub fn listens(port: u16) -> bool {
    std::net::TcpStream::connect_timeout(&([127, 0, 0, 1], port).into(), Duration::from_millis(200)).is_ok()
}

/// `nginx -t` of the site as deployed with TLS, in front of `upstreams`
/// instances: whether nginx accepts it, and what it said.
fn check_tls_site(name: &str, upstreams: &[u16]) -> (bool, String) {
    let dir = TempDir::new(name);
    let acme_root = dir.path().join("acme");
    let static_dir = repo_file("static");
    let (cert, key) = self_signed_cert(dir.path());
    let site = Site {
        http_port: free_port(),
        https_port: free_port(),
        listener: Listener::Tls,
        upstreams,
        static_dir: &static_dir,
        acme_root: &acme_root,
        cert: &cert,
        key: &key,
    };
    let conf = write_conf(dir.path(), &site);
    check(dir.path(), &conf)
}

#[test]
fn nginx_accepts_the_site_config_as_deployed_with_tls() {
    let (ok, said) = check_tls_site("nginx-t", &[free_port(), free_port()]);
    assert!(ok, "nginx -t refused deploy/nginx/cyoa.conf:\n{said}");
    assert!(said.contains("syntax is ok"), "{said}");
}

#[test]
fn nginx_accepts_the_site_with_a_single_instance() {
    let (ok, said) = check_tls_site("nginx-t1", &[free_port()]);
    assert!(ok, "nginx -t refused deploy/nginx/cyoa.conf with one upstream:\n{said}");
}

#[test]
fn rendering_fills_in_ports_paths_and_upstreams() {
    let static_dir = PathBuf::from("/opt/cyoa/static");
    let site = Site {
        http_port: 18080,
        https_port: 18443,
        listener: Listener::Plain,
        upstreams: &[8081, 8082],
        static_dir: &static_dir,
        acme_root: Path::new("/var/www/letsencrypt"),
        cert: Path::new("/c.pem"),
        key: Path::new("/k.pem"),
    };
    let text = render(&site);
    assert!(
        text.contains("server 127.0.0.1:8081 max_fails=0; server 127.0.0.1:8082 max_fails=0;"),
        "{text}"
    );
    assert!(text.contains("alias /opt/cyoa/static/;"), "{text}");
    assert!(text.contains("listen 127.0.0.1:18080;"), "{text}");
    assert!(text.contains("listen 127.0.0.1:18443;"), "{text}");
    assert!(!text.contains("[::]"), "{text}");
}

/// A stand-in for cyoa behind nginx: answers every request with a marker
/// header and the immutable cache header, and says which paths it saw.
fn fake_upstream() -> (u16, std::sync::mpsc::Receiver<String>) {
    use std::io::{BufRead, BufReader, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap_or_else(|e| panic!("cannot listen: {e}"));
    let port = listener
        .local_addr()
        .map(|a| a.port())
        .unwrap_or_else(|e| panic!("no port: {e}"));
    let (seen, heard) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let mut reader = BufReader::new(stream);
            let mut line = String::new();
            if reader.read_line(&mut line).is_err() {
                continue;
            }
            let _ = seen.send(line.split_whitespace().nth(1).unwrap_or("").to_string());
            // The rest of the request head.
            let mut header = String::new();
            while reader.read_line(&mut header).is_ok_and(|n| n > 2) {
                header.clear();
            }
            let _ = reader.get_mut().write_all(
                b"HTTP/1.1 200 OK\r\nX-Served-By: cyoa\r\nCache-Control: public, max-age=31536000, immutable\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok",
            );
        }
    });
    (port, heard)
}

/// `GET path` from the site (plain HTTP): the response head, lowercased.
fn head_of(port: u16, path: &str) -> String {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap_or_else(|e| panic!("nginx: {e}"));
    stream
        .set_read_timeout(Some(READY_WITHIN))
        .unwrap_or_else(|e| panic!("a timeout: {e}"));
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {SERVER_NAME}\r\nConnection: close\r\n\r\n"
    )
    .unwrap_or_else(|e| panic!("cannot send: {e}"));
    let mut response = Vec::new();
    let _ = stream.read_to_end(&mut response);
    let text = String::from_utf8_lossy(&response).to_lowercase();
    text.split("\r\n\r\n").next().unwrap_or("").to_string()
}

#[test]
fn versioned_static_urls_go_to_cyoa_and_plain_ones_come_from_disk_revalidated() {
    let (upstream, heard) = fake_upstream();
    let nginx = Nginx::start(&[upstream], &repo_file("static"));
    // A page's URL: cyoa checks the hash and sets the cache header.
    let versioned = head_of(nginx.https_port, "/static/common.js?v=0123456789abcdef");
    assert!(versioned.starts_with("http/1.1 200"), "{versioned}");
    assert!(versioned.contains("x-served-by: cyoa"), "{versioned}");
    assert!(
        versioned.contains("cache-control: public, max-age=31536000, immutable"),
        "{versioned}"
    );
    assert_eq!(
        heard.recv_timeout(READY_WITHIN).ok().as_deref(),
        Some("/static/common.js?v=0123456789abcdef")
    );
    // A typed URL: from disk, never kept without asking again.
    let plain = head_of(nginx.https_port, "/static/common.js");
    assert!(plain.starts_with("http/1.1 200"), "{plain}");
    assert!(!plain.contains("x-served-by"), "{plain}");
    assert!(plain.contains("cache-control: no-cache"), "{plain}");
    assert!(!plain.contains("immutable"), "{plain}");
    let missing = head_of(nginx.https_port, "/static/no-such-file.js");
    assert!(missing.starts_with("http/1.1 404"), "{missing}\n{}", nginx.error_log());
    assert!(heard.try_recv().is_err(), "cyoa was asked for an unversioned file");
}
