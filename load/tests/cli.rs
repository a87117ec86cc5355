//! `cyoa-load`'s own command line: what it refuses before it plays an
//! audience, and what it says when there is no server to play against.
//! Its runs against a real server are tests of the server under load and
//! live with the server's tests (tests/load.rs, tests/multi/soak.rs).

use std::net::TcpListener;
use std::process::{Command, Output};

/// Runs `cyoa-load` with `args`.
fn load(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_cyoa-load"))
        .args(args)
        .env_remove("CYOA_PRESENTER_TOKEN")
        .env_remove("TWILIO_AUTH_TOKEN")
        .output()
        .expect("cyoa-load runs")
}

/// Asserts that `output` failed and said `expected` on stderr, and
/// reported nothing on stdout.
fn assert_refused(output: &Output, expected: &str) {
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success(), "cyoa-load succeeded: {stderr}");
    assert!(stderr.contains(expected), "cyoa-load said {stderr:?}, not {expected:?}");
    assert!(
        output.stdout.is_empty(),
        "cyoa-load reported: {}",
        String::from_utf8_lossy(&output.stdout)
    );
}

#[test]
fn help_names_the_audience_it_plays_and_the_soak() {
    let output = load(&["--help"]);
    assert!(output.status.success());
    let help = String::from_utf8_lossy(&output.stdout);
    for flag in ["--url", "--presenter-token", "--voters", "--sms-voters", "--server-pid"] {
        assert!(help.contains(flag), "--help does not mention {flag}:\n{help}");
    }
    let output = load(&["soak", "--help"]);
    assert!(output.status.success());
    assert!(String::from_utf8_lossy(&output.stdout).contains("--url"));
}

#[test]
fn a_run_without_the_presenter_token_is_refused() {
    assert_refused(&load(&["--voters", "1"]), "--presenter-token");
}

#[test]
fn a_run_with_nobody_to_vote_is_refused() {
    let output = load(&["--presenter-token", "t", "--voters", "0"]);
    assert_refused(&output, "nobody to vote: give --voters or --sms-voters");
}

#[test]
fn phones_without_the_twilio_token_are_refused() {
    let output = load(&["--presenter-token", "t", "--sms-voters", "3"]);
    assert_refused(&output, "--sms-voters needs --twilio-auth-token");
    let output = load(&[
        "soak",
        "--url",
        "http://127.0.0.1:1",
        "--presenter-token",
        "t",
        "--sms-voters",
        "3",
    ]);
    assert_refused(&output, "--sms-voters needs --twilio-auth-token");
}

#[test]
fn a_url_that_is_not_one_is_refused() {
    assert_refused(
        &load(&["--url", "not a url", "--presenter-token", "t"]),
        "bad --url not a url",
    );
}

#[test]
fn a_server_that_is_not_there_ends_the_run_with_its_address() {
    // A port that was free a moment ago: nothing listens on it.
    let port = TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("a free port")
        .port();
    let url = format!("http://127.0.0.1:{port}");
    let output = load(&["--url", &url, "--presenter-token", "t", "--voters", "1"]);
    assert_refused(&output, &format!("127.0.0.1:{port}"));
}
