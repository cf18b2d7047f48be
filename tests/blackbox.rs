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
//! ports, `BLACKBOX_CORPUS=dir` runs another copy of the corpus. Disk cases (partitions, filesystems, LUKS, RAID) are counted as skipped here:
//! `tests/blackbox_disks.rs` runs them on loop devices.

mod common;
#[path = "blackbox/harness.rs"]
mod harness;
#[path = "blackbox/servers.rs"]
mod servers;
#[path = "blackbox/tree.rs"]
mod tree;

use harness::{say, Outcome, CASE_DEADLINE};
use serde_json::Value;
use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::Instant;

const STAGES: [&str; 5] = ["fetch", "disks", "mount", "files", "umount"];

fn run_case(case: &Value, work: &Path) -> Outcome {
    if case["runnable_in_temp_root"].as_bool() != Some(true) {
        return Outcome::Skip("they need block devices: tests/blackbox_disks.rs runs them".into());
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
        harness::case_env(case, &wd)
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
    if let Err(e) = harness::validate(case, &wd.join("config.ign")) {
        return Outcome::Fail(e);
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
        if let Err(e) = harness::stage(&wd, s, r, &env, deadline, skip_critical) {
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

#[test]
fn ignition_blackbox_suite() {
    let Some(corpus) = harness::corpus() else {
        common::skip::skip(
            "ignition_blackbox_suite",
            &format!(
                "the corpus is not at {} (shared/ beside the checkout)",
                harness::CORPUS
            ),
        );
        return;
    };
    if std::fs::metadata("/proc/self")
        .map(|m| m.uid())
        .unwrap_or(1)
        != 0
    {
        common::skip::skip(
            "ignition_blackbox_suite",
            "the cases set file owners (chown): run as root",
        );
        return;
    }
    let fixed: Value =
        serde_json::from_slice(&std::fs::read(corpus.join("fixed_servers.json")).unwrap()).unwrap();
    let cases = harness::load_cases(&corpus);
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
    harness::report("blackbox", &cases, results, |c| {
        c["runnable_in_temp_root"].as_bool() != Some(true)
    });
}
