//! Differential test against real Ignition 2.14: every config of the generated corpus
//! (`tests/diff/gen_corpus.py`) must get the same verdict and the same set of error locations
//! from `ignis validate` as from `ignition-validate`. The recorded outputs of Ignition live in
//! `tests/diff/expected-2.14/`; when the real binary is available (Debian's package unpacked by
//! `scripts/setup-deps`, or `IGNITION_VALIDATE`), the recordings are checked against it too.
//! Deliberate differences (newer Ignition's behaviour) are listed in
//! `tests/diff/known-differences.txt` with their reasons.
//!
//! The same corpus is compared with the recorded verdicts of upstream Ignition v2.26.0
//! (`expected-2.26/`), and its 3.3.0 configs at the newer spec versions 2.14 cannot read with
//! v2.26.0's (`expected-2.26-newer/`), each with its own known-differences file; the v2.26.0
//! recordings are re-checked against the oracle build when the machine has it
//! (`tests/diff/README.md`).

#[path = "common/skip.rs"]
mod skip;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;

const DEFAULT_VALIDATE: &str = "/opt/ignis-deps/ignition-root/usr/bin/ignition-validate";

fn diff_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/diff")
}

/// Generates the corpus into a fresh directory of its own (tests run in parallel) and returns
/// (name, bytes) pairs.
fn corpus(dir: &str) -> Vec<(String, Vec<u8>)> {
    let out = Path::new(env!("CARGO_TARGET_TMPDIR")).join(dir);
    let _ = std::fs::remove_dir_all(&out);
    let st = Command::new("python3")
        .arg(diff_dir().join("gen_corpus.py"))
        .arg(&out)
        .output()
        .expect("python3 is needed to generate the differential corpus");
    assert!(
        st.status.success(),
        "gen_corpus.py failed: {}",
        String::from_utf8_lossy(&st.stderr)
    );
    let mut v: Vec<(String, Vec<u8>)> = std::fs::read_dir(&out)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "ign"))
        .map(|p| {
            let name = p.file_stem().unwrap().to_string_lossy().into_owned();
            (name, std::fs::read(&p).unwrap())
        })
        .collect();
    v.sort();
    v
}

/// A recorded result: exit status and output lines.
struct Recorded {
    exit: i32,
    lines: Vec<String>,
}

/// The corpus's configs that name "3.3.0" exactly once, each at every newer version, named
/// `NNN-name@VERSION`: the same set `record.sh ... newer` records.
fn bumped(corpus: &[(String, Vec<u8>)]) -> Vec<(String, Vec<u8>)> {
    const NEWER: [&str; 4] = ["3.4.0", "3.5.0", "3.6.0", "3.7.0-experimental"];
    let needle: &[u8] = b"\"3.3.0\"";
    let mut out = Vec::new();
    for (name, src) in corpus {
        let hits: Vec<usize> = src
            .windows(needle.len())
            .enumerate()
            .filter(|(_, w)| *w == needle)
            .map(|(i, _)| i)
            .collect();
        if let [at] = hits[..] {
            for v in NEWER {
                let mut b = src[..at].to_vec();
                b.extend_from_slice(format!("\"{v}\"").as_bytes());
                b.extend_from_slice(&src[at + needle.len()..]);
                out.push((format!("{name}@{v}"), b));
            }
        }
    }
    out.sort();
    out
}

fn read_recorded(dir: &str, name: &str) -> Recorded {
    let p = diff_dir().join(dir).join(format!("{name}.out"));
    let text = std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
    let mut lines = text.lines().map(String::from);
    let first = lines.next().unwrap_or_default();
    let exit = first
        .strip_prefix("exit ")
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or_else(|| panic!("{}: first line must be `exit N`", p.display()));
    Recorded {
        exit,
        lines: lines.collect(),
    }
}

/// Where an error points: its JSON path, or for Go decoding errors (which Ignition prints
/// without a path) its line and column; or the failure line for whole-document failures.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum Loc {
    Path(String),
    Pos(Option<(u32, u32)>),
    Failure(String),
}

fn error_locations(lines: &[String]) -> BTreeSet<Loc> {
    let mut out = BTreeSet::new();
    for l in lines {
        if let Some(f) = l.strip_prefix("couldn't parse config: ") {
            out.insert(Loc::Failure(f.to_string()));
            continue;
        }
        let Some(rest) = l.strip_prefix("error") else {
            continue;
        };
        let (head, msg) = match rest.strip_prefix(" at ") {
            Some(r) => match r.find(": ") {
                Some(i) => (&r[..i], &r[i + 2..]),
                None => continue,
            },
            None => ("", rest.trim_start_matches(": ")),
        };
        let mut path = None;
        let mut pos = None;
        for part in head.split(", ") {
            if part.starts_with('$') {
                path = Some(part.to_string());
            } else if let Some(lc) = part.strip_prefix("line ") {
                let mut it = lc.split(" col ");
                let l: u32 = it.next().and_then(|x| x.parse().ok()).unwrap_or(0);
                let c: u32 = it.next().and_then(|x| x.parse().ok()).unwrap_or(0);
                // Ignition prints "line 0 col 0" where it has no position; ignis prints none.
                pos = if (l, c) == (0, 0) { None } else { Some((l, c)) };
            }
        }
        // Go decoding errors carry no path in Ignition; ignis adds one, so compare positions.
        let loc = match path {
            Some(p) if !msg.starts_with("json: ") => Loc::Path(p),
            _ => Loc::Pos(pos),
        };
        out.insert(loc);
    }
    out
}

fn read_known(file: &str) -> BTreeMap<String, String> {
    let text = std::fs::read_to_string(diff_dir().join(file)).unwrap();
    text.lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .map(|l| {
            let (n, why) = l.split_once(':').unwrap_or((l, ""));
            (n.trim().to_string(), why.trim().to_string())
        })
        .collect()
}

/// Compares `ignis validate` on every config with the recordings in `dir`, allowing the
/// differences listed in `known_file`; panics with every other difference.
fn agree_with(corpus: &[(String, Vec<u8>)], dir: &str, known_file: &str, oracle: &str) {
    let known = read_known(known_file);
    let mut disagreements = Vec::new();
    let mut agreed = 0;
    for (name, src) in corpus {
        let want = read_recorded(dir, name);
        let got = ignis::validate_cmd::check(src, false);
        let same = (want.exit != 0) == (got.exit != 0)
            && error_locations(&want.lines) == error_locations(&got.lines);
        match (same, known.contains_key(name)) {
            (true, false) => agreed += 1,
            (false, true) => {}
            (true, true) => disagreements.push(format!(
                "{name}: listed as a known difference but now agrees; remove it from {known_file}"
            )),
            (false, false) => disagreements.push(format!(
                "{name}:\n  {oracle} (exit {}): {:?}\n  ignis (exit {}): {:?}",
                want.exit, want.lines, got.exit, got.lines
            )),
        }
    }
    for n in known.keys() {
        if !corpus.iter().any(|(c, _)| c == n) {
            disagreements.push(format!("{n}: in {known_file} but not in the corpus"));
        }
    }
    let recorded = std::fs::read_dir(diff_dir().join(dir)).unwrap().count();
    if recorded != corpus.len() {
        disagreements.push(format!(
            "{dir} holds {recorded} recordings for {} configs: re-record (tests/diff/README.md)",
            corpus.len()
        ));
    }
    println!(
        "differential: {agreed} of {} configs agree with {oracle}, {} known differences",
        corpus.len(),
        known.len()
    );
    assert!(disagreements.is_empty(), "{}", disagreements.join("\n"));
}

#[test]
fn ignis_agrees_with_ignition_2_14() {
    let corpus = corpus("diff-corpus-ignis");
    assert!(
        corpus.len() >= 300,
        "corpus has only {} configs",
        corpus.len()
    );
    agree_with(
        &corpus,
        "expected-2.14",
        "known-differences.txt",
        "Ignition 2.14",
    );
}

/// The recorded verdicts of upstream Ignition v2.26.0 (tests/diff/README.md).
#[test]
fn ignis_agrees_with_ignition_2_26_recordings() {
    let corpus = corpus("diff-corpus-226");
    agree_with(
        &corpus,
        "expected-2.26",
        "known-differences-2.26.txt",
        "Ignition v2.26.0",
    );
}

/// The same for the 3.3.0 configs at every newer spec version, which 2.14 cannot read.
#[test]
fn ignis_agrees_with_ignition_2_26_on_newer_specs() {
    let corpus = bumped(&corpus("diff-corpus-226-newer"));
    assert!(corpus.len() >= 1000, "only {} bumped configs", corpus.len());
    agree_with(
        &corpus,
        "expected-2.26-newer",
        "known-differences-2.26-newer.txt",
        "Ignition v2.26.0",
    );
}

/// The recordings must be what the real Ignition prints: re-run it when it is available.
#[test]
fn recordings_match_real_ignition() {
    let bin = std::env::var("IGNITION_VALIDATE").unwrap_or_else(|_| DEFAULT_VALIDATE.into());
    if !Path::new(&bin).exists() {
        skip::skip(
            "recordings_match_real_ignition",
            &format!("{bin} not found (run scripts/setup-deps)"),
        );
        return;
    }
    live_check(
        &bin,
        "diff-live",
        "expected-2.14",
        corpus("diff-corpus-live"),
    );
}

/// The v2.26.0 recordings against the oracle build, when this machine has it (never in CI:
/// it is built from source, see tests/diff/README.md).
#[test]
fn recordings_match_ignition_2_26() {
    let bin = std::env::var("IGNITION_226_VALIDATE")
        .unwrap_or_else(|_| "/opt/ignis-oracle/bin/ignition-validate".into());
    if !Path::new(&bin).exists() {
        skip::skip_optional(
            "recordings_match_ignition_2_26",
            &format!("no Ignition v2.26.0 validator at {bin} (see tests/diff/README.md)"),
        );
        return;
    }
    let corpus = corpus("diff-corpus-live-226");
    live_check(
        &bin,
        "diff-live-226",
        "expected-2.26-newer",
        bumped(&corpus),
    );
    live_check(&bin, "diff-live-226", "expected-2.26", corpus);
}

/// Runs `bin` on every config and compares exit status and output with the recordings in
/// `expected`.
fn live_check(bin: &str, scratch: &str, expected: &str, corpus: Vec<(String, Vec<u8>)>) {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(scratch);
    std::fs::create_dir_all(&dir).unwrap();
    let mut bad = Vec::new();
    for (name, src) in corpus {
        let f = dir.join(format!("{name}.ign"));
        std::fs::write(&f, &src).unwrap();
        let out = Command::new(bin).arg(&f).output().unwrap();
        let mut text = String::from_utf8_lossy(&out.stdout).into_owned();
        text.push_str(&String::from_utf8_lossy(&out.stderr));
        // Ignition prints several unused keys of one object in Go's random map order.
        let mut lines: Vec<String> = text.lines().map(String::from).collect();
        lines.sort();
        let want = read_recorded(expected, &name);
        let mut want_lines = want.lines.clone();
        want_lines.sort();
        if want.exit != out.status.code().unwrap_or(-1) || want_lines != lines {
            bad.push(format!(
                "{name}: recorded {:?}, real {:?}",
                want.lines, lines
            ));
        }
    }
    assert!(
        bad.is_empty(),
        "recordings in {expected} out of date:\n{}",
        bad.join("\n")
    );
}
