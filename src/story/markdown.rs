//! A slide body's Markdown, rendered to HTML that stays inside its slide.
//!
//! The author is trusted, but a stray `<div>` or `<script>` in a body would
//! break or take over the page, so raw HTML in the Markdown is shown as
//! text, and links or images with a scheme other than http, https or mailto
//! (`javascript:`) lead nowhere.

use pulldown_cmark::{CowStr, Event, Options, Parser, Tag};

/// The HTML of a slide body written in Markdown (CommonMark with tables and
/// strikethrough).
pub fn render(markdown: &str) -> String {
    let options = Options::ENABLE_TABLES | Options::ENABLE_STRIKETHROUGH;
    let events = Parser::new_ext(markdown, options).map(|event| match event {
        // Text events are escaped by the HTML writer; that is the point.
        Event::Html(html) | Event::InlineHtml(html) => Event::Text(html),
        Event::Start(Tag::Link {
            link_type,
            dest_url,
            title,
            id,
        }) => Event::Start(Tag::Link {
            link_type,
            dest_url: safe_url(dest_url),
            title,
            id,
        }),
        Event::Start(Tag::Image {
            link_type,
            dest_url,
            title,
            id,
        }) => Event::Start(Tag::Image {
            link_type,
            dest_url: safe_url(dest_url),
            title,
            id,
        }),
        other => other,
    });
    let mut html = String::with_capacity(markdown.len() * 3 / 2);
    pulldown_cmark::html::push_html(&mut html, events);
    html
}

/// The URL itself when relative or http(s)/mailto; `#` otherwise.
fn safe_url(url: CowStr<'_>) -> CowStr<'_> {
    // A scheme is what comes before the first `:`, if no `/`, `?` or `#` does.
    let scheme_end = url.find([':', '/', '?', '#']);
    match scheme_end {
        Some(i) if url[i..].starts_with(':') => {
            let scheme = url[..i].trim().to_ascii_lowercase();
            if ["http", "https", "mailto"].contains(&scheme.as_str()) {
                url
            } else {
                CowStr::Borrowed("#")
            }
        }
        _ => url,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_markdown_with_tables_and_strikethrough() {
        let html = render("# Hi\n\n~~old~~ **new**\n\n| a | b |\n|---|---|\n| 1 | 2 |\n");
        assert!(html.contains("<h1>Hi</h1>"), "{html}");
        assert!(html.contains("<del>old</del> <strong>new</strong>"), "{html}");
        assert!(html.contains("<table>"), "{html}");
    }

    #[test]
    fn raw_html_is_shown_as_text() {
        let html = render("<script>alert(1)</script>\n\nhi <b onclick=x>there</b>");
        assert!(!html.contains("<script"), "{html}");
        assert!(!html.contains("<b "), "{html}");
        assert!(html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"), "{html}");
    }

    #[test]
    fn script_links_lead_nowhere() {
        let html = render("[a](javascript:alert(1)) [b](https://example.com/x) [c](/slides) ![i](data:x)");
        assert!(!html.contains("javascript"), "{html}");
        assert!(!html.contains("data:"), "{html}");
        assert!(html.contains(r#"href="https://example.com/x""#), "{html}");
        assert!(html.contains(r#"href="/slides""#), "{html}");
    }
}
