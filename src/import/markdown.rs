//! A Markdown deck in Marp's or Slidev's shape: a front matter (a `---`
//! block at the top) whose `title` is the story's title; `---` lines
//! between slides; each slide's first heading is its title, its
//! `<!-- ... -->` comments its speaker notes, the rest its body.

use super::{Deck, DeckSlide, MAX_SLIDES, title_from};

/// Reads the deck; `fallback_title` (the file's name) titles a deck whose
/// front matter and first slide give none.
pub(super) fn read(text: &str, fallback_title: &str) -> Result<Deck, String> {
    let text = text.replace("\r\n", "\n");
    let chunks = split_slides(&text);
    let mut chunks = chunks.into_iter().peekable();
    let mut title = None;
    // The front matter: a first chunk of `key: value` lines, before any text.
    let front = chunks
        .peek()
        .filter(|first| text.starts_with("---\n") && is_front_matter(first));
    if let Some(first) = front {
        title = front_matter_title(first);
        chunks.next();
    }
    let chunks: Vec<String> = chunks.collect();
    let mut slides = Vec::new();
    for (i, chunk) in chunks.iter().enumerate() {
        // Slidev writes a slide's own front matter between two `---` lines:
        // a chunk of only `key: value` lines before another slide.
        if i + 1 < chunks.len() && is_front_matter(chunk) {
            continue;
        }
        if chunk.trim().is_empty() {
            continue;
        }
        slides.push(slide(chunk, slides.len() + 1));
        if slides.len() > super::MAX_SLIDES {
            return Err(format!("more than {MAX_SLIDES} slides; cyoa imports at most that many"));
        }
    }
    if slides.is_empty() {
        return Err("no slides: the file has no text between its `---` lines".into());
    }
    let title = title
        .or_else(|| {
            slides
                .first()
                .map(|s: &DeckSlide| s.title.clone())
                .filter(|t| !t.starts_with("Slide "))
        })
        .unwrap_or_else(|| fallback_title.to_string());
    Ok(Deck { title, slides })
}

/// The text between `---` lines, outside fenced code blocks.
fn split_slides(text: &str) -> Vec<String> {
    let mut chunks = vec![String::new()];
    let mut fence: Option<&str> = None;
    for line in text.split('\n') {
        let trimmed = line.trim_start();
        match fence {
            Some(f) if trimmed.starts_with(f) => fence = None,
            Some(_) => {}
            None if trimmed.starts_with("```") => fence = Some("```"),
            None if trimmed.starts_with("~~~") => fence = Some("~~~"),
            None if line.trim_end() == "---" => {
                chunks.push(String::new());
                continue;
            }
            None => {}
        }
        if let Some(chunk) = chunks.last_mut() {
            chunk.push_str(line);
            chunk.push('\n');
        }
    }
    if text.starts_with("---\n") {
        chunks.remove(0);
    }
    chunks
}

/// Whether every non-blank line is a YAML `key: value` (or a list item or
/// an indented continuation under one).
fn is_front_matter(chunk: &str) -> bool {
    let mut lines = chunk.lines().filter(|l| !l.trim().is_empty()).peekable();
    lines.peek().is_some()
        && lines.all(|l| {
            l.starts_with([' ', '\t', '-'])
                || l.split_once(':').is_some_and(|(k, _)| {
                    !k.is_empty() && k.chars().all(|c| c.is_alphanumeric() || c == '_' || c == '-')
                })
        })
}

/// `title: ...` of a front matter, unquoted.
fn front_matter_title(chunk: &str) -> Option<String> {
    let value = chunk.lines().find_map(|l| l.strip_prefix("title:"))?.trim();
    let value = value
        .strip_prefix('"')
        .and_then(|v| v.strip_suffix('"'))
        .or_else(|| value.strip_prefix('\'').and_then(|v| v.strip_suffix('\'')))
        .unwrap_or(value)
        .trim();
    (!value.is_empty()).then(|| value.to_string())
}

/// One slide: its comments become notes (Marp's `<!-- key: value -->`
/// directives are dropped), its first heading the title.
fn slide(chunk: &str, n: usize) -> DeckSlide {
    let mut body = String::new();
    let mut notes = Vec::new();
    let mut rest = chunk;
    while let Some(start) = rest.find("<!--") {
        body.push_str(&rest[..start]);
        let after = &rest[start + 4..];
        let Some(end) = after.find("-->") else {
            rest = "";
            break;
        };
        let comment = after[..end].trim();
        if !comment.is_empty() && !is_directive(comment) {
            notes.push(comment.to_string());
        }
        rest = &after[end + 3..];
    }
    body.push_str(rest);
    let mut title = None;
    let mut lines: Vec<&str> = Vec::new();
    for line in body.lines() {
        let heading = if title.is_none() { atx_heading(line) } else { None };
        if let Some(heading) = heading {
            title = title_from(heading);
            continue;
        }
        lines.push(line);
    }
    let body = lines.join("\n").trim().to_string();
    DeckSlide {
        title: title.unwrap_or_else(|| format!("Slide {n}")),
        body,
        notes: notes.join("\n\n"),
        ..DeckSlide::default()
    }
}

/// Marp's directives in comments (`_class: lead`, `paginate: true`).
fn is_directive(comment: &str) -> bool {
    !comment.contains('\n')
        && comment
            .split_once(':')
            .is_some_and(|(k, _)| !k.is_empty() && k.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'))
}

/// The text of a `#`..`######` heading line.
fn atx_heading(line: &str) -> Option<&str> {
    let hashes = line.chars().take_while(|&c| c == '#').count();
    if !(1..=6).contains(&hashes) {
        return None;
    }
    let rest = &line[hashes..];
    (rest.is_empty() || rest.starts_with(' ')).then(|| rest.trim().trim_end_matches('#').trim())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_marp_deck_gives_titles_bodies_and_notes() {
        let deck = read(
            "---\nmarp: true\ntitle: \"Deploy or die\"\n---\n\n# Welcome\n\nHello **room**.\n<!-- say hi -->\n\n---\n\n<!-- _class: lead -->\n## Second\n\n```\n---\n```\n",
            "x",
        )
        .expect("a deck");
        assert_eq!(deck.title, "Deploy or die");
        assert_eq!(deck.slides.len(), 2);
        assert_eq!(deck.slides[0].title, "Welcome");
        assert_eq!(deck.slides[0].body, "Hello **room**.");
        assert_eq!(deck.slides[0].notes, "say hi");
        assert_eq!(deck.slides[1].title, "Second");
        assert_eq!(deck.slides[1].notes, "");
        assert_eq!(deck.slides[1].body, "```\n---\n```");
    }

    #[test]
    fn slidev_slide_front_matter_is_not_a_slide() {
        let deck = read("# One\n\n---\nlayout: center\n---\n\nNo heading here\n", "talk").expect("a deck");
        assert_eq!(deck.title, "One");
        assert_eq!(deck.slides.len(), 2);
        assert_eq!(deck.slides[1].title, "Slide 2");
    }

    #[test]
    fn an_empty_deck_is_an_error() {
        assert!(read("---\ntitle: x\n---\n", "t").is_err());
    }
}
