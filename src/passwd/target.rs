//! The only place the passwd writer touches the filesystem: paths inside the target root mapped
//! with std::fs. Kept small on purpose so it can be switched to the openat2-based `Root` handle
//! (src/sys/root.rs); until then it refuses `..` components but, like shadow-utils with --root,
//! follows symlinks inside the target.

use crate::error::{Context, Error, Result};
use std::fs::{self, File, OpenOptions};
use std::io::{ErrorKind, Write};
use std::os::unix::fs::{fchown, lchown, MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Component, Path, PathBuf};

/// What a path is, from lstat.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    File,
    Dir,
    Symlink,
    Other,
}

/// The lstat fields the writer needs.
#[derive(Clone, Copy, Debug)]
pub struct Meta {
    pub kind: Kind,
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
}

/// The target root (e.g. /sysroot).
#[derive(Clone, Debug)]
pub struct Target {
    root: PathBuf,
}

fn meta_of(m: &fs::Metadata) -> Meta {
    let ft = m.file_type();
    let kind = if ft.is_symlink() {
        Kind::Symlink
    } else if ft.is_dir() {
        Kind::Dir
    } else if ft.is_file() {
        Kind::File
    } else {
        Kind::Other
    };
    Meta {
        kind,
        mode: m.mode() & 0o7777,
        uid: m.uid(),
        gid: m.gid(),
    }
}

fn set_mode(p: &Path, mode: u32) -> std::io::Result<()> {
    fs::set_permissions(p, fs::Permissions::from_mode(mode))
}

impl Target {
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Target { root: root.into() }
    }

    /// Maps an absolute path of the target to a host path.
    fn host(&self, path: &str) -> Result<PathBuf> {
        let mut out = self.root.clone();
        for c in Path::new(path).components() {
            match c {
                Component::Normal(n) => out.push(n),
                Component::RootDir | Component::CurDir => {}
                Component::ParentDir | Component::Prefix(_) => {
                    return Err(Error::failed(format!("refusing path with '..': {path}")));
                }
            }
        }
        Ok(out)
    }

    pub fn read_optional(&self, path: &str) -> Result<Option<Vec<u8>>> {
        let p = self.host(path)?;
        match fs::read(&p) {
            Ok(b) => Ok(Some(b)),
            Err(e) if e.kind() == ErrorKind::NotFound => Ok(None),
            Err(e) => Err(Error::from(e).context(format!("reading {path}"))),
        }
    }

    /// lstat; `None` if nothing is there.
    pub fn lstat(&self, path: &str) -> Result<Option<Meta>> {
        let p = self.host(path)?;
        match fs::symlink_metadata(&p) {
            Ok(m) => Ok(Some(meta_of(&m))),
            Err(e) if e.kind() == ErrorKind::NotFound => Ok(None),
            Err(e) => Err(Error::from(e).context(format!("inspecting {path}"))),
        }
    }

    /// stat, following symlinks (access(F_OK) semantics); `None` if nothing resolves.
    pub fn stat(&self, path: &str) -> Result<Option<Meta>> {
        let p = self.host(path)?;
        match fs::metadata(&p) {
            Ok(m) => Ok(Some(meta_of(&m))),
            Err(e) if e.kind() == ErrorKind::NotFound => Ok(None),
            Err(e) => Err(Error::from(e).context(format!("inspecting {path}"))),
        }
    }

    /// Replaces a file atomically: a temporary file beside it, synced, renamed over it, then the
    /// directory synced. Mode and owner come from the existing file, else the given defaults.
    pub fn write_atomic(&self, path: &str, bytes: &[u8], default_mode: u32) -> Result<()> {
        let p = self.host(path)?;
        let (mode, uid, gid) = match fs::metadata(&p) {
            Ok(m) => (m.mode() & 0o7777, m.uid(), m.gid()),
            Err(e) if e.kind() == ErrorKind::NotFound => (default_mode, 0, 0),
            Err(e) => return Err(Error::from(e).context(format!("inspecting {path}"))),
        };
        let dir = p
            .parent()
            .ok_or_else(|| Error::failed(format!("no parent directory for {path}")))?;
        let name = p
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let tmp = dir.join(format!(".{name}.ignis-{}", std::process::id()));
        let write = || -> std::io::Result<()> {
            let mut f = OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(&tmp)?;
            fchown(&f, Some(uid), Some(gid))?;
            f.set_permissions(fs::Permissions::from_mode(mode))?;
            f.write_all(bytes)?;
            f.sync_all()?;
            fs::rename(&tmp, &p)?;
            File::open(dir)?.sync_all()
        };
        write().map_err(|e| {
            let _ = fs::remove_file(&tmp);
            Error::from(e).context(format!("writing {path}"))
        })
    }

    /// Creates each missing parent of `path` as 0755 root:root, as useradd does.
    pub fn create_parents(&self, path: &str) -> Result<()> {
        let p = self.host(path)?;
        let mut cur = self.root.clone();
        let rel = p.strip_prefix(&self.root).unwrap_or(&p).to_path_buf();
        let comps: Vec<_> = rel.components().collect();
        for c in comps.iter().take(comps.len().saturating_sub(1)) {
            cur.push(c);
            if fs::metadata(&cur).is_err() {
                let mk = || -> std::io::Result<()> {
                    fs::create_dir(&cur)?;
                    std::os::unix::fs::chown(&cur, Some(0), Some(0))?;
                    set_mode(&cur, 0o755)
                };
                mk().context(|| format!("creating {}", cur.display()))?;
            }
        }
        Ok(())
    }

    /// mkdir, then owner, then mode (so setgid bits survive the chown).
    pub fn mkdir(&self, path: &str, uid: u32, gid: u32, mode: u32) -> Result<()> {
        let p = self.host(path)?;
        let mk = || -> std::io::Result<()> {
            fs::create_dir(&p)?;
            std::os::unix::fs::chown(&p, Some(uid), Some(gid))?;
            set_mode(&p, mode)
        };
        mk().context(|| format!("creating directory {path}"))
    }

    /// Creates an empty file that must not exist yet; false if something is already there.
    pub fn create_new_file(&self, path: &str, uid: u32, gid: u32, mode: u32) -> Result<bool> {
        let p = self.host(path)?;
        match OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o000)
            .open(&p)
        {
            Ok(f) => {
                let set = || -> std::io::Result<()> {
                    fchown(&f, Some(uid), Some(gid))?;
                    f.set_permissions(fs::Permissions::from_mode(mode))?;
                    f.sync_all()
                };
                set().context(|| format!("setting up {path}"))?;
                Ok(true)
            }
            Err(e) if e.kind() == ErrorKind::AlreadyExists => Ok(false),
            Err(e) => Err(Error::from(e).context(format!("creating {path}"))),
        }
    }

    pub fn chown(&self, path: &str, uid: Option<u32>, gid: Option<u32>) -> Result<()> {
        let p = self.host(path)?;
        lchown(&p, uid, gid).context(|| format!("changing owner of {path}"))
    }

    pub fn remove_file(&self, path: &str) -> Result<()> {
        let p = self.host(path)?;
        fs::remove_file(&p).context(|| format!("removing {path}"))
    }

    /// Removes a tree without following symlinks.
    pub fn remove_tree(&self, path: &str) -> Result<()> {
        let p = self.host(path)?;
        let r = if fs::symlink_metadata(&p).is_ok_and(|m| m.is_dir()) {
            fs::remove_dir_all(&p)
        } else {
            fs::remove_file(&p)
        };
        r.context(|| format!("removing {path}"))
    }

    /// rename(2); `Ok(false)` when source and destination are on different filesystems.
    pub fn rename(&self, from: &str, to: &str) -> Result<bool> {
        let (f, t) = (self.host(from)?, self.host(to)?);
        match fs::rename(&f, &t) {
            Ok(()) => Ok(true),
            Err(e) if e.raw_os_error() == Some(18) => Ok(false), // EXDEV
            Err(e) => Err(Error::from(e).context(format!("renaming {from} to {to}"))),
        }
    }

    /// Re-owns a tree: a uid (gid) equal to `old_uid` (`old_gid`) becomes `new_uid` (`new_gid`);
    /// `None` leaves that half alone. Symlinks are re-owned themselves, never followed.
    pub fn chown_tree(
        &self,
        path: &str,
        old_uid: u32,
        new_uid: Option<u32>,
        old_gid: u32,
        new_gid: Option<u32>,
    ) -> Result<()> {
        let p = self.host(path)?;
        chown_walk(&p, old_uid, new_uid, old_gid, new_gid)
            .context(|| format!("changing ownership under {path}"))
    }

    /// Copies `from` into the existing directory `to`: contents, modes (special bits too),
    /// timestamps of files and directories and hard links inside the tree; every copy owned by
    /// uid:gid. Sockets, FIFOs and device nodes are skipped with a warning (no mknod without
    /// unsafe code).
    pub fn copy_tree(&self, from: &str, to: &str, uid: u32, gid: u32) -> Result<()> {
        let (f, t) = (self.host(from)?, self.host(to)?);
        let mut links = Vec::new();
        copy_walk(&f, &t, uid, gid, &mut links).context(|| format!("copying {from} to {to}"))
    }

    /// Copies a whole tree keeping owners and modes (usermod --move-home across filesystems;
    /// the caller re-owns afterwards). `to` must not exist.
    pub fn copy_tree_keep_owners(&self, from: &str, to: &str) -> Result<()> {
        let (f, t) = (self.host(from)?, self.host(to)?);
        let m = fs::symlink_metadata(&f).context(|| format!("inspecting {from}"))?;
        let mk = || -> std::io::Result<()> {
            fs::create_dir(&t)?;
            lchown(&t, Some(m.uid()), Some(m.gid()))?;
            set_mode(&t, m.mode() & 0o7777)
        };
        mk().context(|| format!("creating {to}"))?;
        let mut links = Vec::new();
        copy_walk_owned(&f, &t, &mut links).context(|| format!("copying {from} to {to}"))
    }
}

fn chown_walk(
    p: &Path,
    old_uid: u32,
    new_uid: Option<u32>,
    old_gid: u32,
    new_gid: Option<u32>,
) -> std::io::Result<()> {
    let m = fs::symlink_metadata(p)?;
    if m.is_dir() {
        for e in fs::read_dir(p)? {
            chown_walk(&e?.path(), old_uid, new_uid, old_gid, new_gid)?;
        }
    }
    let u = new_uid.filter(|_| m.uid() == old_uid);
    let g = new_gid.filter(|_| m.gid() == old_gid);
    if u.is_some() || g.is_some() {
        // As with shadow's chown_tree, set-id bits the kernel clears on chown stay cleared.
        lchown(p, u, g)?;
    }
    Ok(())
}

type LinkMap = Vec<((u64, u64), PathBuf)>;

fn copy_times(src: &fs::Metadata, dst: &Path) -> std::io::Result<()> {
    let times = fs::FileTimes::new()
        .set_accessed(src.accessed()?)
        .set_modified(src.modified()?);
    File::open(dst)?.set_times(times)
}

fn copy_walk(
    src: &Path,
    dst: &Path,
    uid: u32,
    gid: u32,
    links: &mut LinkMap,
) -> std::io::Result<()> {
    for e in fs::read_dir(src)? {
        let e = e?;
        let s = e.path();
        let d = dst.join(e.file_name());
        let m = fs::symlink_metadata(&s)?;
        let ft = m.file_type();
        let mode = m.mode() & 0o7777;
        if ft.is_symlink() {
            std::os::unix::fs::symlink(fs::read_link(&s)?, &d)?;
            lchown(&d, Some(uid), Some(gid))?;
        } else if ft.is_dir() {
            fs::create_dir(&d)?;
            set_mode(&d, 0o700)?;
            lchown(&d, Some(uid), Some(gid))?;
            copy_walk(&s, &d, uid, gid, links)?;
            set_mode(&d, mode)?;
            copy_times(&m, &d)?;
        } else if ft.is_file() {
            let key = (m.dev(), m.ino());
            if m.nlink() > 1 {
                if let Some((_, first)) = links.iter().find(|(k, _)| *k == key) {
                    fs::hard_link(first, &d)?;
                    continue;
                }
                links.push((key, d.clone()));
            }
            fs::copy(&s, &d)?;
            lchown(&d, Some(uid), Some(gid))?;
            set_mode(&d, mode)?;
            copy_times(&m, &d)?;
        } else {
            log::warn!(
                "not copying {}: special files are not supported",
                s.display()
            );
        }
    }
    Ok(())
}

fn copy_walk_owned(src: &Path, dst: &Path, links: &mut LinkMap) -> std::io::Result<()> {
    for e in fs::read_dir(src)? {
        let e = e?;
        let s = e.path();
        let d = dst.join(e.file_name());
        let m = fs::symlink_metadata(&s)?;
        let ft = m.file_type();
        let (uid, gid, mode) = (m.uid(), m.gid(), m.mode() & 0o7777);
        if ft.is_symlink() {
            std::os::unix::fs::symlink(fs::read_link(&s)?, &d)?;
            lchown(&d, Some(uid), Some(gid))?;
        } else if ft.is_dir() {
            fs::create_dir(&d)?;
            lchown(&d, Some(uid), Some(gid))?;
            copy_walk_owned(&s, &d, links)?;
            set_mode(&d, mode)?;
            copy_times(&m, &d)?;
        } else if ft.is_file() {
            let key = (m.dev(), m.ino());
            if m.nlink() > 1 {
                if let Some((_, first)) = links.iter().find(|(k, _)| *k == key) {
                    fs::hard_link(first, &d)?;
                    continue;
                }
                links.push((key, d.clone()));
            }
            fs::copy(&s, &d)?;
            lchown(&d, Some(uid), Some(gid))?;
            set_mode(&d, mode)?;
            copy_times(&m, &d)?;
        } else {
            log::warn!(
                "not copying {}: special files are not supported",
                s.display()
            );
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tmp(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("ignis-target-{name}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&d);
        fs::create_dir_all(d.join("etc")).unwrap();
        d
    }

    #[test]
    fn paths_stay_under_the_root() {
        let t = Target::new("/nonexistent-root");
        assert!(t.read_optional("/../etc/passwd").is_err());
        assert_eq!(
            t.host("/etc//passwd").unwrap(),
            PathBuf::from("/nonexistent-root/etc/passwd")
        );
    }

    #[test]
    fn atomic_write_keeps_an_existing_mode_and_defaults_a_new_one() {
        let d = tmp("write");
        let t = Target::new(&d);
        let (uid, gid) = {
            let m = fs::metadata(&d).unwrap();
            (m.uid(), m.gid())
        };
        fs::write(d.join("etc/shadow"), "old\n").unwrap();
        set_mode(&d.join("etc/shadow"), 0o640).unwrap();
        std::os::unix::fs::chown(d.join("etc/shadow"), Some(uid), Some(gid)).unwrap();
        t.write_atomic("/etc/shadow", b"new\n", 0).unwrap();
        assert_eq!(fs::read(d.join("etc/shadow")).unwrap(), b"new\n");
        assert_eq!(t.lstat("/etc/shadow").unwrap().unwrap().mode, 0o640);
        assert_eq!(t.read_optional("/etc/subuid").unwrap(), None);
        // Leaves no temporary file behind.
        assert_eq!(fs::read_dir(d.join("etc")).unwrap().count(), 1);
        let _ = fs::remove_dir_all(&d);
    }

    #[test]
    fn copy_tree_keeps_modes_links_and_hard_links() {
        let d = tmp("copy");
        let t = Target::new(&d);
        let m = fs::metadata(&d).unwrap();
        let (uid, gid) = (m.uid(), m.gid());
        fs::create_dir_all(d.join("skel/sub")).unwrap();
        fs::write(d.join("skel/sub/f"), "x").unwrap();
        set_mode(&d.join("skel/sub/f"), 0o600).unwrap();
        set_mode(&d.join("skel/sub"), 0o710).unwrap();
        fs::hard_link(d.join("skel/sub/f"), d.join("skel/h")).unwrap();
        std::os::unix::fs::symlink("sub/f", d.join("skel/l")).unwrap();
        t.mkdir("/home", uid, gid, 0o755).unwrap();
        t.copy_tree("/skel", "/home", uid, gid).unwrap();
        assert_eq!(t.lstat("/home/sub").unwrap().unwrap().mode, 0o710);
        assert_eq!(t.lstat("/home/sub/f").unwrap().unwrap().mode, 0o600);
        assert_eq!(t.lstat("/home/l").unwrap().unwrap().kind, Kind::Symlink);
        let a = fs::metadata(d.join("home/sub/f")).unwrap();
        let b = fs::metadata(d.join("home/h")).unwrap();
        assert_eq!(a.ino(), b.ino());
        let _ = fs::remove_dir_all(&d);
    }
}
