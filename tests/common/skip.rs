//! Skipping a test says so: on the terminal (past the test harness's output capture), in
//! `target/tmp/skipped-tests.txt` (scripts/test lists it at the end of a run), and never
//! silently where the run promises every oracle (CI, or scripts/test as root).

// Included on its own by test files that do not use `common` (not every one calls both).
#![allow(dead_code)]

use std::io::Write;

/// Whether this run promises that nothing needed is missing: `CI` is set, or scripts/test set
/// `IGNIS_STRICT_SKIPS=1` (it does as root, after scripts/setup-deps installed every oracle).
pub fn strict() -> bool {
    std::env::var_os("CI").is_some() || std::env::var("IGNIS_STRICT_SKIPS").is_ok_and(|v| v == "1")
}

/// Skips `test` because of `reason`, something a full run provides (root, an oracle binary,
/// the shared corpus): a failure in a strict run, recorded and printed otherwise. The caller
/// returns right after.
pub fn skip(test: &str, reason: &str) {
    assert!(
        !strict(),
        "{test} cannot be skipped in this run (CI or IGNIS_STRICT_SKIPS=1): {reason}"
    );
    record(test, reason);
}

/// Skips `test` because of `reason`, something even a full run may lack (an oracle built by
/// hand, a machine that is a VMware guest): recorded and printed, in every run.
pub fn skip_optional(test: &str, reason: &str) {
    record(test, reason);
}

fn record(test: &str, reason: &str) {
    let line = format!("{test}: SKIPPED: {reason}");
    // Straight to the stream: println! would be captured and shown only on failure.
    let _ = writeln!(std::io::stderr(), "{line}");
    let path = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("skipped-tests.txt");
    if let Ok(mut f) = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
    {
        let _ = writeln!(f, "{line}");
    }
}
