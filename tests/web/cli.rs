//! `cyoa serve` as a process: it prints the two URLs (the token only when
//! cyoa made it), the presenter URL logs in, the token appears nowhere else,
//! a short token is refused, SIGTERM stops it cleanly.

use reqwest::StatusCode;

use crate::helpers::{log_of, serve_process, sigterm};

#[tokio::test]
async fn serve_prints_the_urls_and_stops_on_sigterm() {
    let token = "a-token-that-must-not-be-logged";
    let (mut child, mut lines) = serve_process(&["--presenter-token", token]);
    let presenter = lines.next().expect("a first line").expect("text");
    let audience = lines.next().expect("a second line").expect("text");
    let presenter_page = presenter
        .strip_prefix("presenter: ")
        .and_then(|rest| rest.split_whitespace().next())
        .expect("the presenter line");
    let audience_url = audience.strip_prefix("audience: ").expect("the audience line");
    assert!(presenter_page.ends_with("/presenter"), "{presenter}");
    let presenter_url = &format!("{presenter_page}?token={token}");
    assert!(
        audience_url.starts_with("http://127.0.0.1:") && audience_url.ends_with('/'),
        "{audience}"
    );

    let client = reqwest::Client::builder().cookie_store(true).build().expect("a client");
    // The login redirects to the bare presenter view, which opens.
    let r = client.get(presenter_url).send().await.expect("an answer");
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.url().query(), None);
    assert_eq!(
        client.get(audience_url).send().await.expect("an answer").status(),
        StatusCode::OK
    );

    let status = sigterm(&mut child);
    assert!(status.success(), "a clean stop: {status:?}");
    let log = log_of(&mut child);
    assert!(log.contains("stopping"), "{log}");
    assert!(!log.contains(token), "the token leaked into the log:\n{log}");
}

#[tokio::test]
async fn a_token_the_operator_set_is_not_printed_and_a_generated_one_is() {
    let token = "the-operator-set-this-token";
    let (mut child, mut lines) = serve_process(&["--presenter-token", token]);
    let presenter = lines.next().expect("a first line").expect("text");
    assert!(!presenter.contains(token), "{presenter}");
    assert!(presenter.contains("the token you set"), "{presenter}");
    let page = presenter
        .strip_prefix("presenter: ")
        .and_then(|rest| rest.split_whitespace().next())
        .expect("the presenter URL");
    assert!(
        page.starts_with("http://127.0.0.1:") && page.ends_with("/presenter"),
        "no token in the URL: {presenter}"
    );
    // The URL printed, with the token the operator holds, logs in.
    let client = reqwest::Client::builder().cookie_store(true).build().expect("a client");
    let r = client
        .get(format!("{page}?token={token}"))
        .send()
        .await
        .expect("an answer");
    assert_eq!(r.status(), StatusCode::OK);
    assert!(sigterm(&mut child).success());

    let (mut child, mut lines) = serve_process(&[]);
    let presenter = lines.next().expect("a first line").expect("text");
    let url = presenter.strip_prefix("presenter: ").expect("the presenter line");
    let (_, generated) = url.split_once("/presenter?token=").expect("the token in the URL");
    assert!(
        generated.len() == 32 && generated.bytes().all(|b| b.is_ascii_hexdigit()),
        "{presenter}"
    );
    let client = reqwest::Client::builder().cookie_store(true).build().expect("a client");
    assert_eq!(
        client.get(url).send().await.expect("an answer").status(),
        StatusCode::OK
    );
    assert!(sigterm(&mut child).success());
}

#[test]
fn a_short_presenter_token_is_refused_at_start() {
    for (args, env) in [
        (vec!["--presenter-token", "short"], None),
        (vec![], Some("fifteen-chars15")),
    ] {
        let mut serve = std::process::Command::new(env!("CARGO_BIN_EXE_cyoa"));
        serve.args(["serve", "--memory", "--bind", "127.0.0.1:0"]).args(&args);
        if let Some(token) = env {
            serve.env("CYOA_PRESENTER_TOKEN", token);
        }
        let out = serve.output().expect("cyoa runs");
        assert!(!out.status.success(), "{args:?} {env:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("needs at least 16"), "{err}");
        assert!(String::from_utf8_lossy(&out.stdout).is_empty(), "nothing served");
    }
}

#[test]
fn a_bad_presenter_session_is_refused_at_start() {
    for bad in ["0", "12 hours", "401d"] {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_cyoa"))
            .args(["serve", "--memory", "--bind", "127.0.0.1:0", "--presenter-session", bad])
            .output()
            .expect("cyoa runs");
        assert!(!out.status.success(), "{bad}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("--presenter-session"), "{bad}: {err}");
    }
}

/// Everything `cyoa serve` with `args` prints at start: its log says
/// "serving" after the last line, then it is stopped and its output read
/// to the end.
fn startup_lines(args: &[&str]) -> Vec<String> {
    let (mut child, lines) = serve_process(args);
    let log = log_until_serving(&mut child);
    let _ = child.kill();
    let _ = child.wait();
    let printed: Vec<String> = lines.map_while(Result::ok).collect();
    assert!(
        printed.iter().any(|l| l.starts_with("audience: ")),
        "cyoa serve {args:?} started: {printed:?}\n{}",
        log.join("\n")
    );
    printed
}

#[test]
fn lan_listens_everywhere_and_shows_the_lan_address() {
    let printed = startup_lines(&["--lan"]);
    let line = |prefix: &str| {
        printed
            .iter()
            .find_map(|l| l.strip_prefix(prefix))
            .unwrap_or_else(|| panic!("a {prefix:?} line: {printed:?}"))
            .to_string()
    };
    let audience = line("audience: ");
    let listening = line("listening: ");
    let bound: std::net::SocketAddr = listening
        .split_whitespace()
        .next()
        .and_then(|a| a.parse().ok())
        .unwrap_or_else(|| panic!("an address: {listening}"));
    assert!(bound.ip().is_unspecified(), "bound on every interface: {listening}");
    let url = reqwest::Url::parse(&audience).expect("a URL");
    let host: std::net::IpAddr = url
        .host_str()
        .and_then(|h| h.parse().ok())
        .unwrap_or_else(|| panic!("an IP address in {audience}"));
    assert!(
        !host.is_loopback() && !host.is_unspecified(),
        "a LAN address: {audience}"
    );
    assert_eq!(url.port(), Some(bound.port()), "{audience} on {listening}");
    assert!(!printed.iter().any(|l| l.starts_with("lan: off")), "{printed:?}");

    // An explicit public URL wins over the LAN address; still every interface.
    let printed = startup_lines(&["--lan", "--public-url", "https://vote.example.org"]);
    assert!(
        printed.contains(&"audience: https://vote.example.org/".to_string()),
        "{printed:?}"
    );
    assert!(
        printed.iter().any(|l| l.starts_with("listening: 0.0.0.0:")),
        "{printed:?}"
    );
    assert!(!printed.iter().any(|l| l.starts_with("lan: off")), "{printed:?}");
}

#[test]
fn bound_on_every_interface_the_audience_url_is_one_phones_can_reach() {
    // Not http://0.0.0.0:PORT: this machine's LAN address, as with --lan
    // (or its loopback, with the hint, on a machine without one).
    let printed = startup_lines(&["--bind", "0.0.0.0:0"]);
    let audience = printed
        .iter()
        .find_map(|l| l.strip_prefix("audience: "))
        .unwrap_or_else(|| panic!("an audience line: {printed:?}"));
    let url = reqwest::Url::parse(audience).expect("a URL");
    let host: std::net::IpAddr = url
        .host_str()
        .and_then(|h| h.parse().ok())
        .unwrap_or_else(|| panic!("an IP address in {audience}"));
    assert!(!host.is_unspecified(), "{audience}");
    assert!(
        printed.iter().any(|l| l.starts_with("listening: 0.0.0.0:")),
        "{printed:?}"
    );
    let port = url.port().expect("a port");
    assert!(
        printed
            .iter()
            .any(|l| l.starts_with(&format!("listening: 0.0.0.0:{port} "))),
        "the audience URL has the port it listens on: {printed:?}"
    );
}

#[tokio::test]
async fn with_lan_it_answers_on_every_interface() {
    let (mut child, mut lines) = serve_process(&["--lan"]);
    let audience = lines
        .by_ref()
        .map_while(Result::ok)
        .find_map(|l| l.strip_prefix("audience: ").map(str::to_owned))
        .expect("the audience line");
    let port = reqwest::Url::parse(&audience)
        .ok()
        .and_then(|u| u.port())
        .expect("a port");
    // Loopback answers too, so it listens on every interface (the test asks
    // nothing of the LAN address: its traffic stays on loopback).
    let url = format!("http://127.0.0.1:{port}/");
    let r = reqwest::get(&url).await.unwrap_or_else(|e| panic!("{url}: {e}"));
    assert_eq!(r.status(), StatusCode::OK, "{url}");
    let status = sigterm(&mut child);
    assert!(status.success(), "{status:?}\n{}", crate::helpers::log_of(&mut child));
}

#[test]
fn a_loopback_public_url_prints_a_hint_for_phones() {
    for extra in [&[][..], &["--public-url", "http://localhost:8080"][..]] {
        let printed = startup_lines(extra);
        let hint = printed.last().cloned().unwrap_or_default();
        assert!(
            hint.starts_with("lan: off") && hint.contains("--lan"),
            "{extra:?}: the last line is the hint: {printed:?}"
        );
        assert_eq!(printed.iter().filter(|l| l.starts_with("lan: ")).count(), 1);
    }
    // Not for an address phones can reach.
    let printed = startup_lines(&["--public-url", "https://vote.example.org"]);
    assert!(!printed.iter().any(|l| l.starts_with("lan: ")), "{printed:?}");
}

#[tokio::test]
async fn outputs_that_cannot_be_written_lose_their_lines_not_the_talk() {
    use std::io::BufRead;
    // Every write to /dev/full fails, as one to a closed pipe does
    // (`cyoa serve | head -2`).
    let full = std::fs::OpenOptions::new()
        .write(true)
        .open("/dev/full")
        .expect("/dev/full");
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_cyoa"))
        .args(["serve", "--bind", "127.0.0.1:0", "--memory"])
        .env("RUST_LOG", "info")
        .stdout(full)
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("cyoa starts");
    let stderr = child.stderr.take().expect("stderr");
    let mut log = Vec::new();
    let mut port = None;
    let mut lines = std::io::BufReader::new(stderr).lines();
    for line in lines.by_ref() {
        let line = line.expect("the log");
        if line.contains("serving") {
            port = plain(&line)
                .split_once("port=")
                .and_then(|(_, rest)| rest.split(|c: char| !c.is_ascii_digit()).next())
                .and_then(|p| p.parse::<u16>().ok());
            break;
        }
        log.push(line);
    }
    let port = port.unwrap_or_else(|| panic!("cyoa serves: {}", log.join("\n")));
    // Its log's pipe closed too (`cyoa serve 2>&1 | head`): the log lines
    // written from now on, the stop's among them, fail.
    drop(lines);
    let r = reqwest::get(format!("http://127.0.0.1:{port}/healthz"))
        .await
        .expect("an answer");
    assert_eq!(r.status(), StatusCode::OK);
    let status = sigterm(&mut child);
    assert!(status.success(), "{status:?}");
}

/// `cyoa` with `args` and `env`, run to its end: its status and what it
/// wrote to stderr.
fn cyoa_with_env(args: &[&str], env: &[(&str, &str)]) -> (bool, String) {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_cyoa"))
        .args(args)
        .env_remove("CYOA_DATA")
        .env_remove("REDIS_URL")
        .env_remove("CYOA_MEMORY")
        .envs(env.iter().copied())
        .output()
        .expect("cyoa runs");
    (out.status.success(), String::from_utf8_lossy(&out.stderr).into_owned())
}

#[test]
fn a_store_flag_on_the_command_line_wins_over_the_environment() {
    let dir = tempfile::tempdir().expect("a temporary folder");
    let file = dir.path().join("profile.sqlite3");
    let data = file.to_str().expect("a UTF-8 path");
    let out = dir.path().join("runs.json");
    let out = out.to_str().expect("a UTF-8 path");
    let unreachable = "redis://127.0.0.1:1/";

    // CYOA_DATA from a shell profile: --redis-url still picks Redis (here
    // one that is not there, so the export says so).
    let (ok, err) = cyoa_with_env(
        &["runs", "export", out, "--redis-url", unreachable],
        &[("CYOA_DATA", data)],
    );
    assert!(!ok && err.contains("cannot use Redis"), "{err}");
    // And --memory still serves from memory: the start goes on to the next
    // check (the short token), where it used to stop at the flags.
    let (ok, err) = cyoa_with_env(
        &[
            "serve",
            "--memory",
            "--bind",
            "127.0.0.1:0",
            "--presenter-token",
            "short",
        ],
        &[("CYOA_DATA", data)],
    );
    assert!(!ok && err.contains("needs at least 16"), "{err}");
    assert!(!file.exists(), "the data file was not made");

    // Two stores given the same way are refused, saying which.
    for (args, env) in [
        (
            vec!["runs", "export", out, "--data", data, "--redis-url", unreachable],
            vec![],
        ),
        (
            vec!["runs", "export", out],
            vec![("CYOA_DATA", data), ("REDIS_URL", unreachable)],
        ),
        (vec!["serve", "--memory", "--data", data], vec![]),
        (vec!["serve"], vec![("CYOA_MEMORY", "true"), ("REDIS_URL", unreachable)]),
    ] {
        let (ok, err) = cyoa_with_env(&args, &env);
        assert!(!ok, "{args:?} {env:?}");
        assert!(err.contains("each name a store; give one"), "{args:?} {env:?}: {err}");
    }
    assert!(!file.exists(), "nothing refused made the data file");
}

/// What a started `cyoa serve` logs (stderr) up to its "serving" line.
fn log_until_serving(child: &mut std::process::Child) -> Vec<String> {
    use std::io::BufRead;
    let stderr = child.stderr.take().expect("stderr");
    let mut log = Vec::new();
    for line in std::io::BufReader::new(stderr).lines() {
        let line = line.expect("the log");
        let serving = line.contains("serving");
        log.push(line);
        if serving {
            break;
        }
    }
    log
}

/// A log line with its colour codes (ESC [ ... m) taken out.
fn plain(line: &str) -> String {
    let mut plain = String::new();
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        match c {
            '\u{1b}' => while chars.next().is_some_and(|c| c != 'm') {},
            c => plain.push(c),
        }
    }
    plain
}

#[test]
fn serve_raises_its_open_file_soft_limit_to_the_hard_one_and_logs_both() {
    use rustix::process::{Resource, getrlimit};
    // Started by a shell that lowered the soft limit to 256 (the hard
    // limit is this test's own).
    let hard = getrlimit(Resource::Nofile).maximum;
    let shown = hard.map_or("unlimited".to_string(), |h| h.to_string());
    assert!(hard.is_none_or(|h| h > 256), "this machine's hard limit is {shown}");
    let mut child = std::process::Command::new("sh")
        .args(["-c", r#"ulimit -S -n 256 && exec "$0" "$@""#])
        .arg(env!("CARGO_BIN_EXE_cyoa"))
        .args(["serve", "--bind", "127.0.0.1:0", "--memory"])
        .env("RUST_LOG", "info")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("sh starts cyoa");
    let log: Vec<String> = log_until_serving(&mut child).iter().map(|l| plain(l)).collect();
    let _ = child.kill();
    let _ = child.wait();
    let said: Vec<&String> = log.iter().filter(|l| l.contains("open files")).collect();
    assert_eq!(said.len(), 1, "one line on open files:\n{}", log.join("\n"));
    let line = said[0];
    for field in [format!("soft={shown}"), format!("hard={shown}"), "was=256".to_string()] {
        assert!(line.contains(&field), "{field} in {line}");
    }
    assert!(line.contains(" INFO "), "{line}");
}
