//! Reading typed fields out of toml's spanned document tree: each helper
//! records a problem at the key or value at fault and lets the walk go on.

use toml::de::{DeTable, DeValue};

use super::MAX_ID_LEN;
use super::load::{Field, Key, Reader, Value};
use super::markdown::{UrlKind, url_kind};

/// Work spent on "did you mean" suggestions per file, so that a huge file
/// full of bad references cannot make checking slow: looking at a candidate
/// costs 1, computing an edit distance [`DISTANCE_COST`] more.
pub(super) const SUGGESTION_BUDGET: usize = 2_000_000;
const DISTANCE_COST: usize = 40;

impl Reader<'_> {
    /// The fields of `table` named in `known`, each at its position in
    /// `known`; every other key is reported as unknown, in key order. One
    /// pass over the table instead of a lookup per field: a big story has
    /// tens of thousands of tables.
    pub(super) fn fields<'t, 'i, const N: usize>(
        &mut self,
        table: &'t DeTable<'i>,
        known: &[&str; N],
    ) -> [Option<Field<'t, 'i>>; N] {
        let mut found = [None; N];
        for (key, value) in table.iter() {
            let name: &str = key.get_ref();
            match known.iter().position(|k| *k == name) {
                Some(i) => found[i] = Some((key, value)),
                None => self.unknown_field(key, known),
            }
        }
        found
    }

    /// Reports every key of `table` that is not in `known`.
    pub(super) fn unknown_fields(&mut self, table: &DeTable<'_>, known: &[&str]) {
        for key in table.keys() {
            if !known.contains(&key.get_ref().as_ref()) {
                self.unknown_field(key, known);
            }
        }
    }

    /// Reports `key`, which is not one of `known`, with the closest known
    /// field as a suggestion or else the list of them.
    fn unknown_field(&mut self, key: &Key<'_>, known: &[&str]) {
        let name = key.get_ref().as_ref();
        let hint = match closest(name, known.iter().copied(), &mut self.budget) {
            Some(k) => format!("; did you mean `{k}`?"),
            None => format!(
                "; the fields here are {}",
                known.iter().map(|k| format!("`{k}`")).collect::<Vec<_>>().join(", ")
            ),
        };
        self.p.error(key.span().start, format!("unknown field `{name}`{hint}"));
    }

    /// The table in `value`, or an error naming `key`.
    pub(super) fn table<'t, 'i>(&mut self, value: &'t Value<'i>, key: &str) -> Option<&'t DeTable<'i>> {
        match value.get_ref() {
            DeValue::Table(t) => Some(t),
            other => {
                self.p
                    .error(value.span().start, format!("`{key}` must be a table, not {}", a(other)));
                None
            }
        }
    }

    /// An optional string field and where its value is.
    pub(super) fn string(&mut self, table: &DeTable<'_>, key: &str) -> Option<(String, usize)> {
        self.str(table, key).map(|(s, at)| (s.to_string(), at))
    }

    /// An optional string field, borrowed from the document, and where its
    /// value is.
    pub(super) fn str<'t>(&mut self, table: &'t DeTable<'_>, key: &str) -> Option<(&'t str, usize)> {
        let field = table.get_key_value(key);
        self.str_field(key, field)
    }

    /// The string in `field` (named `key`), borrowed from the document, and
    /// where its value is; nothing if the field is absent.
    pub(super) fn str_field<'t>(&mut self, key: &str, field: Option<Field<'t, '_>>) -> Option<(&'t str, usize)> {
        let (_, v) = field?;
        match v.get_ref() {
            DeValue::String(s) => Some((s.as_ref(), v.span().start)),
            other => {
                self.p
                    .error(v.span().start, format!("`{key}` must be a string, not {}", a(other)));
                None
            }
        }
    }

    /// A slide's `image`: a path on cyoa's site or an `https:`/`http:`
    /// URL. Anything else is reported at the value: a `javascript:` or
    /// `data:` URL has no place in an `<img>`, and `//host/...` hides which
    /// scheme it means.
    pub(super) fn image_field(&mut self, field: Option<Field<'_, '_>>) -> Option<String> {
        let (src, at) = self.str_field("image", field)?;
        let problem = match url_kind(src) {
            _ if src.trim().is_empty() => Some(
                "`image` is empty; give a path (`/static/rocket.svg`) or an `https://` URL, or remove the line".to_string(),
            ),
            UrlKind::Path | UrlKind::Web => None,
            UrlKind::ProtocolRelative => Some(
                "`image` starts with `//`, which leaves the scheme out; write the whole URL (`https://host/...`) or a path"
                    .to_string(),
            ),
            UrlKind::Mail | UrlKind::Other => {
                let scheme: String = src.trim().chars().take_while(|c| *c != ':').take(20).collect();
                Some(format!(
                    "`image` must be a path (`/static/rocket.svg`, `images/cat.png`) or an `https://` or `http://` URL, not a `{}:` URL",
                    scheme.escape_debug()
                ))
            }
        };
        if let Some(problem) = problem {
            self.p.error(at, problem);
        }
        Some(src.to_string())
    }

    /// An optional `true`/`false` field (`key`, found in a table as `field`).
    pub(super) fn bool_field(&mut self, key: &str, field: Option<Field<'_, '_>>) -> Option<bool> {
        let (_, v) = field?;
        match v.get_ref() {
            DeValue::Boolean(b) => Some(*b),
            other => {
                self.p.error(
                    v.span().start,
                    format!("`{key}` must be `true` or `false`, not {}", a(other)),
                );
                None
            }
        }
    }

    /// A required string field (`key`, found in a table as `field`),
    /// borrowed; `at` is where to point if it is missing.
    pub(super) fn required_str<'t>(
        &mut self,
        key: &str,
        field: Option<Field<'t, '_>>,
        at: usize,
        what: &str,
    ) -> Option<(&'t str, usize)> {
        if field.is_none() {
            self.p.error(at, format!("missing `{key}`: {what}"));
            return None;
        }
        self.str_field(key, field)
    }

    /// A required string field (`key`, found as `field`) that must not be
    /// blank, borrowed.
    pub(super) fn required_text_field<'t>(
        &mut self,
        key: &str,
        field: Option<Field<'t, '_>>,
        at: usize,
        what: &str,
    ) -> Option<&'t str> {
        let (text, value_at) = self.required_str(key, field, at, what)?;
        if text.trim().is_empty() {
            self.p.error(value_at, format!("`{key}` is empty; write {what}"));
        }
        Some(text)
    }

    /// "; did you mean `x`?" for the candidate closest to `word`, or nothing.
    pub(super) fn did_you_mean(&mut self, word: &str, candidates: &[&str]) -> String {
        closest(word, candidates.iter().copied(), &mut self.budget)
            .map(|c| format!("; did you mean `{c}`?"))
            .unwrap_or_default()
    }
}

/// `[a-z0-9-]{1,64}`: the ids that can go in a URL as they are.
pub(super) fn is_id(id: &str) -> bool {
    (1..=MAX_ID_LEN).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

/// "a string", "an integer": the type of a value, for messages.
pub(super) fn a(value: &DeValue<'_>) -> &'static str {
    match value {
        DeValue::String(_) => "a string",
        DeValue::Integer(_) => "an integer",
        DeValue::Float(_) => "a float",
        DeValue::Boolean(_) => "a boolean",
        DeValue::Datetime(_) => "a date",
        DeValue::Array(_) => "an array",
        DeValue::Table(_) => "a table",
    }
}

/// A value as written in the file, shortened, for messages.
pub(super) fn shown(text: &str, value: &Value<'_>) -> String {
    let raw = text.get(value.span()).unwrap_or("");
    let short: String = raw.chars().take(40).collect();
    if short.len() < raw.len() {
        format!("`{short}...`")
    } else {
        format!("`{short}`")
    }
}

/// The candidate most like `word`, if any is close enough to be a typo.
fn closest<'c>(word: &str, candidates: impl Iterator<Item = &'c str>, budget: &mut usize) -> Option<&'c str> {
    let len = word.chars().count();
    let mut best: Option<(f64, &str)> = None;
    for c in candidates {
        if *budget == 0 {
            return None;
        }
        *budget -= 1;
        // Cheap test first: lengths too far apart cannot be a typo.
        if c.chars().count().abs_diff(len) > len.max(2) / 2 {
            continue;
        }
        if *budget < DISTANCE_COST {
            *budget = 0;
            return None;
        }
        *budget -= DISTANCE_COST;
        let score = strsim::normalized_damerau_levenshtein(word, c);
        if score >= 0.6 && best.is_none_or(|(s, _)| score > s) {
            best = Some((score, c));
        }
    }
    best.map(|(_, c)| c)
}

#[cfg(test)]
mod tests {
    use super::super::diag::Problems;
    use super::*;

    #[test]
    fn fields_are_found_by_position_and_strangers_reported() {
        let text = "b = 1\nzz = 2\na = \"x\"\nnxt = 3\n";
        let (root, errors) = DeTable::parse_recoverable(text);
        assert!(errors.is_empty());
        let mut p = Problems::default();
        let mut reader = Reader {
            p: &mut p,
            text,
            budget: SUGGESTION_BUDGET,
        };
        let [a, b, next] = reader.fields(root.get_ref(), &["a", "b", "next"]);
        let start = |f: Option<Field<'_, '_>>| f.map(|(k, _)| k.span().start);
        assert_eq!((start(a), start(b), start(next)), (Some(13), Some(0), None));
        assert_eq!(reader.str_field("a", a).map(|(s, _)| s), Some("x"));
        let messages: Vec<String> = p
            .into_diagnostics("t.toml", text)
            .into_iter()
            .map(|d| format!("{}:{}: {}", d.line, d.col, d.message))
            .collect();
        assert_eq!(
            messages,
            [
                "2:1: unknown field `zz`; the fields here are `a`, `b`, `next`",
                "4:1: unknown field `nxt`; did you mean `next`?",
            ]
        );
    }

    #[test]
    fn ids_are_lowercase_letters_digits_and_dashes() {
        for ok in ["a", "welcome", "step-2", &"x".repeat(64)] {
            assert!(is_id(ok), "{ok}");
        }
        for bad in ["", "Welcome", "two words", "under_score", "é", &"x".repeat(65)] {
            assert!(!is_id(bad), "{bad}");
        }
    }

    #[test]
    fn suggestions_are_typos_only() {
        const FIELDS: &[&str] = &["title", "body", "notes", "image", "next", "decision"];
        let mut budget = SUGGESTION_BUDGET;
        assert_eq!(closest("nxet", FIELDS.iter().copied(), &mut budget), Some("next"));
        assert_eq!(closest("titel", FIELDS.iter().copied(), &mut budget), Some("title"));
        assert_eq!(closest("colour", FIELDS.iter().copied(), &mut budget), None);
        let mut none = DISTANCE_COST;
        assert_eq!(closest("nxet", FIELDS.iter().copied(), &mut none), None);
    }
}
