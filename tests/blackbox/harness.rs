//! What both blackbox runners (`tests/blackbox.rs`, temp-root cases; `tests/blackbox_disks.rs`,
//! loop-device cases) share: the deviation list, the system config dirs and environment of a
//! case, one stage run with the harness' flags and failure rules, and the per-area table with
//! the final `N passed, N failed` line.
#![allow(dead_code)]

use serde_json::Value;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

pub const CORPUS: &str = "../shared/conformance/ignition-blackbox";
/// The suite's per-case deadline.
pub const CASE_DEADLINE: Duration = Duration::from_secs(60);

/// A line on the test's stderr directly: libtest captures `println!`, and the summary must
/// show in every run, passing or not.
pub fn say(line: &str) {
    use std::io::Write;
    let _ = writeln!(std::io::stderr(), "{line}");
}

#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    Pass,
    Fail(String),
    Skip(String),
}

/// The corpus directory, when present (`BLACKBOX_CORPUS` names another copy, e.g. one with
/// deliberately wrong expectations to see the runner catch them).
pub fn corpus() -> Option<PathBuf> {
    let c = match std::env::var_os("BLACKBOX_CORPUS") {
        Some(p) => PathBuf::from(p),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join(CORPUS),
    };
    c.join("cases").is_dir().then_some(c)
}

/// Every case whose id contains `BLACKBOX_FILTER` (all when unset), sorted by file name.
pub fn load_cases(corpus: &Path) -> Vec<Value> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(corpus.join("cases"))
        .expect("reading the corpus' cases/")
        .map(|e| e.expect("a cases/ entry").path())
        .collect();
    files.sort();
    let filter = std::env::var("BLACKBOX_FILTER").unwrap_or_default();
    files
        .iter()
        .map(|f| {
            serde_json::from_slice(&std::fs::read(f).expect("a case file"))
                .unwrap_or_else(|e| panic!("{}: {e}", f.display()))
        })
        .filter(|c: &Value| c["id"].as_str().unwrap_or("").contains(&filter))
        .collect()
}

/// `id-or-base-name -> reason`, from deviations.txt (`# ...` comments; `NAME  reason`).
pub fn deviations() -> BTreeMap<String, String> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/blackbox/deviations.txt");
    let text = std::fs::read_to_string(&path).expect("tests/blackbox/deviations.txt");
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(|l| {
            let (name, reason) = l.split_once(char::is_whitespace).unwrap_or((l, ""));
            assert!(
                !reason.trim().is_empty(),
                "deviations.txt: {name} has no reason"
            );
            (name.to_string(), reason.trim().to_string())
        })
        .collect()
}

/// Node lists of a system config dir, written below `dir`.
fn write_dir(dir: &Path, files: &Value) -> Result<(), String> {
    std::fs::create_dir_all(dir).map_err(|e| e.to_string())?;
    crate::tree::seed(dir, &serde_json::json!({ "files": files }))
}

/// The harness' step 4 below `wd`: the three system config dirs seeded from the case, an
/// empty kernel command line (the host's must not leak into a case that sets none), and the
/// case's `env` with `$SYSTEM_CONFIG_DIR` expanded. Returns the stages' environment.
pub fn case_env(case: &Value, wd: &Path) -> Result<Vec<(String, String)>, String> {
    let sys = wd.join("system");
    let dirs = [
        (
            "IGNITION_SYSTEM_CONFIG_DIR",
            sys.clone(),
            "system_dir_files",
        ),
        (
            "IGNITION_SYSTEM_RUNTIME_CONFIG_DIR",
            wd.join("system-runtime"),
            "system_runtime_dir_files",
        ),
        (
            "IGNITION_SYSTEM_LOCAL_CONFIG_DIR",
            wd.join("system-local"),
            "system_local_dir_files",
        ),
    ];
    let mut env = Vec::new();
    for (var, dir, key) in dirs {
        write_dir(&dir, &case[key])?;
        env.push((var.to_string(), dir.display().to_string()));
    }
    let cmdline = wd.join("no-cmdline");
    std::fs::write(&cmdline, "").map_err(|e| e.to_string())?;
    env.push((
        "IGNITION_KERNEL_CMDLINE_PATH".into(),
        cmdline.display().to_string(),
    ));
    for e in case["env"].as_array().into_iter().flatten() {
        let e = e.as_str().unwrap_or("");
        let e = e.replace("$SYSTEM_CONFIG_DIR", &sys.display().to_string());
        let (k, v) = e.split_once('=').unwrap_or((&e, ""));
        env.push((k.to_string(), v.to_string()));
    }
    Ok(env)
}

/// The harness' step 3: unless the case says its config is bad, Ignition parses it without a
/// fatal report. ignis must accept it too, or a negative case could "pass" by refusing a
/// config Ignition takes.
pub fn validate(case: &Value, config: &Path) -> Result<(), String> {
    if case["config_should_be_bad"].as_bool() == Some(true) {
        return Ok(());
    }
    let v = Command::new(env!("CARGO_BIN_EXE_ignis"))
        .arg("validate")
        .arg(config)
        .output();
    match v {
        Ok(o) if o.status.success() => Ok(()),
        Ok(o) => Err(format!(
            "ignis validate refuses a config Ignition parses: {}",
            String::from_utf8_lossy(&o.stdout).trim()
        )),
        Err(e) => Err(format!("running ignis validate: {e}")),
    }
}

/// Runs one stage with the harness' flags in `wd`; Err carries the reason and the output.
pub fn stage(
    wd: &Path,
    name: &str,
    root: &Path,
    env: &[(String, String)],
    deadline: Instant,
    skip_critical: bool,
) -> Result<(), String> {
    let log = wd.join(format!("{name}.log"));
    let out = std::fs::File::create(&log).map_err(|e| e.to_string())?;
    let err = out.try_clone().map_err(|e| e.to_string())?;
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_ignis"));
    cmd.args(["-platform", "file", "-stage", name, "-root"])
        .arg(root)
        .arg("-log-to-stdout")
        .arg("-config-cache")
        .arg(wd.join("ignition.json"))
        .arg("-neednet")
        .arg(wd.join("neednet"))
        .arg("-state-file")
        .arg(wd.join("state"))
        .current_dir(wd)
        .env_remove("IGNITION_CONFIG_FILE")
        .env_remove("IGNIS_HOST_ROOT")
        .env_remove("IGNIS_HTTP_REROUTE")
        .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .stdin(Stdio::null())
        .stdout(out)
        .stderr(err);
    let mut child = cmd.spawn().map_err(|e| format!("spawning ignis: {e}"))?;
    let status = loop {
        match child.try_wait() {
            Ok(Some(s)) => break s,
            Ok(None) if Instant::now() >= deadline => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!("{name}: still running at the case's 60 s deadline"));
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(5)),
            Err(e) => return Err(e.to_string()),
        }
    };
    let text = std::fs::read_to_string(&log).unwrap_or_default();
    let tail = || {
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(4)..].join(" | ")
    };
    if !status.success() {
        return Err(format!("{name} failed ({status}): {}", tail()));
    }
    if text.contains("panic") {
        return Err(format!("{name}: \"panic\" in its output: {}", tail()));
    }
    if !skip_critical && text.contains("CRITICAL") {
        return Err(format!("{name}: CRITICAL in its output: {}", tail()));
    }
    Ok(())
}

/// `positive/files` and the like, from the case's source file.
fn area(case: &Value) -> String {
    let src = case["source_file"].as_str().unwrap_or("");
    let mut parts = src.trim_start_matches("tests/").split('/');
    format!(
        "{}/{}",
        parts.next().unwrap_or("?"),
        parts.next().unwrap_or("?")
    )
}

#[derive(Default)]
struct Tally {
    run: usize,
    passed: usize,
    failed: usize,
    deviations: usize,
    skipped: usize,
}

/// Sorts the results against the deviation list, prints the FAIL lines, the per-area table,
/// the skip reasons (`quiet_skip` ones counted in one line, the others per case) and the
/// `NAME: N passed, N failed, N skipped` line; panics when anything is unexpected.
pub fn report(
    name: &str,
    cases: &[Value],
    results: Vec<(usize, Outcome)>,
    quiet_skip: impl Fn(&Value) -> bool,
) {
    let devs = deviations();
    let mut areas: BTreeMap<String, Tally> = BTreeMap::new();
    let mut total = Tally::default();
    let mut quiet_skips: BTreeMap<String, usize> = BTreeMap::new();
    let mut loud_skips: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut unexpected = Vec::new();
    let verbose = std::env::var_os("BLACKBOX_VERBOSE").is_some();
    for (i, o) in results {
        let c = &cases[i];
        let id = c["id"].as_str().unwrap_or("?");
        let dev = devs
            .get(id)
            .or_else(|| devs.get(c["base_name"].as_str().unwrap_or("")));
        let t = areas.entry(area(c)).or_default();
        if !matches!(o, Outcome::Skip(_)) {
            t.run += 1;
            total.run += 1;
        }
        match (o, dev) {
            (Outcome::Skip(why), _) => {
                t.skipped += 1;
                total.skipped += 1;
                if quiet_skip(c) {
                    *quiet_skips.entry(why).or_default() += 1;
                } else {
                    loud_skips.entry(why).or_default().push(id.to_string());
                }
            }
            (Outcome::Pass, None) => {
                t.passed += 1;
                total.passed += 1;
            }
            (Outcome::Fail(why), Some(_)) => {
                t.deviations += 1;
                total.deviations += 1;
                if verbose {
                    say(&format!("DEVIATION {id}: {why}"));
                }
            }
            (Outcome::Pass, Some(reason)) => {
                t.failed += 1;
                total.failed += 1;
                unexpected.push(format!(
                    "{id}: listed as a deviation ({reason}) but passes: remove it from deviations.txt"
                ));
            }
            (Outcome::Fail(why), None) => {
                t.failed += 1;
                total.failed += 1;
                unexpected.push(format!("{id}: {why}"));
            }
        }
    }
    for u in &unexpected {
        say(&format!("FAIL {u}"));
    }
    say("area                     run  passed  failed  deviations  skipped");
    for (a, t) in &areas {
        say(&format!(
            "{a:<24} {:>4} {:>7} {:>7} {:>11} {:>8}",
            t.run, t.passed, t.failed, t.deviations, t.skipped
        ));
    }
    for (why, ids) in &loud_skips {
        say(&format!("SKIP {} cases: {why}", ids.len()));
        if verbose {
            for id in ids {
                say(&format!("  {id}"));
            }
        }
    }
    for (why, n) in &quiet_skips {
        say(&format!("{n} cases skipped: {why}"));
    }
    say(&format!(
        "{name}: {} passed, {} failed, {} skipped ({} run, {} listed deviations)",
        total.passed, total.failed, total.skipped, total.run, total.deviations
    ));
    // The reasons again in the panic message: a CI log shows its tail, not the FAIL lines.
    assert!(
        unexpected.is_empty(),
        "{} unexpected {name} results:\n{}",
        unexpected.len(),
        unexpected
            .iter()
            .map(|u| u.chars().take(600).collect::<String>())
            .collect::<Vec<_>>()
            .join("\n")
    );
}
