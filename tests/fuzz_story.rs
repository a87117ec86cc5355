//! Property test (a fuzz target on stable Rust): the story loader reads any
//! text, and any mangling of a real story, without a panic, and every
//! problem it reports names the file.
//!
//! Runs 256 cases per property under `cargo test`; longer:
//! `PROPTEST_CASES=100000 cargo test --test fuzz_story`.

use cyoa::story::{BUNDLED_TEXT, Story};
use proptest::prelude::*;

fn check(text: &str) -> Result<(), TestCaseError> {
    match Story::parse("fuzz.toml", text) {
        Ok(loaded) => {
            // A story that loads is whole: its start and every goto exist.
            prop_assert!(loaded.story.slide(&loaded.story.start).is_some());
            for d in loaded.story.decisions() {
                for c in &d.choices {
                    prop_assert!(loaded.story.slide(&c.goto).is_some(), "{} goes nowhere", c.id);
                }
            }
        }
        Err(problems) => {
            prop_assert!(!problems.is_empty());
            for p in &problems {
                prop_assert!(p.to_string().contains("fuzz.toml"), "{p}");
            }
        }
    }
    Ok(())
}

/// An edit of the bundled story: cut, duplicate or replace a slice.
#[derive(Debug, Clone)]
enum Edit {
    Cut(usize, usize),
    Repeat(usize, usize),
    Insert(usize, String),
}

fn apply(text: &str, edit: &Edit) -> String {
    let bytes = text.as_bytes();
    let at = |i: usize| i % (bytes.len() + 1);
    let (a, b) = match edit {
        Edit::Cut(x, y) | Edit::Repeat(x, y) => (at(*x).min(at(*y)), at(*x).max(at(*y))),
        Edit::Insert(x, _) => (at(*x), at(*x)),
    };
    let mut out = bytes[..a].to_vec();
    match edit {
        Edit::Cut(..) => {}
        Edit::Repeat(..) => {
            out.extend_from_slice(&bytes[a..b]);
            out.extend_from_slice(&bytes[a..b]);
        }
        Edit::Insert(_, s) => out.extend_from_slice(s.as_bytes()),
    }
    out.extend_from_slice(&bytes[b..]);
    String::from_utf8_lossy(&out).into_owned()
}

fn edit() -> impl Strategy<Value = Edit> {
    prop_oneof![
        (any::<usize>(), 0usize..200).prop_map(|(x, n)| Edit::Cut(x, x.wrapping_add(n))),
        (any::<usize>(), 0usize..400).prop_map(|(x, n)| Edit::Repeat(x, x.wrapping_add(n))),
        (
            any::<usize>(),
            prop_oneof![
                any::<String>(),
                Just("\n[slides.x]\n".to_string()),
                Just("goto = \"nowhere\"".to_string()),
                Just("\"".to_string()),
                Just("[[".to_string()),
                Just("choices = []".to_string()),
                "[a-z_.= \\[\\]\"\n{},0-9]{0,40}",
            ]
        )
            .prop_map(|(x, s)| Edit::Insert(x, s)),
    ]
}

proptest! {
    #[test]
    fn any_text_loads_or_is_explained(text in any::<String>()) {
        check(&text)?;
    }

    #[test]
    fn a_mangled_story_loads_or_is_explained(edits in proptest::collection::vec(edit(), 1..6)) {
        let text = edits.iter().fold(BUNDLED_TEXT.to_string(), |t, e| apply(&t, e));
        check(&text)?;
    }
}
