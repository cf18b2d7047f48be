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
use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};
pub use types::Config;
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

fn parse_with(src: &[u8], validate_rules: bool) -> Result<Parsed, ParseError> {
    if src.is_empty() {
        return Err(ParseError {
            failure: Failure::Empty,
            report: Report::default(),
        });
    }
    let lines = LineIndex::new(src);
    let fail = |failure, report| Err(ParseError { failure, report });
    let tree = match json::parse(src) {
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
    let mut config = match decoded {
        Ok(c) => c,
        Err(e) => {
            let mut r = type_error_report(e, &lines, src.len());
            r.merge(report);
            return fail(Failure::Invalid, r);
        }
    };
    if validate_rules {
        report.merge(validate::validate(&config, version));
    }
    for e in report.entries.iter_mut().filter(|e| e.marker.is_none()) {
        if let Some(p) = &e.path {
            e.marker = Some(lines.line_col(locate(&tree, p)));
        }
    }
    if report.is_fatal() {
        return fail(Failure::Invalid, report);
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
