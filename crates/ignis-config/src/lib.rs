//! The config engine of ignis: bytes -> positioned JSON -> version -> typed config -> report.
//! Owns parsing, version handling, validation and translation to the newest types; it never
//! fetches anything (merging fetched children is `merge`'s job, fetching is `resource`'s).

pub mod de;
pub mod json;
pub mod merge;
mod output;
pub mod report;
pub mod types;
pub mod unit;
pub mod url;
pub mod validate;
pub mod version;

pub use output::{to_cache_json, to_canonical_json, write_cache_json};
use report::{Entry, JsonPath, Level, LineIndex, Report, Seg};
use serde::Deserialize;
use std::borrow::Cow;
use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};
pub use types::Config;
use types::Strings;
pub use version::Version;

/// Why a document is not a usable config.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Failure {
    /// Zero bytes: Ignition treats this as "no config" rather than an error in providers.
    Empty,
    /// `ignition.version` missing or not a semantic version.
    InvalidVersion,
    /// A version no parser accepts.
    UnknownVersion,
    /// Syntax error, type error or a validation error: see the report.
    Invalid,
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Failure::Empty => "not a config (empty)",
            Failure::InvalidVersion => "invalid config version (couldn't parse)",
            Failure::UnknownVersion => "unsupported config version",
            Failure::Invalid => "config is not valid",
        })
    }
}

/// A failed parse: the reason and the report gathered until then.
#[derive(Debug, Clone)]
pub struct ParseError {
    pub failure: Failure,
    pub report: Report,
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.failure.fmt(f)
    }
}

impl std::error::Error for ParseError {}

/// A usable config: translated to the newest types, with the warnings found on the way.
#[derive(Debug, Clone)]
pub struct Parsed {
    pub config: Config,
    /// The spec version the document declared.
    pub version: Version,
    pub report: Report,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct VersionProbe {
    ignition: VersionProbeIgnition,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct VersionProbeIgnition {
    version: Option<String>,
}

static ONE_SHOT: AtomicBool = AtomicBool::new(false);

/// Declares the process one-shot: it exits soon after parsing (every ignis command does), so
/// the JSON tree of a successful parse is not freed piece by piece but left to the exit. With
/// musl's allocator, freeing the tree of a 10,000-file config (tens of thousands of small
/// allocations, and the unmapping that follows) was about a tenth of validating it. Off by
/// default: tests and fuzzers parse many documents in one process.
pub fn set_one_shot(on: bool) {
    ONE_SHOT.store(on, Ordering::Relaxed);
}

/// Parses, validates and translates one config document.
pub fn parse(src: &[u8]) -> Result<Parsed, ParseError> {
    parse_with(src, true)
}

/// Reads the config cache the fetch stages wrote: ignis's own canonical output, validated
/// when it was fetched. It is decoded strictly but not validated again: a config written for
/// an older spec may carry what that spec allowed and the newest one refuses (a 3.2.0 link
/// without a target), exactly as Ignition applies a translated config without re-validating.
pub fn parse_cached(src: &[u8]) -> Result<Parsed, ParseError> {
    parse_with(src, false)
}

/// [`parse`] of a document the caller hands over. A large document whose bulk is one string
/// (a file's contents as a data URL) gives its buffer to that string in the typed config
/// instead of copying it: the config never holds the document and a copy of that string at
/// once. Smaller documents take [`parse`]'s path.
pub fn parse_owned(src: Vec<u8>) -> Result<Parsed, ParseError> {
    parse_owned_with(src, true)
}

/// [`parse_cached`] of a document the caller hands over (see [`parse_owned`]).
pub fn parse_cached_owned(src: Vec<u8>) -> Result<Parsed, ParseError> {
    parse_owned_with(src, false)
}

/// Whether [`parse_owned`] may keep the buffer of a document of `len` bytes (else it only
/// reads it, as [`parse`] does).
pub fn takes_buffer(len: usize) -> bool {
    len >= TAKE_OVER_DOC
}

/// The smallest document [`parse_owned`] looks for a string to hand its buffer to, and the
/// smallest such string.
const TAKE_OVER_DOC: usize = 16 << 20;
const TAKE_OVER_STR: usize = 8 << 20;

/// What the decoder finds in place of the string that takes the document's buffer. A string
/// borrowed from the document never holds a NUL (JSON refuses raw control characters), and a
/// document that spells this one with escapes is parsed by copying.
const STAND_IN: &str = "\0ignis: the document's largest string, put back after decoding\0";

// Not inlined: each is one copy in the binary whichever path calls it.
#[inline(never)]
fn parse_with(src: &[u8], validate_rules: bool) -> Result<Parsed, ParseError> {
    finish(decode_doc(src, false)?, validate_rules)
}

#[inline(never)]
fn parse_owned_with(mut src: Vec<u8>, validate_rules: bool) -> Result<Parsed, ParseError> {
    if src.len() < TAKE_OVER_DOC {
        return parse_with(&src, validate_rules);
    }
    let (mut d, range) = {
        let d = decode_doc(&src, true)?;
        let Some(range) = d.stand_in.clone() else {
            return finish(d, validate_rules);
        };
        let Decoded {
            tree,
            lines: _,
            version,
            config,
            report,
            stand_in,
        } = d;
        let d = Decoded {
            tree: tree.into_owned(),
            lines: LineIndex::detached(&src, range.clone()),
            version,
            config,
            report,
            stand_in,
        };
        (d, range)
    };
    let mut found = 0;
    d.config
        .each_string_mut(&mut |s| found += usize::from(s == STAND_IN));
    match found {
        // Decoded into nothing (an unused key, a value a later duplicate replaced).
        0 => {}
        1 => {
            src.copy_within(range.clone(), 0);
            src.truncate(range.len());
            src.shrink_to_fit();
            // The JSON reader borrowed it only after checking it is UTF-8.
            let mut big = Some(
                String::from_utf8(src)
                    .unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned()),
            );
            d.config.each_string_mut(&mut |s| {
                if s == STAND_IN {
                    if let Some(b) = big.take() {
                        *s = b;
                    }
                }
            });
        }
        // Cannot happen (decode_doc checked the stand-in is unique); copy rather than guess.
        _ => return parse_with(&src, validate_rules),
    }
    finish(d, validate_rules)
}

/// A document decoded into the typed config, not validated yet.
struct Decoded<'a> {
    tree: json::Node<'a>,
    lines: LineIndex<'a>,
    version: Version,
    config: Config,
    /// Findings of the decoder.
    report: Report,
    /// Where the string the decoder saw as [`STAND_IN`] is in the document (inside its quotes).
    stand_in: Option<std::ops::Range<usize>>,
}

#[inline(never)]
fn decode_doc(src: &[u8], stand_in: bool) -> Result<Decoded<'_>, ParseError> {
    if src.is_empty() {
        return Err(ParseError {
            failure: Failure::Empty,
            report: Report::default(),
        });
    }
    let lines = LineIndex::new(src);
    let fail = |failure, report| Err(ParseError { failure, report });
    let mut tree = match json::parse(src) {
        Ok(t) => t,
        Err(e) => {
            let mut r = Report::default();
            r.entries.push(Entry {
                level: Level::Error,
                message: e.msg,
                path: None,
                marker: go_marker(&lines, e.offset, src.len()),
            });
            return fail(Failure::Invalid, r);
        }
    };
    let stand_in = if stand_in {
        put_stand_in(&mut tree)
    } else {
        None
    };
    let probe_ctx = de::Ctx::quiet(Version::V3_0);
    let probe: VersionProbe = match de::decode(&tree, &probe_ctx) {
        Ok(p) => p,
        Err(e) => return fail(Failure::Invalid, type_error_report(e, &lines, src.len())),
    };
    let Some(vs) = probe.ignition.version else {
        return fail(Failure::InvalidVersion, Report::default());
    };
    let version = match version::classify(&vs) {
        Ok(v) => v,
        Err(version::VersionError::Invalid) => {
            return fail(Failure::InvalidVersion, Report::default())
        }
        Err(version::VersionError::Unknown) => {
            return fail(Failure::UnknownVersion, Report::default())
        }
    };
    let ctx = de::Ctx::new(version);
    let decoded: Result<Config, _> = de::decode(&tree, &ctx);
    let mut report = Report::default();
    for f in ctx.findings.into_inner() {
        report.entries.push(Entry {
            level: f.level,
            message: f.message,
            path: Some(f.path),
            marker: Some(lines.line_col(f.off)),
        });
    }
    let config = match decoded {
        Ok(c) => c,
        Err(e) => {
            let mut r = type_error_report(e, &lines, src.len());
            r.merge(report);
            return fail(Failure::Invalid, r);
        }
    };
    Ok(Decoded {
        tree,
        lines,
        version,
        config,
        report,
        stand_in,
    })
}

/// Replaces the longest string value borrowed from the document, when it is long enough to be
/// worth handing the document's buffer to, with [`STAND_IN`]; returns where it was. Nothing is
/// replaced when a string of the document already reads as the stand-in.
#[inline(never)]
fn put_stand_in(tree: &mut json::Node<'_>) -> Option<std::ops::Range<usize>> {
    /// The offsets of the longest long-enough borrowed string; whether any reads as the stand-in.
    fn longest(n: &json::Node<'_>, best: &mut Option<(usize, usize)>, clash: &mut bool) {
        match &n.v {
            json::Value::Arr(items) => items.iter().for_each(|c| longest(c, best, clash)),
            json::Value::Obj(members) => members.iter().for_each(|m| longest(&m.val, best, clash)),
            json::Value::Str(Cow::Owned(s)) => *clash |= s == STAND_IN,
            json::Value::Str(Cow::Borrowed(s))
                if s.len() >= TAKE_OVER_STR && best.is_none_or(|(o, e)| n.end - n.off > e - o) =>
            {
                *best = Some((n.off, n.end));
            }
            _ => {}
        }
    }
    let (mut best, mut clash) = (None, false);
    longest(tree, &mut best, &mut clash);
    let (off, end) = best.filter(|_| !clash)?;
    // Down to the node: each step enters the one child whose span holds it.
    let mut cur = tree;
    while cur.off != off {
        cur = match &mut cur.v {
            json::Value::Arr(items) => items.iter_mut().find(|c| c.off <= off && off < c.end)?,
            json::Value::Obj(members) => members
                .iter_mut()
                .map(|m| &mut m.val)
                .find(|c| c.off <= off && off < c.end)?,
            _ => return None,
        };
    }
    cur.v = json::Value::Str(Cow::Borrowed(STAND_IN));
    Some(off + 1..end - 1)
}

/// Validation (when asked), positions of its findings, translation to the newest types.
#[inline(never)]
fn finish(d: Decoded<'_>, validate_rules: bool) -> Result<Parsed, ParseError> {
    let Decoded {
        tree,
        lines,
        version,
        mut config,
        mut report,
        ..
    } = d;
    if validate_rules {
        report.merge(validate::validate(&config, version));
    }
    for e in report.entries.iter_mut().filter(|e| e.marker.is_none()) {
        if let Some(p) = &e.path {
            e.marker = Some(lines.line_col(locate(&tree, p)));
        }
    }
    if report.is_fatal() {
        return Err(ParseError {
            failure: Failure::Invalid,
            report,
        });
    }
    translate(&mut config, version);
    if ONE_SHOT.load(Ordering::Relaxed) {
        // Left to the process's exit: see set_one_shot.
        std::mem::forget(tree);
    }
    Ok(Parsed {
        config,
        version,
        report,
    })
}

fn type_error_report(e: de::DeError, lines: &LineIndex<'_>, len: usize) -> Report {
    let mut r = Report::default();
    r.entries.push(Entry {
        level: Level::Error,
        message: e.msg,
        path: e.path,
        marker: go_marker(lines, e.off, len),
    });
    r
}

/// Where Ignition points for a Go decoding error at `offset`: the byte after the offending
/// one; nowhere when that is past the end (Ignition prints "line 0 col 0" there).
fn go_marker(lines: &LineIndex<'_>, offset: usize, len: usize) -> Option<(usize, usize)> {
    (offset < len).then(|| lines.line_col(offset))
}

/// Where Ignition's report points for `path`: the value's first byte, or just inside it for an
/// object or array. Keys match exactly (the last of duplicates); a path that leaves the
/// document points at the deepest value it reached.
fn locate(tree: &json::Node<'_>, path: &JsonPath) -> usize {
    let mut cur = tree;
    for seg in &path.0 {
        let next = match (seg, &cur.v) {
            (Seg::Key(k), json::Value::Obj(members)) => members
                .iter()
                .rev()
                .find(|m| m.key == k.as_ref())
                .map(|m| &m.val),
            (Seg::Index(i), json::Value::Arr(items)) => items.get(*i),
            _ => None,
        };
        match next {
            Some(n) => cur = n,
            None => break,
        }
    }
    match cur.v {
        json::Value::Obj(_) | json::Value::Arr(_) => cur.off + 1,
        _ => cur.off,
    }
}

/// Older spec semantics mapped onto the newest types.
fn translate(config: &mut Config, from: Version) {
    if from < Version::V3_1 {
        // 3.0.0 allowed a merge entry without a source (it fetched nothing); later specs reject
        // it, so drop it rather than carry an entry the newest spec calls invalid.
        config
            .ignition
            .config
            .merge
            .retain(|m| !m.source.as_deref().unwrap_or("").is_empty());
    }
    if from < Version::V3_6 {
        // Before 3.6.0, setuid/setgid/sticky bits in modes were ignored; the validator warned.
        for m in config
            .storage
            .files
            .iter_mut()
            .map(|f| &mut f.mode)
            .chain(config.storage.directories.iter_mut().map(|d| &mut d.mode))
            .flatten()
        {
            *m &= !0o7000;
        }
    }
    let out = if from == Version::V3_7Exp {
        Version::V3_7Exp
    } else {
        Version::NEWEST_STABLE
    };
    config.ignition.version = out.as_str().to_string();
}

#[cfg(test)]
mod tests;
