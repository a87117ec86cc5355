//! `cyoa new` as a process: the starter story it writes checks clean, and
//! it never overwrites a file.

use std::process::{Command, Output};

fn cyoa(args: &[&std::ffi::OsStr]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_cyoa"))
        .args(args)
        .output()
        .expect("cyoa runs")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn cyoa_new_writes_a_starter_story_that_checks_clean() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let file = dir.path().join("talk.toml");
    let made = cyoa(&["new".as_ref(), file.as_os_str()]);
    assert!(made.status.success(), "cyoa new failed: {}", text(&made.stderr));
    assert!(text(&made.stdout).contains("cyoa check"), "{}", text(&made.stdout));

    let checked = cyoa(&["check".as_ref(), file.as_os_str()]);
    assert!(
        checked.status.success(),
        "the starter does not check: {}",
        text(&checked.stderr)
    );
    assert_eq!(text(&checked.stderr), "", "the starter has warnings");
    let summary = text(&checked.stdout);
    assert!(summary.contains("1 decision, 2 endings"), "{summary}");

    // What the brief promises of it: notes, and comments on the fields.
    let written = std::fs::read_to_string(&file).expect("the written story");
    assert!(written.contains("\nnotes = "), "the starter has speaker notes");
    assert!(
        written.lines().filter(|l| l.starts_with('#')).count() > 10,
        "the starter explains its fields"
    );
}

#[test]
fn cyoa_new_refuses_to_overwrite_a_file() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let file = dir.path().join("mine.toml");
    std::fs::write(&file, "title = \"Mine\"\n").expect("a file of the user's");
    let refused = cyoa(&["new".as_ref(), file.as_os_str()]);
    assert!(!refused.status.success(), "cyoa new overwrote a file");
    let message = text(&refused.stderr);
    assert!(message.contains("already exists"), "{message}");
    assert!(message.contains("mine.toml"), "{message}");
    assert_eq!(
        std::fs::read_to_string(&file).expect("the file"),
        "title = \"Mine\"\n",
        "the user's file changed"
    );
}

#[test]
fn cyoa_new_says_why_it_cannot_write() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let file = dir.path().join("no-such-dir").join("talk.toml");
    let failed = cyoa(&["new".as_ref(), file.as_os_str()]);
    assert!(!failed.status.success());
    assert!(
        text(&failed.stderr).contains("cannot write"),
        "{}",
        text(&failed.stderr)
    );
}
