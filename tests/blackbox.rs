//! CoreOS Ignition's own blackbox suite (`../shared/conformance/ignition-blackbox`, data only)
//! run against the ignis binary: every case that needs no block device gets a temp ROOT seeded
//! from `in`, the suite's fixed servers (HTTP 127.0.0.1:8080, TFTP 127.0.0.1:69) and its own
//! servers on loopback, the five stages run as the suite's harness runs them, and `out` (or,
//! for a negative case, a failed stage) checked. Known deviations are listed with their reason
//! in `tests/blackbox/deviations.txt`; anything else that differs fails the test, and a
//! deviation that starts passing fails it too (the list must stay true).
//!
//! Needs root (the cases set owners; TFTP's port 69). The per-area table and the
//! `N passed, N failed` line go to stderr in every run. Knobs: `BLACKBOX_FILTER=substring` runs
//! only the case ids containing it, `BLACKBOX_VERBOSE=1` prints why each deviation differs,
//! `BLACKBOX_PORT_WAIT=seconds` (300) is how long to wait for another run to free the fixed
//! ports. Disk cases (partitions, filesystems, LUKS, RAID) are counted as skipped.

mod common;
#[path = "blackbox/servers.rs"]
mod servers;
#[path = "blackbox/tree.rs"]
mod tree;

use serde_json::Value;
use std::collections::BTreeMap;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

const CORPUS: &str = "../shared/conformance/ignition-blackbox";
const STAGES: [&str; 5] = ["fetch", "disks", "mount", "files", "umount"];
/// The suite's per-case deadline.
const CASE_DEADLINE: Duration = Duration::from_secs(60);

/// A line on the test's stderr directly: libtest captures `println!`, and the summary must
/// show in every run, passing or not.
fn say(line: &str) {
    use std::io::Write;
    let _ = writeln!(std::io::stderr(), "{line}");
}

#[derive(Debug, Clone, PartialEq)]
enum Outcome {
    Pass,
    Fail(String),
    Skip(String),
}

/// `id-or-base-name -> reason`, from deviations.txt (`# ...` comments; `NAME  reason`).
fn deviations() -> BTreeMap<String, String> {
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
    tree::seed(dir, &serde_json::json!({ "files": files }))
}

/// Runs one stage with the harness' flags in `wd`; Err carries the reason and the output.
fn stage(
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
        .env_remove("IGNIS_METADATA_BASE")
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

fn run_case(case: &Value, work: &Path) -> Outcome {
    if case["runnable_in_temp_root"].as_bool() != Some(true) {
        return Outcome::Skip("needs block devices (the disk runner is not built)".into());
    }
    let id = case["id"].as_str().unwrap_or("?");
    let wd = work.join(id);
    let _ = std::fs::remove_dir_all(&wd);
    let root = wd.join("root");
    let prepared = (|| -> Result<Vec<(String, String)>, String> {
        std::fs::create_dir_all(&root).map_err(|e| e.to_string())?;
        let config = case["config"].as_str().unwrap_or("");
        if config.contains("passwd") {
            tree::passwd_prep(&root)?;
        }
        tree::seed(&root, &case["root_in"])?;
        let sys = wd.join("system");
        let dirs = [
            ("IGNITION_SYSTEM_CONFIG_DIR", &sys, "system_dir_files"),
            (
                "IGNITION_SYSTEM_RUNTIME_CONFIG_DIR",
                &wd.join("system-runtime"),
                "system_runtime_dir_files",
            ),
            (
                "IGNITION_SYSTEM_LOCAL_CONFIG_DIR",
                &wd.join("system-local"),
                "system_local_dir_files",
            ),
        ];
        let mut env = Vec::new();
        for (var, dir, key) in dirs {
            write_dir(dir, &case[key])?;
            env.push((var.to_string(), dir.display().to_string()));
        }
        // The host's own kernel command line must not leak into a case that sets none.
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
    })();
    let env = match prepared {
        Ok(e) => e,
        Err(e) => return Outcome::Fail(format!("preparing the case: {e}")),
    };
    let servers = servers::start_case(case["servers"].as_array().map_or(&[], |v| v));
    let config = servers.substitute(case["config"].as_str().unwrap_or(""));
    if let Err(e) = std::fs::write(wd.join("config.ign"), config) {
        return Outcome::Fail(format!("writing config.ign: {e}"));
    }
    // The harness' step 3: unless the case says its config is bad, Ignition parses it without
    // a fatal report. ignis must accept it too, or a negative case could "pass" by refusing a
    // config Ignition takes.
    if case["config_should_be_bad"].as_bool() != Some(true) {
        let v = Command::new(env!("CARGO_BIN_EXE_ignis"))
            .arg("validate")
            .arg(wd.join("config.ign"))
            .output();
        match v {
            Ok(o) if o.status.success() => {}
            Ok(o) => {
                return Outcome::Fail(format!(
                    "ignis validate refuses a config Ignition parses: {}",
                    String::from_utf8_lossy(&o.stdout).trim()
                ))
            }
            Err(e) => return Outcome::Fail(format!("running ignis validate: {e}")),
        }
    }
    let deadline = Instant::now() + CASE_DEADLINE;
    let skip_critical = case["skip_critical_check"].as_bool() == Some(true);
    let negative = case["should_fail"].as_bool() == Some(true);
    for s in STAGES {
        let r = if matches!(s, "fetch" | "disks") {
            Path::new("")
        } else {
            root.as_path()
        };
        if let Err(e) = stage(&wd, s, r, &env, deadline, skip_critical) {
            return if negative {
                Outcome::Pass
            } else {
                Outcome::Fail(e)
            };
        }
    }
    if negative {
        return Outcome::Fail("every stage passed; a stage was expected to fail".into());
    }
    let bad = tree::check(&root, &case["root_out"]);
    if bad.is_empty() {
        Outcome::Pass
    } else {
        Outcome::Fail(bad.join("; "))
    }
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

#[test]
fn ignition_blackbox_suite() {
    let corpus = Path::new(env!("CARGO_MANIFEST_DIR")).join(CORPUS);
    if !corpus.join("cases").is_dir() {
        say(&format!(
            "blackbox: SKIPPED: the corpus is not at {} (shared/ beside the checkout)",
            corpus.display()
        ));
        return;
    }
    if std::fs::metadata("/proc/self")
        .map(|m| m.uid())
        .unwrap_or(1)
        != 0
    {
        say("blackbox: SKIPPED: the cases set file owners (chown): run as root");
        return;
    }
    let fixed: Value =
        serde_json::from_slice(&std::fs::read(corpus.join("fixed_servers.json")).unwrap()).unwrap();
    let mut files: Vec<PathBuf> = std::fs::read_dir(corpus.join("cases"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    // Only the cases named by BLACKBOX_FILTER (a substring of the id), when set.
    let filter = std::env::var("BLACKBOX_FILTER").unwrap_or_default();
    let cases: Vec<Value> = files
        .iter()
        .map(|f| serde_json::from_slice(&std::fs::read(f).unwrap()).unwrap())
        .filter(|c: &Value| c["id"].as_str().unwrap_or("").contains(&filter))
        .collect();
    let devs = deviations();
    let _fixed = servers::start_fixed(&fixed);
    let work = Path::new(env!("CARGO_TARGET_TMPDIR")).join("blackbox");
    let _ = std::fs::remove_dir_all(&work);
    let next = AtomicUsize::new(0);
    let results: Mutex<Vec<(usize, Outcome)>> = Mutex::new(Vec::new());
    let workers = std::thread::available_parallelism()
        .map(|n| n.get() * 4)
        .unwrap_or(8)
        .clamp(4, 16);
    std::thread::scope(|s| {
        for _ in 0..workers {
            s.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(case) = cases.get(i) else { break };
                let o = run_case(case, &work);
                results.lock().unwrap().push((i, o));
            });
        }
    });
    let mut results = results.into_inner().unwrap();
    results.sort_by_key(|(i, _)| *i);
    let mut areas: BTreeMap<String, Tally> = BTreeMap::new();
    let mut total = Tally::default();
    let mut disk_skips = 0;
    let mut unexpected = Vec::new();
    for (i, o) in results {
        let c = &cases[i];
        let id = c["id"].as_str().unwrap_or("?");
        let dev = devs
            .get(id)
            .or_else(|| devs.get(c["base_name"].as_str().unwrap_or("")));
        let t = areas.entry(area(c)).or_default();
        match (o, dev) {
            (Outcome::Skip(why), _) => {
                t.skipped += 1;
                total.skipped += 1;
                if c["runnable_in_temp_root"].as_bool() == Some(true) {
                    say(&format!("SKIP {id}: {why}"));
                } else {
                    disk_skips += 1;
                }
            }
            (Outcome::Pass, None) => {
                t.run += 1;
                t.passed += 1;
                total.run += 1;
                total.passed += 1;
            }
            (Outcome::Fail(why), Some(_)) => {
                t.run += 1;
                t.deviations += 1;
                total.run += 1;
                total.deviations += 1;
                if std::env::var_os("BLACKBOX_VERBOSE").is_some() {
                    say(&format!("DEVIATION {id}: {why}"));
                }
            }
            (Outcome::Pass, Some(reason)) => {
                t.run += 1;
                t.failed += 1;
                total.run += 1;
                total.failed += 1;
                unexpected.push(format!(
                    "{id}: listed as a deviation ({reason}) but passes: remove it from deviations.txt"
                ));
            }
            (Outcome::Fail(why), None) => {
                t.run += 1;
                t.failed += 1;
                total.run += 1;
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
    if disk_skips > 0 {
        say(&format!(
            "{disk_skips} cases skipped: they need block devices (loop devices), which this runner does not set up"
        ));
    }
    say(&format!(
        "blackbox: {} passed, {} failed ({} run, {} listed deviations, {} skipped)",
        total.passed, total.failed, total.run, total.deviations, total.skipped
    ));
    assert!(
        unexpected.is_empty(),
        "{} unexpected blackbox results (see FAIL lines above)",
        unexpected.len()
    );
}
