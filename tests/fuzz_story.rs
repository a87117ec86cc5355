//! Property tests of the story loader (its fuzz target on stable Rust;
//! longer: `PROPTEST_CASES=100000 cargo test --test fuzz_story`): whatever the bytes, loading never
//! panics and always gives a story or at least one problem, and a story it
//! accepts really is consistent.

use std::sync::OnceLock;

use cyoa::story::{Diagnostic, Loaded, Severity, Story, Then};
use proptest::prelude::*;

const MINIMAL: &str = include_str!("../stories/minimal.toml");
const BUNDLED: &str = include_str!("../stories/wsgi-deployment-adventure.toml");

/// Loads `text` and checks what every outcome must satisfy.
fn check(text: &str) {
    match Story::parse("fuzz.toml", text) {
        Ok(loaded) => accepted_is_consistent(&loaded),
        Err(problems) => {
            assert!(!problems.is_empty(), "Err without problems");
            assert!(
                problems.iter().any(|p| p.severity == Severity::Error),
                "Err without an error: {problems:?}"
            );
            places_are_in_the_text(text, &problems);
        }
    }
}

fn places_are_in_the_text(text: &str, problems: &[Diagnostic]) {
    let lines = text.split('\n').count();
    for p in problems {
        assert!(p.line >= 1 && p.line <= lines, "{p} (text has {lines} lines)");
        assert!(p.col >= 1, "{p}");
        assert!(!p.message.is_empty(), "{p}");
    }
}

fn accepted_is_consistent(loaded: &Loaded) {
    let story = &loaded.story;
    assert!(loaded.warnings.iter().all(|w| w.severity == Severity::Warning));
    assert!(story.slide(&story.start).is_some(), "start {} missing", story.start);
    for slide in &story.slides {
        match &slide.then {
            Then::Next(n) => assert!(story.slide(n).is_some(), "next {n}"),
            Then::Decision(d) => {
                assert!((2..=9).contains(&d.choices.len()));
                for (i, c) in d.choices.iter().enumerate() {
                    assert!(story.slide(&c.goto).is_some(), "goto {}", c.goto);
                    // Every choice answers to its own number and nothing else does.
                    let picked = d.sms_match(&(i + 1).to_string()).map(|p| p.id.as_str());
                    assert_eq!(picked, Some(c.id.as_str()));
                }
            }
            Then::Ending => {}
        }
    }
    let s = story.summary();
    assert!(s.endings >= 1 || s.paths == 0);
}

/// Snippets that make TOML, or nearly.
const SNIPPETS: &[&str] = &[
    "[",
    "]",
    "[[",
    "]]",
    "{",
    "}",
    "=",
    "\"",
    "'",
    "\"\"\"",
    ",",
    ".",
    "\n",
    "#",
    "\\",
    "\u{0}",
    "é",
    "🐶",
    "[slides.x]",
    "[slides.fork]",
    "next = \"fork\"",
    "next = \"river\"",
    "goto = \"forest\"",
    "title = 1",
    "title = \"\"",
    "choices = []",
    "keywords = [\"1\"]",
    "label = \"A\"",
    "id = \"left\"",
    "[slides.fork.decision]",
    "[[slides.fork.decision.choices]]",
    "start = \"nope\"",
    "[settings]",
    "presence_grace = 99999999999999999999",
    "web_votes = \"sticky\"",
    "decision = 3",
    "nxet = \"x\"",
    "1979-05-27T07:32:00Z",
    "inf",
    "nan",
    "0x",
];

#[derive(Debug, Clone)]
enum Edit {
    Delete(usize, usize),
    Insert(usize, usize),
    DuplicateLine(usize),
    SwapLines(usize, usize),
}

fn edit() -> impl Strategy<Value = Edit> {
    prop_oneof![
        (any::<usize>(), 0usize..40).prop_map(|(at, len)| Edit::Delete(at, len)),
        (any::<usize>(), 0..SNIPPETS.len()).prop_map(|(at, s)| Edit::Insert(at, s)),
        any::<usize>().prop_map(Edit::DuplicateLine),
        (any::<usize>(), any::<usize>()).prop_map(|(a, b)| Edit::SwapLines(a, b)),
    ]
}

/// The nearest character boundary at or before `at % (len + 1)`.
fn boundary(text: &str, at: usize) -> usize {
    let mut i = at % (text.len() + 1);
    while !text.is_char_boundary(i) {
        i -= 1;
    }
    i
}

fn apply(mut text: String, edits: &[Edit]) -> String {
    for e in edits {
        match *e {
            Edit::Delete(at, len) => {
                let from = boundary(&text, at);
                let to = boundary(&text, from + len);
                if to >= from {
                    text.replace_range(from..to, "");
                }
            }
            Edit::Insert(at, s) => {
                let at = boundary(&text, at);
                text.insert_str(at, SNIPPETS[s]);
            }
            Edit::DuplicateLine(n) => {
                let mut lines: Vec<&str> = text.lines().collect();
                if !lines.is_empty() {
                    let n = n % lines.len();
                    lines.insert(n, lines[n]);
                }
                text = lines.join("\n");
            }
            Edit::SwapLines(a, b) => {
                let mut lines: Vec<&str> = text.lines().collect();
                if !lines.is_empty() {
                    let len = lines.len();
                    lines.swap(a % len, b % len);
                }
                text = lines.join("\n");
            }
        }
    }
    text
}

fn base() -> impl Strategy<Value = &'static str> {
    prop_oneof![Just(MINIMAL), Just(BUNDLED)]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..2048)) {
        check(&String::from_utf8_lossy(&bytes));
    }

    #[test]
    fn arbitrary_strings_never_panic(text in any::<String>()) {
        check(&text);
    }

    #[test]
    fn toml_like_text_never_panics(text in "[\\[\\]{}=\"'.,#a-z0-9 \n_-]{0,400}") {
        check(&text);
    }

    #[test]
    fn mutated_stories_never_panic(base in base(), edits in proptest::collection::vec(edit(), 1..8)) {
        check(&apply(base.to_string(), &edits));
    }

    #[test]
    fn sms_matching_never_panics(text in any::<String>()) {
        static STORY: OnceLock<Story> = OnceLock::new();
        let story = STORY.get_or_init(|| Story::parse("minimal.toml", MINIMAL).expect("valid").story);
        for d in story.decisions() {
            let _ = d.sms_match(&text);
        }
    }
}

#[test]
fn the_bases_are_valid() {
    check(MINIMAL);
    check(BUNDLED);
    assert!(Story::parse("m.toml", MINIMAL).is_ok());
}
