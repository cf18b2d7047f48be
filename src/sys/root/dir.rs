//! `Dir`: one directory of the root, resolved inside it once (openat2 RESOLVE_IN_ROOT, as
//! every path), then used for many entries by name: lstat, temp files to rename into place.
//! A stage writing thousands of files into a few directories resolves each directory once
//! instead of each path from the root again. Names are single components; the last component
//! is never followed.

use super::{create_temp_in, io_err, Kind, Meta, Root, TempFile};
use crate::error::{Context, Error, Result};
use rustix::fd::OwnedFd;
use rustix::fs::{self as rfs, AtFlags, FileType, Mode, OFlags};
use rustix::io::Errno;
use std::sync::{Arc, OnceLock};

/// The file type bits (`S_IFMT`), device, inode and link count of an entry.
#[derive(Debug, Clone, Copy)]
pub struct LabelStat {
    pub file_type: u32,
    pub dev: u64,
    pub ino: u64,
    pub nlink: u64,
}

pub struct Dir {
    fd: Arc<OwnedFd>,
    /// The config path it was opened by (for errors).
    path: String,
    /// What a new entry gets here untold, found out when first needed.
    fresh: OnceLock<Option<Fresh>>,
    /// Where it really is in the root, found out when first needed.
    real: OnceLock<String>,
}

/// What a new entry of a directory gets without being told: the stage's user, the group
/// (the directory's own when it is set-gid), and the mode asked for less the umask. Known
/// only where that is all there is to it: no default ACL, a filesystem that keeps owners
/// and modes as set (a vfat mount's owner comes from its options), and a group that is the
/// same whether or not the filesystem is mounted `grpid`.
#[derive(Debug, Clone, Copy)]
struct Fresh {
    uid: u32,
    gid: u32,
    umask: u32,
    setgid: bool,
}

/// ext4 (and ext2/3), xfs, btrfs, tmpfs.
const OWNING_FILESYSTEMS: [u64; 4] = [0xEF53, 0x5846_5342, 0x9123_683E, 0x0102_1994];

/// The process' umask, from /proc (reading it with umask(2) would change it for a moment
/// under the other threads).
fn umask() -> Option<u32> {
    static UMASK: OnceLock<Option<u32>> = OnceLock::new();
    *UMASK.get_or_init(|| {
        let status = std::fs::read_to_string("/proc/self/status").ok()?;
        let v = status.lines().find_map(|l| l.strip_prefix("Umask:"))?;
        u32::from_str_radix(v.trim(), 8).ok()
    })
}

/// A plain entry name: no slash, not `.` or `..`, not empty.
fn check(name: &str) -> Result<&str> {
    if name.is_empty() || name == "." || name == ".." || name.contains('/') {
        return Err(Error::failed(format!("{name:?} does not name an entry")));
    }
    Ok(name)
}

impl Dir {
    fn at(&self, name: &str) -> String {
        format!("{}/{name}", self.path.trim_end_matches('/'))
    }

    /// lstat of the entry `name`; `None` when missing.
    pub fn lstat(&self, name: &str) -> Result<Option<Meta>> {
        match rfs::statat(&*self.fd, check(name)?, AtFlags::SYMLINK_NOFOLLOW) {
            Ok(st) => Ok(Some(Meta::from(&st))),
            Err(Errno::NOENT) => Ok(None),
            Err(e) => Err(io_err("stat", &self.at(name), e)),
        }
    }

    /// The directory's entries (without `.` and `..`), sorted, each with its kind when the
    /// filesystem tells it with the name (`None`: ask `lstat`).
    pub fn entries(&self) -> Result<Vec<(String, Option<Kind>)>> {
        let mut out = self.entries_unsorted()?;
        out.sort_by(|a, b| a.0.cmp(&b.0));
        Ok(out)
    }

    /// `entries` in the order the filesystem lists them (as fts walks a tree). One open and
    /// getdents into a buffer each thread keeps (a buffer per listing was an mmap and an
    /// munmap each, with musl's allocator).
    pub fn entries_unsorted(&self) -> Result<Vec<(String, Option<Kind>)>> {
        thread_local!(static BUF: std::cell::RefCell<Vec<std::mem::MaybeUninit<u8>>> =
            std::cell::RefCell::new(vec![std::mem::MaybeUninit::uninit(); 32 * 1024]));
        let fd = rfs::openat(
            &*self.fd,
            ".",
            OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
            Mode::empty(),
        )
        .map_err(|e| io_err("listing", &self.path, e))?;
        let mut out = Vec::new();
        let mut list = |buf: &mut [std::mem::MaybeUninit<u8>]| -> Result<()> {
            let mut dir = rfs::RawDir::new(&fd, buf);
            while let Some(ent) = dir.next() {
                let ent = ent.map_err(|e| io_err("listing", &self.path, e))?;
                let n = ent.file_name().to_bytes();
                if n == b"." || n == b".." {
                    continue;
                }
                let kind = match ent.file_type() {
                    FileType::RegularFile => Some(Kind::File),
                    FileType::Directory => Some(Kind::Dir),
                    FileType::Symlink => Some(Kind::Symlink),
                    FileType::Unknown => None,
                    _ => Some(Kind::Other),
                };
                out.push((String::from_utf8_lossy(n).into_owned(), kind));
            }
            Ok(())
        };
        BUF.with(|b| match b.try_borrow_mut() {
            Ok(mut b) => list(&mut b),
            Err(_) => list(&mut vec![std::mem::MaybeUninit::uninit(); 32 * 1024]),
        })?;
        Ok(out)
    }

    /// What labelling needs of the entry `name` (not followed): `None` when missing.
    pub fn label_stat(&self, name: &str) -> Result<Option<LabelStat>> {
        match rfs::statat(&*self.fd, check(name)?, AtFlags::SYMLINK_NOFOLLOW) {
            // st_nlink is 32 bits wide on some architectures.
            #[allow(clippy::unnecessary_cast)]
            Ok(st) => Ok(Some(LabelStat {
                file_type: st.st_mode & 0o170000,
                dev: st.st_dev,
                ino: st.st_ino,
                nlink: st.st_nlink as u64,
            })),
            Err(Errno::NOENT) => Ok(None),
            Err(e) => Err(io_err("stat", &self.at(name), e)),
        }
    }

    /// Sets the SELinux label of the entry `name` itself (a symlink is not followed) as
    /// libselinux stores it: the context and a NUL. The entry is reached through this
    /// directory's descriptor (/proc/self/fd), so nothing on the way is resolved again.
    pub fn set_label(&self, name: &str, context: &str) -> Result<()> {
        use std::os::fd::AsRawFd;
        let name = check(name)?;
        let value = crate::selinux::xattr_value(context);
        let via = format!("/proc/self/fd/{}/{name}", self.fd.as_raw_fd());
        rfs::lsetxattr(&via, "security.selinux", &value, rfs::XattrFlags::empty())
            .map_err(|e| io_err("labelling", &self.at(name), e))
    }

    /// The target of the symlink `name`.
    pub fn readlink(&self, name: &str) -> Result<String> {
        let t = rfs::readlinkat(&*self.fd, check(name)?, Vec::new())
            .map_err(|e| io_err("readlink", &self.at(name), e))?;
        Ok(String::from_utf8_lossy(t.as_bytes()).into_owned())
    }

    /// Creates the directory `name` with `mode` exactly (the umask undone, an inherited
    /// set-gid bit dropped), then gives it `owner` when one is asked for (else it is the
    /// stage's, as `mkdir_all` creates its last directory). The chmod, and the chown, are left
    /// out where this directory says the new one has that mode, and owner, already.
    pub fn mkdir(&self, name: &str, mode: u32, owner: Option<(u32, u32)>) -> Result<()> {
        let name = check(name)?;
        rfs::mkdirat(&*self.fd, name, Mode::from_raw_mode(mode))
            .map_err(|e| io_err("creating directory", &self.at(name), e))?;
        // A set-gid directory's new subdirectory inherits the bit, which the chmod drops.
        let fresh = self.fresh_for(mode).filter(|f| !f.setgid);
        if fresh.is_none() {
            let fd = rfs::openat(
                &*self.fd,
                name,
                OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
                Mode::empty(),
            )
            .map_err(|e| io_err("opening", &self.at(name), e))?;
            rfs::fchmod(&fd, Mode::from_raw_mode(mode))
                .map_err(|e| io_err("chmod", &self.at(name), e))?;
        }
        match owner {
            Some(o) if fresh.is_none_or(|f| (f.uid, f.gid) != o) => self.chown(name, o.0, o.1),
            _ => Ok(()),
        }
    }

    /// Creates the symlink `name` pointing to `target` (as written; it is not resolved).
    pub fn symlink(&self, target: &str, name: &str) -> Result<()> {
        rfs::symlinkat(target, &*self.fd, check(name)?)
            .map_err(|e| io_err("creating symlink", &self.at(name), e))
    }

    /// Sets the owner of `name`, an entry just created here (not followed): left out where a
    /// new entry of this directory gets that owner untold.
    pub fn chown_new(&self, name: &str, uid: u32, gid: u32) -> Result<()> {
        match self.fresh() {
            Some(f) if (f.uid, f.gid) == (uid, gid) => Ok(()),
            _ => self.chown(name, uid, gid),
        }
    }

    /// Sets the owner of `name` itself (a symlink is not followed).
    pub fn chown(&self, name: &str, uid: u32, gid: u32) -> Result<()> {
        rfs::chownat(
            &*self.fd,
            check(name)?,
            Some(rfs::Uid::from_raw(uid)),
            Some(rfs::Gid::from_raw(gid)),
            AtFlags::SYMLINK_NOFOLLOW,
        )
        .map_err(|e| io_err("chown", &self.at(name), e))
    }

    /// Where this directory really is in `root` (its own root), as `Root::real_dir` says.
    pub fn real_path(&self, root: &Root) -> &str {
        self.real.get_or_init(|| root.real_dir(self))
    }

    /// A new temp file in this directory, to be committed over `name`.
    pub fn create_temp(&self, name: &str) -> Result<TempFile> {
        create_temp_in(self.fd.clone(), check(name)?, &self.at(name), 0o600)
    }

    /// Writes `bytes` to `name` atomically (a temp file renamed over it), with that owner and
    /// mode.
    pub fn write_atomic(
        &self,
        name: &str,
        bytes: &[u8],
        mode: u32,
        uid: u32,
        gid: u32,
    ) -> Result<()> {
        let mut t = self.create_temp(name)?;
        std::io::Write::write_all(&mut t.file, bytes)
            .context(|| format!("writing {}", self.at(name)))?;
        t.commit(mode, uid, gid)
    }

    /// A new temp file to be committed over `name` with `mode`: created with that mode when
    /// the directory says what a new file gets, so that `commit` changes only what differs
    /// (for most files nothing: one chown and one chmod less each).
    pub fn create_temp_for(&self, name: &str, mode: u32) -> Result<TempFile> {
        let fresh = self.fresh_for(mode);
        let initial = if fresh.is_some() { mode } else { 0o600 };
        let mut t = create_temp_in(self.fd.clone(), check(name)?, &self.at(name), initial)?;
        t.preset = fresh.map(|f| (mode, f.uid, f.gid));
        Ok(t)
    }

    /// `fresh`, where a new entry asked for with `mode` ends with that mode: no set-id or
    /// sticky bits, nothing the umask cuts.
    fn fresh_for(&self, mode: u32) -> Option<Fresh> {
        self.fresh()
            .filter(|f| mode & 0o7000 == 0 && mode & f.umask == 0)
    }

    fn fresh(&self) -> Option<Fresh> {
        *self.fresh.get_or_init(|| {
            use std::os::fd::AsRawFd;
            let umask = umask()?;
            let fs = rfs::fstatfs(&*self.fd).ok()?;
            // f_type is signed on some targets.
            #[allow(clippy::unnecessary_cast)]
            if !OWNING_FILESYSTEMS.contains(&(fs.f_type as u64 & 0xFFFF_FFFF)) {
                return None;
            }
            // A default ACL, not the umask, decides a new entry's mode.
            let via = format!("/proc/self/fd/{}", self.fd.as_raw_fd());
            match rfs::getxattr(&via, "system.posix_acl_default", &mut [0u8; 0][..]) {
                Err(Errno::NODATA) | Err(Errno::NOTSUP) => {}
                _ => return None,
            }
            let st = rfs::fstat(&*self.fd).ok()?;
            let setgid = st.st_mode & 0o2000 != 0;
            static IDS: OnceLock<(u32, u32)> = OnceLock::new();
            let (uid, gid) = *IDS.get_or_init(|| {
                (
                    rustix::process::geteuid().as_raw(),
                    rustix::process::getegid().as_raw(),
                )
            });
            // A new entry takes the directory's group when it is set-gid, or on a filesystem
            // mounted `grpid`, which fstatfs does not tell: known only where both give one.
            if !setgid && st.st_gid != gid {
                return None;
            }
            Some(Fresh {
                uid,
                gid: st.st_gid,
                umask,
                setgid,
            })
        })
    }
}

impl Root {
    /// Opens the directory `p` (symlinks followed inside the root); `None` when it or a
    /// directory on the way is missing, or is not a directory.
    pub fn open_dir(&self, p: &str) -> Result<Option<Dir>> {
        match self.dir_fd(p) {
            Ok(fd) => Ok(Some(Dir {
                fd: Arc::new(fd),
                path: p.to_string(),
                fresh: OnceLock::new(),
                real: OnceLock::new(),
            })),
            Err(Errno::NOENT) | Err(Errno::NOTDIR) => Ok(None),
            Err(e) => Err(io_err("resolving", p, e)),
        }
    }

    /// Where the directory `d` really is in the root (no symlink in it), as `real_path` gives
    /// it for an entry; without /proc, the path it was opened by.
    pub fn real_dir(&self, d: &Dir) -> String {
        let (Some(base), Some(here)) = (self.seen_as(), super::fd_path(&d.fd)) else {
            return d.path.clone();
        };
        match here.strip_prefix(base) {
            Ok(inside) => format!("/{}", inside.to_string_lossy()),
            Err(_) => d.path.clone(),
        }
    }
}

/// Opened directories by path, a bounded number at a time (each holds an fd): a stage keeps
/// one and asks it for each entry's parent.
pub struct DirCache {
    dirs: std::collections::HashMap<String, Arc<Dir>>,
    limit: usize,
    /// Directories found missing, remembered only while the tree does not change.
    missing: Option<std::collections::HashSet<String>>,
}

impl DirCache {
    /// For a writer: a directory found missing may be created next, so it is asked again.
    pub fn new(limit: usize) -> DirCache {
        DirCache {
            dirs: std::collections::HashMap::new(),
            limit,
            missing: None,
        }
    }

    /// For a reader of a tree nothing changes meanwhile (a plan): missing stays missing.
    pub fn read_only(limit: usize) -> DirCache {
        DirCache {
            missing: Some(Default::default()),
            ..DirCache::new(limit)
        }
    }

    /// The directory `p`, opened now or earlier; `None` when it is missing.
    pub fn get(&mut self, root: &Root, p: &str) -> Result<Option<Arc<Dir>>> {
        if let Some(d) = self.dirs.get(p) {
            return Ok(Some(d.clone()));
        }
        if self.missing.as_ref().is_some_and(|m| m.contains(p)) {
            return Ok(None);
        }
        let Some(d) = root.open_dir(p)? else {
            if let Some(m) = &mut self.missing {
                m.insert(p.to_string());
            }
            return Ok(None);
        };
        if self.dirs.len() >= self.limit {
            self.dirs.clear();
        }
        let d = Arc::new(d);
        self.dirs.insert(p.to_string(), d.clone());
        Ok(Some(d))
    }

    /// Forgets every directory: after the tree changed shape (a removal), a path may lead
    /// elsewhere than the directory opened for it.
    pub fn clear(&mut self) {
        self.dirs.clear();
        if let Some(m) = &mut self.missing {
            m.clear();
        }
    }
}
