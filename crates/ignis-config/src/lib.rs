//! The config engine of ignis: bytes -> positioned JSON -> version -> typed config -> report.
//! Owns parsing, version handling, validation and translation to the newest types; it never
//! fetches anything (merging fetched children is `merge`'s job, fetching is `resource`'s).

pub mod de;
pub mod json;
pub mod merge;
pub mod report;
pub mod types;
pub mod unit;
pub mod url;
pub mod validate;
pub mod version;

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

/// The compact canonical form, for the config cache the stages read.
pub fn to_cache_json(config: &Config) -> String {
    serde_json::to_string(config).unwrap_or_else(|e| format!("{{\"error\":\"{e}\"}}"))
}

/// Writes the compact canonical form to `w` without holding a second copy of the config's
/// largest string (a 64 MiB file as a data URL): that string is serialised as a stand-in, and
/// written from the config where the stand-in's text is. Only a string JSON writes as it is
/// (nothing to escape) is handled so; the config is as it was when this returns.
pub fn write_cache_json(config: &mut Config, w: &mut dyn std::io::Write) -> std::io::Result<()> {
    let plain = |s: &str| !s.bytes().any(|b| b == b'"' || b == b'\\' || b < 0x20);
    let mut longest = 0;
    let mut clash = false;
    config.each_string_mut(&mut |s| {
        clash |= s == STAND_IN;
        if s.len() >= TAKE_OVER_STR && plain(s) {
            longest = longest.max(s.len());
        }
    });
    if longest == 0 || clash {
        return w.write_all(to_cache_json(config).as_bytes());
    }
    let mut big = String::new();
    config.each_string_mut(&mut |s| {
        if big.is_empty() && s.len() == longest && plain(s) {
            big = std::mem::replace(s, STAND_IN.to_string());
        }
    });
    let json = to_cache_json(config);
    // serde_json writes the stand-in's NULs as \u0000 and the rest as it is.
    let marker = STAND_IN.replace('\0', "\\u0000");
    let written = match json.find(&marker) {
        Some(at) => w
            .write_all(&json.as_bytes()[..at])
            .and_then(|()| w.write_all(big.as_bytes()))
            .and_then(|()| w.write_all(&json.as_bytes()[at + marker.len()..])),
        None => Err(std::io::Error::other("the stand-in is missing")),
    };
    drop(json);
    config.each_string_mut(&mut |s| {
        if s == STAND_IN {
            *s = std::mem::take(&mut big);
        }
    });
    written
}

/// The canonical form of a config: newest version, unset fields left out, pretty-printed.
/// Pretty-printed from the compact form (serde_json's pretty layout: two-space indent, `": "`,
/// empty containers as `{}`/`[]`), so the config's serialiser is compiled once, not once per
/// formatter (the second copy cost about 30 KiB of the binary).
pub fn to_canonical_json(config: &Config) -> String {
    pretty(&to_cache_json(config))
}

/// Re-indents compact JSON (no whitespace outside strings, as serde_json writes it).
fn pretty(compact: &str) -> String {
    fn newline(out: &mut String, depth: usize) {
        out.push('\n');
        for _ in 0..depth {
            out.push_str("  ");
        }
    }
    let b = compact.as_bytes();
    let mut out = String::with_capacity(compact.len() * 2);
    let (mut depth, mut in_str, mut escaped) = (0usize, false, false);
    let mut start = 0;
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        if in_str {
            if escaped {
                escaped = false;
            } else if c == b'\\' {
                escaped = true;
            } else if c == b'"' {
                in_str = false;
            }
            i += 1;
            continue;
        }
        // Everything outside strings is ASCII, so these indices are char boundaries.
        match c {
            b'"' => in_str = true,
            b'{' | b'[' | b'}' | b']' | b',' | b':' => {
                out.push_str(&compact[start..i]);
                match c {
                    b'{' | b'[' if matches!(b.get(i + 1), Some(b'}' | b']')) => {
                        out.push_str(&compact[i..i + 2]);
                        i += 1;
                    }
                    b'{' | b'[' => {
                        out.push(c as char);
                        depth += 1;
                        newline(&mut out, depth);
                    }
                    b'}' | b']' => {
                        depth = depth.saturating_sub(1);
                        newline(&mut out, depth);
                        out.push(c as char);
                    }
                    b',' => {
                        out.push(',');
                        newline(&mut out, depth);
                    }
                    _ => out.push_str(": "),
                }
                start = i + 1;
            }
            _ => {}
        }
        i += 1;
    }
    out.push_str(&compact[start..]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn errs(src: &str) -> Vec<String> {
        match parse(src.as_bytes()) {
            Ok(p) => p.report.entries.iter().map(|e| e.to_string()).collect(),
            Err(e) => {
                let mut v: Vec<String> = e.report.entries.iter().map(|e| e.to_string()).collect();
                v.push(e.failure.to_string());
                v
            }
        }
    }

    #[test]
    fn minimal_configs() {
        for v in [
            "3.0.0",
            "3.1.0",
            "3.2.0",
            "3.3.0",
            "3.4.0",
            "3.5.0",
            "3.6.0",
            "3.7.0-experimental",
        ] {
            let p = parse(format!(r#"{{"ignition":{{"version":"{v}"}}}}"#).as_bytes()).unwrap();
            assert!(p.report.is_empty(), "{v}");
        }
    }

    #[test]
    fn version_failures() {
        assert_eq!(parse(b"").unwrap_err().failure, Failure::Empty);
        assert_eq!(parse(b"{}").unwrap_err().failure, Failure::InvalidVersion);
        assert_eq!(
            parse(br#"{"ignition":{"version":"2.2.0"}}"#)
                .unwrap_err()
                .failure,
            Failure::UnknownVersion
        );
        assert_eq!(
            parse(br#"{"ignition":{"version":"3.9.0"}}"#)
                .unwrap_err()
                .failure,
            Failure::UnknownVersion
        );
        assert_eq!(
            parse(br#"{"ignition":{"version":"x"}}"#)
                .unwrap_err()
                .failure,
            Failure::InvalidVersion
        );
        assert_eq!(
            parse(br#"{"ignition":{"version":3}}"#).unwrap_err().failure,
            Failure::Invalid
        );
    }

    #[test]
    fn positions_in_reports() {
        let src = r#"{"ignition":{"version":"3.3.0"},"storage":{"files":[{"path":"relative"}]}}"#;
        assert_eq!(
            errs(src),
            vec![
                "error at $.storage.files.0.path, line 1 col 61: path not absolute",
                "config is not valid"
            ]
        );
    }

    #[test]
    fn version_gates_drop_newer_fields() {
        let src = r#"{"ignition":{"version":"3.0.0"},"kernelArguments":{"shouldExist":["a"]}}"#;
        let p = parse(src.as_bytes()).unwrap();
        assert!(p.config.kernel_arguments.should_exist.is_empty());
        assert_eq!(p.report.entries[0].message, "unused key kernelArguments");
        let src = r#"{"ignition":{"version":"3.3.0"},"kernelArguments":{"shouldExist":["a"]}}"#;
        assert_eq!(
            parse(src.as_bytes())
                .unwrap()
                .config
                .kernel_arguments
                .should_exist,
            vec!["a"]
        );
    }

    #[test]
    fn special_bits_masked_before_3_6() {
        let f = |v: &str| {
            parse(format!(r#"{{"ignition":{{"version":"{v}"}},"storage":{{"files":[{{"path":"/a","mode":2541}}]}}}}"#).as_bytes())
                .unwrap()
        };
        let old = f("3.5.0");
        assert_eq!(old.config.storage.files[0].mode, Some(0o755));
        assert_eq!(old.report.entries[0].level, Level::Warning);
        let new = f("3.6.0");
        assert_eq!(new.config.storage.files[0].mode, Some(0o4755));
        assert!(new.report.is_empty());
    }

    #[test]
    fn sourceless_3_0_merge_entries_are_dropped() {
        let p = parse(br#"{"ignition":{"version":"3.0.0","config":{"merge":[{}]}}}"#).unwrap();
        assert!(p.config.ignition.config.merge.is_empty());
        assert!(parse(to_canonical_json(&p.config).as_bytes()).is_ok());
    }

    #[test]
    fn owned_parse_hands_the_buffer_to_the_largest_string() {
        let big = "QUJD".repeat((TAKE_OVER_DOC / 4) + 1);
        let docs = [
            // The data URL takes the buffer; a later entry's error is positioned past it.
            format!("{{\"ignition\":{{\"version\":\"3.3.0\"}},\n\"storage\":{{\"files\":[{{\"path\":\"/a\",\"contents\":{{\"source\":\"data:;base64,{big}\"}}}},\n{{\"path\":\"b\"}}]}}}}"),
            // And streamed back out by write_cache_json.
            format!("{{\"ignition\":{{\"version\":\"3.3.0\"}},\"storage\":{{\"files\":[{{\"path\":\"/a\",\"contents\":{{\"source\":\"data:;base64,{big}\"}}}}]}}}}"),
            // In an unused key: decoded into nothing.
            format!("{{\"ignition\":{{\"version\":\"3.3.0\"}},\"x\":\"{big}\"}}"),
            // A document spelling the stand-in itself is parsed by copying.
            format!("{{\"ignition\":{{\"version\":\"3.3.0\"}},\"passwd\":{{\"users\":[{{\"name\":\"\\u0000ignis: the document's largest string, put back after decoding\\u0000\",\"gecos\":\"{big}\"}}]}}}}"),
            // The big string where a number belongs: the same type error.
            format!("{{\"ignition\":{{\"version\":\"3.3.0\"}},\"storage\":{{\"files\":[{{\"path\":\"/a\",\"mode\":\"{big}\"}}]}}}}"),
        ];
        for doc in docs {
            let want = parse(doc.as_bytes());
            let got = parse_owned(doc.clone().into_bytes());
            match (want, got) {
                (Ok(w), Ok(mut g)) => {
                    assert_eq!(w.config, g.config);
                    let mut streamed = Vec::new();
                    write_cache_json(&mut g.config, &mut streamed).unwrap();
                    assert_eq!(streamed, to_cache_json(&w.config).into_bytes());
                    assert_eq!(w.config, g.config);
                    assert_eq!(w.report.to_string(), g.report.to_string());
                }
                (Err(w), Err(g)) => {
                    assert_eq!(w.failure, g.failure);
                    assert_eq!(w.report.to_string(), g.report.to_string());
                    assert!(!w.report.is_empty());
                }
                (w, g) => panic!("{:?} vs {:?}", w.is_ok(), g.is_ok()),
            }
        }
    }

    #[test]
    fn canonical_output_round_trips() {
        let src = r#"{"ignition":{"version":"3.1.0"},"storage":{"files":[{"path":"/a","contents":{"source":"data:,x"},"mode":420}]}}"#;
        let p = parse(src.as_bytes()).unwrap();
        let out = to_canonical_json(&p.config);
        let again = parse(out.as_bytes()).unwrap();
        assert_eq!(again.config, p.config);
        assert_eq!(again.version, Version::V3_6);
    }

    #[test]
    fn canonical_output_is_serde_jsons_pretty_layout() {
        // Strings with JSON punctuation and escapes, empty and nested containers.
        let src = r#"{"ignition":{"version":"3.4.0","config":{"merge":[{"source":"data:,a%2Cb"}]}},
            "passwd":{"users":[{"name":"u","gecos":"a {b} [c], d: \"e\" \\ f","groups":[]}]},
            "storage":{"files":[{"path":"/a","contents":{"source":"data:,x:1,2"},"mode":420,
            "append":[{"source":"data:,y"}]}],"directories":[{"path":"/d"}]},
            "kernelArguments":{"shouldExist":["k=\"{]\""]}}"#;
        let p = parse(src.as_bytes()).unwrap();
        assert!(p.report.is_empty(), "{}", p.report);
        let want = serde_json::to_string_pretty(&p.config).unwrap();
        assert_eq!(to_canonical_json(&p.config), want);
        assert_eq!(pretty("{}"), "{}");
        assert_eq!(
            pretty(r#"{"a":[],"b":{},"c":[1,{"d":"}"}]}"#),
            serde_json::to_string_pretty(
                &serde_json::from_str::<serde_json::Value>(r#"{"a":[],"b":{},"c":[1,{"d":"}"}]}"#)
                    .unwrap()
            )
            .unwrap()
        );
    }
}
