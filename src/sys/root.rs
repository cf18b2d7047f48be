//! `Root`: the target filesystem, every path resolved by the kernel inside it (openat2 with
//! RESOLVE_IN_ROOT: `..` and absolute symlinks cannot leave it; magic links are refused), the
//! last component never followed. No path string is ever joined onto the root path. Writes go
//! to a temp file in the destination directory and are renamed into place.

use crate::error::{Error, Result};
use rustix::fd::{AsFd, OwnedFd};
use rustix::fs::{self as rfs, AtFlags, FileType, Mode, OFlags, ResolveFlags};
use rustix::io::Errno;
use std::collections::HashMap;
use std::ffi::{CStr, CString, OsString};
use std::os::unix::ffi::OsStringExt;
use std::path::{Path, PathBuf};
use std::rc::Rc;

/// What kind of node a path is (without following a final symlink).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    File,
    Dir,
    Symlink,
    Other,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Meta {
    pub kind: Kind,
    /// Permission bits including setuid/setgid/sticky.
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
    pub dev: u64,
    pub ino: u64,
}

impl Meta {
    fn from(st: &rfs::Stat) -> Meta {
        let kind = match FileType::from_raw_mode(st.st_mode) {
            FileType::RegularFile => Kind::File,
            FileType::Directory => Kind::Dir,
            FileType::Symlink => Kind::Symlink,
            _ => Kind::Other,
        };
        Meta {
            kind,
            mode: st.st_mode & 0o7777,
            uid: st.st_uid,
            gid: st.st_gid,
            dev: st.st_dev,
            ino: st.st_ino,
        }
    }
}

pub struct Root {
    fd: OwnedFd,
    path: PathBuf,
}

const RESOLVE: ResolveFlags = ResolveFlags::IN_ROOT.union(ResolveFlags::NO_MAGICLINKS);

/// A config path as a path relative to the root ("" for the root itself).
fn rel(p: &str) -> &str {
    let r = p.trim_start_matches('/');
    if r.is_empty() {
        "."
    } else {
        r
    }
}

/// Splits "/a/b/c" into ("/a/b", "c"); the root itself has no name.
fn split(p: &str) -> Result<(&str, &str)> {
    let t = p.trim_end_matches('/');
    match t.rfind('/') {
        Some(i) if !t[i + 1..].is_empty() && &t[i + 1..] != "." && &t[i + 1..] != ".." => {
            Ok((if i == 0 { "/" } else { &t[..i] }, &t[i + 1..]))
        }
        None if !t.is_empty() && t != "." && t != ".." => Ok(("/", t)),
        _ => Err(Error::failed(format!("path {p:?} does not name an entry"))),
    }
}

fn io_err(what: &str, p: &str, e: Errno) -> Error {
    Error::failed(format!("{what} {p}: {}", std::io::Error::from(e)))
}

/// A file being written; renamed over its destination by `commit`, removed if dropped.
pub struct TempFile {
    parent: OwnedFd,
    tmp: String,
    name: String,
    pub file: std::fs::File,
    committed: bool,
}

impl TempFile {
    /// Sets owner and mode, then renames the file into place.
    pub fn commit(mut self, mode: u32, uid: u32, gid: u32) -> Result<()> {
        rfs::fchown(
            &self.file,
            Some(rfs::Uid::from_raw(uid)),
            Some(rfs::Gid::from_raw(gid)),
        )
        .map_err(|e| io_err("chown", &self.name, e))?;
        rfs::fchmod(&self.file, Mode::from_raw_mode(mode))
            .map_err(|e| io_err("chmod", &self.name, e))?;
        rfs::renameat(&self.parent, &self.tmp, &self.parent, &self.name)
            .map_err(|e| io_err("rename into", &self.name, e))?;
        self.committed = true;
        Ok(())
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        if !self.committed {
            let _ = rfs::unlinkat(&self.parent, &self.tmp, AtFlags::empty());
        }
    }
}

impl crate::resource::Sink for TempFile {
    fn reset(&mut self) -> std::io::Result<()> {
        self.file.reset()
    }
}

impl std::io::Write for TempFile {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.file.write(b)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.file.flush()
    }
}

impl Root {
    /// Opens the target root. Refuses kernels without openat2 (Linux < 5.6): confinement by
    /// path strings is not an option.
    pub fn open(path: &Path) -> Result<Root> {
        let fd = rfs::open(
            path,
            OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC,
            Mode::empty(),
        )
        .map_err(|e| {
            Error::setup(format!(
                "opening target root {}: {}",
                path.display(),
                std::io::Error::from(e)
            ))
        })?;
        match rfs::openat2(&fd, ".", OFlags::PATH | OFlags::CLOEXEC, Mode::empty(), RESOLVE) {
            Ok(_) => {}
            Err(Errno::NOSYS) => {
                return Err(Error::setup(
                    "the kernel lacks openat2 (Linux 5.6 or newer is required to confine writes to the target root)",
                ))
            }
            Err(e) => return Err(Error::setup(format!("probing openat2: {}", std::io::Error::from(e)))),
        }
        Ok(Root {
            fd,
            path: path.to_path_buf(),
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Opens `p` (following symlinks, all inside the root) with `flags`.
    fn open_at(&self, p: &str, flags: OFlags) -> std::result::Result<OwnedFd, Errno> {
        rfs::openat2(
            &self.fd,
            rel(p),
            flags | OFlags::CLOEXEC,
            Mode::empty(),
            RESOLVE,
        )
    }

    fn dir_fd(&self, p: &str) -> std::result::Result<OwnedFd, Errno> {
        self.open_at(p, OFlags::PATH | OFlags::DIRECTORY)
    }

    /// The directory holding `p` and `p`'s last component.
    fn parent<'p>(&self, p: &'p str) -> Result<(OwnedFd, &'p str)> {
        let (dir, name) = split(p)?;
        let fd = self.dir_fd(dir).map_err(|e| io_err("resolving", dir, e))?;
        Ok((fd, name))
    }

    /// `lstat` inside the root; `None` when the entry or a parent is missing.
    pub fn lstat(&self, p: &str) -> Result<Option<Meta>> {
        if split(p).is_err() {
            return self.stat(p);
        }
        let (dir, name) = split(p)?;
        let fd = match self.dir_fd(dir) {
            Ok(fd) => fd,
            Err(Errno::NOENT) | Err(Errno::NOTDIR) => return Ok(None),
            Err(e) => return Err(io_err("resolving", dir, e)),
        };
        match rfs::statat(&fd, name, AtFlags::SYMLINK_NOFOLLOW) {
            Ok(st) => Ok(Some(Meta::from(&st))),
            Err(Errno::NOENT) => Ok(None),
            Err(e) => Err(io_err("stat", p, e)),
        }
    }

    /// `stat` inside the root (final symlinks followed, within the root).
    pub fn stat(&self, p: &str) -> Result<Option<Meta>> {
        match self.open_at(p, OFlags::PATH) {
            Ok(fd) => rfs::fstat(&fd)
                .map(|st| Some(Meta::from(&st)))
                .map_err(|e| io_err("stat", p, e)),
            Err(Errno::NOENT) | Err(Errno::NOTDIR) | Err(Errno::LOOP) => Ok(None),
            Err(e) => Err(io_err("stat", p, e)),
        }
    }

    /// Identity of the entry `p` names: its resolved parent directory and its name. Two config
    /// entries with the same identity write the same node.
    pub fn identity(&self, p: &str) -> Result<Option<(u64, u64, String)>> {
        let (dir, name) = split(p)?;
        match self.dir_fd(dir) {
            Ok(fd) => {
                let st = rfs::fstat(&fd).map_err(|e| io_err("stat", dir, e))?;
                Ok(Some((st.st_dev, st.st_ino, name.to_string())))
            }
            Err(Errno::NOENT) => Ok(None),
            Err(e) => Err(io_err("resolving", dir, e)),
        }
    }

    /// Creates `p` and its missing parents (0755 unless `mode` says otherwise for `p`, owned
    /// by root). Returns the directories it created, shallowest first.
    pub fn mkdir_all(&self, p: &str, mode: u32) -> Result<Vec<String>> {
        let mut created = Vec::new();
        let mut cur = String::new();
        let comps: Vec<&str> = p
            .split('/')
            .filter(|c| !c.is_empty() && *c != ".")
            .collect();
        for (i, c) in comps.iter().enumerate() {
            let parent = if cur.is_empty() {
                "/".to_string()
            } else {
                cur.clone()
            };
            cur.push('/');
            cur.push_str(c);
            match self.dir_fd(&cur) {
                Ok(_) => continue,
                Err(Errno::NOENT) => {}
                Err(Errno::NOTDIR) => {
                    return Err(Error::failed(format!(
                        "{cur} exists and is not a directory"
                    )))
                }
                Err(e) => return Err(io_err("resolving", &cur, e)),
            }
            let pfd = self
                .dir_fd(&parent)
                .map_err(|e| io_err("resolving", &parent, e))?;
            let m = if i + 1 == comps.len() { mode } else { 0o755 };
            match rfs::mkdirat(&pfd, *c, Mode::from_raw_mode(m)) {
                Ok(()) => {
                    // mkdir applies the umask; set the mode we mean.
                    self.chmod(&cur, m)?;
                    created.push(cur.clone());
                }
                Err(Errno::EXIST) => {
                    // A dangling symlink or a non-directory: not something to descend into.
                    return Err(Error::failed(format!(
                        "{cur} exists and is not a directory"
                    )));
                }
                Err(e) => return Err(io_err("creating directory", &cur, e)),
            }
        }
        Ok(created)
    }

    /// A new temp file beside `p` (whose parent must exist), to be committed over `p`.
    pub fn create_temp(&self, p: &str) -> Result<TempFile> {
        let (parent, name) = self.parent(p)?;
        for n in 0..100u32 {
            let tmp = format!(".{name}.ignis{}-{n}", std::process::id());
            match rfs::openat(
                &parent,
                tmp.as_str(),
                OFlags::WRONLY | OFlags::CREATE | OFlags::EXCL | OFlags::CLOEXEC | OFlags::NOFOLLOW,
                Mode::from_raw_mode(0o600),
            ) {
                Ok(fd) => {
                    return Ok(TempFile {
                        parent,
                        tmp,
                        name: name.to_string(),
                        file: std::fs::File::from(fd),
                        committed: false,
                    })
                }
                Err(Errno::EXIST) => continue,
                Err(e) => return Err(io_err("creating a temp file for", p, e)),
            }
        }
        Err(Error::failed(format!(
            "could not create a temp file for {p}"
        )))
    }

    /// Opens an existing regular file for reading (symlinks followed inside the root).
    pub fn open_read(&self, p: &str) -> Result<Option<std::fs::File>> {
        match self.open_at(p, OFlags::RDONLY) {
            Ok(fd) => Ok(Some(std::fs::File::from(fd))),
            Err(Errno::NOENT) | Err(Errno::NOTDIR) => Ok(None),
            Err(e) => Err(io_err("opening", p, e)),
        }
    }

    pub fn read(&self, p: &str) -> Result<Option<Vec<u8>>> {
        let Some(mut f) = self.open_read(p)? else {
            return Ok(None);
        };
        let mut v = Vec::new();
        std::io::Read::read_to_end(&mut f, &mut v)
            .map_err(|e| Error::failed(format!("reading {p}: {e}")))?;
        Ok(Some(v))
    }

    /// Writes `bytes` to `p` atomically with `mode` and owner, creating parents.
    pub fn write_atomic(&self, p: &str, bytes: &[u8], mode: u32, uid: u32, gid: u32) -> Result<()> {
        let (dir, _) = split(p)?;
        self.mkdir_all(dir, 0o755)?;
        let mut t = self.create_temp(p)?;
        std::io::Write::write_all(&mut t.file, bytes)
            .map_err(|e| Error::failed(format!("writing {p}: {e}")))?;
        t.commit(mode, uid, gid)
    }

    pub fn readlink(&self, p: &str) -> Result<String> {
        let (parent, name) = self.parent(p)?;
        let t = rfs::readlinkat(&parent, name, Vec::new()).map_err(|e| io_err("readlink", p, e))?;
        Ok(OsString::from_vec(t.into_bytes())
            .to_string_lossy()
            .into_owned())
    }

    pub fn symlink(&self, target: &str, p: &str) -> Result<()> {
        let (parent, name) = self.parent(p)?;
        rfs::symlinkat(target, &parent, name).map_err(|e| io_err("creating symlink", p, e))
    }

    /// A hard link at `p` to the node at `target` (resolved inside the root; a final symlink in
    /// `target` is linked itself, not followed).
    pub fn hard_link(&self, target: &str, p: &str) -> Result<()> {
        let (tparent, tname) = self.parent(target)?;
        let (parent, name) = self.parent(p)?;
        rfs::linkat(&tparent, tname, &parent, name, AtFlags::empty())
            .map_err(|e| io_err("creating hard link", p, e))
    }

    /// Sets owner without following a final symlink.
    pub fn lchown(&self, p: &str, uid: u32, gid: u32) -> Result<()> {
        let (parent, name) = self.parent(p)?;
        rfs::chownat(
            &parent,
            name,
            Some(rfs::Uid::from_raw(uid)),
            Some(rfs::Gid::from_raw(gid)),
            AtFlags::SYMLINK_NOFOLLOW,
        )
        .map_err(|e| io_err("chown", p, e))
    }

    /// Sets the mode of a file or directory (never through a symlink).
    pub fn chmod(&self, p: &str, mode: u32) -> Result<()> {
        let fd = if split(p).is_ok() {
            let (parent, name) = self.parent(p)?;
            rfs::openat(
                &parent,
                name,
                OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::NONBLOCK | OFlags::CLOEXEC,
                Mode::empty(),
            )
        } else {
            rfs::openat(
                &self.fd,
                ".",
                OFlags::RDONLY | OFlags::CLOEXEC,
                Mode::empty(),
            )
        };
        let fd = fd.map_err(|e| io_err("opening to chmod", p, e))?;
        rfs::fchmod(&fd, Mode::from_raw_mode(mode)).map_err(|e| io_err("chmod", p, e))
    }

    /// Removes a non-directory entry.
    pub fn unlink(&self, p: &str) -> Result<()> {
        let (parent, name) = self.parent(p)?;
        rfs::unlinkat(&parent, name, AtFlags::empty()).map_err(|e| io_err("removing", p, e))
    }

    /// `rm -rf` inside the root; symlinks are removed, never followed. Missing is fine.
    pub fn remove_all(&self, p: &str) -> Result<()> {
        let (parent, name) = match self.parent(p) {
            Ok(x) => x,
            Err(_) if self.lstat(p)?.is_none() => return Ok(()),
            Err(e) => return Err(e),
        };
        remove_entry(&parent, name).map_err(|e| io_err("removing", p, e))
    }

    /// Names in directory `p` (not following a final symlink into another directory).
    pub fn list_dir(&self, p: &str) -> Result<Vec<String>> {
        let fd = match self.open_at(p, OFlags::RDONLY | OFlags::DIRECTORY) {
            Ok(fd) => fd,
            Err(Errno::NOENT) | Err(Errno::NOTDIR) => return Ok(Vec::new()),
            Err(e) => return Err(io_err("listing", p, e)),
        };
        let dir = rfs::Dir::read_from(&fd).map_err(|e| io_err("listing", p, e))?;
        let mut names = Vec::new();
        for ent in dir {
            let ent = ent.map_err(|e| io_err("listing", p, e))?;
            let n = ent.file_name().to_string_lossy().into_owned();
            if n != "." && n != ".." {
                names.push(n);
            }
        }
        names.sort();
        Ok(names)
    }

    /// Creates the directory `p` (its parent must exist; any existing entry there, a dangling
    /// symlink included, is an error), then sets its owner, then its mode (in that order, so
    /// set-id bits survive the chown).
    pub fn mkdir(&self, p: &str, mode: u32, uid: u32, gid: u32) -> Result<()> {
        let (parent, name) = self.parent(p)?;
        rfs::mkdirat(&parent, name, Mode::from_raw_mode(0o700))
            .map_err(|e| io_err("creating directory", p, e))?;
        let fd = rfs::openat(
            &parent,
            name,
            OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
            Mode::empty(),
        )
        .map_err(|e| io_err("opening", p, e))?;
        set_owner_mode(&fd, uid, gid, mode).map_err(|e| io_err("setting up", p, e))
    }

    /// Creates an empty regular file at `p` with owner and mode; `Ok(false)` (and nothing
    /// changed) when any entry, a symlink included, is already there.
    pub fn create_new(&self, p: &str, mode: u32, uid: u32, gid: u32) -> Result<bool> {
        let (parent, name) = self.parent(p)?;
        let fd = match rfs::openat(
            &parent,
            name,
            OFlags::WRONLY | OFlags::CREATE | OFlags::EXCL | OFlags::NOFOLLOW | OFlags::CLOEXEC,
            Mode::empty(),
        ) {
            Ok(fd) => fd,
            Err(Errno::EXIST) => return Ok(false),
            Err(e) => return Err(io_err("creating", p, e)),
        };
        set_owner_mode(&fd, uid, gid, mode).map_err(|e| io_err("setting up", p, e))?;
        Ok(true)
    }

    /// Changes owner and/or group (`None` leaves it) without following a final symlink.
    pub fn lchown_ids(&self, p: &str, uid: Option<u32>, gid: Option<u32>) -> Result<()> {
        let (parent, name) = self.parent(p)?;
        rfs::chownat(
            &parent,
            name,
            uid.map(rfs::Uid::from_raw),
            gid.map(rfs::Gid::from_raw),
            AtFlags::SYMLINK_NOFOLLOW,
        )
        .map_err(|e| io_err("chown", p, e))
    }

    /// rename(2) inside the root: the entries `from` and `to` name are moved and replaced
    /// themselves (final symlinks are not followed). `Ok(false)`, with nothing changed, when
    /// they are on different filesystems (EXDEV), for the caller to copy instead.
    pub fn rename(&self, from: &str, to: &str) -> Result<bool> {
        let (fparent, fname) = self.parent(from)?;
        let (tparent, tname) = self.parent(to)?;
        match rfs::renameat(&fparent, fname, &tparent, tname) {
            Ok(()) => Ok(true),
            Err(Errno::XDEV) => Ok(false),
            Err(e) => Err(io_err("renaming", &format!("{from} to {to}"), e)),
        }
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

    /// Flushes the whole target filesystem once (instead of an fsync per file).
    pub fn syncfs(&self) -> Result<()> {
        let fd = rfs::openat(
            &self.fd,
            ".",
            OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
            Mode::empty(),
        )
        .map_err(|e| io_err("opening", "/", e))?;
        rfs::syncfs(&fd).map_err(|e| io_err("syncfs", "/", e))
    }
}

/// fchown then fchmod (chown may clear set-id bits; the chmod puts back what is meant).
fn set_owner_mode(fd: &impl AsFd, uid: u32, gid: u32, mode: u32) -> std::result::Result<(), Errno> {
    rfs::fchown(
        fd,
        Some(rfs::Uid::from_raw(uid)),
        Some(rfs::Gid::from_raw(gid)),
    )?;
    rfs::fchmod(fd, Mode::from_raw_mode(mode))
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
    std::io::copy(&mut sf, &mut df)
        .map_err(|e| Error::failed(format!("copying {sp} to {dp}: {e}")))?;
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
    use super::*;

    fn tmp_root(name: &str) -> (PathBuf, Root) {
        let d = std::env::temp_dir().join(format!("ignis-root-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
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
        let outside = std::env::temp_dir().join(format!("ignis-outside-{}", std::process::id()));
        std::fs::create_dir_all(&outside).unwrap();
        // /etc -> / (absolute) and /up -> ../../.. (relative, climbing): both stay in the root.
        std::os::unix::fs::symlink(&outside, d.join("etc")).unwrap();
        std::os::unix::fs::symlink("../../../../../..", d.join("up")).unwrap();
        r.write_atomic("/etc/x", b"1", 0o644, 0, 0).unwrap_err();
        r.mkdir_all("/up/tmp", 0o755).unwrap();
        r.write_atomic("/up/tmp/y", b"2", 0o644, 0, 0).unwrap();
        assert!(d.join("tmp/y").exists(), "written inside the root");
        assert!(
            std::fs::read_dir(&outside).unwrap().next().is_none(),
            "nothing written outside"
        );
        std::fs::remove_dir_all(&d).unwrap();
        std::fs::remove_dir_all(&outside).unwrap();
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
    fn remove_all_does_not_follow_symlinks() {
        let (d, r) = tmp_root("rm");
        let keep = std::env::temp_dir().join(format!("ignis-keep-{}", std::process::id()));
        std::fs::create_dir_all(&keep).unwrap();
        std::fs::write(keep.join("precious"), b"x").unwrap();
        r.mkdir_all("/t/sub", 0o755).unwrap();
        std::os::unix::fs::symlink(&keep, d.join("t/sub/l")).unwrap();
        r.remove_all("/t").unwrap();
        assert!(r.lstat("/t").unwrap().is_none());
        assert!(keep.join("precious").exists());
        r.remove_all("/missing/x").unwrap();
        std::fs::remove_dir_all(&d).unwrap();
        std::fs::remove_dir_all(&keep).unwrap();
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
    fn outside_dir(name: &str) -> PathBuf {
        let o = std::env::temp_dir().join(format!("ignis-out-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&o);
        std::fs::create_dir_all(&o).unwrap();
        std::fs::write(o.join("keep"), b"outside").unwrap();
        o
    }

    /// Everything under `d`: relative path, mode, owner, content or link target, mtime.
    fn snapshot(d: &Path) -> Vec<(PathBuf, u32, u32, u32, Vec<u8>, i64)> {
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
