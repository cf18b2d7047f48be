//! Golden config tests: `tests/golden/{bad,ok,gates}/NAME.ign` run through `ignis validate
//! --print`; the exit status and every output line must equal `NAME.out`. bad/ cases must fail,
//! ok/ cases must pass. `UPDATE_GOLDEN=1 cargo test --test golden` rewrites the .out files
//! (review the diff before committing).

use std::path::Path;

fn render(src: &[u8]) -> String {
    let out = ignis::validate_cmd::check(src, false);
    let mut s = format!("exit {}\n", out.exit);
    for l in &out.lines {
        s.push_str(l);
        s.push('\n');
    }
    if let Some(p) = &out.parsed {
        s.push_str(&ignis::config::to_canonical_json(&p.config));
        s.push('\n');
    }
    s
}

fn run_dir(sub: &str, want_exit: Option<i32>) -> usize {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/golden")
        .join(sub);
    let update = std::env::var_os("UPDATE_GOLDEN").is_some();
    let mut names: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "ign"))
        .collect();
    names.sort();
    let mut failures = Vec::new();
    for p in &names {
        let got = render(&std::fs::read(p).unwrap());
        let out = p.with_extension("out");
        if update {
            std::fs::write(&out, &got).unwrap();
        }
        let want = std::fs::read_to_string(&out).unwrap_or_default();
        if got != want {
            failures.push(format!("{}:\n--- want\n{want}--- got\n{got}", p.display()));
        }
        if let Some(code) = want_exit {
            if !got.starts_with(&format!("exit {code}\n")) {
                failures.push(format!("{}: expected exit {code}", p.display()));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    names.len()
}

#[test]
fn bad_configs_report_each_rule() {
    assert!(run_dir("bad", Some(1)) >= 80);
}

#[test]
fn ok_configs_print_canonical_form() {
    assert!(run_dir("ok", Some(0)) >= 10);
}

#[test]
fn version_gates() {
    assert!(run_dir("gates", None) >= 30);
}

/// Inputs the fuzzer once broke (`fuzz/regressions/`): they must not panic, and an accepted
/// config must round-trip through its canonical form.
#[test]
fn fuzz_regressions() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/regressions");
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        let out = ignis::validate_cmd::check(&std::fs::read(&p).unwrap(), false);
        if let Some(parsed) = out.parsed {
            let canon = ignis::config::to_canonical_json(&parsed.config);
            let again = ignis::config::parse_cached(canon.as_bytes()).unwrap_or_else(|e| {
                panic!("{}: canonical form does not parse: {e:?}", p.display())
            });
            assert_eq!(again.config, parsed.config, "{}", p.display());
        }
    }
}
