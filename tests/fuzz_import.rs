//! Property tests of `cyoa import` (its fuzz target on stable Rust;
//! longer: `PROPTEST_CASES=10000 cargo test --release --test fuzz_import`):
//! whatever the bytes of a PDF or a Markdown deck, reading it never panics
//! and gives a deck of at least one slide, each with a title, or an error.

mod support;

use cyoa::import::{Deck, read_markdown, read_pdf_bytes};
use proptest::prelude::*;

/// A one-page PDF with a line of text in a standard font and page labels
/// in a number tree whose kid points back at itself; offsets right.
fn seed_pdf() -> Vec<u8> {
    let content = "BT /F1 24 Tf 20 50 Td (Hello room) Tj ET";
    let objects = [
        "<< /Type /Catalog /Pages 2 0 R /PageLabels 6 0 R >>".to_string(),
        "<< /Type /Pages /Kids [3 0 R] /Count 1 >>".to_string(),
        "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 160 90] /Contents 4 0 R /Resources << /Font << /F1 5 0 R >> >> >>"
            .to_string(),
        format!("<< /Length {} >>\nstream\n{content}\nendstream", content.len()),
        "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>".to_string(),
        "<< /Kids [6 0 R] /Nums [0 << /S /R /P (x) /St 3 >>] >>".to_string(),
    ];
    support::pdf::pdf(&objects, "")
}

fn well_formed(deck: &Deck) {
    assert!(!deck.slides.is_empty());
    assert!(!deck.title.trim().is_empty());
    for s in &deck.slides {
        assert!(!s.title.trim().is_empty(), "{deck:?}");
    }
}

#[test]
fn the_seed_pdf_reads_with_its_text() {
    let deck = read_pdf_bytes(seed_pdf()).expect("the seed reads");
    assert_eq!(deck.slides.len(), 1);
    assert_eq!(deck.slides[0].title, "Hello room");
    assert_eq!(deck.slides[0].alt, "Hello room");
}

proptest! {
    // Each case renders a page: fewer cases than the story parser's.
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn a_mutated_pdf_reads_or_is_refused(
        flips in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 0..8),
        cut in any::<prop::sample::Index>(),
        truncate in any::<bool>(),
    ) {
        let mut bytes = seed_pdf();
        for (at, byte) in flips {
            let i = at.index(bytes.len());
            bytes[i] = byte;
        }
        if truncate {
            let keep = cut.index(bytes.len());
            bytes.truncate(keep);
        }
        if let Ok(deck) = read_pdf_bytes(bytes) {
            well_formed(&deck);
        }
    }

    #[test]
    fn any_bytes_as_a_pdf_read_or_are_refused(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
        let mut pdf = b"%PDF-1.7\n".to_vec();
        pdf.extend_from_slice(&bytes);
        if let Ok(deck) = read_pdf_bytes(pdf) {
            well_formed(&deck);
        }
    }

    #[test]
    fn any_markdown_reads_or_is_refused(text in "(---\n|# |<!--|-->|```\n|title: |[a-z ]{0,8}|\n){0,40}") {
        if let Ok(deck) = read_markdown(&text) {
            well_formed(&deck);
        }
    }
}
