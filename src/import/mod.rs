//! `cyoa import`: a presenter's own deck (a PDF, a folder of slide images,
//! or a Markdown deck in Marp's or Slidev's shape) written as a linear
//! story, one slide per page, that `cyoa check` passes. Images go in a
//! folder next to the story (`<stem>-slides/`), which the story names by
//! relative paths, so cyoa serves them from memory at `/story-assets/`.
//!
//! Everything is read and rendered in memory first and checked as a story;
//! only then is anything written, so bad input writes nothing.

mod images;
mod markdown;
#[cfg(feature = "import")]
mod pdf;

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use crate::story::{MAX_SLIDE_IMAGE_BYTES, Story};

/// Largest input file (a PDF or a Markdown deck), in bytes (100 MiB).
pub const MAX_INPUT_BYTES: u64 = 100 * 1024 * 1024;
/// Most slides (pages, images) a deck may have.
pub const MAX_SLIDES: usize = 500;
/// Longest a slide's title may be, in characters; longer text is cut.
const MAX_TITLE_CHARS: usize = 120;

/// Why an import failed: one sentence for the presenter.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct ImportError(pub String);

impl ImportError {
    fn new(message: impl Into<String>) -> Self {
        ImportError(message.into())
    }
}

/// An image of a slide: its bytes and its file extension.
#[derive(Debug, Clone)]
pub struct SlideImage {
    /// The encoded image.
    pub bytes: Vec<u8>,
    /// `png`, `jpg` or `webp`.
    pub extension: &'static str,
}

/// One slide read from a deck.
#[derive(Debug, Clone, Default)]
pub struct DeckSlide {
    /// The heading.
    pub title: String,
    /// The body, in Markdown.
    pub body: String,
    /// Speaker notes, in Markdown.
    pub notes: String,
    /// The slide's picture, for a PDF page or an image file.
    pub image: Option<SlideImage>,
    /// The picture's text alternative (the page's text).
    pub alt: String,
}

/// A deck read from any of the inputs.
#[derive(Debug, Clone, Default)]
pub struct Deck {
    /// The talk's title.
    pub title: String,
    /// The slides, in order.
    pub slides: Vec<DeckSlide>,
}

/// What an import wrote, for the summary line.
#[derive(Debug)]
pub struct Imported {
    /// The number of slides.
    pub slides: usize,
    /// The folder of slide images, if any were written.
    pub images: Option<PathBuf>,
    /// Their total size, in bytes.
    pub image_bytes: usize,
}

/// Reads `input` (a PDF, a folder of images, or a `.md` deck) and writes
/// the story to `output`, its images to `<stem>-slides/` next to it.
/// Without `force`, an existing story or image folder is refused.
pub fn import(input: &Path, output: &Path, force: bool) -> Result<Imported, ImportError> {
    let deck = read_deck(input)?;
    write_deck(&deck, output, force)
}

/// Longest a deck may take to read and render, in seconds: a PDF made to
/// be slow to draw is stopped, and nothing is written.
pub const MAX_READ_SECONDS: u64 = 300;

/// `cyoa import`: imports, then says what was written and what to do next.
pub fn main(input: &Path, output: &Path, force: bool) -> std::process::ExitCode {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};
    // The watchdog: past the deadline while still reading, the process
    // ends; nothing has been written by then (writing starts after).
    let read = Arc::new(AtomicBool::new(false));
    {
        let read = read.clone();
        let input = input.display().to_string();
        std::thread::spawn(move || {
            std::thread::sleep(std::time::Duration::from_secs(MAX_READ_SECONDS));
            if !read.load(Ordering::SeqCst) {
                eprintln!("cyoa: import: {input} took longer than {MAX_READ_SECONDS} s to read; nothing was written");
                std::process::exit(1);
            }
        });
    }
    let deck = read_deck(input);
    read.store(true, Ordering::SeqCst);
    match deck.and_then(|deck| write_deck(&deck, output, force)) {
        Ok(done) => {
            match &done.images {
                Some(dir) => println!(
                    "{}: written; {} slides, their images in {} ({} KiB)",
                    output.display(),
                    done.slides,
                    dir.display(),
                    done.image_bytes / 1024
                ),
                None => println!("{}: written; {} slides", output.display(), done.slides),
            }
            println!("check it:   cyoa check {}", output.display());
            println!("present it: cyoa serve --story {} --watch", output.display());
            std::process::ExitCode::SUCCESS
        }
        Err(why) => {
            eprintln!("cyoa: import: {why}; nothing was written");
            std::process::ExitCode::FAILURE
        }
    }
}

/// Reads a PDF from its bytes (the fuzz target's way in).
pub fn read_pdf_bytes(bytes: Vec<u8>) -> Result<Deck, ImportError> {
    read_pdf(Path::new("deck.pdf"), bytes, "deck")
}

/// Reads a Markdown deck from its text (the fuzz target's way in).
pub fn read_markdown(text: &str) -> Result<Deck, ImportError> {
    markdown::read(text, "deck").map_err(ImportError::new)
}

/// Reads a deck of any kind, by what `input` is.
pub fn read_deck(input: &Path) -> Result<Deck, ImportError> {
    let meta =
        std::fs::metadata(input).map_err(|e| ImportError::new(format!("cannot read {}: {e}", input.display())))?;
    if meta.is_dir() {
        return images::read_folder(input);
    }
    if meta.len() > MAX_INPUT_BYTES {
        return Err(ImportError::new(format!(
            "{} is larger than {} MiB; cyoa imports decks up to that size",
            input.display(),
            MAX_INPUT_BYTES / 1024 / 1024
        )));
    }
    let bytes = std::fs::read(input).map_err(|e| ImportError::new(format!("cannot read {}: {e}", input.display())))?;
    let extension = input
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase)
        .unwrap_or_default();
    let fallback_title = input
        .file_stem()
        .and_then(|s| s.to_str())
        .unwrap_or("Imported talk")
        .to_string();
    if bytes.starts_with(b"%PDF-") || extension == "pdf" {
        return read_pdf(input, bytes, &fallback_title);
    }
    if extension == "md" || extension == "markdown" {
        let text =
            String::from_utf8(bytes).map_err(|_| ImportError::new(format!("{} is not UTF-8 text", input.display())))?;
        return markdown::read(&text, &fallback_title)
            .map_err(|why| ImportError::new(format!("{}: {why}", input.display())));
    }
    Err(ImportError::new(format!(
        "{} is neither a PDF (it does not start with `%PDF-`), a Markdown deck (`.md`) nor a folder of slide images",
        input.display()
    )))
}

#[cfg(feature = "import")]
fn read_pdf(input: &Path, bytes: Vec<u8>, fallback_title: &str) -> Result<Deck, ImportError> {
    // A PDF is input from anywhere: should the renderer panic on one, that
    // is a refused PDF, not a crash.
    let read = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| pdf::read(bytes, fallback_title)));
    match read {
        Ok(deck) => deck.map_err(|why| ImportError::new(format!("{}: {why}", input.display()))),
        Err(_) => Err(ImportError::new(format!(
            "{}: the PDF could not be drawn (the renderer gave up on it); export it again",
            input.display()
        ))),
    }
}

#[cfg(not(feature = "import"))]
fn read_pdf(input: &Path, _bytes: Vec<u8>, _fallback_title: &str) -> Result<Deck, ImportError> {
    Err(ImportError::new(format!(
        "{}: this cyoa was built without PDF import (the `import` feature); import a folder of images or a Markdown deck, or build with `--features import`",
        input.display()
    )))
}

/// The folder of slide images next to `output`: `talk.toml` gives
/// `talk-slides`.
fn images_folder_name(output: &Path) -> Result<String, ImportError> {
    let stem = output
        .file_stem()
        .and_then(|s| s.to_str())
        .ok_or_else(|| ImportError::new(format!("{} has no file name", output.display())))?;
    let cleaned: String = stem
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '-'
            }
        })
        .collect();
    let cleaned = cleaned.trim_start_matches(['-', '_', '.']).to_string();
    Ok(format!("{}-slides", if cleaned.is_empty() { "talk" } else { &cleaned }))
}

/// The story's TOML for `deck`, its images named `folder/NN.ext`.
pub fn story_text(deck: &Deck, folder: &str) -> String {
    let ids = slide_ids(deck);
    let digits = deck.slides.len().to_string().len().max(2);
    let mut out = String::new();
    let _ = writeln!(out, "# Imported by `cyoa import`: one slide per page, in order.");
    let _ = writeln!(
        out,
        "# Make it branch: give a slide a [slides.ID.decision] whose choices `goto` later slides"
    );
    let _ = writeln!(out, "# (and remove its `next`), then run `cyoa check` on this file.");
    let _ = writeln!(out, "title = {}", toml_string(&deck.title));
    let _ = writeln!(out, "start = {}", toml_string(&ids[0]));
    for (i, slide) in deck.slides.iter().enumerate() {
        let _ = writeln!(out, "\n[slides.{}]", ids[i]);
        let _ = writeln!(out, "title = {}", toml_string(&slide.title));
        if let Some(image) = &slide.image {
            let name = format!("{folder}/{:0digits$}.{}", i + 1, image.extension);
            let _ = writeln!(out, "image = {}", toml_string(&name));
            if !slide.alt.is_empty() {
                let _ = writeln!(out, "alt = {}", toml_string(&slide.alt));
            }
        }
        if !slide.body.trim().is_empty() {
            let _ = writeln!(out, "body = {}", toml_string(&slide.body));
        }
        if !slide.notes.trim().is_empty() {
            let _ = writeln!(out, "notes = {}", toml_string(&slide.notes));
        }
        if let Some(next) = ids.get(i + 1) {
            let _ = writeln!(out, "next = {}", toml_string(next));
        }
    }
    out
}

/// A TOML string: basic, escaped by toml itself.
fn toml_string(s: &str) -> String {
    toml::Value::String(s.to_string()).to_string()
}

/// Slide ids from the titles (`why-rust`), unique, `slide-N` when a title
/// has no letters or digits; an author points `goto` at them.
fn slide_ids(deck: &Deck) -> Vec<String> {
    let mut used = std::collections::HashSet::new();
    deck.slides
        .iter()
        .enumerate()
        .map(|(i, slide)| {
            let mut slug = String::new();
            for c in slide.title.chars().flat_map(char::to_lowercase) {
                if c.is_ascii_alphanumeric() {
                    slug.push(c);
                } else if !slug.is_empty() && !slug.ends_with('-') {
                    slug.push('-');
                }
                if slug.len() >= 40 {
                    break;
                }
            }
            let slug = slug.trim_end_matches('-').to_string();
            let base = if slug.is_empty() || slug.starts_with("slide-") {
                format!("slide-{}", i + 1)
            } else {
                slug
            };
            let mut id = base.clone();
            let mut n = 2;
            while !used.insert(id.clone()) {
                id = format!("{base}-{n}");
                n += 1;
            }
            id
        })
        .collect()
}

/// A title from `text`: its first non-blank line, cut at a word near
/// [`MAX_TITLE_CHARS`]; `None` when there is none.
pub(crate) fn title_from(text: &str) -> Option<String> {
    let line = text.lines().map(str::trim).find(|l| !l.is_empty())?;
    let line: String = line.split_whitespace().collect::<Vec<_>>().join(" ");
    if line.chars().count() <= MAX_TITLE_CHARS {
        return Some(line);
    }
    let cut: String = line.chars().take(MAX_TITLE_CHARS).collect();
    let cut = cut.rsplit_once(' ').map_or(cut.as_str(), |(a, _)| a).to_string();
    Some(format!("{cut}…"))
}

/// Writes the story and its images; nothing is written when the story
/// would not check or something is in the way.
fn write_deck(deck: &Deck, output: &Path, force: bool) -> Result<Imported, ImportError> {
    if deck.slides.is_empty() {
        return Err(ImportError::new("the deck has no slides"));
    }
    let folder_name = images_folder_name(output)?;
    let text = story_text(deck, &folder_name);
    // The story as it will be read, minus its files: it must check clean.
    if let Err(problems) = Story::parse(&output.display().to_string(), &text) {
        let lines: Vec<String> = problems.iter().map(ToString::to_string).collect();
        return Err(ImportError::new(format!(
            "the imported story does not check (a bug in cyoa import):\n{}",
            lines.join("\n")
        )));
    }
    let story_folder = match output.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let images_dir = story_folder.join(&folder_name);
    let has_images = deck.slides.iter().any(|s| s.image.is_some());
    for slide in &deck.slides {
        if slide
            .image
            .as_ref()
            .is_some_and(|i| i.bytes.len() > MAX_SLIDE_IMAGE_BYTES)
        {
            return Err(ImportError::new(format!(
                "slide \"{}\" has an image larger than {} MiB, which cyoa does not serve; make it smaller",
                slide.title,
                MAX_SLIDE_IMAGE_BYTES / 1024 / 1024
            )));
        }
    }
    if !force {
        if output.exists() {
            return Err(ImportError::new(format!(
                "{} already exists; give another name, or `--force` to replace it",
                output.display()
            )));
        }
        if has_images && images_dir.exists() {
            return Err(ImportError::new(format!(
                "{} already exists; give another story name, or `--force` to replace it",
                images_dir.display()
            )));
        }
    }
    let mut image_bytes = 0;
    if has_images {
        // Written beside, then moved into place: a failure leaves no half folder.
        let staging = story_folder.join(format!(".{folder_name}.partial"));
        let _ = std::fs::remove_dir_all(&staging);
        let written = (|| -> std::io::Result<()> {
            std::fs::create_dir_all(&staging)?;
            let digits = deck.slides.len().to_string().len().max(2);
            for (i, slide) in deck.slides.iter().enumerate() {
                if let Some(image) = &slide.image {
                    std::fs::write(
                        staging.join(format!("{:0digits$}.{}", i + 1, image.extension)),
                        &image.bytes,
                    )?;
                    image_bytes += image.bytes.len();
                }
            }
            if images_dir.exists() {
                std::fs::remove_dir_all(&images_dir)?;
            }
            std::fs::rename(&staging, &images_dir)
        })();
        if let Err(e) = written {
            let _ = std::fs::remove_dir_all(&staging);
            return Err(ImportError::new(format!("cannot write {}: {e}", images_dir.display())));
        }
    }
    if let Err(e) = std::fs::write(output, &text) {
        if has_images {
            let _ = std::fs::remove_dir_all(&images_dir);
        }
        return Err(ImportError::new(format!("cannot write {}: {e}", output.display())));
    }
    Ok(Imported {
        slides: deck.slides.len(),
        images: has_images.then_some(images_dir),
        image_bytes,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_come_from_titles_and_stay_unique() {
        let deck = Deck {
            title: "T".into(),
            slides: ["Why Rust?", "Why Rust?", "Slide 3", "!!"]
                .iter()
                .map(|t| DeckSlide {
                    title: t.to_string(),
                    ..DeckSlide::default()
                })
                .collect(),
        };
        assert_eq!(slide_ids(&deck), ["why-rust", "why-rust-2", "slide-3", "slide-4"]);
    }

    #[test]
    fn titles_are_the_first_line_cut_at_a_word() {
        assert_eq!(title_from("\n  Hello   world \nmore"), Some("Hello world".into()));
        assert_eq!(title_from("  \n "), None);
        let long = "word ".repeat(60);
        let t = title_from(&long).expect("a title");
        assert!(t.chars().count() <= MAX_TITLE_CHARS + 1 && t.ends_with('…'), "{t}");
    }
}
