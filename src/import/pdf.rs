//! A PDF deck: each page rendered in-process by hayro (pure Rust, no
//! external program) to a PNG that fits 1920×1080, and its text read from
//! the same interpretation, for the title and the image's alt text.
//!
//! A page that an outline entry (a bookmark) points at is titled by that
//! entry, the author's own words; any other by its text, else by its page
//! label ("Slide iii", "Slide A-1"), else "Slide N".

use hayro::hayro_interpret::font::GlyphRun;
use hayro::hayro_interpret::hayro_syntax::{LoadPdfError, Pdf};
use hayro::hayro_interpret::{
    BlendMode, ClipPath, Context, Device, DrawMode, DrawProps, Image, ImageDrawProps, InterpreterCache,
    InterpreterSettings, SoftMask, interpret_page,
};
use hayro::kurbo::{Affine, BezPath, Rect};
use hayro::vello_cpu::color::palette::css::WHITE;
use hayro::{PixmapSettings, RenderCache, RenderSettings, render};

use super::{Deck, DeckSlide, MAX_SLIDES, SlideImage, title_from};

/// The box every page is scaled to fit: a 1080p projector.
const WIDTH: f32 = 1920.0;
const HEIGHT: f32 = 1080.0;
/// Most bytes of PNG kept in memory for one deck (512 MiB).
const MAX_DECK_BYTES: usize = 512 * 1024 * 1024;
/// Most characters of text kept from one page (the alt text).
const MAX_PAGE_TEXT: usize = 2000;

/// Renders every page and reads its text.
pub(super) fn read(bytes: Vec<u8>, fallback_title: &str) -> Result<Deck, String> {
    let pdf = Pdf::new(bytes).map_err(|e| match e {
        LoadPdfError::Decryption(_) => {
            "the PDF is encrypted (password-protected); export it again without a password".to_string()
        }
        LoadPdfError::Invalid => "not a readable PDF (it is damaged or not a PDF at all)".to_string(),
    })?;
    let pages = pdf.pages();
    if pages.is_empty() {
        return Err("the PDF has no pages".into());
    }
    if pages.len() > MAX_SLIDES {
        return Err(format!(
            "the PDF has {} pages; cyoa imports at most {MAX_SLIDES}",
            pages.len()
        ));
    }
    let outline = outline_titles(&pdf);
    let labels = page_labels(&pdf, pages.len());
    let cache = RenderCache::new();
    let settings = InterpreterSettings::default();
    let render_settings = RenderSettings::default();
    let mut slides = Vec::with_capacity(pages.len());
    let mut total = 0usize;
    for (i, page) in pages.iter().enumerate() {
        let (w, h) = page.render_dimensions();
        if !(w.is_finite() && h.is_finite() && w >= 1.0 && h >= 1.0) {
            return Err(format!("page {} has no size ({w}×{h} points)", i + 1));
        }
        let scale = (WIDTH / w).min(HEIGHT / h);
        let pixmap = render(
            page,
            &cache,
            &settings,
            &render_settings,
            &PixmapSettings {
                x_scale: scale,
                y_scale: scale,
                bg_color: WHITE,
            },
        );
        let png = pixmap
            .into_png()
            .map_err(|e| format!("page {} could not be encoded as PNG: {e}", i + 1))?;
        total += png.len();
        if total > MAX_DECK_BYTES {
            return Err(format!(
                "the pages' images pass {} MiB by page {}; cyoa imports smaller decks",
                MAX_DECK_BYTES / 1024 / 1024,
                i + 1
            ));
        }
        let text = page_text(page, &settings);
        let title = outline.get(&i).cloned().or(text.title);
        let label = labels.get(i).filter(|l| !l.is_empty());
        slides.push(DeckSlide {
            title: title
                .unwrap_or_else(|| format!("Slide {}", label.map_or_else(|| (i + 1).to_string(), Clone::clone))),
            alt: text.all,
            image: Some(SlideImage {
                bytes: png,
                extension: "png",
            }),
            ..DeckSlide::default()
        });
    }
    let title = slides
        .iter()
        .map(|s| &s.title)
        .find(|t| !t.starts_with("Slide "))
        .cloned()
        .unwrap_or_else(|| fallback_title.to_string());
    Ok(Deck { title, slides })
}

/// Most outline entries read (a hostile PDF may have a great many).
const MAX_OUTLINE_ENTRIES: usize = 10_000;

/// The titles of the outline's entries, by the page (index) each points
/// at; the first entry for a page wins. Entries that name their page by a
/// named destination are skipped.
fn outline_titles(pdf: &Pdf) -> std::collections::HashMap<usize, String> {
    use hayro::hayro_interpret::hayro_syntax::object::{Array, Dict, MaybeRef, String as PdfString};
    let mut titles = std::collections::HashMap::new();
    let xref = pdf.xref();
    let Some(first) = xref
        .get::<Dict<'_>>(xref.root_id())
        .and_then(|root| root.get::<Dict<'_>>(b"Outlines"))
        .and_then(|outlines| outlines.get::<Dict<'_>>(b"First"))
    else {
        return titles;
    };
    let pages: std::collections::HashMap<u32, usize> = pdf
        .pages()
        .iter()
        .enumerate()
        .filter_map(|(i, p)| p.raw().obj_id().map(|id| (id.obj_number, i)))
        .collect();
    let mut seen = std::collections::HashSet::new();
    let mut stack = vec![first];
    while let Some(item) = stack.pop() {
        if seen.len() >= MAX_OUTLINE_ENTRIES {
            break;
        }
        // An entry met twice is a loop in the outline: stop there.
        if item.obj_id().is_some_and(|id| !seen.insert(id.obj_number)) {
            continue;
        }
        let dest = item
            .get::<Array<'_>>(b"Dest")
            .or_else(|| item.get::<Dict<'_>>(b"A").and_then(|a| a.get::<Array<'_>>(b"D")));
        let page = dest.and_then(|d| match d.raw_iter().next() {
            Some(MaybeRef::Ref(r)) => pages.get(&r.obj_number).copied(),
            _ => None,
        });
        let title = item
            .get::<PdfString<'_>>(b"Title")
            .map(|t| text_string(t.as_bytes()))
            .and_then(|t| title_from(&t));
        if let (Some(page), Some(title)) = (page, title) {
            titles.entry(page).or_insert(title);
        }
        if let Some(next) = item.get::<Dict<'_>>(b"Next") {
            stack.push(next);
        }
        if let Some(child) = item.get::<Dict<'_>>(b"First") {
            stack.push(child);
        }
    }
    titles
}

/// Most page-label ranges and number-tree nodes read.
const MAX_LABEL_RANGES: usize = 10_000;

/// Each page's label (`iii`, `A-1`, `7`), from the catalog's
/// `/PageLabels` number tree; empty for a page no range covers, and for
/// every page of a PDF without labels.
fn page_labels(pdf: &Pdf, pages: usize) -> Vec<String> {
    use hayro::hayro_interpret::hayro_syntax::object::{Array, Dict, Object};
    let xref = pdf.xref();
    let Some(tree) = xref
        .get::<Dict<'_>>(xref.root_id())
        .and_then(|root| root.get::<Dict<'_>>(b"PageLabels"))
    else {
        return vec![String::new(); pages];
    };
    // The ranges, by the page index each starts at, from the tree's leaves.
    let mut ranges: Vec<(usize, LabelStyle)> = Vec::new();
    let mut stack = vec![tree];
    let mut visited = 0;
    while let Some(node) = stack.pop() {
        visited += 1;
        if visited > MAX_LABEL_RANGES || ranges.len() > MAX_LABEL_RANGES {
            break;
        }
        if let Some(kids) = node.get::<Array<'_>>(b"Kids") {
            stack.extend(kids.iter::<Dict<'_>>());
        }
        let Some(nums) = node.get::<Array<'_>>(b"Nums") else {
            continue;
        };
        let mut items = nums.iter::<Object<'_>>();
        while let (Some(key), Some(value)) = (items.next(), items.next()) {
            if let (Object::Number(start), Object::Dict(style)) = (key, value) {
                if let Ok(start) = usize::try_from(start.as_i64()) {
                    ranges.push((start, LabelStyle::of(&style)));
                }
            }
        }
    }
    ranges.sort_by_key(|(start, _)| *start);
    (0..pages)
        .map(|i| {
            let Some((start, style)) = ranges.iter().rev().find(|(start, _)| *start <= i) else {
                return String::new();
            };
            let offset = i64::try_from(i - start).unwrap_or(i64::MAX);
            style.label(style.first.saturating_add(offset))
        })
        .collect()
}

/// One range of page labels: a prefix, then the page's number in a style.
struct LabelStyle {
    prefix: String,
    /// `D`, `R`, `r`, `A`, `a`; `None`: the prefix alone.
    numbering: Option<u8>,
    /// The range's first number (`/St`, 1 when left out).
    first: i64,
}

impl LabelStyle {
    fn of(dict: &hayro::hayro_interpret::hayro_syntax::object::Dict<'_>) -> LabelStyle {
        use hayro::hayro_interpret::hayro_syntax::object::{Name, String as PdfString};
        let prefix = dict
            .get::<PdfString<'_>>(b"P")
            .map(|p| {
                text_string(p.as_bytes())
                    .chars()
                    .filter(|c| !c.is_control())
                    .take(40)
                    .collect()
            })
            .unwrap_or_default();
        let numbering = dict.get::<Name<'_>>(b"S").and_then(|n| match &*n {
            [b @ (b'D' | b'R' | b'r' | b'A' | b'a')] => Some(*b),
            _ => None,
        });
        let first = dict.get::<i64>(b"St").filter(|n| *n >= 1).unwrap_or(1);
        LabelStyle {
            prefix,
            numbering,
            first,
        }
    }

    /// The label of the page numbered `n` in this range.
    fn label(&self, n: i64) -> String {
        let number = match self.numbering {
            Some(b'D') => n.to_string(),
            Some(b'R') => roman(n),
            Some(b'r') => roman(n).to_lowercase(),
            Some(b'A') => letters(n),
            Some(b'a') => letters(n).to_lowercase(),
            _ => String::new(),
        };
        format!("{}{number}", self.prefix)
    }
}

/// `n` in upper-case Roman numerals (decimal past 3,999, where they end).
fn roman(n: i64) -> String {
    if !(1..4000).contains(&n) {
        return n.to_string();
    }
    const DIGITS: [(i64, &str); 13] = [
        (1000, "M"),
        (900, "CM"),
        (500, "D"),
        (400, "CD"),
        (100, "C"),
        (90, "XC"),
        (50, "L"),
        (40, "XL"),
        (10, "X"),
        (9, "IX"),
        (5, "V"),
        (4, "IV"),
        (1, "I"),
    ];
    let mut left = n;
    let mut out = String::new();
    for (value, digits) in DIGITS {
        while left >= value {
            out.push_str(digits);
            left -= value;
        }
    }
    out
}

/// `n` as the PDF's letters: A to Z, then AA to ZZ, AAA... (decimal past
/// 26 × 10, where the letters would grow long).
fn letters(n: i64) -> String {
    if !(1..=260).contains(&n) {
        return n.to_string();
    }
    let letter = char::from(b'A' + ((n - 1) % 26) as u8);
    std::iter::repeat_n(letter, ((n - 1) / 26 + 1) as usize).collect()
}

/// A PDF text string: UTF-16BE after its byte order mark, UTF-8 after
/// its, else PDFDocEncoding (read as Latin-1, which it is for letters).
fn text_string(bytes: &[u8]) -> String {
    if let Some(utf16) = bytes.strip_prefix(b"\xfe\xff") {
        let units: Vec<u16> = utf16
            .chunks_exact(2)
            .map(|c| u16::from_be_bytes([c[0], c[1]]))
            .collect();
        return String::from_utf16_lossy(&units);
    }
    if let Some(utf8) = bytes.strip_prefix(b"\xef\xbb\xbf") {
        return String::from_utf8_lossy(utf8).into_owned();
    }
    bytes.iter().map(|&b| char::from(b)).collect()
}

/// A page's words: all of them, line by line, and its title (the first
/// line set in the largest type).
struct PageText {
    all: String,
    title: Option<String>,
}

fn page_text(page: &hayro::hayro_interpret::hayro_syntax::page::Page<'_>, settings: &InterpreterSettings) -> PageText {
    let cache = InterpreterCache::new();
    let (w, h) = page.render_dimensions();
    let mut context = Context::new(
        hayro::hayro_interpret::util::TransformExt::to_kurbo(&page.initial_transform(true)),
        Rect::new(0.0, 0.0, f64::from(w), f64::from(h)),
        &cache,
        page.xref(),
        settings.clone(),
    );
    let mut device = TextDevice::default();
    interpret_page(page, &mut context, &mut device);
    let lines = device.lines;
    let all = lines
        .iter()
        .map(|l| l.text.split_whitespace().collect::<Vec<_>>().join(" "))
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join("\n");
    let largest = lines
        .iter()
        .filter(|l| !l.text.trim().is_empty())
        .map(|l| l.size)
        .fold(0.0_f64, f64::max);
    // The title: the lines in the largest type, joined (a title that wraps).
    let title_text = lines
        .iter()
        .filter(|l| !l.text.trim().is_empty() && l.size >= largest * 0.95)
        .map(|l| l.text.trim())
        .collect::<Vec<_>>()
        .join(" ");
    PageText {
        title: title_from(&title_text),
        all: all.chars().take(MAX_PAGE_TEXT).collect(),
    }
}

/// One line of text as drawn: where its baseline is and its type size.
struct Line {
    y: f64,
    size: f64,
    text: String,
}

/// Collects the text that a page draws, glyph by glyph, into lines; draws
/// nothing.
#[derive(Default)]
struct TextDevice {
    lines: Vec<Line>,
    chars: usize,
}

impl<'a> Device<'a> for TextDevice {
    fn draw_path(&mut self, _: &BezPath, _: DrawProps<'a>, _: &DrawMode) {}
    fn push_clip_path(&mut self, _: &ClipPath) {}
    fn push_transparency_group(&mut self, _: f32, _: Option<SoftMask<'a>>, _: BlendMode) {}
    fn draw_glyph_run(&mut self, run: &GlyphRun<'_, 'a>, props: DrawProps<'a>, _: &DrawMode) {
        for glyph in run.glyphs() {
            if self.chars >= MAX_PAGE_TEXT * 2 {
                return;
            }
            let Some(text) = glyph.as_unicode() else { continue };
            let placed: Affine = props.transform * glyph.transform();
            let c = placed.as_coeffs();
            // The type size: how tall an em is once placed on the page.
            let size = (c[2] * c[2] + c[3] * c[3]).sqrt();
            let y = c[5];
            let same_line = self
                .lines
                .last()
                .is_some_and(|l| (l.y - y).abs() < size.max(l.size) * 0.5);
            if !same_line {
                self.lines.push(Line {
                    y,
                    size,
                    text: String::new(),
                });
            }
            if let Some(line) = self.lines.last_mut() {
                line.size = line.size.max(size);
                match text {
                    hayro::hayro_interpret::hayro_cmap::BfString::Char(ch) => line.text.push(ch),
                    hayro::hayro_interpret::hayro_cmap::BfString::String(s) => line.text.push_str(&s),
                }
                self.chars += 1;
            }
        }
    }
    fn draw_image(&mut self, _: Image<'a, '_>, _: ImageDrawProps<'a>) {}
    fn pop_clip(&mut self) {}
    fn pop_transparency_group(&mut self) {}
}

#[cfg(test)]
mod tests {
    use super::{letters, roman};

    #[test]
    fn page_numbers_in_roman_numerals_and_letters() {
        let r: Vec<String> = [1, 4, 9, 14, 40, 90, 400, 1994, 3999, 4000, 0].map(roman).to_vec();
        assert_eq!(
            r,
            [
                "I",
                "IV",
                "IX",
                "XIV",
                "XL",
                "XC",
                "CD",
                "MCMXCIV",
                "MMMCMXCIX",
                "4000",
                "0"
            ]
        );
        let a: Vec<String> = [1, 26, 27, 52, 53, 260, 261, -1].map(letters).to_vec();
        assert_eq!(a, ["A", "Z", "AA", "ZZ", "AAA", "ZZZZZZZZZZ", "261", "-1"]);
    }
}
