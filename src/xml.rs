//! Text made safe inside XML: the story map's SVG and the TwiML answer to
//! a text. A leaf: it imports nothing of cyoa.

/// `text` safe inside XML text and attribute values: the five markup
/// characters escaped (`'` as `&#39;`, which HTML reads too, for the map
/// drawn inside a page), tabs and line breaks kept, and the control
/// characters XML 1.0 cannot hold dropped.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            '\t' | '\n' | '\r' => out.push(c),
            c if c.is_control() || c == '\u{FFFE}' || c == '\u{FFFF}' => {}
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::escape;

    #[test]
    fn markup_and_control_characters_are_escaped() {
        assert_eq!(
            escape("<a href=\"x\">&'\u{1}\u{7f}\u{fffe}\n"),
            "&lt;a href=&quot;x&quot;&gt;&amp;&#39;\n"
        );
    }
}
