//! ignis's native SELinux labelling against setfiles, the tool Ignition runs: the same tree,
//! built twice from sample paths of every spec of Debian's reference policy (as
//! scripts/setup-deps unpacks it) plus hand-written specs for the corners (`.local`,
//! `.subs`, `<<none>>`, file types, top-level alternation, counted repeats, hard links), is
//! labelled by `setfiles -F` in one copy and by `ignis::stages::files::relabel::label` in the
//! other, and every entry's `security.selinux` must be byte for byte the same.
//! Needs root (security.* attributes) and setfiles.

mod common;

use ignis::selinux::Labels;
use ignis::sys::root::Root;
use std::collections::BTreeSet;
use std::path::Path;

const FC_DIR: &str = "etc/selinux/default/contexts/files";

/// Hand-written specs for what the reference policy does not show.
const LOCAL: &str = "\
/srv/alt/a|/srv/alt/b$\tsystem_u:object_r:alt_t:s0
/srv/none(/.*)?\t<<none>>
/srv/none/but\tsystem_u:object_r:back_t:s0
/srv/typed(/.*)?\t-d\tsystem_u:object_r:typed_dir_t:s0
/srv/typed(/.*)?\t-l\tsystem_u:object_r:typed_link_t:s0
/srv/typed(/.*)?\t-p\tsystem_u:object_r:typed_fifo_t:s0
/srv/rep/x{2}[0-9]{1,3}\tsystem_u:object_r:rep_t:s0
/srv/esc/a\\.b\\+c\tsystem_u:object_r:esc_t:s0
/srv/cls/[a-c_]+[^a-z]\tsystem_u:object_r:cls_t:s0
/srv/dig/\\d+\tsystem_u:object_r:dig_t:s0
/srv/hl/first\tsystem_u:object_r:first_t:s0
/srv/hl/second\tsystem_u:object_r:second_t:s0
";

/// Aliases on top of Debian's `.subs_dist`.
const SUBS: &str = "/srv/aliased /usr/share\n/srv/rooted /\n";

/// Extra sample paths for the specs above and the aliases.
const EXTRA: &[&str] = &[
    "/srv/alt/a/deeper",
    "/srv/alt/zz/b",
    "/srv/alt/c",
    "/srv/none/x",
    "/srv/none/but",
    "/srv/typed/d/f",
    "/srv/rep/xx7",
    "/srv/rep/xx1234",
    "/srv/rep/x7",
    "/srv/esc/a.b+c",
    "/srv/esc/aXb+c",
    "/srv/cls/ab_9",
    "/srv/cls/abz",
    "/srv/dig/123",
    "/srv/dig/12a",
    "/srv/aliased/doc/x",
    "/srv/rooted/etc/passwd",
    "/srv/hl/other",
    "/lib64/libc.so.6",
    "/var/run/x.pid",
    "/etc/systemd/system/a.service",
    "/usr/local/bin/tool",
    "/var/home/core/.ssh/authorized_keys",
];

/// A few sample paths for a spec's pattern: its common shapes spelled out, and cut at the
/// first construct left.
fn samples(re: &str) -> Vec<String> {
    let mut out = Vec::new();
    for tail in ["", "/sub/file.x"] {
        let mut s = re
            .replace("(/.*)?", tail)
            .replace("[^/]+", "nm1")
            .replace("[^/]*", "nm2")
            .replace("[0-9]+", "42")
            .replace("[0-9]*", "")
            .replace("[0-9]", "7")
            .replace(".*", "any.x")
            .replace(".+", "more")
            .replace("\\.", ".")
            .replace("\\+", "+");
        if let Some(i) = s.find(['(', '[', '?', '*', '+', '|', '{', '^', '$', '\\']) {
            s.truncate(i);
            s.push('x');
        }
        let parts: Vec<&str> = s.split('/').filter(|c| !c.is_empty()).collect();
        if parts.is_empty()
            || parts
                .iter()
                .any(|c| *c == "." || *c == ".." || c.len() > 200)
        {
            continue;
        }
        out.push(format!("/{}", parts.join("/")));
    }
    out
}

/// Builds the tree under `root`: every sample as the type its spec names (a regular file
/// otherwise), its directories made on the way; samples that collide are left out.
fn build(root: &Path, specs: &[(String, Option<String>)], fc: &str, local: &str) {
    use std::os::unix::fs::symlink;
    std::fs::create_dir_all(root.join(FC_DIR)).unwrap();
    std::fs::write(root.join(FC_DIR).join("file_contexts"), fc).unwrap();
    std::fs::write(root.join(FC_DIR).join("file_contexts.local"), local).unwrap();
    std::fs::write(root.join(FC_DIR).join("file_contexts.subs"), SUBS).unwrap();
    let dist = std::fs::read(Path::new(DEPS).join("file_contexts.subs_dist")).unwrap();
    std::fs::write(root.join(FC_DIR).join("file_contexts.subs_dist"), dist).unwrap();
    for (path, ty) in specs {
        let p = root.join(path.trim_start_matches('/'));
        if p.symlink_metadata().is_ok() || path.starts_with("/etc/selinux") {
            continue;
        }
        let Some(parent) = p.parent() else { continue };
        if std::fs::create_dir_all(parent).is_err() {
            continue;
        }
        let made = match ty.as_deref() {
            Some("-d") => std::fs::create_dir(&p).is_ok(),
            Some("-l") => symlink("/nowhere", &p).is_ok(),
            Some(t @ ("-p" | "-c" | "-b" | "-s")) => {
                let kind = match t {
                    "-p" => rustix::fs::FileType::Fifo,
                    "-c" => rustix::fs::FileType::CharacterDevice,
                    "-b" => rustix::fs::FileType::BlockDevice,
                    _ => rustix::fs::FileType::Socket,
                };
                rustix::fs::mknodat(
                    rustix::fs::CWD,
                    &p,
                    kind,
                    rustix::fs::Mode::from_raw_mode(0o600),
                    rustix::fs::makedev(1, 3),
                )
                .is_ok()
            }
            _ => std::fs::write(&p, b"").is_ok(),
        };
        assert!(made || p.symlink_metadata().is_ok(), "creating {path}");
    }
    // One inode, two names with different specs: the first name labelled decides.
    std::fs::create_dir_all(root.join("srv/hl")).unwrap();
    let _ = std::fs::remove_file(root.join("srv/hl/second"));
    std::fs::write(root.join("srv/hl/first"), b"").unwrap();
    std::fs::hard_link(root.join("srv/hl/first"), root.join("srv/hl/second")).unwrap();
}

const DEPS: &str = "/opt/ignis-deps/selinux-default";

fn label_of(p: &Path) -> Option<Vec<u8>> {
    let mut buf = vec![0u8; 4096];
    match rustix::fs::lgetxattr(p, "security.selinux", &mut buf) {
        Ok(n) => Some(buf[..n].to_vec()),
        Err(_) => None,
    }
}

fn all_entries(root: &Path, rel: &str, out: &mut BTreeSet<String>) {
    for e in std::fs::read_dir(root.join(rel.trim_start_matches('/'))).unwrap() {
        let e = e.unwrap();
        let r = format!("{rel}/{}", e.file_name().to_string_lossy());
        out.insert(r.clone());
        if e.file_type().unwrap().is_dir() {
            all_entries(root, &r, out);
        }
    }
}

/// The reference policy's file_contexts, when this machine can run the comparison (root for
/// security.* attributes, setfiles, the policy unpacked); otherwise the test is skipped.
fn reference_policy(test: &str) -> Option<String> {
    if !rustix::process::geteuid().is_root() {
        common::skip::skip(test, "needs root (security.selinux attributes)");
        return None;
    }
    if std::process::Command::new("setfiles")
        .arg("-h")
        .output()
        .is_err()
    {
        common::skip::skip(test, "setfiles missing: run scripts/setup-deps");
        return None;
    }
    let fc = std::fs::read_to_string(Path::new(DEPS).join("file_contexts")).ok();
    if fc.is_none() {
        common::skip::skip(test, "reference policy missing: run scripts/setup-deps");
    }
    fc
}

/// `setfiles -F` over `list` (paths inside `root`) with `root`'s file_contexts.
fn setfiles(root: &Path, list: &[String]) {
    let mut stdin = Vec::new();
    for p in list {
        stdin.extend_from_slice(format!("{}{p}", root.display()).as_bytes());
        stdin.push(0);
    }
    let mut child = std::process::Command::new("setfiles")
        .arg("-F0")
        .arg("-r")
        .arg(root)
        .arg(root.join(FC_DIR).join("file_contexts"))
        .args(["-f", "-"])
        .stdin(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    child.stdin.take().unwrap().write_all(&stdin).unwrap();
    let st = child.wait().unwrap();
    assert!(st.success(), "setfiles: {st}");
}

/// Every entry of the `theirs` tree whose label differs in `ours`, and how many entries
/// `theirs` labelled.
fn label_diffs(theirs: &Path, ours: &Path) -> (BTreeSet<String>, Vec<String>, usize) {
    let mut entries = BTreeSet::new();
    all_entries(theirs, "", &mut entries);
    let mut labelled = 0;
    let mut diffs = Vec::new();
    for e in &entries {
        let (lt, lo) = (
            label_of(&theirs.join(&e[1..])),
            label_of(&ours.join(&e[1..])),
        );
        labelled += lt.is_some() as usize;
        if lt != lo {
            diffs.push(format!(
                "{e}: setfiles {:?}, ignis {:?}",
                lt.map(|v| String::from_utf8_lossy(&v).into_owned()),
                lo.map(|v| String::from_utf8_lossy(&v).into_owned())
            ));
        }
    }
    (entries, diffs, labelled)
}

#[test]
fn native_labels_equal_setfiles_on_the_reference_policy() {
    let Some(fc) = reference_policy("native_labels_equal_setfiles_on_the_reference_policy") else {
        return;
    };
    let mut specs = Vec::new();
    for line in fc.lines().chain(LOCAL.lines()) {
        let f: Vec<&str> = line.split_whitespace().collect();
        if f.is_empty() || f[0].starts_with('#') {
            continue;
        }
        let ty = (f.len() == 3).then(|| f[1].to_string());
        for s in samples(f[0]) {
            specs.push((s, ty.clone()));
        }
    }
    for e in EXTRA {
        specs.push((e.to_string(), None));
    }
    assert!(specs.len() > 5000, "{} samples", specs.len());

    let tmp = tempfile::tempdir().unwrap();
    let (a, b) = (tmp.path().join("setfiles"), tmp.path().join("ignis"));
    build(&a, &specs, &fc, LOCAL);
    build(&b, &specs, &fc, LOCAL);

    // What the files stage hands over: a few paths on their own first (the hard link's
    // second name before its first), then every top directory, walked, then a few again.
    let mut list: Vec<String> = vec!["/srv/hl/second".into(), "/srv/typed/d".into()];
    for e in std::fs::read_dir(&b).unwrap() {
        list.push(format!("/{}", e.unwrap().file_name().to_string_lossy()));
    }
    // Paths given again after the walks: setfiles labels them again, which matters for the
    // inode with two names.
    list.extend([
        "/srv/hl/first".into(),
        "/srv/none".into(),
        "/srv/hl/second".into(),
    ]);

    setfiles(&a, &list);

    let root = Root::open(&b).unwrap();
    let labels = Labels::load(
        &mut |p| Ok(std::fs::read(b.join(p.trim_start_matches('/'))).ok()),
        &format!("/{FC_DIR}/file_contexts"),
    )
    .unwrap()
    .expect("Debian's reference policy is within the native reader");
    let n =
        ignis::stages::files::relabel::label(&root, &labels, &list, &Default::default()).unwrap();

    let (entries, diffs, labelled) = label_diffs(&a, &b);
    assert!(
        diffs.is_empty(),
        "{} of {} entries differ:\n{}",
        diffs.len(),
        entries.len(),
        diffs[..diffs.len().min(30)].join("\n")
    );
    // The comparison means something: most entries got a label, from many contexts.
    assert!(
        labelled * 10 > entries.len() * 9,
        "{labelled} of {}",
        entries.len()
    );
    assert!(n >= labelled - 1, "ignis labelled {n}, setfiles {labelled}");
    let distinct: BTreeSet<_> = entries
        .iter()
        .filter_map(|e| label_of(&a.join(&e[1..])))
        .collect();
    assert!(distinct.len() > 300, "{} distinct labels", distinct.len());
}

/// The files stage labels new regular files as it writes them and passes them by in its
/// walk: the result must be what setfiles gives the same tree for the paths the stage
/// created. Two copies of one seeded root get the same config: one through the stage with the
/// reference policy permissive, one with SELinux disabled during the stage and then setfiles
/// over the stage's created paths. Covered: new files in new and in existing directories, an
/// overwritten file, `<<none>>`, typed specs, a hard link, a storage file that a unit then
/// rewrites, a dropin, directories and symlinks.
#[test]
fn the_files_stage_labels_as_setfiles_does() {
    let Some(fc) = reference_policy("the_files_stage_labels_as_setfiles_does") else {
        return;
    };
    const PERMISSIVE: &str = "SELINUX=permissive\nSELINUXTYPE=default\n";
    let seed = |r: &Path| {
        build(r, &[], &fc, LOCAL);
        let w = |p: &str, body: &str| {
            let p = r.join(p);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, body).unwrap();
        };
        w("etc/selinux/config", PERMISSIVE);
        w("etc/passwd", "root:x:0:0:root:/root:/bin/sh\n");
        w("etc/group", "root:x:0:\n");
        w("etc/existing.conf", "old\n");
        w("etc/systemd/system/kept.service", "[Unit]\n");
        for d in ["usr/local/bin", "var/lib", "lib64"] {
            std::fs::create_dir_all(r.join(d)).unwrap();
        }
        // `build` made /srv/hl/first and /srv/hl/second already; the config makes them anew.
        std::fs::remove_dir_all(r.join("srv/hl")).unwrap();
    };
    let file =
        |p: &str| format!(r#"{{"path":"{p}","contents":{{"source":"data:,x"}},"mode":420}}"#);
    let mut files: Vec<String> = [
        "/usr/local/bin/tool",
        "/lib64/libc.so.6",
        "/etc/systemd/system/a.service",
        "/srv/new/deep/f1",
        "/srv/new/deep/f2.conf",
        "/srv/none/x",
        "/srv/none/but",
        "/srv/typed/d/f",
        "/srv/alt/a",
        "/srv/alt/c",
        "/srv/hl/first",
        "/var/lib/thing/data",
    ]
    .iter()
    .map(|p| file(p))
    .collect();
    files.push(
        r#"{"path":"/etc/existing.conf","overwrite":true,"contents":{"source":"data:,new"}}"#
            .into(),
    );
    let cfg = format!(
        r#"{{"ignition":{{"version":"3.4.0"}},
        "storage":{{"files":[{}],
          "directories":[{{"path":"/srv/typed/d2"}},{{"path":"/var/lib/dirs/one"}}],
          "links":[{{"path":"/srv/hl/second","target":"/srv/hl/first","hard":true}},
                   {{"path":"/srv/typed/l","target":"/nowhere"}},
                   {{"path":"/usr/local/bin/alias","target":"tool"}}]}},
        "systemd":{{"units":[
          {{"name":"a.service","contents":"[Unit]\nDescription=unit\n"}},
          {{"name":"kept.service","dropins":[{{"name":"x.conf","contents":"[Unit]\n"}}]}}]}}}}"#,
        files.join(",")
    );
    let cfg = ignis::config::parse_cached(cfg.as_bytes())
        .unwrap_or_else(|e| panic!("{e:?}"))
        .config;
    let boot = ignis::stages::files::result::Boot {
        id: "0b8e0f3c1f6e4d39a8f74f2b3f0d9c11".into(),
        date: "2026-12-07T00:00:00Z".into(),
        live: false,
    };
    let fetcher = ignis::resource::Fetcher::new(Default::default(), true);
    let st = ignis::state::State::default();
    let runner = ignis::sys::cmd::RealRunner;

    let tmp = tempfile::tempdir().unwrap();
    let (a, b) = (tmp.path().join("stage"), tmp.path().join("setfiles"));
    seed(&a);
    seed(&b);
    let stage = |r: &Path| {
        ignis::stages::files::apply(&Root::open(r).unwrap(), &cfg, &st, &boot, &fetcher, &runner)
            .unwrap()
    };
    let out_a = stage(&a);
    std::fs::write(b.join("etc/selinux/config"), "SELINUX=disabled\n").unwrap();
    let out_b = stage(&b);
    std::fs::write(b.join("etc/selinux/config"), PERMISSIVE).unwrap();
    assert_eq!(out_a.created, out_b.created);
    // setfiles over the created paths still there, each once, as the stage hands them over.
    let mut seen = BTreeSet::new();
    let list: Vec<String> = out_b
        .created
        .iter()
        .filter(|p| b.join(&p[1..]).symlink_metadata().is_ok() && seen.insert(p.to_string()))
        .cloned()
        .collect();
    setfiles(&b, &list);

    let (_, diffs, labelled) = label_diffs(&b, &a);
    assert!(diffs.is_empty(), "{}", diffs.join("\n"));
    assert!(labelled >= 25, "only {labelled} entries labelled");
    // The units step rewrote a.service after it was labelled as a storage file, and the
    // dropin is new: both labelled, by the walk.
    assert!(label_of(&a.join("etc/systemd/system/a.service")).is_some());
    assert!(label_of(&a.join("etc/systemd/system/kept.service.d/x.conf")).is_some());
}
