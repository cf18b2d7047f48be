//! The files differential corpus against Ignition v2.26.0, through recordings: the trees
//! v2.26.0 leaves (one golden file per case in `tests/diff/files-2.26/`) are compared with the
//! trees ignis leaves for the same configs, so CI needs neither Go nor Ignition. Recording runs
//! the oracle (`tests/diff/record-files-2.26.sh`); see `tests/diff/README.md`.
//!
//! Same seeds, same command line, same comparison as the 2.14 test in the parent file: every
//! path's type, mode, owner, content (as a SHA-256, plus the text for small files so that a
//! difference can be read from the recording) and link target, with the parent's
//! normalisations. Differences that are deliberate are listed with a reason in
//! `tests/diff/files-2.26/known-differences.txt`; an unlisted difference fails, and so does a
//! listed one that no longer shows up.

use super::{
    case, cases, fake_systemd, find_tool, hex, is_root, no_seed, run_agent, seed_base, snapshot,
    start_server, Case, Entry,
};
use sha2::Digest;
use std::collections::BTreeMap;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

const DEFAULT_ORACLE: &str = "/opt/ignis-oracle/bin/ignition";
const ORACLE_VERSION: &str = "Ignition v2.26.0";

/// Files up to this size are recorded with their text, not only their hash.
const TEXT_MAX: usize = 512;

fn golden_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/diff/files-2.26")
}

/// A case's file name in the golden directory: its name in lower case, runs of anything else
/// than letters and digits as one `-`.
fn slug(name: &str) -> String {
    let mut s = String::new();
    for c in name.chars() {
        if c.is_ascii_alphanumeric() {
            s.push(c.to_ascii_lowercase());
        } else if !s.ends_with('-') {
            s.push('-');
        }
    }
    format!("{}.tree", s.trim_matches('-'))
}

/// What a case's config is before the server's address goes in: a changed case makes its
/// recording stale, which the comparison reports instead of comparing against the old tree.
fn config_id(c: &Case) -> String {
    let cfg = format!(r#"{{"ignition":{{"version":"{}"}},{}}}"#, c.version, c.body);
    format!("sha256:{}", hex(&sha2::Sha256::digest(cfg.as_bytes())))
}

/// One line per path: `PATH<TAB>KIND MODE UID:GID DATA[ hard=FIRST]`.
fn render(tree: &BTreeMap<String, Entry>) -> BTreeMap<String, String> {
    tree.iter()
        .map(|(path, e)| {
            assert!(
                !path.contains(['\t', '\n']),
                "a path the recordings cannot hold: {path:?}"
            );
            let data = match e.kind {
                'f' => {
                    let mut s = format!(
                        "{}B sha256:{}",
                        e.data.len(),
                        hex(&sha2::Sha256::digest(&e.data))
                    );
                    if e.data.len() <= TEXT_MAX {
                        if let Ok(t) = std::str::from_utf8(&e.data) {
                            s.push_str(&format!(" {t:?}"));
                        }
                    }
                    s
                }
                'l' => format!("-> {:?}", String::from_utf8_lossy(&e.data)),
                _ => "-".to_string(),
            };
            let hard = e
                .hard_group
                .as_ref()
                .map(|h| format!(" hard={h}"))
                .unwrap_or_default();
            let line = format!("{} {:04o} {}:{} {data}{hard}", e.kind, e.mode, e.uid, e.gid);
            (path.clone(), line)
        })
        .collect()
}

struct Recording {
    case: String,
    config: String,
    ok: bool,
    tree: BTreeMap<String, String>,
}

fn write_recording(path: &Path, r: &Recording) {
    let mut s = format!(
        "# Recorded from {ORACLE_VERSION} by tests/diff/record-files-2.26.sh: do not edit.\n\
         case: {}\nconfig: {}\nverdict: {}\n",
        r.case,
        r.config,
        if r.ok { "ok" } else { "failed" }
    );
    for (p, line) in &r.tree {
        s.push_str(&format!("{p}\t{line}\n"));
    }
    fs::write(path, s).unwrap();
}

fn read_recording(path: &Path) -> Result<Recording, String> {
    let text = fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let mut r = Recording {
        case: String::new(),
        config: String::new(),
        ok: false,
        tree: BTreeMap::new(),
    };
    for (n, line) in text.lines().enumerate() {
        let bad = || format!("{}:{}: cannot read {line:?}", path.display(), n + 1);
        if line.starts_with('#') {
            continue;
        } else if let Some(v) = line.strip_prefix("case: ") {
            r.case = v.to_string();
        } else if let Some(v) = line.strip_prefix("config: ") {
            r.config = v.to_string();
        } else if let Some(v) = line.strip_prefix("verdict: ") {
            r.ok = match v {
                "ok" => true,
                "failed" => false,
                _ => return Err(bad()),
            };
        } else {
            let (p, rest) = line.split_once('\t').ok_or_else(bad)?;
            r.tree.insert(p.to_string(), rest.to_string());
        }
    }
    Ok(r)
}

/// One block of `known-differences.txt`.
struct Known {
    case: String,
    differs: Vec<String>,
    reason: String,
}

/// Blocks separated by blank lines, each `case:`, `differs:` (comma-separated paths in the
/// target, or `verdict`) and `reason:` (continued on lines that start with spaces).
fn read_known() -> Vec<Known> {
    let path = golden_dir().join("known-differences.txt");
    let text = fs::read_to_string(&path).unwrap();
    let mut out = Vec::new();
    for block in text.split("\n\n") {
        let (mut case, mut differs, mut reason) = (None, Vec::new(), String::new());
        let mut in_reason = false;
        for line in block.lines().filter(|l| !l.starts_with('#')) {
            if let Some(v) = line.strip_prefix("case: ") {
                case = Some(v.trim().to_string());
                in_reason = false;
            } else if let Some(v) = line.strip_prefix("differs: ") {
                differs = v.split(", ").map(|s| s.trim().to_string()).collect();
                in_reason = false;
            } else if let Some(v) = line.strip_prefix("reason: ") {
                reason = v.trim().to_string();
                in_reason = true;
            } else if in_reason && line.starts_with("  ") {
                reason.push(' ');
                reason.push_str(line.trim());
            } else if !line.trim().is_empty() {
                panic!("{}: cannot read {line:?}", path.display());
            }
        }
        match case {
            Some(case) => {
                assert!(
                    !differs.is_empty() && !reason.is_empty(),
                    "{}: {case} needs `differs:` and `reason:`",
                    path.display()
                );
                out.push(Known {
                    case,
                    differs,
                    reason,
                })
            }
            None => assert!(
                differs.is_empty() && reason.is_empty(),
                "{}: a block without `case:`",
                path.display()
            ),
        }
    }
    out
}

/// Seeds `dir/root` for the case and runs `bin`'s fetch and files stages on it (with the
/// stand-in systemd socket for Ignition); returns the verdict, the rendered tree and the log.
fn run_case(
    bin: &Path,
    dir: &Path,
    c: &Case,
    base: &str,
    systemd: Option<&Path>,
) -> (bool, BTreeMap<String, String>, String) {
    let _ = fs::remove_dir_all(dir);
    fs::create_dir_all(dir).unwrap();
    fs::set_permissions(dir, fs::Permissions::from_mode(0o755)).unwrap();
    let root = dir.join("root");
    seed_base(&root);
    (c.seed)(&root);
    let config = format!(
        r#"{{"ignition":{{"version":"{}"}},{}}}"#,
        c.version,
        c.body.replace("@SRV@", base)
    );
    let out = run_agent(bin, dir, &config, systemd);
    (out.ok, render(&snapshot(&root)), out.log)
}

/// Root and the tools the agents run; `None` with the reason when the test cannot run here.
fn cannot_run(tools: &[&str]) -> Option<String> {
    if !is_root() {
        return Some("needs root (useradd --root, chown, setfiles)".into());
    }
    for tool in tools {
        if find_tool(tool).is_none() {
            assert!(
                std::env::var_os("CI").is_none(),
                "CI must run the v2.26.0 files comparison: {tool} is missing"
            );
            return Some(format!("{tool} not installed"));
        }
    }
    None
}

/// The work directory under the test's scratch space, traversable by created users (Ignition
/// writes SSH keys as the user).
fn work_dir(name: &str) -> PathBuf {
    let work = Path::new(env!("CARGO_TARGET_TMPDIR")).join(name);
    let _ = fs::remove_dir_all(&work);
    fs::create_dir_all(&work).unwrap();
    for d in [Path::new(env!("CARGO_TARGET_TMPDIR")), &work] {
        fs::set_permissions(d, fs::Permissions::from_mode(0o755)).unwrap();
    }
    work
}

/// Cases with specs newer than Ignition 2.14 reads (3.4.0 and later), so compared only here:
/// special mode bits (warned about and dropped before 3.6.0, set from 3.6.0 on) and a mixed
/// config at every newer stable version.
fn newer_cases() -> Vec<Case> {
    const MODES: &str = r#""storage":{
        "files":[{"path":"/etc/m-4755","mode":2541,"contents":{"source":"data:,e"}},
                 {"path":"/etc/m-2711","mode":1481}],
        "directories":[{"path":"/var/tmpdir","mode":1023},{"path":"/srv/shared","mode":1533}]}"#;
    const MIXED: &str = r#""storage":{
        "files":[{"path":"/etc/app/conf","contents":{"source":"@SRV@/gz","compression":"gzip"},"mode":416,"group":{"name":"wheel"}},
                 {"path":"/etc/motd","append":[{"source":"data:,hello%0A"},{"source":"@SRV@/append"}]}],
        "directories":[{"path":"/var/lib/app","mode":488,"user":{"name":"svc"}}],
        "links":[{"path":"/etc/app/current","target":"conf"},{"path":"/etc/app/hard","target":"/etc/app/conf","hard":true}]},
      "systemd":{"units":[{"name":"app.service","enabled":true,"contents":"[Service]\nExecStart=/bin/true\n[Install]\nWantedBy=multi-user.target\n"}]},
      "passwd":{"users":[{"name":"svc","system":true,"sshAuthorizedKeys":["ssh-ed25519 AAAA svc@a"]}],
                "groups":[{"name":"apps","gid":4000}]}"#;
    vec![
        case(
            "newer spec: special mode bits at 3.4.0",
            "3.4.0",
            MODES,
            no_seed,
            true,
        ),
        case(
            "newer spec: special mode bits at 3.5.0",
            "3.5.0",
            MODES,
            no_seed,
            true,
        ),
        case(
            "newer spec: special mode bits at 3.6.0",
            "3.6.0",
            MODES,
            no_seed,
            true,
        ),
        case(
            "newer spec: mixed config at 3.4.0",
            "3.4.0",
            MIXED,
            no_seed,
            true,
        ),
        case(
            "newer spec: mixed config at 3.5.0",
            "3.5.0",
            MIXED,
            no_seed,
            true,
        ),
        case(
            "newer spec: mixed config at 3.6.0",
            "3.6.0",
            MIXED,
            no_seed,
            true,
        ),
    ]
}

/// The parent's corpus and the newer-spec cases.
fn all_cases() -> Vec<Case> {
    let mut v = cases();
    v.extend(newer_cases());
    v
}

/// Re-records the golden trees from the oracle. Runs only with `IGNIS_RECORD_FILES_226=1`
/// (tests/diff/record-files-2.26.sh sets it); the oracle is `IGNITION_226_BIN`, by default
/// the build in /opt/ignis-oracle.
#[test]
fn record_files_2_26() {
    if std::env::var_os("IGNIS_RECORD_FILES_226").is_none() {
        println!("skipped: recording runs only with IGNIS_RECORD_FILES_226=1");
        return;
    }
    let oracle = PathBuf::from(
        std::env::var("IGNITION_226_BIN").unwrap_or_else(|_| DEFAULT_ORACLE.to_string()),
    );
    if !oracle.exists() {
        println!(
            "skipped: no {ORACLE_VERSION} at {} (build it from tag v2.26.0, see tests/diff/README.md)",
            oracle.display()
        );
        return;
    }
    if let Some(why) = cannot_run(&["useradd", "setfiles", "systemctl", "unshare", "mount"]) {
        println!("skipped: {why}");
        return;
    }
    let version = std::process::Command::new(&oracle)
        .arg("-version")
        .output()
        .unwrap();
    let version = String::from_utf8_lossy(&version.stdout).trim().to_string();
    assert_eq!(
        version,
        ORACLE_VERSION,
        "{} is not the oracle the recordings name",
        oracle.display()
    );
    let work = work_dir("files-oracle-226-record");
    let server = start_server();
    let systemd = work.join("fake-systemd");
    fake_systemd::serve(&systemd);
    let base = server.url("");
    let dir = golden_dir();
    fs::create_dir_all(&dir).unwrap();
    for e in fs::read_dir(&dir).unwrap() {
        let p = e.unwrap().path();
        if p.extension().is_some_and(|x| x == "tree") {
            fs::remove_file(p).unwrap();
        }
    }
    let all = all_cases();
    let (mut ok, mut failed) = (0, 0);
    for (i, c) in all.iter().enumerate() {
        let run = work.join(format!("{i:02}"));
        let (verdict, tree, log) = run_case(&oracle, &run, c, &base, Some(&systemd));
        let file = dir.join(slug(c.name));
        assert!(
            !file.exists(),
            "two cases share the file {}",
            file.display()
        );
        write_recording(
            &file,
            &Recording {
                case: c.name.to_string(),
                config: config_id(c),
                ok: verdict,
                tree,
            },
        );
        if verdict {
            ok += 1;
        } else {
            failed += 1;
            let last = log.lines().rfind(|l| l.contains("CRITICAL"));
            println!("failed {i:2} {}: {}", c.name, last.unwrap_or(""));
        }
        let _ = fs::remove_dir_all(&run);
    }
    println!(
        "recorded {} cases from {ORACLE_VERSION} in {} ({ok} succeeded, {failed} failed)",
        all.len(),
        dir.display()
    );
}

#[test]
fn files_stage_matches_ignition_2_26_recordings() {
    if let Some(why) = cannot_run(&["useradd", "setfiles"]) {
        println!("skipped: {why}");
        return;
    }
    let ignis = PathBuf::from(env!("CARGO_BIN_EXE_ignis"));
    let work = work_dir("files-oracle-226");
    let server = start_server();
    let base = server.url("");
    let all = all_cases();
    let known = read_known();
    for k in &known {
        assert!(
            all.iter().any(|c| c.name == k.case),
            "known-differences.txt names a case that does not exist: {}",
            k.case
        );
    }
    let mut names: Vec<String> = all.iter().map(|c| slug(c.name)).collect();
    names.sort();
    for e in fs::read_dir(golden_dir()).unwrap() {
        let f = e.unwrap().file_name().to_string_lossy().into_owned();
        assert!(
            !f.ends_with(".tree") || names.binary_search(&f).is_ok(),
            "tests/diff/files-2.26/{f} records a case the corpus no longer has: re-record"
        );
    }
    let mut failures = Vec::new();
    let mut identical = 0;
    let mut by_reason: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for (i, c) in all.iter().enumerate() {
        let rec = match read_recording(&golden_dir().join(slug(c.name))) {
            Ok(r) if r.case == c.name && r.config == config_id(c) => r,
            Ok(_) => {
                println!("FAIL  {i:2} {}: the recording is of another config: re-record (tests/diff/README.md)", c.name);
                failures.push(c.name);
                continue;
            }
            Err(e) => {
                println!(
                    "FAIL  {i:2} {}: no recording ({e}): re-record (tests/diff/README.md)",
                    c.name
                );
                failures.push(c.name);
                continue;
            }
        };
        let run = work.join(format!("{i:02}"));
        let (ok, tree, log) = run_case(&ignis, &run, c, &base, None);
        let mut diffs = Vec::new();
        if ok != rec.ok {
            let word = |b: bool| if b { "succeeded" } else { "failed" };
            diffs.push((
                "verdict".to_string(),
                format!("verdict: v2.26.0 {}, ignis {}", word(rec.ok), word(ok)),
            ));
        }
        for k in rec
            .tree
            .keys()
            .chain(tree.keys().filter(|k| !rec.tree.contains_key(*k)))
        {
            match (rec.tree.get(k), tree.get(k)) {
                (Some(a), Some(b)) if a == b => {}
                (Some(a), Some(b)) => diffs.push((
                    k.clone(),
                    format!("{k}: v2.26.0 {a}\n           ignis   {b}"),
                )),
                (Some(a), None) => {
                    diffs.push((k.clone(), format!("{k}: only after v2.26.0 ({a})")))
                }
                (None, Some(b)) => diffs.push((k.clone(), format!("{k}: only after ignis ({b})"))),
                (None, None) => {}
            }
        }
        let k = known.iter().find(|k| k.case == c.name);
        let (listed, unlisted): (Vec<_>, Vec<_>) = diffs
            .iter()
            .partition(|(key, _)| k.is_some_and(|k| k.differs.contains(key)));
        let mut problems: Vec<String> = unlisted.iter().map(|(_, d)| d.clone()).collect();
        if let Some(k) = k {
            if listed.is_empty() {
                problems.push(format!(
                    "listed as a known difference ({}) but ignis agrees now: drop it",
                    k.reason
                ));
            }
        }
        if !problems.is_empty() {
            fs::write(run.join("ignis.log"), &log).unwrap();
            println!(
                "FAIL  {i:2} {} (root and log kept in {})",
                c.name,
                run.display()
            );
            for p in &problems {
                println!("         {p}");
            }
            failures.push(c.name);
            continue;
        }
        match k {
            Some(k) => {
                println!("known {i:2} {}: {}", c.name, k.reason);
                for (_, d) in &listed {
                    println!("         {d}");
                }
                by_reason.entry(&k.reason).or_default().push(c.name);
            }
            None => {
                println!("ok    {i:2} {}", c.name);
                identical += 1;
            }
        }
        let _ = fs::remove_dir_all(&run);
    }
    let known_n: usize = by_reason.values().map(Vec::len).sum();
    println!(
        "\n{} configs: {identical} identical trees and verdicts vs {ORACLE_VERSION}, {known_n} known \
         differences, {} failed",
        all.len(),
        failures.len()
    );
    for (reason, cases) in &by_reason {
        println!("  {} x {reason}", cases.len());
    }
    assert!(
        failures.is_empty(),
        "configs where ignis and the {ORACLE_VERSION} recordings differ: {failures:?}"
    );
}
