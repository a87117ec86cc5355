//! A folder of slide images, the "export as PNG/JPEG" of a slide tool: one
//! slide per image, in natural order (`2.png` before `10.png`).

use std::cmp::Ordering;
use std::path::Path;

use super::{Deck, DeckSlide, ImportError, MAX_SLIDES, SlideImage};
use crate::story::MAX_SLIDE_IMAGE_BYTES;

/// The image types a folder may hold, by their first bytes.
fn image_type(bytes: &[u8]) -> Option<&'static str> {
    if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
        Some("png")
    } else if bytes.starts_with(b"\xff\xd8\xff") {
        Some("jpg")
    } else if bytes.len() >= 12 && &bytes[..4] == b"RIFF" && &bytes[8..12] == b"WEBP" {
        Some("webp")
    } else {
        None
    }
}

/// Reads every `.png`, `.jpg`, `.jpeg` and `.webp` file of `folder` (other
/// files and hidden ones are left alone), one slide each.
pub(super) fn read_folder(folder: &Path) -> Result<Deck, ImportError> {
    let entries =
        std::fs::read_dir(folder).map_err(|e| ImportError::new(format!("cannot read {}: {e}", folder.display())))?;
    let mut names = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|e| ImportError::new(format!("cannot read {}: {e}", folder.display())))?;
        let name = entry.file_name().to_string_lossy().into_owned();
        let extension = name.rsplit_once('.').map(|(_, e)| e.to_ascii_lowercase());
        if name.starts_with('.') || !matches!(extension.as_deref(), Some("png" | "jpg" | "jpeg" | "webp")) {
            continue;
        }
        names.push(name);
        if names.len() > MAX_SLIDES {
            return Err(ImportError::new(format!(
                "{} has more than {MAX_SLIDES} images; cyoa imports at most that many slides",
                folder.display()
            )));
        }
    }
    if names.is_empty() {
        return Err(ImportError::new(format!(
            "{} has no slide images (.png, .jpg, .jpeg or .webp files)",
            folder.display()
        )));
    }
    names.sort_by(|a, b| natural_order(a, b));
    let mut slides = Vec::with_capacity(names.len());
    for (i, name) in names.iter().enumerate() {
        let path = folder.join(name);
        let bytes = read_image(&path)?;
        let Some(extension) = image_type(&bytes) else {
            return Err(ImportError::new(format!(
                "{} is not a PNG, JPEG or WebP image (its first bytes say otherwise); remove it or export it again",
                path.display()
            )));
        };
        slides.push(DeckSlide {
            title: title_of(name, i + 1),
            image: Some(SlideImage { bytes, extension }),
            ..DeckSlide::default()
        });
    }
    let title = folder
        .canonicalize()
        .ok()
        .and_then(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
        .unwrap_or_else(|| "Imported talk".to_string());
    Ok(Deck { title, slides })
}

fn read_image(path: &Path) -> Result<Vec<u8>, ImportError> {
    use std::io::Read;
    let file =
        std::fs::File::open(path).map_err(|e| ImportError::new(format!("cannot read {}: {e}", path.display())))?;
    let mut bytes = Vec::new();
    file.take(MAX_SLIDE_IMAGE_BYTES as u64 + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| ImportError::new(format!("cannot read {}: {e}", path.display())))?;
    if bytes.len() > MAX_SLIDE_IMAGE_BYTES {
        return Err(ImportError::new(format!(
            "{} is larger than {} MiB; export the slides smaller",
            path.display(),
            MAX_SLIDE_IMAGE_BYTES / 1024 / 1024
        )));
    }
    Ok(bytes)
}

/// A title from a file name: `03-why-rust.png` gives "why rust"; a name of
/// only digits (or a tool's `Slide3`) gives "Slide N".
fn title_of(name: &str, n: usize) -> String {
    let stem = name.rsplit_once('.').map_or(name, |(s, _)| s);
    let words: String = stem
        .chars()
        .map(|c| if c == '-' || c == '_' { ' ' } else { c })
        .collect::<String>()
        .trim_start_matches(|c: char| c.is_ascii_digit() || c == ' ' || c == '.')
        .trim()
        .to_string();
    let generic = words.is_empty()
        || words
            .to_ascii_lowercase()
            .trim_start_matches("slide")
            .trim_start_matches("page")
            .trim()
            .chars()
            .all(|c| c.is_ascii_digit() || c == ' ');
    if generic { format!("Slide {n}") } else { words }
}

/// Natural order: runs of digits compare as numbers, the rest by text
/// (case-insensitive), so `slide2` comes before `slide10`.
pub(super) fn natural_order(a: &str, b: &str) -> Ordering {
    let (mut a, mut b) = (a.as_bytes(), b.as_bytes());
    loop {
        match (a.first(), b.first()) {
            (None, None) => return Ordering::Equal,
            (None, Some(_)) => return Ordering::Less,
            (Some(_), None) => return Ordering::Greater,
            (Some(x), Some(y)) if x.is_ascii_digit() && y.is_ascii_digit() => {
                let da = a.iter().take_while(|c| c.is_ascii_digit()).count();
                let db = b.iter().take_while(|c| c.is_ascii_digit()).count();
                let (na, nb) = (trim_zeros(&a[..da]), trim_zeros(&b[..db]));
                let by_number = na.len().cmp(&nb.len()).then_with(|| na.cmp(nb));
                if by_number != Ordering::Equal {
                    return by_number;
                }
                (a, b) = (&a[da..], &b[db..]);
            }
            (Some(x), Some(y)) => {
                let by_text = x.to_ascii_lowercase().cmp(&y.to_ascii_lowercase());
                if by_text != Ordering::Equal {
                    return by_text;
                }
                (a, b) = (&a[1..], &b[1..]);
            }
        }
    }
}

fn trim_zeros(digits: &[u8]) -> &[u8] {
    let zeros = digits.iter().take_while(|&&c| c == b'0').count();
    &digits[zeros..]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_sort_naturally() {
        let mut names = vec!["Slide10.png", "Slide2.png", "slide1.png", "Slide02b.png", "a.png"];
        names.sort_by(|a, b| natural_order(a, b));
        assert_eq!(
            names,
            ["a.png", "slide1.png", "Slide2.png", "Slide02b.png", "Slide10.png"]
        );
    }

    #[test]
    fn titles_come_from_names_that_say_something() {
        assert_eq!(title_of("03-why-rust.png", 3), "why rust");
        assert_eq!(title_of("Slide7.PNG", 7), "Slide 7");
        assert_eq!(title_of("12.png", 12), "Slide 12");
        assert_eq!(title_of("page-3.jpg", 3), "Slide 3");
    }
}
