//! Problems found in a story file, and where they are.
//!
//! The loader collects problems with byte offsets while it walks the file,
//! then turns every offset into a 1-based line and column in one pass over
//! the text, so a file with many problems on one long line stays fast.

use std::fmt;

use super::Story;

/// A story that checked clean, with any warnings found.
#[derive(Debug, Clone)]
pub struct Loaded {
    /// The checked story.
    pub story: Story,
    /// Problems that do not stop the story from running.
    pub warnings: Vec<Diagnostic>,
}

/// How bad a problem is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Severity {
    /// The story cannot run.
    Error,
    /// The story runs, but probably not as meant.
    Warning,
}

/// One problem in a story file, at a line and column (1-based; the column
/// counts characters, not bytes).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    /// File name as given.
    pub file: String,
    /// 1-based line.
    pub line: usize,
    /// 1-based column, in characters.
    pub col: usize,
    /// Error or warning.
    pub severity: Severity,
    /// What is wrong and what to do.
    pub message: String,
}

impl fmt::Display for Diagnostic {
    /// `FILE:LINE:COL: error: MESSAGE`, the form editors and CI logs link.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sev = match self.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
        };
        write!(f, "{}:{}:{}: {}: {}", self.file, self.line, self.col, sev, self.message)
    }
}

/// A problem whose place is still a byte offset into the text.
#[derive(Debug, Clone)]
pub(super) struct Problem {
    pub offset: usize,
    pub severity: Severity,
    pub message: String,
}

/// Collects problems while the loader walks the file.
#[derive(Debug, Default)]
pub(super) struct Problems {
    list: Vec<Problem>,
}

impl Problems {
    /// An error at this byte offset.
    pub fn error(&mut self, offset: usize, message: impl Into<String>) {
        self.list.push(Problem {
            offset,
            severity: Severity::Error,
            message: message.into(),
        });
    }

    /// A warning at this byte offset.
    pub fn warning(&mut self, offset: usize, message: impl Into<String>) {
        self.list.push(Problem {
            offset,
            severity: Severity::Warning,
            message: message.into(),
        });
    }

    /// Whether any error (not warning) was found.
    pub fn has_errors(&self) -> bool {
        self.list.iter().any(|p| p.severity == Severity::Error)
    }

    /// Every problem with its line and column, in file order (errors before
    /// warnings at the same place).
    pub fn into_diagnostics(self, file: &str, text: &str) -> Vec<Diagnostic> {
        let mut list = self.list;
        // Stable: problems at one place keep the order they were found in.
        list.sort_by_key(|p| p.offset);
        let mut out = Vec::with_capacity(list.len());
        let mut cursor = Cursor::new(text);
        for p in list {
            let (line, col) = cursor.advance_to(p.offset);
            out.push(Diagnostic {
                file: file.to_string(),
                line,
                col,
                severity: p.severity,
                message: p.message,
            });
        }
        out
    }
}

/// Walks the text forwards once, counting lines and characters.
struct Cursor<'t> {
    text: &'t str,
    offset: usize,
    line: usize,
    col: usize,
}

impl<'t> Cursor<'t> {
    fn new(text: &'t str) -> Self {
        Cursor {
            text,
            offset: 0,
            line: 1,
            col: 1,
        }
    }

    /// Line and column of `offset`; offsets must come in increasing order.
    /// An offset past the end, or inside a character, is clamped back to the
    /// nearest character start.
    fn advance_to(&mut self, offset: usize) -> (usize, usize) {
        let mut target = offset.min(self.text.len());
        while !self.text.is_char_boundary(target) {
            target -= 1;
        }
        if target > self.offset {
            // Newlines counted over bytes, characters only after the last
            // one: both are tight loops, unlike decoding every character.
            let passed = &self.text[self.offset..target];
            match passed.rfind('\n') {
                Some(last) => {
                    self.line += passed.bytes().filter(|&b| b == b'\n').count();
                    self.col = 1 + passed[last + 1..].chars().count();
                }
                None => self.col += passed.chars().count(),
            }
            self.offset = target;
        }
        (self.line, self.col)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offsets_become_lines_and_character_columns() {
        let text = "ab\né€x\n\nz";
        let mut p = Problems::default();
        p.error(text.find('x').unwrap(), "x");
        p.error(0, "a");
        p.warning(text.find('z').unwrap(), "z");
        p.error(999, "end");
        let d = p.into_diagnostics("f.toml", text);
        let places: Vec<_> = d.iter().map(|d| (d.message.as_str(), d.line, d.col)).collect();
        assert_eq!(places, [("a", 1, 1), ("x", 2, 3), ("z", 4, 1), ("end", 4, 2)]);
        assert_eq!(d[0].to_string(), "f.toml:1:1: error: a");
        assert_eq!(d[2].to_string(), "f.toml:4:1: warning: z");
    }

    #[test]
    fn places_are_counted_the_same_in_steps_or_at_once() {
        let text = "a€\n\nbé\ncc🙂d\n€\n";
        let boundaries: Vec<usize> = (0..=text.len()).filter(|&i| text.is_char_boundary(i)).collect();
        for &from in &boundaries {
            for &to in boundaries.iter().filter(|&&to| to >= from) {
                let mut stepped = Cursor::new(text);
                stepped.advance_to(from);
                let mut direct = Cursor::new(text);
                // Character by character, as a person counts.
                let before = &text[..to];
                let line = 1 + before.matches('\n').count();
                let col = 1 + before.rsplit('\n').next().unwrap_or("").chars().count();
                assert_eq!(stepped.advance_to(to), (line, col), "{from}..{to}");
                assert_eq!(direct.advance_to(to), (line, col), "{to}");
            }
        }
    }
}
