//! A slide body's Markdown, rendered to HTML that stays inside its slide.
//!
//! The author is trusted, but a stray `<div>` or `<script>` in a body would
//! break or take over the page, so raw HTML in the Markdown is shown as
//! text, and links or images with a scheme other than http, https or mailto
//! (`javascript:`) lead nowhere. A link to another site (`https:`, `http:`
//! or protocol-relative `//host/`) opens in a new tab, so that a click on
//! the projector or a phone never leaves the live page, and gets
//! `rel="noopener noreferrer"`, so the site opened cannot reach back.

use pulldown_cmark::{CowStr, Event, Options, Parser, Tag};

/// What a URL written in a story points at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UrlKind {
    /// No scheme, no host: a path on cyoa's own site (`/static/a.png`,
    /// `a.png`, `#top`).
    Path,
    /// `http:` or `https:`.
    Web,
    /// `//host/...`: another site, in the page's own scheme (browsers read
    /// a backslash as a slash here, so `/\host` and `\\host` too).
    ProtocolRelative,
    /// `mailto:`.
    Mail,
    /// Any other scheme: `javascript:`, `data:`, `file:`...
    Other,
}

/// What `url` points at, read as a browser reads it: blanks and control
/// characters around it and tabs and newlines inside it do not count.
pub fn url_kind(url: &str) -> UrlKind {
    let url: String = url
        .trim_matches(|c: char| c <= ' ')
        .chars()
        .filter(|c| !matches!(c, '\t' | '\n' | '\r'))
        .collect();
    let slash = |c: Option<char>| matches!(c, Some('/' | '\\'));
    let mut chars = url.chars();
    if slash(chars.next()) && slash(chars.next()) {
        return UrlKind::ProtocolRelative;
    }
    // A scheme is what comes before the first `:`, if no `/`, `?` or `#` does.
    match url.find([':', '/', '\\', '?', '#']) {
        Some(i) if url[i..].starts_with(':') => match url[..i].to_ascii_lowercase().as_str() {
            "http" | "https" => UrlKind::Web,
            "mailto" => UrlKind::Mail,
            _ => UrlKind::Other,
        },
        _ => UrlKind::Path,
    }
}

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
        }) => match url_kind(&dest_url) {
            UrlKind::Web | UrlKind::ProtocolRelative => Event::InlineHtml(external_link(&dest_url, &title).into()),
            kind => Event::Start(Tag::Link {
                link_type,
                dest_url: safe_url(kind, dest_url),
                title,
                id,
            }),
        },
        Event::Start(Tag::Image {
            link_type,
            dest_url,
            title,
            id,
        }) => Event::Start(Tag::Image {
            link_type,
            dest_url: safe_url(url_kind(&dest_url), dest_url),
            title,
            id,
        }),
        other => other,
    });
    let mut html = String::with_capacity(markdown.len() * 3 / 2);
    pulldown_cmark::html::push_html(&mut html, events);
    html
}

/// The opening tag of a link to another site: a new tab, no way back to
/// the page, escaped as pulldown-cmark escapes its own links (the writer
/// closes it with the link's `</a>`).
fn external_link(url: &str, title: &str) -> String {
    let mut tag = String::from("<a href=\"");
    // Writing to a String cannot fail.
    let _ = pulldown_cmark_escape::escape_href(&mut tag, url);
    if !title.is_empty() {
        tag.push_str("\" title=\"");
        let _ = pulldown_cmark_escape::escape_html(&mut tag, title);
    }
    tag.push_str("\" rel=\"noopener noreferrer\" target=\"_blank\">");
    tag
}

/// The URL itself when it may be followed; `#` for any other scheme.
fn safe_url(kind: UrlKind, url: CowStr<'_>) -> CowStr<'_> {
    match kind {
        UrlKind::Other => CowStr::Borrowed("#"),
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
    fn links_to_other_sites_open_a_new_tab_protocol_relative_ones_too() {
        let html = render(
            "[a](https://example.com/x?a=1&b=2 \"T \\\"q\\\"\") [b](//evil.example/x) [c](/slides) [d](mailto:a@b.c) [e](/\\evil.example) [f](#top)",
        );
        let external = r#"rel="noopener noreferrer" target="_blank""#;
        assert!(
            html.contains(&format!(
                r#"<a href="https://example.com/x?a=1&amp;b=2" title="T &quot;q&quot;" {external}>a</a>"#
            )),
            "{html}"
        );
        assert!(
            html.contains(&format!(r#"<a href="//evil.example/x" {external}>b</a>"#)),
            "{html}"
        );
        assert!(html.contains(r#"<a href="/slides">c</a>"#), "{html}");
        assert!(html.contains(r#"<a href="mailto:a@b.c">d</a>"#), "{html}");
        assert!(html.contains(&format!(r#"{external}>e</a>"#)), "{html}");
        assert!(html.contains(r##"<a href="#top">f</a>"##), "{html}");
        assert_eq!(html.matches(external).count(), 3, "{html}");
    }

    #[test]
    fn urls_are_read_as_a_browser_reads_them() {
        use UrlKind::*;
        for (url, kind) in [
            ("https://a.example/", Web),
            ("HTTP://a.example/", Web),
            ("//a.example/x", ProtocolRelative),
            ("/\\a.example", ProtocolRelative),
            ("\\\\a.example", ProtocolRelative),
            ("/\t/a.example", ProtocolRelative),
            (" //a.example", ProtocolRelative),
            ("/static/a.png", Path),
            ("images/a.png", Path),
            ("a.png?x=1:2", Path),
            ("#top", Path),
            ("", Path),
            ("mailto:a@b.c", Mail),
            ("javascript:alert(1)", Other),
            ("java\nscript:alert(1)", Other),
            (" JavaScript:alert(1)", Other),
            ("data:image/png;base64,AAAA", Other),
            ("file:///etc/passwd", Other),
            ("C:\\talk\\a.png", Other),
        ] {
            assert_eq!(url_kind(url), kind, "{url:?}");
        }
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
