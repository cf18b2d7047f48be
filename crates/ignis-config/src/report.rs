//! Config reports: JSON paths into the config and Ignition-style report lines.
//! A report is data; whoever holds it decides whether it is fatal (any error entry is).

use std::borrow::Cow;
use std::fmt;

/// One step of a JSON path: an object key or a list index.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Seg {
    /// Spec keys are static; keys copied from a document (unused keys) are owned.
    Key(Cow<'static, str>),
    Index(usize),
}

/// A path into the config, printed as `$.storage.files.0.path`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct JsonPath(pub Vec<Seg>);

impl JsonPath {
    pub fn root() -> Self {
        JsonPath(Vec::new())
    }

    /// A new path with one more key.
    pub fn key(&self, k: &'static str) -> Self {
        self.with(Seg::Key(Cow::Borrowed(k)))
    }

    /// A new path with one more key taken from a document.
    pub fn key_owned(&self, k: &str) -> Self {
        self.with(Seg::Key(Cow::Owned(k.to_string())))
    }

    fn with(&self, seg: Seg) -> Self {
        let mut v = Vec::with_capacity(self.0.len() + 2);
        v.extend_from_slice(&self.0);
        v.push(seg);
        JsonPath(v)
    }

    /// A new path with one more index.
    pub fn idx(&self, i: usize) -> Self {
        self.with(Seg::Index(i))
    }

    /// Builds a path from dotted text (`storage.files.0.path`), for tests and tables.
    pub fn parse(s: &str) -> Self {
        let s = s.strip_prefix("$").unwrap_or(s);
        let s = s.strip_prefix('.').unwrap_or(s);
        if s.is_empty() {
            return JsonPath::root();
        }
        JsonPath(
            s.split('.')
                .map(|p| match p.parse::<usize>() {
                    Ok(i) => Seg::Index(i),
                    Err(_) => Seg::Key(Cow::Owned(p.to_string())),
                })
                .collect(),
        )
    }
}

impl fmt::Display for JsonPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("$")?;
        for s in &self.0 {
            match s {
                Seg::Key(k) => write!(f, ".{k}")?,
                Seg::Index(i) => write!(f, ".{i}")?,
            }
        }
        Ok(())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    Error,
    Warning,
    Info,
}

impl fmt::Display for Level {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Level::Error => "error",
            Level::Warning => "warning",
            Level::Info => "info",
        })
    }
}

/// One report line. `path` is absent for whole-document problems (JSON syntax);
/// `marker` is the 1-based line and column of the offending value when known.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub level: Level,
    pub message: String,
    pub path: Option<JsonPath>,
    pub marker: Option<(usize, usize)>,
}

impl fmt::Display for Entry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.level)?;
        match (&self.path, self.marker) {
            (Some(p), Some((l, c))) => write!(f, " at {p}, line {l} col {c}")?,
            (Some(p), None) => write!(f, " at {p}")?,
            (None, Some((l, c))) => write!(f, " at line {l} col {c}")?,
            (None, None) => {}
        }
        write!(f, ": {}", self.message)
    }
}

/// The ordered list of report entries for one config.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Report {
    pub entries: Vec<Entry>,
}

impl Report {
    pub fn error(&mut self, path: JsonPath, message: impl Into<String>) {
        self.push(Level::Error, Some(path), message);
    }

    pub fn warn(&mut self, path: JsonPath, message: impl Into<String>) {
        self.push(Level::Warning, Some(path), message);
    }

    pub fn push(&mut self, level: Level, path: Option<JsonPath>, message: impl Into<String>) {
        self.entries.push(Entry {
            level,
            message: message.into(),
            path,
            marker: None,
        });
    }

    pub fn is_fatal(&self) -> bool {
        self.entries.iter().any(|e| e.level == Level::Error)
    }

    pub fn merge(&mut self, other: Report) {
        self.entries.extend(other.entries);
    }

    /// Warnings become errors (`validate --strict`).
    pub fn make_strict(&mut self) {
        for e in &mut self.entries {
            if e.level == Level::Warning {
                e.level = Level::Error;
            }
        }
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for e in &self.entries {
            writeln!(f, "{e}")?;
        }
        Ok(())
    }
}

/// Maps byte offsets of a document to 1-based line and column numbers.
pub struct LineIndex<'a> {
    src: &'a [u8],
    /// Built on the first lookup: a config without findings (the common case) never pays
    /// for a pass over its bytes.
    starts: std::cell::OnceCell<Vec<usize>>,
}

impl<'a> LineIndex<'a> {
    pub fn new(src: &'a [u8]) -> Self {
        LineIndex {
            src,
            starts: std::cell::OnceCell::new(),
        }
    }

    /// An index built now, that no longer needs `src`; the bytes in `skip` are known to hold
    /// no newline (a string without escapes: JSON refuses a raw newline in one).
    pub fn detached(src: &[u8], skip: std::ops::Range<usize>) -> LineIndex<'static> {
        let mut starts = vec![0];
        for (base, part) in [(0, &src[..skip.start]), (skip.end, &src[skip.end..])] {
            starts.extend(
                part.iter()
                    .enumerate()
                    .filter(|(_, &b)| b == b'\n')
                    .map(|(i, _)| base + i + 1),
            );
        }
        LineIndex {
            src: &[],
            starts: std::cell::OnceCell::from(starts),
        }
    }

    pub fn line_col(&self, offset: usize) -> (usize, usize) {
        let starts = self.starts.get_or_init(|| {
            let mut starts = vec![0];
            starts.extend(
                self.src
                    .iter()
                    .enumerate()
                    .filter(|(_, &b)| b == b'\n')
                    .map(|(i, _)| i + 1),
            );
            starts
        });
        let line = match starts.binary_search(&offset) {
            Ok(i) => i,
            Err(i) => i - 1,
        };
        (line + 1, offset - starts[line] + 1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_print_like_ignition() {
        let p = JsonPath::root()
            .key("storage")
            .key("files")
            .idx(0)
            .key("path");
        assert_eq!(p.to_string(), "$.storage.files.0.path");
        assert_eq!(JsonPath::parse("$.storage.files.0.path"), p);
        assert_eq!(JsonPath::root().to_string(), "$");
    }

    #[test]
    fn entries_print_like_ignition() {
        let e = Entry {
            level: Level::Error,
            message: "path not absolute".into(),
            path: Some(JsonPath::parse("storage.files.0.path")),
            marker: Some((1, 61)),
        };
        assert_eq!(
            e.to_string(),
            "error at $.storage.files.0.path, line 1 col 61: path not absolute"
        );
    }

    #[test]
    fn line_index() {
        let idx = LineIndex::new(b"ab\ncd\n\nx");
        assert_eq!(idx.line_col(0), (1, 1));
        assert_eq!(idx.line_col(1), (1, 2));
        assert_eq!(idx.line_col(2), (1, 3));
        assert_eq!(idx.line_col(3), (2, 1));
        assert_eq!(idx.line_col(6), (3, 1));
        assert_eq!(idx.line_col(7), (4, 1));
    }
}
