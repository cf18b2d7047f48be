//! Walks over whole trees inside the target root: `rm -rf`, re-owning and copying, every
//! entry reached through directory fds with symlinks never followed.

use super::{io_err, set_owner_mode, split, Root};
use crate::error::{Context, Error, Result};
use rustix::fd::{AsFd, OwnedFd};
use rustix::fs::{self as rfs, AtFlags, FileType, Mode, OFlags};
use rustix::io::Errno;
use std::collections::HashMap;
use std::ffi::{CStr, CString};
use std::rc::Rc;

impl Root {
    /// `rm -rf` inside the root; symlinks are removed, never followed. Missing is fine.
    pub fn remove_all(&self, p: &str) -> Result<()> {
        let (parent, name) = match self.parent(p) {
            Ok(x) => x,
            Err(_) if self.lstat(p)?.is_none() => return Ok(()),
            Err(e) => return Err(e),
        };
        remove_entry(&parent, name).map_err(|e| io_err("removing", p, e))
    }

    /// Re-owns the tree at `p` depth first, the entry `p` names last: `map(uid, gid)` says the
    /// new owner and group of each node (`None` keeps it). Symlinks are re-owned themselves
    /// and never followed, `p` included.
    pub fn reown_tree(
        &self,
        p: &str,
        map: &mut dyn FnMut(u32, u32) -> (Option<u32>, Option<u32>),
    ) -> Result<()> {
        let (parent, name) = self.parent(p)?;
        let name = CString::new(name)
            .map_err(|_| Error::failed(format!("path {p:?} contains a NUL byte")))?;
        reown_entry(&parent, &name, p, map)
    }

    /// Copies the contents of directory `from` (resolved inside the root) into the existing
    /// directory `to` (whose final component must not be a symlink): regular files,
    /// directories and symlinks (copied as symlinks, never followed), with modes including
    /// set-id bits, access and modification times, and hard links between files of the tree.
    /// Each copy is owned by `owner`, or by the source's owner when `None`. Sockets, FIFOs and
    /// device nodes are skipped with a warning.
    pub fn copy_tree(&self, from: &str, to: &str, owner: Option<(u32, u32)>) -> Result<()> {
        let src = self
            .open_at(from, OFlags::RDONLY | OFlags::DIRECTORY)
            .map_err(|e| io_err("opening", from, e))?;
        let dst = if split(to).is_ok() {
            let (parent, name) = self.parent(to)?;
            rfs::openat(
                &parent,
                name,
                OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
                Mode::empty(),
            )
        } else {
            self.open_at(to, OFlags::RDONLY | OFlags::DIRECTORY)
        }
        .map_err(|e| io_err("opening", to, e))?;
        let mut links = HashMap::new();
        copy_dir(&src, from, &Rc::new(dst), to, owner, &mut links)
    }
}

/// The names in an open (readable) directory, without "." and "..", as raw bytes.
fn dir_names(fd: &impl AsFd) -> std::result::Result<Vec<CString>, Errno> {
    let mut names = Vec::new();
    for ent in rfs::Dir::read_from(fd)? {
        let ent = ent?;
        let n = ent.file_name();
        if n.to_bytes() != b"." && n.to_bytes() != b".." {
            names.push(n.to_owned());
        }
    }
    Ok(names)
}

fn child(path: &str, name: &CStr) -> String {
    format!("{}/{}", path.trim_end_matches('/'), name.to_string_lossy())
}

/// Access and modification times of a stat, for utimensat/futimens.
#[allow(clippy::unnecessary_cast, clippy::useless_conversion)] // field types vary by architecture
fn times_of(st: &rfs::Stat) -> rfs::Timestamps {
    rfs::Timestamps {
        last_access: rfs::Timespec {
            tv_sec: st.st_atime as i64,
            tv_nsec: st.st_atime_nsec as _,
        },
        last_modification: rfs::Timespec {
            tv_sec: st.st_mtime as i64,
            tv_nsec: st.st_mtime_nsec as _,
        },
    }
}

fn reown_entry(
    parent: &impl AsFd,
    name: &CStr,
    path: &str,
    map: &mut dyn FnMut(u32, u32) -> (Option<u32>, Option<u32>),
) -> Result<()> {
    let st = rfs::statat(parent, name, AtFlags::SYMLINK_NOFOLLOW)
        .map_err(|e| io_err("stat", path, e))?;
    if FileType::from_raw_mode(st.st_mode) == FileType::Directory {
        let fd = rfs::openat(
            parent,
            name,
            OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
            Mode::empty(),
        )
        .map_err(|e| io_err("opening", path, e))?;
        for n in dir_names(&fd).map_err(|e| io_err("listing", path, e))? {
            reown_entry(&fd, &n, &child(path, &n), map)?;
        }
    }
    let (uid, gid) = map(st.st_uid, st.st_gid);
    if uid.is_some() || gid.is_some() {
        rfs::chownat(
            parent,
            name,
            uid.map(rfs::Uid::from_raw),
            gid.map(rfs::Gid::from_raw),
            AtFlags::SYMLINK_NOFOLLOW,
        )
        .map_err(|e| io_err("chown", path, e))?;
    }
    Ok(())
}

/// Copies of multiply-linked source files, by source (dev, ino): destination directory and name.
type LinkMap = HashMap<(u64, u64), (Rc<OwnedFd>, CString)>;

fn copy_dir(
    src: &OwnedFd,
    src_path: &str,
    dst: &Rc<OwnedFd>,
    dst_path: &str,
    owner: Option<(u32, u32)>,
    links: &mut LinkMap,
) -> Result<()> {
    for name in dir_names(src).map_err(|e| io_err("listing", src_path, e))? {
        let (sp, dp) = (child(src_path, &name), child(dst_path, &name));
        let st = rfs::statat(src, &name, AtFlags::SYMLINK_NOFOLLOW)
            .map_err(|e| io_err("stat", &sp, e))?;
        let (uid, gid) = owner.unwrap_or((st.st_uid, st.st_gid));
        let mode = st.st_mode & 0o7777;
        let times = times_of(&st);
        match FileType::from_raw_mode(st.st_mode) {
            FileType::Symlink => {
                let target = rfs::readlinkat(src, &name, Vec::new())
                    .map_err(|e| io_err("readlink", &sp, e))?;
                rfs::symlinkat(&target, &**dst, &name)
                    .map_err(|e| io_err("creating symlink", &dp, e))?;
                rfs::chownat(
                    &**dst,
                    &name,
                    Some(rfs::Uid::from_raw(uid)),
                    Some(rfs::Gid::from_raw(gid)),
                    AtFlags::SYMLINK_NOFOLLOW,
                )
                .map_err(|e| io_err("chown", &dp, e))?;
                rfs::utimensat(&**dst, &name, &times, AtFlags::SYMLINK_NOFOLLOW)
                    .map_err(|e| io_err("setting times of", &dp, e))?;
            }
            FileType::Directory => {
                let dir = OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC;
                let sfd = rfs::openat(src, &name, dir, Mode::empty())
                    .map_err(|e| io_err("opening", &sp, e))?;
                rfs::mkdirat(&**dst, &name, Mode::from_raw_mode(0o700))
                    .map_err(|e| io_err("creating directory", &dp, e))?;
                let dfd = rfs::openat(&**dst, &name, dir, Mode::empty())
                    .map_err(|e| io_err("opening", &dp, e))?;
                rfs::fchown(
                    &dfd,
                    Some(rfs::Uid::from_raw(uid)),
                    Some(rfs::Gid::from_raw(gid)),
                )
                .map_err(|e| io_err("chown", &dp, e))?;
                let dfd = Rc::new(dfd);
                copy_dir(&sfd, &sp, &dfd, &dp, owner, links)?;
                rfs::fchmod(&*dfd, Mode::from_raw_mode(mode))
                    .map_err(|e| io_err("chmod", &dp, e))?;
                rfs::futimens(&*dfd, &times).map_err(|e| io_err("setting times of", &dp, e))?;
            }
            FileType::RegularFile => {
                let key = (st.st_dev, st.st_ino);
                if st.st_nlink > 1 {
                    if let Some((first_dir, first_name)) = links.get(&key) {
                        rfs::linkat(&**first_dir, first_name, &**dst, &name, AtFlags::empty())
                            .map_err(|e| io_err("creating hard link", &dp, e))?;
                        continue;
                    }
                }
                copy_file(src, &name, &sp, dst, &dp, &st, uid, gid)?;
                if st.st_nlink > 1 {
                    links.insert(key, (Rc::clone(dst), name));
                }
            }
            _ => log::warn!("not copying {sp}: special files are not supported"),
        }
    }
    Ok(())
}

#[allow(clippy::too_many_arguments)]
fn copy_file(
    src: &OwnedFd,
    name: &CStr,
    sp: &str,
    dst: &OwnedFd,
    dp: &str,
    st: &rfs::Stat,
    uid: u32,
    gid: u32,
) -> Result<()> {
    // NONBLOCK: should the entry have become a FIFO since the stat, opening must not hang.
    let sfd = rfs::openat(
        src,
        name,
        OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::NONBLOCK | OFlags::NOCTTY | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .map_err(|e| io_err("opening", sp, e))?;
    let now = rfs::fstat(&sfd).map_err(|e| io_err("stat", sp, e))?;
    if (now.st_dev, now.st_ino) != (st.st_dev, st.st_ino) {
        return Err(Error::failed(format!("{sp} changed while being copied")));
    }
    let dfd = rfs::openat(
        dst,
        name,
        OFlags::WRONLY | OFlags::CREATE | OFlags::EXCL | OFlags::NOFOLLOW | OFlags::CLOEXEC,
        Mode::from_raw_mode(0o600),
    )
    .map_err(|e| io_err("creating", dp, e))?;
    let (mut sf, mut df) = (std::fs::File::from(sfd), std::fs::File::from(dfd));
    std::io::copy(&mut sf, &mut df).context(|| format!("copying {sp} to {dp}"))?;
    set_owner_mode(&df, uid, gid, st.st_mode & 0o7777).map_err(|e| io_err("setting up", dp, e))?;
    rfs::futimens(&df, &times_of(st)).map_err(|e| io_err("setting times of", dp, e))
}

fn remove_entry(parent: &impl AsFd, name: &str) -> std::result::Result<(), Errno> {
    let st = match rfs::statat(parent, name, AtFlags::SYMLINK_NOFOLLOW) {
        Ok(st) => st,
        Err(Errno::NOENT) => return Ok(()),
        Err(e) => return Err(e),
    };
    if FileType::from_raw_mode(st.st_mode) == FileType::Directory {
        let fd = rfs::openat(
            parent,
            name,
            OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
            Mode::empty(),
        )?;
        let names: Vec<String> = rfs::Dir::read_from(&fd)?
            .filter_map(|e| e.ok())
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| n != "." && n != "..")
            .collect();
        for n in names {
            remove_entry(&fd, &n)?;
        }
        rfs::unlinkat(parent, name, AtFlags::REMOVEDIR)
    } else {
        rfs::unlinkat(parent, name, AtFlags::empty())
    }
}
#[cfg(test)]
mod tests {
    use super::super::tests::{outside_dir, snapshot, tmp_root};
    use super::*;
    use crate::sys::root::Kind;

    #[test]
    fn remove_all_does_not_follow_symlinks() {
        let (d, r) = tmp_root("rm");
        let tmp = tempfile::tempdir().unwrap();
        let keep = tmp.path();
        std::fs::write(keep.join("precious"), b"x").unwrap();
        r.mkdir_all("/t/sub", 0o755).unwrap();
        std::os::unix::fs::symlink(keep, d.join("t/sub/l")).unwrap();
        r.remove_all("/t").unwrap();
        assert!(r.lstat("/t").unwrap().is_none());
        assert!(keep.join("precious").exists());
        r.remove_all("/missing/x").unwrap();
        std::fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn reown_tree_maps_ids_and_never_follows_symlinks() {
        let (d, r) = tmp_root("reown");
        let out = outside_dir("reown");
        std::os::unix::fs::chown(out.join("keep"), Some(1000), Some(1000)).unwrap();
        let before = snapshot(&out);
        r.mkdir("/h", 0o700, 1000, 1000).unwrap();
        r.mkdir("/h/sub", 0o755, 1000, 50).unwrap();
        r.write_atomic("/h/sub/f", b"x", 0o4755, 1000, 1000)
            .unwrap();
        r.write_atomic("/h/other", b"x", 0o644, 7, 1000).unwrap();
        std::os::unix::fs::symlink(&out, d.join("h/out")).unwrap();
        std::os::unix::fs::symlink("../../../../../..", d.join("h/up")).unwrap();
        std::os::unix::fs::lchown(d.join("h/out"), Some(1000), Some(1000)).unwrap();
        let mut seen = 0;
        r.reown_tree("/h", &mut |u, g| {
            seen += 1;
            ((u == 1000).then_some(2000), (g == 1000).then_some(3000))
        })
        .unwrap();
        assert_eq!(seen, 6, "h, sub, f, other, out, up");
        let ids = |p: &str| {
            let m = r.lstat(p).unwrap().unwrap();
            (m.uid, m.gid)
        };
        assert_eq!(ids("/h"), (2000, 3000));
        assert_eq!(ids("/h/sub"), (2000, 50));
        assert_eq!(ids("/h/sub/f"), (2000, 3000));
        assert_eq!(ids("/h/other"), (7, 3000));
        assert_eq!(ids("/h/out"), (2000, 3000), "the symlink itself");
        assert_eq!(snapshot(&out), before, "nothing changed outside");
        // A tree that is itself a symlink: only the link is re-owned.
        std::os::unix::fs::symlink(&out, d.join("top")).unwrap();
        r.reown_tree("/top", &mut |_, _| (Some(5), Some(5)))
            .unwrap();
        assert_eq!(ids("/top"), (5, 5));
        assert_eq!(snapshot(&out), before, "nothing changed outside");
        std::fs::remove_dir_all(&d).unwrap();
        std::fs::remove_dir_all(&out).unwrap();
    }

    #[test]
    fn copy_tree_keeps_modes_times_links_and_never_follows() {
        use std::os::unix::ffi::OsStrExt;
        let (d, r) = tmp_root("copy");
        let out = outside_dir("copy");
        let before = snapshot(&out);
        r.mkdir_all("/skel/sub", 0o710).unwrap();
        r.write_atomic("/skel/sub/f", b"data", 0o600, 1, 2).unwrap();
        r.write_atomic("/skel/suid", b"#!", 0o4755, 0, 0).unwrap();
        r.hard_link("/skel/sub/f", "/skel/h").unwrap();
        r.symlink("sub/f", "/skel/rel").unwrap();
        std::os::unix::fs::symlink(&out, d.join("skel/abs")).unwrap();
        std::os::unix::fs::symlink("../../../../../../..", d.join("skel/up")).unwrap();
        std::fs::write(
            d.join("skel").join(std::ffi::OsStr::from_bytes(b"n\xffu")),
            b"raw",
        )
        .unwrap();
        let skel = r
            .open_at("/skel", OFlags::RDONLY | OFlags::DIRECTORY)
            .unwrap();
        rfs::mknodat(&skel, "fifo", FileType::Fifo, Mode::from_raw_mode(0o644), 0).unwrap();
        let old = rfs::Timestamps {
            last_access: rfs::Timespec {
                tv_sec: 1_000_000,
                tv_nsec: 5,
            },
            last_modification: rfs::Timespec {
                tv_sec: 2_000_000,
                tv_nsec: 7,
            },
        };
        for p in ["skel/sub/f", "skel/sub", "skel/abs"] {
            rfs::utimensat(
                rfs::CWD,
                d.join(p).as_path(),
                &old,
                AtFlags::SYMLINK_NOFOLLOW,
            )
            .unwrap();
        }
        r.mkdir("/home", 0o700, 1000, 1000).unwrap();
        r.copy_tree("/skel", "/home", Some((1000, 1000))).unwrap();
        // Times first: reading a copy below may update its access time.
        for p in ["home/sub/f", "home/sub", "home/abs"] {
            let st = rfs::lstat(d.join(p).as_path()).unwrap();
            assert_eq!(times_of(&st).last_modification.tv_sec, 2_000_000, "{p}");
            assert_eq!(times_of(&st).last_modification.tv_nsec, 7, "{p}");
            assert_eq!(times_of(&st).last_access.tv_sec, 1_000_000, "{p}");
        }

        let m = r.lstat("/home/sub").unwrap().unwrap();
        assert_eq!(
            (m.kind, m.mode, m.uid, m.gid),
            (Kind::Dir, 0o710, 1000, 1000)
        );
        let f = r.lstat("/home/sub/f").unwrap().unwrap();
        assert_eq!((f.mode, f.uid, f.gid), (0o600, 1000, 1000));
        assert_eq!(r.read("/home/sub/f").unwrap().unwrap(), b"data");
        assert_eq!(
            r.lstat("/home/h").unwrap().unwrap().ino,
            f.ino,
            "hard link kept"
        );
        assert_eq!(r.lstat("/home/suid").unwrap().unwrap().mode, 0o4755);
        assert_eq!(r.readlink("/home/rel").unwrap(), "sub/f");
        assert_eq!(r.lstat("/home/abs").unwrap().unwrap().kind, Kind::Symlink);
        assert_eq!(r.readlink("/home/abs").unwrap(), out.to_string_lossy());
        assert_eq!(r.lstat("/home/abs").unwrap().unwrap().uid, 1000);
        assert_eq!(r.lstat("/home/up").unwrap().unwrap().kind, Kind::Symlink);
        assert!(
            r.lstat("/home/fifo").unwrap().is_none(),
            "special files skipped"
        );
        let raw = d.join("home").join(std::ffi::OsStr::from_bytes(b"n\xffu"));
        assert_eq!(std::fs::read(raw).unwrap(), b"raw", "non-UTF-8 names kept");

        // Owners kept when asked.
        r.mkdir("/copy", 0o755, 0, 0).unwrap();
        r.copy_tree("/skel", "/copy", None).unwrap();
        let f = r.lstat("/copy/sub/f").unwrap().unwrap();
        assert_eq!((f.uid, f.gid), (1, 2));

        // The destination's last component is never followed.
        std::os::unix::fs::symlink("/home", d.join("dst")).unwrap();
        assert!(r.copy_tree("/skel", "/dst", None).is_err());
        assert_eq!(snapshot(&out), before, "nothing written outside");
        std::fs::remove_dir_all(&d).unwrap();
        std::fs::remove_dir_all(&out).unwrap();
    }
}
