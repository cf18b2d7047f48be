//! Tests of the `Root` primitives; the helpers here serve the walk and tree tests too.

use super::*;

pub(super) fn tmp_root(name: &str) -> (PathBuf, Root) {
    // Outlives this helper, as the paths it hands out do.
    let d = tempfile::Builder::new()
        .prefix(&format!("ignis-{name}-"))
        .tempdir()
        .unwrap()
        .keep();
    std::fs::create_dir_all(&d).unwrap();
    let r = Root::open(&d).unwrap();
    (d, r)
}

#[test]
fn splits() {
    assert_eq!(split("/a/b").unwrap(), ("/a", "b"));
    assert_eq!(split("/a").unwrap(), ("/", "a"));
    assert!(split("/").is_err());
    assert!(split("/a/..").is_err());
}

#[test]
fn absolute_symlinks_and_dotdot_stay_inside() {
    let (d, r) = tmp_root("escape");
    let tmp = tempfile::tempdir().unwrap();
    let outside = tmp.path().to_path_buf();
    std::fs::create_dir_all(&outside).unwrap();
    // /etc -> a host directory (absolute) and /up -> ../../.. (relative, climbing): both
    // stay in the root, where the missing directories are created.
    std::os::unix::fs::symlink(&outside, d.join("etc")).unwrap();
    std::os::unix::fs::symlink("../../../../../..", d.join("up")).unwrap();
    r.write_atomic("/etc/x", b"1", 0o644, 0, 0).unwrap();
    assert!(d
        .join(outside.strip_prefix("/").unwrap())
        .join("x")
        .is_file());
    r.mkdir_all("/up/tmp", 0o755).unwrap();
    r.write_atomic("/up/tmp/y", b"2", 0o644, 0, 0).unwrap();
    assert!(d.join("tmp/y").exists(), "written inside the root");
    assert!(
        std::fs::read_dir(&outside).unwrap().next().is_none(),
        "nothing written outside"
    );
    std::fs::remove_dir_all(&d).unwrap();
}

#[test]
fn symlinked_dir_resolves_within_root() {
    let (d, r) = tmp_root("inroot");
    std::fs::create_dir_all(d.join("real")).unwrap();
    std::os::unix::fs::symlink("/real", d.join("link")).unwrap();
    r.write_atomic("/link/f", b"x", 0o640, 0, 0).unwrap();
    assert_eq!(std::fs::read(d.join("real/f")).unwrap(), b"x");
    assert_eq!(r.lstat("/link").unwrap().unwrap().kind, Kind::Symlink);
    assert_eq!(r.stat("/link").unwrap().unwrap().kind, Kind::Dir);
    assert_eq!(r.lstat("/link/f").unwrap().unwrap().mode, 0o640);
    assert_eq!(
        r.identity("/link/f").unwrap(),
        r.identity("/real/f").unwrap()
    );
    std::fs::remove_dir_all(&d).unwrap();
}

#[test]
fn temp_files_vanish_unless_committed() {
    let (d, r) = tmp_root("temp");
    {
        let _t = r.create_temp("/a").unwrap();
    }
    assert!(r.list_dir("/").unwrap().is_empty());
    let mut t = r.create_temp("/a").unwrap();
    std::io::Write::write_all(&mut t, b"hi").unwrap();
    t.commit(0o600, 0, 0).unwrap();
    assert_eq!(r.list_dir("/").unwrap(), vec!["a"]);
    assert_eq!(r.read("/a").unwrap().unwrap(), b"hi");
    std::fs::remove_dir_all(&d).unwrap();
}

#[test]
fn real_path_resolves_directories_inside_the_root() {
    let (d, r) = tmp_root("realpath");
    std::fs::create_dir_all(d.join("srv/real")).unwrap();
    std::os::unix::fs::symlink("/srv/real", d.join("abs")).unwrap();
    std::os::unix::fs::symlink("srv/real", d.join("rel")).unwrap();
    std::os::unix::fs::symlink("/srv/real", d.join("srv/real/self")).unwrap();
    assert_eq!(r.real_path("/abs/f").unwrap().unwrap(), "/srv/real/f");
    assert_eq!(r.real_path("/rel/f").unwrap().unwrap(), "/srv/real/f");
    assert_eq!(
        r.real_path("/abs/self").unwrap().unwrap(),
        "/srv/real/self",
        "the last component is not followed"
    );
    assert_eq!(r.real_path("/top").unwrap().unwrap(), "/top");
    assert_eq!(r.real_path("/").unwrap().unwrap(), "/");
    assert!(r.real_path("/missing/f").unwrap().is_none());
    std::fs::remove_dir_all(&d).unwrap();
}

#[test]
fn append_in_place_keeps_the_inode_and_refuses_symlinks() {
    let (d, r) = tmp_root("append");
    let out = outside_dir("append");
    let before = snapshot(&out);
    r.write_atomic("/f", b"a", 0o640, 0, 0).unwrap();
    r.hard_link("/f", "/h").unwrap();
    let ino = r.lstat("/f").unwrap().unwrap().ino;
    std::io::Write::write_all(&mut r.open_append("/f").unwrap(), b"b").unwrap();
    assert_eq!(
        r.read("/h").unwrap().unwrap(),
        b"ab",
        "the hard link sees it"
    );
    let m = r.lstat("/f").unwrap().unwrap();
    assert_eq!((m.ino, m.mode), (ino, 0o640));
    std::os::unix::fs::symlink(out.join("keep"), d.join("l")).unwrap();
    assert!(r.open_append("/l").is_err());
    r.mkdir_all("/dir", 0o755).unwrap();
    assert!(r.open_append("/dir").is_err());
    assert_eq!(snapshot(&out), before, "nothing changed outside");
    std::fs::remove_dir_all(&d).unwrap();
    std::fs::remove_dir_all(&out).unwrap();
}

#[test]
fn remove_dir_if_empty_keeps_what_has_entries() {
    let (d, r) = tmp_root("rmdir");
    r.mkdir_all("/a/b", 0o755).unwrap();
    assert!(!r.remove_dir_if_empty("/a").unwrap());
    assert!(r.remove_dir_if_empty("/a/b").unwrap());
    assert!(!r.remove_dir_if_empty("/a/b").unwrap(), "already gone");
    assert!(r.remove_dir_if_empty("/a").unwrap());
    std::fs::remove_dir_all(&d).unwrap();
}

#[test]
fn links_and_modes() {
    let (d, r) = tmp_root("links");
    r.write_atomic("/f", b"x", 0o644, 0, 0).unwrap();
    r.symlink("/f", "/s").unwrap();
    assert_eq!(r.readlink("/s").unwrap(), "/f");
    r.hard_link("/f", "/h").unwrap();
    assert_eq!(
        r.lstat("/h").unwrap().unwrap().ino,
        r.lstat("/f").unwrap().unwrap().ino
    );
    r.chmod("/f", 0o4755).unwrap();
    assert_eq!(r.lstat("/f").unwrap().unwrap().mode, 0o4755);
    assert!(
        r.chmod("/s", 0o600).is_err(),
        "chmod never goes through a symlink"
    );
    let created = r.mkdir_all("/a/b/c", 0o700).unwrap();
    assert_eq!(created, vec!["/a", "/a/b", "/a/b/c"]);
    assert_eq!(r.lstat("/a/b/c").unwrap().unwrap().mode, 0o700);
    assert_eq!(r.lstat("/a/b").unwrap().unwrap().mode, 0o755);
    assert!(r.mkdir_all("/f/x", 0o755).is_err());
    std::fs::remove_dir_all(&d).unwrap();
}
pub(super) fn outside_dir(name: &str) -> PathBuf {
    // Outlives this helper, as the paths it hands out do.
    let o = tempfile::Builder::new()
        .prefix(&format!("ignis-{name}-"))
        .tempdir()
        .unwrap()
        .keep();
    std::fs::create_dir_all(&o).unwrap();
    std::fs::write(o.join("keep"), b"outside").unwrap();
    o
}

/// Everything under `d`: relative path, mode, owner, content or link target, mtime.
pub(super) fn snapshot(d: &Path) -> Vec<(PathBuf, u32, u32, u32, Vec<u8>, i64)> {
    use std::os::unix::fs::MetadataExt;
    let mut out = Vec::new();
    let mut todo = vec![d.to_path_buf()];
    while let Some(p) = todo.pop() {
        let m = std::fs::symlink_metadata(&p).unwrap();
        let body = if m.file_type().is_symlink() {
            std::fs::read_link(&p)
                .unwrap()
                .into_os_string()
                .into_encoded_bytes()
        } else if m.is_file() {
            std::fs::read(&p).unwrap()
        } else {
            Vec::new()
        };
        if m.is_dir() {
            for e in std::fs::read_dir(&p).unwrap() {
                todo.push(e.unwrap().path());
            }
        }
        let rel = p.strip_prefix(d).unwrap().to_path_buf();
        out.push((rel, m.mode(), m.uid(), m.gid(), body, m.mtime()));
    }
    out.sort();
    out
}

#[test]
fn mkdir_sets_owner_then_mode_and_refuses_what_is_there() {
    let (d, r) = tmp_root("mkdir");
    let out = outside_dir("mkdir");
    let before = snapshot(&out);
    r.mkdir("/d", 0o2750, 1234, 5678).unwrap();
    let m = r.lstat("/d").unwrap().unwrap();
    assert_eq!(
        (m.kind, m.mode, m.uid, m.gid),
        (Kind::Dir, 0o2750, 1234, 5678)
    );
    assert!(r.mkdir("/d", 0o755, 0, 0).is_err(), "an existing directory");
    std::os::unix::fs::symlink(&out, d.join("dangling")).unwrap();
    assert!(
        r.mkdir("/dangling", 0o755, 0, 0).is_err(),
        "a symlink is never followed"
    );
    assert!(
        r.mkdir("/missing/x", 0o755, 0, 0).is_err(),
        "the parent must exist"
    );
    // A parent that is an absolute symlink to a host directory resolves inside the root.
    std::os::unix::fs::symlink(&out, d.join("abs")).unwrap();
    std::fs::create_dir_all(d.join(out.strip_prefix("/").unwrap())).unwrap();
    r.mkdir("/abs/sub", 0o700, 0, 0).unwrap();
    assert!(d.join(out.strip_prefix("/").unwrap()).join("sub").is_dir());
    assert_eq!(snapshot(&out), before, "nothing written outside");
    std::fs::remove_dir_all(&d).unwrap();
    std::fs::remove_dir_all(&out).unwrap();
}

#[test]
fn create_new_never_follows_or_replaces() {
    let (d, r) = tmp_root("create");
    let out = outside_dir("create");
    let before = snapshot(&out);
    assert!(r.create_new("/mbox", 0o660, 1000, 8).unwrap());
    let m = r.lstat("/mbox").unwrap().unwrap();
    assert_eq!((m.kind, m.mode, m.uid, m.gid), (Kind::File, 0o660, 1000, 8));
    assert!(!r.create_new("/mbox", 0o600, 0, 0).unwrap());
    assert_eq!(r.lstat("/mbox").unwrap().unwrap().mode, 0o660, "left alone");
    std::os::unix::fs::symlink(out.join("new"), d.join("link")).unwrap();
    assert!(!r.create_new("/link", 0o600, 0, 0).unwrap());
    assert_eq!(snapshot(&out), before, "nothing written outside");
    std::fs::remove_dir_all(&d).unwrap();
    std::fs::remove_dir_all(&out).unwrap();
}

#[test]
fn lchown_ids_changes_only_what_is_asked_and_never_follows() {
    let (d, r) = tmp_root("lchown");
    let out = outside_dir("lchown");
    let before = snapshot(&out);
    r.write_atomic("/f", b"x", 0o644, 10, 20).unwrap();
    r.lchown_ids("/f", Some(11), None).unwrap();
    let m = r.lstat("/f").unwrap().unwrap();
    assert_eq!((m.uid, m.gid), (11, 20));
    r.lchown_ids("/f", None, Some(21)).unwrap();
    let m = r.lstat("/f").unwrap().unwrap();
    assert_eq!((m.uid, m.gid), (11, 21));
    std::os::unix::fs::symlink(out.join("keep"), d.join("l")).unwrap();
    r.lchown_ids("/l", Some(4321), Some(4321)).unwrap();
    assert_eq!(r.lstat("/l").unwrap().unwrap().uid, 4321);
    assert_eq!(snapshot(&out), before, "nothing changed outside");
    std::fs::remove_dir_all(&d).unwrap();
    std::fs::remove_dir_all(&out).unwrap();
}

#[test]
fn rename_moves_entries_themselves_inside_the_root() {
    let (d, r) = tmp_root("rename");
    let out = outside_dir("rename");
    let before = snapshot(&out);
    r.mkdir_all("/home/a", 0o700).unwrap();
    r.write_atomic("/home/a/f", b"x", 0o600, 0, 0).unwrap();
    assert!(r.rename("/home/a", "/home/b").unwrap());
    assert_eq!(r.read("/home/b/f").unwrap().unwrap(), b"x");
    assert!(r.lstat("/home/a").unwrap().is_none());
    // A symlink is moved, not what it points to; a destination through an absolute
    // symlink stays inside the root.
    std::os::unix::fs::symlink(&out, d.join("home/l")).unwrap();
    std::os::unix::fs::symlink(&out, d.join("abs")).unwrap();
    std::fs::create_dir_all(d.join(out.strip_prefix("/").unwrap())).unwrap();
    assert!(r.rename("/home/l", "/home/m").unwrap());
    assert_eq!(r.lstat("/home/m").unwrap().unwrap().kind, Kind::Symlink);
    assert!(r.rename("/home/b", "/abs/b").unwrap());
    assert!(d.join(out.strip_prefix("/").unwrap()).join("b/f").is_file());
    assert!(r.rename("/missing", "/x").is_err());
    assert_eq!(snapshot(&out), before, "nothing written outside");
    std::fs::remove_dir_all(&d).unwrap();
    std::fs::remove_dir_all(&out).unwrap();
}

/// A tmpfs mounted at `dir`, unmounted on drop; `None` where mounting is not allowed.
struct Tmpfs(PathBuf);

impl Tmpfs {
    fn mount(dir: &Path) -> Option<Tmpfs> {
        std::fs::create_dir_all(dir).ok()?;
        let ok = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "tmpfs"])
            .arg(dir)
            .status()
            .is_ok_and(|s| s.success());
        ok.then(|| Tmpfs(dir.to_path_buf()))
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount").arg(&self.0).status();
    }
}

#[test]
fn rename_across_filesystems_says_so() {
    let (d, r) = tmp_root("exdev");
    let Some(mnt) = Tmpfs::mount(&d.join("mnt")) else {
        println!("skipped: cannot mount a tmpfs");
        return;
    };
    r.mkdir_all("/a", 0o755).unwrap();
    assert!(!r.rename("/a", "/mnt/a").unwrap());
    assert!(r.lstat("/a").unwrap().is_some(), "nothing moved");
    drop(mnt);
    std::fs::remove_dir_all(&d).unwrap();
}

#[test]
fn a_failed_call_keeps_its_errno() {
    // #12 item 4: the number survives io_err's context and the caller's.
    let (d, r) = tmp_root("errno");
    let e = r.unlink("/missing").context(|| "files").unwrap_err();
    assert_eq!(e.errno(), Some(Errno::NOENT.raw_os_error()));
    assert_eq!(
        e.to_string(),
        format!(
            "files: removing /missing: {}",
            std::io::Error::from(Errno::NOENT)
        )
    );
    std::fs::create_dir_all(d.join("dir")).unwrap();
    let e = r.unlink("/dir").unwrap_err();
    assert_eq!(e.errno(), Some(Errno::ISDIR.raw_os_error()));
    // Opening a root that is not there is a Setup error that still names the errno.
    let Err(e) = Root::open(&d.join("nowhere")) else {
        panic!("opened a missing root");
    };
    assert_eq!(e.kind(), crate::error::Kind::Setup);
    assert_eq!(e.errno(), Some(Errno::NOENT.raw_os_error()));
    std::fs::remove_dir_all(&d).unwrap();
}

#[test]
fn preset_temp_files_and_directories_end_with_the_mode_and_owner_asked_for() {
    use std::os::unix::fs::MetadataExt;
    let (d, r) = tmp_root("preset");
    let me = (
        rustix::process::geteuid().as_raw(),
        rustix::process::getegid().as_raw(),
    );
    let meta = |p: &str| std::fs::symlink_metadata(d.join(p)).unwrap();
    std::fs::create_dir(d.join("plain")).unwrap();
    let plain = r.open_dir("/plain").unwrap().unwrap();
    // A mode the umask would cut, one it would not, set-id bits, and another owner.
    for (name, mode, owner) in [
        ("a", 0o666, me),
        ("b", 0o640, me),
        ("c", 0o4755, me),
        ("d", 0o600, (me.0, me.1 + 1)),
    ] {
        let mut t = plain.create_temp_for(name, mode).unwrap();
        std::io::Write::write_all(&mut t.file, b"x").unwrap();
        if owner != me && !rustix::process::geteuid().is_root() {
            continue;
        }
        t.commit(mode, owner.0, owner.1).unwrap();
        let m = meta(&format!("plain/{name}"));
        assert_eq!(
            (m.mode() & 0o7777, m.uid(), m.gid()),
            (mode, owner.0, owner.1)
        );
    }
    plain.mkdir("sub", 0o750, None).unwrap();
    assert_eq!(meta("plain/sub").mode() & 0o7777, 0o750);
    if !rustix::process::geteuid().is_root() {
        return;
    }
    // In a set-gid directory a new entry takes the directory's group (and a directory its
    // set-gid bit): the group asked for, and the mode, are still what they end with.
    std::fs::create_dir(d.join("sgid")).unwrap();
    std::os::unix::fs::chown(d.join("sgid"), None, Some(me.1 + 7)).unwrap();
    std::fs::set_permissions(
        d.join("sgid"),
        std::os::unix::fs::PermissionsExt::from_mode(0o2775),
    )
    .unwrap();
    let sgid = r.open_dir("/sgid").unwrap().unwrap();
    let t = sgid.create_temp_for("f", 0o644).unwrap();
    t.commit(0o644, me.0, me.1).unwrap();
    let m = meta("sgid/f");
    assert_eq!((m.mode() & 0o7777, m.gid()), (0o644, me.1));
    let t = sgid.create_temp_for("g", 0o644).unwrap();
    t.commit(0o644, me.0, me.1 + 7).unwrap();
    assert_eq!(meta("sgid/g").gid(), me.1 + 7);
    sgid.mkdir("sub", 0o755, Some(me)).unwrap();
    let m = meta("sgid/sub");
    assert_eq!((m.mode() & 0o7777, m.gid()), (0o755, me.1));
    sgid.symlink("/nowhere", "l").unwrap();
    sgid.chown_new("l", me.0, me.1).unwrap();
    assert_eq!(meta("sgid/l").gid(), me.1);
    plain.symlink("/nowhere", "l").unwrap();
    plain.chown_new("l", me.0, me.1 + 3).unwrap();
    assert_eq!(meta("plain/l").gid(), me.1 + 3);
    // A default ACL decides new modes instead of the umask: nothing is assumed there.
    std::fs::create_dir(d.join("acl")).unwrap();
    // u::rwx,g::---,o::--- as the kernel stores it: version 2, then (tag, perm, id) entries.
    let mut acl = 2u32.to_le_bytes().to_vec();
    for (tag, perm) in [(0x01u16, 7u16), (0x04, 0), (0x20, 0)] {
        acl.extend_from_slice(&tag.to_le_bytes());
        acl.extend_from_slice(&perm.to_le_bytes());
        acl.extend_from_slice(&u32::MAX.to_le_bytes());
    }
    let acls = rustix::fs::setxattr(
        d.join("acl"),
        "system.posix_acl_default",
        &acl,
        rustix::fs::XattrFlags::empty(),
    );
    if acls != Err(rustix::io::Errno::NOTSUP) {
        acls.unwrap();
        let acl = r.open_dir("/acl").unwrap().unwrap();
        let t = acl.create_temp_for("f", 0o644).unwrap();
        t.commit(0o644, me.0, me.1).unwrap();
        assert_eq!(meta("acl/f").mode() & 0o7777, 0o644);
        acl.mkdir("sub", 0o755, None).unwrap();
        assert_eq!(meta("acl/sub").mode() & 0o7777, 0o755);
    }
    std::fs::remove_dir_all(&d).unwrap();
}
