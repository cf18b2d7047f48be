//! The Butane corpus (tests/butane/): each config translated and compared, as parsed JSON, with
//! what upstream Butane produced; diagnostics compared by level, path, line:column, message.

use ignis_butane::{translate, Level, Options};
use serde_json::Value;
use std::io::Read;
use std::path::{Path, PathBuf};

fn corpus() -> PathBuf {
    // Canonical, as Butane cleans the paths it names in its messages.
    std::fs::canonicalize(Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/butane")).unwrap()
}

/// gzip data URLs become their decompressed contents, so equal contents compare equal.
fn normalise(v: &mut Value) {
    match v {
        Value::Object(m) => {
            let gz = m.get("compression").and_then(Value::as_str) == Some("gzip");
            if gz {
                // Only URLs this translator compressed (base64); a user's own stays as is.
                if let Some(Value::String(src)) = m.get_mut("source") {
                    let raw = src.strip_prefix("data:;base64,").map(decode_b64);
                    let mut out = String::new();
                    if let Some(raw) = raw {
                        if flate2::read::GzDecoder::new(&raw[..])
                            .read_to_string(&mut out)
                            .is_ok()
                        {
                            *src = format!("gunzipped:{out}");
                        }
                    }
                }
            }
            m.values_mut().for_each(normalise);
        }
        Value::Array(a) => a.iter_mut().for_each(normalise),
        _ => {}
    }
}

fn decode_b64(s: &str) -> Vec<u8> {
    const T: &str = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut bits = 0u32;
    let mut n = 0;
    let mut out = Vec::new();
    for c in s.chars().filter(|&c| c != '=') {
        bits = (bits << 6) | T.find(c).unwrap() as u32;
        n += 6;
        if n >= 8 {
            n -= 8;
            out.push((bits >> n) as u8);
        }
    }
    out
}

fn field_matches(expected: &str, actual: &str) -> bool {
    expected == "*" || expected == actual
}

#[test]
fn corpus_matches_butane() {
    let mut names: Vec<String> = std::fs::read_dir(corpus())
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter_map(|n| n.strip_suffix(".bu").map(String::from))
        .collect();
    names.sort();
    assert!(names.len() >= 25, "corpus too small: {}", names.len());
    let mut failures = Vec::new();
    for name in &names {
        let dir = corpus();
        let src = std::fs::read(dir.join(format!("{name}.bu"))).unwrap();
        let files = dir.join(format!("{name}.d"));
        let opts = Options {
            files_dir: files.is_dir().then_some(files.clone()),
        };
        // Messages naming a local file name it under the files directory as given (-d NAME.d).
        let files_shown = files.display().to_string();
        let t = translate(&src, &opts);
        // Diagnostics.
        let expected: Vec<String> = std::fs::read_to_string(dir.join(format!("{name}.err")))
            .map(|s| s.lines().map(String::from).collect())
            .unwrap_or_default();
        let got: Vec<String> = t
            .report
            .entries
            .iter()
            .map(|e| {
                let level = if e.level == Level::Error {
                    "error"
                } else {
                    "warning"
                };
                let pos = e
                    .pos
                    .map(|p| format!("{}:{}", p.line, p.col))
                    .unwrap_or_default();
                let message = e.message.replace(&files_shown, &format!("{name}.d"));
                format!("{level}|{}|{pos}|{message}", e.path)
            })
            .collect();
        // Order-insensitive: every expected entry matches one entry produced, none left over.
        let matches = |e: &str, g: &str| {
            let e: Vec<&str> = e.splitn(4, '|').collect();
            let g: Vec<&str> = g.splitn(4, '|').collect();
            let (el, ec) = e[2].split_once(':').unwrap_or(("*", "*"));
            let (gl, gc) = g[2].split_once(':').unwrap_or(("", ""));
            e[0] == g[0]
                && field_matches(e[1], g[1])
                && field_matches(el, gl)
                && field_matches(ec, gc)
                && (e[3] == "~" || e[3] == g[3])
        };
        let mut left = got.clone();
        let mut same = true;
        for e in &expected {
            match left.iter().position(|g| matches(e, g)) {
                Some(i) => {
                    left.remove(i);
                }
                None => same = false,
            }
        }
        same &= left.is_empty();
        if !same {
            failures.push(format!(
                "{name}: diagnostics\n  expected {expected:?}\n  got      {got:?}"
            ));
        }
        // The config.
        let json_path = dir.join(format!("{name}.json"));
        match (std::fs::read(&json_path).ok(), &t.config) {
            (Some(want), Some(got)) => {
                let mut want: Value = serde_json::from_slice(&want).unwrap();
                // Butane's own output must be something ignis accepts.
                if let Err(e) = ignis_config::parse(&serde_json::to_vec(&want).unwrap()) {
                    failures.push(format!(
                        "{name}: expected config rejected by ignis-config: {:?}",
                        e.failure
                    ));
                }
                let mut got = got.clone();
                normalise(&mut want);
                normalise(&mut got);
                if want != got {
                    failures.push(format!(
                        "{name}: config differs\n  expected {}\n  got      {}",
                        want, got
                    ));
                }
            }
            (None, None) => {}
            (Some(_), None) => failures.push(format!("{name}: translation failed: {got:?}")),
            (None, Some(c)) => failures.push(format!("{name}: expected failure, got {c}")),
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} failed:\n{}",
        failures.len(),
        names.len(),
        failures.join("\n")
    );
}
