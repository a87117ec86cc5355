//! Parsing a large story on every core. Most of the time of loading a big
//! story is the `toml` crate building its document tree, one thread's work.
//! A story is a few settings and then one `[slides.<id>]` table after the
//! other, so it is cut before some of those headers and the pieces are
//! parsed side by side. Each piece after the first is parsed as the story
//! with everything before the piece blanked out with spaces: every span in
//! its tree is then an offset in the story itself, and every problem is
//! reported at its true line and column.
//!
//! The pieces' trees are joined only when that gives the tree the whole
//! story would give: every piece parses without a syntax error; in the
//! first one `slides` is a table that later headers may extend (not an
//! inline table); every later piece holds slide
//! tables only (its root has no key but `slides`, and no `[slides]` header
//! of its own that the whole story would reject as a second one); and no
//! slide id is in two pieces. Otherwise the story is parsed whole, which
//! also reports syntax errors exactly as `toml` words them.

use toml::Spanned;
use toml::de::{DeTable, DeValue};

/// A story at least this large is parsed in pieces, when the machine has
/// more than one core: below, starting threads costs more than it saves
/// (a talk is a few kilobytes).
const SPLIT_FROM: usize = 256 * 1024;
/// At most this many pieces, whatever the number of cores.
const MAX_PIECES: usize = 8;
/// What starts the header of a slide's table at a line's start.
const SLIDE_HEADER: &str = "\n[slides.";

/// A parsed document: its tree, and toml's syntax errors.
pub(super) type Parsed<'t> = (Spanned<DeTable<'t>>, Vec<toml::de::Error>);

/// Where a story is cut: the end of the first piece, and the texts of the
/// others, each blanked up to its start.
pub(super) struct Pieces {
    first_end: usize,
    rest: Vec<String>,
}

impl Pieces {
    /// The pieces `text` is parsed in on this machine: one per core, or
    /// none for a small story or a single core.
    pub(super) fn of(text: &str) -> Pieces {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        let wanted = if text.len() < SPLIT_FROM {
            1
        } else {
            cores.min(MAX_PIECES)
        };
        Pieces::cut(text, wanted)
    }

    /// `text` cut in up to `wanted` pieces of about the same size, each
    /// after the first starting with a slide's header.
    fn cut(text: &str, wanted: usize) -> Pieces {
        let mut starts: Vec<usize> = Vec::new();
        for i in 1..wanted.max(1) {
            let mut from = (text.len() / wanted * i).max(starts.last().map_or(0, |s| s + 1));
            while !text.is_char_boundary(from) {
                from += 1;
            }
            let Some(at) = text.get(from..).and_then(|rest| rest.find(SLIDE_HEADER)) else {
                break;
            };
            starts.push(from + at + 1);
        }
        let rest = starts
            .iter()
            .enumerate()
            .map(|(i, &start)| {
                let end = starts.get(i + 1).copied().unwrap_or(text.len());
                let mut piece = " ".repeat(start);
                piece.push_str(&text[start..end]);
                piece
            })
            .collect();
        Pieces {
            first_end: starts.first().copied().unwrap_or(text.len()),
            rest,
        }
    }
}

/// The document tree of `text`: parsed in `pieces` side by side when that
/// makes the same tree as parsing it whole (see the module's comment), else
/// parsed whole.
pub(super) fn parse<'t>(text: &'t str, pieces: &'t Pieces) -> Parsed<'t> {
    if pieces.rest.is_empty() {
        return DeTable::parse_recoverable(text);
    }
    let (first, rest) = std::thread::scope(|scope| {
        let others: Vec<_> = pieces
            .rest
            .iter()
            .map(|piece| scope.spawn(move || DeTable::parse_recoverable(piece)))
            .collect();
        let first = DeTable::parse_recoverable(&text[..pieces.first_end]);
        // A parse that panicked (it does not) is as good as a failed one:
        // the story is parsed whole below.
        let rest: Vec<Option<Parsed<'t>>> = others.into_iter().map(|t| t.join().ok()).collect();
        (first, rest)
    });
    match join(text, first, rest, pieces) {
        Some(joined) => (joined, Vec::new()),
        None => DeTable::parse_recoverable(text),
    }
}

/// The pieces' trees as one, or `None` when they do not make the tree of
/// the whole story.
fn join<'t>(
    text: &str,
    first: Parsed<'t>,
    rest: Vec<Option<Parsed<'t>>>,
    pieces: &Pieces,
) -> Option<Spanned<DeTable<'t>>> {
    let (mut root, errors) = first;
    if !errors.is_empty() {
        return None;
    }
    let slides = root.get_mut().get_mut("slides")?;
    // An inline table (`slides = { ... }`) is whole: a later header may not
    // add to it.
    if text.get(slides.span().start..).is_none_or(|at| at.starts_with('{')) {
        return None;
    }
    let DeValue::Table(slides) = slides.get_mut() else {
        return None;
    };
    for (parsed, text) in rest.into_iter().zip(&pieces.rest) {
        let (mut piece, errors) = parsed?;
        if !errors.is_empty() || piece.get_ref().len() != 1 || has_slides_header(text) {
            return None;
        }
        let DeValue::Table(more) = piece.get_mut().remove("slides")?.into_inner() else {
            return None;
        };
        for (id, slide) in more {
            if slides.insert(id, slide).is_some() {
                return None;
            }
        }
    }
    Some(root)
}

/// Whether a line of `text` looks like a `[slides]` header (in any of the
/// spellings TOML allows), which the whole story may reject as a second
/// definition of `slides`. A line inside a string that looks like one only
/// costs parsing the story whole.
fn has_slides_header(text: &str) -> bool {
    text.lines().any(|line| {
        let Some(inside) = line.trim_start().strip_prefix('[') else {
            return false;
        };
        let inside = inside.trim_start();
        ["slides", "\"slides\"", "'slides'"].iter().any(|name| {
            inside
                .strip_prefix(name)
                .is_some_and(|after| after.trim_start().starts_with(']'))
        })
    })
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    /// What `parse` makes of `text` cut in `wanted` pieces, written out:
    /// the tree with its spans, or the syntax errors.
    fn parsed_in(text: &str, wanted: usize) -> String {
        let pieces = Pieces::cut(text, wanted);
        let (tree, errors) = parse(text, &pieces);
        format!("{tree:?} {errors:?}")
    }

    fn slide(id: &str) -> String {
        format!(
            "[slides.{id}]\ntitle = \"Slide {id}\"\nbody = \"\"\"\nSome [link](https://example.com)\n\"\"\"\nnext = \"x\"\n\n"
        )
    }

    fn story(ids: &[&str]) -> String {
        let mut text = String::from("title = \"T\"\nstart = \"a\"\n\n");
        for id in ids {
            text.push_str(&slide(id));
        }
        text
    }

    #[test]
    fn a_story_cut_in_pieces_gives_the_tree_of_the_whole_story() {
        let text = story(&["a", "b", "c", "d", "e", "f", "g", "h"]);
        let pieces = Pieces::cut(&text, 4);
        assert_eq!(pieces.rest.len(), 3, "cut before slides");
        for piece in &pieces.rest {
            assert!(piece.trim_start().starts_with("[slides."), "{piece}");
        }
        assert_eq!(parsed_in(&text, 4), parsed_in(&text, 1));
    }

    #[test]
    fn what_the_pieces_cannot_say_is_left_to_the_whole_story() {
        let whole_only = [
            // A slide defined twice, once in each piece.
            story(&["a", "b", "c", "a"]),
            // A second `[slides]` header, in another piece.
            format!("[slides]\n{}[slides]\n{}", story(&["a", "b"]), story(&["c", "d"])),
            // Settings after the slides.
            format!("{}[settings]\nresults = \"hidden\"\n", story(&["a", "b", "c", "d"])),
            // `slides` an inline table, extended by a later header.
            format!(
                "title = \"T\"\nslides = {{ a = {{ title = \"A\" }} }}\n\n{}",
                story(&["b", "c"])
            ),
            // A syntax error in a later piece.
            format!("{}[slides.z]\ntitle = \n", story(&["a", "b", "c"])),
            // A multi-line string with a slide header inside.
            format!(
                "{}[slides.q]\nbody = \"\"\"\n[slides.r]\n\"\"\"\n",
                story(&["a", "b", "c"])
            ),
        ];
        for text in whole_only {
            for wanted in 2..5 {
                assert_eq!(
                    parsed_in(&text, wanted),
                    parsed_in(&text, 1),
                    "{wanted} pieces of\n{text}"
                );
            }
        }
    }

    #[test]
    fn a_long_story_is_cut_on_every_core_and_reads_the_same() {
        let ids: Vec<String> = (0..3_000).map(|i| format!("s{i}")).collect();
        let text = story(&ids.iter().map(String::as_str).collect::<Vec<_>>());
        assert!(text.len() > SPLIT_FROM);
        for wanted in [2, 3, 8] {
            assert_eq!(Pieces::cut(&text, wanted).rest.len(), wanted - 1);
            assert_eq!(parsed_in(&text, wanted), parsed_in(&text, 1), "{wanted} pieces");
        }
    }

    #[test]
    fn a_small_story_is_parsed_whole() {
        assert!(Pieces::of(&story(&["a", "b", "c"])).rest.is_empty());
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

        /// Whatever the slides, their ids and what lies between them, the
        /// pieces give the whole story's tree and errors.
        #[test]
        fn pieces_never_change_the_tree(
            parts in proptest::collection::vec(
                prop_oneof![
                    "[a-e]".prop_map(|id| slide(&id)),
                    Just("[slides]\n".to_string()),
                    Just("[settings]\nresults = \"live\"\n".to_string()),
                    Just("[slides.a.decision]\nprompt = \"?\"\n".to_string()),
                    Just("[[slides.b]]\ntitle = \"B\"\n".to_string()),
                    Just("x = \"\"\"\n[slides.c]\n".to_string()),
                    Just("\"\"\"\n".to_string()),
                    Just("slides.d.title = \"D\"\n".to_string()),
                    Just("title = \n".to_string()),
                ],
                0..12,
            ),
            wanted in 2usize..5,
        ) {
            let text = parts.concat();
            prop_assert_eq!(parsed_in(&text, wanted), parsed_in(&text, 1));
        }
    }
}
