//! A PDF deck: each page rendered in-process by hayro (pure Rust, no
//! external program) to a PNG that fits 1920×1080, and its text read from
//! the same interpretation, for the title and the image's alt text.
//!
//! A page that an outline entry (a bookmark) points at is titled by that
//! entry, the author's own words; any other by its text, else "Slide N".
//! Page labels are not read.

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
        slides.push(DeckSlide {
            title: title.unwrap_or_else(|| format!("Slide {}", i + 1)),
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
