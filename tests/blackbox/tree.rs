//! A case's ROOT partition as a directory: seeding it from `in` the way the suite's harness
//! does (directories, then files, then links; modes as given, then owners), and checking it
//! against `out` (each listed node's type, contents, mode and owner, link targets, hard links
//! sharing an inode, removed nodes gone; nothing else in the tree is looked at).

use serde_json::Value;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

fn at(root: &Path, rel: &str) -> PathBuf {
    root.join(rel.trim_start_matches('/'))
}

fn nodes<'a>(v: &'a Value, key: &str) -> impl Iterator<Item = &'a Value> {
    v[key].as_array().into_iter().flatten()
}

fn s<'a>(n: &'a Value, k: &str) -> &'a str {
    n[k].as_str().unwrap_or("")
}

fn num(n: &Value, k: &str) -> u32 {
    n[k].as_u64().unwrap_or(0) as u32
}

fn chown(p: &Path, n: &Value) -> Result<(), String> {
    std::os::unix::fs::lchown(p, Some(num(n, "uid")), Some(num(n, "gid")))
        .map_err(|e| format!("chown {}: {e}", p.display()))
}

fn parent(p: &Path) -> Result<(), String> {
    match p.parent() {
        Some(d) => std::fs::create_dir_all(d).map_err(|e| format!("mkdir {}: {e}", d.display())),
        None => Ok(()),
    }
}

/// Creates `root_in` under `root`.
pub fn seed(root: &Path, tree: &Value) -> Result<(), String> {
    const UMASK: u32 = 0o022;
    for d in nodes(tree, "directories") {
        let p = at(root, s(d, "path"));
        std::fs::create_dir_all(&p).map_err(|e| format!("mkdir {}: {e}", p.display()))?;
        let mode = num(d, "mode") & !UMASK;
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(mode))
            .map_err(|e| format!("chmod {}: {e}", p.display()))?;
        chown(&p, d)?;
    }
    for f in nodes(tree, "files") {
        let p = at(root, s(f, "path"));
        parent(&p)?;
        std::fs::write(&p, s(f, "contents")).map_err(|e| format!("write {}: {e}", p.display()))?;
        let mode = num(f, "mode") & !UMASK;
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(mode))
            .map_err(|e| format!("chmod {}: {e}", p.display()))?;
        chown(&p, f)?;
    }
    for l in nodes(tree, "links") {
        let p = at(root, s(l, "path"));
        parent(&p)?;
        if l["hard"].as_bool() == Some(true) {
            std::fs::hard_link(at(root, s(l, "target")), &p)
        } else {
            std::os::unix::fs::symlink(s(l, "target"), &p)
        }
        .map_err(|e| format!("link {}: {e}", p.display()))?;
        chown(&p, l)?;
    }
    Ok(())
}

/// What upstream's harness adds to ROOT when the config mentions `passwd`.
pub fn passwd_prep(root: &Path) -> Result<(), String> {
    for d in ["home", "usr/bin", "usr/sbin", "usr/lib64", "etc"] {
        std::fs::create_dir_all(root.join(d)).map_err(|e| format!("mkdir {d}: {e}"))?;
    }
    for (link, to) in [
        ("lib64", "usr/lib64"),
        ("bin", "usr/bin"),
        ("sbin", "usr/sbin"),
    ] {
        std::os::unix::fs::symlink(root.join(to), root.join(link))
            .map_err(|e| format!("symlink {link}: {e}"))?;
    }
    Ok(())
}

/// Every difference between `root` and the expected `root_out`.
pub fn check(root: &Path, tree: &Value) -> Vec<String> {
    let mut bad = Vec::new();
    let meta = |rel: &str| std::fs::symlink_metadata(at(root, rel));
    let owner = |bad: &mut Vec<String>, n: &Value, m: &std::fs::Metadata| {
        let (u, g) = (num(n, "uid"), num(n, "gid"));
        if (m.uid(), m.gid()) != (u, g) {
            bad.push(format!(
                "{}: owner {}:{}, expected {u}:{g}",
                s(n, "path"),
                m.uid(),
                m.gid()
            ));
        }
    };
    let mode = |bad: &mut Vec<String>, n: &Value, m: &std::fs::Metadata| {
        let want = num(n, "mode");
        if want != 0 && m.mode() & 0o7777 != want {
            bad.push(format!(
                "{}: mode {:o}, expected {want:o}",
                s(n, "path"),
                m.mode() & 0o7777
            ));
        }
    };
    for f in nodes(tree, "files") {
        let path = s(f, "path");
        match meta(path) {
            Err(e) => bad.push(format!("{path}: missing ({e})")),
            Ok(m) if !m.is_file() => bad.push(format!("{path}: not a regular file")),
            Ok(m) => {
                let want = s(f, "contents");
                if !want.is_empty() {
                    match std::fs::read(at(root, path)) {
                        Ok(got) if got == want.as_bytes() => {}
                        Ok(got) => bad.push(format!(
                            "{path}: contents {:?}, expected {want:?}",
                            String::from_utf8_lossy(&got)
                        )),
                        Err(e) => bad.push(format!("{path}: {e}")),
                    }
                }
                mode(&mut bad, f, &m);
                owner(&mut bad, f, &m);
            }
        }
    }
    for d in nodes(tree, "directories") {
        let path = s(d, "path");
        match meta(path) {
            Err(e) => bad.push(format!("{path}: missing ({e})")),
            Ok(m) if !m.is_dir() => bad.push(format!("{path}: not a directory")),
            Ok(m) => {
                mode(&mut bad, d, &m);
                owner(&mut bad, d, &m);
            }
        }
    }
    for l in nodes(tree, "links") {
        let path = s(l, "path");
        let target = s(l, "target");
        let m = match meta(path) {
            Err(e) => {
                bad.push(format!("{path}: missing ({e})"));
                continue;
            }
            Ok(m) => m,
        };
        if l["hard"].as_bool() == Some(true) {
            match meta(target) {
                Ok(t) if t.ino() == m.ino() && t.dev() == m.dev() => {}
                Ok(_) => bad.push(format!("{path}: not a hard link to {target}")),
                Err(e) => bad.push(format!("{path}: hard link target {target}: {e}")),
            }
        } else if !m.file_type().is_symlink() {
            bad.push(format!("{path}: not a symlink"));
        } else {
            match std::fs::read_link(at(root, path)) {
                Ok(t) if t == Path::new(target) => {}
                Ok(t) => bad.push(format!(
                    "{path}: symlink to {}, expected {target}",
                    t.display()
                )),
                Err(e) => bad.push(format!("{path}: {e}")),
            }
        }
    }
    for r in nodes(tree, "removed_nodes") {
        let path = s(r, "path");
        if meta(path).is_ok() {
            bad.push(format!("{path}: should not exist"));
        }
    }
    bad
}
