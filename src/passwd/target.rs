//! The only place the passwd writer touches the filesystem: a thin layer over the target-root
//! handle `crate::sys::root::Root`, so every path is resolved by the kernel inside the target
//! (openat2 RESOLVE_IN_ROOT: absolute symlinks and `..` cannot leave it). Like shadow-utils
//! with --root, symlinks inside the target are followed where the tools follow them; the final
//! component of anything created, re-owned, moved or removed is never followed.

use crate::error::{Context, Error, Result};
use crate::sys::root::Root;
pub use crate::sys::root::{Kind, Meta};

/// The target root (e.g. /sysroot), borrowed from the stage that opened it.
#[derive(Clone, Copy)]
pub struct Target<'r> {
    root: &'r Root,
}

impl<'r> Target<'r> {
    pub fn new(root: &'r Root) -> Self {
        Target { root }
    }

    /// The contents of a file (symlinks followed inside the root); `None` if nothing is there.
    pub fn read_optional(&self, path: &str) -> Result<Option<Vec<u8>>> {
        self.root.read(path)
    }

    /// lstat; `None` if nothing is there.
    pub fn lstat(&self, path: &str) -> Result<Option<Meta>> {
        self.root.lstat(path)
    }

    /// stat, following symlinks inside the root (access(F_OK) semantics); `None` if nothing
    /// resolves.
    pub fn stat(&self, path: &str) -> Result<Option<Meta>> {
        self.root.stat(path)
    }

    /// Replaces a file atomically: a temporary file beside it, its data synced, renamed over
    /// it (a symlink there is replaced, not followed). Mode and owner come from the existing
    /// file, else the given default mode and root. The rename itself is made durable by the
    /// files stage's syncfs of the whole target.
    pub fn write_atomic(&self, path: &str, bytes: &[u8], default_mode: u32) -> Result<()> {
        let (mode, uid, gid) = match self.root.stat(path)? {
            Some(m) => (m.mode, m.uid, m.gid),
            None => (default_mode, 0, 0),
        };
        let mut t = self.root.create_temp(path)?;
        let write = |t: &mut crate::sys::root::TempFile| -> std::io::Result<()> {
            std::io::Write::write_all(&mut t.file, bytes)?;
            t.file.sync_data()
        };
        write(&mut t).context(|| format!("writing {path}"))?;
        t.commit(mode, uid, gid)
    }

    /// Creates each missing parent of `path` as 0755 root:root, as useradd does.
    pub fn create_parents(&self, path: &str) -> Result<()> {
        let Some((dir, _)) = path.trim_end_matches('/').rsplit_once('/') else {
            return Ok(());
        };
        for d in self
            .root
            .mkdir_all(if dir.is_empty() { "/" } else { dir }, 0o755)?
        {
            self.root.lchown(&d, 0, 0)?;
        }
        Ok(())
    }

    /// mkdir, then owner, then mode (so setgid bits survive the chown).
    pub fn mkdir(&self, path: &str, uid: u32, gid: u32, mode: u32) -> Result<()> {
        self.root.mkdir(path, mode, uid, gid)
    }

    /// Creates an empty file that must not exist yet; false if something is already there.
    pub fn create_new_file(&self, path: &str, uid: u32, gid: u32, mode: u32) -> Result<bool> {
        self.root.create_new(path, mode, uid, gid)
    }

    /// lchown; `None` leaves that id alone.
    pub fn chown(&self, path: &str, uid: Option<u32>, gid: Option<u32>) -> Result<()> {
        self.root.lchown_ids(path, uid, gid)
    }

    pub fn remove_file(&self, path: &str) -> Result<()> {
        self.root.unlink(path)
    }

    /// Removes a tree without following symlinks (a symlink at `path` is removed itself).
    pub fn remove_tree(&self, path: &str) -> Result<()> {
        self.root.remove_all(path)
    }

    /// rename(2); `Ok(false)` when source and destination are on different filesystems.
    pub fn rename(&self, from: &str, to: &str) -> Result<bool> {
        self.root.rename(from, to)
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
        // As with shadow's chown_tree, set-id bits the kernel clears on chown stay cleared.
        self.root
            .reown_tree(path, &mut |uid, gid| {
                (
                    new_uid.filter(|_| uid == old_uid),
                    new_gid.filter(|_| gid == old_gid),
                )
            })
            .context(|| format!("changing ownership under {path}"))
    }

    /// Copies `from` into the existing directory `to`: contents, modes (special bits too),
    /// timestamps and hard links inside the tree, symlinks as symlinks; every copy owned by
    /// uid:gid. Sockets, FIFOs and device nodes are skipped with a warning (no mknod without
    /// unsafe code).
    pub fn copy_tree(&self, from: &str, to: &str, uid: u32, gid: u32) -> Result<()> {
        self.root
            .copy_tree(from, to, Some((uid, gid)))
            .context(|| format!("copying {from} to {to}"))
    }

    /// Copies a whole tree keeping owners and modes (usermod --move-home across filesystems;
    /// the caller re-owns afterwards). `to` must not exist.
    pub fn copy_tree_keep_owners(&self, from: &str, to: &str) -> Result<()> {
        let m = self
            .root
            .stat(from)?
            .ok_or_else(|| Error::failed(format!("{from} does not exist")))?;
        self.root.mkdir(to, m.mode, m.uid, m.gid)?;
        self.root
            .copy_tree(from, to, None)
            .context(|| format!("copying {from} to {to}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    use std::path::PathBuf;

    /// A root with an /etc, and a directory outside it holding one file.
    fn tmp(name: &str) -> (PathBuf, PathBuf, Root) {
        // Outlives this helper, as the paths it hands out do.
        let base = tempfile::Builder::new()
            .prefix(&format!("ignis-target-{name}-"))
            .tempdir()
            .unwrap()
            .keep();
        let (d, out) = (base.join("root"), base.join("outside"));
        fs::create_dir_all(d.join("etc")).unwrap();
        fs::create_dir_all(&out).unwrap();
        fs::write(out.join("passwd"), "outside\n").unwrap();
        let r = Root::open(&d).unwrap();
        (d, out, r)
    }

    fn done(d: &std::path::Path) {
        let _ = fs::remove_dir_all(d.parent().unwrap());
    }

    #[test]
    fn atomic_write_keeps_an_existing_mode_and_defaults_a_new_one() {
        let (d, _, r) = tmp("write");
        let t = Target::new(&r);
        fs::write(d.join("etc/shadow"), "old\n").unwrap();
        fs::set_permissions(d.join("etc/shadow"), fs::Permissions::from_mode(0o640)).unwrap();
        std::os::unix::fs::chown(d.join("etc/shadow"), Some(0), Some(42)).unwrap();
        t.write_atomic("/etc/shadow", b"new\n", 0).unwrap();
        assert_eq!(fs::read(d.join("etc/shadow")).unwrap(), b"new\n");
        let m = t.lstat("/etc/shadow").unwrap().unwrap();
        assert_eq!((m.mode, m.uid, m.gid), (0o640, 0, 42));
        t.write_atomic("/etc/gshadow", b"g\n", 0).unwrap();
        assert_eq!(t.lstat("/etc/gshadow").unwrap().unwrap().mode, 0);
        assert_eq!(t.read_optional("/etc/subuid").unwrap(), None);
        // Leaves no temporary file behind.
        assert_eq!(fs::read_dir(d.join("etc")).unwrap().count(), 2);
        done(&d);
    }

    #[test]
    fn writes_through_symlinks_stay_in_the_root() {
        let (d, out, r) = tmp("links");
        let t = Target::new(&r);
        // /etc/passwd an absolute symlink to a host file: replaced, the host file untouched.
        std::os::unix::fs::symlink(out.join("passwd"), d.join("etc/passwd")).unwrap();
        assert_eq!(t.read_optional("/etc/passwd").unwrap(), None);
        t.write_atomic("/etc/passwd", b"root\n", 0o644).unwrap();
        assert_eq!(fs::read(d.join("etc/passwd")).unwrap(), b"root\n");
        assert_eq!(fs::read(out.join("passwd")).unwrap(), b"outside\n");
        // /home -> ../../../.. climbs no higher than the root: parents made there.
        std::os::unix::fs::symlink("../../../../../../../../..", d.join("home")).unwrap();
        t.create_parents("/home/x/y/alice").unwrap();
        let m = fs::metadata(d.join("x/y")).unwrap();
        assert_eq!((m.mode() & 0o7777, m.uid(), m.gid()), (0o755, 0, 0));
        t.mkdir("/home/x/y/alice", 1000, 1000, 0o2700).unwrap();
        assert_eq!(t.stat("/x/y/alice").unwrap().unwrap().mode, 0o2700);
        assert_eq!(
            fs::read_dir(&out).unwrap().count(),
            1,
            "nothing new outside"
        );
        done(&d);
    }

    #[test]
    fn chown_tree_maps_only_the_old_ids() {
        let (d, out, r) = tmp("chown");
        let t = Target::new(&r);
        t.mkdir("/h", 1000, 1000, 0o700).unwrap();
        r.write_atomic("/h/a", b"", 0o644, 1000, 5).unwrap();
        r.write_atomic("/h/b", b"", 0o644, 7, 1000).unwrap();
        std::os::unix::fs::symlink(&out, d.join("h/out")).unwrap();
        std::os::unix::fs::lchown(d.join("h/out"), Some(1000), Some(1000)).unwrap();
        std::os::unix::fs::chown(out.join("passwd"), Some(1000), Some(1000)).unwrap();
        t.chown_tree("/h", 1000, Some(2000), 1000, None).unwrap();
        let ids = |p: &str| {
            let m = t.lstat(p).unwrap().unwrap();
            (m.uid, m.gid)
        };
        assert_eq!(ids("/h"), (2000, 1000));
        assert_eq!(ids("/h/a"), (2000, 5));
        assert_eq!(ids("/h/b"), (7, 1000));
        assert_eq!(ids("/h/out"), (2000, 1000));
        assert_eq!(fs::metadata(out.join("passwd")).unwrap().uid(), 1000);
        done(&d);
    }

    #[test]
    fn copy_tree_keeps_modes_links_and_hard_links() {
        let (d, out, r) = tmp("copy");
        let t = Target::new(&r);
        fs::create_dir_all(d.join("skel/sub")).unwrap();
        fs::write(d.join("skel/sub/f"), "x").unwrap();
        fs::set_permissions(d.join("skel/sub/f"), fs::Permissions::from_mode(0o600)).unwrap();
        fs::set_permissions(d.join("skel/sub"), fs::Permissions::from_mode(0o710)).unwrap();
        fs::hard_link(d.join("skel/sub/f"), d.join("skel/h")).unwrap();
        std::os::unix::fs::symlink("sub/f", d.join("skel/l")).unwrap();
        std::os::unix::fs::symlink(&out, d.join("skel/out")).unwrap();
        t.mkdir("/home", 1000, 1000, 0o755).unwrap();
        t.copy_tree("/skel", "/home", 1000, 1000).unwrap();
        assert_eq!(t.lstat("/home/sub").unwrap().unwrap().mode, 0o710);
        assert_eq!(t.lstat("/home/sub/f").unwrap().unwrap().mode, 0o600);
        assert_eq!(t.lstat("/home/sub/f").unwrap().unwrap().uid, 1000);
        assert_eq!(t.lstat("/home/l").unwrap().unwrap().kind, Kind::Symlink);
        assert_eq!(t.lstat("/home/out").unwrap().unwrap().kind, Kind::Symlink);
        let a = fs::metadata(d.join("home/sub/f")).unwrap();
        let b = fs::metadata(d.join("home/h")).unwrap();
        assert_eq!(a.ino(), b.ino());
        // Keeping owners: the new directory takes the source's mode and owner.
        t.copy_tree_keep_owners("/home", "/moved").unwrap();
        let m = t.lstat("/moved").unwrap().unwrap();
        assert_eq!((m.mode, m.uid, m.gid), (0o755, 1000, 1000));
        assert_eq!(t.lstat("/moved/sub/f").unwrap().unwrap().uid, 1000);
        assert_eq!(
            fs::read_dir(&out).unwrap().count(),
            1,
            "nothing new outside"
        );
        done(&d);
    }
}
