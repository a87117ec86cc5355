//! Whether a slide can fit the presenter view: `cyoa check` warns about a
//! slide whose text would be cut off even at the smallest size the view
//! shrinks it to.
//!
//! The presenter view (static/presenter.js) shrinks a slide's text that
//! does not fit, down to [`MIN_SCALE`] of its full size. This estimate
//! lays the slide out as static/cyoa.css does on a 1280x720 screen (the
//! most common projector) at that scale, where a line of body text is
//! 20.7 px high and the slide's column 638 px: 922 px wide on a plain
//! slide, 690 px beside a decision's join panel, 517 px on a join slide.
//! It is conservative: characters are taken as 0.55 em wide (Chromium's
//! default sans-serif averages 0.51 em) and every block's last line as
//! full, so a slide it passes fits, and one it warns about is at least
//! close to the edge. The browser has the last word (tests/browser/fit.rs
//! walks the bundled stories).

use pulldown_cmark::{Event, Options, Parser, Tag, TagEnd};

use super::{Slide, Then};

/// The smallest text scale the presenter view shrinks a slide to
/// (`FIT_MIN` in static/presenter.js).
pub const MIN_SCALE: f64 = 0.6;

/// The slide's text size at [`MIN_SCALE`] on a 1280x720 screen, in px
/// (`--p` is 20.48 px there, the slide's text 1.25 of it).
const EM: f64 = 20.48 * 1.25 * MIN_SCALE;
/// A line of body text (`line-height: 1.35`).
const LINE: f64 = EM * 1.35;
/// The margin between blocks of the body (paragraphs, lists, code).
const BLOCK_GAP: f64 = EM;
/// The gap between the title, the image, the body and the vote.
const ITEM_GAP: f64 = 20.48 * 0.9 * MIN_SCALE;
/// The height of the slide's column: 720 px less the view's padding.
const HEIGHT: f64 = 720.0 - 4.0 * 20.48;
/// A character's width, conservatively (see the module's notes).
const CHAR: f64 = 0.55 * EM;
/// A code block's character (0.8 em, monospace 0.6 em wide) and line.
const CODE_CHAR: f64 = 0.6 * 0.8 * EM;
const CODE_LINE: f64 = 0.8 * EM * 1.35;
/// A code block's padding: 0.6 em above and below, 0.8 em at the sides.
const CODE_PAD_Y: f64 = 2.0 * 0.6 * 0.8 * EM;
const CODE_PAD_X: f64 = 2.0 * 0.8 * 0.8 * EM;
/// A list's indent (the browser's 40 px).
const INDENT: f64 = 40.0;

/// What the estimate found wrong with a slide.
#[derive(Debug, Clone, PartialEq)]
pub enum Misfit {
    /// The body takes this many lines of text, and the rest of the slide
    /// (title, image, vote) leaves room for this many.
    TooTall { needed: f64, room: f64 },
    /// A code line this many characters long, where this many fit.
    CodeTooWide { chars: usize, fit: usize },
}

/// Why `slide` cannot fit the presenter view, if it cannot.
pub fn misfits(slide: &Slide) -> Vec<Misfit> {
    // Shown full-bleed and scaled to the screen, without its title.
    if slide.is_image_only() {
        return Vec::new();
    }
    let decision = match &slide.then {
        Then::Decision(d) => Some(d),
        _ => None,
    };
    let width = if slide.join {
        517.0
    } else if decision.is_some() {
        690.0
    } else {
        922.0
    };
    let mut height = 0.0;
    // The title: 2.1 em, bold, line-height 1.2.
    height += wrapped(slide.title.chars().count(), width, CHAR * 2.1 * 1.06) * EM * 2.1 * 1.2;
    let mut items = 1;
    if slide.image.is_some() {
        // At most 45% of the screen's height.
        height += 0.45 * 720.0;
        items += 1;
    }
    let (body, code_widths) = body_height(&slide.body, width);
    if body > 0.0 {
        height += body;
        items += 1;
    }
    if let Some(d) = decision {
        // The prompt (1.3 em), the rows of choices (each a label and a bar),
        // the status line, with their gaps.
        let prompt = wrapped(d.prompt.chars().count(), width, CHAR * 1.3) * EM * 1.3 * 1.35;
        // Six choices or more are in two columns.
        let n = match d.choices.len() {
            n if n >= 6 => n.div_ceil(2),
            n => n,
        } as f64;
        height += prompt + 2.0 * 0.8 * EM + n * 3.72 * EM + (n - 1.0) * 0.7 * EM + LINE;
        items += 1;
    } else if !slide.join {
        // The audience URL's line at the bottom.
        height += LINE;
        items += 1;
    }
    height += f64::from(items - 1) * ITEM_GAP;
    let mut found = Vec::new();
    if height > HEIGHT + 0.5 {
        found.push(Misfit::TooTall {
            needed: body / LINE,
            room: (HEIGHT - (height - body)).max(0.0) / LINE,
        });
    }
    let fit = ((width - CODE_PAD_X) / CODE_CHAR).floor() as usize;
    if let Some(&chars) = code_widths.iter().filter(|&&c| c > fit).max() {
        found.push(Misfit::CodeTooWide { chars, fit });
    }
    found
}

/// Lines a text of `chars` characters takes in `width` px at `char_width`.
fn wrapped(chars: usize, width: f64, char_width: f64) -> f64 {
    if chars == 0 {
        return 0.0;
    }
    let per_line = (width / char_width).floor().max(1.0);
    (chars as f64 / per_line).ceil()
}

/// The body's height in px at `width`, and the length of every code line.
fn body_height(markdown: &str, width: f64) -> (f64, Vec<usize>) {
    let mut height = 0.0;
    let mut blocks = 0usize;
    let mut code = Vec::new();
    // The text of the line group being read, and how it is drawn.
    let mut chars = 0usize;
    let mut lists = 0usize;
    let mut quotes = 0usize;
    let mut heading = false;
    let mut in_code = false;
    let mut code_lines = Vec::new();
    let mut cells = 0usize;
    let indent = |lists: usize, quotes: usize| width - INDENT * (lists + quotes) as f64;
    let flush = |chars: &mut usize, lists: usize, quotes: usize, heading: bool, height: &mut f64| {
        if *chars > 0 {
            let scale = if heading { 1.5 } else { 1.0 };
            *height += wrapped(*chars, indent(lists, quotes), CHAR * scale) * LINE * scale;
            *chars = 0;
        }
    };
    for event in Parser::new_ext(markdown, Options::ENABLE_TABLES | Options::ENABLE_STRIKETHROUGH) {
        match event {
            Event::Start(tag) => {
                let top = lists == 0 && quotes == 0 && cells == 0;
                match tag {
                    Tag::Paragraph
                    | Tag::Heading { .. }
                    | Tag::CodeBlock(_)
                    | Tag::List(_)
                    | Tag::Table(_)
                    | Tag::BlockQuote(_)
                        if top =>
                    {
                        if blocks > 0 {
                            height += BLOCK_GAP;
                        }
                        blocks += 1;
                    }
                    _ => {}
                }
                match tag {
                    Tag::Heading { .. } => heading = true,
                    Tag::CodeBlock(_) => {
                        in_code = true;
                        code_lines.clear();
                        code_lines.push(0usize);
                    }
                    Tag::List(_) => {
                        flush(&mut chars, lists, quotes, heading, &mut height);
                        lists += 1;
                    }
                    Tag::BlockQuote(_) => quotes += 1,
                    Tag::Item => flush(&mut chars, lists, quotes, heading, &mut height),
                    Tag::TableRow | Tag::TableHead => cells = 1,
                    _ => {}
                }
            }
            Event::End(end) => match end {
                TagEnd::Paragraph | TagEnd::Item => flush(&mut chars, lists, quotes, heading, &mut height),
                TagEnd::Heading(_) => {
                    flush(&mut chars, lists, quotes, heading, &mut height);
                    heading = false;
                }
                TagEnd::List(_) => lists = lists.saturating_sub(1),
                TagEnd::BlockQuote(_) => quotes = quotes.saturating_sub(1),
                TagEnd::CodeBlock => {
                    in_code = false;
                    if code_lines.last() == Some(&0) && code_lines.len() > 1 {
                        code_lines.pop();
                    }
                    height += code_lines.len() as f64 * CODE_LINE + CODE_PAD_Y;
                    code.append(&mut code_lines);
                }
                TagEnd::TableRow | TagEnd::TableHead => {
                    // A row: one line, wrapped as a whole, and its padding.
                    height += wrapped(chars, width, CHAR) * LINE + 0.4 * EM;
                    chars = 0;
                    cells = 0;
                }
                _ => {}
            },
            Event::Text(text) | Event::Code(text) if in_code => {
                for (i, line) in text.split('\n').enumerate() {
                    if i > 0 {
                        code_lines.push(0);
                    }
                    if let Some(last) = code_lines.last_mut() {
                        *last += line.chars().count();
                    }
                }
            }
            Event::Text(text) | Event::Code(text) | Event::Html(text) | Event::InlineHtml(text) => {
                chars += text.chars().count();
            }
            Event::SoftBreak => chars += 1,
            Event::HardBreak => {
                // A new line: what came before takes whole lines.
                flush(&mut chars, lists, quotes, heading, &mut height);
            }
            Event::Rule => {
                if blocks > 0 {
                    height += BLOCK_GAP;
                }
                blocks += 1;
                height += LINE;
            }
            _ => {}
        }
    }
    flush(&mut chars, lists, quotes, heading, &mut height);
    (height, code)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::story::Story;

    fn slide(toml: &str) -> Slide {
        let text = format!("title = \"T\"\nstart = \"s\"\n{toml}");
        match Story::parse("t.toml", &text) {
            Ok(loaded) => loaded.story.slides[0].clone(),
            Err(problems) => panic!("{problems:?}"),
        }
    }

    #[test]
    fn a_short_slide_fits_and_a_long_one_does_not() {
        let short = slide("[slides.s]\ntitle = \"Hello\"\nbody = \"One line.\"\n");
        assert_eq!(misfits(&short), []);
        let body = (0..40).map(|i| format!("- point {i}\n")).collect::<String>();
        let long = slide(&format!("[slides.s]\ntitle = \"Hello\"\nbody = '''\n{body}'''\n"));
        match misfits(&long).as_slice() {
            [Misfit::TooTall { needed, room }] => {
                assert!(
                    (needed - 40.0).abs() < 0.01 && (room - 26.8).abs() < 0.1,
                    "{needed} > {room}"
                )
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn the_room_for_body_text_is_what_the_docs_say() {
        // docs/story-format.md: about 26 lines on a plain slide.
        let lines = |n: usize| {
            let body = (0..n).map(|i| format!("line {i}  \n")).collect::<String>();
            slide(&format!("[slides.s]\ntitle = \"Hello\"\nbody = '''\n{body}'''\n"))
        };
        assert_eq!(misfits(&lines(26)), []);
        assert_ne!(misfits(&lines(27)), []);
    }

    #[test]
    fn a_wide_code_line_is_cut_at_the_side() {
        let wide = "x".repeat(140);
        let s = slide(&format!(
            "[slides.s]\ntitle = \"Code\"\nbody = '''\n```\n{wide}\n```\n'''\n"
        ));
        assert_eq!(misfits(&s), [Misfit::CodeTooWide { chars: 140, fit: 122 }]);
    }

    #[test]
    fn an_image_only_slide_always_fits() {
        // Its title (the page's name for a screen reader) is not shown; a
        // title this long would not fit on any other slide.
        let title = "word ".repeat(400);
        let image = slide(&format!(
            "[slides.s]\ntitle = \"{title}\"\nimage = \"/static/rocket.svg\"\n"
        ));
        assert_eq!(misfits(&image), []);
        let with_body = slide(&format!(
            "[slides.s]\ntitle = \"{title}\"\nimage = \"/static/rocket.svg\"\nbody = \"x\"\n"
        ));
        assert_ne!(misfits(&with_body), []);
    }
}
