//! `Root`: the target filesystem, every path resolved by the kernel inside it (openat2 with
//! RESOLVE_IN_ROOT: `..` and absolute symlinks cannot leave it; magic links are refused), the
//! last component never followed. No path string is ever joined onto the root path. Writes go
//! to a temp file in the destination directory and are renamed into place. Walking a path
//! through links whose targets do not exist yet (`mkdir_all`, `resolve`) is in `walk`; whole
//! trees (`remove_all`, `reown_tree`, `copy_tree`) in `tree`.

use crate::error::{Context, Error, Result};
use rustix::fd::{AsFd, OwnedFd};
use rustix::fs::{self as rfs, AtFlags, FileType, Mode, OFlags, ResolveFlags};
use rustix::io::Errno;
use std::ffi::OsString;
use std::os::unix::ffi::OsStringExt;
use std::path::{Path, PathBuf};

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

mod dir;
mod tree;
mod walk;

pub use dir::{Dir, DirCache, LabelStat};

pub struct Root {
    fd: OwnedFd,
    path: PathBuf,
    /// Where the kernel says the root is (/proc/self/fd), read once.
    seen_as: std::sync::OnceLock<Option<PathBuf>>,
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

/// A failed system call on `p`: the errno's text under a `{what} {p}` context, the number
/// kept as [`Error::errno`].
fn io_err(what: &str, p: &str, e: Errno) -> Error {
    Error::from(e).context(format!("{what} {p}"))
}

/// A file being written; renamed over its destination by `commit`, removed if dropped.
pub struct TempFile {
    /// Shared with a `Dir` that creates many temp files in one directory.
    parent: std::sync::Arc<OwnedFd>,
    tmp: String,
    name: String,
    pub file: std::fs::File,
    committed: bool,
    /// The mode and owner the file was created with, when known (see `Dir::create_temp_for`):
    /// `commit` leaves out a chown or chmod that would change nothing.
    preset: Option<(u32, u32, u32)>,
}

impl TempFile {
    /// Sets owner and mode, then renames the file into place.
    pub fn commit(mut self, mode: u32, uid: u32, gid: u32) -> Result<()> {
        // A preset file has no set-id bits, so a chown leaves its mode as it is.
        let (pmode, puid, pgid) = self.preset.unwrap_or((u32::MAX, u32::MAX, u32::MAX));
        if (puid, pgid) != (uid, gid) {
            rfs::fchown(
                &self.file,
                Some(rfs::Uid::from_raw(uid)),
                Some(rfs::Gid::from_raw(gid)),
            )
            .map_err(|e| io_err("chown", &self.name, e))?;
        }
        if pmode != mode {
            rfs::fchmod(&self.file, Mode::from_raw_mode(mode))
                .map_err(|e| io_err("chmod", &self.name, e))?;
        }
        rfs::renameat(&*self.parent, &self.tmp, &*self.parent, &self.name)
            .map_err(|e| io_err("rename into", &self.name, e))?;
        self.committed = true;
        Ok(())
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        if !self.committed {
            let _ = rfs::unlinkat(&*self.parent, &self.tmp, AtFlags::empty());
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
            Error::from(e)
                .context(format!("opening target root {}", path.display()))
                .with_kind(crate::error::Kind::Setup)
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
            seen_as: std::sync::OnceLock::new(),
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The root as the kernel names it (its descriptor's /proc link); `None` without /proc.
    fn seen_as(&self) -> Option<&PathBuf> {
        self.seen_as.get_or_init(|| fd_path(&self.fd)).as_ref()
    }

    /// Opens `p` (following symlinks, all inside the root) with `flags`.
    /// The kernel answers EAGAIN when a rename or mount elsewhere raced the resolution (it
    /// cannot then prove the walk stayed inside the root); asking again is the documented
    /// remedy, and a few tries suffice unless something renames in a loop.
    fn open_at(&self, p: &str, flags: OFlags) -> std::result::Result<OwnedFd, Errno> {
        let mut tries = 0;
        loop {
            match rfs::openat2(
                &self.fd,
                rel(p),
                flags | OFlags::CLOEXEC,
                Mode::empty(),
                RESOLVE,
            ) {
                Err(Errno::AGAIN) if tries < 16 => tries += 1,
                r => return r,
            }
        }
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

    /// A new temp file beside `p` (whose parent must exist), to be committed over `p`; open for
    /// reading too, so that it can also serve as a staging buffer.
    pub fn create_temp(&self, p: &str) -> Result<TempFile> {
        let (parent, name) = self.parent(p)?;
        create_temp_in(std::sync::Arc::new(parent), name, p, 0o600)
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
        std::io::Read::read_to_end(&mut f, &mut v).context(|| format!("reading {p}"))?;
        Ok(Some(v))
    }

    /// Writes `bytes` to `p` atomically with `mode` and owner, creating parents.
    pub fn write_atomic(&self, p: &str, bytes: &[u8], mode: u32, uid: u32, gid: u32) -> Result<()> {
        let (dir, name) = split(p)?;
        // One lookup when the directory is there (the common case), the walk otherwise.
        let d = match self.open_dir(dir)? {
            Some(d) => d,
            None => {
                self.mkdir_all(dir, 0o755)?;
                self.open_dir(dir)?.ok_or_else(|| {
                    Error::failed(format!("{dir} is missing right after it was created"))
                })?
            }
        };
        d.write_atomic(name, bytes, mode, uid, gid)
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

    /// Where the entry `p` names really is in the root: its directories resolved (symlinks
    /// followed, inside the root), its last component kept. `None` when a directory on the way
    /// is missing. Tools that resolve paths on the host (setfiles) need this form. Without /proc
    /// the path is returned as given.
    pub fn real_path(&self, p: &str) -> Result<Option<String>> {
        let Ok((dir, name)) = split(p) else {
            return Ok(Some("/".to_string()));
        };
        let fd = match self.dir_fd(dir) {
            Ok(fd) => fd,
            Err(Errno::NOENT) | Err(Errno::NOTDIR) => return Ok(None),
            Err(e) => return Err(io_err("resolving", dir, e)),
        };
        let (Some(base), Some(here)) = (self.seen_as(), fd_path(&fd)) else {
            return Ok(Some(p.to_string()));
        };
        let Ok(inside) = here.strip_prefix(base) else {
            return Ok(Some(p.to_string()));
        };
        let inside = inside.to_string_lossy();
        Ok(Some(if inside.is_empty() {
            format!("/{name}")
        } else {
            format!("/{inside}/{name}")
        }))
    }

    /// Opens the existing regular file `p` for appending, in place (its inode, hard links,
    /// owner, mode and labels are kept); a final symlink is refused, not followed.
    pub fn open_append(&self, p: &str) -> Result<std::fs::File> {
        let (parent, name) = self.parent(p)?;
        let fd = rfs::openat(
            &parent,
            name,
            // NONBLOCK: a FIFO without a reader fails instead of hanging the stage.
            OFlags::WRONLY | OFlags::APPEND | OFlags::NOFOLLOW | OFlags::NONBLOCK | OFlags::CLOEXEC,
            Mode::empty(),
        )
        .map_err(|e| io_err("opening to append", p, e))?;
        let st = rfs::fstat(&fd).map_err(|e| io_err("stat", p, e))?;
        if FileType::from_raw_mode(st.st_mode) != FileType::RegularFile {
            return Err(Error::failed(format!("{p} is not a regular file")));
        }
        Ok(std::fs::File::from(fd))
    }

    /// Removes the directory `p` if it is empty; `Ok(false)` when it is not (or is missing).
    pub fn remove_dir_if_empty(&self, p: &str) -> Result<bool> {
        let (parent, name) = self.parent(p)?;
        match rfs::unlinkat(&parent, name, AtFlags::REMOVEDIR) {
            Ok(()) => Ok(true),
            Err(Errno::NOTEMPTY) | Err(Errno::EXIST) | Err(Errno::NOENT) => Ok(false),
            Err(e) => Err(io_err("removing directory", p, e)),
        }
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

/// This process's id, asked once (temp names carry it; one getpid per file adds up).
fn pid() -> u32 {
    static PID: std::sync::OnceLock<u32> = std::sync::OnceLock::new();
    *PID.get_or_init(std::process::id)
}

/// A new temp file in `parent` beside its entry `name` (`p` names it in errors).
fn create_temp_in(
    parent: std::sync::Arc<OwnedFd>,
    name: &str,
    p: &str,
    mode: u32,
) -> Result<TempFile> {
    for n in 0..100u32 {
        let tmp = format!(".{name}.ignis{}-{n}", pid());
        match rfs::openat(
            &*parent,
            tmp.as_str(),
            OFlags::RDWR | OFlags::CREATE | OFlags::EXCL | OFlags::CLOEXEC | OFlags::NOFOLLOW,
            Mode::from_raw_mode(mode),
        ) {
            Ok(fd) => {
                return Ok(TempFile {
                    parent,
                    tmp,
                    name: name.to_string(),
                    file: std::fs::File::from(fd),
                    committed: false,
                    preset: None,
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

/// Where the descriptor `fd` leads, as the kernel names it (/proc/self/fd); `None` without
/// /proc.
fn fd_path(fd: &OwnedFd) -> Option<PathBuf> {
    use std::os::fd::AsRawFd;
    std::fs::read_link(format!("/proc/self/fd/{}", fd.as_raw_fd())).ok()
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

#[cfg(test)]
mod tests;
