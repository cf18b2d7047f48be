//! Differential test of the native passwd planner+writer against shadow-utils: each scenario seeds
//! two identical temporary roots, runs the real `groupadd/groupmod/groupdel/useradd/usermod/userdel
//! --root` in one with exactly the argv Ignition builds, and `ignis::passwd` in the other, then
//! compares the verdicts, the six account databases and the trees (type, mode, owner, content).
//!
//! Needs root (for --root, chown and a proc mount so useradd can copy nested skeleton
//! directories) and shadow-utils (`apt-get install -y passwd`, present on Debian); otherwise it is
//! skipped with the reason printed. /usr/lib/passwd and /usr/lib/group are served to shadow-utils
//! by a tiny NSS module built from tests/passwd/nss_altfiles_test.c (nss-altfiles is not packaged
//! in Debian). shadow-utils' `-` backup files and lock file are not part of the contract.

mod common;

use common::is_root;

use ignis::config::types::{PasswdGroup, PasswdUser};
use ignis::passwd::{self, target::Target};
use ignis::sys::root::Root;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::Command;

#[path = "passwd/scenarios.rs"]
mod scenarios;
use scenarios::*;
#[path = "passwd/shadow.rs"]
mod shadow;
use shadow::*;

fn run_ignis(root: &Path, groups: &[PasswdGroup], users: &[PasswdUser]) -> Result<(), String> {
    let r = Root::open(root).map_err(|e| e.to_string())?;
    let t = Target::new(&r);
    let inputs = passwd::apply::read_inputs(&t, EPOCH / 86_400).map_err(|e| e.to_string())?;
    let plan = passwd::plan(&inputs, groups, users).map_err(|e| e.to_string())?;
    for op in &plan.ops {
        assert!(
            !op.contains("$6$"),
            "a password hash leaked into the op log: {op}"
        );
    }
    passwd::apply::apply(&t, &plan).map_err(|e| e.to_string())
}

/// A tree snapshot: path -> (type, mode, uid, gid, content or link target).
fn snapshot(root: &Path) -> BTreeMap<String, (char, u32, u32, u32, Vec<u8>)> {
    fn walk(root: &Path, dir: &Path, out: &mut BTreeMap<String, (char, u32, u32, u32, Vec<u8>)>) {
        let mut entries: Vec<_> = fs::read_dir(dir).unwrap().map(|e| e.unwrap()).collect();
        entries.sort_by_key(|e| e.file_name());
        for e in entries {
            let p = e.path();
            let rel = p.strip_prefix(root).unwrap().to_string_lossy().into_owned();
            let name = e.file_name().to_string_lossy().into_owned();
            if rel == "proc"
                || (rel.starts_with("etc/")
                    && !rel[4..].contains('/')
                    && (name.ends_with('-') || name == ".pwd.lock"))
            {
                continue;
            }
            let m = fs::symlink_metadata(&p).unwrap();
            let ft = m.file_type();
            let (kind, body) = if ft.is_symlink() {
                (
                    'l',
                    fs::read_link(&p)
                        .unwrap()
                        .into_os_string()
                        .into_encoded_bytes(),
                )
            } else if ft.is_dir() {
                ('d', Vec::new())
            } else if ft.is_file() {
                ('f', fs::read(&p).unwrap())
            } else {
                ('o', Vec::new())
            };
            out.insert(rel, (kind, m.mode() & 0o7777, m.uid(), m.gid(), body));
            if ft.is_dir() {
                walk(root, &p, out);
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(root, root, &mut out);
    out
}

struct ProcMount(PathBuf);

impl ProcMount {
    fn new(root: &Path) -> Option<Self> {
        let target = root.join("proc");
        let ok = Command::new("mount")
            .args(["-t", "proc", "proc"])
            .arg(&target)
            .status()
            .is_ok_and(|s| s.success());
        ok.then_some(ProcMount(target))
    }
}

impl Drop for ProcMount {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.0).status();
    }
}

fn describe_diff(
    a: &BTreeMap<String, (char, u32, u32, u32, Vec<u8>)>,
    b: &BTreeMap<String, (char, u32, u32, u32, Vec<u8>)>,
) -> Vec<String> {
    let mut out = Vec::new();
    for k in a.keys().chain(b.keys().filter(|k| !a.contains_key(*k))) {
        match (a.get(k), b.get(k)) {
            (Some(x), Some(y)) if x == y => {}
            (Some(x), Some(y)) => out.push(format!(
                "{k}: shadow ({} {:o} {}:{} {:?}) ignis ({} {:o} {}:{} {:?})",
                x.0,
                x.1,
                x.2,
                x.3,
                String::from_utf8_lossy(&x.4),
                y.0,
                y.1,
                y.2,
                y.3,
                String::from_utf8_lossy(&y.4)
            )),
            (Some(_), None) => out.push(format!("{k}: only after shadow-utils")),
            (None, Some(_)) => out.push(format!("{k}: only after ignis")),
            (None, None) => {}
        }
    }
    out
}

#[test]
fn passwd_matches_shadow_utils() {
    if !is_root() {
        common::skip::skip(
            "passwd_matches_shadow_utils",
            "the passwd differential test needs root (chown, --root, proc mount)",
        );
        return;
    }
    if find_tool("useradd").is_none() {
        common::skip::skip(
            "passwd_matches_shadow_utils",
            "shadow-utils not installed (apt-get install -y passwd)",
        );
        return;
    }
    let work = Path::new(env!("CARGO_TARGET_TMPDIR")).join("passwd-diff");
    let _ = fs::remove_dir_all(&work);
    fs::create_dir_all(&work).unwrap();
    let nss_lib = work.join("libnss_altfiles.so.2");
    let cc = Command::new("cc")
        .args(["-shared", "-fPIC", "-O2", "-o"])
        .arg(&nss_lib)
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/passwd/nss_altfiles_test.c"))
        .status();
    if !cc.is_ok_and(|s| s.success()) {
        common::skip::skip(
            "passwd_matches_shadow_utils",
            "cannot build the altfiles NSS test module with cc",
        );
        return;
    }
    let mut failures = Vec::new();
    let (mut shadow_time, mut ignis_time) = (std::time::Duration::ZERO, std::time::Duration::ZERO);
    let all = scenarios();
    for (i, sc) in all.iter().enumerate() {
        let groups: Vec<PasswdGroup> =
            serde_json::from_value(sc.passwd.get("groups").cloned().unwrap_or(json!([]))).unwrap();
        let users: Vec<PasswdUser> =
            serde_json::from_value(sc.passwd.get("users").cloned().unwrap_or(json!([]))).unwrap();
        let dir = work.join(format!("{i:02}"));
        let (a, b) = (dir.join("shadow"), dir.join("ignis"));
        for r in [&a, &b] {
            fs::create_dir_all(r).unwrap();
            seed_base(r, &nss_lib);
            (sc.seed)(r);
        }
        let Some(mount) = ProcMount::new(&a) else {
            common::skip::skip(
                "passwd_matches_shadow_utils",
                "cannot mount proc in the shadow-utils root",
            );
            return;
        };
        let started = std::time::Instant::now();
        let want = run_shadow(&a, &groups, &users);
        shadow_time += started.elapsed();
        drop(mount);
        let started = std::time::Instant::now();
        let got = run_ignis(&b, &groups, &users);
        ignis_time += started.elapsed();
        let mut problems = Vec::new();
        if want.is_ok() != sc.ok {
            problems.push(format!(
                "shadow-utils verdict {want:?}, scenario expects ok={}",
                sc.ok
            ));
        }
        match (&want, &got) {
            (Ok(()), Ok(())) => problems.extend(describe_diff(&snapshot(&a), &snapshot(&b))),
            (Err(_), Err(_)) => {}
            _ => problems.push(format!(
                "verdicts differ: shadow-utils {want:?}, ignis {got:?}"
            )),
        }
        if problems.is_empty() {
            println!("ok   {:2} {}", i, sc.name);
            let _ = fs::remove_dir_all(&dir);
        } else {
            println!("FAIL {:2} {} (roots kept in {})", i, sc.name, dir.display());
            for p in &problems {
                println!("       {p}");
            }
            failures.push(sc.name);
        }
    }
    println!(
        "{} scenarios, {} failed; time in shadow-utils {:?}, in ignis {:?}",
        all.len(),
        failures.len(),
        shadow_time,
        ignis_time
    );
    assert!(
        failures.is_empty(),
        "scenarios differing from shadow-utils: {failures:?}"
    );
}
