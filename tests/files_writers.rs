//! The files stage's writer threads: a config whose files run long enough to be written by
//! several threads must give what one thread gives (contents, types, modes, owners, SELinux
//! labels, the created list), and a failure must be the one writing in order meets first,
//! with every file before it written. Needs root (owners, security.selinux attributes).

mod common;

use ignis::stages::files::{ids::Ids, nodes, plan, relabel, Applied};
use ignis::sys::root::Root;
use sha2::Digest;
use std::collections::BTreeMap;
use std::io::Write;
use std::os::unix::fs::MetadataExt;
use std::path::Path;

/// Directories of files, and files per directory.
const DIRS: usize = 12;
const PER_DIR: usize = 20;

fn base64(b: &[u8]) -> String {
    const A: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut s = String::new();
    for c in b.chunks(3) {
        let n = (c[0] as u32) << 16
            | (*c.get(1).unwrap_or(&0) as u32) << 8
            | *c.get(2).unwrap_or(&0) as u32;
        for k in 0..4 {
            s.push(match k <= c.len() {
                true => A[(n >> (18 - 6 * k) & 63) as usize] as char,
                false => '=',
            });
        }
    }
    s
}

/// One file of the config, of four kinds by `i`: plain with a mode, base64 owned by name,
/// gzip with its sha512, no contents with a group id.
fn file(path: &str, i: usize, extra: &str) -> String {
    let body = format!("file {i} at {path}\n");
    let contents = match i % 4 {
        0 => format!(
            r#""source":"data:,{}""#,
            body.replace(' ', "%20").replace('\n', "%0A")
        ),
        1 => format!(r#""source":"data:;base64,{}""#, base64(body.as_bytes())),
        2 => {
            let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
            gz.write_all(body.as_bytes()).unwrap();
            let gz = gz.finish().unwrap();
            format!(
                r#""source":"data:;base64,{}","compression":"gzip","verification":{{"hash":"sha512-{:x}"}}"#,
                base64(&gz),
                sha2::Sha512::digest(body.as_bytes())
            )
        }
        _ => String::new(),
    };
    let owner = match i % 4 {
        0 => r#","mode":384"#,
        1 => r#","user":{"name":"core"}"#,
        3 => r#","group":{"id":1000}"#,
        _ => "",
    };
    format!(r#"{{"path":"{path}","contents":{{{contents}}}{owner}{extra}}}"#)
}

/// The config: DIRS directories of PER_DIR files (some overwriting seeded files, some through
/// a symlinked directory), one appended file in the middle (which ends a run), a directory and
/// links around them, and `extra` files first; `bad` files get a wrong hash.
fn config_with(extra_files: &[&str], bad: &[usize]) -> ignis::config::types::Config {
    let mut files: Vec<String> = extra_files.iter().map(|f| f.to_string()).collect();
    for d in 0..DIRS {
        for f in 0..PER_DIR {
            let i = files.len();
            let dir = match d {
                2 => "alias".to_string(),
                _ => format!("d{d:02}"),
            };
            let path = format!("/etc/w/{dir}/f{f:03}");
            let mut extra = String::new();
            if d == 0 && f < 5 {
                extra.push_str(r#","overwrite":true"#);
            }
            if d == 6 && f == 10 {
                extra.push_str(r#","append":[{"source":"data:,appended"}]"#);
            }
            let mut entry = file(&path, i, &extra);
            if bad.contains(&i) {
                entry = format!(
                    r#"{{"path":"{path}","contents":{{"source":"data:,x","verification":{{"hash":"sha512-{}"}}}}}}"#,
                    "0".repeat(128)
                );
            }
            files.push(entry);
        }
    }
    let cfg = format!(
        r#"{{"ignition":{{"version":"3.4.0"}},
        "passwd":{{}},
        "storage":{{"files":[{}],
          "directories":[{{"path":"/var/lib/w","mode":448}}],
          "links":[{{"path":"/etc/w/d05/f000.hard","target":"/etc/w/d05/f001","hard":true}},
                   {{"path":"/etc/w/d07/sym","target":"f003"}}]}}}}"#,
        files.join(",")
    );
    ignis::config::parse_cached(cfg.as_bytes())
        .unwrap_or_else(|e| panic!("{e:?}"))
        .config
}

fn config(bad: &[usize]) -> ignis::config::types::Config {
    config_with(&[], bad)
}

fn seed(r: &Path) {
    std::fs::create_dir_all(r.join("etc/w/d02")).unwrap();
    std::fs::create_dir_all(r.join("etc/w/d00")).unwrap();
    std::os::unix::fs::symlink("d02", r.join("etc/w/alias")).unwrap();
    std::os::unix::fs::symlink("d11", r.join("etc/w/via")).unwrap();
    for f in 0..5 {
        std::fs::write(r.join(format!("etc/w/d00/f{f:03}")), "old\n").unwrap();
    }
    std::fs::write(
        r.join("etc/passwd"),
        "root:x:0:0::/root:/bin/sh\ncore:x:1000:1000::/home/core:/bin/sh\n",
    )
    .unwrap();
    std::fs::write(r.join("etc/group"), "root:x:0:\ncore:x:1000:\n").unwrap();
    let fc = r.join("etc/selinux/targeted/contexts/files");
    std::fs::create_dir_all(&fc).unwrap();
    std::fs::write(
        r.join("etc/selinux/config"),
        "SELINUX=permissive\nSELINUXTYPE=targeted\n",
    )
    .unwrap();
    std::fs::write(
        fc.join("file_contexts"),
        "/etc/w(/.*)?\tsystem_u:object_r:w_t:s0\n/etc/w/d03(/.*)?\tsystem_u:object_r:d3_t:s0\n",
    )
    .unwrap();
}

/// Plans `cfg` on a fresh root in `dir` and writes its nodes with `writers` threads, labelling
/// as the stage does; returns the result, the created paths (sorted) and what was labelled.
fn write(
    dir: &Path,
    cfg: &ignis::config::types::Config,
    writers: usize,
) -> (Result<(), String>, Vec<String>, Vec<String>) {
    seed(dir);
    let root = Root::open(dir).unwrap();
    let ids = Ids::load(&root).unwrap();
    let ops = plan::nodes(&root, cfg, &ids, &[]).unwrap();
    let policy = relabel::policy(&root).unwrap();
    let mut labeller = policy.labels().map(relabel::Labeller::new);
    assert!(labeller.is_some(), "the seeded policy is read natively");
    let fetcher = ignis::resource::Fetcher::new(Default::default(), true);
    let mut out = Applied::default();
    let r = nodes::apply_with(&root, &ops, &fetcher, &mut out, labeller.as_mut(), writers)
        .map_err(|e| e.to_string());
    let mut created = out.created;
    created.sort();
    let mut labelled: Vec<String> = labeller
        .map(|l| l.done.into_iter().collect())
        .unwrap_or_default();
    labelled.sort();
    (r, created, labelled)
}

/// Every entry under `r`: type, mode, owner, contents or target, label.
fn tree(r: &Path) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let mut stack = vec![r.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            let m = std::fs::symlink_metadata(&p).unwrap();
            let what = if m.is_dir() {
                stack.push(p.clone());
                "dir".to_string()
            } else if m.is_symlink() {
                format!("-> {}", std::fs::read_link(&p).unwrap().display())
            } else {
                format!("{:?}", std::fs::read_to_string(&p).unwrap())
            };
            let label = match m.is_symlink() {
                true => None,
                false => xattr(&p),
            };
            let rel = p.strip_prefix(r).unwrap().display().to_string();
            out.insert(
                rel,
                format!("{:o} {}:{} {what} {label:?}", m.mode(), m.uid(), m.gid()),
            );
        }
    }
    out
}

fn xattr(p: &Path) -> Option<String> {
    let mut buf = [0u8; 256];
    let n = rustix::fs::getxattr(p, "security.selinux", &mut buf).ok()?;
    Some(String::from_utf8_lossy(&buf[..n]).into_owned())
}

fn needs_root(test: &str) -> bool {
    if rustix::process::geteuid().is_root() {
        return true;
    }
    common::skip::skip(test, "needs root (owners, security.selinux attributes)");
    false
}

#[test]
fn threads_write_what_one_thread_writes() {
    if !needs_root("threads_write_what_one_thread_writes") {
        return;
    }
    let cfg = config(&[]);
    let tmp = tempfile::tempdir().unwrap();
    let (one, many) = (tmp.path().join("one"), tmp.path().join("many"));
    let a = write(&one, &cfg, 1);
    let b = write(&many, &cfg, 4);
    assert_eq!(a.0, Ok(()));
    assert_eq!(a, b, "result, created paths and labelled files");
    let (ta, tb) = (tree(&one), tree(&many));
    assert_eq!(ta, tb);
    // What the comparison covers: every file written, with its owner, mode and label.
    assert_eq!(
        ta.keys().filter(|k| k.starts_with("etc/w/d")).count(),
        DIRS + DIRS * PER_DIR + 2
    );
    assert!(
        ta["etc/w/d00/f000"].starts_with("100600 0:0 \"file 0 at /etc/w/d00/f000\\n\""),
        "{}",
        ta["etc/w/d00/f000"]
    );
    assert!(
        ta["etc/w/d00/f001"].starts_with("100644 1000:0 "),
        "{}",
        ta["etc/w/d00/f001"]
    );
    assert!(
        ta["etc/w/d02/f002"].contains("\"file 42 at /etc/w/alias/f002\\n\""),
        "{}",
        ta["etc/w/d02/f002"]
    );
    assert!(
        ta["etc/w/d03/f003"].ends_with("Some(\"system_u:object_r:d3_t:s0\\0\")"),
        "{}",
        ta["etc/w/d03/f003"]
    );
    assert!(
        ta["etc/w/d06/f010"].contains("appended"),
        "{}",
        ta["etc/w/d06/f010"]
    );
    assert!(
        a.2.len() > 200,
        "files labelled when written: {}",
        a.2.len()
    );
}

#[test]
fn the_first_failure_in_order_is_the_error_and_all_before_it_are_written() {
    if !needs_root("the_first_failure_in_order_is_the_error_and_all_before_it_are_written") {
        return;
    }
    // Two bad files: the last of one directory and the first of the next, which another
    // thread starts on at about the same time, so that it tends to fail first.
    let bad = [8 * PER_DIR - 1, 8 * PER_DIR];
    let cfg = config(&bad);
    let tmp = tempfile::tempdir().unwrap();
    let (r1, ..) = write(&tmp.path().join("one"), &cfg, 1);
    let e1 = r1.expect_err("a wrong hash fails");
    assert!(e1.contains(&format!("$.storage.files.{} ", bad[0])), "{e1}");
    for n in 0..5 {
        let dir = tmp.path().join(format!("many{n}"));
        let (r, ..) = write(&dir, &cfg, 4);
        assert_eq!(r, Err(e1.clone()));
        for i in 0..bad[0] {
            let (d, f) = (i / PER_DIR, i % PER_DIR);
            let d = if d == 2 {
                "d02".to_string()
            } else {
                format!("d{d:02}")
            };
            let p = dir.join(format!("etc/w/{d}/f{f:03}"));
            assert!(p.exists(), "{} before the failure is written", p.display());
        }
        let failed = dir.join(format!("etc/w/d07/f{:03}", PER_DIR - 1));
        assert!(!failed.exists(), "the failed file is not written");
        let leftovers: Vec<_> = std::fs::read_dir(dir.join("etc/w/d07"))
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .filter(|n| n.to_string_lossy().starts_with('.'))
            .collect();
        assert!(leftovers.is_empty(), "temp files left: {leftovers:?}");
    }
}

#[test]
fn a_file_written_through_a_symlink_an_earlier_file_replaces_fails_as_in_order() {
    if !needs_root("a_file_written_through_a_symlink_an_earlier_file_replaces_fails_as_in_order") {
        return;
    }
    // /etc/w/via is a symlink to d11: the first file replaces it with a file, so the second,
    // planned through it into d11, has no directory left when written in order.
    let cfg = config_with(
        &[
            r#"{"path":"/etc/w/via","overwrite":true,"contents":{"source":"data:,now%20a%20file"}}"#,
            r#"{"path":"/etc/w/via/late","contents":{"source":"data:,x"}}"#,
        ],
        &[],
    );
    let tmp = tempfile::tempdir().unwrap();
    let (one, many) = (tmp.path().join("one"), tmp.path().join("many"));
    let a = write(&one, &cfg, 1);
    let b = write(&many, &cfg, 4);
    let e =
        a.0.clone()
            .expect_err("in order, the second file has no directory");
    assert!(e.contains("$.storage.files.1 "), "{e}");
    assert_eq!(a.0, b.0);
    assert!(!many.join("etc/w/d11/late").exists());
    assert_eq!(tree(&one), tree(&many));
}
